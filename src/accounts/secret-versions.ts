import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.ts';
import { SYSTEM_CONTEXT } from '../audit/event.ts';
import { TesseraError } from '../errors.ts';
import type { Queryable, Store } from '../store/store.ts';
import { EnvelopeError } from '../vault/envelope.ts';
import type { SecretCipher } from '../vault/secret-cipher.ts';

/** A version's life: pending while a rotation applies it, current once verified, then previous. */
/**
 * `partial`: a value some of the account's places on the target took and others did not; kept
 * (never a login the vault forgot) but out of recovery, until a reconcile sets one value
 * everywhere.
 */
export type VersionStatus = 'pending' | 'current' | 'previous' | 'discarded' | 'partial';

export interface SecretVersionInfo {
  readonly version: number;
  readonly status: VersionStatus;
  readonly origin: string;
  readonly createdAt: number;
  readonly createdBy: string;
  readonly promotedAt: number | null;
}

export interface AccountKeyRef {
  readonly accountId: string;
  readonly safeId: string;
}

/**
 * Stores and reads encrypted secret versions. Every version stays in history, encrypted; none is
 * ever returned by a listing.
 */
export interface SecretVersions {
  write(
    db: Queryable,
    at: AccountKeyRef & { version: number },
    input: { value: Buffer; status: VersionStatus; origin: string; createdBy: string; now: number },
  ): Promise<void>;
  read(at: AccountKeyRef, version: number): Promise<Buffer>;
  history(accountId: string): Promise<SecretVersionInfo[]>;
  latestVersion(db: Queryable, accountId: string): Promise<number>;
  pending(db: Queryable, accountId: string): Promise<number | null>;
  setStatus(
    db: Queryable,
    accountId: string,
    version: number,
    status: VersionStatus,
    now: number,
  ): Promise<void>;
}

export function createSecretVersions(deps: {
  store: Store;
  cipher: SecretCipher;
  audit: AuditLog;
  logger: Logger;
}): SecretVersions {
  const { store, cipher, audit, logger } = deps;

  /** A ciphertext that fails to open is evidence of tampering: alarm and audit, then refuse. */
  const integrityFailure = async (at: AccountKeyRef, version: number) => {
    logger.error({ account: at.accountId, version }, 'stored secret failed its integrity check');
    await audit.record({
      action: 'secret.integrity',
      outcome: 'failure',
      actor: SYSTEM_CONTEXT.actor,
      object: { type: 'account', id: at.accountId, name: null },
      details: { version, safe: at.safeId },
    });
    return new TesseraError('INTEGRITY_FAILURE', 'the stored secret failed its integrity check');
  };

  // A safe's wrapped key never changes once written, so each is read from the store once.
  const wrappedKeks = new Map<string, Buffer>();
  const safeKey = async (db: Queryable, safeId: string) => {
    let wrappedKek = wrappedKeks.get(safeId);
    if (wrappedKek === undefined) {
      const row = await db
        .selectFrom('safes')
        .select('wrapped_kek')
        .where('id', '=', safeId)
        .executeTakeFirstOrThrow();
      wrappedKek = row.wrapped_kek;
      wrappedKeks.set(safeId, wrappedKek);
    }
    return { safeId, wrappedKek };
  };

  return {
    async write(db, at, { value, status, origin, createdBy, now }) {
      const sealed = cipher.encrypt(await safeKey(db, at.safeId), at, value);
      await db
        .insertInto('secret_versions')
        .values({
          account_id: at.accountId,
          version: at.version,
          status,
          ciphertext: sealed.ciphertext,
          wrapped_key: sealed.wrappedKey,
          created_at: now,
          created_by: createdBy,
          origin,
          promoted_at: status === 'current' ? now : null,
        })
        .execute();
    },

    async read(at, version) {
      const [safe, row] = await Promise.all([
        safeKey(store.db, at.safeId),
        store.db
          .selectFrom('secret_versions')
          .select(['ciphertext', 'wrapped_key'])
          .where('account_id', '=', at.accountId)
          .where('version', '=', version)
          .executeTakeFirstOrThrow(),
      ]);
      try {
        return cipher.decrypt(
          safe,
          { ...at, version },
          { ciphertext: row.ciphertext, wrappedKey: row.wrapped_key },
        );
      } catch (error) {
        if (!(error instanceof EnvelopeError)) throw error;
        // A ciphertext that does not belong to this row: moved, altered or corrupted.
        throw await integrityFailure(at, version);
      }
    },

    async history(accountId) {
      const rows = await store.db
        .selectFrom('secret_versions')
        .select(['version', 'status', 'origin', 'created_at', 'created_by', 'promoted_at'])
        .where('account_id', '=', accountId)
        .orderBy('version', 'desc')
        .execute();
      return rows.map((r) => ({
        version: r.version,
        status: r.status as VersionStatus,
        origin: r.origin,
        createdAt: r.created_at,
        createdBy: r.created_by,
        promotedAt: r.promoted_at,
      }));
    },

    async latestVersion(db, accountId) {
      const row = await db
        .selectFrom('secret_versions')
        .select((eb) => eb.fn.max('version').as('latest'))
        .where('account_id', '=', accountId)
        .executeTakeFirst();
      return Number(row?.latest ?? 0);
    },

    async pending(db, accountId) {
      const row = await db
        .selectFrom('secret_versions')
        .select('version')
        .where('account_id', '=', accountId)
        .where('status', '=', 'pending')
        .orderBy('version', 'desc')
        .executeTakeFirst();
      return row?.version ?? null;
    },

    async setStatus(db, accountId, version, status, now) {
      await db
        .updateTable('secret_versions')
        .set({ status, ...(status === 'current' ? { promoted_at: now } : {}) })
        .where('account_id', '=', accountId)
        .where('version', '=', version)
        .execute();
    },
  };
}
