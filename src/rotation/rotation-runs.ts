import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AccessDecision } from '../access/access-decision.ts';
import type { Account } from '../accounts/account.ts';
import type { AccountService } from '../accounts/account-service.ts';
import type { PolicyService } from '../accounts/policies.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditEventInput, RequestContext } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import { isTesseraError, notFound } from '../errors.ts';
import type { Principal } from '../identity/principal.ts';
import type { RotationRunTable } from '../store/schema.ts';
import type { Store, Tx } from '../store/store.ts';
import type { RotationEngine } from './rotation-engine.ts';
import type { RotationSlots } from './rotation-slots.ts';
import { checkScope, parseScope, type RunScope, scopeDetails, scopeName } from './run-scope.ts';

export type RunState = 'running' | 'finished' | 'failed';

export interface RunFailure {
  readonly account: string;
  readonly error: string;
  readonly finishedAt: number | null;
}

export interface RotationRun {
  readonly id: string;
  readonly state: RunState;
  readonly scope: RunScope;
  readonly startedBy: string;
  readonly startedAt: number;
  readonly finishedAt: number | null;
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly failures: readonly RunFailure[];
}

/**
 * Bulk rotation: every account of a target, of a safe, or of the whole vault, rotated in the
 * background within the node's rotation slots. Each account's rotation is the engine's own
 * (leased, two-phase, audited under the person who started the run); the run records what
 * became of each one.
 */
export interface RotationRuns {
  /** Creates the run, starts it in the background and answers at once. */
  start(
    ctx: RequestContext,
    principal: Principal,
    scope: RunScope,
  ): Promise<{ id: string; total: number }>;
  get(principal: Principal, id: string): Promise<RotationRun>;
  /** Takes up this node's runs that a stop or a crash left unfinished; answers how many. */
  resumeOrphans(): Promise<number>;
  /** Lets rotations under way finish; what is still queued is taken up after a restart. */
  stop(): Promise<void>;
}

/** Rows per INSERT of run items, well under SQLite's limit of bound values. */
const INSERT_CHUNK = 500;

interface QueuedItem {
  readonly account_id: string;
  readonly target_id: string | null;
  readonly policy_id: string | null;
}

export function createRotationRuns(deps: {
  store: Store;
  audit: AuditLog;
  access: AccessDecision;
  accounts: AccountService;
  policies: PolicyService;
  rotation: RotationEngine;
  rotationSlots: RotationSlots;
  clock: Clock;
  logger: Logger;
  nodeId: string;
}): RotationRuns {
  const { store, audit, access, accounts, policies, rotation, clock, logger } = deps;
  /** Runs this node is processing now, so a resume does not start them twice. */
  const active = new Set<string>();
  const work = new Set<Promise<void>>();
  let stopping = false;

  const accountsInScope = async (principal: Principal, scope: RunScope) => {
    let query = store.db
      .selectFrom('accounts')
      .innerJoin('targets', 'targets.id', 'accounts.target_id')
      .select('accounts.id')
      .orderBy('targets.name')
      .orderBy('accounts.username');
    if (scope.safe !== undefined) {
      const safeId = await safeIdOf(scope.safe);
      if (safeId === null) throw notFound('safe');
      await access.require(principal, 'rotation.run', safeId);
      query = query.where('accounts.safe_id', '=', safeId);
    } else {
      // A target's accounts lie in many safes, so only a role may rotate them all.
      await access.require(principal, 'rotation.run');
      if (scope.target !== undefined) {
        if (!(await targetExists(scope.target))) throw notFound('target');
        query = query.where('targets.name', '=', scope.target);
      }
    }
    return (await query.execute()).map((row) => row.id);
  };

  const safeIdOf = async (name: string) => {
    const safe = await store.db
      .selectFrom('safes')
      .select('id')
      .where('name', '=', name)
      .executeTakeFirst();
    return safe?.id ?? null;
  };

  const targetExists = async (name: string) =>
    (await store.db
      .selectFrom('targets')
      .select('id')
      .where('name', '=', name)
      .executeTakeFirst()) !== undefined;

  const record = async (
    runId: string,
    accountId: string,
    outcome: 'succeeded' | 'failed',
    error: string | null,
  ) => {
    await store.transaction(async (trx) => {
      const item = await trx
        .updateTable('rotation_run_items')
        .set({ state: outcome, error, finished_at: clock.now() })
        .where('run_id', '=', runId)
        .where('account_id', '=', accountId)
        .where('state', '=', 'queued')
        .executeTakeFirst();
      if (item.numUpdatedRows === 0n) return;
      await trx
        .updateTable('rotation_runs')
        .set((eb) =>
          outcome === 'succeeded'
            ? { succeeded: eb('succeeded', '+', 1) }
            : { failed: eb('failed', '+', 1) },
        )
        .where('id', '=', runId)
        .execute();
    });
  };

  const rotateItem = async (ctx: RequestContext, runId: string, item: QueuedItem) => {
    const accountId = item.account_id;
    if (stopping) return;
    if (item.target_id === null || item.policy_id === null) {
      return record(runId, accountId, 'failed', 'the account no longer exists');
    }
    // Only the ids are read up front: thousands of items wait for a slot, and each is read
    // afresh once it holds one.
    const policy = await policies.byId(item.policy_id);
    await deps.rotationSlots.run(item.target_id, policy.maxPerTarget, async () => {
      if (stopping) return;
      let fresh: Account;
      try {
        fresh = await accounts.reload(store.db, accountId);
      } catch {
        return record(runId, accountId, 'failed', 'the account no longer exists');
      }
      // Changing a secret under its holder's feet would break their work: it waits for check-in.
      if (fresh.checkout !== null) {
        const message = `checked out by ${fresh.checkout.holder}: rotate it after check-in`;
        return record(runId, accountId, 'failed', message);
      }
      try {
        await rotation.rotate(ctx, fresh, 'manual');
        await record(runId, accountId, 'succeeded', null);
      } catch (error) {
        await record(runId, accountId, 'failed', describeFailure(error, fresh, logger));
      }
    });
  };

  const finish = async (ctx: RequestContext, runId: string) => {
    await store.transaction(async (trx) => {
      const run = await runRow(trx, runId);
      if (run === undefined || run.state !== 'running') return;
      const finishedAt = clock.now();
      await trx
        .updateTable('rotation_runs')
        .set({ state: 'finished', finished_at: finishedAt })
        .where('id', '=', runId)
        .execute();
      const outcome = run.failed === 0 ? 'success' : 'failure';
      const details = { total: run.total, succeeded: run.succeeded, failed: run.failed };
      await audit.appendInTx(trx, [runEvent(ctx, run, 'rotation.run.finish', outcome, details)]);
    });
    await store.durable();
  };

  const processRun = async (ctx: RequestContext, runId: string) => {
    const queued: QueuedItem[] = await store.db
      .selectFrom('rotation_run_items')
      .leftJoin('accounts', 'accounts.id', 'rotation_run_items.account_id')
      .select([
        'rotation_run_items.account_id as account_id',
        'accounts.target_id as target_id',
        'accounts.policy_id as policy_id',
      ])
      .where('rotation_run_items.run_id', '=', runId)
      .where('rotation_run_items.state', '=', 'queued')
      .execute();
    // Every item settles before the run ends or gives up, so a resume never meets one in flight.
    const settled = await Promise.allSettled(queued.map((item) => rotateItem(ctx, runId, item)));
    const broken = settled.find((result) => result.status === 'rejected');
    if (broken !== undefined) throw broken.reason;
    if (!stopping) await finish(ctx, runId);
  };

  /** Processes a run in the background; an error leaves it running, for a resume to retry. */
  const launch = (ctx: RequestContext, runId: string) => {
    active.add(runId);
    const done = processRun(ctx, runId)
      .catch((error: unknown) => logger.error({ err: error, run: runId }, 'rotation run stopped'))
      .finally(() => {
        active.delete(runId);
        work.delete(done);
      });
    work.add(done);
  };

  const insertRun = async (ctx: RequestContext, run: RotationRunTable, accountIds: string[]) => {
    await store.transaction(async (trx) => {
      await trx.insertInto('rotation_runs').values(run).execute();
      for (let i = 0; i < accountIds.length; i += INSERT_CHUNK) {
        const items = accountIds.slice(i, i + INSERT_CHUNK).map((accountId) => ({
          run_id: run.id,
          account_id: accountId,
          state: 'queued',
          error: null,
          finished_at: null,
        }));
        await trx.insertInto('rotation_run_items').values(items).execute();
      }
      const details = { ...scopeDetails(parseScope(run.scope)), total: run.total };
      await audit.appendInTx(trx, [runEvent(ctx, run, 'rotation.run.start', 'success', details)]);
    });
    await store.durable();
  };

  /** The context a resumed run acts in: the person who started it, found again by name. */
  const contextOfStarter = async (name: string): Promise<RequestContext> => {
    const user = await store.db
      .selectFrom('users')
      .select('id')
      .where('name', '=', name)
      .executeTakeFirst();
    return { actor: { id: user?.id ?? null, name }, source: null, requestId: null };
  };

  const failuresOf = async (runId: string): Promise<RunFailure[]> => {
    const rows = await store.db
      .selectFrom('rotation_run_items')
      .innerJoin('accounts', 'accounts.id', 'rotation_run_items.account_id')
      .innerJoin('targets', 'targets.id', 'accounts.target_id')
      .select([
        'targets.name as target',
        'accounts.username as username',
        'rotation_run_items.error as error',
        'rotation_run_items.finished_at as finishedAt',
      ])
      .where('rotation_run_items.run_id', '=', runId)
      .where('rotation_run_items.state', '=', 'failed')
      .orderBy('targets.name')
      .orderBy('accounts.username')
      .execute();
    return rows.map((r) => ({
      account: `${r.target}/${r.username}`,
      error: r.error ?? 'failed',
      finishedAt: r.finishedAt,
    }));
  };

  /** Who may follow a run: as for the accounts of its safe; a wider run, admins and auditors. */
  const mayRead = async (principal: Principal, scope: RunScope) => {
    const safeId = scope.safe === undefined ? null : await safeIdOf(scope.safe);
    return (await access.decide(principal, 'rotation.run.read', safeId)).allowed;
  };

  return {
    async start(ctx, principal, scope) {
      checkScope(scope);
      const accountIds = await accountsInScope(principal, scope);
      const id = randomUUID();
      const run: RotationRunTable = {
        id,
        started_by: principal.name,
        scope: JSON.stringify(scope),
        state: 'running',
        total: accountIds.length,
        succeeded: 0,
        failed: 0,
        node_id: deps.nodeId,
        started_at: clock.now(),
        finished_at: null,
      };
      // Marked active before it is stored, so that a scheduler pass cannot take it up as well.
      active.add(id);
      try {
        await insertRun(ctx, run, accountIds);
      } catch (error) {
        active.delete(id);
        throw error;
      }
      launch(ctx, id);
      return { id, total: accountIds.length };
    },

    async get(principal, id) {
      const row = await runRow(store.db, id);
      // Someone who may not follow a run is told it does not exist, as for a missing one.
      if (row === undefined || !(await mayRead(principal, parseScope(row.scope)))) {
        throw notFound('rotation run');
      }
      return {
        id: row.id,
        state: row.state as RunState,
        scope: parseScope(row.scope),
        startedBy: row.started_by,
        startedAt: row.started_at,
        finishedAt: row.finished_at,
        total: row.total,
        succeeded: row.succeeded,
        failed: row.failed,
        failures: await failuresOf(row.id),
      };
    },

    async resumeOrphans() {
      if (stopping) return 0;
      const runs = await store.db
        .selectFrom('rotation_runs')
        .select(['id', 'started_by'])
        .where('state', '=', 'running')
        .where('node_id', '=', deps.nodeId)
        .execute();
      const orphans = runs.filter((run) => !active.has(run.id));
      for (const run of orphans) {
        logger.info({ run: run.id }, 'resuming a rotation run left unfinished');
        launch(await contextOfStarter(run.started_by), run.id);
      }
      return orphans.length;
    },

    async stop() {
      stopping = true;
      await Promise.all(work);
    },
  };
}

function runRow(db: Store['db'] | Tx, id: string) {
  return db.selectFrom('rotation_runs').selectAll().where('id', '=', id).executeTakeFirst();
}

function runEvent(
  ctx: RequestContext,
  run: RotationRunTable,
  action: string,
  outcome: AuditEventInput['outcome'],
  details: AuditEventInput['details'],
): AuditEventInput {
  return {
    action,
    outcome,
    actor: ctx.actor,
    object: { type: 'rotation_run', id: run.id, name: scopeName(parseScope(run.scope)) },
    source: ctx.source,
    requestId: ctx.requestId,
    details,
  };
}

/** The reason an item failed, as people read it: the engine's message, never a stack. */
function describeFailure(error: unknown, account: Account, logger: Logger): string {
  if (isTesseraError(error)) return error.message;
  logger.error({ err: error, account: account.ref }, 'bulk rotation failed unexpectedly');
  return 'unexpected error (see server log)';
}
