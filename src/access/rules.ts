import type { Role } from '../identity/principal.ts';
import type { SafePermission } from './permissions.ts';

/**
 * Who may do what. An action is allowed when the caller's role is listed, or when the action is
 * about a safe and the caller holds one of the listed safe permissions there; a role in `never`
 * is refused either way. Anything not in this table is denied.
 */
interface BaseRule {
  /** Needs no login at all (health, seal status, unseal with a share). */
  readonly anonymous?: true;
  /** Any logged-in user, whatever the role. */
  readonly anyUser?: true;
  readonly roles?: readonly Role[];
  /**
   * Roles refused whatever a safe membership says: separation of duties, kept here as well as
   * where memberships are granted, so a membership written by mistake still cannot open it.
   */
  readonly never?: readonly Role[];
}

interface GlobalRule extends BaseRule {
  readonly safe?: undefined;
  readonly hides?: undefined;
}

interface SafeRule extends BaseRule {
  readonly safe: readonly SafePermission[];
  /**
   * Using the account's secret: an access policy can put the permission behind an approved
   * request, and an access window closes it outside its hours.
   */
  readonly gated?: true;
  /**
   * The object the route looked up, as its own "not found" names it: a refusal for a safe the
   * caller may not see reads exactly the same, so it does not confirm the object exists.
   */
  readonly hides: 'safe' | 'account';
}

export type AccessRule = GlobalRule | SafeRule;

/** Auditors read the trail and the metadata; they never hold a secret or change a safe. */
const NOT_AUDITORS = ['auditor'] as const;
const ANY_MEMBER = ['list', 'use', 'retrieve', 'checkout', 'manage', 'approve'] as const;

export const ACCESS_RULES = {
  'system.health': { anonymous: true },
  // The web console's page and files: public, like any login page; its data comes from /v1.
  'console.static': { anonymous: true },
  'operator.status': { anonymous: true },
  'operator.init': { anonymous: true },
  'operator.unseal': { anonymous: true },
  'operator.seal': { roles: ['admin'] },
  'auth.login': { anonymous: true },
  'auth.self': { anyUser: true },
  'auth.logout': { anyUser: true },
  'token.revoke': { roles: ['admin'] },
  'user.create': { roles: ['admin'] },
  'user.list': { roles: ['admin', 'auditor'] },
  'user.password': { anyUser: true },
  'user.password.other': { roles: ['admin'] },
  'user.disable': { roles: ['admin'] },
  'user.enable': { roles: ['admin'] },
  'safe.create': { roles: ['admin'] },
  'safe.list': { anyUser: true },
  'safe.read': { roles: ['admin', 'auditor'], safe: ANY_MEMBER, hides: 'safe' },
  'safe.member.manage': {
    roles: ['admin'],
    safe: ['manage'],
    never: NOT_AUDITORS,
    hides: 'safe',
  },
  'policy.write': { roles: ['admin'] },
  'policy.read': { anyUser: true },
  'target.write': { roles: ['admin'] },
  'target.read': { anyUser: true },
  'account.create': { roles: ['admin'], safe: ['manage'], never: NOT_AUDITORS, hides: 'safe' },
  'account.read': { roles: ['admin', 'auditor'], safe: ANY_MEMBER, hides: 'account' },
  'account.verify': {
    roles: ['admin'],
    safe: ['use', 'manage'],
    gated: true,
    never: NOT_AUDITORS,
    hides: 'account',
  },
  'account.rotate': { roles: ['admin'], safe: ['manage'], never: NOT_AUDITORS, hides: 'account' },
  'secret.retrieve': { safe: ['retrieve'], gated: true, never: NOT_AUDITORS, hides: 'account' },
  'account.checkout': { safe: ['checkout'], gated: true, never: NOT_AUDITORS, hides: 'account' },
  'account.checkin': {
    roles: ['admin'],
    safe: ['checkout', 'manage'],
    never: NOT_AUDITORS,
    hides: 'account',
  },
  'account.checkin.other': {
    roles: ['admin'],
    safe: ['manage'],
    never: NOT_AUDITORS,
    hides: 'account',
  },
  'audit.read': { roles: ['admin', 'auditor'] },
  /** A bulk run: of a safe, with manage there; of a target or of everything, admins only. */
  'rotation.run': { roles: ['admin'], safe: ['manage'], never: NOT_AUDITORS, hides: 'safe' },
  'rotation.run.read': { roles: ['admin', 'auditor'], safe: ANY_MEMBER, hides: 'safe' },
  'rotation.status': { roles: ['admin', 'auditor'], safe: ANY_MEMBER, hides: 'account' },
  // The SSH gateway: connecting injects the secret without showing it, so `use` is enough.
  'account.connect': { safe: ['use'], gated: true, never: NOT_AUDITORS, hides: 'account' },
  'sshkey.self': { anyUser: true },
  // The browser's terminal: the gateway decides `account.connect` as for any SSH client.
  'terminal.open': { anyUser: true },
  'sshkey.admin': { roles: ['admin'] },
  'session.read': { roles: ['admin', 'auditor'] },
  'session.watch': { roles: ['admin', 'auditor'] },
  // Another node passing a watch on: its one-time ticket names the watcher, checked again there.
  'session.watch.relay': { anonymous: true },
  'session.recording': { roles: ['admin', 'auditor'] },
  // The nodes on the store: ids, addresses and live session counts, no secret.
  'node.read': { roles: ['admin', 'auditor'] },
  // Another node passing an export on: its one-time ticket names the user, checked again here.
  'session.recording.relay': { anonymous: true },
  'session.kill': { roles: ['admin'] },
  // A scan uses a stored credential for the caller and maps a whole target: admins only. The
  // findings are account names and reasons, no secret: auditors read them too.
  'discovery.run': { roles: ['admin'] },
  'discovery.read': { roles: ['admin', 'auditor'] },
  // Just-in-time access. Groups and person links decide who counts as whom in approvals.
  'group.manage': { roles: ['admin'] },
  'group.read': { roles: ['admin', 'auditor'] },
  'user.link': { roles: ['admin'] },
  'access-policy.write': { roles: ['admin'] },
  'access-policy.read': { roles: ['admin', 'auditor'], safe: ANY_MEMBER, hides: 'safe' },
  // Any member of the safe may ask; what is asked for is decided by approvers, not by this rule.
  'request.create': { roles: ['admin'], safe: ANY_MEMBER, never: NOT_AUDITORS, hides: 'safe' },
  // Lists are filtered by the service: your own, those you may approve, all for admins/auditors.
  'request.read': { anyUser: true },
  'request.cancel': { anyUser: true },
  // No role answers a request: only a holder of `approve` on the safe, never the requester.
  'request.approve': { safe: ['approve'], never: NOT_AUDITORS, hides: 'safe' },
  'grant.read': { anyUser: true },
  'grant.revoke': {
    roles: ['admin'],
    safe: ['approve', 'manage'],
    never: NOT_AUDITORS,
    hides: 'safe',
  },
  'ephemeral.configure': { roles: ['admin'] },
  'ephemeral.read': { roles: ['admin', 'auditor'] },
  'breakglass.configure': { roles: ['admin'] },
  // The member's own secret permissions, past approval: an admin without them gets nothing.
  'breakglass.open': {
    safe: ['use', 'retrieve', 'checkout'],
    never: NOT_AUDITORS,
    hides: 'account',
  },
  // The follow-up is the auditors': the person who opened it cannot close its review.
  'breakglass.review': { roles: ['auditor'] },
  'breakglass.read': { roles: ['admin', 'auditor'] },
  'report.read': { roles: ['admin', 'auditor'] },
  'mfa.self': { anyUser: true },
  'mfa.admin': { roles: ['admin'] },
  'webhook.manage': { roles: ['admin'] },
  'webhook.read': { roles: ['admin', 'auditor'] },
} as const satisfies Record<string, AccessRule>;

export type Action = keyof typeof ACCESS_RULES;
