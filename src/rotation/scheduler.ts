import type { Logger } from 'pino';
import type { AccountService } from '../accounts/account-service.ts';
import type { CheckoutService } from '../accounts/checkout-service.ts';
import { SYSTEM_CONTEXT } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import type { Store } from '../store/store.ts';
import type { Keyring } from '../vault/keyring.ts';
import type { RotationEngine } from './rotation-engine.ts';

export interface Scheduler {
  /** One pass: expire check-outs, settle interrupted rotations, rotate what is due. */
  tick(): Promise<void>;
  /** Runs a pass now unless one is running; errors are logged. */
  tickNow(): void;
  start(intervalMs: number): void;
  stop(): Promise<void>;
}

const DUE_BATCH = 50;

/**
 * Background work of one node. Several nodes may run it against one database: every rotation
 * takes the account's lease first, so each due rotation runs once.
 * Per-target limits, jitter and retry back-off arrive with the rotation engine issue (#4).
 */
export function createScheduler(deps: {
  store: Store;
  keyring: Keyring;
  accounts: AccountService;
  checkout: CheckoutService;
  rotation: RotationEngine;
  clock: Clock;
  logger: Logger;
}): Scheduler {
  const { store, keyring, accounts, checkout, rotation, clock, logger } = deps;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;

  const rotateDue = async () => {
    const now = clock.now();
    const due = await store.db
      .selectFrom('accounts')
      .select('id')
      .where((eb) =>
        eb.or([
          eb('next_rotation_at', '<=', now),
          eb.and([eb('needs_rotation', '=', 1), eb('last_rotation_error', 'is', null)]),
        ]),
      )
      .where((eb) =>
        eb.or([eb('rotation_lease_until', 'is', null), eb('rotation_lease_until', '<', now)]),
      )
      .where('checkout_id', 'is', null)
      .limit(DUE_BATCH)
      .execute();
    for (const { id } of due) {
      const account = await accounts.reload(store.db, id);
      try {
        await rotation.rotate(
          SYSTEM_CONTEXT,
          account,
          account.needsRotation ? 'checkin' : 'schedule',
        );
      } catch (error) {
        logger.warn({ account: account.ref, err: error }, 'scheduled rotation failed');
      }
    }
  };

  const tick = async () => {
    if (keyring.isSealed()) return;
    await checkout.expireDue();
    await rotation.recoverPending();
    await rotateDue();
  };

  const guardedTick = () => {
    if (running !== null) return;
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
      timer = setInterval(guardedTick, intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer !== null) clearInterval(timer);
      timer = null;
      await running;
    },
  };
}
