import { sign, verify as verifySignature } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { Store } from '../store/store.ts';
import type { Keyring } from '../vault/keyring.ts';
import { checkpointMessage, GENESIS_HASH } from './chain.ts';
import { type ChainAnchor, linkProblem } from './verify-chain.ts';

export interface Checkpointer {
  /**
   * Signs the chain's tail if it moved since the last checkpoint, after checking that every
   * event since then links correctly. A broken segment is never signed: it raises an alarm.
   */
  checkpoint(): Promise<void>;
  start(intervalMs: number): void;
  stop(): void;
}

const SEGMENT_PAGE = 5_000;

/**
 * Signed checkpoints make a rewritten chain detectable: whoever recomputes every hash still
 * cannot sign the new tail without the key held in the vault. So the signer must never sign a
 * tail it has not checked. It verifies the events since the newest valid checkpoint, and it
 * remembers the newest checkpoint it has seen, so checkpoints deleted while it runs are noticed.
 * Each signature is also written to the log, which leaves the store and serves as an anchor
 * for `audit verify` (a store can be rolled back; shipped logs cannot).
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
  let newestSeen: ChainAnchor | null = null;
  let alarmed = false;

  const alarm = (message: string, fields: Record<string, unknown>) => {
    if (!alarmed) logger.fatal(fields, `audit chain tampered: ${message}; nothing more is signed`);
    alarmed = true;
  };

  const lastCheckpoint = async () => {
    const row = await store.db
      .selectFrom('audit_checkpoints')
      .selectAll()
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (row === undefined) return null;
    const { signingPublicKey } = keyring.keys();
    const message = checkpointMessage(row.seq, row.hash);
    const valid = verifySignature(null, message, signingPublicKey, row.signature);
    return { seq: row.seq, hash: row.hash, valid };
  };

  type Walk = { tail: ChainAnchor } | { broken: { seq: number; problem: string } };

  /** Walks the events after `from`: the tail reached, or the first broken link. */
  const walkFrom = async (from: ChainAnchor): Promise<Walk> => {
    let prevSeq = from.seq;
    let prevHash = from.hash;
    for (;;) {
      const rows = await store.db
        .selectFrom('audit_events')
        .selectAll()
        .where('seq', '>', prevSeq)
        .orderBy('seq')
        .limit(SEGMENT_PAGE)
        .execute();
      for (const row of rows) {
        const problem = linkProblem(row, prevSeq, prevHash);
        if (problem !== null) return { broken: { seq: row.seq, problem } };
        prevSeq = row.seq;
        prevHash = row.hash;
      }
      if (rows.length < SEGMENT_PAGE) return { tail: { seq: prevSeq, hash: prevHash } };
    }
  };

  const checkpoint = async () => {
    if (keyring.isSealed() || alarmed) return;
    const last = await lastCheckpoint();
    if (last !== null && !last.valid) {
      return alarm('a checkpoint signature is invalid', { seq: last.seq });
    }
    if (newestSeen !== null && (last === null || last.seq < newestSeen.seq)) {
      const found = last?.seq ?? 0;
      return alarm('signed checkpoints disappeared', { expectedSeq: newestSeen.seq, found });
    }
    const start = last ?? { seq: 0, hash: GENESIS_HASH };
    const walked = await walkFrom(start);
    if ('broken' in walked)
      return alarm('an event does not link to its predecessor', walked.broken);
    if (newestSeen === null && last !== null) {
      // A restart: this line in the log lets an auditor see whether the chain resumed where it
      // stopped, or further back (a rollback of the store).
      logger.info({ auditCheckpoint: { seq: last.seq, hash: last.hash } }, 'audit chain resumes');
    }
    newestSeen = last ?? newestSeen;
    if (walked.tail.seq <= start.seq) return;

    const { seq, hash } = walked.tail;
    const signature = sign(null, checkpointMessage(seq, hash), keyring.keys().signingKey);
    await store.db
      .insertInto('audit_checkpoints')
      .values({ seq, hash, signed_at: clock.now(), signature })
      .onConflict((oc) => oc.column('seq').doNothing())
      .execute();
    newestSeen = { seq, hash };
    const logged = { seq, hash, signature: signature.toString('base64') };
    logger.info({ auditCheckpoint: logged }, 'audit checkpoint signed');
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
