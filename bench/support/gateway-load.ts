/**
 * The load for bench/gateway.ts, in a process of its own so that neither the gateway nor the
 * keystroke probes share its event loop: many interactive sessions through the gateway, each a
 * shell running the rig's producer (output at a steady rate), and a stream of Tessera password
 * logins over the API (argon2id hashing in the server). Driven over IPC by `gatewayLoad()`.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import type { Client, ClientChannel } from 'ssh2';
import { connect, shellRunning } from './gateway-echo.ts';
import { ask } from './gateway-ipc.ts';
import type { SshEndpoint } from './gateway-rig.ts';

export interface SessionsRequest {
  readonly type: 'sessions';
  /** Sessions wanted in all: more are opened until this many run. */
  readonly count: number;
  readonly endpoint: SshEndpoint;
  /** The program each shell runs (`exec PROGRAM`). */
  readonly program: string;
  /** Sessions being opened at once. */
  readonly concurrency: number;
}

export interface LoginsRequest {
  readonly type: 'logins';
  readonly url: string;
  readonly users: readonly string[];
  readonly password: string;
  /** Logins in flight at once. */
  readonly concurrency: number;
}

type LoadRequest =
  | SessionsRequest
  | LoginsRequest
  | { readonly type: 'rate' }
  | { readonly type: 'logins-stop' }
  | { readonly type: 'close' };

type LoadAnswer =
  | {
      readonly type: 'sessions';
      readonly open: number;
      readonly failed: number;
      readonly firstError: string | null;
    }
  | { readonly type: 'rate'; readonly bytes: number; readonly seconds: number }
  | { readonly type: 'logins-started' }
  | { readonly type: 'logins'; readonly done: number; readonly failed: number }
  | { readonly type: 'closed' }
  | { readonly type: 'failed'; readonly message: string };

export interface GatewayLoad {
  /** Opens sessions until `count` run; answers how many run and how many failed to open. */
  sessions(
    request: Omit<SessionsRequest, 'type'>,
  ): Promise<{ open: number; failed: number; firstError: string | null }>;
  /** Output received by all sessions since the last call. */
  rate(): Promise<{ bytes: number; seconds: number }>;
  startLogins(request: Omit<LoginsRequest, 'type'>): Promise<void>;
  stopLogins(): Promise<{ done: number; failed: number }>;
  closeSessions(): Promise<void>;
  stop(): Promise<void>;
}

const ANSWER_TIMEOUT_MS = 600_000;

/** Starts the load process (this file, forked). */
export function gatewayLoad(): GatewayLoad {
  const child = fork(import.meta.filename, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const call = <T extends LoadAnswer['type']>(message: LoadRequest, answer: T) =>
    ask<LoadAnswer, T>(child, message, answer, ANSWER_TIMEOUT_MS);
  return {
    sessions: (request) => call({ type: 'sessions', ...request }, 'sessions'),
    rate: () => call({ type: 'rate' }, 'rate'),
    startLogins: async (request) => {
      await call({ type: 'logins', ...request }, 'logins-started');
    },
    stopLogins: () => call({ type: 'logins-stop' }, 'logins'),
    closeSessions: async () => {
      await call({ type: 'close' }, 'closed');
    },
    stop: () => stopChild(child),
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

// ---- the child's side ----

interface Running {
  readonly client: Client;
  readonly channel: ClientChannel;
}

const running: Running[] = [];
let received = 0;
let rateSince = performance.now();
let failedToOpen = 0;
let firstError: string | null = null;

async function openSessions(request: SessionsRequest): Promise<void> {
  const openOne = async () => {
    const client = await connect(request.endpoint);
    try {
      const channel = await shellRunning(client, { program: request.program });
      channel.on('data', (data: Buffer) => {
        received += data.length;
      });
      running.push({ client, channel });
    } catch (error) {
      client.end();
      throw error;
    }
  };
  let opening = 0;
  const workers = Array.from({ length: request.concurrency }, async () => {
    while (running.length + failedToOpen + opening < request.count) {
      opening += 1;
      await openOne()
        .catch((error: unknown) => {
          failedToOpen += 1;
          firstError ??= error instanceof Error ? error.message : String(error);
        })
        .finally(() => {
          opening -= 1;
        });
    }
  });
  await Promise.all(workers);
  send({ type: 'sessions', open: running.length, failed: failedToOpen, firstError });
}

function closeSessions(): void {
  for (const { client, channel } of running.splice(0)) {
    channel.close();
    client.end();
  }
  failedToOpen = 0;
  firstError = null;
  send({ type: 'closed' });
}

function rate(): void {
  const now = performance.now();
  send({ type: 'rate', bytes: received, seconds: (now - rateSince) / 1000 });
  received = 0;
  rateSince = now;
}

let logins: { stop: boolean; done: number; failed: number; loops: Promise<void>[] } | null = null;

/**
 * Each login comes from its own loopback address in turn (127.0.0.2 and up) and for one of
 * several users: one address would meet the per-source limit on anonymous requests long before
 * the hasher is busy, which is not what this load is for.
 */
function startLogins(request: LoginsRequest): void {
  const state = { stop: false, done: 0, failed: 0, loops: [] as Promise<void>[] };
  let next = 0;
  const loop = async () => {
    while (!state.stop) {
      const n = next++;
      const user = request.users[n % request.users.length] ?? '';
      const source = `127.0.${1 + (Math.floor(n / 200) % 200)}.${2 + (n % 200)}`;
      const ok = await login(request.url, user, request.password, source);
      if (ok) state.done += 1;
      else state.failed += 1;
    }
  };
  state.loops = Array.from({ length: request.concurrency }, loop);
  logins = state;
  send({ type: 'logins-started' });
}

async function stopLogins(): Promise<void> {
  const state = logins;
  logins = null;
  if (state === null) return send({ type: 'logins', done: 0, failed: 0 });
  state.stop = true;
  await Promise.all(state.loops);
  send({ type: 'logins', done: state.done, failed: state.failed });
}

function login(url: string, user: string, password: string, localAddress: string) {
  const body = JSON.stringify({ user, password });
  return new Promise<boolean>((resolve) => {
    const request = http.request(
      `${url}/v1/auth/login`,
      {
        method: 'POST',
        agent: false,
        localAddress,
        headers: { 'content-type': 'application/json' },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode === 200));
      },
    );
    request.on('error', () => resolve(false));
    request.end(body);
  });
}

function send(message: LoadAnswer): void {
  process.send?.(message);
}

function fail(error: unknown): void {
  send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
}

if (process.argv[1] === import.meta.filename) {
  process.on('message', (message: LoadRequest) => {
    if (message.type === 'sessions') openSessions(message).catch(fail);
    else if (message.type === 'rate') rate();
    else if (message.type === 'logins') startLogins(message);
    else if (message.type === 'logins-stop') stopLogins().catch(fail);
    else closeSessions();
  });
  // An orchestrator that dies must not leave the load running behind it.
  process.on('disconnect', () => process.exit(1));
}
