import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RequestContext } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import { TesseraError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import type { LoginThrottle } from './login-throttle.ts';
import type { PasswordHasher } from './password-hash.ts';
import type { Principal, Role } from './principal.ts';
import type { TokenService } from './tokens.ts';

export interface User {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly disabled: boolean;
  readonly createdAt: number;
}

export interface LoginResult {
  readonly token: string;
  readonly tokenId: string;
  readonly expiresAt: number | null;
  readonly user: User;
}

export interface UserService {
  create(
    ctx: RequestContext,
    input: { name: string; role: Role; password?: string },
  ): Promise<User>;
  list(): Promise<User[]>;
  findByName(name: string): Promise<User | null>;
  login(ctx: Omit<RequestContext, 'actor'>, name: string, password: string): Promise<LoginResult>;
  revokeToken(ctx: RequestContext, tokenId: string): Promise<void>;
  /**
   * Sets a user's password: one's own with the current password, anyone's as an admin (the
   * caller checks that). Every other token of the user is revoked.
   */
  setPassword(
    ctx: RequestContext,
    principal: Principal,
    input: { name: string; password: string; currentPassword?: string | undefined },
  ): Promise<void>;
  /** The built-in administrator, created once at initialisation. */
  ensureBuiltinAdmin(password: string | null): Promise<User>;
}

export const LOGIN_TOKEN_TTL_MS = 60 * 60_000;
export const BUILTIN_ADMIN = 'admin';

export function createUserService(deps: {
  store: Store;
  audit: AuditLog;
  hasher: PasswordHasher;
  tokens: TokenService;
  throttle: LoginThrottle;
  clock: Clock;
}): UserService {
  const { store, audit, hasher, tokens, throttle, clock } = deps;
  // Unknown names are checked against this hash so they cost as much time as known ones.
  const decoy = hasher.hash('tessera-decoy-password');

  const toUser = (row: {
    id: string;
    name: string;
    role: string;
    disabled: number;
    created_at: number;
  }): User => ({
    id: row.id,
    name: row.name,
    role: row.role as Role,
    disabled: row.disabled !== 0,
    createdAt: row.created_at,
  });

  const findRow = (name: string) =>
    store.db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();

  const loginFailed = async (ctx: Omit<RequestContext, 'actor'>, name: string, why: string) => {
    throttle.failed(name, clock.now());
    await audit.record({
      action: 'auth.login',
      outcome: 'failure',
      actor: { id: null, name },
      source: ctx.source,
      requestId: ctx.requestId,
      details: { why },
    });
    // One answer for unknown user, wrong password and disabled user: none says which.
    return new TesseraError('UNAUTHENTICATED', 'invalid user name or password');
  };

  return {
    async create(ctx, { name, role, password }) {
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
            action: 'user.create',
            outcome: 'success',
            actor: ctx.actor,
            object: { type: 'user', id: row.id, name },
            source: ctx.source,
            requestId: ctx.requestId,
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

    async login(ctx, name, password) {
      if (!throttle.allowed(name, clock.now())) {
        await audit.record({
          action: 'auth.login',
          outcome: 'denied',
          actor: { id: null, name },
          source: ctx.source,
          requestId: ctx.requestId,
          details: { why: 'throttled' },
        });
        throw new TesseraError('RATE_LIMITED', 'too many failed logins: wait a few minutes');
      }
      const row = await findRow(name);
      const stored = row?.password_hash ?? (await decoy);
      const matches = await hasher.verify(password, stored);
      if (row === undefined || row.password_hash === null || !matches) {
        throw await loginFailed(ctx, name, row === undefined ? 'unknown-user' : 'bad-password');
      }
      if (row.disabled !== 0) throw await loginFailed(ctx, name, 'disabled');

      throttle.succeeded(name);
      const issued = await store.transaction(async (trx) => {
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
      await store.durable();
      return {
        token: issued.token,
        tokenId: issued.id,
        expiresAt: issued.expiresAt,
        user: toUser(row),
      };
    },

    async revokeToken(ctx, tokenId) {
      await store.transaction(async (trx) => {
        await tokens.revoke(trx, tokenId);
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
      await store.durable();
    },

    async setPassword(ctx, principal, { name, password, currentPassword }) {
      const row = await findRow(name);
      if (row === undefined) throw new TesseraError('NOT_FOUND', 'user not found');
      if (principal.userId === row.id && principal.role !== 'admin') {
        const current = currentPassword ?? '';
        const matches =
          row.password_hash !== null && (await hasher.verify(current, row.password_hash));
        if (!matches) throw new TesseraError('UNAUTHENTICATED', 'the current password is wrong');
      }
      const hash = await hasher.hash(password);
      await store.transaction(async (trx) => {
        await trx
          .updateTable('users')
          .set({ password_hash: hash, updated_at: clock.now() })
          .where('id', '=', row.id)
          .execute();
        await tokens.revokeAllOf(trx, row.id, principal.tokenId);
        await audit.appendInTx(trx, [
          {
            action: 'user.password.set',
            outcome: 'success',
            actor: ctx.actor,
            object: { type: 'user', id: row.id, name: row.name },
            source: ctx.source,
            requestId: ctx.requestId,
          },
        ]);
      });
      await store.durable();
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
  };
}
