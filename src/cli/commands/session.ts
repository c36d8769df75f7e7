import type { Readable, Writable } from 'node:stream';
import cliProgress from 'cli-progress';
import { type Command, InvalidArgumentError } from 'commander';
import { fetchAnswered } from '../../fetch-answered.ts';
import {
  type AsciicastEvent,
  type AsciicastHeader,
  parseEventLine,
  parseHeaderLine,
  type ScreenSize,
} from '../../sessions/asciicast.ts';
import { play, screenSizeAt } from '../../sessions/player.ts';
import type {
  GatewaySession,
  GatewaySessionDetail,
  SessionCommand,
  SessionCommandHit,
  SessionKill,
} from '../api-types.ts';
import { CliError, usageError } from '../cli-error.ts';
import { REQUEST_TIMEOUT_MS } from '../client.ts';
import { type Io, type Session, sessionOf } from '../context.ts';
import {
  clean,
  formatDuration,
  formatTime,
  printFields,
  printJson,
  printLine,
  printNote,
  printTable,
} from '../output.ts';
import { integerBetween } from '../parse.ts';
import { ExitStatus } from './ssh.ts';

interface ListOptions {
  readonly live?: boolean;
  readonly user?: string;
  readonly target?: string;
  readonly command?: string;
  readonly limit?: number;
}

interface PlayOptions {
  readonly speed: number;
  readonly from: number;
  readonly maxIdle: number;
}

/** A terminal that can stop echoing keys (a TTY's read stream). */
type Keyboard = Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
type Screen = Writable & { isTTY?: boolean; columns?: number; rows?: number };

/**
 * The server decrypts a whole recording before it answers: a long one takes a while. A node
 * fetching it from another gives up sooner (recording-routes.ts), so its answer comes first.
 */
const RECORDING_TIMEOUT_MS = 60_000;
/** Once the recording flows, a pause this long means the connection is gone. */
const STALL_TIMEOUT_MS = REQUEST_TIMEOUT_MS;
/** The exit status of a command stopped with Ctrl-C, as shells report it. */
const EXIT_INTERRUPTED = 130;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_REASON = 500;
/** Ctrl-C, Ctrl-D and q stop a replay or a watch. */
const QUIT_KEYS = [0x03, 0x04, 0x71];
/** Back to plain text with a visible cursor, whatever the replayed screen left behind. */
const RESET_TERMINAL = '\u001b[0m\u001b[?25h';

const LIST_HELP = `
Examples:
  tessera session list --live
  tessera session list --user alice --target web01
  tessera session list --command 'rm -rf'            # sessions in which such a command ran`;

const PLAY_HELP = `
Replays the recording on this terminal with its original timing; pauses longer than
--max-idle play shortened. Ctrl-C or q stops. For asciinema: tessera session export ID > s.cast`;

export function registerSession(program: Command, io: Io): void {
  const session = program
    .command('session')
    .description('sessions through the SSH gateway: list, watch live, kill, replay, export');
  const byId =
    (action: (s: Session, id: string) => Promise<void>) =>
    async (id: string, _options: unknown, command: Command) =>
      action(sessionOf(command, io), sessionId(id));

  session
    .command('list')
    .description('list sessions, newest first')
    .option('--live', 'only sessions running now')
    .option('--user <name>', 'only those of this Tessera user')
    .option('--target <name>', 'only those to this target')
    .option('--command <text>', 'only those in which a command containing this text ran')
    .option('--limit <n>', 'at most this many (default 100)', integerBetween(1, 1000))
    .addHelpText('after', LIST_HELP)
    .action(async (options: ListOptions, command: Command) => {
      await list(sessionOf(command, io), options);
    });

  session
    .command('show')
    .description('show a session and the commands run in it')
    .argument('<id>', 'the session ID')
    .action(byId(show));

  session
    .command('commands')
    .description('search the commands run in every session')
    .requiredOption('--q <text>', 'text the command contains')
    .option('--limit <n>', 'at most this many (default 100)', integerBetween(1, 1000))
    .action(async (options: { q: string; limit?: number }, command: Command) => {
      await searchCommands(sessionOf(command, io), options);
    });

  session
    .command('watch')
    .description('follow a live session as its user sees it (read-only; Ctrl-C or q stops)')
    .argument('<id>', 'the session ID')
    .action(byId(watch));

  session
    .command('kill')
    .description('end a live session at once; its user is told the reason')
    .argument('<id>', 'the session ID')
    .requiredOption('--reason <text>', 'why, for the user and the audit trail', reasonText)
    .action(async (id: string, options: { reason: string }, command: Command) => {
      await kill(sessionOf(command, io), sessionId(id), options.reason);
    });

  session
    .command('play')
    .description('replay a recorded session in this terminal')
    .argument('<id>', 'the session ID')
    .option('--speed <n>', 'how much faster than recorded, e.g. 2 or 0.5', positiveNumber, 1)
    .option('--from <seconds>', 'start this many seconds into the recording', seconds, 0)
    .option('--max-idle <seconds>', 'play longer pauses as this long', seconds, 2)
    .addHelpText('after', PLAY_HELP)
    .action(async (id: string, options: PlayOptions, command: Command) => {
      await replay(sessionOf(command, io), sessionId(id), options);
    });

  session
    .command('export')
    .description('write the recording as asciicast v2 to stdout (plays in asciinema)')
    .argument('<id>', 'the session ID')
    .action(byId(exportRecording));
}

// ---------------------------------------------------------------------------------------------
// list, show, search, kill

async function list(session: Session, options: ListOptions): Promise<void> {
  const reply = await session.api().request<{ sessions: GatewaySession[] }>('GET', '/v1/sessions', {
    query: {
      live: options.live === true ? 'true' : undefined,
      user: options.user,
      target: options.target,
      command: options.command,
      limit: options.limit,
    },
  });
  if (session.json) return printJson(session, reply);
  // Live sessions have no end reason yet; which node runs each says where to watch it.
  const live = options.live === true;
  const rows = reply.sessions.map((s) => [
    s.id,
    s.user,
    `${s.account}@${s.target}`,
    s.kind,
    formatTime(s.startedAt),
    durationOf(s, session.now()),
    s.state,
    `${formatBytes(s.bytesIn)} / ${formatBytes(s.bytesOut)}`,
    live ? nodeOf(s) : (s.endReason ?? '-'),
  ]);
  const headers = ['ID', 'USER', 'ACCOUNT', 'KIND', 'STARTED', 'DURATION', 'STATE', 'IN / OUT'];
  printTable(session, [...headers, live ? 'NODE' : 'END REASON'], rows, 'No sessions.');
}

async function show(session: Session, id: string): Promise<void> {
  const found = await getSession(session, id);
  if (session.json) return printJson(session, found);
  const fields: Array<readonly [string, string]> = [
    ['ID', found.id],
    ['User', found.user],
    ['Account', `${found.account}@${found.target}`],
    ['Kind', found.kind],
    ['Command', found.command ?? '-'],
    ['Client', found.clientAddress ?? '-'],
    ['Screen', `${found.width}x${found.height}`],
    ['Started', formatTime(found.startedAt)],
    ['Ended', formatTime(found.endedAt)],
    ['Duration', durationOf(found, session.now())],
    ['State', found.state + (found.watchable ? ' (watchable)' : '')],
    ['Node', nodeOf(found)],
    ['End reason', found.endReason ?? '-'],
    ['Bytes in', formatBytes(found.bytesIn)],
    ['Bytes out', formatBytes(found.bytesOut)],
    ['Recorded', found.recorded ? `yes, SHA-256 ${found.recordingSha256 ?? '(still open)'}` : 'no'],
  ];
  if (found.droppedBytes > 0) {
    fields.push(['Not recorded', `${formatBytes(found.droppedBytes)} (the recorder fell behind)`]);
  }
  printFields(session, fields);
  printLine(session, '');
  printCommands(session, found);
}

function printCommands(session: Session, found: GatewaySessionDetail): void {
  const rows = found.commands.map((c: SessionCommand) => [offset(c.offsetMs), c.command]);
  printTable(session, ['AT', 'COMMAND'], rows, 'No commands recorded.');
  if (found.kind === 'shell' && rows.length > 0 && found.recorded) {
    printNote(session, `Replay from a command: tessera session play ${found.id} --from SECONDS`);
  }
}

async function searchCommands(session: Session, options: { q: string; limit?: number }) {
  const reply = await session
    .api()
    .request<{ commands: SessionCommandHit[] }>('GET', '/v1/sessions/commands', {
      query: { q: options.q, limit: options.limit },
    });
  if (session.json) return printJson(session, reply);
  const rows = reply.commands.map((c) => [
    c.sessionId,
    c.user,
    `${c.account}@${c.target}`,
    formatTime(c.at),
    offset(c.offsetMs),
    c.command,
  ]);
  const headers = ['SESSION', 'USER', 'ACCOUNT', 'RAN AT', 'AT', 'COMMAND'];
  printTable(session, headers, rows, 'No command matches.');
}

async function kill(session: Session, id: string, reason: string): Promise<void> {
  const reply = await session
    .api()
    .request<SessionKill>('POST', `/v1/sessions/${id}/kill`, { body: { reason } });
  if (session.json) return printJson(session, reply);
  if (reply.killed) {
    printLine(session, `Killed session ${id}; its user was told: ${clean(reason)}`);
    return;
  }
  printLine(
    session,
    `Passed the kill of session ${id} to node ${clean(reply.node)}, which runs it; ` +
      `its user will be told: ${clean(reason)}`,
  );
  printNote(
    session,
    'That node ends it within seconds. If the node is down, the session stays live until ' +
      'it starts again and closes it.',
  );
}

/** The node that runs a session, marked when it is the node that answered. */
function nodeOf(s: GatewaySession): string {
  return s.here ? `${s.node} (here)` : s.node;
}

function getSession(session: Session, id: string): Promise<GatewaySessionDetail> {
  return session.api().request<GatewaySessionDetail>('GET', `/v1/sessions/${id}`);
}

// ---------------------------------------------------------------------------------------------
// watch

/** What the watch socket says in text frames (src/http/routes/session-routes.ts). */
type WatchMessage =
  | { type: 'hello'; session: string; user: string; cols: number; rows: number }
  | { type: 'resize'; cols: number; rows: number }
  | { type: 'end'; reason: string };

/** How a watch ended: the session ended, the watcher stopped, or the server closed the socket. */
type WatchEnd =
  | { kind: 'ended'; reason: string }
  | { kind: 'stopped' }
  | { kind: 'closed'; code: number; reason: string };

async function watch(session: Session, id: string): Promise<void> {
  // Asked first over plain HTTP: a missing session, a refusal or an ended session get their
  // own clear answer, which a refused WebSocket upgrade cannot give.
  const found = await getSession(session, id);
  if (found.state !== 'live') {
    throw new CliError(
      'SESSION_NOT_LIVE',
      `the session has ended; replay it with tessera session play ${id}`,
    );
  }
  if (!found.watchable) {
    throw new CliError(
      'SESSION_ELSEWHERE',
      `the session runs on Tessera node ${clean(found.node)} and cannot be watched through ` +
        'this one (other nodes reach a node only at its --node-url): watch it through that node',
    );
  }
  const end = await followLive(session, found);
  finishScreen(session);
  if (end.kind === 'ended') printNote(session, `Session ended: ${clean(end.reason)}`);
  else if (end.kind === 'stopped') printNote(session, 'Stopped watching; the session goes on.');
  else if (end.code === 4404) throw new CliError('SESSION_NOT_LIVE', 'the session has ended');
  else if (end.code === 4409) throw new CliError('SESSION_ELSEWHERE', clean(end.reason));
  else {
    const why = end.reason === '' ? `code ${end.code}` : `${clean(end.reason)} (${end.code})`;
    throw new CliError('WATCH_CLOSED', `the server closed the watch: ${why}`);
  }
}

/** Writes the live screen to stdout until the session ends, the server closes or the user quits. */
function followLive(session: Session, found: GatewaySession): Promise<WatchEnd> {
  const url = `${session.api().addr.replace(/^http/, 'ws')}/v1/sessions/${found.id}/watch`;
  // In a header, never the URL: URLs end up in logs.
  const socket = new WebSocket(url, { headers: bearer(session) });
  socket.binaryType = 'arraybuffer';

  return new Promise((resolve, reject) => {
    let ended: string | undefined;
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(opening);
      release();
      outcome();
    };
    const finish = (end: WatchEnd) => settle(() => resolve(end));
    const opening = setTimeout(() => {
      socket.close();
      const why = `no watch from Tessera within ${REQUEST_TIMEOUT_MS / 1000}s`;
      settle(() => reject(new CliError('TIMEOUT', why)));
    }, REQUEST_TIMEOUT_MS);
    const release = onQuit(session, () => {
      socket.close(1000, 'watcher left');
      finish({ kind: 'stopped' });
    });

    socket.addEventListener('open', () => clearTimeout(opening));
    socket.addEventListener('message', (message) => {
      if (typeof message.data !== 'string') {
        session.stdout.write(Buffer.from(message.data as ArrayBuffer));
        return;
      }
      const parsed = parseWatchMessage(message.data);
      if (parsed?.type === 'hello') announceWatch(session, found, parsed);
      if (parsed?.type === 'end') ended = parsed.reason;
    });
    socket.addEventListener('close', (event) => {
      if (ended !== undefined) finish({ kind: 'ended', reason: ended });
      else finish({ kind: 'closed', code: event.code, reason: event.reason });
    });
  });
}

function announceWatch(
  session: Session,
  found: GatewaySession,
  hello: { cols: number; rows: number },
) {
  const who = `${found.user} as ${found.account}@${found.target}`;
  printNote(session, clean(`Watching ${who}, read-only; Ctrl-C or q stops.`));
  noteSizeDifference(session, { cols: hello.cols, rows: hello.rows });
}

function parseWatchMessage(text: string): WatchMessage | null {
  try {
    const value = JSON.parse(text) as { type?: unknown };
    return typeof value.type === 'string' ? (value as WatchMessage) : null;
  } catch {
    return null; // not one of ours: nothing to act on
  }
}

// ---------------------------------------------------------------------------------------------
// recordings: export and play

async function exportRecording(session: Session, id: string): Promise<void> {
  const screen = session.stdout as Screen;
  const response = await fetchRecording(session, id);
  const total = Number(response.headers.get('content-length') ?? Number.NaN);
  const progress = downloadProgress(session, total, screen.isTTY === true);
  const write = writer(screen);
  let written = 0;
  try {
    for await (const chunk of stalling(response)) {
      await write(chunk);
      written += chunk.length;
      progress.update(written);
    }
  } finally {
    progress.stop();
  }
  if (screen.isTTY === true) return;
  printNote(session, `Wrote ${formatBytes(written)} of asciicast v2; play it with asciinema play`);
}

async function replay(session: Session, id: string, options: PlayOptions): Promise<void> {
  const found = await getSession(session, id);
  const response = await fetchRecording(session, id);
  let text = '';
  const decoder = new TextDecoder();
  for await (const chunk of stalling(response)) text += decoder.decode(chunk, { stream: true });
  const { header, events } = parseCast(text + decoder.decode());

  const length = events.at(-1)?.time ?? 0;
  const when = formatTime(found.startedAt);
  const what = `${found.user} as ${found.account}@${found.target}, ${when}`;
  const screen = `${header.width}x${header.height}`;
  const size = `${screen}, ${formatDuration(length)}, ${formatBytes(found.bytesOut)}`;
  printNote(session, clean(`Replaying ${what} (${size}) at ${options.speed}x; Ctrl-C or q stops.`));
  noteSizeDifference(session, screenSizeAt(header, events, options.from));

  const stop = new AbortController();
  const release = onQuit(session, () => stop.abort());
  const out = writer(session.stdout, () => stop.abort());
  try {
    const result = await play(events, (data) => out(data), {
      speed: options.speed,
      from: options.from,
      maxIdleMs: options.maxIdle * 1000,
      signal: stop.signal,
    });
    finishScreen(session);
    if (!result.completed) {
      const at = (events[result.events - 1]?.time ?? options.from).toFixed(1);
      printNote(session, `Stopped at ${at}s of ${length.toFixed(1)}s; go on with --from ${at}`);
      throw new ExitStatus(EXIT_INTERRUPTED);
    }
  } finally {
    release();
  }
}

/** The recording as the API sends it, or the API's error as a CliError. */
async function fetchRecording(session: Session, id: string): Promise<Response> {
  const api = session.api();
  const headers = { accept: 'application/x-asciicast, application/json', ...bearer(session) };
  let response: Response;
  try {
    // Only the wait for the answer: the body's pauses are bounded by `stalling`.
    response = await fetchAnswered(
      `${api.addr}/v1/sessions/${id}/recording`,
      { headers, redirect: 'error' },
      RECORDING_TIMEOUT_MS,
    );
  } catch (error) {
    throw transportError(api.addr, error);
  }
  if (!response.ok) throw await apiError(response, session.env.TESSERA_TOKEN === undefined);
  return response;
}

/** The body's chunks, failing when none comes for a while (a hung connection). */
async function* stalling(response: Response): AsyncGenerator<Uint8Array> {
  if (response.body === null) return;
  const reader = response.body.getReader();
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(stallError()), STALL_TIMEOUT_MS);
  });
  stalled.catch(() => undefined);
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), stalled]);
      if (done) return;
      timer?.refresh();
      yield value;
    }
  } finally {
    clearTimeout(timer);
    // Ends the download when the reader stops early; a finished one is not affected.
    await reader.cancel().catch(() => undefined);
  }
}

function parseCast(text: string): { header: AsciicastHeader; events: AsciicastEvent[] } {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const header = parseHeaderLine(lines[0] ?? '');
  if (header === null) throw new CliError('BAD_RECORDING', 'the recording has no asciicast header');
  const events: AsciicastEvent[] = [];
  for (const [index, line] of lines.slice(1).entries()) {
    const event = parseEventLine(line);
    if (event === null) {
      throw new CliError('BAD_RECORDING', `line ${index + 2} of the recording is not an event`);
    }
    events.push(event);
  }
  return { header, events };
}

// ---------------------------------------------------------------------------------------------
// the terminal

/**
 * While a screen is replayed or watched, keys typed here must not echo over it: the terminal
 * goes raw and Ctrl-C, Ctrl-D or q call `quit`; SIGINT and SIGTERM do too. Returns the undo.
 */
function onQuit(session: Session, quit: () => void): () => void {
  const keyboard = session.stdin as Keyboard;
  const raw = keyboard.isTTY === true && typeof keyboard.setRawMode === 'function';
  const onKey = (chunk: Buffer | string) => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (QUIT_KEYS.some((key) => bytes.includes(key))) quit();
  };
  const onSignal = () => quit();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (raw) {
    keyboard.setRawMode?.(true);
    keyboard.on('data', onKey).resume();
  }
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!raw) return;
    keyboard.off('data', onKey).pause();
    keyboard.setRawMode?.(false);
  };
}

/** Leaves the terminal in a usable state after someone else's screen, on a line of its own. */
function finishScreen(session: Session): void {
  if ((session.stdout as Screen).isTTY === true) session.stdout.write(`${RESET_TERMINAL}\r\n`);
}

/** A screen drawn for another size wraps or leaves gaps here: say so before it is drawn. */
function noteSizeDifference(session: Session, size: ScreenSize): void {
  const { columns, rows } = session.stdout as Screen;
  if (columns === undefined || rows === undefined) return;
  if (columns === size.cols && rows === size.rows) return;
  printNote(
    session,
    `The session's screen is ${size.cols}x${size.rows}, this terminal ${columns}x${rows}: ` +
      'lines may wrap or stop short.',
  );
}

/**
 * Writes with back-pressure: resolves once the stream takes more. A stream that is gone (the
 * reader of a pipe left) calls `gone` instead of waiting for ever.
 */
function writer(stream: Writable, gone: () => void = () => undefined) {
  return (data: string | Uint8Array): Promise<void> | undefined => {
    if (stream.destroyed) {
      gone();
      return undefined;
    }
    if (stream.write(data)) return undefined;
    return new Promise((resolve) => {
      const done = () => {
        for (const event of ['drain', 'close', 'error']) stream.off(event, done);
        resolve();
      };
      for (const event of ['drain', 'close', 'error']) stream.on(event, done);
    });
  };
}

function downloadProgress(session: Session, total: number, stdoutIsTerminal: boolean) {
  const terminal = (session.stderr as Screen).isTTY === true;
  if (!terminal || stdoutIsTerminal || !(total > 0)) {
    return { update: (_bytes: number) => undefined, stop: () => undefined };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream: session.stderr,
      format: 'exporting {bar} {percentage}% {size}',
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { size: formatBytes(total) });
  return { update: (bytes: number) => bar.update(bytes), stop: () => bar.stop() };
}

// ---------------------------------------------------------------------------------------------
// errors and formats

/**
 * The token as the API client sends it, for the two calls it cannot make (a WebSocket, a body
 * that is not JSON); api() has already refused a malformed one.
 */
function bearer(session: Session): Record<string, string> {
  const token = session.env.TESSERA_TOKEN;
  return token === undefined || token === '' ? {} : { authorization: `Bearer ${token}` };
}

async function apiError(response: Response, tokenMissing: boolean): Promise<CliError> {
  const body = (await response.json().catch(() => null)) as {
    error?: { code?: unknown; message?: unknown; requestId?: unknown };
  } | null;
  const code = typeof body?.error?.code === 'string' ? body.error.code : `HTTP_${response.status}`;
  let message =
    typeof body?.error?.message === 'string' ? body.error.message : `HTTP ${response.status}`;
  if (code === 'UNAUTHENTICATED' && tokenMissing) {
    message += ' (TESSERA_TOKEN is not set: run tessera login)';
  }
  const requestId = typeof body?.error?.requestId === 'string' ? body.error.requestId : undefined;
  return new CliError(code, message, requestId === undefined ? {} : { requestId });
}

function transportError(addr: string, error: unknown): CliError {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    const within = `${RECORDING_TIMEOUT_MS / 1000}s`;
    return new CliError('TIMEOUT', `no recording from Tessera at ${addr} within ${within}`);
  }
  return new CliError('UNREACHABLE', `cannot reach Tessera at ${addr}`);
}

function stallError(): CliError {
  const idle = `${STALL_TIMEOUT_MS / 1000}s`;
  return new CliError('TIMEOUT', `the recording stopped arriving for ${idle}`);
}

function sessionId(text: string): string {
  if (!UUID.test(text)) throw usageError('a session ID is a UUID, as tessera session list shows');
  return text.toLowerCase();
}

function reasonText(text: string): string {
  const reason = text.trim();
  if (reason === '' || reason.length > MAX_REASON) {
    throw new InvalidArgumentError(`give a reason of 1 to ${MAX_REASON} characters`);
  }
  return reason;
}

function positiveNumber(text: string): number {
  const value = Number(text);
  if (!(Number.isFinite(value) && value > 0 && value <= 1000)) {
    throw new InvalidArgumentError('use a number above 0, at most 1000, e.g. 2 or 0.5');
  }
  return value;
}

function seconds(text: string): number {
  const value = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isFinite(value)) throw new InvalidArgumentError('use a number of seconds, e.g. 90');
  return value;
}

function durationOf(s: GatewaySession, now: number): string {
  const end = s.endedAt === null ? now : Date.parse(s.endedAt);
  const span = formatDuration((end - Date.parse(s.startedAt)) / 1000);
  return s.endedAt === null ? `${span} so far` : span;
}

/** Seconds into the recording, as `play --from` takes them. */
function offset(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
