import type { AccessDecision } from '../access/access-decision.ts';
import type { EphemeralLogins } from '../access/ephemeral-logins.ts';
import { holdsBreakglass } from '../access/grants.ts';
import type { Account } from '../accounts/account.ts';
import type { AccountService } from '../accounts/account-service.ts';
import type { PolicyService } from '../accounts/policies.ts';
import type { Clock } from '../clock.ts';
import { isTesseraError } from '../errors.ts';
import type { MfaService } from '../identity/mfa.ts';
import type { Principal } from '../identity/principal.ts';
import type { UserService } from '../identity/users.ts';
import type { Store } from '../store/store.ts';
import type { Keyring } from '../vault/keyring.ts';
import type { GatewayUser } from './authenticate.ts';
import type { ConnectionEnding } from './connection-state.ts';
import type { LinkAccount } from './link.ts';
import type { SshKeyService } from './user-keys.ts';

/** Why a user may not use an account through the gateway now, as the audit trail names it. */
export type AccountVerdict =
  | 'no-permission'
  | 'approval-required'
  | 'outside-window'
  | 'checked-out'
  | 'rotation-pending';

/** Why a live connection lost the right it was opened with. */
export type LostAccess =
  | AccountVerdict
  | 'user-disabled'
  | 'key-removed'
  | 'account-removed'
  | 'vault-sealed'
  /** An ephemeral account's grant ended or was revoked (its account is being dropped). */
  | 'grant-ended'
  /** The console sign-in a browser terminal was opened under ended (sign-out, revocation). */
  | 'signed-out'
  /** A password login made without a code, once the user confirmed a second factor. */
  | 'factor-added'
  /** A password login, once that password was changed (a reset after a leak, say). */
  | 'password-changed';

export interface AccountCheckDeps {
  readonly access: Pick<AccessDecision, 'decide'>;
  readonly policies: Pick<PolicyService, 'byId'>;
  readonly clock: Clock;
  readonly store: Store;
}

export interface AccessRecheckDeps extends AccountCheckDeps {
  readonly store: Store;
  readonly users: Pick<UserService, 'findById' | 'passwordStamp'>;
  readonly keys: Pick<SshKeyService, 'holds'>;
  readonly accounts: Pick<AccountService, 'reload'>;
  readonly keyring: Pick<Keyring, 'isSealed'>;
  readonly ephemeral: Pick<EphemeralLogins, 'holdsLogin'>;
  /** Without it, no user has a second factor, and no password login ends for one. */
  readonly mfa?: Pick<MfaService, 'hasFactor'>;
}

/**
 * Whether the user may connect to the account now: the `account.connect` permission, and under
 * an exclusive check-out policy, nobody else holding the account and no rotation awaited after a
 * check-in, as a reveal is refused then too.
 */
export async function accountVerdict(
  deps: AccountCheckDeps,
  principal: Principal,
  account: Account,
): Promise<AccountVerdict | null> {
  const decision = await deps.access.decide(
    principal,
    'account.connect',
    account.safeId,
    account.id,
  );
  // The hints are given only to a member of the safe or a holder of a grant there (the
  // decision says so); anyone else reads the same as for an unknown account.
  if (!decision.allowed) return decision.refusal ?? 'no-permission';

  const policy = await deps.policies.byId(account.policyId);
  if (!policy.exclusiveCheckout) return null;
  const holder = account.checkout;
  const heldByOther =
    holder !== null && holder.expiresAt > deps.clock.now() && holder.holder !== principal.name;
  if (heldByOther) return 'checked-out';
  if (!account.needsRotation) return null;
  // Emergency access is not held up by a rotation still to come: its window closes with one.
  const emergency = await holdsBreakglass(
    deps.store.db,
    principal.userId,
    account.id,
    deps.clock.now(),
  );
  return emergency ? null : 'rotation-pending';
}

/** Whether the login token a browser terminal was opened under still holds. */
async function loginTokenLive(deps: AccessRecheckDeps, tokenId: string | null): Promise<boolean> {
  if (tokenId === null) return false;
  const row = await deps.store.db
    .selectFrom('tokens')
    .select(['revoked_at', 'expires_at'])
    .where('id', '=', tokenId)
    .executeTakeFirst();
  if (row === undefined || row.revoked_at !== null) return false;
  return row.expires_at === null || row.expires_at > deps.clock.now();
}

/**
 * Whether a password login made without a code now faces a confirmed second factor: a password
 * taken before the factor arrived must not keep the connection it opened.
 */
async function factorAddedSince(deps: AccessRecheckDeps, user: GatewayUser): Promise<boolean> {
  if (user.method !== 'password' || user.codeVerified === true || deps.mfa === undefined) {
    return false;
  }
  return deps.mfa.hasFactor(user.id);
}

/**
 * Checks a live connection's right again from what is stored now: the vault unsealed, the user
 * enabled, the key they logged in with still theirs, a password login without a code only while
 * the user has no second factor, a password login only while that password stands, the account
 * still there and theirs to use (an ephemeral account: its grant still held by this user).
 */
export async function recheckAccess(
  deps: AccessRecheckDeps,
  user: GatewayUser,
  linked: LinkAccount,
  connectionId: string,
): Promise<LostAccess | null> {
  if (deps.keyring.isSealed()) return 'vault-sealed';
  const current = await deps.users.findById(user.id);
  if (current === null || current.disabled) return 'user-disabled';
  if (user.method === 'publickey' && user.keyFingerprint !== null) {
    if (!(await deps.keys.holds(user.id, user.keyFingerprint))) return 'key-removed';
  }
  if (user.method === 'console' && !(await loginTokenLive(deps, user.tokenId ?? null))) {
    return 'signed-out';
  }
  if (await factorAddedSince(deps, user)) return 'factor-added';
  if (user.method === 'password' && user.passwordStamp !== undefined) {
    if ((await deps.users.passwordStamp(user.id)) !== user.passwordStamp) return 'password-changed';
  }
  if (linked.ephemeralGrantId !== null) {
    return (await deps.ephemeral.holdsLogin(current.id, linked.id)) ? null : 'grant-ended';
  }

  const account = await reloadAccount(deps, linked.id);
  if (account === null) return 'account-removed';
  // The role as stored now, not as it was at login.
  const principal: Principal = {
    userId: current.id,
    name: current.name,
    role: current.role,
    tokenId: `ssh:${connectionId}`,
  };
  return accountVerdict(deps, principal, account);
}

const LOST_MESSAGES: Record<LostAccess, string> = {
  // A removed account reads as a removed permission: neither says more than the user knew.
  'no-permission': 'your access to this account was withdrawn',
  'account-removed': 'your access to this account was withdrawn',
  // Standing use waits for approval here: the grant this session ran under ended or was revoked.
  'approval-required': 'your access grant for this account ended',
  'outside-window': 'the access window of this account closed',
  'user-disabled': 'your Tessera user was disabled',
  'key-removed': 'the SSH key this connection logged in with was removed',
  'checked-out': 'the account was checked out by another user',
  'rotation-pending': 'the account waits for a verified rotation',
  'vault-sealed': 'the vault was sealed',
  'grant-ended': 'your access grant for this account ended',
  'signed-out': 'your console sign-in ended',
  'factor-added': 'a second factor was added to this user: sign in again',
  'password-changed': 'the password this connection logged in with was changed',
};

/** How a connection that lost its right ends: what the user reads and the record's code. */
export function lostAccessEnding(why: LostAccess): ConnectionEnding {
  return {
    why,
    message: LOST_MESSAGES[why],
    outcome: why === 'vault-sealed' ? 'success' : 'denied',
    audited: true,
  };
}

async function reloadAccount(deps: AccessRecheckDeps, accountId: string): Promise<Account | null> {
  try {
    return await deps.accounts.reload(deps.store.db, accountId);
  } catch (error) {
    if (isTesseraError(error) && error.code === 'NOT_FOUND') return null;
    throw error;
  }
}
