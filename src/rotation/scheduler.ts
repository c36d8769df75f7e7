import type { ExpressionBuilder } from 'kysely';
import type { Logger } from 'pino';
import type { AccountService } from '../accounts/account-service.ts';
import type { CheckoutService } from '../accounts/checkout-service.ts';
import type { PolicyService } from '../accounts/policies.ts';
import { SYSTEM_CONTEXT } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import type { Database } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import type { Keyring } from '../vault/keyring.ts';
import { ROTATION_LEASE_MS, type RotationEngine } from './rotation-engine.ts';
import type { RotationRuns } from './rotation-runs.ts';
import type { RotationSlots } from './rotation-slots.ts';
import { retryDelayMs } from './schedule.ts';

export interface Scheduler {
  /** One pass: expire check-outs, settle interrupted rotations, rotate what is due. */
  tick(): Promise<void>;
  /** Runs a pass now unless one is running; errors are logged. */
  tickNow(): void;
  start(intervalMs: number): void;
  stop(): Promise<void>;
}

/** Due accounts one pass takes on; the rest wait for the next pass. */
const DUE_BATCH = 500;
/**
 * An account this node claimed but did not get to rotate (it stopped or crashed in between) may
 * be claimed again after this long; a claimed rotation holds its lease well before then.
 */
const CLAIM_MS = ROTATION_LEASE_MS;

type Outcome = 'rotated' | 'failed' | 'skipped';

interface DueRow {
  readonly id: string;
  readonly target_id: string;
  readonly policy_id: string;
  readonly rotation_failures: number;
  readonly last_rotation_attempt_at: number | null;
}

/**
 * Background work of one node. Several nodes may run it against one database: an account is
 * claimed by a conditional update (it must still be due and unclaimed), then rotated under the
 * account's lease, so each due rotation runs once. Rotations run side by side within the node's
 * rotation slots: an overall limit, and per target the policy's `maxPerTarget`.
 */
export function createScheduler(deps: {
  store: Store;
  keyring: Keyring;
  accounts: AccountService;
  checkout: CheckoutService;
  policies: PolicyService;
  rotation: RotationEngine;
  rotationSlots: RotationSlots;
  rotationRuns: RotationRuns;
  clock: Clock;
  logger: Logger;
}): Scheduler {
  const { store, keyring, accounts, checkout, policies, rotation, clock, logger } = deps;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopping = false;

  /** Claims a due account for this node; false when it is no longer due or another took it. */
  const claim = async (accountId: string) => {
    const now = clock.now();
    const result = await store.db
      .updateTable('accounts')
      .set({ last_rotation_attempt_at: now })
      .where('id', '=', accountId)
      .where((eb) => isDue(eb, now))
      .where((eb) =>
        eb.or([
          eb('last_rotation_attempt_at', 'is', null),
          eb('last_rotation_attempt_at', '<=', now - CLAIM_MS),
        ]),
      )
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  };

  const rotateOne = async (row: DueRow): Promise<Outcome> => {
    if (stopping || !(await claim(row.id))) return 'skipped';
    const account = await accounts.reload(store.db, row.id);
    const origin = account.needsRotation ? 'checkin' : 'schedule';
    try {
      await rotation.rotate(SYSTEM_CONTEXT, account, origin);
      return 'rotated';
    } catch (error) {
      logger.warn({ account: account.ref, err: error }, 'scheduled rotation failed');
      return 'failed';
    }
  };

  const inSlot = async (row: DueRow): Promise<Outcome> => {
    const policy = await policies.byId(row.policy_id);
    return deps.rotationSlots.run(row.target_id, policy.maxPerTarget, () => rotateOne(row));
  };

  const rotateDue = async () => {
    const now = clock.now();
    const due = await store.db
      .selectFrom('accounts')
      .select(['id', 'target_id', 'policy_id', 'rotation_failures', 'last_rotation_attempt_at'])
      .where((eb) => isDue(eb, now))
      .orderBy('next_rotation_at')
      .limit(DUE_BATCH)
      .execute();
    const settled = await Promise.allSettled(due.filter((row) => backedOff(row, now)).map(inSlot));
    const outcomes = settled.map((result) => {
      if (result.status === 'fulfilled') return result.value;
      logger.error({ err: result.reason }, 'could not start a scheduled rotation');
      return 'failed';
    });
    const rotated = outcomes.filter((o) => o === 'rotated').length;
    const failed = outcomes.filter((o) => o === 'failed').length;
    if (rotated + failed > 0) logger.info({ rotated, failed }, 'scheduled rotations done');
  };

  const tick = async () => {
    if (keyring.isSealed()) return;
    await checkout.expireDue();
    await rotation.recoverPending();
    await deps.rotationRuns.resumeOrphans();
    await rotateDue();
  };

  const guardedTick = () => {
    if (running !== null || stopping) return;
    running = tick()
      .catch((error: unknown) => logger.error({ err: error }, 'scheduler pass failed'))
      .finally(() => {
        running = null;
      });
  };

  return {
    tick,
    tickNow: guardedTick,
    start(intervalMs) {
      stopping = false;
      timer = setInterval(guardedTick, intervalMs);
      timer.unref();
    },
    async stop() {
      // Rotations under way finish; the ones still waiting for a slot are left for next time.
      stopping = true;
      if (timer !== null) clearInterval(timer);
      timer = null;
      await running;
    },
  };
}

/**
 * Due: the schedule's time has come, or a check-in asked for a rotation that has not failed yet
 * (a failed one waits for the retry time the engine set). Not while a rotation holds the lease,
 * nor while the account is checked out.
 */
function isDue(eb: ExpressionBuilder<Database, 'accounts'>, now: number) {
  return eb.and([
    eb.or([
      eb('next_rotation_at', '<=', now),
      eb.and([eb('needs_rotation', '=', 1), eb('last_rotation_error', 'is', null)]),
    ]),
    eb.or([eb('rotation_lease_until', 'is', null), eb('rotation_lease_until', '<', now)]),
    eb('checkout_id', 'is', null),
  ]);
}

/** After failures, the next try waits out the back-off, whatever else made the account due. */
function backedOff(row: DueRow, now: number): boolean {
  if (row.rotation_failures === 0 || row.last_rotation_attempt_at === null) return true;
  return row.last_rotation_attempt_at + retryDelayMs(row.rotation_failures) <= now;
}
