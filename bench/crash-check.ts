/**
 * Crash check for benchmark 1: every reveal the server acknowledged must have its audit event
 * in the store after the server is killed mid-load. SIGKILL ends the process at once, so this
 * proves the ordering (the reply leaves only after the event is committed and flushed); it cannot
 * prove the flush itself survives a power cut, which needs the disk to lose its cache.
 */
import http from 'node:http';
import path from 'node:path';
import { openStore } from '../src/store/store.ts';
import { apiClient } from './support/api.ts';
import { type RevealFixture, setupRevealFixture } from './support/fixture.ts';
import { tempDir } from './support/places.ts';
import type { BenchContext, Benchmark, BenchReport } from './support/report.ts';
import { type ServerProcess, spawnServer } from './support/server-process.ts';

const ACCOUNTS = 100;
const CONCURRENCY = 64;
/** Load runs this long before the kill: long enough for thousands of acknowledged reveals. */
const KILL_AFTER_MS = 2_000;
/** A worker stops by itself at this point even if the kill never lands. */
const MAX_RUN_MS = 10_000;
const REQUEST_TIMEOUT_MS = 5_000;
const BODY = JSON.stringify({ reason: 'bench: crash check' });

export const crashCheck: Benchmark = {
  name: 'crash',
  title: 'acknowledged reveals survive a SIGKILL with their audit events',
  run,
};

interface LoadOutcome {
  /** `x-request-id` of every reveal answered 200 with its whole body. */
  readonly acknowledged: string[];
  /** Requests cut off by the kill (connection reset or refused). */
  readonly interrupted: number;
  readonly otherStatus: number;
}

async function run(context: BenchContext): Promise<BenchReport> {
  const dir = tempDir('crash');
  try {
    const server = await spawnServer({ dataDir: dir.path, databaseUrl: null, audit: 'on' });
    let outcome: LoadOutcome;
    try {
      const fixture = await setupRevealFixture(apiClient(server.url, server.rootToken), ACCOUNTS);
      context.log(`revealing with ${CONCURRENCY} connections, SIGKILL after ${KILL_AFTER_MS} ms`);
      outcome = await loadUntilKilled(server, fixture);
    } finally {
      await server.kill();
    }
    const missing = await missingEvents(path.join(dir.path, 'tessera.db'), outcome.acknowledged);
    return report(outcome, missing);
  } finally {
    dir.remove();
  }
}

async function loadUntilKilled(server: ServerProcess, fixture: RevealFixture) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const outcome = { acknowledged: [] as string[], interrupted: 0, otherStatus: 0 };
  const deadline = Date.now() + MAX_RUN_MS;
  let next = 0;
  const worker = async () => {
    while (Date.now() < deadline) {
      const path = fixture.paths[next++ % fixture.paths.length] ?? '';
      const answer = await reveal(server.url, path, fixture.readerToken, agent);
      if (answer === null) {
        outcome.interrupted += 1;
        return; // the server is gone
      }
      if (answer.status === 200 && answer.requestId !== null) {
        outcome.acknowledged.push(answer.requestId);
      } else outcome.otherStatus += 1;
    }
  };
  const workers = Array.from({ length: CONCURRENCY }, worker);
  const killer = new Promise<void>((resolve) => setTimeout(resolve, KILL_AFTER_MS)).then(() =>
    server.kill(),
  );
  await Promise.all([...workers, killer]);
  agent.destroy();
  return outcome;
}

interface Answer {
  readonly status: number;
  readonly requestId: string | null;
}

/** One reveal; resolves only once the whole reply arrived, or null if the connection broke. */
function reveal(base: string, path: string, token: string, agent: http.Agent) {
  return new Promise<Answer | null>((resolve) => {
    const request = http.request(
      `${base}${path}`,
      {
        method: 'POST',
        agent,
        timeout: REQUEST_TIMEOUT_MS,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      },
      (response) => {
        const header = response.headers['x-request-id'];
        const requestId = typeof header === 'string' ? header : null;
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode ?? 0, requestId }));
        response.on('error', () => resolve(null));
      },
    );
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(null));
    request.end(BODY);
  });
}

/** Opens the killed server's store, as the next start would, and looks for every request id. */
async function missingEvents(file: string, acknowledged: readonly string[]): Promise<number> {
  const store = await openStore({ kind: 'sqlite', file });
  try {
    const rows = await store.db
      .selectFrom('audit_events')
      .select('request_id')
      .where('action', '=', 'secret.reveal')
      .where('outcome', '=', 'success')
      .execute();
    const audited = new Set(rows.map((row) => row.request_id));
    return acknowledged.filter((id) => !audited.has(id)).length;
  } finally {
    await store.close();
  }
}

function report(outcome: LoadOutcome, missing: number): BenchReport {
  const acknowledged = outcome.acknowledged.length;
  const found = acknowledged - missing;
  return {
    name: 'crash',
    title: 'acknowledged reveals vs their audit events after SIGKILL',
    measurements: [
      {
        subject: 'acknowledged reveals with an audit event',
        value: found,
        unit: 'events',
        baseline: { label: 'acknowledged reveals (200)', value: acknowledged },
        better: 'higher',
      },
    ],
    goals: [
      {
        goal: 'no acknowledged reveal without its audit event',
        measured: `${missing} missing of ${acknowledged}`,
        met: missing === 0 && acknowledged > 0,
      },
    ],
    notes: [
      `${acknowledged} acknowledged, ${missing} missing, ${outcome.interrupted} ` +
        `cut off by the kill, ${outcome.otherStatus} other statuses`,
      'SIGKILL proves reply-after-commit ordering; surviving a power cut also needs the ' +
        'fsync, which this cannot show',
    ],
  };
}
