/**
 * The crash part of the mixed rotation benchmark: a Tessera in a child process rotates every
 * managed account in one bulk run, is killed by SIGKILL half-way, and is started again on the
 * same data directory. Once the run has finished, every account's vault value is tried on its
 * target with the connector's own login: none may disagree.
 *
 * The data directory's SQLite file is read (read-only) beside the server only to see which
 * pending versions the crash left and when recovery has settled them.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Connector } from '../../src/connectors/connector.ts';
import { startServerProcess } from '../../test/support/server-process.ts';
import { type Api, apiClient, inPool } from './api.ts';
import { connectorAddress } from './bare-rotation.ts';
import type { Fleet } from './mixed-fleet.ts';
import {
  onboard,
  prepareTessera,
  type RunView,
  readerToken,
  reveal,
  startRun,
  waitForRun,
} from './mixed-tessera.ts';
import { tempDir } from './places.ts';

const CHECK_CONCURRENCY = 8;
const POLL_MS = 25;

export interface CrashResult {
  readonly total: number;
  /** Items the run had finished when the process was killed. */
  readonly doneAtKill: number;
  /** Pending versions (rotations in flight) the crash left behind. */
  readonly pendingAtKill: number;
  /** From the restart until the server listened again. */
  readonly listenSeconds: number;
  /** From the restart until every pending version the crash left was settled. */
  readonly recoverySeconds: number;
  /** From the restart until the resumed run finished. */
  readonly finishSeconds: number;
  readonly run: RunView;
  /** Accounts checked against their target, reconcile accounts included. */
  readonly checked: number;
  /** Accounts whose vault value does not log in on the target. */
  readonly disagreeing: number;
  readonly disagreements: readonly string[];
}

export async function crashRun(
  fleets: readonly Fleet[],
  connectors: ReadonlyMap<string, Connector>,
  maxPerTarget: number,
  log: (line: string) => void,
): Promise<CrashResult> {
  const dir = tempDir('rotation-mixed-crash');
  const rootToken = `tsr_${randomBytes(24).toString('base64url')}`;
  const options = { dataDir: dir.path, rootToken, databaseUrl: null };
  try {
    const first = await startServerProcess(options);
    const api = apiClient(first.url, rootToken);
    await prepareTessera(api, fleets, maxPerTarget);
    await onboard(api, fleets);
    const { id, total } = await startRun(api);
    const atKill = await waitForRun(api, id, (r) => r.succeeded + r.failed >= total / 2);
    first.killNow();
    await first.exited();
    const pending = pendingVersions(dir.path);
    log(`killed after ${atKill.succeeded + atKill.failed}/${total}; ${pending.length} pending`);

    const restarted = performance.now();
    const second = await startServerProcess(options);
    const listenSeconds = (performance.now() - restarted) / 1000;
    try {
      const api2 = apiClient(second.url, rootToken);
      await waitUntil(() => stillPending(dir.path, pending) === 0);
      const recoverySeconds = (performance.now() - restarted) / 1000;
      const run = await waitForRun(api2, id);
      const finishSeconds = (performance.now() - restarted) / 1000;
      const checks = await compareVault(api2, fleets, connectors);
      return {
        total,
        doneAtKill: atKill.succeeded + atKill.failed,
        pendingAtKill: pending.length,
        listenSeconds,
        recoverySeconds,
        finishSeconds,
        run,
        ...checks,
      };
    } finally {
      await second.stop();
    }
  } finally {
    dir.remove();
  }
}

interface PendingVersion {
  readonly account_id: string;
  readonly version: number;
}

function readStore<T>(dataDir: string, read: (db: BetterSqlite3.Database) => T): T {
  const db = new BetterSqlite3(path.join(dataDir, 'tessera.db'), {
    readonly: true,
    fileMustExist: true,
  });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

function pendingVersions(dataDir: string): PendingVersion[] {
  return readStore(dataDir, (db) =>
    db.prepare("SELECT account_id, version FROM secret_versions WHERE status = 'pending'").all(),
  ) as PendingVersion[];
}

function stillPending(dataDir: string, versions: readonly PendingVersion[]): number {
  return readStore(dataDir, (db) => {
    const status = db.prepare(
      'SELECT status FROM secret_versions WHERE account_id = ? AND version = ?',
    );
    return versions.filter((v) => {
      const row = status.get(v.account_id, v.version) as { status: string } | undefined;
      return row?.status === 'pending';
    }).length;
  });
}

async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
}

/**
 * Reveals every account's value and logs in with it through the connector. The fleets then hold
 * the vault's values, so that later onboarding starts from what the targets hold.
 */
async function compareVault(
  api: Api,
  fleets: readonly Fleet[],
  connectors: ReadonlyMap<string, Connector>,
) {
  const token = await readerToken(api);
  const disagreements: string[] = [];
  let checked = 0;
  for (const fleet of fleets) {
    const connector = connectors.get(fleet.platform);
    if (connector === undefined) throw new Error(`no connector for ${fleet.platform}`);
    const address = connectorAddress(fleet, connector);
    const all = [{ username: fleet.reconcile.username, password: '' }, ...fleet.accounts];
    await inPool(all, CHECK_CONCURRENCY, async (account, index) => {
      const value = await reveal(api, token, fleet.target.name, account.username);
      const login = await connector.verify(address, { username: account.username, secret: value });
      checked += 1;
      if (login.kind !== 'valid') {
        disagreements.push(`${fleet.target.name}/${account.username}: ${login.kind}`);
      } else if (index > 0) {
        account.password = value;
      }
    });
  }
  return { checked, disagreeing: disagreements.length, disagreements: disagreements.slice(0, 5) };
}
