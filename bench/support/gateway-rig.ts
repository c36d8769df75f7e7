/**
 * Everything bench/gateway.ts measures against, on loopback: a throw-away OpenSSH `sshd` (the
 * target) with one Linux user, a second throw-away `sshd` as the ProxyJump host (the peer), and a
 * Tessera with its SSH gateway in a child process, set up through its API the way an operator
 * would: a gateway user with a registered key, a linux target with its host key pinned, an
 * account holding the target user's private key in a safe the user may `use`.
 *
 * The same target user is reached three ways, named in an ssh_config for the real `ssh`:
 * `direct` (the limit), `viajump` (OpenSSH's own ProxyJump through the peer) and `gateway`.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { knownServerNodeFlags, SERVER_ENVIRONMENT } from '../../src/node-settings.ts';
import { keyPair } from '../../test/gateway/support.ts';
import { type Sshd, startSshd, type TestUser } from '../../test/support/sshd.ts';
import { type Api, apiClient } from './api.ts';
import type {
  ChildMemory,
  GatewayChildConfig,
  GatewayChildMessage,
  GatewayParentMessage,
  LoopDelay,
} from './gateway-child.ts';
import { ask } from './gateway-ipc.ts';
import { type TempDir, tempDir } from './places.ts';

/** Where an ssh2 client connects, and the host key it accepts. */
export interface SshEndpoint {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly privateKey: string;
  /** An OpenSSH public key line: the only host key accepted. */
  readonly hostKey: string;
}

export interface GatewayRig {
  readonly dir: string;
  /** An ssh_config with the hosts `direct`, `viajump` and `gateway`. */
  readonly sshConfig: string;
  /** A text file of terminal-like lines, readable by the target user. */
  readonly textFile: string;
  readonly textBytes: number;
  /** A perl script printing `BYTES` of log lines `HZ` times a second: `perl FILE BYTES HZ`. */
  readonly producerFile: string;
  readonly direct: SshEndpoint;
  readonly gateway: SshEndpoint;
  /** The ProxyJump host, logged in to with the gateway user's key; it forwards to `direct`. */
  readonly jump: SshEndpoint;
  readonly apiUrl: string;
  /** Tessera users with one password, for a load of password logins (hashing). */
  readonly loginUsers: readonly string[];
  readonly loginPassword: string;
  readonly gatewayPid: number;
  /**
   * Recording off makes the recordings folder impossible to create: under the bench policy
   * (`recordingRequired: false`) the gateway then runs sessions unrecorded, its documented
   * fail-open path. The policy has no setting that turns recording off.
   */
  setRecording(on: boolean): void;
  /** Recording files, newest last, with their size in bytes. */
  recordingFiles(): { name: string; bytes: number }[];
  /**
   * Bytes of output the newest ended session's recording left out because its recorder could
   * not keep up (it drops past a bounded buffer and says so in the recording).
   */
  lastDroppedBytes(): Promise<number>;
  /** The gateway process's memory after a full garbage collection and the freeing it sets off. */
  memory(): Promise<ChildMemory>;
  /**
   * The first call starts watching how late the gateway's event loop runs (and gives null), the
   * next stops and says; the monitor's own timer runs only in between.
   */
  loopDelay(): Promise<LoopDelay | null>;
  /** CPU seconds the gateway process has used (all its threads), from /proc; NaN elsewhere. */
  gatewayCpuSeconds(): number;
  stop(): Promise<void>;
}

/**
 * TESSERA_BENCH_GATEWAY_NODE_FLAGS, for experiments only (e.g. "--trace-gc", or a V8 heap size):
 * extra flags for the gateway's Node. The report says so, and then meets no goal.
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = (
  process.env.TESSERA_BENCH_GATEWAY_NODE_FLAGS ?? ''
)
  .split(' ')
  .filter((flag) => flag !== '');

const TEXT_FILE_BYTES = 64 * 1024 * 1024;
const SESSION_END_WAIT_MS = 10_000;
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
const CHILD = path.join(import.meta.dirname, 'gateway-child.ts');
const LOGIN_USERS = 20;
const POLICY = 'gwbench';

export async function startGatewayRig(options: { profileDir: string | null }): Promise<GatewayRig> {
  const dir = tempDir('gateway');
  chmodSync(dir.path, 0o755); // the target user reads the text file from here
  const stops: Array<() => Promise<void>> = [async () => dir.remove()];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    return await build(dir, options, stops, stopAll);
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function build(
  dir: TempDir,
  options: { profileDir: string | null },
  stops: Array<() => Promise<void>>,
  stopAll: () => Promise<void>,
): Promise<GatewayRig> {
  const target = await startSshd();
  stops.push(() => target.stop());
  const jump = await startSshd();
  stops.push(() => jump.stop());
  const accountKey = await keyPair(dir.path, 'account-key');
  const userKey = await keyPair(dir.path, 'user-key');
  // A password nobody uses: sshd without PAM refuses a locked account even a key login.
  const unused = () => randomBytes(18).toString('base64url');
  const targetUser = await target.createUser('tgwb', {
    authorizedKeys: [accountKey.publicKey],
    password: unused(),
  });
  const jumpUser = await jump.createUser('jgwb', {
    authorizedKeys: [userKey.publicKey],
    password: unused(),
  });

  const dataDir = path.join(dir.path, 'tessera');
  mkdirSync(dataDir, { mode: 0o700 });
  const child = await spawnGateway({ dataDir, rootToken: newToken() }, options.profileDir);
  stops.push(() => child.stop());
  const api = apiClient(child.url, child.rootToken);
  const tessera = await setUpTessera(api, target, targetUser, {
    accountKey: accountKey.privateKey,
    userKey: userKey.publicKey,
  });

  const textFile = path.join(dir.path, 'text.out');
  writeTextFile(textFile, TEXT_FILE_BYTES);
  const producerFile = path.join(dir.path, 'producer.pl');
  writeFileSync(producerFile, PRODUCER, { mode: 0o644 });
  const gatewayEndpoint: SshEndpoint = {
    host: '127.0.0.1',
    port: child.gatewayPort,
    username: `${targetUser.name}@${tessera.targetName}`,
    privateKey: userKey.privateKey,
    hostKey: child.hostKey,
  };
  const sshConfig = writeSshConfig(dir.path, {
    target,
    jump,
    targetUser,
    jumpUser,
    accountKeyFile: accountKey.file,
    userKeyFile: userKey.file,
    gateway: gatewayEndpoint,
  });
  const recordings = path.join(dataDir, 'recordings');

  return {
    dir: dir.path,
    sshConfig,
    textFile,
    textBytes: TEXT_FILE_BYTES,
    producerFile,
    direct: {
      host: target.host,
      port: target.port,
      username: targetUser.name,
      privateKey: accountKey.privateKey,
      hostKey: target.hostKey,
    },
    gateway: gatewayEndpoint,
    jump: {
      host: jump.host,
      port: jump.port,
      username: jumpUser.name,
      privateKey: userKey.privateKey,
      hostKey: jump.hostKey,
    },
    apiUrl: child.url,
    loginUsers: tessera.loginUsers,
    loginPassword: tessera.loginPassword,
    gatewayPid: child.pid,
    setRecording: (on) => setRecording(recordings, on),
    recordingFiles: () => recordingFiles(recordings),
    lastDroppedBytes: () => lastDroppedBytes(api),
    memory: () => child.memory(),
    loopDelay: () => child.loopDelay(),
    gatewayCpuSeconds: () => cpuSecondsOf(child.pid),
    stop: stopAll,
  };
}

/** Output at a steady rate, on an absolute schedule so that it does not drift. */
const PRODUCER = `use strict;
use warnings;
use Time::HiRes qw(time sleep);
$| = 1;
my ($bytes, $hz) = @ARGV;
my $n = 0;
my $next = time;
while (1) {
  my $out = '';
  while (length($out) < $bytes) {
    $n++;
    $out .= sprintf("2025-12-04T17:%02d:%02dZ INFO worker-%d job %d done in %d ms\\n",
      ($n / 60) % 60, $n % 60, $n % 8, $n * 31, $n % 997);
  }
  print substr($out, 0, $bytes);
  $next += 1 / $hz;
  my $wait = $next - time;
  sleep($wait) if $wait > 0;
}
`;

const newToken = () => `tsr_${randomBytes(24).toString('base64url')}`;

interface TesseraSetup {
  readonly targetName: string;
  readonly loginUsers: string[];
  readonly loginPassword: string;
}

/** Through the API, as an operator would; only the host key is given (pinned at add). */
async function setUpTessera(
  api: Api,
  sshd: Sshd,
  targetUser: TestUser,
  keys: { accountKey: string; userKey: string },
): Promise<TesseraSetup> {
  const password = `pw-${randomBytes(12).toString('base64url')}`;
  const user = 'gwbench';
  await api.call('POST', '/v1/users', { body: { name: user, role: 'user', password } });
  // An administrator registers the bench user's key (no proof of possession asked of admins).
  await api.call('POST', `/v1/users/${user}/ssh-keys`, { body: { publicKey: keys.userKey } });
  await api.call('PUT', `/v1/policies/${POLICY}`, { body: {} });
  // Everything else at its default: input recorded, forwarding refused, no time limits.
  await api.call('PUT', `/v1/policies/${POLICY}/session`, { body: { recordingRequired: false } });
  const targetName = 'bench01';
  await api.call('POST', '/v1/targets', {
    body: {
      name: targetName,
      platform: 'linux',
      host: sshd.host,
      port: sshd.port,
      options: { hostKey: sshd.hostKey },
    },
  });
  await api.call('POST', '/v1/safes', { body: { name: 'gwbench' } });
  await api.call('PUT', `/v1/safes/gwbench/members/${user}`, {
    body: { permissions: ['list', 'use'] },
  });
  await api.call('POST', `/v1/targets/${targetName}/accounts`, {
    body: {
      username: targetUser.name,
      safe: 'gwbench',
      policy: POLICY,
      secret: keys.accountKey,
      secretType: 'ssh-key',
    },
  });
  const loginPassword = `pw-${randomBytes(12).toString('base64url')}`;
  const loginUsers = Array.from({ length: LOGIN_USERS }, (_, n) => `gwlogin${n}`);
  for (const name of loginUsers) {
    await api.call('POST', '/v1/users', { body: { name, role: 'user', password: loginPassword } });
  }
  return { targetName, loginUsers, loginPassword };
}

interface ConfigInput {
  readonly target: Sshd;
  readonly jump: Sshd;
  readonly targetUser: TestUser;
  readonly jumpUser: TestUser;
  readonly accountKeyFile: string;
  readonly userKeyFile: string;
  readonly gateway: SshEndpoint;
}

/** Every host with its pinned key; nothing is read from the machine's own ssh configuration. */
function writeSshConfig(dir: string, c: ConfigInput): string {
  const gatewayKnownHosts = path.join(dir, 'gateway_known_hosts');
  writeFileSync(gatewayKnownHosts, `[127.0.0.1]:${c.gateway.port} ${c.gateway.hostKey}\n`);
  const common = [
    '  HostName 127.0.0.1',
    '  IdentitiesOnly yes',
    '  BatchMode yes',
    '  StrictHostKeyChecking yes',
    '  ControlMaster no',
    '  ControlPath none',
    '  LogLevel ERROR',
    '  ConnectTimeout 10',
    // The gateway (ssh2) offers no post-quantum key exchange; OpenSSH's default sntrup761 costs
    // about 300 ms of CPU here, so every leg uses the same curve25519 for a fair comparison.
    '  KexAlgorithms curve25519-sha256',
  ];
  const host = (name: string, lines: string[]) => [`Host ${name}`, ...lines, ...common];
  const text = [
    ...host('direct', [
      `  Port ${c.target.port}`,
      `  User ${c.targetUser.name}`,
      `  IdentityFile ${c.accountKeyFile}`,
      `  UserKnownHostsFile ${c.target.knownHostsPath}`,
    ]),
    ...host('jump', [
      `  Port ${c.jump.port}`,
      `  User ${c.jumpUser.name}`,
      `  IdentityFile ${c.userKeyFile}`,
      `  UserKnownHostsFile ${c.jump.knownHostsPath}`,
    ]),
    ...host('viajump', [
      `  Port ${c.target.port}`,
      `  User ${c.targetUser.name}`,
      `  IdentityFile ${c.accountKeyFile}`,
      `  UserKnownHostsFile ${c.target.knownHostsPath}`,
      '  ProxyJump jump',
    ]),
    ...host('gateway', [
      `  Port ${c.gateway.port}`,
      `  User ${c.gateway.username}`,
      `  IdentityFile ${c.userKeyFile}`,
      `  UserKnownHostsFile ${gatewayKnownHosts}`,
    ]),
    '',
  ].join('\n');
  const file = path.join(dir, 'ssh_config');
  writeFileSync(file, text, { mode: 0o644 });
  return file;
}

/** Log and listing lines, CR LF as a terminal shows them: what "text output" means here. */
function writeTextFile(file: string, bytes: number): void {
  const lines: string[] = [];
  let size = 0;
  for (let n = 0; size < bytes; n++) {
    const minute = String(n % 60).padStart(2, '0');
    const line =
      n % 3 === 0
        ? `-rw-r--r-- 1 app app ${(n * 7919) % 100_000} Dec  4 17:${minute} report-${n}.csv\r\n`
        : `2025-12-04T17:${minute}:0${n % 10}Z INFO worker-${n % 8} job ${n * 31} ${n % 997} ms\r\n`;
    lines.push(line);
    size += line.length;
  }
  writeFileSync(file, lines.join('').slice(0, bytes), { mode: 0o644 });
}

/** utime + stime of a process, in seconds (USER_HZ is 100 on Linux). */
function cpuSecondsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN; // no /proc
  }
}

function setRecording(recordings: string, on: boolean): void {
  const kept = `${recordings}.kept`;
  if (on) {
    if (existsSync(recordings) && statSync(recordings).isFile()) rmSync(recordings);
    if (existsSync(kept)) renameSync(kept, recordings);
    return;
  }
  if (existsSync(recordings) && statSync(recordings).isDirectory()) renameSync(recordings, kept);
  if (!existsSync(recordings)) writeFileSync(recordings, 'recording is off for this benchmark\n');
}

function recordingFiles(recordings: string): { name: string; bytes: number }[] {
  if (!existsSync(recordings) || !statSync(recordings).isDirectory()) return [];
  return readdirSync(recordings)
    .map((name) => {
      const stat = statSync(path.join(recordings, name));
      return { name, bytes: stat.size, at: stat.birthtimeMs || stat.ctimeMs };
    })
    .sort((a, b) => a.at - b.at)
    .map(({ name, bytes }) => ({ name, bytes }));
}

interface GatewayChild {
  readonly url: string;
  readonly gatewayPort: number;
  readonly hostKey: string;
  readonly rootToken: string;
  readonly pid: number;
  memory(): Promise<ChildMemory>;
  loopDelay(): Promise<LoopDelay | null>;
  stop(): Promise<void>;
}

async function spawnGateway(
  config: GatewayChildConfig,
  profileDir: string | null,
): Promise<GatewayChild> {
  const profile = profileDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  if (profileDir !== null) mkdirSync(profileDir, { recursive: true });
  const child = fork(CHILD, [], {
    // The server's own settings (as `tessera server` runs), then the experiment's, which win.
    execArgv: ['--expose-gc', ...knownServerNodeFlags(), ...profile, ...GATEWAY_NODE_FLAGS],
    env: { ...SERVER_ENVIRONMENT, ...process.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const start: GatewayParentMessage = { type: 'start', config };
  const ready = await ask<GatewayChildMessage, 'ready'>(child, start, 'ready', READY_TIMEOUT_MS);
  return {
    url: ready.url,
    gatewayPort: ready.gatewayPort,
    hostKey: ready.hostKey,
    rootToken: config.rootToken,
    pid: child.pid ?? 0,
    async memory() {
      const message: GatewayParentMessage = { type: 'memory' };
      const answer = await ask<GatewayChildMessage, 'memory'>(
        child,
        message,
        'memory',
        READY_TIMEOUT_MS,
      );
      return answer.memory;
    },
    async loopDelay() {
      const message: GatewayParentMessage = { type: 'loop-delay' };
      const answer = await ask<GatewayChildMessage, 'loop-delay'>(
        child,
        message,
        'loop-delay',
        READY_TIMEOUT_MS,
      );
      return answer.delay;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = once(child, 'exit');
      child.send({ type: 'stop' } satisfies GatewayParentMessage);
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await done;
      clearTimeout(timer);
    },
  };
}

/** Waits for the newest session to be written as ended, then reads its dropped bytes. */
async function lastDroppedBytes(api: Api): Promise<number> {
  const deadline = performance.now() + SESSION_END_WAIT_MS;
  for (;;) {
    const { sessions } = await api.call<{
      sessions: { endedAt: string | null; droppedBytes: number }[];
    }>('GET', '/v1/sessions?limit=1');
    const newest = sessions[0];
    if (newest?.endedAt != null) return newest.droppedBytes;
    if (performance.now() > deadline) throw new Error('the last session never ended');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
