import type { SecretKind } from '../connectors/connector.ts';
import type { AccountTable } from '../store/schema.ts';

/** Where an account stands with its target, as the last verify or rotation left it. */
export type AccountState = 'unverified' | 'ok' | 'verify_failed' | 'rotation_failed';

export interface Account {
  readonly id: string;
  readonly ref: string;
  readonly target: string;
  readonly targetId: string;
  readonly username: string;
  readonly safe: string;
  readonly safeId: string;
  readonly policy: string;
  readonly policyId: string;
  readonly currentVersion: number | null;
  /** What the secret is: a password, or an SSH private key whose public half the target holds. */
  readonly secretType: SecretKind;
  /** The account that logs in to change this one's secret; null: the account changes its own. */
  readonly reconcileAccountId: string | null;
  readonly state: AccountState;
  readonly lastVerifiedAt: number | null;
  readonly lastVerifyResult: string | null;
  readonly lastRotatedAt: number | null;
  readonly lastRotationError: string | null;
  readonly nextRotationAt: number | null;
  /** Rotations that failed in a row since the last success; drives the retry back-off. */
  readonly rotationFailures: number;
  readonly needsRotation: boolean;
  readonly rotating: boolean;
  readonly checkout: {
    readonly id: string;
    readonly holder: string;
    readonly since: number;
    readonly expiresAt: number;
  } | null;
  readonly createdAt: number;
}

export type AccountRow = AccountTable & {
  target_name: string;
  safe_name: string;
  policy_name: string;
};

export function toAccount(row: AccountRow, now: number): Account {
  const checkedOut =
    row.checkout_id !== null &&
    row.checked_out_by !== null &&
    row.checked_out_at !== null &&
    row.checkout_expires_at !== null;
  return {
    id: row.id,
    ref: `${row.target_name}/${row.username}`,
    target: row.target_name,
    targetId: row.target_id,
    username: row.username,
    safe: row.safe_name,
    safeId: row.safe_id,
    policy: row.policy_name,
    policyId: row.policy_id,
    currentVersion: row.current_version,
    secretType: row.secret_type === 'ssh-key' ? 'ssh-key' : 'password',
    reconcileAccountId: row.reconcile_account_id,
    state: row.state as AccountState,
    lastVerifiedAt: row.last_verified_at,
    lastVerifyResult: row.last_verify_result,
    lastRotatedAt: row.last_rotated_at,
    lastRotationError: row.last_rotation_error,
    nextRotationAt: row.next_rotation_at,
    rotationFailures: row.rotation_failures,
    needsRotation: row.needs_rotation !== 0,
    rotating: row.rotation_lease_until !== null && row.rotation_lease_until > now,
    checkout: checkedOut
      ? {
          id: row.checkout_id as string,
          holder: row.checked_out_by as string,
          since: row.checked_out_at as number,
          expiresAt: row.checkout_expires_at as number,
        }
      : null,
    createdAt: row.created_at,
  };
}

/** Splits `TARGET/USERNAME` at the first slash: target names never hold one, user names may. */
export function parseAccountRef(ref: string): { target: string; username: string } | null {
  const slash = ref.indexOf('/');
  if (slash <= 0 || slash === ref.length - 1) return null;
  return { target: ref.slice(0, slash), username: ref.slice(slash + 1) };
}
