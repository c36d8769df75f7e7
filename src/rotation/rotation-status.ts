import type { AccountState } from '../accounts/account.ts';
import { accountQuery } from '../accounts/account-service.ts';
import type { Clock } from '../clock.ts';
import type { Principal } from '../identity/principal.ts';
import type { AccountTable } from '../store/schema.ts';
import type { Store } from '../store/store.ts';

/**
 * Rotation health at a glance: `failing` when the last rotation or verify failed (or a retry is
 * pending), else `due` when a rotation should run now, else `ok`.
 */
export type RotationHealth = 'ok' | 'due' | 'failing';
export const ROTATION_HEALTH = ['ok', 'due', 'failing'] as const;
export const ACCOUNT_STATES = ['unverified', 'ok', 'verify_failed', 'rotation_failed'] as const;

export interface RotationStatusFilter {
  readonly safe?: string | undefined;
  readonly target?: string | undefined;
  readonly state?: AccountState | undefined;
  readonly health?: RotationHealth | undefined;
}

export interface AccountRotationStatus {
  readonly ref: string;
  readonly safe: string;
  readonly policy: string;
  readonly state: AccountState;
  readonly health: RotationHealth;
  readonly lastRotatedAt: number | null;
  readonly nextRotationAt: number | null;
  readonly lastAttemptAt: number | null;
  readonly lastError: string | null;
  /** Consecutive failed rotations; 0 after a success. */
  readonly failures: number;
}

export interface RotationTotals {
  readonly accounts: number;
  readonly ok: number;
  readonly due: number;
  readonly failing: number;
  readonly neverRotated: number;
}

export interface RotationStatusReport {
  readonly accounts: readonly AccountRotationStatus[];
  /** Over the safe and target asked for, whatever the state or health filter. */
  readonly totals: RotationTotals;
}

export interface RotationStatus {
  /** The accounts the principal may list, as their rotation stands. */
  report(principal: Principal, filter: RotationStatusFilter): Promise<RotationStatusReport>;
}

export function createRotationStatus(deps: { store: Store; clock: Clock }): RotationStatus {
  const { store, clock } = deps;

  return {
    async report(principal, filter) {
      let query = accountQuery(store.db).orderBy('targets.name').orderBy('accounts.username');
      if (filter.safe !== undefined) query = query.where('safes.name', '=', filter.safe);
      if (filter.target !== undefined) query = query.where('targets.name', '=', filter.target);
      // As the account list: a user sees the accounts of the safes they are a member of.
      if (principal.role === 'user') {
        query = query.where((eb) =>
          eb.exists(
            eb
              .selectFrom('safe_members')
              .select('safe_members.user_id')
              .whereRef('safe_members.safe_id', '=', 'accounts.safe_id')
              .where('safe_members.user_id', '=', principal.userId),
          ),
        );
      }
      const now = clock.now();
      const all = (await query.execute()).map((row) => toStatus(row, now));
      const accounts = all.filter(
        (a) =>
          (filter.state === undefined || a.state === filter.state) &&
          (filter.health === undefined || a.health === filter.health),
      );
      return { accounts, totals: totalsOf(all) };
    },
  };
}

type StatusRow = AccountTable & { target_name: string; safe_name: string; policy_name: string };

function toStatus(row: StatusRow, now: number): AccountRotationStatus {
  const state = row.state as AccountState;
  return {
    ref: `${row.target_name}/${row.username}`,
    safe: row.safe_name,
    policy: row.policy_name,
    state,
    health: healthOf(row, state, now),
    lastRotatedAt: row.last_rotated_at,
    nextRotationAt: row.next_rotation_at,
    lastAttemptAt: row.last_rotation_attempt_at,
    lastError: row.last_rotation_error,
    failures: row.rotation_failures,
  };
}

function healthOf(row: AccountTable, state: AccountState, now: number): RotationHealth {
  if (state === 'rotation_failed' || state === 'verify_failed' || row.rotation_failures > 0) {
    return 'failing';
  }
  const scheduled = row.next_rotation_at !== null && row.next_rotation_at <= now;
  return row.needs_rotation !== 0 || scheduled ? 'due' : 'ok';
}

function totalsOf(accounts: readonly AccountRotationStatus[]): RotationTotals {
  const count = (test: (a: AccountRotationStatus) => boolean) => accounts.filter(test).length;
  return {
    accounts: accounts.length,
    ok: count((a) => a.health === 'ok'),
    due: count((a) => a.health === 'due'),
    failing: count((a) => a.health === 'failing'),
    neverRotated: count((a) => a.lastRotatedAt === null),
  };
}
