/**
 * Benchmark 4: rotating 500 PostgreSQL roles through the rotation engine, each verified by a
 * fresh login, on a throw-away cluster. The baseline is a bare script doing the same work per
 * role at the same concurrency: log in, ALTER ROLE with a SCRAM verifier computed here, log in
 * again with the new password. Each side has its own 500 roles, so each knows its passwords.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Account } from '../src/accounts/account.ts';
import { SYSTEM_CONTEXT } from '../src/audit/event.ts';
import { CONNECT_TIMEOUT_MS } from '../src/connectors/connector.ts';
import { scramSha256Verifier } from '../src/connectors/postgresql.ts';
import { type RunningServer, startServer } from '../src/server.ts';
import { type PgCluster, startPgCluster } from '../test/support/pg-cluster.ts';
import { apiClient, inPool } from './support/api.ts';
import { createSafeAndTarget, onboardAccounts } from './support/fixture.ts';
import { tempDir } from './support/places.ts';
import type {
  BenchContext,
  Benchmark,
  BenchReport,
  GoalCheck,
  Measurement,
} from './support/report.ts';
import { ratio } from './support/report.ts';
import { quietLogger } from './support/silent-logger.ts';

const ROLES = 500;
const CONCURRENCY = [8, 16, 32] as const;
const GOAL_SECONDS = 3;
const GOAL_RATIO = 0.9;
const ROLE_BATCH = 100;

export const rotation: Benchmark = {
  name: 'rotation',
  title: `rotate ${ROLES} PostgreSQL roles, each verified by a fresh login`,
  run,
};

interface Role {
  readonly name: string;
  password: string;
}

interface Level {
  readonly concurrency: number;
  readonly tesseraSeconds: number;
  readonly bareSeconds: number;
  readonly failures: number;
}

async function run(context: BenchContext): Promise<BenchReport> {
  context.log('starting a throw-away PostgreSQL cluster');
  const cluster = await startPgCluster();
  try {
    const tag = randomBytes(3).toString('hex');
    const tesseraRoles = makeRoles(`bench_t${tag}`);
    const bareRoles = makeRoles(`bench_b${tag}`);
    context.log(`creating ${ROLES * 2} roles`);
    await createRoles(cluster, [...tesseraRoles, ...bareRoles]);
    try {
      return await withTessera(cluster, async (server) => {
        const accounts = await onboard(server, tesseraRoles);
        const levels: Level[] = [];
        for (const concurrency of CONCURRENCY) {
          context.log(`concurrency ${concurrency}: bare script, then the rotation engine`);
          levels.push(await runLevel(server, cluster, accounts, bareRoles, concurrency));
        }
        return report(levels);
      });
    } finally {
      await dropRoles(cluster, [...tesseraRoles, ...bareRoles]);
    }
  } finally {
    await cluster.stop();
  }
}

function makeRoles(prefix: string): Role[] {
  return Array.from({ length: ROLES }, (_, i) => ({
    name: `${prefix}_${i}`,
    password: randomBytes(18).toString('base64url'),
  }));
}

/** Many statements per call: the helper opens one superuser session per call. */
async function createRoles(cluster: PgCluster, roles: readonly Role[]): Promise<void> {
  for (let i = 0; i < roles.length; i += ROLE_BATCH) {
    const statements = roles
      .slice(i, i + ROLE_BATCH)
      .map(
        (r) =>
          `CREATE ROLE ${pg.escapeIdentifier(r.name)} ` +
          `LOGIN PASSWORD ${pg.escapeLiteral(r.password)};`,
      );
    await cluster.query(statements.join('\n'));
  }
}

async function dropRoles(cluster: PgCluster, roles: readonly Role[]): Promise<void> {
  for (let i = 0; i < roles.length; i += ROLE_BATCH) {
    const statements = roles
      .slice(i, i + ROLE_BATCH)
      .map((r) => `DROP ROLE IF EXISTS ${pg.escapeIdentifier(r.name)};`);
    await cluster.query(statements.join('\n'));
  }
}

/** A Tessera server in this process: the engine is called directly, not through HTTP. */
async function withTessera<T>(
  cluster: PgCluster,
  work: (server: RunningServer & { rootToken: string }) => Promise<T>,
): Promise<T> {
  const dir = tempDir('rotation');
  const rootToken = `tsr_${randomBytes(24).toString('base64url')}`;
  try {
    const server = await startServer(
      {
        dataDir: dir.path,
        host: '127.0.0.1',
        port: 0,
        databaseUrl: null,
        dev: true,
        devRootToken: rootToken,
        schedulerIntervalMs: 15_000,
        checkpointIntervalMs: 1_000,
      },
      { logger: quietLogger(), banner: () => {} },
    );
    try {
      await createSafeAndTarget(apiClient(server.url, rootToken), {
        host: cluster.host,
        port: cluster.port,
        database: 'postgres',
      });
      return await work({ ...server, rootToken });
    } finally {
      await server.close();
    }
  } finally {
    dir.remove();
  }
}

async function onboard(
  server: RunningServer & { rootToken: string },
  roles: readonly Role[],
): Promise<Account[]> {
  const api = apiClient(server.url, server.rootToken);
  const ids = await onboardAccounts(
    api,
    roles.map((r) => ({ username: r.name, secret: r.password })),
  );
  const { accounts, store } = server.services;
  return Promise.all(ids.map((id) => accounts.reload(store.db, id)));
}

async function runLevel(
  server: RunningServer,
  cluster: PgCluster,
  accounts: readonly Account[],
  bareRoles: Role[],
  concurrency: number,
): Promise<Level> {
  const bareSeconds = await timed(() =>
    inPool(bareRoles, concurrency, (role) => bareRotate(cluster, role)),
  );
  let failures = 0;
  const tesseraSeconds = await timed(() =>
    inPool(accounts, concurrency, async (account) => {
      try {
        await server.services.rotation.rotate(SYSTEM_CONTEXT, account, 'manual');
      } catch {
        failures += 1; // counted and reported; a failed rotation makes the level invalid
      }
    }),
  );
  return { concurrency, tesseraSeconds, bareSeconds, failures };
}

/** What the engine does per role, without the vault: log in, change, log in with the new value. */
async function bareRotate(cluster: PgCluster, role: Role): Promise<void> {
  const next = randomBytes(24).toString('base64url');
  const verifier = await scramSha256Verifier(next);
  await withSession(cluster, role.name, role.password, (client) =>
    client.query(
      `ALTER ROLE ${pg.escapeIdentifier(role.name)} PASSWORD ${pg.escapeLiteral(verifier)}`,
    ),
  );
  await withSession(cluster, role.name, next, (client) => client.query('SELECT 1'));
  role.password = next;
}

async function withSession(
  cluster: PgCluster,
  user: string,
  password: string,
  work: (client: pg.Client) => Promise<unknown>,
): Promise<void> {
  const client = new pg.Client({
    host: cluster.host,
    port: cluster.port,
    database: 'postgres',
    user,
    password,
    ssl: false,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

function report(levels: readonly Level[]): BenchReport {
  const measurements: Measurement[] = levels.map((level) => ({
    subject: `rotate ${ROLES}, concurrency ${level.concurrency}`,
    value: ROLES / level.tesseraSeconds,
    unit: 'roles/s',
    baseline: {
      label: `bare script, concurrency ${level.concurrency}`,
      value: ROLES / level.bareSeconds,
    },
    better: 'higher',
  }));
  const best = [...levels].sort((a, b) => a.tesseraSeconds - b.tesseraSeconds)[0];
  const goals: GoalCheck[] = best === undefined ? [] : goalsFor(best);
  const failures = levels.reduce((sum, level) => sum + level.failures, 0);
  return {
    name: 'rotation',
    title: `rotation of ${ROLES} roles on a throw-away cluster`,
    measurements,
    goals,
    notes: [
      ...levels.map(
        (l) =>
          `concurrency ${l.concurrency}: engine ${l.tesseraSeconds.toFixed(2)} ` +
          `s, bare ${l.bareSeconds.toFixed(2)} s, ${l.failures} failed`,
      ),
      failures > 0
        ? `${failures} rotations FAILED: the figures above are not valid`
        : 'every rotation succeeded',
    ],
  };
}

function goalsFor(best: Level): GoalCheck[] {
  const rate = ratio(best.bareSeconds, best.tesseraSeconds);
  return [
    {
      goal: `${ROLES} rotations in < ${GOAL_SECONDS} s (best concurrency: ${best.concurrency})`,
      measured: `${best.tesseraSeconds.toFixed(2)} s`,
      met: best.tesseraSeconds < GOAL_SECONDS && best.failures === 0,
    },
    {
      goal: `≥ ${GOAL_RATIO} of the bare script's rate (concurrency ${best.concurrency})`,
      measured: rate.toFixed(3),
      met: rate >= GOAL_RATIO,
    },
  ];
}
