/**
 * A throw-away OpenLDAP server for tests: Debian's own `slapd` with a slapd.conf, an mdb
 * database and its log in a temporary folder, listening on 127.0.0.1 only on free high ports.
 * The suffix is dc=tessera,dc=test with people under ou=people and groups under ou=groups;
 * ou=hidden is invisible to anonymous clients. `cn=tessera-rec` may set anyone's password, and
 * the ppolicy overlay holds one strict policy that only entries asking for it are subject to.
 * A system slapd the machine may run (port 389, /etc/ldap) is never touched.
 *
 * Passwords reach slappasswd, ldappasswd and ldapwhoami through 0600 files (`-T`, `-y`), never
 * as arguments. Passwords are stored hashed ({SSHA}): entries get theirs through Password
 * Modify (ldappasswd), never as a clear userPassword value.
 *
 * Ubuntu confines /usr/sbin/slapd with AppArmor to /etc/ldap and /var/lib/ldap; there the
 * profile must be in complain mode for these tests. Debian ships no such profile.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { promisify } from 'node:util';
import { Client, DN } from 'ldapts';
import { freePort } from './pg-cluster.ts';

const execFileAsync = promisify(execFile);

const HOST = '127.0.0.1';
const SLAPD = '/usr/sbin/slapd';
const SETPRIV = '/usr/bin/setpriv';
const SCHEMA_DIR = '/etc/ldap/schema';
const MODULE_DIR = '/usr/lib/ldap';
const SUFFIX = 'dc=tessera,dc=test';
const READY_TIMEOUT_MS = 30_000;
const START_ATTEMPTS = 3;
const STOP_TIMEOUT_MS = 10_000;
const CLIENT_TIMEOUT_MS = 5_000;
/** LDAPNOINIT: the reference clients ignore /etc/ldap/ldap.conf and any ~/.ldaprc. */
const CHILD_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', LDAPNOINIT: '1' };
const RESULT_INVALID_CREDENTIALS = 49;

export interface SlapdOptions {
  /** PEM certificate and key: slapd then offers StartTLS and listens for ldaps as well. */
  readonly tls?: { readonly certificate: string; readonly key: string };
}

export interface PersonOptions {
  /** `people` (default) or `hidden`, which anonymous clients cannot see. */
  readonly ou?: 'people' | 'hidden';
  /** Subjects the entry to the strict password policy (at least 12 characters). */
  readonly strictPolicy?: boolean;
  /** Names the entry `cn=<cn>` instead of `uid=<uid>`. */
  readonly cn?: string;
}

export interface Slapd {
  readonly host: string;
  readonly port: number;
  /** The ldaps port when started with TLS. */
  readonly ldapsPort: number | undefined;
  readonly url: string;
  readonly suffix: string;
  readonly peopleDn: string;
  readonly hiddenDn: string;
  readonly groupsDn: string;
  /** The rootdn; its password is hashed in slapd.conf. */
  readonly admin: { readonly dn: string; readonly password: string };
  /** `cn=tessera-rec,<suffix>`: write access to every userPassword. */
  readonly reconciler: { readonly dn: string; readonly password: string };
  /** slapd's own log (`-d stats`): connections, operations, DNs, filters. */
  readLog(): string;
  /** Adds an inetOrgPerson `uid=<uid>` and, unless null, sets its password with ldappasswd. */
  addPerson(uid: string, password: string | null, options?: PersonOptions): Promise<string>;
  /** Adds a groupOfNames under ou=groups. */
  addGroup(cn: string, memberDns: readonly string[]): Promise<string>;
  /** Adds a posixGroup (memberUid values) under ou=groups. */
  addPosixGroup(cn: string, memberUids: readonly string[]): Promise<string>;
  remove(dn: string): Promise<void>;
  /** Sets a password as the rootdn through ldappasswd (Password Modify; slapd hashes it). */
  setPassword(dn: string, password: string): Promise<void>;
  /**
   * Binds with ldapwhoami, the reference client: true when the server accepted the password,
   * false when it answered invalidCredentials. Anything else throws.
   */
  loginWithLdapwhoami(dn: string, password: string): Promise<boolean>;
  /** The entry's stored userPassword values, read as the rootdn. */
  storedPasswords(dn: string): Promise<string[]>;
  stop(): Promise<void>;
}

/** A name nobody else uses: `<prefix>-<8 hex digits>`. */
export function uniqueLdapName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Registers hooks that start slapd for the enclosing suite (or file) and stop it afterwards. */
export function useSlapd(options: SlapdOptions = {}): () => Slapd {
  let server: Slapd | undefined;
  before(async () => {
    server = await startSlapd(options);
  });
  after(async () => {
    await server?.stop();
  });
  return () => {
    if (server === undefined) throw new Error('the test slapd is not running');
    return server;
  };
}

/** Writes a configuration, starts slapd on free ports and fills in the base entries. */
export async function startSlapd(options: SlapdOptions = {}): Promise<Slapd> {
  if (!existsSync(SLAPD)) throw new Error(`${SLAPD} is missing: install the slapd package`);
  const dir = await mkdtemp(join(tmpdir(), 'tessera-slapd-'));
  await chmod(dir, 0o700);
  const admin = { dn: `cn=admin,${SUFFIX}`, password: randomBytes(18).toString('base64url') };
  try {
    await mkdir(join(dir, 'data'), { mode: 0o700 });
    const adminPasswordFile = await secretFile(dir, admin.password, 'admin.pw');
    const rootHash = await hashPassword(adminPasswordFile);
    if (options.tls) await writeTlsFiles(dir, options.tls);
    await writeFile(join(dir, 'slapd.conf'), slapdConf(dir, admin.dn, rootHash, !!options.tls));
    const running = await startServer(dir, !!options.tls);
    return await populate({ ...running, dir, admin, adminPasswordFile });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

function slapdConf(dir: string, rootDn: string, rootHash: string, tls: boolean): string {
  const schemas = ['core', 'cosine', 'inetorgperson', 'nis'];
  const tlsLines = tls
    ? [
        `TLSCertificateFile ${join(dir, 'server.crt')}`,
        `TLSCertificateKeyFile ${join(dir, 'server.key')}`,
      ]
    : [];
  return [
    ...schemas.map((name) => `include ${SCHEMA_DIR}/${name}.schema`),
    `modulepath ${MODULE_DIR}`,
    'moduleload back_mdb',
    'moduleload ppolicy',
    `pidfile ${join(dir, 'slapd.pid')}`,
    `argsfile ${join(dir, 'slapd.args')}`,
    'password-hash {SSHA}',
    ...tlsLines,
    'database mdb',
    `suffix "${SUFFIX}"`,
    `rootdn "${rootDn}"`,
    `rootpw ${rootHash}`,
    `directory ${join(dir, 'data')}`,
    'dbnosync',
    'overlay ppolicy',
    'access to attrs=userPassword',
    '  by self write',
    `  by dn.exact="cn=tessera-rec,${SUFFIX}" write`,
    '  by anonymous auth',
    '  by * none',
    `access to dn.subtree="ou=hidden,${SUFFIX}"`,
    '  by users read',
    '  by * none',
    'access to *',
    '  by * read',
    '',
  ].join('\n');
}

interface Running {
  readonly server: ChildProcess;
  readonly port: number;
  readonly ldapsPort: number | undefined;
  readonly logPath: string;
  readonly cleanupOnExit: () => void;
}

/** Starts slapd on free ports, again on others if someone took a port meanwhile. */
async function startServer(dir: string, tls: boolean): Promise<Running> {
  const logPath = join(dir, 'slapd.log');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const ldapsPort = tls ? await freePort() : undefined;
    const server = spawnSlapd(dir, port, ldapsPort, logPath);
    const cleanupOnExit = () => killAndRemove(server, dir);
    process.on('exit', cleanupOnExit);

    const state = await waitUntilReady(server, port);
    if (state === 'ready') return { server, port, ldapsPort, logPath, cleanupOnExit };

    process.off('exit', cleanupOnExit);
    await stopServer(server);
    if (state === 'timeout' || attempt >= START_ATTEMPTS) {
      throw new Error(`test slapd did not start; log tail:\n${logTail(logPath)}`);
    }
  }
}

function spawnSlapd(dir: string, port: number, ldapsPort: number | undefined, logPath: string) {
  const urls = [`ldap://${HOST}:${port}/`];
  if (ldapsPort !== undefined) urls.push(`ldaps://${HOST}:${ldapsPort}/`);
  // -d keeps slapd in the foreground and logs to stderr; 256 is "stats" (operations and DNs).
  const args = ['-f', join(dir, 'slapd.conf'), '-h', urls.join(' '), '-d', '256'];
  // setpriv execs slapd (no process in between) and stops it if this test process dies.
  const [command, argv] = existsSync(SETPRIV)
    ? [SETPRIV, ['--pdeathsig', 'SIGTERM', '--', SLAPD, ...args]]
    : [SLAPD, args];
  const logFd = openSync(logPath, 'a', 0o600);
  try {
    return spawn(command, argv, { env: CHILD_ENV, cwd: dir, stdio: ['ignore', logFd, logFd] });
  } finally {
    closeSync(logFd);
  }
}

async function waitUntilReady(server: ChildProcess, port: number) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (server.exitCode !== null || server.signalCode !== null) return 'exited';
    const client = new Client({ url: `ldap://${HOST}:${port}`, connectTimeout: 1_000 });
    try {
      await client.search('', { scope: 'base', attributes: ['1.1'] });
      return 'ready';
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50)); // not listening yet
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }
  return 'timeout';
}

interface Parts extends Running {
  readonly dir: string;
  readonly admin: { readonly dn: string; readonly password: string };
  readonly adminPasswordFile: string;
}

async function populate(parts: Parts): Promise<Slapd> {
  const slapd = buildSlapd(parts);
  try {
    await addBaseEntries(slapd);
    return slapd;
  } catch (error) {
    await slapd.stop();
    throw error;
  }
}

function buildSlapd(parts: Parts): Slapd {
  const { dir, port, ldapsPort, logPath, admin, adminPasswordFile, server, cleanupOnExit } = parts;
  const url = `ldap://${HOST}:${port}/`;
  const asAdmin = <T>(work: (client: Client) => Promise<T>) => withAdmin(url, admin, work);
  const reconciler = {
    dn: `cn=tessera-rec,${SUFFIX}`,
    password: randomBytes(18).toString('base64url'),
  };
  const setPassword = (dn: string, password: string) =>
    ldappasswd(dir, url, admin.dn, adminPasswordFile, dn, password);

  return {
    host: HOST,
    port,
    ldapsPort,
    url,
    suffix: SUFFIX,
    peopleDn: `ou=people,${SUFFIX}`,
    hiddenDn: `ou=hidden,${SUFFIX}`,
    groupsDn: `ou=groups,${SUFFIX}`,
    admin,
    reconciler,
    readLog: () => readFileSync(logPath, 'utf8'),
    async addPerson(uid, password, options = {}) {
      const cn = options.cn ?? uid;
      const rdn = new DN(options.cn === undefined ? { uid } : { cn }).toString();
      const dn = `${rdn},ou=${options.ou ?? 'people'},${SUFFIX}`;
      const person: Record<string, string | string[]> = {
        objectClass: ['inetOrgPerson'],
        uid,
        cn,
        sn: cn,
      };
      if (options.strictPolicy) person.pwdPolicySubentry = `cn=strict,ou=policies,${SUFFIX}`;
      await asAdmin((client) => client.add(dn, person));
      if (password !== null) await setPassword(dn, password);
      return dn;
    },
    async addGroup(cn, memberDns) {
      const dn = `cn=${cn},ou=groups,${SUFFIX}`;
      const group = { objectClass: ['groupOfNames'], cn, member: [...memberDns] };
      await asAdmin((client) => client.add(dn, group));
      return dn;
    },
    async addPosixGroup(cn, memberUids) {
      const dn = `cn=${cn},ou=groups,${SUFFIX}`;
      const gidNumber = String(10_000 + randomBytes(2).readUInt16BE());
      const group = { objectClass: ['posixGroup'], cn, gidNumber, memberUid: [...memberUids] };
      await asAdmin((client) => client.add(dn, group));
      return dn;
    },
    async remove(dn) {
      await asAdmin((client) => client.del(dn));
    },
    setPassword,
    loginWithLdapwhoami: (dn, password) => ldapwhoami(dir, url, dn, password),
    storedPasswords: (dn) => asAdmin((client) => readUserPassword(client, dn)),
    async stop() {
      process.off('exit', cleanupOnExit);
      await stopServer(server);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function addBaseEntries(slapd: Slapd): Promise<void> {
  const entries: [string, Record<string, string | string[]>][] = [
    [SUFFIX, { objectClass: ['dcObject', 'organization'], dc: 'tessera', o: 'Tessera tests' }],
    ...['people', 'hidden', 'groups', 'policies'].map(
      (ou): [string, Record<string, string | string[]>] => [
        `ou=${ou},${SUFFIX}`,
        { objectClass: ['organizationalUnit'], ou },
      ],
    ),
    [
      `cn=strict,ou=policies,${SUFFIX}`,
      {
        objectClass: ['organizationalRole', 'pwdPolicy'],
        cn: 'strict',
        pwdAttribute: 'userPassword',
        pwdMinLength: '12',
        pwdCheckQuality: '2',
      },
    ],
    [
      slapd.reconciler.dn,
      {
        objectClass: ['organizationalRole', 'simpleSecurityObject'],
        cn: 'tessera-rec',
        userPassword: '{SSHA}x',
      },
    ],
  ];
  await withAdmin(slapd.url, slapd.admin, async (client) => {
    for (const [dn, attributes] of entries) await client.add(dn, attributes);
  });
  // simpleSecurityObject needs some userPassword at creation; the real one replaces it, hashed.
  await slapd.setPassword(slapd.reconciler.dn, slapd.reconciler.password);
}

async function withAdmin<T>(
  url: string,
  admin: { readonly dn: string; readonly password: string },
  work: (client: Client) => Promise<T>,
): Promise<T> {
  const client = new Client({ url, timeout: CLIENT_TIMEOUT_MS, connectTimeout: CLIENT_TIMEOUT_MS });
  try {
    await client.bind(admin.dn, admin.password);
    return await work(client);
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

async function readUserPassword(client: Client, dn: string): Promise<string[]> {
  const result = await client.search(dn, {
    scope: 'base',
    attributes: ['userPassword'],
    explicitBufferAttributes: ['userPassword'],
  });
  const raw = result.searchEntries[0]?.userPassword ?? [];
  const values = Array.isArray(raw) ? raw : [raw];
  return values.map((value) => (Buffer.isBuffer(value) ? value.toString('utf8') : value));
}

/** Writes `secret` byte for byte (no newline) to a new 0600 file in `dir`. */
async function secretFile(dir: string, secret: string, name?: string): Promise<string> {
  const path = join(dir, name ?? `secret-${randomBytes(6).toString('hex')}`);
  await writeFile(path, secret, { mode: 0o600, flag: 'wx' });
  return path;
}

async function hashPassword(passwordFile: string): Promise<string> {
  const { stdout } = await execFileAsync('slappasswd', ['-h', '{SSHA}', '-n', '-T', passwordFile], {
    env: CHILD_ENV,
  });
  const hash = stdout.trim();
  if (!hash.startsWith('{SSHA}')) throw new Error('slappasswd did not print an {SSHA} hash');
  return hash;
}

async function ldappasswd(
  dir: string,
  url: string,
  bindDn: string,
  bindPasswordFile: string,
  dn: string,
  password: string,
): Promise<void> {
  const newPasswordFile = await secretFile(dir, password);
  try {
    const args = ['-x', '-H', url, '-o', 'nettimeout=5', '-D', bindDn, '-y', bindPasswordFile];
    await execFileAsync('ldappasswd', [...args, '-T', newPasswordFile, dn], { env: CHILD_ENV });
  } finally {
    await rm(newPasswordFile, { force: true });
  }
}

async function ldapwhoami(dir: string, url: string, dn: string, password: string) {
  const passwordFile = await secretFile(dir, password);
  const args = ['-x', '-H', url, '-o', 'nettimeout=5', '-D', dn, '-y', passwordFile];
  try {
    const { stdout } = await execFileAsync('ldapwhoami', args, { env: CHILD_ENV });
    if (stdout.trim().toLowerCase() !== `dn:${dn.toLowerCase()}`) {
      throw new Error(`ldapwhoami answered for another identity: ${stdout.trim()}`);
    }
    return true;
  } catch (error) {
    if (isExit(error, RESULT_INVALID_CREDENTIALS)) return false;
    throw error;
  } finally {
    await rm(passwordFile, { force: true });
  }
}

function isExit(error: unknown, code: number): boolean {
  return error instanceof Error && 'code' in error && error.code === code;
}

async function writeTlsFiles(dir: string, tls: NonNullable<SlapdOptions['tls']>): Promise<void> {
  await writeFile(join(dir, 'server.crt'), tls.certificate, { mode: 0o600 });
  await writeFile(join(dir, 'server.key'), tls.key, { mode: 0o600 });
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
  server.kill('SIGTERM'); // slapd closes its connections and the database, then exits
  const timer = setTimeout(() => server.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/** Synchronous last-resort cleanup for `process.on('exit')`, where nothing async runs. */
function killAndRemove(server: ChildProcess, dir: string): void {
  if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}
