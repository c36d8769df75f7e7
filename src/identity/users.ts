import { createHash, randomUUID } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditEventInput, RequestContext } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import { notFound, TesseraError } from '../errors.ts';
import type { UserTable } from '../store/schema.ts';
import type { Store, Tx } from '../store/store.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { createPasswordCheck } from './password-check.ts';
import type { PasswordHasher } from './password-hash.ts';
import type { Principal, Role } from './principal.ts';
import type { TokenService } from './tokens.ts';
import { lockUser } from './user-lock.ts';

export interface User {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly disabled: boolean;
  readonly createdAt: number;
  /** The person behind this login: two logins linked in the directory share it. */
  readonly personId: string;
}

export interface LoginResult {
  readonly token: string;
  readonly tokenId: string;
  readonly expiresAt: number | null;
  readonly user: User;
}

/** What a sign-in's second step saw, checked again as the token is written. */
export interface SecondStepPassed {
  /** Inside the token's transaction, with the user's row held: whether it still holds. */
  stillHolds(trx: Tx): Promise<boolean>;
  /** Audits the sign-in refused because it no longer does, and answers the error to throw. */
  lapsed(): Promise<Error>;
}

export interface UserService {
  create(
    ctx: RequestContext,
    input: { name: string; role: Role; password?: string },
  ): Promise<User>;
  list(): Promise<User[]>;
  findByName(name: string): Promise<User | null>;
  /** Whether the user has a password yet: without one, a first is set without a current one. */
  hasPassword(userId: string): Promise<boolean>;
  /**
   * Checks a password and issues a login token. `secondStep` runs once the password has matched
   * and before anything is issued, and refuses by throwing: every caller says what else a sign-in
   * needs (the second factor: identity/password-sign-in.ts), so none can forget to. The token is
   * written only if the password, the user's standing and what the second step saw still hold
   * then: a change made meanwhile refuses the sign-in instead of missing its token.
   */
  login(
    ctx: Omit<RequestContext, 'actor'>,
    name: string,
    password: string,
    secondStep: (user: User) => Promise<SecondStepPassed>,
  ): Promise<LoginResult>;
  /**
   * Checks a password for a login that needs no token (the SSH gateway's keyboard-interactive):
   * throttled and audited exactly as `login`, with `via` naming the door. Answers the password's
   * stamp too: the connection it opens ends once the password is changed.
   */
  authenticate(
    ctx: Omit<RequestContext, 'actor'>,
    name: string,
    password: string,
    via: string,
  ): Promise<User & { readonly passwordStamp: string }>;
  /**
   * Names the user's password as stored now (a digest of its hash, which never leaves this
   * service): a different stamp means it was changed. Null without a password or a user.
   */
  passwordStamp(userId: string): Promise<string | null>;
  /** Calls `listener` with the user's id once their password was changed and stored. */
  onPasswordSet(listener: (userId: string) => void): void;
  /** Revokes a live token; an unknown or already revoked one is NOT_FOUND and not audited. */
  revokeToken(ctx: RequestContext, tokenId: string): Promise<void>;
  /**
   * Sets a user's password: anyone's as an admin (the caller checks that), one's own only with
   * the current password, whatever the role. Every other token of the user is revoked.
   */
  setPassword(
    ctx: RequestContext,
    principal: Principal,
    input: { name: string; password: string; currentPassword?: string | undefined },
  ): Promise<void>;
  /**
   * Disables (offboards) or enables a user; disabling revokes every token of the user. Neither
   * the built-in admin nor the caller can be disabled. Admins only (the caller checks that).
   */
  setDisabled(
    ctx: RequestContext,
    principal: Principal,
    input: { name: string; disabled: boolean },
  ): Promise<User>;
  /** The built-in administrator, created once at initialisation. */
  ensureBuiltinAdmin(password: string | null): Promise<User>;
  findById(id: string): Promise<User | null>;
  /**
   * Calls `listener` with the user's id once a user is disabled, after the change is stored: the
   * SSH gateway ends that user's connections at once rather than at its next periodic check.
   */
  onDisabled(listener: (userId: string) => void): void;
}

export const LOGIN_TOKEN_TTL_MS = 60 * 60_000;
export const BUILTIN_ADMIN = 'admin';
/**
 * Names no one can create: Tessera acts in the audit trail as `tessera` (and readers take
 * `system` for the same), and `admin` is the built-in administrator. Compared without case, so
 * `Tessera` cannot pose either.
 */
/**
 * `me` is how the API names the caller (`/v1/users/me/...`); a user of that name would be
 * shadowed.
 */
export const RESERVED_USER_NAMES: readonly string[] = [BUILTIN_ADMIN, 'tessera', 'system', 'me'];

type UserRow = UserTable;

export function createUserService(deps: {
  store: Store;
  audit: AuditLog;
  hasher: PasswordHasher;
  tokens: TokenService;
  throttle: LoginThrottle;
  clock: Clock;
}): UserService {
  const { store, audit, hasher, tokens, clock } = deps;
  const passwords = createPasswordCheck(deps);
  const disabledListeners: Array<(userId: string) => void> = [];
  const passwordListeners: Array<(userId: string) => void> = [];

  const findRow = (name: string) =>
    store.db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();

  const findExisting = async (name: string) => {
    const row = await findRow(name);
    if (row === undefined) throw notFound('user');
    return row;
  };

  /**
   * Audits a refused login. The name is kept only when it is a user's: an unknown one is often
   * a password typed into the name's field, or answered to the gateway's user prompt by an
   * askpass program, and the trail keeps everything for good. Its source and the count of
   * refusals still show a spray of names.
   */
  const loginRefused = async (
    ctx: Omit<RequestContext, 'actor'>,
    name: string | null,
    outcome: 'failure' | 'denied',
    why: string,
  ) => {
    await audit.record({
      action: 'auth.login',
      outcome,
      actor: { id: null, name },
      source: ctx.source,
      requestId: ctx.requestId,
      details: { why },
    });
    if (outcome === 'denied') {
      return new TesseraError('RATE_LIMITED', 'too many failed logins: wait a few minutes');
    }
    // One answer for unknown user, wrong password and disabled user: none says which.
    return new TesseraError('UNAUTHENTICATED', 'invalid user name or password');
  };

  /**
   * Writes the token only if the row still holds the password that was checked and the user is
   * still enabled, and the second step still holds: answers which of them lapsed otherwise.
   */
  const issueLoginToken = async (
    ctx: Omit<RequestContext, 'actor'>,
    row: UserRow,
    passed: SecondStepPassed,
  ) => {
    const issued = await store.transaction(async (trx) => {
      const current = await lockUser(store, trx, row.id);
      if (current?.disabled !== 0 || current.password_hash !== row.password_hash) return 'password';
      if (!(await passed.stillHolds(trx))) return 'second-step';
      const token = await tokens.issue(trx, {
        userId: row.id,
        kind: 'login',
        ttlMs: LOGIN_TOKEN_TTL_MS,
      });
      await audit.appendInTx(trx, [
        {
          action: 'auth.login',
          outcome: 'success',
          actor: { id: row.id, name: row.name },
          object: { type: 'token', id: token.id, name: null },
          source: ctx.source,
          requestId: ctx.requestId,
        },
      ]);
      return token;
    });
    if (issued === 'password')
      throw await loginRefused(ctx, row.name, 'failure', 'changed-meanwhile');
    if (issued === 'second-step') throw await passed.lapsed();
    await store.durable();
    return { token: issued.token, tokenId: issued.id, expiresAt: issued.expiresAt };
  };

  /** Throws unless `current` is the user's password; a wrong one is throttled and audited. */
  const requireCurrentPassword = async (ctx: RequestContext, row: UserRow, current: string) => {
    const verdict = await passwords.verify(row.name, ctx.source, row.password_hash, current);
    if (verdict === 'match') return;
    const throttled = verdict === 'throttled';
    await audit.record({
      ...userEvent(ctx, 'user.password.set', row),
      outcome: throttled ? 'denied' : 'failure',
      details: { why: throttled ? 'throttled' : 'bad-current-password' },
    });
    if (throttled) {
      throw new TesseraError('RATE_LIMITED', 'too many wrong passwords: wait a few minutes');
    }
    throw new TesseraError('UNAUTHENTICATED', 'the current password is wrong');
  };

  return {
    async create(ctx, { name, role, password }) {
      refuseReservedName(name);
      const now = clock.now();
      const row = {
        id: randomUUID(),
        name,
        role,
        password_hash: password === undefined ? null : await hasher.hash(password),
        disabled: 0,
        builtin: 0,
        created_at: now,
        updated_at: now,
        person_id: null,
      };
      await store.transaction(async (trx) => {
        const existing = await trx
          .selectFrom('users')
          .select('id')
          .where('name', '=', name)
          .executeTakeFirst();
        if (existing !== undefined)
          throw new TesseraError('ALREADY_EXISTS', `user ${name} already exists`);
        await trx.insertInto('users').values(row).execute();
        await audit.appendInTx(trx, [
          {
            ...userEvent(ctx, 'user.create', row),
            details: { role, password: password === undefined ? 'none' : 'set' },
          },
        ]);
      });
      await store.durable();
      return toUser(row);
    },

    async list() {
      const rows = await store.db.selectFrom('users').selectAll().orderBy('name').execute();
      return rows.map(toUser);
    },

    async findByName(name) {
      const row = await findRow(name);
      return row === undefined ? null : toUser(row);
    },

    async hasPassword(userId) {
      const row = await store.db
        .selectFrom('users')
        .select('password_hash')
        .where('id', '=', userId)
        .executeTakeFirst();
      return row !== undefined && row.password_hash !== null;
    },

    async login(ctx, name, password, secondStep) {
      const row = await findRow(name);
      // A disabled user's password is not even compared: it cannot log in, right or wrong.
      const stored = row?.disabled === 0 ? row.password_hash : null;
      const verdict = await passwords.verify(name, ctx.source, stored, password);
      const named = row === undefined ? null : row.name;
      if (verdict === 'throttled') throw await loginRefused(ctx, named, 'denied', 'throttled');
      if (verdict === 'mismatch' || row === undefined) {
        throw await loginRefused(ctx, named, 'failure', whyLoginFailed(row));
      }
      const user = toUser(row);
      const passed = await secondStep(user);
      return { ...(await issueLoginToken(ctx, row, passed)), user };
    },

    async authenticate(ctx, name, password, via) {
      const row = await findRow(name);
      const stored = row?.disabled === 0 ? row.password_hash : null;
      const verdict = await passwords.verify(name, ctx.source, stored, password);
      const named = row === undefined ? null : row.name;
      if (verdict === 'throttled') throw await loginRefused(ctx, named, 'denied', 'throttled');
      if (verdict === 'mismatch' || row === undefined) {
        throw await loginRefused(ctx, named, 'failure', whyLoginFailed(row));
      }
      await audit.record({
        action: 'auth.login',
        outcome: 'success',
        actor: { id: row.id, name: row.name },
        object: { type: 'user', id: row.id, name: row.name },
        source: ctx.source,
        requestId: ctx.requestId,
        details: { via },
      });
      return { ...toUser(row), passwordStamp: stampOf(row.password_hash ?? '') };
    },

    async passwordStamp(userId) {
      const row = await store.db
        .selectFrom('users')
        .select('password_hash')
        .where('id', '=', userId)
        .executeTakeFirst();
      return row?.password_hash == null ? null : stampOf(row.password_hash);
    },

    onPasswordSet(listener) {
      passwordListeners.push(listener);
    },

    async revokeToken(ctx, tokenId) {
      await store.transaction(async (trx) => {
        // Nothing changed for an unknown or already revoked token, so nothing is audited.
        if (!(await tokens.revoke(trx, tokenId))) throw notFound('token');
        await audit.appendInTx(trx, [
          {
            action: 'auth.token.revoke',
            outcome: 'success',
            actor: ctx.actor,
            object: { type: 'token', id: tokenId, name: null },
            source: ctx.source,
            requestId: ctx.requestId,
          },
        ]);
      });
      tokens.forgetCached();
      await store.durable();
    },

    async setPassword(ctx, principal, { name, password, currentPassword }) {
      const row = await findExisting(name);
      // A stolen token alone must not become a lasting takeover, whatever its role: one's own
      // password changes only with the current one. A user without one yet (the built-in admin
      // right after init) sets a first one without.
      const own = principal.userId === row.id && row.password_hash !== null;
      if (own) await requireCurrentPassword(ctx, row, currentPassword ?? '');
      const hash = await hasher.hash(password);
      const changed = await store.transaction(async (trx) => {
        // Changed meanwhile (an administrator's reset after a leak, say): the password checked
        // above is no longer the one to replace. An administrator's own reset always goes ahead.
        const current = await lockUser(store, trx, row.id);
        if (own && current?.password_hash !== row.password_hash) return false;
        await trx
          .updateTable('users')
          .set({ password_hash: hash, updated_at: clock.now() })
          .where('id', '=', row.id)
          .execute();
        await tokens.revokeAllOf(trx, row.id, principal.tokenId, 'login');
        await audit.appendInTx(trx, [userEvent(ctx, 'user.password.set', row)]);
        return true;
      });
      if (!changed) {
        await audit.record({
          ...userEvent(ctx, 'user.password.set', row),
          outcome: 'failure',
          details: { why: 'changed-meanwhile' },
        });
        throw new TesseraError('CONFLICT', 'the password was changed meanwhile: try again');
      }
      tokens.forgetCached(row.id);
      await store.durable();
      for (const listener of passwordListeners) listener(row.id);
    },

    async setDisabled(ctx, principal, { name, disabled }) {
      const row = await findExisting(name);
      if (disabled) refuseDisabling(principal, row);
      await store.transaction(async (trx) => {
        await lockUser(store, trx, row.id);
        await trx
          .updateTable('users')
          .set({ disabled: disabled ? 1 : 0, updated_at: clock.now() })
          .where('id', '=', row.id)
          .execute();
        // An offboarded user's sessions end now, not when their tokens would expire.
        if (disabled) await tokens.revokeAllOf(trx, row.id);
        await audit.appendInTx(trx, [
          userEvent(ctx, disabled ? 'user.disable' : 'user.enable', row),
        ]);
      });
      tokens.forgetCached(row.id);
      await store.durable();
      if (disabled) for (const listener of disabledListeners) listener(row.id);
      return toUser({ ...row, disabled: disabled ? 1 : 0 });
    },

    async ensureBuiltinAdmin(password) {
      const existing = await findRow(BUILTIN_ADMIN);
      if (existing !== undefined) return toUser(existing);
      const now = clock.now();
      const row = {
        id: randomUUID(),
        name: BUILTIN_ADMIN,
        role: 'admin',
        password_hash: password === null ? null : await hasher.hash(password),
        disabled: 0,
        builtin: 1,
        created_at: now,
        updated_at: now,
        person_id: null,
      };
      await store.transaction(async (trx) => {
        await trx.insertInto('users').values(row).execute();
        await audit.appendInTx(trx, [
          {
            action: 'user.create',
            outcome: 'success',
            actor: { id: null, name: 'tessera' },
            object: { type: 'user', id: row.id, name: row.name },
            details: { role: 'admin', builtin: true },
          },
        ]);
      });
      await store.durable();
      return toUser(row);
    },

    async findById(id) {
      const row = await store.db
        .selectFrom('users')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      return row === undefined ? null : toUser(row);
    },

    onDisabled(listener) {
      disabledListeners.push(listener);
    },
  };
}

function stampOf(passwordHash: string): string {
  return createHash('sha256').update(passwordHash).digest('base64url');
}

function toUser(row: Omit<UserRow, 'password_hash' | 'builtin' | 'updated_at'>): User {
  return {
    id: row.id,
    name: row.name,
    role: row.role as Role,
    disabled: row.disabled !== 0,
    createdAt: row.created_at,
    personId: row.person_id ?? row.id,
  };
}

function userEvent(
  ctx: RequestContext,
  action: string,
  row: { id: string; name: string },
): AuditEventInput {
  return {
    action,
    outcome: 'success',
    actor: ctx.actor,
    object: { type: 'user', id: row.id, name: row.name },
    source: ctx.source,
    requestId: ctx.requestId,
  };
}

function whyLoginFailed(row: UserRow | undefined): string {
  if (row === undefined) return 'unknown-user';
  if (row.disabled !== 0) return 'disabled';
  return row.password_hash === null ? 'no-password' : 'bad-password';
}

function refuseReservedName(name: string): void {
  if (RESERVED_USER_NAMES.includes(name.toLowerCase())) {
    throw new TesseraError('VALIDATION_FAILED', `the user name ${name} is reserved`);
  }
}

function refuseDisabling(principal: Principal, row: UserRow): void {
  // Tessera always keeps one administrator who can log in and undo a mistake.
  if (row.builtin !== 0) {
    throw new TesseraError('FORBIDDEN', 'the built-in admin cannot be disabled');
  }
  if (row.id === principal.userId) {
    throw new TesseraError('FORBIDDEN', 'you cannot disable yourself: ask another admin');
  }
}
