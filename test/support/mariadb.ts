/**
 * MariaDB for tests: the machine's shared server on 127.0.0.1:3306 (root without password), where
 * tests create only uniquely named accounts and drop them afterwards, and a private throw-away
 * server for what must not happen on a shared one (plugins, global sql_mode, a general log).
 * Logins with the real `mariadb` command-line client are the reference: the password travels in
 * the child's environment (MYSQL_PWD), never in its arguments.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { type Connection, createConnection } from 'mysql2/promise';
import { freePort } from './pg-cluster.ts';

const HOST = '127.0.0.1';
const SHARED_PORT = 3306;
const CONNECT_TIMEOUT_MS = 5_000;
const CLI_TIMEOUT_MS = 10_000;
const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;
const CHILD_ENV = { PATH: '/usr/sbin:/usr/bin:/bin', LC_ALL: 'C.UTF-8', TZ: 'UTC' };
/** The answer of the `mariadb` client when the server refused the login. */
const CLI_LOGIN_REFUSED = /^ERROR (1045|1698) /m;

const execFileAsync = promisify(execFile);

export interface AccountRow {
  readonly user: string;
  readonly host: string;
}

export interface AccountSetup {
  /** Defaults to `['127.0.0.1']`. */
  readonly hosts?: readonly string[];
  /** Defaults to mysql_native_password. */
  readonly plugin?: 'mysql_native_password' | 'ed25519';
  /** Global privileges, e.g. `['SUPER']`; `GRANT OPTION` adds WITH GRANT OPTION. */
  readonly grants?: readonly string[];
  /** Privilege on the mysql schema, e.g. `SELECT`, for accounts that read the user table. */
  readonly mysqlSchema?: string;
}

export interface MariadbServer {
  readonly host: string;
  readonly port: number;
  /** Runs one statement as root; `values` are bound (a server-side prepared statement). */
  query(sql: string, values?: readonly string[]): Promise<unknown[][]>;
  /**
   * Creates `user` on every host given, all with `password`; the rows are dropped when the
   * suite ends. The initial passwords are plain ASCII, so the literal needs no escaping.
   */
  createAccount(user: string, password: string, setup?: AccountSetup): Promise<AccountRow[]>;
  /** The stored authentication value of a row, as the server's user table holds it. */
  authString(row: AccountRow): Promise<string | null>;
  /**
   * Logs in with the `mariadb` client: the row it landed on (`CURRENT_USER()`), or null when the
   * server refused the login. Any other failure throws, so an outage never passes for a refusal.
   */
  loginWithCli(user: string, password: string): Promise<string | null>;
  close(): Promise<void>;
}

export interface PrivateMariadb extends MariadbServer {
  /** Everything the server's general log holds so far. */
  readGeneralLog(): string;
  /**
   * The server offers TLS with a certificate for DNS:localhost signed by `ca`; `otherCa` is an
   * unrelated authority of the same shape.
   */
  readonly tls: { readonly ca: string; readonly otherCa: string };
}

/** A user name nobody else uses: `tsr_<prefix>_<8 hex digits>`. */
export function uniqueUserName(prefix: string): string {
  return `tsr_${prefix}_${randomBytes(4).toString('hex')}`;
}

/** A password for setting accounts up: letters, digits and a dash, nothing to escape. */
export function initialPassword(): string {
  return `Init-${randomBytes(12).toString('hex')}9aZ`;
}

/** The shared server for the enclosing suite; every account created is dropped afterwards. */
export function useSharedMariadb(): () => MariadbServer {
  let server: MariadbServer | undefined;
  before(async () => {
    server = await connectServer(SHARED_PORT);
  });
  after(async () => {
    await server?.close();
  });
  return () => {
    if (server === undefined) throw new Error('the shared MariaDB is not connected yet');
    return server;
  };
}

/** A private server for the enclosing suite, stopped and removed afterwards. */
export function usePrivateMariadb(): () => PrivateMariadb {
  let server: PrivateMariadb | undefined;
  before(async () => {
    server = await startPrivateMariadb();
  });
  after(async () => {
    await server?.close();
  });
  return () => {
    if (server === undefined) throw new Error('the private MariaDB is not started yet');
    return server;
  };
}

async function connectServer(port: number): Promise<MariadbServer> {
  const root = await createConnection({
    host: HOST,
    port,
    user: 'root',
    connectTimeout: CONNECT_TIMEOUT_MS,
    charset: 'UTF8MB4_GENERAL_CI',
  });
  const created: AccountRow[] = [];

  const query = async (sql: string, values?: readonly string[]) => {
    const [rows] =
      values === undefined
        ? await root.query({ sql, rowsAsArray: true })
        : await root.execute({ sql, values: [...values], rowsAsArray: true });
    return Array.isArray(rows) ? (rows as unknown[][]) : [];
  };

  return {
    host: HOST,
    port,
    query,
    async createAccount(user, password, setup = {}) {
      const rows = (setup.hosts ?? [HOST]).map((host) => ({ user, host }));
      for (const row of rows) {
        created.push(row);
        await query(`CREATE USER ${quoteRow(row)} ${identifiedBy(setup, password)}`);
        await grant(query, row, setup);
      }
      return rows;
    },
    async authString(row) {
      const found = await query(
        'SELECT authentication_string FROM mysql.user WHERE User = ? AND Host = ?',
        [row.user, row.host],
      );
      const value = found[0]?.[0];
      return typeof value === 'string' ? value : null;
    },
    loginWithCli: (user, password) => cliLogin(port, user, password),
    async close() {
      await dropAll(query, created);
      await root.end();
    },
  };
}

function identifiedBy(setup: AccountSetup, password: string): string {
  if (!/^[A-Za-z0-9-]+$/.test(password)) throw new Error('test setup passwords are plain ASCII');
  return setup.plugin === 'ed25519'
    ? `IDENTIFIED VIA ed25519 USING PASSWORD('${password}')`
    : `IDENTIFIED BY '${password}'`;
}

async function grant(
  query: (sql: string) => Promise<unknown>,
  row: AccountRow,
  setup: AccountSetup,
): Promise<void> {
  const globals = (setup.grants ?? []).filter((name) => name !== 'GRANT OPTION');
  const withGrant = setup.grants?.includes('GRANT OPTION') ? ' WITH GRANT OPTION' : '';
  if (globals.length > 0 || withGrant) {
    const privileges = globals.length > 0 ? globals.join(', ') : 'USAGE';
    await query(`GRANT ${privileges} ON *.* TO ${quoteRow(row)}${withGrant}`);
  }
  if (setup.mysqlSchema) await query(`GRANT ${setup.mysqlSchema} ON mysql.* TO ${quoteRow(row)}`);
}

async function dropAll(query: (sql: string) => Promise<unknown>, rows: readonly AccountRow[]) {
  for (const row of rows) {
    await query(`DROP USER IF EXISTS ${quoteRow(row)}`).catch(() => {
      // One row that will not go must not keep the others; the names are unique anyway.
    });
  }
}

export function quoteRow(row: AccountRow): string {
  const quote = (name: string) => `\`${name.replaceAll('`', '``')}\``;
  return `${quote(row.user)}@${quote(row.host)}`;
}

async function cliLogin(port: number, user: string, password: string): Promise<string | null> {
  const args = [
    '--no-defaults',
    '--protocol=TCP',
    ...['--host', HOST, '--port', String(port), '--user', user],
    ...['--batch', '--skip-column-names', '--connect-timeout=5'],
    ...['--execute', 'SELECT CURRENT_USER()'],
  ];
  const child = spawn('mariadb', args, {
    env: { ...CHILD_ENV, MYSQL_PWD: password },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: CLI_TIMEOUT_MS,
  });
  const [stdout, stderr] = [collect(child, 'stdout'), collect(child, 'stderr')];
  const [code] = (await once(child, 'close')) as [number | null];
  if (code === 0) return stdout().trim();
  if (CLI_LOGIN_REFUSED.test(stderr())) return null;
  throw new Error(`mariadb client as ${user}: exit ${code}: ${stderr().slice(0, 300)}`);
}

function collect(child: ChildProcess, stream: 'stdout' | 'stderr'): () => string {
  const chunks: Buffer[] = [];
  child[stream]?.on('data', (chunk: Buffer) => chunks.push(chunk));
  return () => Buffer.concat(chunks).toString('utf8');
}

// ---------------------------------------------------------------------------------------------
// the private server

/** Starts mariadbd on a free loopback port with its own data directory under the temp folder. */
export async function startPrivateMariadb(): Promise<PrivateMariadb> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-mariadb-'));
  await chmod(dir, 0o700);
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
    const tls = await makeCertificates(dir);
    const port = await freePort();
    const child = spawnServer(dir, port);
    // Should the test process die first, the server must not outlive it.
    const killOnExit = () => child.kill('SIGKILL');
    process.on('exit', killOnExit);
    const stop = async () => {
      await stopServer(child);
      process.off('exit', killOnExit);
    };
    const server = await waitUntilReady(port, child, dir)
      .then(() => connectServer(port))
      .catch(async (error: unknown) => {
        await stop();
        throw error;
      });
    return {
      ...server,
      readGeneralLog: () => readFileSync(join(dir, 'general.log'), 'utf8'),
      tls,
      async close() {
        await server.close().catch(() => undefined);
        await stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
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
    '--innodb-buffer-pool-size=16M',
    '--plugin-load-add=auth_ed25519',
    '--general-log',
    `--general-log-file=${join(dir, 'general.log')}`,
    '--log-output=FILE',
    `--log-error=${join(dir, 'error.log')}`,
    `--ssl-ca=${join(dir, 'ca.pem')}`,
    `--ssl-cert=${join(dir, 'server.pem')}`,
    `--ssl-key=${join(dir, 'server.key')}`,
  ];
  return spawn('mariadbd', args, { env: CHILD_ENV, cwd: dir, stdio: 'ignore' });
}

/** A CA, a server certificate for DNS:localhost signed by it, and an unrelated second CA. */
async function makeCertificates(dir: string): Promise<{ ca: string; otherCa: string }> {
  const openssl = (args: readonly string[]) =>
    execFileAsync('openssl', [...args], { env: CHILD_ENV, cwd: dir, timeout: READY_TIMEOUT_MS });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  for (const name of ['ca', 'other-ca']) {
    await openssl(
      ['req', '-x509', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.pem`].concat([
        '-days',
        '2',
        '-subj',
        `/CN=tessera test ${name}`,
      ]),
    );
  }
  await openssl(
    ['req', ...newKey, '-keyout', 'server.key', '-out', 'server.csr'].concat([
      '-subj',
      '/CN=tessera test server',
    ]),
  );
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost\n');
  await openssl(
    ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key'].concat([
      '-CAcreateserial',
      '-out',
      'server.pem',
      '-days',
      '2',
      '-extfile',
      'server.ext',
    ]),
  );
  const read = (name: string) => readFileSync(join(dir, name), 'utf8');
  return { ca: read('ca.pem'), otherCa: read('other-ca.pem') };
}

async function waitUntilReady(port: number, child: ChildProcess, dir: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    const connection: Connection | undefined = await createConnection({
      host: HOST,
      port,
      user: 'root',
      connectTimeout: 1_000,
    }).catch(() => undefined);
    if (connection) {
      await connection.end();
      return;
    }
    await delay(100);
  }
  const log = join(dir, 'error.log');
  const tail = existsSync(log) ? readFileSync(log, 'utf8').slice(-2_000) : '(no log)';
  throw new Error(`test MariaDB did not start on port ${port}; log tail:\n${tail}`);
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const stopped = await Promise.race([exited.then(() => true), delay(STOP_TIMEOUT_MS, false)]);
  if (!stopped) child.kill('SIGKILL');
}
