/**
 * Benchmark 1: secret reads through the API. A member with `retrieve` reveals secrets with a
 * reason: token check, access decision, decrypt, and an audit event on disk before the reply.
 * Compared with the same route on a server whose audit trail writes nothing, and with the bare
 * health route, each on its own server process while autocannon runs in this one.
 */
import { apiClient } from './support/api.ts';
import { setupRevealFixture } from './support/fixture.ts';
import { type LoadResult, runHttpLoad } from './support/http-load.ts';
import { type BenchDatabase, createBenchDatabase, tempDir } from './support/places.ts';
import type { BenchContext, Benchmark, BenchReport, GoalCheck } from './support/report.ts';
import { ratio } from './support/report.ts';
import { spawnServer } from './support/server-process.ts';

const ACCOUNTS = 100;
const CONNECTIONS = 64;
const DURATION_S = 10;
const WARMUP_S = 2;
const GOAL_PER_SECOND = 12_000;
const GOAL_AUDIT_RATIO = 0.8;
const REASON_BODY = JSON.stringify({ reason: 'bench: reading under load' });

type StoreKind = 'sqlite' | 'postgres';

interface Runs {
  readonly reveal: LoadResult;
  readonly revealAuditOff: LoadResult;
  readonly health: LoadResult;
}

export const secretReadsSqlite: Benchmark = {
  name: 'reads',
  title: 'secret reads through the API (SQLite store)',
  run: (context) => secretReads('sqlite', context),
};

export const secretReadsPostgres: Benchmark = {
  name: 'reads-pg',
  title: 'secret reads through the API (PostgreSQL store)',
  run: (context) => secretReads('postgres', context),
};

async function secretReads(store: StoreKind, context: BenchContext): Promise<BenchReport> {
  context.log(`reveal with audit on (${store})`);
  const on = await withServer(store, 'on', context, async (url, fixture) => ({
    reveal: await loadReveal(url, fixture),
    health: await loadHealth(url),
  }));
  context.log(`reveal with audit off (${store})`);
  const off = await withServer(store, 'off', context, async (url, fixture) =>
    loadReveal(url, fixture),
  );
  return report(store, { reveal: on.reveal, health: on.health, revealAuditOff: off });
}

type Fixture = Awaited<ReturnType<typeof setupRevealFixture>>;

/** Starts a server on a fresh store, fills it, runs `work`, and removes every trace. */
async function withServer<T>(
  store: StoreKind,
  audit: 'on' | 'off',
  context: BenchContext,
  work: (url: string, fixture: Fixture) => Promise<T>,
): Promise<T> {
  const dir = tempDir(`reads-${audit}`);
  let database: BenchDatabase | null = null;
  try {
    if (store === 'postgres') database = await createBenchDatabase();
    const server = await spawnServer({
      dataDir: dir.path,
      databaseUrl: database?.url ?? null,
      audit,
      profileDir: audit === 'on' ? context.profileDir : null,
    });
    try {
      const fixture = await setupRevealFixture(apiClient(server.url, server.rootToken), ACCOUNTS);
      return await work(server.url, fixture);
    } finally {
      await server.stop();
    }
  } finally {
    await database?.drop();
    dir.remove();
  }
}

function loadReveal(url: string, fixture: Fixture): Promise<LoadResult> {
  return runHttpLoad({
    url,
    method: 'POST',
    paths: fixture.paths,
    headers: { authorization: `Bearer ${fixture.readerToken}` },
    body: REASON_BODY,
    connections: CONNECTIONS,
    durationS: DURATION_S,
    warmupS: WARMUP_S,
  });
}

function loadHealth(url: string): Promise<LoadResult> {
  return runHttpLoad({
    url,
    method: 'GET',
    paths: ['/v1/health'],
    connections: CONNECTIONS,
    durationS: DURATION_S,
    warmupS: WARMUP_S,
  });
}

function report(store: StoreKind, runs: Runs): BenchReport {
  const { reveal, revealAuditOff, health } = runs;
  const auditRatio = ratio(reveal.perSecond, revealAuditOff.perSecond);
  const goals: GoalCheck[] = [
    {
      goal: `reveal ≥ ${GOAL_AUDIT_RATIO} of audit-off (${store})`,
      measured: auditRatio.toFixed(3),
      met: auditRatio >= GOAL_AUDIT_RATIO,
    },
    {
      goal: `reveal ≥ ${GOAL_PER_SECOND.toLocaleString('en')} reads/s (${store})`,
      measured: reveal.perSecond.toFixed(0),
      met: reveal.perSecond >= GOAL_PER_SECOND,
    },
  ];
  return {
    name: store === 'sqlite' ? 'reads' : 'reads-pg',
    title:
      `secret reads, ${CONNECTIONS} connections, ` +
      `${DURATION_S} s after ${WARMUP_S} s warm-up (${store})`,
    measurements: [
      rate('reveal', reveal, 'reveal, audit off', revealAuditOff),
      p99('reveal p99', reveal, 'reveal p99, audit off', revealAuditOff),
      rate('reveal', reveal, 'GET /v1/health', health),
      p99('reveal p99', reveal, 'GET /v1/health p99', health),
    ],
    goals,
    notes: [
      runNote('reveal', reveal),
      runNote('audit off', revealAuditOff),
      runNote('health', health),
    ],
  };
}

function rate(subject: string, value: LoadResult, label: string, baseline: LoadResult) {
  return {
    subject,
    value: value.perSecond,
    unit: 'req/s',
    baseline: { label, value: baseline.perSecond },
    better: 'higher' as const,
  };
}

function p99(subject: string, value: LoadResult, label: string, baseline: LoadResult) {
  return {
    subject,
    value: value.p99Ms,
    unit: 'ms',
    baseline: { label, value: baseline.p99Ms },
    better: 'lower' as const,
  };
}

function runNote(label: string, run: LoadResult): string {
  return `${label}: ${run.ok} ok, ${run.failed} failed, p50 ${run.p50Ms} ms, ${run.durationS} s`;
}
