import type { Terminal } from '@xterm/xterm';
import { createNoticeReader } from './gatewayNotice.ts';
import type { LinkState } from './types.ts';

/** Why the server closed the terminal socket, by close code (src/http/routes/terminal-routes). */
const CLOSED: Readonly<Record<number, string>> = {
  1000: 'the session ended',
  4403: 'Tessera refused the connection: you may not connect to this account',
  4502: 'the gateway refused the session, or could not be reached',
  4503: 'the SSH gateway does not run on this Tessera server',
};
const NEVER_OPENED =
  'the connection could not be opened: your sign-in may have ended, or Tessera is unreachable';

export interface TerminalLink {
  /** Tells the server the terminal's new size. */
  resize(cols: number, rows: number): void;
  /** Ends the session from this side. */
  close(): void;
}

/**
 * Joins an xterm terminal to the browser-terminal WebSocket: what the user types goes to the
 * gateway as binary frames, the gateway's output is drawn, and a resize goes as a JSON text
 * frame. When the socket closes, `onState` is told why, in the gateway's words where it said.
 */
export function linkTerminal(
  term: Terminal,
  url: string,
  onState: (state: LinkState) => void,
): TerminalLink {
  const socket = new WebSocket(url);
  socket.binaryType = 'arraybuffer';
  const notices = createNoticeReader();
  const encoder = new TextEncoder();
  let opened = false;
  let closedByUser = false;

  const send = (data: string | Uint8Array<ArrayBuffer>) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(data);
  };
  const typed = term.onData((data) => send(encoder.encode(data)));
  // Mouse reports in the legacy encoding: one byte per character, not UTF-8.
  const binary = term.onBinary((data) =>
    send(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff)),
  );

  socket.addEventListener('open', () => {
    opened = true;
    onState({ phase: 'open' });
  });
  socket.addEventListener('message', (event: MessageEvent<unknown>) => {
    if (!(event.data instanceof ArrayBuffer)) return;
    const bytes = new Uint8Array(event.data);
    notices.feed(bytes);
    term.write(bytes);
  });
  socket.addEventListener('close', (event) => {
    typed.dispose();
    binary.dispose();
    onState({ phase: 'ended', reason: reasonOf(event, opened, closedByUser, notices.last()) });
  });

  return {
    resize: (cols, rows) => send(JSON.stringify({ type: 'resize', cols, rows })),
    close() {
      closedByUser = true;
      socket.close(1000, 'ended by the user');
    },
  };
}

function reasonOf(
  event: CloseEvent,
  opened: boolean,
  closedByUser: boolean,
  notice: string | null,
): string {
  if (notice !== null) return notice;
  if (closedByUser) return 'you ended the session';
  if (!opened) return NEVER_OPENED;
  return CLOSED[event.code] ?? (event.reason || `the connection closed (code ${event.code})`);
}
