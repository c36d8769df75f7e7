import { randomUUID } from 'node:crypto';
import type { ClientChannel, PseudoTtyInfo, ServerChannel } from 'ssh2';
import { isScreenDimension } from '../sessions/asciicast.ts';
import type { Recorder } from '../sessions/recorder.ts';
import type { CommandWatch } from './commands.ts';
import {
  type ConnectionState,
  DEFAULT_SIZE,
  type SessionDeps,
  type SessionRun,
} from './connection-state.ts';
import { opensSftp } from './file-transfer.ts';
import type { Link, LinkDecision } from './link.ts';
import type { LiveSessionFeed } from './live-sessions.ts';
import { escapeControls } from './printable.ts';
import type { OpenedRecording } from './recording.ts';
import { recordingPaceFor } from './recording-pace.ts';
import { GatewayRefusal } from './refusal.ts';
import { type ExitInfo, proxyChannel } from './session-proxy.ts';
import {
  auditRefusal,
  type Counters,
  describeOperation,
  endSession,
  exitReason,
  sessionRow,
  sftpOperation,
  startEvent,
} from './session-records.ts';
import type { SessionKind } from './session-store.ts';
import { createSftpMonitor, type SftpMonitor } from './sftp-monitor.ts';

export interface SessionSpec {
  readonly kind: SessionKind;
  readonly command: string | null;
}

/**
 * A session being started: its id, its clock and its recording, opened on the access decision
 * alone while the target's login runs (prepareSession), then run once the link is up
 * (runSession) or discarded when it fails (discardSession).
 */
export interface SessionStart {
  readonly id: string;
  readonly startedAt: number;
  readonly spec: SessionSpec & { pty: PseudoTtyInfo | null };
  readonly size: { cols: number; rows: number };
  readonly counters: Counters;
  /** Null for SFTP, and where the policy lets a session run unrecorded. */
  recording: OpenedRecording | null;
  /** Whether the user closed the channel meanwhile. */
  readonly userLeft: () => boolean;
  /** The session, once it runs: a recording that fails ends it. */
  run: SessionRun | null;
  /** A required recording that failed before the session ran, as its user is to be told. */
  readonly failure: () => { readonly message: string; readonly reason: string } | null;
}

/**
 * Opens a session's recording (refused when required and impossible). Its file and header are
 * on disk before the target is asked to run anything.
 */
export async function prepareSession(
  deps: SessionDeps,
  decision: LinkDecision,
  spec: SessionSpec & { pty: PseudoTtyInfo | null },
  channel: ServerChannel,
): Promise<SessionStart> {
  let left = false;
  channel.once('close', () => {
    left = true;
  });
  let failure: { message: string; reason: string } | null = null;
  const start: SessionStart = {
    id: randomUUID(),
    startedAt: deps.clock.now(),
    spec,
    size: screenSize(spec.pty),
    counters: { bytesIn: 0, bytesOut: 0, commands: 0 },
    recording: null,
    // Its data waits unread meanwhile, and ssh2 tells a server channel's close only once its
    // data has been read: the channel's own state says it sooner (the connection's end too).
    userLeft: () => left || closedByPeer(channel),
    run: null,
    failure: () => failure,
  };
  if (spec.kind !== 'sftp') {
    const failLater = (message: string, reason: string) => {
      if (start.run !== null) start.run.terminate(message, reason);
      else failure ??= { message, reason };
    };
    start.recording = await openRecording(deps, decision, start, failLater);
  }
  return start;
}

/** Forgets a prepared session whose link failed: no session was stored, so no file is kept. */
export async function discardSession(deps: SessionDeps, start: SessionStart): Promise<void> {
  if (start.recording === null) return;
  await deps.recordings.discard(start.recording).catch((error: unknown) => {
    deps.logger.error({ err: error, session: start.id }, 'could not remove an unused recording');
  });
}

/**
 * Runs a prepared session: the target's channel and the audited session row, then passes data
 * until either side ends, and closes the session with its byte counts and the recording's
 * digest.
 */
export async function runSession(
  deps: SessionDeps,
  conn: ConnectionState,
  link: Link,
  start: SessionStart,
  channel: ServerChannel,
  openTarget: () => Promise<ClientChannel>,
): Promise<SessionRun | null> {
  const { id, startedAt, spec, size, counters, recording } = start;
  // Gone while the target's login ran: nothing was stored and nothing runs.
  if (start.userLeft()) {
    await discardSession(deps, start);
    return null;
  }
  // A required recording that failed meanwhile: the target is not asked to run anything.
  if (start.failure() !== null) {
    await discardSession(deps, start);
    throw new GatewayRefusal('recording-unavailable');
  }
  const addCommand = (command: string, offsetMs: number) => {
    counters.commands += 1;
    const at = startedAt + offsetMs;
    deps.sessions
      .addCommand(id, counters.commands, { command, offsetMs, at })
      .catch((error: unknown) => {
        deps.logger.error({ err: error, session: id }, 'could not store a session command');
      });
  };
  const tracker = spec.kind === 'shell' ? deps.commands(size.cols, addCommand) : null;

  const [target, stored] = await Promise.allSettled([
    openTarget(),
    deps.sessions.start(
      sessionRow(deps, conn, link, { id, spec, size, startedAt, recording }),
      startEvent(conn, link, id, spec, recording),
    ),
  ]);
  if (target.status === 'rejected' || stored.status === 'rejected') {
    if (target.status === 'fulfilled') target.value.close();
    // A stored session keeps its recording, however short; without one, no file is kept.
    if (stored.status === 'rejected') await discardSession(deps, start);
    else await recording?.recorder.close().catch(() => undefined);
    if (stored.status === 'fulfilled') {
      await endSession(deps, conn, link, id, counters, null, 'target refused the session', 'ended');
    }
    if (target.status === 'rejected') throw target.reason;
    throw new GatewayRefusal('audit-unavailable');
  }
  if (start.userLeft()) {
    target.value.close();
    await endSession(
      deps,
      conn,
      link,
      id,
      counters,
      recording,
      'client left before the start',
      'ended',
    );
    return null;
  }
  if (spec.kind === 'exec' && spec.command !== null) addCommand(spec.command, 0);
  start.run = wire(
    deps,
    conn,
    link,
    { id, spec, size, counters, recording, tracker, startedAt, addCommand },
    channel,
    target.value,
  );
  // Or while the target's channel opened: the session is stored, so it runs and ends at once.
  const failed = start.failure();
  if (failed !== null) start.run.terminate(failed.message, failed.reason);
  return start.run;
}

async function openRecording(
  deps: SessionDeps,
  decision: LinkDecision,
  s: {
    id: string;
    size: { cols: number; rows: number };
    spec: SessionSpec & { pty: PseudoTtyInfo | null };
    startedAt: number;
  },
  failLater: (message: string, reason: string) => void,
): Promise<OpenedRecording | null> {
  const { policy } = decision;
  try {
    return await deps.recordings.open({
      sessionId: s.id,
      header: {
        width: s.size.cols,
        height: s.size.rows,
        timestamp: Math.floor(s.startedAt / 1000),
        ...(s.spec.command === null ? {} : { command: s.spec.command }),
        title: `${decision.account.username}@${decision.target.name}`,
        ...(s.spec.pty === null ? {} : { env: { TERM: s.spec.pty.term } }),
      },
      onFailure: () => {
        if (policy.recordingRequired) {
          failLater(
            '\r\ntessera: the recording failed, so the session has ended\r\n',
            'recording failed',
          );
        }
      },
      onDrop: () => {
        if (policy.endOnRecordingDrop) {
          failLater(
            '\r\ntessera: the recording could not keep up, so the session has ended\r\n',
            'recording dropped data',
          );
        }
      },
    });
  } catch (error) {
    deps.logger.error({ err: error, session: s.id }, 'session recording cannot be created');
    if (policy.recordingRequired) throw new GatewayRefusal('recording-unavailable');
    return null;
  }
}

function wire(
  deps: SessionDeps,
  conn: ConnectionState,
  link: Link,
  s: {
    id: string;
    spec: SessionSpec;
    size: { cols: number; rows: number };
    counters: Counters;
    recording: OpenedRecording | null;
    tracker: CommandWatch | null;
    startedAt: number;
    addCommand: (command: string, offsetMs: number) => void;
  },
  channel: ServerChannel,
  target: ClientChannel,
): SessionRun {
  const recorder: Recorder | null = s.recording?.recorder ?? null;
  const { policy } = link;
  const pace = recordingPaceFor(recorder, policy);
  let ended = false;
  const timers: NodeJS.Timeout[] = [];

  const finish = (reason: string, exit: ExitInfo | null) => {
    if (ended) return;
    ended = true;
    for (const timer of timers) clearTimeout(timer);
    conn.running.delete(run);
    feed.ended(reason);
    sftp?.finish();
    s.tracker?.finish();
    void endSession(deps, conn, link, s.id, s.counters, s.recording, reason, 'ended', exit);
  };

  const feed: LiveSessionFeed = deps.live.add(
    {
      id: s.id,
      user: conn.user.name,
      account: link.account.username,
      target: link.target.name,
      kind: s.spec.kind,
      command: s.spec.command,
      startedAt: deps.clock.now(),
    },
    s.size,
    {
      kill: (reason) =>
        run.terminate(
          `\r\ntessera: this session was ended by an administrator: ${escapeControls(reason)}\r\n`,
          `killed: ${reason}`,
        ),
      bytes: () => ({ bytesIn: s.counters.bytesIn, bytesOut: s.counters.bytesOut }),
    },
  );

  const idle =
    policy.idleTimeoutS === null
      ? null
      : setTimeout(
          () =>
            run.terminate(
              `\r\ntessera: the session was idle for ${policy.idleTimeoutS} s and has ended\r\n`,
              'idle timeout',
            ),
          policy.idleTimeoutS * 1000,
        );
  if (idle !== null) timers.push(idle);
  if (policy.maxSessionS !== null) {
    const limit = policy.maxSessionS;
    timers.push(
      setTimeout(
        () =>
          run.terminate(
            `\r\ntessera: the session reached its limit of ${limit} s and has ended\r\n`,
            'maximum session length',
          ),
        limit * 1000,
      ),
    );
  }

  /**
   * `overExec`: found on an exec channel by its first bytes. Until the server has answered with
   * its VERSION, a stream that is not SFTP is then let go unfollowed (a file that starts like an
   * INIT packet, piped to `cat`): no SFTP server would have taken it either.
   */
  const followSftp = (overExec: boolean): SftpMonitor => {
    const monitor: SftpMonitor = createSftpMonitor({
      operation: (operation) => {
        // File operations are indexed with the commands, so a search finds them too.
        s.addCommand(describeOperation(operation), deps.clock.now() - s.startedAt);
        void sftpOperation(deps, conn, link, s.id, operation, run);
      },
      malformed: (why) => {
        if (overExec && !monitor.started) {
          sftp = null;
          return;
        }
        run.terminate(
          '\r\ntessera: the file transfer could not be followed\r\n',
          `sftp stream not understood: ${why}`,
        );
      },
    });
    return monitor;
  };
  let sftp: SftpMonitor | null = s.spec.kind === 'sftp' ? followSftp(false) : null;
  // An exec channel may run an SFTP server under any name (`sftp -s PATH`): when the client's
  // first bytes open an SFTP conversation, the session is held to the policy on file transfer
  // and followed as the SFTP subsystem is.
  let firstInput: Buffer | null = s.spec.kind === 'exec' ? Buffer.alloc(0) : null;
  const request = (data: Buffer) => {
    if (firstInput === null) return sftp?.request(data);
    firstInput = Buffer.concat([firstInput, data]);
    const opens = opensSftp(firstInput);
    if (opens === 'more') return;
    const first = firstInput;
    firstInput = null;
    if (opens === 'no') return;
    if (!policy.allowSftp) {
      void auditRefusal(deps, conn, link, new GatewayRefusal('sftp-not-allowed', 'sftp over exec'));
      run.terminate(
        '\r\ntessera: file transfer is not allowed on this account\r\n',
        'sftp over exec refused by policy',
      );
      return;
    }
    sftp = followSftp(true);
    sftp.request(first);
  };
  const proxy = proxyChannel(channel, target, {
    // SFTP requests are checked before they pass, and so are an exec channel's first bytes.
    get inputChecked() {
      return sftp !== null || firstInput !== null;
    },
    input(data) {
      s.counters.bytesIn += data.length;
      idle?.refresh();
      if (policy.recordInput) recorder?.input(data);
      s.tracker?.input(data);
      request(data);
    },
    output(data, stream) {
      s.counters.bytesOut += data.length;
      idle?.refresh();
      recorder?.output(data);
      feed.output(data);
      s.tracker?.output(data);
      // A server's log on stderr (`sftp-server -e`) is no part of the SFTP conversation.
      if (stream === 'stdout') sftp?.response(data);
      return pace?.check();
    },
    targetEnded: (exit) => finish(exitReason(exit), exit),
    userEnded: () => finish('client closed the session', null),
  });

  const run: SessionRun = {
    id: s.id,
    resize(cols, rows, width, height) {
      target.setWindow(rows, cols, height, width);
      recorder?.resize(cols, rows);
      s.tracker?.resize(cols);
      feed.resize(cols, rows);
    },
    signal(name) {
      target.signal(name);
    },
    terminate(userMessage, reason) {
      if (ended) return;
      recorder?.marker(`tessera: ${reason}`);
      proxy.terminate(userMessage, () => conn.end());
      finish(reason, null);
    },
    abandon(reason) {
      if (ended) return;
      proxy.terminate('', () => undefined);
      finish(reason, null);
    },
  };
  conn.running.add(run);
  return run;
}

/** A client without a terminal of its own may ask for a PTY of 0x0; the record says 80x24. */
function screenSize(pty: PseudoTtyInfo | null): { cols: number; rows: number } {
  if (pty === null || !isScreenDimension(pty.cols) || !isScreenDimension(pty.rows)) {
    return DEFAULT_SIZE;
  }
  return { cols: pty.cols, rows: pty.rows };
}

/** Whether the client closed the channel, or its connection ended (ssh2's own channel state). */
function closedByPeer(channel: ServerChannel): boolean {
  const { incoming } = channel as unknown as { incoming?: { state?: string } };
  return incoming?.state === 'closed';
}
