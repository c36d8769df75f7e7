import { hash } from 'node:crypto';
import type { AuditEventTable } from '../store/schema.ts';

export const GENESIS_HASH = '0'.repeat(64);

/** The columns of an event that its hash covers: all of them except the hash itself. */
export type ChainedFields = Omit<AuditEventTable, 'hash' | 'prev_hash'>;

/**
 * The hash of an event chains it to its predecessor. The serialisation is a JSON array in a fixed
 * column order, so the same row always hashes the same way on either store.
 */
export function chainHash(prevHash: string, event: ChainedFields): string {
  const canonical = JSON.stringify([
    event.seq,
    event.id,
    event.at,
    event.actor_id,
    event.actor_name,
    event.action,
    event.object_type,
    event.object_id,
    event.object_name,
    event.outcome,
    event.source,
    event.reason,
    event.request_id,
    event.details,
  ]);
  return hash('sha256', `${prevHash}\n${canonical}`);
}

/** The statement a checkpoint signs: the chain up to `seq` ends in `hash`. */
export function checkpointMessage(seq: number, hash: string): Buffer {
  return Buffer.from(`tessera/audit-checkpoint/v1|${seq}|${hash}`, 'utf8');
}
