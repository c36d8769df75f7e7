/**
 * A throw-away OpenSSH server for tests: Debian's own `sshd` with a configuration, host key and
 * pid file in a temporary folder, listening on 127.0.0.1 only on a free high port, letting in
 * only the Linux users the tests create through it. Users get a home under the same folder and
 * `/bin/sh` as their shell, so a login runs no heavy start-up files.
 *
 * Test passwords reach `chpasswd` and the reference `ssh` client on standard input or through a
 * 0600 file, never as arguments.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

const HOST = '127.0.0.1';
const SSHD = '/usr/sbin/sshd';
const PRIVSEP_DIR = '/run/sshd';
const READY_TIMEOUT_MS = 10_000;
const CHILD_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };

export interface TestUserOptions {
  /** A password for the user; none leaves the account locked for passwords. */
  readonly password?: string;
  /** Supplementary groups, created when missing (and removed again at stop when created). */
  readonly groups?: readonly string[];
  /** Public key lines written to the user's `authorized_keys`. */
  readonly authorizedKeys?: readonly string[];
  /**
   * Lines for a sudoers drop-in just for this user, removed with the user; a function receives
   * the generated user name (for lines such as `<name> ALL=(ALL) ALL`).
   */
  readonly sudoers?: string | ((name: string) => string);
}

export interface TestUser {
  readonly name: string;
  readonly home: string;
  readonly uid: number;
}

export interface Sshd {
  readonly host: string;
  readonly port: number;
  /** The server's host key as an OpenSSH public key line (`ssh-ed25519 AAAA…`). */
  readonly hostKey: string;
  /** A `known_hosts` file that pins the host key, for the reference client. */
  readonly knownHostsPath: string;
  readonly dir: string;
  /** sshd's own log (`-E`), LogLevel VERBOSE. */
  readLog(): string;
  /** Creates a Linux user with a unique name (`<prefix><hex>`) allowed to log in here. */
  createUser(prefix: string, options?: TestUserOptions): Promise<TestUser>;
  removeUser(name: string): Promise<void>;
  /** Reads a file of a user's home, e.g. `.ssh/authorized_keys`; empty when missing. */
  readHomeFile(user: string, relativePath: string): Promise<string>;
  /**
   * Logs in with the real OpenSSH client and a password (through SSH_ASKPASS, reading a 0600
   * file) and runs `true`: true when the login worked.
   */
  loginWithPassword(user: string, password: string): Promise<boolean>;
  /** Logs in with the real OpenSSH client and a private key (OpenSSH format), runs `true`. */
  loginWithKey(user: string, privateKey: string): Promise<boolean>;
  stop(): Promise<void>;
}

/** A Linux user name nobody else uses: `<prefix><8 hex digits>`, at most 32 characters. */
export function uniqueUserName(prefix: string): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

export interface SshdOptions {
  /**
   * `X11Forwarding yes` (displays on the loopback only, cookies written with xauth); the
   * server's default, no, when left out.
   */
  readonly x11Forwarding?: boolean;
  /**
   * `AllowUsers` patterns let in besides the users made through this sshd, for users another
   * party creates (Tessera's ephemeral accounts: `tsr_*`).
   */
  readonly allowUserPatterns?: readonly string[];
}

/** Registers `before`/`after` hooks that run one sshd for the enclosing suite or file. */
export function useSshd(options: SshdOptions = {}): () => Sshd {
  let sshd: Sshd | undefined;
  before(async () => {
    sshd = await startSshd(options);
  });
  after(async () => {
    await sshd?.stop();
  });
  return () => {
    if (sshd === undefined) throw new Error('the test sshd is not running');
    return sshd;
  };
}

export async function startSshd(options: SshdOptions = {}): Promise<Sshd> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing: install openssh-server`);
  await mkdir(PRIVSEP_DIR, { recursive: true, mode: 0o755 });
  const dir = await mkdtemp(join(tmpdir(), 'tessera-sshd-'));
  await chmod(dir, 0o755); // homes below must be reachable by their users
  await mkdir(join(dir, 'home'), { mode: 0o755 });
  await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host')], {
    env: CHILD_ENV,
  });
  const hostKey = (await readFile(join(dir, 'host.pub'), 'utf8')).trim().split(' ').slice(0, 2);
  const users = new Set<string>();
  const createdGroups = new Set<string>();
  const port = await freePort();
  const knownHostsPath = join(dir, 'known_hosts');
  await writeFile(knownHostsPath, `[${HOST}]:${port} ${hostKey.join(' ')}\n`);

  const configPath = join(dir, 'sshd_config');
  const writeConfig = () =>
    writeFile(configPath, sshdConfig(dir, port, [...users], options), 'utf8');
  await writeConfig();
  const logPath = join(dir, 'sshd.log');
  const child = spawn(SSHD, ['-D', '-f', configPath, '-E', logPath], {
    env: CHILD_ENV,
    stdio: 'ignore',
  });
  const cleanupOnExit = () => {
    child.kill('SIGKILL');
  };
  process.on('exit', cleanupOnExit);
  await waitForPort(port, child, logPath);

  /** sshd rereads its configuration on SIGHUP; the AllowUsers list follows the test users. */
  const reload = async () => {
    await writeConfig();
    const restarts = listeningLines(logPath);
    child.kill('SIGHUP');
    // sshd re-executes itself on SIGHUP; the old listener may still answer until it has.
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (listeningLines(logPath) <= restarts && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await waitForPort(port, child, logPath);
  };

  const clientEnv = async (extra: Record<string, string>) => ({ ...CHILD_ENV, ...extra });
  const runClient = async (user: string, args: string[], env: Record<string, string>) => {
    try {
      await execFileAsync(
        'ssh',
        [
          '-F',
          '/dev/null',
          '-o',
          `UserKnownHostsFile=${knownHostsPath}`,
          '-o',
          'StrictHostKeyChecking=yes',
          '-o',
          'ConnectTimeout=5',
          '-o',
          'NumberOfPasswordPrompts=1',
          '-p',
          String(port),
          ...args,
          '-l',
          user,
          HOST,
          'true',
        ],
        { env: await clientEnv(env), timeout: 15_000 },
      );
      return true;
    } catch {
      return false;
    }
  };

  const removeUser = async (name: string) => {
    if (!users.delete(name)) return;
    await rm(sudoersPath(name), { force: true });
    await execFileAsync('pkill', ['-KILL', '-u', name], { env: CHILD_ENV }).catch(() => {});
    await execFileAsync('userdel', [name], { env: CHILD_ENV }).catch(() => {});
    await rm(join(dir, 'home', name), { recursive: true, force: true });
  };

  return {
    host: HOST,
    port,
    hostKey: hostKey.join(' '),
    knownHostsPath,
    dir,
    readLog: () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : ''),

    async createUser(prefix, options = {}) {
      const name = uniqueUserName(prefix);
      const home = join(dir, 'home', name);
      for (const group of options.groups ?? []) {
        if (!(await groupExists(group))) {
          await execFileAsync('groupadd', [group], { env: CHILD_ENV });
          createdGroups.add(group);
        }
      }
      const groupArgs = options.groups?.length ? ['-G', options.groups.join(',')] : [];
      await execFileAsync(
        'useradd',
        ['-M', '-d', home, '-s', '/bin/sh', '-K', 'UMASK=022', ...groupArgs, name],
        { env: CHILD_ENV },
      );
      users.add(name);
      const { stdout } = await execFileAsync('id', ['-u', name], { env: CHILD_ENV });
      const uid = Number(stdout.trim());
      await mkdir(join(home, '.ssh'), { recursive: true, mode: 0o700 });
      await writeFile(join(home, '.ssh', 'authorized_keys'), lines(options.authorizedKeys), {
        mode: 0o600,
      });
      await chown(home, uid, uid);
      await chown(join(home, '.ssh'), uid, uid);
      await chown(join(home, '.ssh', 'authorized_keys'), uid, uid);
      if (options.password !== undefined) await setPassword(name, options.password);
      if (options.sudoers !== undefined) {
        const text =
          typeof options.sudoers === 'function' ? options.sudoers(name) : options.sudoers;
        await writeFile(sudoersPath(name), `${text}\n`, { mode: 0o440 });
      }
      await reload();
      return { name, home, uid };
    },

    removeUser,

    async readHomeFile(user, relativePath) {
      try {
        return await readFile(join(dir, 'home', user, relativePath), 'utf8');
      } catch {
        return '';
      }
    },

    async loginWithPassword(user, password) {
      const secretDir = await mkdtemp(join(tmpdir(), 'tessera-askpass-'));
      try {
        const secretPath = join(secretDir, 'password');
        const askpass = join(secretDir, 'askpass');
        await writeFile(secretPath, password, { mode: 0o600 });
        await writeFile(askpass, '#!/bin/sh\nexec cat "$TESSERA_TEST_SECRET_FILE"\n', {
          mode: 0o700,
        });
        return await runClient(
          user,
          [
            '-o',
            'PreferredAuthentications=password,keyboard-interactive',
            '-o',
            'PubkeyAuthentication=no',
          ],
          {
            SSH_ASKPASS: askpass,
            SSH_ASKPASS_REQUIRE: 'force',
            DISPLAY: 'none',
            TESSERA_TEST_SECRET_FILE: secretPath,
          },
        );
      } finally {
        await rm(secretDir, { recursive: true, force: true });
      }
    },

    async loginWithKey(user, privateKey) {
      const secretDir = await mkdtemp(join(tmpdir(), 'tessera-key-'));
      try {
        const keyPath = join(secretDir, 'id');
        await writeFile(keyPath, privateKey.endsWith('\n') ? privateKey : `${privateKey}\n`, {
          mode: 0o600,
        });
        return await runClient(
          user,
          [
            '-o',
            'PreferredAuthentications=publickey',
            '-o',
            'IdentitiesOnly=yes',
            '-o',
            'BatchMode=yes',
            '-i',
            keyPath,
          ],
          {},
        );
      } finally {
        await rm(secretDir, { recursive: true, force: true });
      }
    },

    async stop() {
      process.off('exit', cleanupOnExit);
      for (const name of [...users]) await removeUser(name);
      for (const group of createdGroups) {
        await execFileAsync('groupdel', [group], { env: CHILD_ENV }).catch(() => {});
      }
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Sets a password through chpasswd's standard input. */
export async function setPassword(name: string, password: string): Promise<void> {
  const child = spawn('chpasswd', [], { env: CHILD_ENV, stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin.end(`${name}:${password}\n`);
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`chpasswd failed for ${name}: ${stderr.trim()}`);
}

function sshdConfig(
  dir: string,
  port: number,
  users: readonly string[],
  options: SshdOptions,
): string {
  const allowed = [...users, ...(options.allowUserPatterns ?? [])];
  return [
    `Port ${port}`,
    `ListenAddress ${HOST}`,
    `HostKey ${join(dir, 'host')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    'AuthorizedKeysFile .ssh/authorized_keys',
    'PasswordAuthentication yes',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'UsePAM no',
    'PermitRootLogin no',
    'StrictModes no',
    'PrintMotd no',
    'PrintLastLog no',
    'UseDNS no',
    'LogLevel VERBOSE',
    'MaxStartups 200:30:400',
    'MaxSessions 100',
    'MaxAuthTries 6',
    'LoginGraceTime 30',
    'Subsystem sftp internal-sftp',
    ...(options.x11Forwarding === true ? ['X11Forwarding yes', 'X11UseLocalhost yes'] : []),
    // Nobody but the tests' own users gets in, whatever else exists on the machine.
    `AllowUsers ${allowed.length === 0 ? 'tessera-nobody-yet' : allowed.join(' ')}`,
    '',
  ].join('\n');
}

function sudoersPath(name: string): string {
  return `/etc/sudoers.d/tessera-test-${name}`;
}

function lines(values: readonly string[] | undefined): string {
  return values === undefined || values.length === 0 ? '' : `${values.join('\n')}\n`;
}

/** How many times sshd has announced its listener: once at start and once per restart. */
function listeningLines(logPath: string): number {
  if (!existsSync(logPath)) return 0;
  return readFileSync(logPath, 'utf8').split('Server listening on').length - 1;
}

async function groupExists(group: string): Promise<boolean> {
  try {
    await execFileAsync('getent', ['group', group], { env: CHILD_ENV });
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, HOST);
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

async function waitForPort(port: number, child: ChildProcess, logPath: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    if (await bannerArrives(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const log = existsSync(logPath) ? readFileSync(logPath, 'utf8').slice(-2000) : '';
  throw new Error(`test sshd did not start on port ${port}; log tail:\n${log}`);
}

/** True once the server answers with its SSH banner. */
function bannerArrives(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('data', (chunk: Buffer) => done(chunk.toString('latin1').startsWith('SSH-')));
    socket.once('error', () => done(false));
  });
}
