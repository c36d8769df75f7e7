/**
 * The watcher's side of a watch passed on to another node: this node opens the other node's
 * relay socket with a one-time ticket, and forwards what it sends, unchanged, to the watcher.
 * Nothing the watcher sends goes the other way: a watcher cannot type, here or there.
 */
import type { Logger } from 'pino';

/** The part of the watcher's WebSocket the relay uses. */
export interface RelayedSocket {
  readonly bufferedAmount: number;
  readonly readyState: number;
  send(data: string | Buffer, options?: { binary: boolean }): void;
  close(code: number, reason: string): void;
  on(event: 'close', listener: () => void): void;
}

export interface RelaySource {
  /** The relay socket's address on the node that runs the session (ws: or wss:). */
  readonly url: string;
  readonly ticket: string;
  /** That node's id, for the watcher's messages. */
  readonly node: string;
}

/** The header that carries the ticket: never the URL, which proxies and logs keep. */
export const WATCH_TICKET_HEADER = 'x-tessera-watch-ticket';
/** Close code of a relay that reached a node which does not run the session. */
export const WATCH_MISDIRECTED = 4421;
/** Node's WebSocket client (undici) takes request headers; the DOM's type, in use too, does not. */
type NodeWebSocket = new (url: string, init: { headers: Record<string, string> }) => WebSocket;
/** How long the other node gets to accept the relay. */
const OPEN_TIMEOUT_MS = 10_000;
/**
 * The node that streams a relayed watch says it is alive this often, so that a node that hangs
 * without closing is told from an idle session; the relay gives up after three times as long.
 * Its message goes no further than the relaying node.
 */
export const RELAY_ALIVE_MS = 15_000;
export const ALIVE_MESSAGE = '{"type":"alive"}';
const SILENT_PERIODS = 3;

/**
 * Forwards the other node's stream to `watcher` until either side closes; the close code and
 * reason the other node gives (session over, sign-in ended, watcher too slow) reach the watcher
 * as they were. Answers once the relay is set up; it then runs on its own.
 */
export function relayWatch(
  watcher: RelayedSocket,
  source: RelaySource,
  options: {
    readonly maxBacklog: number;
    readonly log: Pick<Logger, 'warn'>;
    readonly aliveMs?: number;
    /** Called once the relay is over, however it ended: the ticket is spent if it still lives. */
    readonly ended?: () => void;
  },
): void {
  if (watcher.readyState !== WebSocket.OPEN) return;
  const upstream = new (WebSocket as unknown as NodeWebSocket)(source.url, {
    headers: { [WATCH_TICKET_HEADER]: source.ticket },
  });
  upstream.binaryType = 'arraybuffer';
  let opened = false;
  let done = false;
  let heard = 0;
  const finish = (code: number, reason: string) => {
    if (done) return;
    done = true;
    options.ended?.();
    clearTimeout(opening);
    clearInterval(listening);
    watcher.close(code, reason);
    if (upstream.readyState === WebSocket.CONNECTING || upstream.readyState === WebSocket.OPEN) {
      upstream.close(1000, 'watcher left');
    }
  };
  // Said to the watcher; the log has the address too (the ticket is in a header, never there).
  const failed = (why: string, reason: string) => {
    if (done) return;
    options.log.warn({ node: source.node, url: source.url }, `watch relay: ${why}`);
    finish(1011, reason);
  };
  const unreachable = `node ${source.node}, which runs the session, cannot be reached`;
  const opening = setTimeout(() => failed('no answer', unreachable), OPEN_TIMEOUT_MS);
  opening.unref();
  const aliveMs = options.aliveMs ?? RELAY_ALIVE_MS;
  const listening = setInterval(() => {
    if (!opened || performance.now() - heard <= SILENT_PERIODS * aliveMs) return;
    failed('silent', `node ${source.node}, which runs the session, stopped answering`);
  }, aliveMs);
  listening.unref();

  upstream.addEventListener('open', () => {
    opened = true;
    heard = performance.now();
    clearTimeout(opening);
  });
  upstream.addEventListener('message', (event: MessageEvent) => {
    if (done) return;
    heard = performance.now();
    if (event.data === ALIVE_MESSAGE) return;
    if (watcher.bufferedAmount > options.maxBacklog) {
      finish(1013, 'watcher too slow');
      return;
    }
    const { data } = event;
    if (typeof data === 'string') watcher.send(data);
    else watcher.send(Buffer.from(data as ArrayBuffer), { binary: true });
  });
  upstream.addEventListener('close', (event: CloseEvent) => {
    // Closed by this side: the watcher left, or the relay already failed.
    if (done) return;
    if (!opened) failed(`refused or unreachable (${event.code})`, unreachable);
    else if (event.code === WATCH_MISDIRECTED) {
      failed(
        'the address leads to another node',
        `the address node ${source.node} gave leads to another node: check its --node-url`,
      );
    } else finish(...closeFor(event, source.node));
  });
  // An error is followed by a close, which says what happened.
  upstream.addEventListener('error', () => undefined);
  watcher.on('close', () => {
    if (done) return;
    done = true;
    options.ended?.();
    clearTimeout(opening);
    clearInterval(listening);
    upstream.close(1000, 'watcher left');
  });
}

/**
 * The watcher reads the other node's own close where it has one. A close without a code (the
 * node went away) becomes a server error that names the node.
 */
function closeFor(event: CloseEvent, node: string): [number, string] {
  const { code, reason } = event;
  if (code === 1000 || code === 1011 || code === 1013 || (code >= 4000 && code <= 4999)) {
    return [code, reason];
  }
  if (code === 1005) return [1000, reason];
  return [1011, `node ${node}, which runs the session, closed the watch (${code})`];
}
