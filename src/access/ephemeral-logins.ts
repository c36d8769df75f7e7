/**
 * Ephemeral accounts as the SSH gateway uses them: found by name for the grant's own user while
 * the grant holds, checked again while its sessions run, and their sealed password opened for
 * one login at a time. The ciphertext stays on the row until the account is dropped (a reveal
 * only marks the row revealed), so the gateway can log in whether or not the user ever saw the
 * password, or was allowed to.
 */
import type { Clock } from '../clock.ts';
import type { Queryable, Store } from '../store/store.ts';
import { ephemeralSecretContext } from '../vault/contexts.ts';
import type { Keyring } from '../vault/keyring.ts';
import { openWithRoot } from '../vault/root-sealed.ts';
import { EPHEMERAL_NAME } from './ephemeral-records.ts';

/** An ephemeral account its user may log in to now. */
export interface EphemeralLogin {
  /** The ephemeral account's own id (not an account's). */
  readonly id: string;
  readonly grantId: string;
  readonly targetId: string;
  readonly target: string;
  readonly username: string;
  /**
   * The account policy of the account the grant names (the target's ephemeral admin account):
   * its session policy is the one the gateway applies. Null when that account is gone.
   */
  readonly policyId: string | null;
}

export interface EphemeralLogins {
  /**
   * The active account `username` on `targetName` whose grant `userId` holds now; null for
   * anything else (no such account, another user's, a grant that ended or was revoked), which
   * the caller must not tell apart.
   */
  findLogin(userId: string, targetName: string, username: string): Promise<EphemeralLogin | null>;
  /** Whether `userId` still holds the grant of the active ephemeral account `id`. */
  holdsLogin(userId: string, id: string): Promise<boolean>;
  /**
   * The account's password, opened for one login: the caller wipes the buffer once used. Null
   * once the account is dropped; VAULT_SEALED while sealed.
   */
  loginPassword(id: string): Promise<Buffer | null>;
}

export function createEphemeralLogins(deps: {
  store: Store;
  keyring: Pick<Keyring, 'keys'>;
  clock: Clock;
}): EphemeralLogins {
  const { store, keyring, clock } = deps;

  /** Active accounts under a grant of `userId` that holds by the clock now. */
  const usable = (db: Queryable, userId: string) => {
    const now = clock.now();
    return db
      .selectFrom('ephemeral_accounts')
      .innerJoin('grants', 'grants.id', 'ephemeral_accounts.grant_id')
      .innerJoin('targets', 'targets.id', 'ephemeral_accounts.target_id')
      .leftJoin('accounts', 'accounts.id', 'grants.account_id')
      .select([
        'ephemeral_accounts.id',
        'ephemeral_accounts.grant_id',
        'ephemeral_accounts.target_id',
        'ephemeral_accounts.username',
        'targets.name as target_name',
        'accounts.policy_id',
      ])
      .where('ephemeral_accounts.state', '=', 'active')
      .where('ephemeral_accounts.dropped_at', 'is', null)
      .where('grants.kind', '=', 'ephemeral')
      .where('grants.user_id', '=', userId)
      .where('grants.revoked_at', 'is', null)
      .where('grants.starts_at', '<=', now)
      .where('grants.ends_at', '>', now);
  };

  return {
    async findLogin(userId, targetName, username) {
      // Only names Tessera generates are looked up: nothing else can be an ephemeral account.
      if (!EPHEMERAL_NAME.test(username)) return null;
      const row = await usable(store.db, userId)
        .where('targets.name', '=', targetName)
        .where('ephemeral_accounts.username', '=', username)
        .executeTakeFirst();
      if (row === undefined) return null;
      return {
        id: row.id,
        grantId: row.grant_id,
        targetId: row.target_id,
        target: row.target_name,
        username: row.username,
        policyId: row.policy_id ?? null,
      };
    },

    async holdsLogin(userId, id) {
      const row = await usable(store.db, userId)
        .where('ephemeral_accounts.id', '=', id)
        .executeTakeFirst();
      return row !== undefined;
    },

    async loginPassword(id) {
      const row = await store.db
        .selectFrom('ephemeral_accounts')
        .select('ciphertext')
        .where('id', '=', id)
        .where('state', '=', 'active')
        .where('dropped_at', 'is', null)
        .executeTakeFirst();
      if (row === undefined || row.ciphertext === null) return null;
      return openWithRoot(keyring, row.ciphertext, ephemeralSecretContext(id));
    },
  };
}
