import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.ts';
import { type AuditEventInput, type RequestContext, SYSTEM_CONTEXT } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import { notFound, TesseraError } from '../errors.ts';
import type { Principal } from '../identity/principal.ts';
import type { GrantTable } from '../store/schema.ts';
import type { Queryable, Store, Tx } from '../store/store.ts';
import { type GrantablePermission, isGrantablePermission } from './permissions.ts';

const CLOSE_RETRY_MS = 60_000;

/**
 * Whether the user holds a live break-glass grant on the account. Emergency access is not held
 * up by a rotation still owed (its window closes with one): reveal, check-out and the gateway
 * ask this.
 */
export async function holdsBreakglass(
  db: Queryable,
  userId: string,
  accountId: string,
  now: number,
): Promise<boolean> {
  const grant = await db
    .selectFrom('grants')
    .select('id')
    .where('user_id', '=', userId)
    .where('account_id', '=', accountId)
    .where('kind', '=', 'breakglass')
    .where('revoked_at', 'is', null)
    .where('starts_at', '<=', now)
    .where('ends_at', '>', now)
    .executeTakeFirst();
  return grant !== undefined;
}

export const GRANT_KINDS = ['request', 'breakglass', 'ephemeral'] as const;
export type GrantKind = (typeof GRANT_KINDS)[number];

/**
 * A time-bound right of one user on one account or a whole safe, made by an approved request,
 * a break-glass opening or an ephemeral account. It holds from `startsAt` until `endsAt` by the
 * server's clock, or until revoked: no process has to run for it to stop counting.
 */
export interface Grant {
  readonly id: string;
  readonly requestId: string | null;
  readonly userId: string;
  readonly userName: string;
  readonly kind: GrantKind;
  readonly safeId: string;
  readonly safeName: string;
  readonly accountId: string | null;
  /** "target/username", or null for a grant on a whole safe. */
  readonly account: string | null;
  readonly permissions: readonly GrantablePermission[];
  readonly startsAt: number;
  readonly endsAt: number;
  readonly revokedAt: number | null;
  readonly revokedBy: string | null;
  readonly revokeReason: string | null;
  readonly closedAt: number | null;
  readonly active: boolean;
}

export interface GrantInput {
  readonly requestId: string | null;
  readonly userId: string;
  readonly kind: GrantKind;
  readonly safeId: string;
  readonly accountId: string | null;
  readonly permissions: readonly GrantablePermission[];
  readonly startsAt: number;
  readonly endsAt: number;
}

/** What the access decision point reads: the permissions a user's live grants give there. */
export interface HeldGrants {
  readonly permissions: ReadonlySet<GrantablePermission>;
  /**
   * Those given by grants naming this very account. An account with an access policy of its
   * own counts only these: a grant on its whole safe was asked under the safe's policy.
   */
  readonly onAccount: ReadonlySet<GrantablePermission>;
  /** A break-glass grant is among them: access windows do not close it. */
  readonly breakglass: ReadonlySet<GrantablePermission>;
  /** Any live grant in the safe at all, for visibility. */
  readonly any: boolean;
}

export interface EndedGrant {
  readonly id: string;
  readonly userId: string;
  readonly userName: string;
  readonly kind: GrantKind;
  readonly safeId: string;
  readonly accountId: string | null;
  readonly why: 'expired' | 'revoked';
  readonly startsAt: number;
  readonly permissions: readonly GrantablePermission[];
  /** "target/username", or null for a grant on a whole safe. */
  readonly accountRef: string | null;
}

export interface GrantService {
  createInTx(trx: Tx, input: GrantInput): Promise<string>;
  held(
    userId: string,
    safeId: string,
    accountId: string | null,
    db?: Queryable,
  ): Promise<HeldGrants>;
  /** Accounts and safes where the user holds a live grant, for lists. */
  liveFor(userId: string): Promise<Array<{ safeId: string; accountId: string | null }>>;
  list(principal: Principal, filter: { active?: boolean; user?: string }): Promise<Grant[]>;
  get(principal: Principal, id: string): Promise<Grant>;
  revoke(ctx: RequestContext, principal: Principal, id: string, reason: string): Promise<Grant>;
  /**
   * Runs what the end of each ended grant entails (listeners: live sessions, check-outs,
   * ephemeral accounts, break-glass follow-up), once per grant; returns how many it closed. A
   * grant that ended while Tessera was down is closed at the next call.
   */
  closeEnded(): Promise<number>;
  /** `first`: runs before the listeners added without it (the gateway ends sessions first). */
  onEnded(
    listener: (grant: EndedGrant) => Promise<void> | void,
    options?: { first?: boolean },
  ): void;
}

export function createGrantService(deps: {
  store: Store;
  audit: AuditLog;
  clock: Clock;
  logger: Logger;
  /** Whether the principal may revoke or read grants of this safe (approve or manage there). */
  mayOversee: (principal: Principal, safeId: string) => Promise<boolean>;
}): GrantService {
  const { store, audit, clock, logger } = deps;
  const listeners: Array<(grant: EndedGrant) => Promise<void> | void> = [];
  const retryAt = new Map<string, number>();

  const query = (db: Queryable) =>
    db
      .selectFrom('grants')
      .innerJoin('users', 'users.id', 'grants.user_id')
      .innerJoin('safes', 'safes.id', 'grants.safe_id')
      .leftJoin('accounts', 'accounts.id', 'grants.account_id')
      .leftJoin('targets', 'targets.id', 'accounts.target_id')
      .selectAll('grants')
      .select([
        'users.name as user_name',
        'safes.name as safe_name',
        'accounts.username as account_username',
        'targets.name as target_name',
      ]);

  const toGrant = (row: GrantRow): Grant => {
    const now = clock.now();
    return {
      id: row.id,
      requestId: row.request_id,
      userId: row.user_id,
      userName: row.user_name,
      kind: row.kind as GrantKind,
      safeId: row.safe_id,
      safeName: row.safe_name,
      accountId: row.account_id,
      account:
        row.target_name === null || row.account_username === null
          ? null
          : `${row.target_name}/${row.account_username}`,
      permissions: row.permissions.split(',').filter(isGrantablePermission),
      startsAt: row.starts_at,
      endsAt: row.ends_at,
      revokedAt: row.revoked_at,
      revokedBy: row.revoked_by,
      revokeReason: row.revoke_reason,
      closedAt: row.closed_at,
      active: row.revoked_at === null && row.starts_at <= now && now < row.ends_at,
    };
  };

  const mayRead = async (principal: Principal, grant: Grant) =>
    principal.role === 'admin' ||
    principal.role === 'auditor' ||
    grant.userId === principal.userId ||
    (await deps.mayOversee(principal, grant.safeId));

  const findRow = async (id: string) => {
    const row = await query(store.db).where('grants.id', '=', id).executeTakeFirst();
    return row === undefined ? null : (row as GrantRow);
  };

  const endedEvent = (grant: Grant, why: EndedGrant['why']): AuditEventInput => ({
    action: why === 'expired' ? 'grant.expire' : 'grant.end',
    outcome: 'success',
    actor: SYSTEM_CONTEXT.actor,
    object: { type: 'grant', id: grant.id, name: grant.account ?? grant.safeName },
    details: { user: grant.userName, kind: grant.kind, why },
  });

  const service: GrantService = {
    async createInTx(trx, input) {
      const id = randomUUID();
      await trx
        .insertInto('grants')
        .values({
          id,
          request_id: input.requestId,
          user_id: input.userId,
          kind: input.kind,
          safe_id: input.safeId,
          account_id: input.accountId,
          permissions: input.permissions.join(','),
          starts_at: input.startsAt,
          ends_at: input.endsAt,
          revoked_at: null,
          revoked_by: null,
          revoke_reason: null,
          closed_at: null,
          created_at: clock.now(),
        })
        .execute();
      return id;
    },

    async held(userId, safeId, accountId, db = store.db) {
      const now = clock.now();
      const rows = await db
        .selectFrom('grants')
        .select(['permissions', 'kind', 'account_id'])
        .where('user_id', '=', userId)
        .where('safe_id', '=', safeId)
        .where('revoked_at', 'is', null)
        .where('starts_at', '<=', now)
        .where('ends_at', '>', now)
        .execute();
      const permissions = new Set<GrantablePermission>();
      const onAccount = new Set<GrantablePermission>();
      const breakglass = new Set<GrantablePermission>();
      for (const row of rows) {
        // A grant on one account says nothing about the safe's other accounts.
        if (row.account_id !== null && row.account_id !== accountId) continue;
        // Ephemeral grants open an account of their own on the target, not the admin account.
        if (row.kind === 'ephemeral') continue;
        for (const permission of row.permissions.split(',').filter(isGrantablePermission)) {
          permissions.add(permission);
          if (row.account_id !== null) onAccount.add(permission);
          if (row.kind === 'breakglass') breakglass.add(permission);
        }
      }
      return { permissions, onAccount, breakglass, any: rows.length > 0 };
    },

    async liveFor(userId) {
      const now = clock.now();
      const rows = await store.db
        .selectFrom('grants')
        .select(['safe_id', 'account_id'])
        .where('user_id', '=', userId)
        .where('kind', '!=', 'ephemeral')
        .where('revoked_at', 'is', null)
        .where('starts_at', '<=', now)
        .where('ends_at', '>', now)
        .execute();
      return rows.map((row) => ({ safeId: row.safe_id, accountId: row.account_id }));
    },

    async list(principal, filter) {
      let q = query(store.db).orderBy('grants.created_at', 'desc').limit(500);
      if (filter.user !== undefined) q = q.where('users.name', '=', filter.user);
      if (filter.active === true) {
        const now = clock.now();
        q = q
          .where('grants.revoked_at', 'is', null)
          .where('grants.starts_at', '<=', now)
          .where('grants.ends_at', '>', now);
      }
      const grants = (await q.execute()).map((row) => toGrant(row as GrantRow));
      const visible: Grant[] = [];
      for (const grant of grants) if (await mayRead(principal, grant)) visible.push(grant);
      return visible;
    },

    async get(principal, id) {
      const row = await findRow(id);
      const grant = row === null ? null : toGrant(row);
      if (grant === null || !(await mayRead(principal, grant))) throw notFound('grant');
      return grant;
    },

    async revoke(ctx, principal, id, reason) {
      const grant = await service.get(principal, id);
      // The holder may give a grant back early; otherwise an admin, or an approver or manager
      // of the safe.
      const allowed =
        grant.userId === principal.userId ||
        principal.role === 'admin' ||
        (await deps.mayOversee(principal, grant.safeId));
      if (!allowed || principal.role === 'auditor') {
        throw new TesseraError('FORBIDDEN', 'not allowed: grant.revoke');
      }
      const now = clock.now();
      await store.transaction(async (trx) => {
        const result = await trx
          .updateTable('grants')
          .set({ revoked_at: now, revoked_by: principal.name, revoke_reason: reason })
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .where('ends_at', '>', now)
          .executeTakeFirst();
        if (result.numUpdatedRows === 0n) {
          throw new TesseraError('CONFLICT', 'the grant has already ended');
        }
        await audit.appendInTx(trx, [
          {
            action: 'grant.revoke',
            outcome: 'success',
            actor: ctx.actor,
            object: { type: 'grant', id, name: grant.account ?? grant.safeName },
            source: ctx.source,
            requestId: ctx.requestId,
            reason,
            details: { user: grant.userName, kind: grant.kind },
          },
        ]);
      });
      await store.durable();
      // Enforcement does not wait for the next tick.
      await service.closeEnded();
      return service.get(principal, id);
    },

    async closeEnded() {
      const now = clock.now();
      const rows = await query(store.db)
        .where('grants.closed_at', 'is', null)
        .where((eb) =>
          eb.or([eb('grants.ends_at', '<=', now), eb('grants.revoked_at', 'is not', null)]),
        )
        .orderBy('grants.ends_at')
        .limit(1000)
        .execute();
      let closed = 0;
      for (const row of rows) {
        // A grant whose end keeps failing (an unreachable target) waits a minute, so the ones
        // behind it are closed meanwhile.
        if ((retryAt.get(row.id) ?? 0) > now) continue;
        const grant = toGrant(row as GrantRow);
        const why = grant.revokedAt === null ? 'expired' : 'revoked';
        const ended: EndedGrant = {
          id: grant.id,
          userId: grant.userId,
          userName: grant.userName,
          kind: grant.kind,
          safeId: grant.safeId,
          accountId: grant.accountId,
          why,
          startsAt: grant.startsAt,
          permissions: grant.permissions,
          accountRef: grant.account,
        };
        // The listeners run before the grant is marked closed: a crash among them runs them
        // again at the next call, so each must be safe to repeat.
        let failed = false;
        for (const listener of listeners) {
          try {
            await listener(ended);
          } catch (error) {
            failed = true;
            logger.warn({ err: error, grant: grant.id }, 'ending a grant failed; will retry');
          }
        }
        if (failed) {
          retryAt.set(grant.id, now + CLOSE_RETRY_MS);
          continue;
        }
        retryAt.delete(grant.id);
        const marked = await store.transaction(async (trx) => {
          const result = await trx
            .updateTable('grants')
            .set({ closed_at: clock.now() })
            .where('id', '=', grant.id)
            .where('closed_at', 'is', null)
            .executeTakeFirst();
          if (result.numUpdatedRows === 0n) return false;
          await audit.appendInTx(trx, [endedEvent(grant, why)]);
          return true;
        });
        if (marked) closed += 1;
      }
      if (closed > 0) await store.durable();
      return closed;
    },

    onEnded(listener, options) {
      if (options?.first === true) listeners.unshift(listener);
      else listeners.push(listener);
    },
  };
  return service;
}

type GrantRow = GrantTable & {
  user_name: string;
  safe_name: string;
  account_username: string | null;
  target_name: string | null;
};
