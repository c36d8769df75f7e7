/**
 * The gateway under test, started by the server itself (ServerOptions.gateway) in dev mode on
 * SQLite and a free loopback port. Targets are a real throw-away sshd; clients are the real
 * OpenSSH `ssh`, `scp` and `sftp`, with keys made by `ssh-keygen` in a temporary folder.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { copyFileSync, existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type AccountService, createAccountService } from '../../src/accounts/account-service.ts';
import { createTargetService, type TargetService } from '../../src/accounts/targets.ts';
import type { RequestContext } from '../../src/audit/event.ts';
import type { Clock } from '../../src/clock.ts';
import { createLinuxConnector } from '../../src/connectors/linux.ts';
import { createConnectors } from '../../src/connectors/platforms.ts';
import {
  DEFAULT_GATEWAY_CONFIG,
  type GatewayServices,
  type RunningGateway,
} from '../../src/gateway/gateway.ts';
import type { Principal } from '../../src/identity/principal.ts';
import { createLogger } from '../../src/logger.ts';
import { type RunningServer, startServer } from '../../src/server.ts';
import type { Services } from '../../src/services.ts';
import type { Sshd } from '../support/sshd.ts';
import { createScratchDatabase, type StoreKind } from '../support/stores.ts';

const execFileAsync = promisify(execFile);
const CLIENT_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };

export interface Harness {
  /** The server, as the core tests see one. */
  readonly server: {
    readonly services: Services;
    readonly dataDir: string;
    readonly rootToken: string;
    readonly url: string;
    api: Harness['api'];
    logText(): string;
  };
  /**
   * Target and account services that know the `linux` platform. The server does not list it
   * among its platforms yet (the integrator adds it); until then targets and accounts for the
   * gateway are made through these, then read by the server's own services like any other.
   */
  readonly linux: { targets: TargetService; accounts: AccountService };
  readonly gateway: RunningGateway;
  readonly services: GatewayServices;
  /** The folder of client keys and known_hosts files, removed at stop. */
  readonly dir: string;
  /** Calls the API: status, JSON body (when JSON) and the text as sent. */
  api<T = Record<string, unknown>>(
    method: string,
    path: string,
    options?: { token?: string | null; body?: unknown },
  ): Promise<{ status: number; body: T; text: string }>;
  readonly apiUrl: string;
  /** The scratch PostgreSQL database, for a second node; null on SQLite. */
  readonly databaseUrl: string | null;
  /** Everything the server logged. */
  logText(): string;
  /** Stops the server; its data and the client keys are kept when `keepData` (a restart follows). */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

/**
 * A real Tessera started through `startServer`, in dev mode (SQLite, or a scratch PostgreSQL
 * database), with the SSH gateway on a free loopback port. `dataDir` and `rootToken` restart
 * one on the SQLite data of an earlier one.
 */
export async function startHarness(
  options: {
    passwordLogin?: boolean;
    dataDir?: string;
    rootToken?: string;
    store?: StoreKind;
    recheckIntervalMs?: number;
    connectionIdleMs?: number;
    /** The server's clock; left out, the system's. */
    clock?: Clock;
    /** How often a watch relayed between nodes says it is alive. */
    watchRelayAliveMs?: number;
  } = {},
): Promise<Harness> {
  const database = options.store === 'postgres' ? await createScratchDatabase('tessera_gw') : null;
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'tessera-gw-data-')));
  const rootToken = options.rootToken ?? `tsr_${randomBytes(24).toString('base64url')}`;
  const lines: string[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: { write: (line: string) => lines.push(line) },
  });
  const running = await startServer(
    {
      dataDir,
      host: '127.0.0.1',
      port: 0,
      databaseUrl: database?.url ?? null,
      dev: true,
      devRootToken: rootToken,
      schedulerIntervalMs: 3_600_000,
      checkpointIntervalMs: 60_000,
    },
    {
      logger,
      banner: () => undefined,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      ...(options.watchRelayAliveMs === undefined
        ? {}
        : { watchRelayAliveMs: options.watchRelayAliveMs }),
      gateway: {
        ...DEFAULT_GATEWAY_CONFIG,
        port: 0,
        passwordLogin: options.passwordLogin ?? false,
        ...(options.recheckIntervalMs === undefined
          ? {}
          : { recheckIntervalMs: options.recheckIntervalMs }),
        ...(options.connectionIdleMs === undefined
          ? {}
          : { connectionIdleMs: options.connectionIdleMs }),
      },
    },
  );
  const gateway = running.gateway;
  if (gateway === null) throw new Error('the gateway did not start');
  if (database !== null) await announceLoopback(running, dataDir);
  const { store, audit, clock, policies, access, versions } = running.services;
  const dir = await mkdtemp(path.join(tmpdir(), 'tessera-gw-'));
  const connectors = new Map([...createConnectors(), ['linux', createLinuxConnector()]]);
  const linux = {
    targets: createTargetService({ store, audit, clock, connectors }),
    accounts: createAccountService({ store, audit, access, policies, versions, clock, connectors }),
  };
  const api: Harness['api'] = async (method, route, { token = rootToken, body } = {}) => {
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(running.url + route, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    const json = response.headers.get('content-type')?.startsWith('application/json') === true;
    return { status: response.status, body: json && text !== '' ? JSON.parse(text) : {}, text };
  };
  const logText = () => lines.join('');

  return {
    server: { services: running.services, dataDir, rootToken, url: running.url, api, logText },
    linux,
    gateway,
    services: running.services.gateway,
    dir,
    api,
    apiUrl: running.url,
    databaseUrl: database?.url ?? null,
    logText,
    async stop({ keepData = false } = {}) {
      await running.close();
      if (keepData) return;
      await rm(dir, { recursive: true, force: true });
      await rm(dataDir, { recursive: true, force: true });
      await database?.drop();
    },
  };
}

/**
 * A second node beside `h` (started on PostgreSQL): the same database, its own data directory
 * and so its own node id, its own gateway, unsealed with h's dev key, on another loopback port.
 */
export async function startSecondNode(
  h: Harness,
  options: { watchRelayAliveMs?: number } = {},
): Promise<{ server: RunningServer; dataDir: string; stop(): Promise<void> }> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'tessera-node-b-'));
  copyFileSync(path.join(h.server.dataDir, 'dev-unseal.key'), path.join(dataDir, 'dev-unseal.key'));
  const server = await startNodeOn(h, dataDir, options);
  await announceLoopback(server, dataDir);
  return {
    server,
    dataDir,
    async stop() {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts a node with the harness's PostgreSQL database and root token on `dataDir`, with its
 * gateway on a free port: the caller puts in the data dir what the node should find there.
 */
export function startNodeOn(
  h: Harness,
  dataDir: string,
  options: { port?: number; watchRelayAliveMs?: number } = {},
): Promise<RunningServer> {
  if (h.databaseUrl === null) throw new Error('another node needs the PostgreSQL harness');
  const { port = 0, ...serverOptions } = options;
  return startServer(
    {
      dataDir,
      host: '127.0.0.1',
      port,
      databaseUrl: h.databaseUrl,
      dev: true,
      devRootToken: h.server.rootToken,
      schedulerIntervalMs: 3_600_000,
      checkpointIntervalMs: 60_000,
    },
    {
      logger: createLogger({ level: 'silent' }),
      banner: () => undefined,
      gateway: { ...DEFAULT_GATEWAY_CONFIG, port: 0 },
      ...serverOptions,
    },
  );
}

/**
 * Two nodes on one machine reach each other on loopback, which a node never gives as its address
 * unasked (elsewhere it would lead each node to itself): each says it, as --node-url would.
 */
async function announceLoopback(server: RunningServer, dataDir: string): Promise<void> {
  const nodeId = (await readFile(path.join(dataDir, 'node-id'), 'utf8')).trim();
  await server.services.gateway.nodes.announce(nodeId, server.url);
}

/** Key types ssh-keygen makes for the tests, with the size asked of it. */
export const KEY_KINDS = {
  ed25519: ['-t', 'ed25519'],
  rsa3072: ['-t', 'rsa', '-b', '3072'],
  ecdsa256: ['-t', 'ecdsa', '-b', '256'],
} as const;

/**
 * A fresh key pair made by ssh-keygen, Ed25519 unless asked: the private key's file and the
 * public line.
 */
export async function keyPair(
  dir: string,
  name: string,
  kind: keyof typeof KEY_KINDS = 'ed25519',
): Promise<{ file: string; publicKey: string; privateKey: string }> {
  const file = path.join(dir, name);
  const args = [...KEY_KINDS[kind], '-q', '-N', '', '-C', name, '-f', file];
  await execFileAsync('ssh-keygen', args, { env: CLIENT_ENV });
  return {
    file,
    publicKey: (await readFile(`${file}.pub`, 'utf8')).trim(),
    privateKey: await readFile(file, 'utf8'),
  };
}

const ADMIN_CONTEXT: RequestContext = {
  actor: { id: null, name: 'admin' },
  source: '127.0.0.1',
  requestId: null,
};

async function adminPrincipal(h: Harness): Promise<Principal> {
  const admin = await h.server.services.users.findByName('admin');
  if (admin === null) throw new Error('no admin');
  return { userId: admin.id, name: admin.name, role: 'admin', tokenId: 'test' };
}

export const unique = (prefix: string) => `${prefix}${randomBytes(4).toString('hex')}`;

/** The armored SSHSIG that the real `ssh-keygen -Y sign` makes of `text`, read from stdin. */
export async function sshSign(keyFile: string, namespace: string, text: string): Promise<string> {
  const child = spawn('ssh-keygen', ['-Y', 'sign', '-n', namespace, '-f', keyFile], {
    env: CLIENT_ENV,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  child.stdin.end(text);
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`ssh-keygen -Y sign: ${Buffer.concat(err).toString()}`);
  return Buffer.concat(out).toString('utf8');
}

/**
 * Registers a key for the token's user as a person does: a challenge from the server, signed by
 * ssh-keygen with the private key in `keyFile`, sent back with the key. Returns the answer.
 */
export async function addOwnKey(
  api: Harness['api'],
  token: string,
  key: { file: string; publicKey: string },
) {
  const issued = await api<{ challenge: string; namespace: string }>(
    'POST',
    '/v1/users/me/ssh-keys/challenge',
    { token, body: { publicKey: key.publicKey } },
  );
  if (issued.status !== 200) return issued;
  const { challenge, namespace } = issued.body;
  const signature = await sshSign(key.file, namespace, challenge);
  return api('POST', '/v1/users/me/ssh-keys', {
    token,
    body: { publicKey: key.publicKey, challenge, signature },
  });
}

/** A Tessera user with a token and a registered key for the gateway. */
export async function gatewayUser(
  h: Harness,
  role: 'admin' | 'auditor' | 'user' = 'user',
): Promise<{ name: string; token: string; key: { file: string; publicKey: string } }> {
  const name = unique('gu-');
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  const created = await h.server.api('POST', '/v1/users', { body: { name, role, password } });
  if (created.status !== 201) throw new Error(`user: ${JSON.stringify(created.body)}`);
  const login = await h.server.api<{ token: string }>('POST', '/v1/auth/login', {
    token: null,
    body: { user: name, password },
  });
  const key = await keyPair(h.dir, name);
  const added = await addOwnKey(h.api, login.body.token, key);
  if (added.status !== 201) throw new Error(`key: ${added.text}`);
  return { name, token: login.body.token, key };
}

/**
 * A Tessera user who signs in with a password (no key), and a Linux account on `target` with a
 * password of its own, onboarded for them: the set-up of the gateway's password-login tests.
 */
export async function passwordUser(
  h: Harness,
  target: Sshd,
  prefixes: { readonly linux: string; readonly user: string },
) {
  const linuxPassword = `Pw-${randomBytes(12).toString('base64url')}`;
  const linux = await target.createUser(prefixes.linux, { password: linuxPassword });
  const name = unique(prefixes.user);
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  await h.api('POST', '/v1/users', { body: { name, role: 'user', password } });
  const { login } = await linuxAccount(h, target, {
    user: name,
    secret: linuxPassword,
    secretType: 'password',
    linuxUser: linux.name,
  });
  return { name, password, login, linux };
}

/**
 * A Linux target for the test sshd, with its host key pinned (or another one, to play a changed
 * key), a safe the user may `use`, and the account onboarded with its secret.
 */
export async function linuxAccount(
  h: Harness,
  sshd: Sshd,
  options: {
    user: string;
    secret: string;
    secretType: 'password' | 'ssh-key';
    linuxUser: string;
    hostKey?: string;
    policy?: string;
    permissions?: string[];
  },
): Promise<{ target: string; login: string; safe: string }> {
  const target = unique('web');
  const safe = unique('safe');
  const check = (what: string, r: { status: number; body: unknown }, ok: number) => {
    if (r.status !== ok) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
  };
  await h.linux.targets.create(ADMIN_CONTEXT, {
    name: target,
    platform: 'linux',
    host: sshd.host,
    port: sshd.port,
    options: { hostKey: options.hostKey ?? sshd.hostKey },
  });
  check('safe', await h.server.api('POST', '/v1/safes', { body: { name: safe } }), 201);
  check(
    'member',
    await h.server.api('PUT', `/v1/safes/${safe}/members/${options.user}`, {
      body: { permissions: options.permissions ?? ['list', 'use'] },
    }),
    200,
  );
  await h.linux.accounts.onboard(ADMIN_CONTEXT, await adminPrincipal(h), {
    target,
    username: options.linuxUser,
    safe,
    secret: options.secret,
    secretType: options.secretType,
    policy: options.policy,
  });
  return { target, login: `${options.linuxUser}@${target}`, safe };
}

export interface SshResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stdoutBytes: Buffer;
  readonly stderr: string;
}

/** The OpenSSH options every test client uses against the gateway. */
export function sshOptions(h: Harness, keyFile: string): string[] {
  return [
    '-F',
    '/dev/null',
    '-o',
    `UserKnownHostsFile=${path.join(h.dir, 'known_hosts')}`,
    '-o',
    'StrictHostKeyChecking=accept-new',
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'ConnectTimeout=5',
    '-i',
    keyFile,
  ];
}

/** Runs a real OpenSSH client (`ssh`, `scp`, `sftp`) and collects what it printed. */
export function runClient(
  program: 'ssh' | 'scp' | 'sftp',
  args: string[],
  options: {
    input?: string | Buffer;
    /** Typed once the first output (the shell's prompt) has arrived, as a person would. */
    inputAtPrompt?: string;
    timeoutMs?: number;
    onStdout?: (text: string) => void;
    /** Reads stdout slowly, pausing this long after every chunk, so the client falls behind. */
    slowReadMs?: number;
    env?: Record<string, string>;
  } = {},
): Promise<SshResult> {
  return new Promise((resolve, reject) => {
    const env = { ...CLIENT_ENV, ...options.env };
    const child = spawn(program, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const live = new TextDecoder();
    let shown = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    // Bytes are kept and decoded at the end: a character may come in two chunks.
    child.stdout.on('data', (chunk: Buffer) => {
      if (out.length === 0 && options.inputAtPrompt !== undefined) {
        child.stdin.end(options.inputAtPrompt);
      }
      out.push(chunk);
      shown += live.decode(chunk, { stream: true });
      options.onStdout?.(shown);
      if (options.slowReadMs !== undefined) {
        child.stdout.pause();
        setTimeout(() => child.stdout.resume(), options.slowReadMs);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString('utf8');
      resolve({ code, stdout: text(out), stdoutBytes: Buffer.concat(out), stderr: text(err) });
    });
    child.stdin.on('error', () => undefined);
    if (options.input !== undefined) child.stdin.end(options.input);
    else if (options.inputAtPrompt === undefined) child.stdin.end();
  });
}

/** `ssh` through the gateway as `login`, with the user's key, running `command` if given. */
export function sshThrough(
  h: Harness,
  keyFile: string,
  login: string,
  extra: {
    args?: string[];
    command?: string;
    input?: string;
    inputAtPrompt?: string;
    onStdout?: (text: string) => void;
    timeoutMs?: number;
    slowReadMs?: number;
    env?: Record<string, string>;
  } = {},
): Promise<SshResult> {
  const { args: _, command: __, ...options } = extra;
  const args = [
    ...sshOptions(h, keyFile),
    ...(extra.args ?? []),
    '-p',
    String(h.gateway.port),
    `${login}@127.0.0.1`,
    ...(extra.command === undefined ? [] : [extra.command]),
  ];
  return runClient('ssh', args, options);
}

/** Polls until `check` returns a value other than undefined. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Audit events of an action, newest last, straight from the store. */
/** The files in the harness server's recordings folder, sorted; none before the first session. */
export function recordingFiles(h: Harness): string[] {
  const folder = path.join(h.server.dataDir, 'recordings');
  return existsSync(folder) ? readdirSync(folder).sort() : [];
}

export async function auditEvents(h: Harness, action: string) {
  const rows = await h.server.services.store.db
    .selectFrom('audit_events')
    .selectAll()
    .where('action', '=', action)
    .orderBy('seq')
    .execute();
  return rows.map((row) => ({
    ...row,
    details: row.details === null ? {} : (JSON.parse(row.details) as Record<string, unknown>),
  }));
}

/**
 * An OpenSSH ControlMaster connection through the gateway with no session of its own (`-M -N`),
 * as `ControlPersist` leaves one behind. `run` starts a command over it, and only over it: a
 * client that finds no master fails instead of connecting anew.
 */
export async function controlMaster(
  h: Harness,
  keyFile: string,
  login: string,
): Promise<{
  socket: string;
  /** Settles when the master process exits, with what it printed. */
  exited: Promise<SshResult>;
  run(command: string, options?: { timeoutMs?: number }): Promise<SshResult>;
  isOpen(): Promise<boolean>;
  stop(): void;
}> {
  const socket = path.join(h.dir, unique('cm-'));
  const base = [...sshOptions(h, keyFile), '-S', socket, '-p', String(h.gateway.port)];
  const master = spawn('ssh', [...base, '-M', '-N', `${login}@127.0.0.1`], {
    env: CLIENT_ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  master.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  master.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const exited = new Promise<SshResult>((resolve) => {
    master.on('close', (code) => {
      const stdoutBytes = Buffer.concat(out);
      resolve({
        code,
        stdout: stdoutBytes.toString('utf8'),
        stdoutBytes,
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
  const muxOnly = [...base, '-o', 'ControlMaster=no', '-o', 'ProxyCommand=/bin/false'];
  const isOpen = async () =>
    (await runClient('ssh', [...muxOnly, '-O', 'check', `${login}@127.0.0.1`])).code === 0;
  await eventually(async () => ((await isOpen()) ? true : undefined));
  return {
    socket,
    exited,
    run: (command, options = {}) =>
      runClient('ssh', [...muxOnly, `${login}@127.0.0.1`, command], options),
    isOpen,
    stop: () => master.kill('SIGTERM'),
  };
}
