import { type KeyObject, verify as verifySignature } from 'node:crypto';
import type { Store } from '../store/store.ts';
import { chainHash, checkpointMessage, GENESIS_HASH } from './chain.ts';

export type ChainProblem =
  | 'altered'
  | 'missing'
  | 'reordered'
  | 'checkpoint-mismatch'
  | 'checkpoint-signature'
  | 'truncated';

export interface ChainReport {
  readonly ok: boolean;
  readonly events: number;
  readonly checkpoints: number;
  readonly lastSeq: number;
  /** The first event that was altered, removed or reordered, with what is wrong with it. */
  readonly firstBad: { readonly seq: number; readonly problem: ChainProblem } | null;
}

const PAGE = 20_000;

/**
 * Walks the whole chain in order, recomputing every hash, and checks each signed checkpoint
 * against the event it names. Stops at the first bad event.
 */
export async function verifyChain(store: Store, publicKey: KeyObject): Promise<ChainReport> {
  const checkpoints = await store.db
    .selectFrom('audit_checkpoints')
    .selectAll()
    .orderBy('seq')
    .execute();
  const expected = new Map(checkpoints.map((c) => [c.seq, c]));

  let prevSeq = 0;
  let prevHash = GENESIS_HASH;
  let events = 0;
  const fail = (seq: number, problem: ChainProblem): ChainReport => ({
    ok: false,
    events,
    checkpoints: checkpoints.length,
    lastSeq: prevSeq,
    firstBad: { seq, problem },
  });

  for (;;) {
    const rows = await store.db
      .selectFrom('audit_events')
      .selectAll()
      .where('seq', '>', prevSeq)
      .orderBy('seq')
      .limit(PAGE)
      .execute();
    for (const row of rows) {
      if (row.seq !== prevSeq + 1) return fail(prevSeq + 1, 'missing');
      if (row.prev_hash !== prevHash) return fail(row.seq, 'reordered');
      if (chainHash(prevHash, row) !== row.hash) return fail(row.seq, 'altered');

      const checkpoint = expected.get(row.seq);
      if (checkpoint !== undefined) {
        if (checkpoint.hash !== row.hash) return fail(row.seq, 'checkpoint-mismatch');
        const message = checkpointMessage(checkpoint.seq, checkpoint.hash);
        if (!verifySignature(null, message, publicKey, checkpoint.signature)) {
          return fail(row.seq, 'checkpoint-signature');
        }
      }
      prevSeq = row.seq;
      prevHash = row.hash;
      events += 1;
    }
    if (rows.length < PAGE) break;
  }

  const lastCheckpoint = checkpoints.at(-1);
  if (lastCheckpoint !== undefined && lastCheckpoint.seq > prevSeq) {
    return fail(prevSeq + 1, 'truncated');
  }
  return { ok: true, events, checkpoints: checkpoints.length, lastSeq: prevSeq, firstBad: null };
}
