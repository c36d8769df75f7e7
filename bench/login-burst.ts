/**
 * Benchmark 5: a burst of logins must not stall other work. Password hashing (argon2id, 19 MiB)
 * runs on libuv's thread pool; this measures the event loop's delay and the health route's
 * latency while 200 logins are in flight, next to the same measurements with no logins.
 */
import http from 'node:http';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { startServer } from '../src/server.ts';
import { tempDir } from './support/places.ts';
import type { BenchContext, Benchmark, BenchReport } from './support/report.ts';
import { ratio } from './support/report.ts';
import { quietLogger } from './support/silent-logger.ts';

const LOGINS = 200;
/** Logins are spread over this many users, each from LOGINS / USERS loopback addresses. */
const USERS = 20;
const PROBES = 400;
const ROOT_TOKEN = 'tsr_bench-login-burst-root-token';
const PASSWORD = 'a long bench passphrase';
/** The loop may lag this much under a login burst before the burst counts as a stall. */
const GOAL_LOOP_DELAY_P99_MS = 20;

export const loginBurst: Benchmark = {
  name: 'login-burst',
  title: 'a burst of logins next to other work',
  run,
};

interface Window {
  readonly loopP99Ms: number;
  readonly loopMaxMs: number;
  readonly healthP99Ms: number;
  readonly seconds: number;
}

async function run(context: BenchContext): Promise<BenchReport> {
  const dir = tempDir('logins');
  const server = await startServer(
    {
      dataDir: dir.path,
      host: '127.0.0.1',
      port: 0,
      databaseUrl: null,
      dev: true,
      devRootToken: ROOT_TOKEN,
      schedulerIntervalMs: 3_600_000,
      checkpointIntervalMs: 1_000,
    },
    { logger: quietLogger(), banner: () => undefined },
  );
  try {
    for (let n = 0; n < USERS; n++) {
      const user = { name: userName(n), role: 'user', password: PASSWORD };
      await call(server.url, 'POST', '/v1/users', user);
    }
    context.log('health probes with no logins');
    const idle = await measure(server.url, async () => undefined);
    context.log(`health probes while ${LOGINS} logins run`);
    const burst = await measure(server.url, () => logins(server.url));
    return report(idle, burst);
  } finally {
    await server.close();
    dir.remove();
  }
}

/** Probes health one request at a time while `load` runs, and records the loop's delay. */
async function measure(url: string, load: () => Promise<unknown>): Promise<Window> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const started = performance.now();
  const loading = load();
  const latencies: number[] = [];
  for (let i = 0; i < PROBES; i++) {
    const t = performance.now();
    await call(url, 'GET', '/v1/health');
    latencies.push(performance.now() - t);
  }
  await loading;
  histogram.disable();
  latencies.sort((a, b) => a - b);
  return {
    loopP99Ms: histogram.percentile(99) / 1e6,
    loopMaxMs: histogram.max / 1e6,
    healthP99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? Number.NaN,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * The burst comes from many people on many loopback addresses, as a real one would: one user on
 * one address would meet the login throttle and the per-source limit long before the hasher.
 */
function logins(url: string): Promise<unknown> {
  return Promise.all(
    Array.from({ length: LOGINS }, (_, i) => {
      const body = { user: userName(i % USERS), password: PASSWORD };
      const source = `127.0.0.${2 + Math.floor(i / USERS)}`;
      return call(url, 'POST', '/v1/auth/login', body, source);
    }),
  );
}

const userName = (n: number) => `burst${n}`;

function call(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  localAddress?: string,
): Promise<void> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = http.request(
      url + path,
      {
        method,
        agent: false,
        ...(localAddress === undefined ? {} : { localAddress }),
        headers: {
          authorization: `Bearer ${ROOT_TOKEN}`,
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (response) => {
        response.resume();
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else reject(new Error(`${method} ${path} answered ${status}`));
        });
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

function report(idle: Window, burst: Window): BenchReport {
  return {
    name: loginBurst.name,
    title: loginBurst.title,
    measurements: [
      {
        subject: 'loop delay p99, logins',
        value: burst.loopP99Ms,
        unit: 'ms',
        baseline: { label: 'loop delay p99, idle', value: idle.loopP99Ms },
        better: 'lower',
      },
      {
        subject: 'health p99, logins',
        value: burst.healthP99Ms,
        unit: 'ms',
        baseline: { label: 'health p99, idle', value: idle.healthP99Ms },
        better: 'lower',
      },
    ],
    goals: [
      {
        goal: `loop delay p99 under ${GOAL_LOOP_DELAY_P99_MS} ms during ${LOGINS} logins`,
        measured: `${burst.loopP99Ms.toFixed(2)} ms`,
        met: burst.loopP99Ms < GOAL_LOOP_DELAY_P99_MS,
      },
    ],
    notes: [
      `${LOGINS} logins and ${PROBES} health probes in ${burst.seconds.toFixed(1)} s; ` +
        `loop delay max ${burst.loopMaxMs.toFixed(1)} ms (idle ${idle.loopMaxMs.toFixed(1)} ms)`,
      `the health ratio is ${ratio(burst.healthP99Ms, idle.healthP99Ms).toFixed(2)}: ` +
        'probes share the thread pool and the loop with the burst',
    ],
  };
}
