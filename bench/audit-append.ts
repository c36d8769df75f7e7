/**
 * Benchmark 3a: durable audit appends per second from many concurrent writers, in-process through
 * `createAuditLog(...).record()`: hashing, chaining, group commit and flush. The baseline is the
 * upper bound of writing the same number of rows: plain INSERTs in one transaction, one flush.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, fdatasyncSync, openSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { createAuditLog } from '../src/audit/audit-log.ts';
import type { AuditEventInput } from '../src/audit/event.ts';
import { systemClock } from '../src/clock.ts';
import { openStore } from '../src/store/store.ts';
import { tempDir } from './support/places.ts';
import type { BenchContext, Benchmark, BenchReport } from './support/report.ts';
import { ratio } from './support/report.ts';
import { quietLogger } from './support/silent-logger.ts';

const IN_FLIGHT = 256;
const DURATION_S = 5;
const WARMUP_S = 1;
const GOAL_PER_SECOND = 20_000;

export const auditAppends: Benchmark = {
  name: 'audit-append',
  title: 'durable audit appends from concurrent writers',
  run,
};

async function run(context: BenchContext): Promise<BenchReport> {
  const dir = tempDir('audit');
  try {
    context.log(`record() from ${IN_FLIGHT} concurrent callers`);
    const appended = await recordConcurrently(path.join(dir.path, 'audit.db'));
    context.log(`${appended.events} plain INSERTs in one transaction`);
    const plainSeconds = await plainInserts(path.join(dir.path, 'plain.db'), appended.events);
    return report(appended, plainSeconds);
  } finally {
    dir.remove();
  }
}

interface Appended {
  readonly events: number;
  readonly seconds: number;
}

async function recordConcurrently(file: string): Promise<Appended> {
  const store = await openStore({ kind: 'sqlite', file });
  try {
    const audit = createAuditLog({ store, clock: systemClock, logger: quietLogger() });
    await callersFor(WARMUP_S, (event) => audit.record(event));
    return await callersFor(DURATION_S, (event) => audit.record(event));
  } finally {
    await store.close();
  }
}

/** IN_FLIGHT callers, each appending its next event as soon as the last one is durable. */
async function callersFor(
  seconds: number,
  record: (event: AuditEventInput) => Promise<void>,
): Promise<Appended> {
  const started = performance.now();
  const until = started + seconds * 1000;
  let events = 0;
  const caller = async (index: number) => {
    const actor = { id: randomUUID(), name: `caller-${index}` };
    while (performance.now() < until) {
      await record(revealEvent(actor));
      events += 1;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, (_, i) => caller(i)));
  return { events, seconds: (performance.now() - started) / 1000 };
}

function revealEvent(actor: { id: string; name: string }): AuditEventInput {
  return {
    action: 'secret.reveal',
    outcome: 'success',
    actor,
    object: { type: 'account', id: randomUUID(), name: 'bench-db/acct-0001' },
    source: '127.0.0.1',
    reason: 'bench: audit appends',
    requestId: randomUUID(),
    details: { version: 1 },
  };
}

/** The upper bound: the same rows, no hashing or chaining, one transaction, one flush. */
async function plainInserts(file: string, count: number): Promise<number> {
  const store = await openStore({ kind: 'sqlite', file }); // the same schema as the subject
  await store.close();
  const database = new BetterSqlite3(file);
  try {
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    const insert = database.prepare(
      `insert into audit_events (seq, id, at, actor_id, actor_name, action, object_type, object_id,
         object_name, outcome, source, reason, request_id, details, prev_hash, hash)
       values (?, ?, ?, ?, ?, 'secret.reveal', 'account', ?, 'bench-db/acct-0001', 'success',
         '127.0.0.1', 'bench: audit appends', ?, '{"version":1}', ?, ?)`,
    );
    const hash = '0'.repeat(64);
    const actor = randomUUID();
    const started = performance.now();
    database.transaction(() => {
      for (let seq = 1; seq <= count; seq++) {
        insert.run(
          seq,
          randomUUID(),
          Date.now(),
          actor,
          'caller',
          randomUUID(),
          randomUUID(),
          hash,
          hash,
        );
      }
    })();
    flushWal(file);
    return (performance.now() - started) / 1000;
  } finally {
    database.close();
  }
}

function flushWal(file: string): void {
  const wal = openSync(`${file}-wal`, 'r+');
  try {
    fdatasyncSync(wal);
  } finally {
    closeSync(wal);
  }
}

function report(appended: Appended, plainSeconds: number): BenchReport {
  const perSecond = appended.events / appended.seconds;
  const plainPerSecond = appended.events / plainSeconds;
  return {
    name: 'audit-append',
    title:
      `record() from ${IN_FLIGHT} concurrent callers, ` +
      `${DURATION_S} s after ${WARMUP_S} s warm-up`,
    measurements: [
      {
        subject: 'durable appends',
        value: perSecond,
        unit: 'events/s',
        baseline: { label: 'plain INSERTs, one transaction', value: plainPerSecond },
        better: 'higher',
      },
    ],
    goals: [
      {
        goal: `≥ ${GOAL_PER_SECOND.toLocaleString('en')} durable appends/s`,
        measured:
          `${perSecond.toFixed(0)} ` +
          `(${ratio(perSecond, plainPerSecond).toFixed(2)}× the plain bound)`,
        met: perSecond >= GOAL_PER_SECOND,
      },
    ],
    notes: [
      `${appended.events} events appended in ${appended.seconds.toFixed(2)} ` +
        `s; the same count of plain INSERTs took ${plainSeconds.toFixed(2)} s`,
    ],
  };
}
