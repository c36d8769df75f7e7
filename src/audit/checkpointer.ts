import { sign } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { Store } from '../store/store.ts';
import type { Keyring } from '../vault/keyring.ts';
import { checkpointMessage } from './chain.ts';

export interface Checkpointer {
  /** Signs the chain's current tail if it moved since the last checkpoint. */
  checkpoint(): Promise<void>;
  start(intervalMs: number): void;
  stop(): void;
}

/**
 * Signed checkpoints make truncation and wholesale rewriting of the chain detectable: an attacker
 * who recomputes every hash still cannot sign the new tail without the key held in the vault.
 */
export function createCheckpointer(deps: {
  store: Store;
  keyring: Keyring;
  clock: Clock;
  logger: Logger;
}): Checkpointer {
  const { store, keyring, clock, logger } = deps;
  let timer: NodeJS.Timeout | null = null;
  let running = false;

  const checkpoint = async () => {
    if (keyring.isSealed()) return;
    const tail = await store.db
      .selectFrom('audit_events')
      .select(['seq', 'hash'])
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (tail === undefined) return;
    const last = await store.db
      .selectFrom('audit_checkpoints')
      .select('seq')
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (last !== undefined && last.seq >= tail.seq) return;

    const signature = sign(null, checkpointMessage(tail.seq, tail.hash), keyring.keys().signingKey);
    await store.db
      .insertInto('audit_checkpoints')
      .values({ seq: tail.seq, hash: tail.hash, signed_at: clock.now(), signature })
      .onConflict((oc) => oc.column('seq').doNothing())
      .execute();
  };

  const tick = async () => {
    if (running) return;
    running = true;
    try {
      await checkpoint();
    } catch (error) {
      logger.error({ err: error }, 'audit checkpoint failed');
    } finally {
      running = false;
    }
  };

  return {
    checkpoint,
    start(intervalMs) {
      timer = setInterval(() => void tick(), intervalMs);
      timer.unref();
    },
    stop() {
      if (timer !== null) clearInterval(timer);
      timer = null;
    },
  };
}
