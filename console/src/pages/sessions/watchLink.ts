import type { Terminal } from '@xterm/xterm';
import type { LinkState, WatchMessage } from './types.ts';

/**
 * Why the server closed a watch, by close code (src/http/routes/session-routes.ts), where this
 * page says it better; for any other code the server's own reason is shown.
 */
const CLOSED: Readonly<Record<number, string>> = {
  1000: 'the session ended',
  1013: 'this page fell too far behind the session’s output; watch again to catch up',
  4404: 'the session is not live: it has ended',
};
const NEVER_OPENED =
  'the watch could not be opened: it needs the auditor or admin role, or your sign-in has ended';

/**
 * Draws a live session into a read-only terminal from the watch WebSocket: first the session's
 * size, then the screen so far, then its output and resizes as they happen. Nothing is ever
 * sent: a watcher cannot type (and the server ignores it anyway). Returns the way to stop.
 */
export function watchInto(
  term: Terminal,
  url: string,
  handlers: {
    onState(state: LinkState): void;
    onHello(hello: Extract<WatchMessage, { type: 'hello' }>): void;
  },
): () => void {
  const socket = new WebSocket(url);
  socket.binaryType = 'arraybuffer';
  let opened = false;
  let endReason: string | null = null;

  socket.addEventListener('open', () => {
    opened = true;
  });
  socket.addEventListener('message', (event: MessageEvent<unknown>) => {
    if (event.data instanceof ArrayBuffer) {
      term.write(new Uint8Array(event.data));
      return;
    }
    const message = parse(event.data);
    if (message === null) return;
    if (message.type === 'hello') {
      term.resize(message.cols, message.rows);
      handlers.onHello(message);
      handlers.onState({ phase: 'open' });
    } else if (message.type === 'resize') {
      term.resize(message.cols, message.rows);
    } else {
      endReason = `the session ended (${message.reason})`;
    }
  });
  socket.addEventListener('close', (event) => {
    const reason = endReason ?? (opened ? CLOSED[event.code] : NEVER_OPENED);
    handlers.onState({
      phase: 'ended',
      reason: reason ?? (event.reason || `the watch closed (code ${event.code})`),
    });
  });

  return () => socket.close(1000, 'the watcher left');
}

function parse(data: unknown): WatchMessage | null {
  if (typeof data !== 'string') return null;
  try {
    const value = JSON.parse(data) as { type?: unknown };
    const known = value.type === 'hello' || value.type === 'resize' || value.type === 'end';
    return known ? (value as WatchMessage) : null;
  } catch {
    // Not JSON: not a message this page knows, so it is not drawn either.
    return null;
  }
}
