import type { AuditEventInput } from '../audit/event.ts';
import type { ConnectionState, SessionDeps, SessionRun } from './connection-state.ts';
import type { Link, LinkDecision } from './link.ts';
import type { OpenedRecording } from './recording.ts';
import type { GatewayRefusal } from './refusal.ts';
import type { ExitInfo } from './session-proxy.ts';
import type { SessionSpec } from './session-run.ts';
import type { SessionStore } from './session-store.ts';
import type { SftpOperation } from './sftp-monitor.ts';

/** What a session counts as it runs; written to its row and its end event. */
export interface Counters {
  bytesIn: number;
  bytesOut: number;
  commands: number;
}

/** Audits one file operation; one that cannot be audited ends the session (fail closed). */
export async function sftpOperation(
  deps: SessionDeps,
  conn: ConnectionState,
  link: Link,
  sessionId: string,
  operation: SftpOperation,
  run: SessionRun,
): Promise<void> {
  const event: AuditEventInput = {
    action: 'session.sftp',
    outcome: operation.ok ? 'success' : 'failure',
    actor: { id: conn.user.id, name: conn.user.name },
    object: { type: 'session', id: sessionId, name: link.account.ref },
    source: conn.source,
    details: {
      op: operation.op,
      path: operation.path,
      path2: operation.path2,
      bytes: operation.bytes,
      detail: operation.detail,
      answered: operation.answered,
      direction:
        operation.op === 'upload'
          ? 'to-target'
          : operation.op === 'download'
            ? 'from-target'
            : null,
    },
  };
  try {
    await deps.audit.record(event);
  } catch {
    // What cannot be audited does not go on: the session ends (fail closed).
    run.terminate(
      '\r\ntessera: the audit trail cannot be written, so the session has ended\r\n',
      'audit unavailable',
    );
  }
}

/** A file operation as the command index shows it. */
export function describeOperation(operation: SftpOperation): string {
  const paths = operation.path2 === null ? operation.path : `${operation.path} ${operation.path2}`;
  const bytes = operation.bytes === null ? '' : ` (${operation.bytes} bytes)`;
  const detail = operation.detail === null ? '' : ` [${operation.detail}]`;
  const outcome = !operation.answered ? ' unanswered' : operation.ok ? '' : ' failed';
  return `sftp ${operation.op} ${paths}${detail}${bytes}${outcome}`;
}

export function exitReason(exit: ExitInfo | null): string {
  if (exit === null) return 'target closed the session';
  if (exit.code !== null) return `exited with status ${exit.code}`;
  return `ended by signal ${exit.signal ?? 'unknown'}`;
}

/**
 * Closes the recording and the session row, with its byte counts and the recording's digest; a
 * recording that did not close cleanly marks the session as ended abnormally. The ending is
 * handed to `deps.ending`, so that a stopping gateway waits for it.
 */
export function endSession(...args: Parameters<typeof closeSession>): Promise<void> {
  const work = closeSession(...args);
  args[0].ending?.(work);
  return work;
}

async function closeSession(
  deps: SessionDeps,
  conn: ConnectionState,
  link: Link,
  id: string,
  counters: Counters,
  recording: OpenedRecording | null,
  reason: string,
  state: 'ended' | 'ended_abnormally',
  exit: ExitInfo | null = null,
): Promise<void> {
  let sha256: string | null = null;
  let droppedBytes = 0;
  let finalState = state;
  if (recording !== null) {
    try {
      const result = await recording.recorder.close();
      sha256 = result.sha256;
      droppedBytes = result.droppedBytes;
    } catch (error) {
      deps.logger.error({ err: error, session: id }, 'session recording did not close cleanly');
      finalState = 'ended_abnormally';
    }
  }
  const endedAt = deps.clock.now();
  const event: AuditEventInput = {
    action: 'session.end',
    outcome: 'success',
    actor: { id: conn.user.id, name: conn.user.name },
    object: { type: 'session', id, name: link.account.ref },
    source: conn.source,
    details: {
      reason,
      state: finalState,
      bytesIn: counters.bytesIn,
      bytesOut: counters.bytesOut,
      recordingSha256: sha256,
      droppedBytes,
      exitStatus: exit?.code ?? null,
      exitSignal: exit?.signal ?? null,
    },
  };
  const end = {
    endedAt,
    reason,
    state: finalState,
    bytesIn: counters.bytesIn,
    bytesOut: counters.bytesOut,
    sha256,
    droppedBytes,
  };
  await deps.sessions.end(id, end, event).catch((error: unknown) => {
    deps.logger.error({ err: error, session: id }, 'could not record the end of a session');
  });
}

export function sessionRow(
  deps: SessionDeps,
  conn: ConnectionState,
  link: Link,
  s: {
    id: string;
    spec: SessionSpec;
    size: { cols: number; rows: number };
    startedAt: number;
    recording: OpenedRecording | null;
  },
): Parameters<SessionStore['start']>[0] {
  return {
    id: s.id,
    user_id: conn.user.id,
    user_name: conn.user.name,
    account_id: link.account.id,
    account_username: link.account.username,
    target_id: link.target.id,
    target_name: link.target.name,
    kind: s.spec.kind,
    command: s.spec.command,
    client_address: conn.source,
    width: s.size.cols,
    height: s.size.rows,
    started_at: s.startedAt,
    ended_at: null,
    end_reason: null,
    bytes_in: 0,
    bytes_out: 0,
    recording_path: s.recording?.path ?? null,
    wrapped_key: s.recording?.wrappedKey ?? null,
    recording_sha256: null,
    recording_dropped_bytes: 0,
    node_id: deps.nodeId,
    state: 'live',
  };
}

export function startEvent(
  conn: ConnectionState,
  link: Link,
  id: string,
  spec: SessionSpec,
  recording: OpenedRecording | null,
): AuditEventInput {
  return {
    action: 'session.start',
    outcome: 'success',
    actor: { id: conn.user.id, name: conn.user.name },
    object: { type: 'session', id, name: link.account.ref },
    source: conn.source,
    details: {
      kind: spec.kind,
      command: spec.command,
      target: link.target.name,
      account: link.account.username,
      recorded: recording !== null,
      connection: conn.id,
    },
  };
}

/** A session refused on its channel, on the record with why. */
export async function auditRefusal(
  deps: SessionDeps,
  conn: ConnectionState,
  link: LinkDecision,
  refusal: GatewayRefusal,
): Promise<void> {
  await deps.audit.record({
    action: 'session.refuse',
    outcome: refusal.outcome,
    actor: { id: conn.user.id, name: conn.user.name },
    object: { type: 'account', id: link.account.id, name: link.account.ref },
    source: conn.source,
    details: { why: refusal.why, detail: refusal.detail, connection: conn.id },
  });
}
