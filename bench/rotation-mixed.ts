/**
 * Benchmark: rotating a mixed estate (2/5 PostgreSQL roles, 3/10 MariaDB accounts, 1/5 Linux
 * users over SSH, 1/10 LDAP entries) on real servers started for the run, through one bulk run
 * of Tessera's API per size, each change verified by a fresh login. The baseline, in the same
 * run, rotates the same accounts with the same connector calls and concurrency limits and
 * nothing else (bench/support/bare-rotation.ts). A third part kills a Tessera child process
 * half-way through a run and checks, after the restart, that vault and targets agree.
 *
 * TESSERA_BENCH_MIXED_SIZES (default `500,5000`) picks the sizes; the crash part always uses the
 * first. TESSERA_BENCH_MIXED_PER_TARGET (default 4, the policy default) sets maxPerTarget.
 */
import { randomBytes } from 'node:crypto';
import { DEFAULT_POLICY_SETTINGS, MAX_PER_TARGET_LIMIT } from '../src/accounts/policies.ts';
import type { Connector } from '../src/connectors/connector.ts';
import { createConnectors } from '../src/connectors/platforms.ts';
import { type RunningServer, startServer } from '../src/server.ts';
import { type Api, apiClient } from './support/api.ts';
import { bareRotateAll, type ItemOutcome, type RotationTiming } from './support/bare-rotation.ts';
import { startCpuMeter } from './support/cpu-meter.ts';
import { startLdapFleet } from './support/fleet-ldap.ts';
import { startLinuxFleet } from './support/fleet-linux.ts';
import { startMariadbFleet } from './support/fleet-mariadb.ts';
import { startPostgresqlFleet } from './support/fleet-postgresql.ts';
import { type CrashResult, crashRun } from './support/mixed-crash.ts';
import { type Fleet, PLATFORMS, type Platform, runTag } from './support/mixed-fleet.ts';
import { mixedReport, type SizeResult } from './support/mixed-report.ts';
import {
  onboard,
  prepareTessera,
  type RunView,
  startRun,
  waitForRun,
} from './support/mixed-tessera.ts';
import { tempDir } from './support/places.ts';
import type { BenchContext, Benchmark, BenchReport } from './support/report.ts';
import { quietLogger } from './support/silent-logger.ts';

/** Accounts per platform in every 500. */
const SHARE: Readonly<Record<Platform, number>> = {
  postgresql: 200,
  mariadb: 150,
  linux: 100,
  ldap: 50,
};
const UNIT = 500;
/** The policy's secret rules are the defaults; only the per-target limit is the bench's. */
const DEFAULT_PER_TARGET = 4;

export const rotationMixed: Benchmark = {
  name: 'rotation-mixed',
  title: 'rotate a mixed estate (PostgreSQL, MariaDB, Linux, LDAP) next to a bare script',
  run,
};

interface Settings {
  readonly sizes: readonly number[];
  readonly maxPerTarget: number;
  readonly connectors: ReadonlyMap<string, Connector>;
}

async function run(context: BenchContext): Promise<BenchReport> {
  const connectors = createConnectors();
  const settings: Settings = {
    sizes: parseSizes(process.env.TESSERA_BENCH_MIXED_SIZES ?? '500,5000'),
    maxPerTarget: parsePerTarget(process.env.TESSERA_BENCH_MIXED_PER_TARGET),
    connectors,
  };
  const platforms = PLATFORMS.filter((p) => connectors.has(p));

  context.log(`starting ${platforms.join(', ')} targets`);
  const fleets = await startFleets(platforms, runTag());
  try {
    const measured = await withTessera((server, api) =>
      measureSizes(server, api, fleets, settings, context),
    );
    return mixedReport({ ...measured, maxPerTarget: settings.maxPerTarget, platforms });
  } finally {
    context.log('removing the targets and everything created on them');
    await Promise.allSettled(fleets.map((fleet) => fleet.close()));
  }
}

/** Each size in turn: the fleets grow, then both sides rotate every account once. */
async function measureSizes(
  server: RunningServer,
  api: Api,
  fleets: readonly Fleet[],
  settings: Settings,
  context: BenchContext,
): Promise<{ results: SizeResult[]; crash: CrashResult | null }> {
  const { connectors, maxPerTarget } = settings;
  await prepareTessera(api, fleets, maxPerTarget);
  const onboarded = new Map<string, number>();
  const results: SizeResult[] = [];
  let crash: CrashResult | null = null;
  for (const [index, size] of settings.sizes.entries()) {
    await grow(fleets, size, context);
    // The sides take turns going first, so that neither always meets warm servers.
    const bareFirst = index % 2 === 0;
    const before = bareFirst ? await bareSide(fleets, settings, context) : null;
    if (index === 0) {
      context.log(`crash run: ${size} accounts, Tessera killed half-way`);
      crash = await crashRun(fleets, connectors, maxPerTarget, context.log);
    }
    await onboard(api, fleets, onboarded);
    for (const fleet of fleets) onboarded.set(fleet.platform, fleet.accounts.length);
    context.log(`${size} accounts: Tessera bulk run`);
    const tessera = await tesseraSide(server, api);
    const bare = before ?? (await bareSide(fleets, settings, context));
    results.push({ size, tessera, bare, counts: countsOf(fleets) });
  }
  return { results, crash };
}

function parsePerTarget(text: string | undefined): number {
  const value = Number(text ?? DEFAULT_PER_TARGET);
  if (!Number.isInteger(value) || value < 1 || value > MAX_PER_TARGET_LIMIT) {
    throw new Error(
      `TESSERA_BENCH_MIXED_PER_TARGET: a whole number from 1 to ${MAX_PER_TARGET_LIMIT}`,
    );
  }
  return value;
}

function parseSizes(text: string): number[] {
  const sizes = text.split(',').map((s) => Number(s.trim()));
  if (sizes.some((s) => !Number.isInteger(s) || s < UNIT || s % UNIT !== 0)) {
    throw new Error('TESSERA_BENCH_MIXED_SIZES: whole multiples of 500, comma separated');
  }
  return sizes;
}

async function startFleets(platforms: readonly Platform[], tag: string): Promise<Fleet[]> {
  const starters: Record<Platform, (tag: string) => Promise<Fleet>> = {
    postgresql: startPostgresqlFleet,
    mariadb: startMariadbFleet,
    linux: startLinuxFleet,
    ldap: startLdapFleet,
  };
  const started = await Promise.allSettled(platforms.map((p) => starters[p](tag)));
  const fleets = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed !== undefined) {
    await Promise.allSettled(fleets.map((fleet) => fleet.close()));
    throw failed.reason;
  }
  return fleets;
}

async function grow(fleets: readonly Fleet[], size: number, context: BenchContext) {
  const started = performance.now();
  await Promise.all(fleets.map((fleet) => fleet.grow((SHARE[fleet.platform] * size) / UNIT)));
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  context.log(`${size} accounts set up on the targets in ${seconds} s`);
}

function countsOf(fleets: readonly Fleet[]): Map<Platform, number> {
  return new Map(fleets.map((fleet) => [fleet.platform, fleet.accounts.length]));
}

async function bareSide(
  fleets: readonly Fleet[],
  settings: Settings,
  context: BenchContext,
): Promise<RotationTiming> {
  const total = fleets.reduce((sum, fleet) => sum + fleet.accounts.length, 0);
  context.log(`${total} accounts: bare script`);
  const policy = { secret: DEFAULT_POLICY_SETTINGS.secret, maxPerTarget: settings.maxPerTarget };
  return bareRotateAll(fleets, settings.connectors, policy);
}

/** A Tessera server in this process (SQLite store), as bench/rotation.ts runs it. */
async function withTessera<T>(work: (server: RunningServer, api: Api) => Promise<T>): Promise<T> {
  const dir = tempDir('rotation-mixed');
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
      return await work(server, apiClient(server.url, rootToken));
    } finally {
      await server.close();
    }
  } finally {
    dir.remove();
  }
}

/** One bulk run over the managed safe; the time runs from the request to the run's end. */
async function tesseraSide(server: RunningServer, api: Api): Promise<RotationTiming> {
  const cpu = startCpuMeter();
  const requested = Date.now();
  const { id } = await startRun(api);
  const run = await waitForRun(api, id);
  const used = cpu();
  const finished = run.finishedAt === null ? Date.now() : Date.parse(run.finishedAt);
  return {
    seconds: (finished - requested) / 1000,
    items: await itemOutcomes(server, run, requested),
    errors: run.failures.slice(0, 5).map((f) => `${f.account}: ${f.error}`),
    cpu: used,
  };
}

/** When each item of the run ended, read from the store of the in-process server. */
async function itemOutcomes(
  server: RunningServer,
  run: RunView,
  requested: number,
): Promise<ItemOutcome[]> {
  const rows = await server.services.store.db
    .selectFrom('rotation_run_items')
    .innerJoin('accounts', 'accounts.id', 'rotation_run_items.account_id')
    .innerJoin('targets', 'targets.id', 'accounts.target_id')
    .select(['targets.platform as platform', 'rotation_run_items.state as state'])
    .select('rotation_run_items.finished_at as finishedAt')
    .where('rotation_run_items.run_id', '=', run.id)
    .execute();
  return rows.map((row) => ({
    platform: row.platform as Platform,
    finishedMs: (row.finishedAt ?? Date.now()) - requested,
    ok: row.state === 'succeeded',
  }));
}
