/**
 * Interactive sessions driven by an ssh2 client (node-pty is not installed, so the real `ssh` is
 * not driven through a terminal here): a shell with a PTY in which `cat` runs in raw mode, so
 * every byte typed comes straight back, and a shell running a steady producer of output.
 * Nagle's algorithm is off on the client's socket, as OpenSSH turns it off for a PTY session.
 * The echo session also opens through OpenSSH's ProxyJump host, as `ssh -J` does.
 */
import type { Duplex } from 'node:stream';
import ssh2, { type Client, type ClientChannel } from 'ssh2';
import { parsePinnedKey } from '../../src/gateway/target-link.ts';
import type { SshEndpoint } from './gateway-rig.ts';

const CONNECT_TIMEOUT_MS = 30_000;
const READY_TIMEOUT_MS = 30_000;
const KEYSTROKE_TIMEOUT_MS = 10_000;
const PTY = { term: 'xterm', rows: 24, cols: 80, width: 640, height: 480 };
/** Typed as `RE""ADY`, printed as `READY`: the echo of the line does not match it. */
const READY_COMMAND = 'echo RE""ADY';

export interface EchoSession {
  /** Types one byte and resolves with the milliseconds until it came back. */
  keystroke(): Promise<number>;
  close(): void;
}

/**
 * Connects and logs in with the endpoint's key, accepting only its pinned host key; over `tunnel`
 * (a channel another server forwards to the endpoint) when given, instead of over TCP.
 */
export function connect(endpoint: SshEndpoint, tunnel?: Duplex): Promise<Client> {
  const pinned = parsePinnedKey(endpoint.hostKey);
  if (pinned === null) return Promise.reject(new Error('the endpoint has no host key'));
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    client.once('ready', () => {
      client.off('error', reject);
      client.on('error', () => undefined); // a session's end is seen on its channel
      resolve(client);
    });
    client.once('error', reject);
    client.connect({
      host: endpoint.host,
      port: endpoint.port,
      sock: tunnel,
      username: endpoint.username,
      privateKey: endpoint.privateKey,
      readyTimeout: CONNECT_TIMEOUT_MS,
      hostVerifier: (key: Buffer) => key.equals(pinned.blob),
    });
    client.setNoDelay(true); // a tunnel has no socket: Nagle is then the outer client's
  });
}

/**
 * A shell with a PTY into which one line is typed: `setup`, then `READY` is printed and the shell
 * replaces itself with `program`. Resolves once `READY` is seen: what comes next is the program's.
 */
export async function shellRunning(
  client: Client,
  line: { setup?: string; program: string },
): Promise<ClientChannel> {
  const channel = await new Promise<ClientChannel>((resolve, reject) => {
    client.shell(PTY, (error, opened) => (error === undefined ? resolve(opened) : reject(error)));
  });
  channel.stderr.resume();
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(
      () => reject(new Error(`the shell never got ready; it printed ${JSON.stringify(seen)}`)),
      READY_TIMEOUT_MS,
    );
    const onData = (data: Buffer) => {
      // Looked for before trimming: READY and the program's first output may come in one chunk.
      seen += data.toString('latin1');
      if (!seen.includes('READY')) {
        seen = seen.slice(-64);
        return;
      }
      clearTimeout(timer);
      channel.off('data', onData);
      resolve();
    };
    channel.on('data', onData);
    const setup = line.setup === undefined ? '' : `${line.setup}; `;
    channel.write(`${setup}${READY_COMMAND}; exec ${line.program}\n`);
  });
  return channel;
}

/**
 * Milliseconds from starting to connect to the first byte of `echo ready` run by exec: log-in and
 * credential injection, without OpenSSH's own Nagle stalls in the comparison (see gateway.ts).
 */
export async function firstOutput(endpoint: SshEndpoint): Promise<number> {
  const started = performance.now();
  const client = await connect(endpoint);
  try {
    return await new Promise<number>((resolve, reject) => {
      client.exec('echo ready', (error, channel) => {
        if (error !== undefined) return reject(error);
        channel.stderr.resume();
        channel.once('data', () => resolve(performance.now() - started));
      });
    });
  } finally {
    client.end();
  }
}

/** An echo session: `cat` in raw mode without the terminal's own echo. */
export async function openEcho(endpoint: SshEndpoint): Promise<EchoSession> {
  return echoOn(await connect(endpoint));
}

/**
 * The echo session on `target` through the ProxyJump host `jump`, as `ssh -J` reaches it: sshd on
 * `jump` forwards a direct-tcpip channel to the target, and a second SSH session runs inside it.
 */
export async function openEchoViaJump(
  jump: SshEndpoint,
  target: SshEndpoint,
): Promise<EchoSession> {
  const outer = await connect(jump);
  try {
    const tunnel = await forwardTo(outer, target);
    const echo = await echoOn(await connect(target, tunnel));
    return {
      keystroke: echo.keystroke,
      close() {
        echo.close();
        outer.end();
      },
    };
  } catch (error) {
    outer.end();
    throw error;
  }
}

function forwardTo(client: Client, endpoint: SshEndpoint): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    // The originator address is only what sshd logs; nothing listens there.
    client.forwardOut('127.0.0.1', 0, endpoint.host, endpoint.port, (error, channel) =>
      error === undefined ? resolve(channel) : reject(error),
    );
  });
}

async function echoOn(client: Client): Promise<EchoSession> {
  const channel = await shellRunning(client, { setup: 'stty raw -echo', program: 'cat' });
  const echo = createEcho(channel);
  await echo.keystroke(); // proves that cat is running
  return {
    keystroke: echo.keystroke,
    close() {
      channel.close();
      client.end();
    },
  };
}

function createEcho(channel: ClientChannel): { keystroke(): Promise<number> } {
  let waiting: {
    byte: number;
    started: number;
    done: (ms: number) => void;
    fail: (error: Error) => void;
  } | null = null;
  let next = 0;
  let closed = false;
  channel.on('close', () => {
    closed = true;
    waiting?.fail(new Error('the echo session closed'));
  });
  channel.on('data', (data: Buffer) => {
    if (waiting === null || data.at(-1) !== waiting.byte) return;
    const { started, done } = waiting;
    waiting = null;
    done(performance.now() - started);
  });
  return {
    keystroke() {
      if (waiting !== null) return Promise.reject(new Error('one keystroke at a time'));
      if (closed) return Promise.reject(new Error('the echo session closed'));
      const byte = 0x61 + (next++ % 26); // a to z, so a late echo of the last one cannot match
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error('a keystroke was not echoed')),
          KEYSTROKE_TIMEOUT_MS,
        );
        const done = (ms: number) => {
          clearTimeout(timer);
          resolve(ms);
        };
        const fail = (error: Error) => {
          clearTimeout(timer);
          waiting = null;
          reject(error);
        };
        waiting = { byte, started: performance.now(), done, fail };
        channel.write(Buffer.of(byte));
      });
    },
  };
}
