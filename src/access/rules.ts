import type { Role } from '../identity/principal.ts';
import type { SafePermission } from './permissions.ts';

/**
 * Who may do what. An action is allowed when the caller's role is listed, or when the action is
 * about a safe and the caller holds one of the listed safe permissions there. Anything not in
 * this table is denied.
 */
export interface AccessRule {
  /** Needs no login at all (health, seal status, unseal with a share). */
  readonly anonymous?: true;
  /** Any logged-in user, whatever the role. */
  readonly anyUser?: true;
  readonly roles?: readonly Role[];
  readonly safe?: readonly SafePermission[];
}

export const ACCESS_RULES = {
  'system.health': { anonymous: true },
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
  'safe.create': { roles: ['admin'] },
  'safe.list': { anyUser: true },
  'safe.read': {
    roles: ['admin', 'auditor'],
    safe: ['list', 'use', 'retrieve', 'checkout', 'manage'],
  },
  'safe.member.manage': { roles: ['admin'], safe: ['manage'] },
  'policy.write': { roles: ['admin'] },
  'policy.read': { anyUser: true },
  'target.write': { roles: ['admin'] },
  'target.read': { anyUser: true },
  'account.create': { roles: ['admin'], safe: ['manage'] },
  'account.read': {
    roles: ['admin', 'auditor'],
    safe: ['list', 'use', 'retrieve', 'checkout', 'manage'],
  },
  'account.verify': { roles: ['admin'], safe: ['use', 'manage'] },
  'account.rotate': { roles: ['admin'], safe: ['manage'] },
  'secret.retrieve': { safe: ['retrieve'] },
  'account.checkout': { safe: ['checkout'] },
  'account.checkin': { roles: ['admin'], safe: ['checkout', 'manage'] },
  'account.checkin.other': { roles: ['admin'], safe: ['manage'] },
  'audit.read': { roles: ['admin', 'auditor'] },
} as const satisfies Record<string, AccessRule>;

export type Action = keyof typeof ACCESS_RULES;
