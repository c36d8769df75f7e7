/**
 * Starts `server-child.ts` as a child process and talks to it over HTTP: a real Tessera that a
 * test can SIGKILL at any moment and start again on the same data directory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const CHILD_SCRIPT = fileURLToPath(new URL('./server-child.ts', import.meta.url));
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;
const OUTPUT_TAIL = 4_000;

export interface ServerProcessOptions {
  readonly dataDir: string;
  readonly rootToken: string;
  /** Tessera's own store on PostgreSQL; null for SQLite in the data directory. */
  readonly databaseUrl: string | null;
  /** Runs the server's clock this far ahead of the real one. */
  readonly clockOffsetMs?: number;
}

export interface ServerProcess {
  readonly url: string;
  readonly pid: number;
  /** Calls the API as the dev root token (or `token`); returns status and parsed body. */
  api<T = Record<string, unknown>>(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown },
  ): Promise<{ status: number; body: T }>;
  /** Sends SIGKILL now, synchronously, so the kill lands exactly where the caller stands. */
  killNow(): void;
  /** Resolves once the process has exited, however it ended. */
  exited(): Promise<void>;
  /** Asks the server to shut down cleanly, and waits for it. */
  stop(): Promise<void>;
  /** What the server wrote to stderr (JSON logs and the dev banner), for failure messages. */
  output(): string;
}

/** Starts a server and resolves once it listens. */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const child = spawn(process.execPath, [CHILD_SCRIPT], {
    env: childEnv(options),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  child.stderr?.setEncoding('utf8').on('data', (text: string) => stderr.push(text));
  const output = () => stderr.join('');
  const exit = once(child, 'exit').then(() => undefined);

  const url = await readUrl(child, output);
  const pid = child.pid;
  if (pid === undefined) throw new Error('server child has no pid');

  return {
    url,
    pid,
    api: (method, path, call) => callApi(url, options.rootToken, method, path, call),
    killNow: () => {
      child.kill('SIGKILL');
    },
    exited: () => exit,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exit;
      clearTimeout(timer);
    },
    output,
  };
}

function childEnv(options: ServerProcessOptions): NodeJS.ProcessEnv {
  // A small environment on purpose: no PG* variable can steer the child anywhere else.
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    TESSERA_CHILD_DATA_DIR: options.dataDir,
    TESSERA_CHILD_ROOT_TOKEN: options.rootToken,
    TESSERA_CHILD_DATABASE_URL: options.databaseUrl ?? '',
    TESSERA_CHILD_CLOCK_OFFSET_MS: String(options.clockOffsetMs ?? 0),
  };
}

async function readUrl(child: ChildProcess, output: () => string): Promise<string> {
  const stdout = child.stdout;
  if (stdout === null) throw new Error('server child has no stdout');
  stdout.setEncoding('utf8');
  let buffered = '';

  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(
        new Error(`server child ${why}; its output ends with:\n${output().slice(-OUTPUT_TAIL)}`),
      );
    };
    const timer = setTimeout(
      () => fail(`did not listen in ${START_TIMEOUT_MS} ms`),
      START_TIMEOUT_MS,
    );
    const early = (code: number | null, signal: NodeJS.Signals | null) =>
      fail(`exited early (${signal ?? code})`);
    child.once('exit', early);
    stdout.on('data', (text: string) => {
      buffered += text;
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      child.off('exit', early);
      try {
        resolve(parseUrlLine(buffered.slice(0, newline)));
      } catch (error) {
        reject(error);
      }
    });
  });
}

function parseUrlLine(line: string): string {
  const parsed: unknown = JSON.parse(line);
  if (typeof parsed === 'object' && parsed !== null && 'url' in parsed) {
    if (typeof parsed.url === 'string') return parsed.url;
  }
  throw new Error(`server child printed no URL: ${line}`);
}

async function callApi<T>(
  url: string,
  rootToken: string,
  method: string,
  path: string,
  { token = rootToken, body }: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url + path, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text === '' ? {} : JSON.parse(text)) as T };
}
