import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import { TesseraError } from '../errors.ts';
import type { AuditEventTable } from '../store/schema.ts';
import type { Store, Tx } from '../store/store.ts';
import { chainHash, GENESIS_HASH } from './chain.ts';
import type { AuditEventInput } from './event.ts';

/**
 * The audit trail. Every state change appends its event inside the same transaction as the change
 * (`appendInTx`), so neither lands without the other. Reads of secrets, which change nothing,
 * append through `record`, which groups concurrent events into one transaction and one flush and
 * resolves only when the event is on disk. If an event cannot be written, the caller's operation
 * fails with AUDIT_UNAVAILABLE.
 */
export interface AuditLog {
  appendInTx(trx: Tx, events: readonly AuditEventInput[]): Promise<void>;
  record(event: AuditEventInput): Promise<void>;
}

const MAX_BATCH = 512;

interface Pending {
  readonly event: AuditEventInput;
  readonly at: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export function createAuditLog(deps: { store: Store; clock: Clock; logger: Logger }): AuditLog {
  const { store, clock, logger } = deps;
  let queue: Pending[] = [];
  let draining = false;

  const append = async (trx: Tx, events: readonly { event: AuditEventInput; at: number }[]) => {
    await store.lockAuditChain(trx);
    const tail = await trx
      .selectFrom('audit_events')
      .select(['seq', 'hash'])
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    let seq = tail?.seq ?? 0;
    let prevHash = tail?.hash ?? GENESIS_HASH;
    const rows: AuditEventTable[] = events.map(({ event, at }) => {
      seq += 1;
      const fields = toColumns(event, seq, at);
      const hash = chainHash(prevHash, fields);
      const row = { ...fields, prev_hash: prevHash, hash };
      prevHash = hash;
      return row;
    });
    await trx.insertInto('audit_events').values(rows).execute();
  };

  const failed = (error: unknown): TesseraError => {
    logger.fatal({ err: error }, 'audit trail unavailable: refusing operations that need it');
    return new TesseraError('AUDIT_UNAVAILABLE', 'the audit trail cannot be written', undefined, {
      cause: error,
    });
  };

  const writeBatch = async (batch: Pending[]) => {
    try {
      await store.transaction((trx) => append(trx, batch));
    } catch (error) {
      const reason = failed(error);
      for (const pending of batch) pending.reject(reason);
      return;
    }
    // Not awaited: the next batch is written while this one is flushed.
    store.durable().then(
      () => {
        for (const pending of batch) pending.resolve();
      },
      (error: unknown) => {
        const reason = failed(error);
        for (const pending of batch) pending.reject(reason);
      },
    );
  };

  const drain = async () => {
    draining = true;
    while (queue.length > 0) {
      const batch = queue.slice(0, MAX_BATCH);
      queue = queue.slice(batch.length);
      await writeBatch(batch);
    }
    draining = false;
  };

  return {
    async appendInTx(trx, events) {
      const at = clock.now();
      try {
        await append(
          trx,
          events.map((event) => ({ event, at })),
        );
      } catch (error) {
        throw failed(error);
      }
    },

    record(event) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ event, at: clock.now(), resolve, reject });
        if (!draining) void drain();
      });
    },
  };
}

function toColumns(event: AuditEventInput, seq: number, at: number) {
  return {
    seq,
    id: randomUUID(),
    at,
    actor_id: event.actor?.id ?? null,
    actor_name: event.actor?.name ?? null,
    action: event.action,
    object_type: event.object?.type ?? null,
    object_id: event.object?.id ?? null,
    object_name: event.object?.name ?? null,
    outcome: event.outcome,
    source: event.source ?? null,
    reason: event.reason ?? null,
    request_id: event.requestId ?? null,
    details: event.details === undefined ? null : JSON.stringify(event.details),
  };
}
