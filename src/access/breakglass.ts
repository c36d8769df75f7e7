import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AccountService } from '../accounts/account-service.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { type RequestContext, SYSTEM_CONTEXT } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import { isTesseraError, notFound, TesseraError } from '../errors.ts';
import type { MfaService } from '../identity/mfa.ts';
import type { Principal } from '../identity/principal.ts';
import type { Notifier } from '../integrations/notifier.ts';
import type { RotationEngine } from '../rotation/rotation-engine.ts';
import type { BreakglassEventTable } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import type { AccessDecision } from './access-decision.ts';
import type { AccessPolicyService } from './access-policies.ts';
import type { EndedGrant, GrantService } from './grants.ts';
import type { GroupService } from './groups.ts';
import { type GrantablePermission, isGrantablePermission } from './permissions.ts';

export const BREAKGLASS_OUTCOMES = ['justified', 'unjustified', 'follow-up'] as const;
export type BreakglassOutcome = (typeof BREAKGLASS_OUTCOMES)[number];

export interface BreakglassEvent {
  readonly id: string;
  readonly grantId: string;
  readonly account: string;
  readonly accountId: string;
  readonly user: string;
  readonly userId: string;
  readonly reason: string;
  readonly secondFactor: boolean;
  readonly openedAt: number;
  readonly endsAt: number;
  readonly closedAt: number | null;
  readonly rotationRequestedAt: number | null;
  readonly reviewState: 'open' | 'closed';
  readonly outcome: BreakglassOutcome | null;
  readonly reviewNotes: string | null;
  readonly reviewedBy: string | null;
  readonly reviewedAt: number | null;
  /** Gateway sessions the user ran on the account while the window was open. */
  readonly sessions: number;
}

/**
 * Emergency access. An account marked for it can be opened by a member of its safe without an
 * approver: a reason and, where the user has one, a second factor; a grant for the policy's
 * short window; a critical alert to every channel; a rotation when the window closes; and a
 * review that an auditor must close with an outcome.
 */
export interface BreakglassService {
  mark(ctx: RequestContext, ref: AccountRef, enabled: boolean): Promise<void>;
  open(
    ctx: RequestContext,
    principal: Principal,
    ref: AccountRef,
    input: { reason: string; code?: string | undefined },
  ): Promise<BreakglassEvent>;
  review(
    ctx: RequestContext,
    principal: Principal,
    id: string,
    input: { outcome: BreakglassOutcome; notes: string },
  ): Promise<BreakglassEvent>;
  list(filter: { from?: number; to?: number; open?: boolean }): Promise<BreakglassEvent[]>;
  /** One event; who may read it is the route's rule (admins and auditors). */
  get(id: string): Promise<BreakglassEvent>;
  /** The grant-end listener: closes the window and rotates the credential. Safe to repeat. */
  closeFor(grant: EndedGrant): Promise<void>;
}

type AccountRef = { target: string; username: string };

export function createBreakglassService(deps: {
  store: Store;
  audit: AuditLog;
  clock: Clock;
  logger: Logger;
  access: Pick<AccessDecision, 'require' | 'permissionsIn'>;
  accounts: Pick<AccountService, 'find' | 'reload'>;
  policies: Pick<AccessPolicyService, 'effective'>;
  grants: Pick<GrantService, 'createInTx'>;
  groups: Pick<GroupService, 'personOf'>;
  mfa: Pick<MfaService, 'hasFactor' | 'verify'>;
  rotation: Pick<RotationEngine, 'rotate'>;
  notifier: Notifier;
}): BreakglassService {
  const { store, audit, clock, logger } = deps;

  const query = () =>
    store.db
      .selectFrom('breakglass_events')
      .innerJoin('users', 'users.id', 'breakglass_events.user_id')
      .innerJoin('accounts', 'accounts.id', 'breakglass_events.account_id')
      .innerJoin('targets', 'targets.id', 'accounts.target_id')
      .selectAll('breakglass_events')
      .select(['users.name as user_name', 'accounts.username', 'targets.name as target_name'])
      .select((eb) =>
        eb
          .selectFrom('sessions')
          .select((inner) => inner.fn.countAll<number>().as('n'))
          .whereRef('sessions.user_id', '=', 'breakglass_events.user_id')
          .whereRef('sessions.account_id', '=', 'breakglass_events.account_id')
          .whereRef('sessions.started_at', '>=', 'breakglass_events.opened_at')
          .whereRef('sessions.started_at', '<', 'breakglass_events.ends_at')
          .as('sessions'),
      );

  const load = async (id: string) => {
    const row = await query().where('breakglass_events.id', '=', id).executeTakeFirst();
    return row === undefined ? null : toEvent(row as EventRow);
  };

  const checkSecondFactor = async (ctx: RequestContext, principal: Principal, code?: string) => {
    if (!(await deps.mfa.hasFactor(principal.userId))) return false;
    if (code === undefined || code.trim() === '') {
      throw new TesseraError('MFA_REQUIRED', 'break-glass needs a code from your second factor');
    }
    await deps.mfa.verify(ctx, principal.userId, code.trim());
    return true;
  };

  /**
   * What break-glass opens: the member's own use, retrieve and checkout on the safe, past their
   * approval and the access window, never a permission they do not hold.
   */
  const emergencyPermissions = async (
    principal: Principal,
    account: { id: string; safeId: string; ref: string },
  ): Promise<GrantablePermission[]> => {
    const row = await store.db
      .selectFrom('accounts')
      .select('breakglass')
      .where('id', '=', account.id)
      .executeTakeFirstOrThrow();
    if (row.breakglass !== 1) {
      throw new TesseraError('FORBIDDEN', `${account.ref} is not marked for emergency access`);
    }
    const held = await deps.access.permissionsIn(principal.userId, account.safeId);
    const permissions = held.filter(isGrantablePermission);
    if (permissions.length === 0) {
      throw new TesseraError('FORBIDDEN', 'break-glass opens only what you hold in the safe');
    }
    return permissions;
  };

  return {
    async mark(ctx, ref, enabled) {
      const account = await deps.accounts.find(ref);
      await store.transaction(async (trx) => {
        await trx
          .updateTable('accounts')
          .set({ breakglass: enabled ? 1 : 0 })
          .where('id', '=', account.id)
          .execute();
        await audit.appendInTx(trx, [
          {
            action: 'account.breakglass',
            outcome: 'success',
            actor: ctx.actor,
            object: { type: 'account', id: account.id, name: account.ref },
            source: ctx.source,
            requestId: ctx.requestId,
            details: { enabled },
          },
        ]);
      });
      await store.durable();
    },

    async open(ctx, principal, ref, input) {
      const account = await deps.accounts.find(ref);
      await deps.access.require(principal, 'breakglass.open', account.safeId, account.id);
      let secondFactor: boolean;
      let permissions: GrantablePermission[];
      try {
        permissions = await emergencyPermissions(principal, account);
        if (input.reason.trim() === '') {
          throw new TesseraError('REASON_REQUIRED', 'break-glass needs a reason');
        }
        secondFactor = await checkSecondFactor(ctx, principal, input.code);
      } catch (error) {
        await audit.record({
          action: 'breakglass.open',
          outcome: 'denied',
          actor: ctx.actor,
          object: { type: 'account', id: account.id, name: account.ref },
          source: ctx.source,
          requestId: ctx.requestId,
          reason: input.reason,
          details: { code: isTesseraError(error) ? error.code : 'INTERNAL' },
        });
        throw error;
      }

      const policy = await deps.policies.effective(account.safeId, account.id);
      const now = clock.now();
      const id = randomUUID();
      const endsAt = now + policy.breakglassWindowS * 1000;
      await store.transaction(async (trx) => {
        const grantId = await deps.grants.createInTx(trx, {
          requestId: null,
          userId: principal.userId,
          kind: 'breakglass',
          safeId: account.safeId,
          accountId: account.id,
          permissions,
          startsAt: now,
          endsAt,
        });
        await trx
          .insertInto('breakglass_events')
          .values({
            id,
            grant_id: grantId,
            account_id: account.id,
            user_id: principal.userId,
            reason: input.reason.trim(),
            second_factor: secondFactor ? 1 : 0,
            opened_at: now,
            ends_at: endsAt,
            closed_at: null,
            rotation_requested_at: null,
            review_state: 'open',
            outcome: null,
            review_notes: null,
            reviewed_by: null,
            reviewed_at: null,
          })
          .execute();
        await audit.appendInTx(trx, [
          {
            action: 'breakglass.open',
            outcome: 'success',
            actor: ctx.actor,
            object: { type: 'account', id: account.id, name: account.ref },
            source: ctx.source,
            requestId: ctx.requestId,
            reason: input.reason.trim(),
            details: {
              severity: 'critical',
              breakglass: id,
              grant: grantId,
              secondFactor,
              endsAt: new Date(endsAt).toISOString(),
            },
          },
        ]);
      });
      await store.durable();
      const opened = (await load(id)) as BreakglassEvent;
      await deps.notifier
        .alert('breakglass.opened', {
          breakglass: id,
          account: opened.account,
          user: opened.user,
          reason: opened.reason,
          secondFactor,
          endsAt: new Date(endsAt).toISOString(),
        })
        .catch((error: unknown) => {
          // The alert is queued durably; only a store failure lands here, and the log says so.
          logger.error({ err: error, breakglass: id }, 'break-glass alert could not be queued');
        });
      return opened;
    },

    async review(ctx, principal, id, input) {
      const event = await load(id);
      if (event === null) throw notFound('break-glass event');
      const opener = await deps.groups.personOf(event.userId);
      if ((await deps.groups.personOf(principal.userId)) === opener) {
        throw new TesseraError('SELF_APPROVAL', 'break-glass is reviewed by someone else');
      }
      if (event.closedAt === null) {
        throw new TesseraError(
          'CONFLICT',
          'the break-glass window is still open: review it once it closed',
        );
      }
      const now = clock.now();
      await store.transaction(async (trx) => {
        const updated = await trx
          .updateTable('breakglass_events')
          .set({
            review_state: 'closed',
            outcome: input.outcome,
            review_notes: input.notes,
            reviewed_by: principal.name,
            reviewed_at: now,
          })
          .where('id', '=', id)
          .where('review_state', '=', 'open')
          .executeTakeFirst();
        if (updated.numUpdatedRows === 0n) {
          throw new TesseraError('ALREADY_DECIDED', 'this break-glass review is already closed');
        }
        await audit.appendInTx(trx, [
          {
            action: 'breakglass.review',
            outcome: 'success',
            actor: ctx.actor,
            object: { type: 'breakglass', id, name: event.account },
            source: ctx.source,
            requestId: ctx.requestId,
            reason: input.notes,
            details: { outcome: input.outcome, user: event.user },
          },
        ]);
      });
      await store.durable();
      return (await load(id)) as BreakglassEvent;
    },

    async list(filter) {
      let q = query().orderBy('breakglass_events.opened_at', 'desc').limit(1000);
      if (filter.from !== undefined) q = q.where('breakglass_events.opened_at', '>=', filter.from);
      if (filter.to !== undefined) q = q.where('breakglass_events.opened_at', '<', filter.to);
      if (filter.open === true) q = q.where('breakglass_events.review_state', '=', 'open');
      return (await q.execute()).map((row) => toEvent(row as EventRow));
    },

    async get(id) {
      const event = await load(id);
      if (event === null) throw notFound('break-glass event');
      return event;
    },

    async closeFor(grant) {
      if (grant.kind !== 'breakglass') return;
      const row = await store.db
        .selectFrom('breakglass_events')
        .selectAll()
        .where('grant_id', '=', grant.id)
        .executeTakeFirst();
      if (row === undefined) return;
      const now = clock.now();
      if (row.closed_at === null) {
        await store.transaction(async (trx) => {
          await trx
            .updateTable('breakglass_events')
            .set({ closed_at: now })
            .where('id', '=', row.id)
            .where('closed_at', 'is', null)
            .execute();
          await audit.appendInTx(trx, [
            {
              action: 'breakglass.close',
              outcome: 'success',
              actor: SYSTEM_CONTEXT.actor,
              object: { type: 'breakglass', id: row.id, name: grant.accountRef },
              details: { why: grant.why, user: grant.userName },
            },
          ]);
        });
        await store.durable();
      }
      if (row.rotation_requested_at !== null) return;
      // The person who held the emergency credential may still know it: it changes now. A
      // failed rotation is retried by the scheduler like any other (the account is marked).
      await store.db
        .updateTable('accounts')
        .set({ needs_rotation: 1 })
        .where('id', '=', row.account_id)
        .execute();
      await store.db
        .updateTable('breakglass_events')
        .set({ rotation_requested_at: now })
        .where('id', '=', row.id)
        .execute();
      try {
        const account = await deps.accounts.reload(store.db, row.account_id);
        await deps.rotation.rotate(SYSTEM_CONTEXT, account, 'breakglass');
      } catch (error) {
        logger.warn(
          { breakglass: row.id, code: isTesseraError(error) ? error.code : 'INTERNAL' },
          'rotation after break-glass failed; the scheduler will retry',
        );
      }
    },
  };
}

type EventRow = BreakglassEventTable & {
  user_name: string;
  username: string;
  target_name: string;
  sessions: number | string | null;
};

function toEvent(row: EventRow): BreakglassEvent {
  return {
    id: row.id,
    grantId: row.grant_id,
    account: `${row.target_name}/${row.username}`,
    accountId: row.account_id,
    user: row.user_name,
    userId: row.user_id,
    reason: row.reason,
    secondFactor: row.second_factor === 1,
    openedAt: row.opened_at,
    endsAt: row.ends_at,
    closedAt: row.closed_at,
    rotationRequestedAt: row.rotation_requested_at,
    reviewState: row.review_state === 'closed' ? 'closed' : 'open',
    outcome: (row.outcome as BreakglassOutcome | null) ?? null,
    reviewNotes: row.review_notes,
    reviewedBy: row.reviewed_by,
    reviewedAt: row.reviewed_at,
    sessions: Number(row.sessions ?? 0),
  };
}
