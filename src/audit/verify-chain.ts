import { type KeyObject, verify as verifySignature } from 'node:crypto';
import type { AuditCheckpointTable, AuditEventTable } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import { chainHash, checkpointMessage, GENESIS_HASH } from './chain.ts';

export type ChainProblem =
  | 'altered'
  | 'missing'
  | 'reordered'
  | 'checkpoint-mismatch'
  | 'checkpoint-signature'
  | 'truncated'
  | 'anchor-mismatch';

/** A point of the chain recorded outside the store (a log line, a SIEM, a printout). */
export interface ChainAnchor {
  readonly seq: number;
  readonly hash: string;
}

export interface ChainReport {
  readonly ok: boolean;
  readonly events: number;
  readonly checkpoints: number;
  readonly lastSeq: number;
  /** The newest signed checkpoint: compare it with an external record to detect a rollback. */
  readonly lastCheckpoint: ChainAnchor | null;
  /** Events after the newest checkpoint, which no signature covers yet. */
  readonly unsigned: number;
  /** The first event that was altered, removed or reordered, with what is wrong with it. */
  readonly firstBad: { readonly seq: number; readonly problem: ChainProblem } | null;
}

const PAGE = 20_000;

/**
 * Walks the whole chain in order, recomputing every hash, checks each signed checkpoint against
 * the event it names, and each anchor given from outside. Stops at the first bad event.
 *
 * The store alone cannot prove that nothing was cut from its end: someone who can write to it
 * can delete the newest events together with their checkpoints. Anchors close that gap: the
 * server logs every checkpoint it signs, and a verify against the newest logged one proves that
 * everything up to it is still there, unchanged.
 */
export async function verifyChain(
  store: Store,
  publicKey: KeyObject,
  anchors: readonly ChainAnchor[] = [],
): Promise<ChainReport> {
  const checkpoints = await store.db
    .selectFrom('audit_checkpoints')
    .selectAll()
    .orderBy('seq')
    .execute();
  const signed = new Map(checkpoints.map((c) => [c.seq, c]));
  const anchored = new Map(anchors.map((a) => [a.seq, a.hash]));
  const walk = { prevSeq: 0, prevHash: GENESIS_HASH, events: 0 };

  const report = (firstBad: ChainReport['firstBad']): ChainReport => {
    const last = checkpoints.at(-1);
    return {
      ok: firstBad === null,
      events: walk.events,
      checkpoints: checkpoints.length,
      lastSeq: walk.prevSeq,
      lastCheckpoint: last === undefined ? null : { seq: last.seq, hash: last.hash },
      unsigned: Math.max(0, walk.prevSeq - (last?.seq ?? 0)),
      firstBad,
    };
  };

  for (;;) {
    const rows = await store.db
      .selectFrom('audit_events')
      .selectAll()
      .where('seq', '>', walk.prevSeq)
      .orderBy('seq')
      .limit(PAGE)
      .execute();
    for (const row of rows) {
      const problem =
        linkProblem(row, walk.prevSeq, walk.prevHash) ??
        checkpointProblem(row, signed.get(row.seq), publicKey) ??
        (anchored.has(row.seq) && anchored.get(row.seq) !== row.hash ? 'anchor-mismatch' : null);
      if (problem !== null) {
        return report({ seq: problem === 'missing' ? walk.prevSeq + 1 : row.seq, problem });
      }
      walk.prevSeq = row.seq;
      walk.prevHash = row.hash;
      walk.events += 1;
    }
    if (rows.length < PAGE) break;
  }

  const beyond = Math.max(checkpoints.at(-1)?.seq ?? 0, ...anchors.map((a) => a.seq));
  return report(beyond > walk.prevSeq ? { seq: walk.prevSeq + 1, problem: 'truncated' } : null);
}

/** Whether `row` follows the event before it: next number, its hash, and its own hash intact. */
export function linkProblem(
  row: AuditEventTable,
  prevSeq: number,
  prevHash: string,
): ChainProblem | null {
  if (row.seq !== prevSeq + 1) return 'missing';
  if (row.prev_hash !== prevHash) return 'reordered';
  if (chainHash(prevHash, row) !== row.hash) return 'altered';
  return null;
}

function checkpointProblem(
  row: AuditEventTable,
  checkpoint: AuditCheckpointTable | undefined,
  publicKey: KeyObject,
): ChainProblem | null {
  if (checkpoint === undefined) return null;
  if (checkpoint.hash !== row.hash) return 'checkpoint-mismatch';
  const message = checkpointMessage(checkpoint.seq, checkpoint.hash);
  if (!verifySignature(null, message, publicKey, checkpoint.signature))
    return 'checkpoint-signature';
  return null;
}
