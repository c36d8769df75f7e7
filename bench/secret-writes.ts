/**
 * Benchmark 2: durable secret writes. Concurrent onboarding through the API: each request is one
 * transaction holding the account, its encrypted first version and the audit event, answered only
 * after the flush. Compared with the ceiling of flushing every row on its own: a bare
 * better-sqlite3 loop of one INSERT and one fdatasync of the write-ahead log per row.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fdatasyncSync, openSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { apiClient } from './support/api.ts';
import { createSafeAndTarget, SAFE, TARGET, UNUSED_TARGET } from './support/fixture.ts';
import { type LoadResult, runHttpLoad } from './support/http-load.ts';
import { tempDir } from './support/places.ts';
import type { BenchContext, Benchmark, BenchReport } from './support/report.ts';
import { ratio } from './support/report.ts';
import { spawnServer } from './support/server-process.ts';

const CONNECTIONS = 64;
const DURATION_S = 10;
const WARMUP_S = 2;
const BASELINE_S = 5;
const GOAL_PER_SECOND = 5_000;
const SECRET_BYTES = 24;

export const secretWrites: Benchmark = {
  name: 'writes',
  title: 'durable secret writes (onboarding) per second',
  run,
};

async function run(context: BenchContext): Promise<BenchReport> {
  context.log('onboarding through the API');
  const onboarding = await loadOnboarding(context);
  context.log('single-row fsync loop');
  const ceiling = singleRowFsyncLoop();
  return report(onboarding, ceiling);
}

async function loadOnboarding(context: BenchContext): Promise<LoadResult> {
  const dir = tempDir('writes');
  try {
    const server = await spawnServer({
      dataDir: dir.path,
      databaseUrl: null,
      audit: 'on',
      profileDir: context.profileDir,
    });
    try {
      const api = apiClient(server.url, server.rootToken);
      await createSafeAndTarget(api, UNUSED_TARGET);
      return await runHttpLoad({
        url: server.url,
        method: 'POST',
        paths: [`/v1/targets/${TARGET}/accounts`],
        headers: { authorization: `Bearer ${server.rootToken}` },
        body: freshAccount(),
        connections: CONNECTIONS,
        durationS: DURATION_S,
        warmupS: WARMUP_S,
      });
    } finally {
      await server.stop();
    }
  } finally {
    dir.remove();
  }
}

/** A new username for every request, so each one is a real insert and none a conflict. */
function freshAccount(): () => string {
  const run = randomBytes(4).toString('hex');
  let next = 0;
  return () =>
    JSON.stringify({
      username: `w-${run}-${next++}`,
      safe: SAFE,
      secret: randomBytes(SECRET_BYTES).toString('base64url'),
    });
}

interface LoopResult {
  readonly perSecond: number;
  readonly rows: number;
}

/** The single-row fsync ceiling: WAL, one INSERT, one fdatasync of the WAL, for a fixed time. */
function singleRowFsyncLoop(): LoopResult {
  const dir = tempDir('fsync');
  const file = path.join(dir.path, 'ceiling.db');
  const database = new BetterSqlite3(file);
  try {
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    database.exec('create table rows (id integer primary key, account text, secret blob)');
    const insert = database.prepare('insert into rows (account, secret) values (?, ?)');
    insert.run('first', randomBytes(SECRET_BYTES));
    const wal = openSync(`${file}-wal`, 'r+');
    try {
      return timedLoop(() => {
        insert.run(randomBytes(8).toString('hex'), randomBytes(SECRET_BYTES));
        fdatasyncSync(wal);
      });
    } finally {
      closeSync(wal);
    }
  } finally {
    database.close();
    dir.remove();
  }
}

function timedLoop(step: () => void): LoopResult {
  const started = performance.now();
  const until = started + BASELINE_S * 1000;
  let rows = 0;
  while (performance.now() < until) {
    step();
    rows += 1;
  }
  return { perSecond: rows / ((performance.now() - started) / 1000), rows };
}

function report(onboarding: LoadResult, ceiling: LoopResult): BenchReport {
  return {
    name: 'writes',
    title: `onboarding, ${CONNECTIONS} connections, ${DURATION_S} s after ${WARMUP_S} s warm-up`,
    measurements: [
      {
        subject: 'durable onboardings',
        value: onboarding.perSecond,
        unit: 'writes/s',
        baseline: { label: 'INSERT + fdatasync per row', value: ceiling.perSecond },
        better: 'higher',
      },
    ],
    goals: [
      {
        goal: `≥ ${GOAL_PER_SECOND.toLocaleString('en')} durable writes/s`,
        measured:
          `${onboarding.perSecond.toFixed(0)} ` +
          `(${ratio(onboarding.perSecond, ceiling.perSecond).toFixed(2)}× the single-row ceiling)`,
        met: onboarding.perSecond >= GOAL_PER_SECOND,
      },
    ],
    notes: [
      `onboarding: ${onboarding.ok} ok, ${onboarding.failed} failed, ` +
        `p50 ${onboarding.p50Ms} ms, p99 ${onboarding.p99Ms} ms`,
      `single-row loop: ${ceiling.rows} rows in ${BASELINE_S} ` +
        `s, in this process with the server stopped`,
    ],
  };
}
