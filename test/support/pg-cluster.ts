/**
 * A throw-away PostgreSQL cluster for tests: its own data directory under the system temp
 * folder, listening on 127.0.0.1 only on a free port, SCRAM authentication everywhere, every
 * statement logged to a file the test can read. Nothing here talks to any other server; the
 * machine's own PostgreSQL is never used.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { promisify } from 'node:util';
import { Client, type ClientConfig, escapeIdentifier, escapeLiteral, type QueryResult } from 'pg';

export interface PgRoleOptions {
  /** Defaults to true. */
  readonly login?: boolean;
  readonly superuser?: boolean;
  readonly createRole?: boolean;
}

export interface PgClusterOptions {
  /** Libraries for `shared_preload_libraries`, e.g. `['passwordcheck']`. */
  readonly preload?: readonly string[];
}

export interface PgCluster {
  readonly host: string;
  readonly port: number;
  /** The PostgreSQL binaries the cluster runs on (psql included). */
  readonly binDir: string;
  readonly superuser: { readonly username: string; readonly password: string };
  /** The server's log: every statement (`log_statement=all`) with user and application name. */
  readonly logPath: string;
  readLog(): string;
  /** Creates a role; the password travels in clear to this test server, outside the log. */
  createRole(name: string, password: string | null, options?: PgRoleOptions): Promise<void>;
  dropRole(name: string): Promise<void>;
  /** Runs one statement as the superuser, kept out of the statement log. */
  query(text: string, values?: readonly unknown[]): Promise<QueryResult>;
  /**
   * Logs in with psql, i.e. libpq, the reference client: true when `SELECT 1` ran. The password
   * travels in the child's environment, never in its arguments.
   */
  loginWithPsql(username: string, password: string): Promise<boolean>;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const OS_USER = 'postgres';
const PG_ROOT = '/usr/lib/postgresql';
const READY_TIMEOUT_MS = 30_000;
const START_ATTEMPTS = 3;
const STOP_TIMEOUT_MS = 10_000;
const CHILD_ENV = { PATH: '/usr/bin:/bin', LC_ALL: 'C', TZ: 'UTC' };

const execFileAsync = promisify(execFile);

/** A role name nobody else uses: `<prefix>_<8 hex digits>`. */
export function uniqueRoleName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

/**
 * Registers `before`/`after` hooks that start a cluster for the enclosing suite (or file) and
 * stop it afterwards; returns a getter for use inside tests.
 */
export function usePgCluster(options: PgClusterOptions = {}): () => PgCluster {
  let cluster: PgCluster | undefined;
  before(async () => {
    cluster = await startPgCluster(options);
  });
  after(async () => {
    await cluster?.stop();
  });
  return () => {
    if (cluster === undefined) throw new Error('the PostgreSQL cluster is not running');
    return cluster;
  };
}

/** Creates, starts and waits for a fresh cluster. Call `stop()` when done. */
export async function startPgCluster(options: PgClusterOptions = {}): Promise<PgCluster> {
  const bin = findPgBin();
  const runAs = await osUser();
  const dir = await mkdtemp(join(tmpdir(), 'tessera-pg-'));
  await chmod(dir, 0o700);
  if (runAs) await chown(dir, runAs.uid, runAs.gid);

  const superuser = { username: 'tessera_su', password: randomBytes(24).toString('base64url') };
  try {
    await initCluster(bin, dir, runAs, superuser);
    return await startServer({ bin, dir, runAs, superuser, options });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

interface ServerSetup {
  readonly bin: string;
  readonly dir: string;
  readonly runAs: OsUser | undefined;
  readonly superuser: { readonly username: string; readonly password: string };
  readonly options: PgClusterOptions;
}

/** Starts the server on a free port, again on another if someone took the port meanwhile. */
async function startServer(setup: ServerSetup): Promise<PgCluster> {
  const logPath = join(setup.dir, 'postgresql.log');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const server = spawnServer(setup, port, logPath);
    const cleanupOnExit = () => killAndRemove(server, setup.dir);
    process.on('exit', cleanupOnExit);

    const cluster = buildCluster({ ...setup, port, logPath, server, cleanupOnExit });
    const state = await waitUntilReady(cluster, server);
    if (state === 'ready') return cluster;

    process.off('exit', cleanupOnExit);
    await stopServer(server);
    if (state === 'timeout' || attempt >= START_ATTEMPTS) {
      throw new Error(`test PostgreSQL did not start; log tail:\n${logTail(logPath)}`);
    }
  }
}

interface ClusterParts {
  readonly bin: string;
  readonly dir: string;
  readonly port: number;
  readonly logPath: string;
  readonly superuser: { readonly username: string; readonly password: string };
  readonly server: ChildProcess;
  readonly cleanupOnExit: () => void;
}

function buildCluster(parts: ClusterParts): PgCluster {
  const { bin, dir, port, logPath, superuser, server, cleanupOnExit } = parts;
  const query = (text: string, values?: readonly unknown[]) =>
    superuserQuery(port, superuser, text, values);

  return {
    host: HOST,
    port,
    binDir: bin,
    superuser,
    logPath,
    readLog: () => readFileSync(logPath, 'utf8'),
    query,
    async createRole(name, password, roleOptions = {}) {
      await query(createRoleStatement(name, password, roleOptions));
    },
    async dropRole(name) {
      await query(`DROP ROLE IF EXISTS ${escapeIdentifier(name)}`);
    },
    loginWithPsql: (username, password) => psqlLogin(bin, port, username, password),
    async stop() {
      process.off('exit', cleanupOnExit);
      await stopServer(server);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function createRoleStatement(name: string, password: string | null, options: PgRoleOptions) {
  const attributes = [
    options.login === false ? 'NOLOGIN' : 'LOGIN',
    options.superuser ? 'SUPERUSER' : 'NOSUPERUSER',
    options.createRole ? 'CREATEROLE' : 'NOCREATEROLE',
    password === null ? 'PASSWORD NULL' : `PASSWORD ${escapeLiteral(password)}`,
  ];
  return `CREATE ROLE ${escapeIdentifier(name)} WITH ${attributes.join(' ')}`;
}

async function superuserQuery(
  port: number,
  superuser: { readonly username: string; readonly password: string },
  text: string,
  values?: readonly unknown[],
): Promise<QueryResult> {
  // Setup traffic stays out of the statement log (and out of error-statement logging), so the
  // log holds only what the code under test sent.
  const client = new Client({
    ...baseConfig(port, superuser),
    options: '-c log_statement=none -c log_min_error_statement=panic',
  });
  client.on('error', () => {
    // A late connection error surfaces through the pending query or end() below.
  });
  await client.connect();
  try {
    return await client.query(text, values === undefined ? undefined : [...values]);
  } finally {
    await client.end();
  }
}

async function psqlLogin(bin: string, port: number, username: string, password: string) {
  const args = ['-X', '-w', '-q', '-tA', '-h', HOST, '-p', String(port), '-U', username];
  const env = {
    ...CHILD_ENV,
    PGPASSWORD: password,
    PGPASSFILE: '/dev/null',
    PGSSLMODE: 'disable',
    PGCONNECT_TIMEOUT: '5',
  };
  const command = [...args, '-d', 'postgres', '-c', 'SELECT 1'];
  try {
    const result = await execFileAsync(join(bin, 'psql'), command, { env });
    return result.stdout.trim() === '1';
  } catch {
    return false; // psql exits non-zero when the login is refused
  }
}

function baseConfig(
  port: number,
  credential: { readonly username: string; readonly password: string },
): ClientConfig {
  return {
    host: HOST,
    port,
    user: credential.username,
    password: credential.password,
    database: 'postgres',
    ssl: false,
    connectionTimeoutMillis: 2_000,
  };
}

/** The newest PostgreSQL installed under /usr/lib/postgresql/<major>/bin. */
function findPgBin(): string {
  const majors = existsSync(PG_ROOT)
    ? readdirSync(PG_ROOT)
        .filter((name) => /^\d+$/.test(name))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const major of majors) {
    const bin = join(PG_ROOT, major, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'postgres'))) return bin;
  }
  throw new Error(`no PostgreSQL server binaries found under ${PG_ROOT}/*/bin`);
}

interface OsUser {
  readonly uid: number;
  readonly gid: number;
}

/** The account the server runs as when we are root (PostgreSQL refuses to run as root). */
async function osUser(): Promise<OsUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const uid = await execFileAsync('id', ['-u', OS_USER]);
  const gid = await execFileAsync('id', ['-g', OS_USER]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Command and arguments that run `program` as `runAs`, without a shell. */
function asUser(runAs: OsUser | undefined, program: string, args: string[], pdeathsig = false) {
  if (!runAs) return { command: program, args };
  // setpriv execs the program (no intermediate process), so the pid we hold is the server's;
  // --pdeathsig stops the server even if this test process is killed outright.
  const privileges = ['--reuid', String(runAs.uid), '--regid', String(runAs.gid), '--clear-groups'];
  const death = pdeathsig ? ['--pdeathsig', 'SIGQUIT'] : [];
  return { command: 'setpriv', args: [...privileges, ...death, '--', program, ...args] };
}

async function initCluster(
  bin: string,
  dir: string,
  runAs: OsUser | undefined,
  superuser: { readonly username: string; readonly password: string },
): Promise<void> {
  const pwfile = join(dir, 'pwfile');
  await writeFile(pwfile, `${superuser.password}\n`, { mode: 0o600, flag: 'wx' });
  if (runAs) await chown(pwfile, runAs.uid, runAs.gid);

  const args = [
    ...['-D', join(dir, 'data'), '-U', superuser.username, '--pwfile', pwfile],
    ...['--auth-host=scram-sha-256', '--auth-local=scram-sha-256'],
    ...['--no-sync', '--encoding=UTF8', '--locale=C'],
  ];
  const { command, args: argv } = asUser(runAs, join(bin, 'initdb'), args);
  try {
    await execFileAsync(command, argv, { env: CHILD_ENV, cwd: dir });
  } finally {
    await rm(pwfile, { force: true });
  }
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, HOST);
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

function spawnServer(setup: ServerSetup, port: number, logPath: string): ChildProcess {
  const { bin, dir, runAs, options } = setup;
  const settings = [
    `listen_addresses=${HOST}`,
    `unix_socket_directories=${dir}`,
    'fsync=off',
    'synchronous_commit=off',
    'full_page_writes=off',
    'log_statement=all',
    'log_connections=on',
    'log_line_prefix=%m [%p] user=%u app=%a ',
    `shared_preload_libraries=${(options.preload ?? []).join(',')}`,
  ];
  const args = ['-D', join(dir, 'data'), '-p', String(port), ...settings.flatMap((s) => ['-c', s])];
  const { command, args: argv } = asUser(runAs, join(bin, 'postgres'), args, true);

  // The server writes its stderr log straight into a file we opened; it inherits the descriptor.
  const logFd = openSync(logPath, 'a', 0o600);
  try {
    return spawn(command, argv, { env: CHILD_ENV, cwd: dir, stdio: ['ignore', logFd, logFd] });
  } finally {
    closeSync(logFd);
  }
}

async function waitUntilReady(cluster: PgCluster, server: ChildProcess) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (server.exitCode !== null || server.signalCode !== null) return 'exited';
    try {
      await cluster.query('SELECT 1');
      return 'ready';
    } catch {
      // Still starting up (refused connection or 57P03); try again shortly.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return 'timeout';
}

function logTail(logPath: string): string {
  try {
    return readFileSync(logPath, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}

async function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = once(server, 'exit');
  server.kill('SIGINT'); // fast shutdown: disconnects sessions, no checkpoint wait worth noting
  const timer = setTimeout(() => server.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/** Synchronous last-resort cleanup for `process.on('exit')`, where nothing async runs. */
function killAndRemove(server: ChildProcess, dir: string): void {
  if (server.exitCode === null && server.signalCode === null && server.pid !== undefined) {
    server.kill('SIGQUIT');
    // The server removes its own files as it goes down; deleting the folder before it has
    // finished races with that and leaves an empty data folder behind.
    waitForExitSync(server.pid, STOP_TIMEOUT_MS);
  }
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

function waitForExitSync(pid: number, timeoutMs: number): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && isRunning(pid)) Atomics.wait(pause, 0, 0, 10);
}

/** Whether a child still runs; an exited child stays a zombie until Node reaps it. */
function isRunning(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false; // no such process
  }
}
