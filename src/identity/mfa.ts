import { randomBytes, timingSafeEqual } from 'node:crypto';
import { HOTP, Secret, TOTP } from 'otpauth';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditEventInput, AuditOutcome, RequestContext } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import { notFound, TesseraError } from '../errors.ts';
import type { UserMfaTable } from '../store/schema.ts';
import type { Queryable, Store, Tx } from '../store/store.ts';
import { mfaSecretContext } from '../vault/contexts.ts';
import type { Keyring } from '../vault/keyring.ts';
import { openWithRoot, sealWithRoot } from '../vault/root-sealed.ts';
import { createMfaThrottle } from './mfa-throttle.ts';
import type { Principal } from './principal.ts';
import type { TokenService } from './tokens.ts';
import { lockUser } from './user-lock.ts';
import type { UserService } from './users.ts';

/** Shown once, at enrolment: the only time the secret leaves the vault. */
export interface MfaEnrollment {
  /** The secret in base32, for typing into an authenticator app. */
  readonly secret: string;
  /** The `otpauth://totp/...` URI, for a QR code. */
  readonly uri: string;
}

export interface MfaStatus {
  readonly enrolled: boolean;
  readonly confirmed: boolean;
  readonly createdAt: number | null;
  readonly confirmedAt: number | null;
}

/**
 * A user's TOTP second factor (RFC 6238). Enrolment stores a new secret unconfirmed; a first
 * valid code confirms it, and from then on other services ask `verify` for a code before a
 * sensitive step. Every code is accepted once: the step it belongs to is stored, and a code of
 * that step or an earlier one is refused.
 */
export interface MfaService {
  /**
   * A new secret, replacing an unconfirmed one. A confirmed factor is CONFLICT: it is removed
   * first with a valid code, or by an administrator, so a stolen token cannot swap it.
   */
  enroll(
    ctx: RequestContext,
    principal: Pick<Principal, 'userId' | 'name'>,
  ): Promise<MfaEnrollment>;
  /**
   * Confirms the pending secret with a code from it. Every other login token of the user is
   * revoked with it: one taken with the password alone must not outlive the factor's arrival.
   * Root tokens (an operator's, the dev root token) stay: they are no sign-in of the user's.
   */
  confirm(
    ctx: RequestContext,
    principal: Pick<Principal, 'userId' | 'name'> & { readonly tokenId?: string },
    code: string,
  ): Promise<MfaStatus>;
  status(userId: string): Promise<MfaStatus>;
  /**
   * Calls `listener` with the user's id once a factor is confirmed and its other sign-ins were
   * revoked, so that connections made with the password alone end at once.
   */
  onConfirmed(listener: (userId: string) => void): void;
  /**
   * Whether the user has a confirmed factor: an unconfirmed one proves nothing yet. Asked of
   * `db` when given: a sign-in's transaction asks again as it writes its token.
   */
  hasFactor(userId: string, db?: Queryable): Promise<boolean>;
  /**
   * Checks a code against the user's confirmed factor and uses it up. Throws MFA_INVALID for a
   * wrong or already used code (or no confirmed factor), RATE_LIMITED after too many failures.
   */
  verify(ctx: RequestContext, userId: string, code: string): Promise<void>;
  /** Removes one's own factor, confirmed or not, with a valid code from it. */
  remove(
    ctx: RequestContext,
    principal: Pick<Principal, 'userId' | 'name'>,
    code: string,
  ): Promise<void>;
  /** Removes another user's factor (a lost phone). Admins only; the caller checks that. */
  reset(ctx: RequestContext, principal: Pick<Principal, 'userId'>, userName: string): Promise<void>;
}

/** What authenticator apps expect by default: anything else some of them get wrong. */
const TOTP_ALGORITHM = 'SHA1';
const TOTP_DIGITS = 6;
const TOTP_PERIOD_MS = 30_000;
/** RFC 4226 recommends 160 bits, the size of the SHA-1 output. */
const SECRET_BYTES = 20;
/** Steps either side of now accepted: a phone's clock a little off, a code typed slowly. */
const STEP_WINDOW = 1;
const ISSUER = 'Tessera';
const CODE = /^\d{6}$/;
/** The tokens a confirmed factor revokes: sign-ins, as `users.ts` issues them. */
const LOGIN_TOKEN_KIND = 'login';

type MfaRow = UserMfaTable;
interface UserRef {
  readonly id: string;
  readonly name: string | null;
}

export function createMfaService(deps: {
  store: Store;
  audit: AuditLog;
  keyring: Pick<Keyring, 'keys'>;
  clock: Clock;
  /** Finds the user an admin resets; without it, the users table is read directly. */
  users?: Pick<UserService, 'findByName'>;
  /** Revokes the user's other tokens once a factor is confirmed. */
  tokens?: Pick<TokenService, 'revokeAllOf' | 'forgetCached'>;
}): MfaService {
  const { store, audit, keyring, clock } = deps;
  const throttle = createMfaThrottle();
  const confirmedListeners: Array<(userId: string) => void> = [];

  const findRow = (userId: string, db: Queryable = store.db) =>
    db.selectFrom('user_mfa').selectAll().where('user_id', '=', userId).executeTakeFirst();

  const findUser = async (name: string): Promise<UserRef | null> => {
    if (deps.users !== undefined) return deps.users.findByName(name);
    const row = await store.db
      .selectFrom('users')
      .select(['id', 'name'])
      .where('name', '=', name)
      .executeTakeFirst();
    return row ?? null;
  };

  const userOf = async (userId: string): Promise<UserRef> => {
    const row = await store.db
      .selectFrom('users')
      .select('name')
      .where('id', '=', userId)
      .executeTakeFirst();
    return { id: userId, name: row?.name ?? null };
  };

  /** The step `code` matches in the row's secret; the opened secret is wiped after use. */
  const stepOf = (row: MfaRow, code: string) => {
    const secret = openWithRoot(keyring, row.ciphertext, mfaSecretContext(row.user_id));
    try {
      return matchStep(secret, code, clock.now());
    } finally {
      secret.fill(0);
    }
  };

  /** Audits a refused code and returns the error to throw; the code itself is never recorded. */
  const refuse = async (
    ctx: RequestContext,
    action: string,
    user: UserRef,
    why: 'wrong-code' | 'replayed' | 'no-factor' | 'throttled',
  ) => {
    const outcome: AuditOutcome = why === 'throttled' ? 'denied' : 'failure';
    await audit.record({ ...mfaEvent(ctx, action, user), outcome, details: { why } });
    if (why === 'throttled') {
      return new TesseraError('RATE_LIMITED', 'too many wrong codes: wait a few minutes');
    }
    if (why === 'no-factor') {
      return new TesseraError('MFA_INVALID', 'no confirmed second factor for this user');
    }
    return new TesseraError('MFA_INVALID', 'the code is wrong or was already used');
  };

  /**
   * Checks `code` against the row's secret under the throttle, then lets `commit` use up its
   * step in one transaction with its audit event. `commit` answers false when the step was
   * taken meanwhile (a concurrent use of the same code): that counts as a replay.
   */
  const useCode = async (
    ctx: RequestContext,
    action: string,
    user: UserRef,
    row: MfaRow,
    code: string,
    commit: (trx: Tx, step: number) => Promise<boolean>,
  ): Promise<void> => {
    const attempt = throttle.reserve(user.id, clock.now());
    if (attempt === null) throw await refuse(ctx, action, user, 'throttled');
    try {
      const step = stepOf(row, code);
      if (step === null) {
        attempt.failed();
        throw await refuse(ctx, action, user, 'wrong-code');
      }
      const won = step > (row.last_step ?? -1) && (await store.transaction((t) => commit(t, step)));
      if (!won) {
        attempt.failed();
        throw await refuse(ctx, action, user, 'replayed');
      }
      await store.durable();
      attempt.succeeded();
    } finally {
      attempt.abandoned();
    }
  };

  /** Takes `step` for the row as read, only if no later or equal step was taken since. */
  const takeStep = (trx: Tx, row: MfaRow, step: number) =>
    trx
      .updateTable('user_mfa')
      .set({ last_step: step })
      .where('user_id', '=', row.user_id)
      .where('ciphertext', '=', row.ciphertext)
      .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]));

  return {
    async enroll(ctx, principal) {
      const user = { id: principal.userId, name: principal.name };
      const bytes = randomBytes(SECRET_BYTES);
      const ciphertext = sealWithRoot(keyring, bytes, mfaSecretContext(user.id));
      const secret = new Secret({ buffer: bufferOf(bytes) });
      bytes.fill(0);
      const now = clock.now();
      await store.transaction(async (trx) => {
        const replaced = await replacePending(trx, user.id, ciphertext, now);
        await audit.appendInTx(trx, [
          { ...mfaEvent(ctx, 'mfa.enroll', user), details: { kind: 'totp', replaced } },
        ]);
      });
      await store.durable();
      return { secret: secret.base32, uri: totpOf(secret, principal.name).toString() };
    },

    async confirm(ctx, principal, code) {
      const user = { id: principal.userId, name: principal.name };
      const row = await findRow(user.id);
      if (row === undefined) throw notFound('second factor enrolment');
      if (row.confirmed_at !== null) {
        throw new TesseraError('CONFLICT', 'the second factor is already confirmed');
      }
      let signedOut = false;
      const confirming = useCode(ctx, 'mfa.confirm', user, row, code, async (trx, step) => {
        await lockUser(store, trx, user.id);
        // A sign-in revoked meanwhile (a new password, a disabling) binds no factor.
        if (principal.tokenId !== undefined && !(await isUnrevoked(trx, principal.tokenId))) {
          signedOut = true;
          throw new TesseraError('UNAUTHENTICATED', 'your sign-in ended');
        }
        const confirmed = await takeStep(trx, row, step)
          .set({ confirmed_at: clock.now() })
          .where('confirmed_at', 'is', null)
          .executeTakeFirst();
        if (Number(confirmed.numUpdatedRows) !== 1) {
          // Enrolled again or confirmed meanwhile: this code belongs to a secret now gone.
          throw new TesseraError('CONFLICT', 'the enrolment changed meanwhile: enroll again');
        }
        await deps.tokens?.revokeAllOf(trx, user.id, principal.tokenId, LOGIN_TOKEN_KIND);
        await audit.appendInTx(trx, [mfaEvent(ctx, 'mfa.confirm', user)]);
        return true;
      });
      await confirming.catch(async (error: unknown) => {
        if (signedOut) {
          const refused = { ...mfaEvent(ctx, 'mfa.confirm', user), outcome: 'failure' as const };
          await audit.record({ ...refused, details: { why: 'signed-out' } });
        }
        throw error;
      });
      deps.tokens?.forgetCached(user.id);
      for (const listener of confirmedListeners) listener(user.id);
      return statusOf(await findRow(user.id));
    },

    onConfirmed(listener) {
      confirmedListeners.push(listener);
    },

    async status(userId) {
      return statusOf(await findRow(userId));
    },

    async hasFactor(userId, db) {
      const row = await findRow(userId, db);
      return row !== undefined && row.confirmed_at !== null;
    },

    async verify(ctx, userId, code) {
      const row = await findRow(userId);
      const user = await userOf(userId);
      if (row === undefined || row.confirmed_at === null) {
        throw await refuse(ctx, 'mfa.verify', user, 'no-factor');
      }
      await useCode(ctx, 'mfa.verify', user, row, code, async (trx, step) => {
        const taken = await takeStep(trx, row, step)
          .where('confirmed_at', 'is not', null)
          .executeTakeFirst();
        if (Number(taken.numUpdatedRows) !== 1) return false;
        await audit.appendInTx(trx, [mfaEvent(ctx, 'mfa.verify', user)]);
        return true;
      });
    },

    async remove(ctx, principal, code) {
      const user = { id: principal.userId, name: principal.name };
      const row = await findRow(user.id);
      if (row === undefined) throw notFound('second factor');
      await useCode(ctx, 'mfa.remove', user, row, code, async (trx, step) => {
        const removed = await trx
          .deleteFrom('user_mfa')
          .where('user_id', '=', row.user_id)
          .where('ciphertext', '=', row.ciphertext)
          .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
          .executeTakeFirst();
        if (Number(removed.numDeletedRows) !== 1) return false;
        await audit.appendInTx(trx, [mfaEvent(ctx, 'mfa.remove', user)]);
        return true;
      });
    },

    async reset(ctx, principal, userName) {
      const user = await findUser(userName);
      if (user === null) throw notFound('user');
      // A stolen admin token must not strip its own owner's second factor: that takes a code.
      if (user.id === principal.userId) {
        throw new TesseraError('FORBIDDEN', 'remove your own second factor with a valid code');
      }
      await store.transaction(async (trx) => {
        const removed = await trx
          .deleteFrom('user_mfa')
          .where('user_id', '=', user.id)
          .executeTakeFirst();
        if (Number(removed.numDeletedRows) === 0) throw notFound('second factor');
        await audit.appendInTx(trx, [mfaEvent(ctx, 'mfa.reset', { id: user.id, name: user.name })]);
      });
      await store.durable();
    },
  };
}

async function isUnrevoked(trx: Tx, tokenId: string): Promise<boolean> {
  const row = await trx
    .selectFrom('tokens')
    .select('revoked_at')
    .where('id', '=', tokenId)
    .executeTakeFirst();
  return row !== undefined && row.revoked_at === null;
}

/**
 * Stores a new unconfirmed secret over an unconfirmed one, or as the first. Both statements are
 * conditional, so a factor confirmed concurrently is never overwritten: CONFLICT instead.
 * Answers whether an unconfirmed secret was replaced.
 */
async function replacePending(
  trx: Tx,
  userId: string,
  ciphertext: Buffer,
  now: number,
): Promise<boolean> {
  const updated = await trx
    .updateTable('user_mfa')
    .set({ kind: 'totp', ciphertext, last_step: null, created_at: now })
    .where('user_id', '=', userId)
    .where('confirmed_at', 'is', null)
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 1) return true;
  const inserted = await trx
    .insertInto('user_mfa')
    .values({
      user_id: userId,
      kind: 'totp',
      ciphertext,
      confirmed_at: null,
      last_step: null,
      created_at: now,
    })
    .onConflict((oc) => oc.column('user_id').doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) !== 1) {
    throw new TesseraError(
      'CONFLICT',
      'a confirmed second factor exists: remove it first with a valid code, or ask an admin',
    );
  }
  return false;
}

/**
 * The time step `code` belongs to, within STEP_WINDOW steps of `now`, or null. Every candidate
 * is computed and compared in constant time, whichever matches, so the time taken tells nothing
 * about which step matched (otpauth's own validate stops at the first match, and throws on a
 * code whose UTF-8 length differs from its digits).
 */
export function matchStep(secretBytes: Buffer, code: string, now: number): number | null {
  if (!CODE.test(code)) return null;
  const secret = new Secret({ buffer: bufferOf(secretBytes) });
  const given = Buffer.from(code, 'ascii');
  const current = Math.floor(now / TOTP_PERIOD_MS);
  let matched: number | null = null;
  for (let step = current - STEP_WINDOW; step <= current + STEP_WINDOW; step += 1) {
    const expected = HOTP.generate({
      secret,
      algorithm: TOTP_ALGORITHM,
      digits: TOTP_DIGITS,
      counter: step,
    });
    // The latest matching step wins: two steps sharing a code leave fewer codes to replay.
    if (timingSafeEqual(given, Buffer.from(expected, 'ascii'))) matched = step;
  }
  return matched;
}

function totpOf(secret: Secret, label: string): TOTP {
  return new TOTP({
    issuer: ISSUER,
    label,
    secret,
    algorithm: TOTP_ALGORITHM,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_MS / 1000,
  });
}

/** A copy in an ArrayBuffer of its own: a Buffer may be a view into a larger shared pool. */
function bufferOf(bytes: Buffer): ArrayBuffer {
  const copy = new ArrayBuffer(bytes.length);
  new Uint8Array(copy).set(bytes);
  return copy;
}

function statusOf(row: MfaRow | undefined): MfaStatus {
  return {
    enrolled: row !== undefined,
    confirmed: row !== undefined && row.confirmed_at !== null,
    createdAt: row?.created_at ?? null,
    confirmedAt: row?.confirmed_at ?? null,
  };
}

function mfaEvent(ctx: RequestContext, action: string, user: UserRef): AuditEventInput {
  return {
    action,
    outcome: 'success',
    actor: ctx.actor,
    object: { type: 'user', id: user.id, name: user.name },
    source: ctx.source,
    requestId: ctx.requestId,
  };
}
