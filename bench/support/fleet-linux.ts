import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from '../../test/support/pg-cluster.ts';
import { type BenchAccount, type Fleet, setupPassword } from './mixed-fleet.ts';

const HOST = '127.0.0.1';
const SSHD = '/usr/sbin/sshd';
const PRIVSEP_DIR = '/run/sshd';
const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;
const CHILD_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
/**
 * Users per `newusers` call. Each call holds the user database's lock while it hashes its
 * passwords; small batches let other users of the machine's user database in between.
 */
const USER_BATCH = 50;

const execFileAsync = promisify(execFile);

/**
 * Linux users behind a throw-away sshd on loopback that lets in only this run's group. Users
 * have `/bin/sh` and no start-up files, so a login costs what the SSH handshake and the password
 * check cost. The reconcile user may run anything through sudo without a password, as the
 * connector's `sudo -S -k … /bin/sh -c` needs; its sudoers file is removed even if the run dies.
 */
export async function startLinuxFleet(tag: string): Promise<Fleet> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing: install openssh-server`);
  const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-sshd-'));
  await chmod(dir, 0o755);
  await mkdir(join(dir, 'home'), { mode: 0o755 });
  const group = `bmx${tag}`;
  const reconcile = { username: `bmxrec${tag}`, password: setupPassword() };
  const sudoers = `/etc/sudoers.d/tessera-bench-${reconcile.username}`;
  const created: string[] = [];
  const accounts: BenchAccount[] = [];
  let sshd: ChildProcess | undefined;
  const onExit = () => {
    sshd?.kill('SIGKILL');
    rmSync(sudoers, { force: true });
  };
  process.on('exit', onExit);

  const close = async () => {
    process.off('exit', onExit);
    await rm(sudoers, { force: true });
    if (sshd !== undefined) await stopChild(sshd);
    for (const name of created) {
      await execFileAsync('userdel', [name], { env: CHILD_ENV }).catch(() => undefined);
    }
    await execFileAsync('groupdel', [group], { env: CHILD_ENV }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await execFileAsync('groupadd', [group], { env: CHILD_ENV });
    await addUsers(dir, group, [reconcile], created);
    await writeFile(sudoers, `${reconcile.username} ALL=(ALL) NOPASSWD: ALL\n`, { mode: 0o440 });
    const { port, hostKey, child } = await startSshd(dir, group);
    sshd = child;
    return {
      platform: 'linux',
      target: {
        name: 'mix-linux',
        platform: 'linux',
        host: HOST,
        port,
        options: { hostKey, sudo: true },
      },
      reconcile,
      accounts,
      async grow(count) {
        const added: BenchAccount[] = [];
        for (let i = accounts.length; i < count; i++) {
          added.push({ username: `bmx${tag}u${i}`, password: setupPassword() });
        }
        for (let i = 0; i < added.length; i += USER_BATCH) {
          await addUsers(dir, group, added.slice(i, i + USER_BATCH), created);
        }
        accounts.push(...added);
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Creates users with `newusers`, which reads `name:password:uid:gid:gecos:home:shell` lines on
 * standard input and sets each password as chpasswd would: no password reaches an argument.
 */
async function addUsers(
  dir: string,
  group: string,
  users: readonly BenchAccount[],
  created: string[],
): Promise<void> {
  const lines = users.map(
    (u) =>
      `${u.username}:${u.password}::${group}:tessera bench:${join(dir, 'home', u.username)}:/bin/sh`,
  );
  const child = spawn('newusers', [], { env: CHILD_ENV, stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin.end(`${lines.join('\n')}\n`);
  const [code] = (await once(child, 'exit')) as [number | null];
  // Names are recorded before the verdict: a batch that failed half-way may have created some.
  created.push(...users.map((u) => u.username));
  if (code !== 0) throw new Error(`newusers failed (exit ${code}): ${stderr.trim().slice(0, 300)}`);
}

async function startSshd(dir: string, group: string) {
  await mkdir(PRIVSEP_DIR, { recursive: true, mode: 0o755 });
  const keyPath = join(dir, 'host');
  await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyPath], {
    env: CHILD_ENV,
  });
  const hostKey = (await readFile(`${keyPath}.pub`, 'utf8')).trim().split(' ').slice(0, 2);
  const port = await freePort();
  const configPath = join(dir, 'sshd_config');
  await writeFile(configPath, sshdConfig(dir, port, group));
  const logPath = join(dir, 'sshd.log');
  const child = spawn(SSHD, ['-D', '-f', configPath, '-E', logPath], {
    env: CHILD_ENV,
    stdio: 'ignore',
  });
  await waitForBanner(port, child, logPath);
  return { port, hostKey: hostKey.join(' '), child };
}

function sshdConfig(dir: string, port: number, group: string): string {
  return [
    `Port ${port}`,
    `ListenAddress ${HOST}`,
    `HostKey ${join(dir, 'host')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    'PasswordAuthentication yes',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'UsePAM no',
    'PermitRootLogin no',
    'StrictModes no',
    'PrintMotd no',
    'PrintLastLog no',
    'UseDNS no',
    'LogLevel ERROR',
    'MaxStartups 200:30:400',
    'MaxSessions 100',
    'LoginGraceTime 30',
    // Nobody but this run's users gets in, whatever else exists on the machine.
    `AllowGroups ${group}`,
    '',
  ].join('\n');
}

async function waitForBanner(port: number, child: ChildProcess, logPath: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline && child.exitCode === null) {
    if (await bannerArrives(port)) return;
    await delay(50);
  }
  const log = existsSync(logPath) ? readFileSync(logPath, 'utf8').slice(-2_000) : '';
  throw new Error(`the bench sshd did not start on port ${port}; log tail:\n${log}`);
}

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

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const stopped = await Promise.race([exited.then(() => true), delay(STOP_TIMEOUT_MS, false)]);
  if (!stopped) child.kill('SIGKILL');
}
