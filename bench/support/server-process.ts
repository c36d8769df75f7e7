import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { knownServerNodeFlags, SERVER_ENVIRONMENT } from '../../src/node-settings.ts';
import type { ChildMessage, ChildServerConfig, ParentMessage } from './server-child.ts';

export interface ServerProcess {
  readonly url: string;
  readonly rootToken: string;
  /** Closes the server cleanly and waits for the process to exit. */
  stop(): Promise<void>;
  /** SIGKILL: the process dies at once, mid-request, the way a crash would end it. */
  kill(): Promise<void>;
}

export interface ServerSpec {
  readonly dataDir: string;
  readonly databaseUrl: string | null;
  readonly audit: 'on' | 'off';
  /** When set, the child runs under `--cpu-prof` and writes its profile here at a clean stop. */
  readonly profileDir?: string | null;
}

const CHILD = path.join(import.meta.dirname, 'server-child.ts');
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/** Starts a Tessera server in a child process and waits until it listens. */
export async function spawnServer(spec: ServerSpec): Promise<ServerProcess> {
  const rootToken = `tsr_${randomBytes(24).toString('base64url')}`;
  const child = fork(CHILD, [], {
    // The Node settings `tessera server` runs under.
    execArgv: [...knownServerNodeFlags(), ...profileArgs(spec.profileDir ?? null)],
    env: { ...SERVER_ENVIRONMENT, ...process.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const config: ChildServerConfig = {
    dataDir: spec.dataDir,
    databaseUrl: spec.databaseUrl,
    rootToken,
    audit: spec.audit,
  };
  const url = await waitReady(child, config);
  return {
    url,
    rootToken,
    stop: () => stopChild(child),
    kill: () => killChild(child),
  };
}

function profileArgs(profileDir: string | null): string[] {
  if (profileDir === null) return [];
  mkdirSync(profileDir, { recursive: true });
  return ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
}

function waitReady(child: ChildProcess, config: ChildServerConfig): Promise<string> {
  return new Promise((resolve, reject) => {
    const settle = (outcome: () => void) => {
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('message', onMessage);
      outcome();
    };
    const onExit = (code: number | null) =>
      settle(() => reject(new Error(`the benchmark server exited early (code ${code})`)));
    const onMessage = (message: ChildMessage) =>
      settle(() =>
        message.type === 'ready'
          ? resolve(message.url)
          : reject(new Error(`the benchmark server failed to start: ${message.message}`)),
      );
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      settle(() => reject(new Error('the benchmark server did not start in time')));
    }, READY_TIMEOUT_MS);
    child.on('exit', onExit);
    child.on('message', onMessage);
    const start: ParentMessage = { type: 'start', config };
    child.send(start);
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (exited(child)) return;
  const done = once(child, 'exit');
  const stop: ParentMessage = { type: 'stop' };
  child.send(stop);
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await done;
  clearTimeout(timer);
}

async function killChild(child: ChildProcess): Promise<void> {
  if (exited(child)) return;
  const done = once(child, 'exit');
  child.kill('SIGKILL');
  await done;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}
