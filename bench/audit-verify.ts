/**
 * Benchmark 3b: time to verify one million audit events and their signed checkpoints with
 * `verifyChain`. The chain is written directly in big transactions (correct hashes from
 * `chainHash`, a checkpoint signed with Ed25519 every 10,000 events), then verified through the
 * store as the API would. The baseline reads the same rows, in the same pages, without hashing.
 */
import { generateKeyPairSync, type KeyObject, randomUUID, sign } from 'node:crypto';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  type ChainedFields,
  chainHash,
  checkpointMessage,
  GENESIS_HASH,
} from '../src/audit/chain.ts';
import { verifyChain } from '../src/audit/verify-chain.ts';
import { openStore, type Store } from '../src/store/store.ts';
import { tempDir } from './support/places.ts';
import type { BenchContext, Benchmark, BenchReport } from './support/report.ts';

const EVENTS = 1_000_000;
const CHECKPOINT_EVERY = 10_000;
const WRITE_BATCH = 50_000;
/** The page size verifyChain reads with, so the baseline reads the same way. */
const PAGE = 20_000;
const GOAL_SECONDS = 3;

export const auditVerify: Benchmark = {
  name: 'audit-verify',
  title: 'verify one million audit events with signed checkpoints',
  run,
};

async function run(context: BenchContext): Promise<BenchReport> {
  const dir = tempDir('verify');
  const file = path.join(dir.path, 'chain.db');
  try {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    await (await openStore({ kind: 'sqlite', file })).close(); // creates the schema
    context.log(`writing a chain of ${EVENTS.toLocaleString('en')} events`);
    const buildStarted = performance.now();
    writeChain(file, privateKey);
    const buildSeconds = (performance.now() - buildStarted) / 1000;

    const store = await openStore({ kind: 'sqlite', file });
    try {
      context.log('plain read, then verifyChain');
      const readSeconds = await timed(() => plainRead(store));
      const { seconds, result } = await timedResult(() => verifyChain(store, publicKey));
      if (!result.ok || result.events !== EVENTS) {
        throw new Error(`verifyChain rejected a correct chain: ${JSON.stringify(result)}`);
      }
      return report(seconds, readSeconds, buildSeconds, result.checkpoints);
    } finally {
      await store.close();
    }
  } finally {
    dir.remove();
  }
}

/** Writes the chain straight into the file, bypassing the audit log, in big transactions. */
function writeChain(file: string, signingKey: KeyObject): void {
  const database = new BetterSqlite3(file);
  try {
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    const insertEvent = database.prepare(
      `insert into audit_events (seq, id, at, actor_id, actor_name, action, object_type, object_id,
         object_name, outcome, source, reason, request_id, details, prev_hash, hash)
       values (@seq, @id, @at, @actor_id, @actor_name, @action, @object_type, @object_id,
         @object_name, @outcome, @source, @reason, @request_id, @details, @prev_hash, @hash)`,
    );
    const insertCheckpoint = database.prepare(
      'insert into audit_checkpoints (seq, hash, signed_at, signature) values (?, ?, ?, ?)',
    );
    let prevHash = GENESIS_HASH;
    const writeBatch = database.transaction((from: number, to: number) => {
      for (let seq = from; seq <= to; seq++) {
        const fields = eventFields(seq);
        const hash = chainHash(prevHash, fields);
        insertEvent.run({ ...fields, prev_hash: prevHash, hash });
        prevHash = hash;
        if (seq % CHECKPOINT_EVERY === 0) {
          const signature = sign(null, checkpointMessage(seq, hash), signingKey);
          insertCheckpoint.run(seq, hash, fields.at, signature);
        }
      }
    });
    for (let from = 1; from <= EVENTS; from += WRITE_BATCH) {
      writeBatch(from, Math.min(from + WRITE_BATCH - 1, EVENTS));
    }
    database.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    database.close();
  }
}

const ACTORS = Array.from({ length: 50 }, (_, i) => ({ id: randomUUID(), name: `user-${i}` }));

/** Events shaped like reveals and rotations, with the columns a real trail fills. */
function eventFields(seq: number): ChainedFields {
  const actor = ACTORS[seq % ACTORS.length] ?? { id: null, name: null };
  const reveal = seq % 4 !== 0;
  return {
    seq,
    id: randomUUID(),
    at: 1_700_000_000_000 + seq * 10,
    actor_id: actor.id,
    actor_name: actor.name,
    action: reveal ? 'secret.reveal' : 'account.rotate',
    object_type: 'account',
    object_id: randomUUID(),
    object_name: `db-${seq % 20}/app-${seq % 500}`,
    outcome: 'success',
    source: '127.0.0.1',
    reason: reveal ? `INC-${seq % 9000} looking at the logs` : null,
    request_id: randomUUID(),
    details: reveal ? '{"version":3}' : '{"version":4,"origin":"schedule","attempts":1}',
  };
}

/** The same pages verifyChain reads, without hashing or checking anything. */
async function plainRead(store: Store): Promise<void> {
  let after = 0;
  for (;;) {
    const rows = await store.db
      .selectFrom('audit_events')
      .selectAll()
      .where('seq', '>', after)
      .orderBy('seq')
      .limit(PAGE)
      .execute();
    const last = rows.at(-1);
    if (last === undefined) return;
    after = last.seq;
  }
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  return (await timedResult(work)).seconds;
}

async function timedResult<T>(work: () => Promise<T>): Promise<{ seconds: number; result: T }> {
  const started = performance.now();
  const result = await work();
  return { seconds: (performance.now() - started) / 1000, result };
}

function report(
  seconds: number,
  readSeconds: number,
  buildSeconds: number,
  checkpoints: number,
): BenchReport {
  return {
    name: 'audit-verify',
    title:
      `verifyChain over ${EVENTS.toLocaleString('en')} ` +
      `events, ${checkpoints} signed checkpoints`,
    measurements: [
      {
        subject: 'verifyChain, 1M events',
        value: seconds,
        unit: 's',
        baseline: { label: 'plain paged read, no hashing', value: readSeconds },
        better: 'lower',
      },
    ],
    goals: [
      {
        goal: `verify 1M events in < ${GOAL_SECONDS} s`,
        measured: `${seconds.toFixed(2)} s (${(seconds / readSeconds).toFixed(2)}× the plain read)`,
        met: seconds < GOAL_SECONDS,
      },
    ],
    notes: [
      `chain written directly in ${buildSeconds.toFixed(1)} s (setup, not measured against a goal)`,
    ],
  };
}
