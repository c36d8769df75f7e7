import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { type Connection, createConnection } from 'mysql2/promise';
import { freePort } from '../../test/support/pg-cluster.ts';
import { type BenchAccount, type Fleet, setupPassword } from './mixed-fleet.ts';

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const CHILD_ENV = { PATH: '/usr/sbin:/usr/bin:/bin', LC_ALL: 'C.UTF-8', TZ: 'UTC' };

const execFileAsync = promisify(execFile);

/**
 * MariaDB accounts on a private mariadbd of this run (never the machine's shared server): no
 * general log and no TLS, so that neither side of the comparison pays for them. The reconcile
 * account holds what the connector asks of one: CREATE USER, and SELECT on the mysql schema.
 */
export async function startMariadbFleet(tag: string): Promise<Fleet> {
  const server = await startServer();
  const reconcile = { username: `bmxrec${tag}`, password: setupPassword() };
  const accounts: BenchAccount[] = [];
  try {
    await server.root.query(createUser(reconcile.username, reconcile.password));
    await server.root.query(`GRANT CREATE USER ON *.* TO ${row(reconcile.username)}`);
    await server.root.query(`GRANT SELECT ON mysql.* TO ${row(reconcile.username)}`);
  } catch (error) {
    await server.stop();
    throw error;
  }

  return {
    platform: 'mariadb',
    target: { name: 'mix-mariadb', platform: 'mariadb', host: HOST, port: server.port },
    reconcile,
    accounts,
    async grow(count) {
      for (let i = accounts.length; i < count; i++) {
        const account = { username: `bmx${tag}_${i}`, password: setupPassword() };
        await server.root.query(createUser(account.username, account.password));
        accounts.push(account);
      }
    },
    // The accounts live in the server's own data directory, removed with it.
    close: () => server.stop(),
  };
}

function row(user: string): string {
  return `\`${user}\`@\`${HOST}\``;
}

/** Setup passwords are letters and digits (see setupPassword), so the literal needs no escape. */
function createUser(user: string, password: string): string {
  if (!/^[A-Za-z0-9]+$/.test(password)) throw new Error('setup passwords are letters and digits');
  return `CREATE USER ${row(user)} IDENTIFIED BY '${password}'`;
}

interface PrivateServer {
  readonly port: number;
  readonly root: Connection;
  stop(): Promise<void>;
}

async function startServer(): Promise<PrivateServer> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-mariadb-'));
  await chmod(dir, 0o700);
  let child: ChildProcess | undefined;
  const killOnExit = () => child?.kill('SIGKILL');
  const stop = async () => {
    if (child !== undefined) await stopChild(child);
    process.off('exit', killOnExit);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await execFileAsync(
      'mariadb-install-db',
      [
        '--no-defaults',
        `--datadir=${join(dir, 'data')}`,
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        '--user=root',
      ],
      { env: CHILD_ENV, cwd: dir, timeout: READY_TIMEOUT_MS },
    );
    const port = await freePort();
    child = spawnServer(dir, port);
    process.on('exit', killOnExit);
    const root = await waitUntilReady(port, child, dir);
    return {
      port,
      root,
      async stop() {
        await root.end().catch(() => undefined);
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function spawnServer(dir: string, port: number): ChildProcess {
  const args = [
    '--no-defaults',
    '--user=root',
    `--datadir=${join(dir, 'data')}`,
    `--socket=${join(dir, 'mariadb.sock')}`,
    `--pid-file=${join(dir, 'mariadb.pid')}`,
    `--port=${port}`,
    `--bind-address=${HOST}`,
    '--skip-name-resolve',
    '--skip-log-bin',
    '--max-connections=400',
    '--innodb-buffer-pool-size=64M',
    `--log-error=${join(dir, 'error.log')}`,
  ];
  return spawn('mariadbd', args, { env: CHILD_ENV, cwd: dir, stdio: 'ignore' });
}

async function waitUntilReady(port: number, child: ChildProcess, dir: string) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline && child.exitCode === null) {
    const root = await createConnection({
      host: HOST,
      port,
      user: 'root',
      connectTimeout: 1_000,
    }).catch(() => undefined);
    if (root !== undefined) return root;
    await delay(100);
  }
  const log = join(dir, 'error.log');
  const tail = existsSync(log) ? readFileSync(log, 'utf8').slice(-2_000) : '(no log)';
  throw new Error(`the bench MariaDB did not start on port ${port}; log tail:\n${tail}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const stopped = await Promise.race([exited.then(() => true), delay(STOP_TIMEOUT_MS, false)]);
  if (!stopped) child.kill('SIGKILL');
}
