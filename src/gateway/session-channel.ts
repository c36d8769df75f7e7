import type { AcceptConnection, ClientChannel, PseudoTtyInfo, ServerChannel, Session } from 'ssh2';
import type { AuditEventInput } from '../audit/event.ts';
import {
  type ConnectionEnding,
  type ConnectionState,
  endingText,
  type SessionDeps,
  type SessionRun,
} from './connection-state.ts';
import { runsFileTransfer } from './file-transfer.ts';
import type { Link } from './link.ts';
import { GatewayRefusal } from './refusal.ts';
import { watchEarlyEnd } from './session-proxy.ts';
import { runSession, type SessionSpec } from './session-run.ts';

/** Variables a client may pass on; the target's sshd still decides (AcceptEnv). */
const PASSED_ENV = /^(LANG|LC_[A-Z]+|TZ|COLORTERM)$/;
const MAX_ENV = 32;
const MAX_ENV_VALUE = 256;

/**
 * Serves one session channel: remembers its PTY and environment, then starts the shell, command
 * or SFTP subsystem on the target and runs the session. Forwarding of agents and X11 is refused
 * here and the attempt audited.
 */
export function serveSession(deps: SessionDeps, conn: ConnectionState, session: Session): void {
  let pty: PseudoTtyInfo | null = null;
  const env: Record<string, string> = {};
  let started = false;
  let run: SessionRun | null = null;
  // A window change that comes while the session is being set up is applied once it runs.
  let pendingSize: { cols: number; rows: number; width: number; height: number } | null = null;

  session.on('pty', (accept, _reject, info) => {
    pty = info;
    accept?.();
  });
  session.on('env', (accept, reject, info) => {
    const fits = Object.keys(env).length < MAX_ENV && info.val.length <= MAX_ENV_VALUE;
    if (!PASSED_ENV.test(info.key) || !fits) return reject?.();
    env[info.key] = info.val;
    accept?.();
  });
  session.on('window-change', (accept, _reject, info) => {
    if (run !== null) run.resize(info.cols, info.rows, info.width, info.height);
    else if (started) pendingSize = info;
    else if (pty !== null) pty = { ...pty, cols: info.cols, rows: info.rows };
    accept?.();
  });
  session.on('signal', (accept, _reject, info) => {
    run?.signal(info.name);
    accept?.();
  });
  session.on('x11', (_accept, reject) => {
    reject?.();
    void featureRefused(deps, conn, 'x11');
  });
  session.on('auth-agent', (_accept, reject) => {
    reject?.();
    void featureRefused(deps, conn, 'agent-forwarding');
  });

  const start = (spec: SessionSpec, accept: AcceptConnection<ServerChannel>) => {
    if (started) return;
    started = true;
    // Accepted at once: a client may send EOF right after its request (stdin at its end), and
    // a request not yet answered by then can no longer be. Its data waits, unread, until the
    // target's side is ready; a refusal is told on the channel.
    const channel = accept();
    if (channel === undefined) return;
    channel.on('error', (error: Error) =>
      deps.logger.debug({ err: error }, 'session channel error'),
    );
    void begin(deps, conn, { ...spec, pty, env }, channel).then(
      (begun) => {
        run = begun;
        if (pendingSize !== null) {
          begun?.resize(pendingSize.cols, pendingSize.rows, pendingSize.width, pendingSize.height);
        }
      },
      (error: unknown) => deps.logger.error({ err: error }, 'gateway session failed to start'),
    );
  };
  session.on('shell', (accept) => start({ kind: 'shell', command: null }, accept));
  session.on('exec', (accept, _reject, info) =>
    start({ kind: 'exec', command: info.command }, accept),
  );
  session.on('subsystem', (accept, reject, info) => {
    if (info.name !== 'sftp') return reject?.();
    start({ kind: 'sftp', command: null }, accept);
  });
}

interface StartRequest extends SessionSpec {
  readonly pty: PseudoTtyInfo | null;
  readonly env: Readonly<Record<string, string>>;
}

async function begin(
  deps: SessionDeps,
  conn: ConnectionState,
  request: StartRequest,
  channel: ServerChannel,
): Promise<SessionRun | null> {
  let link: Link;
  try {
    link = await conn.link;
  } catch (error) {
    refuseOnChannel(channel, conn, asUserRefusal(error).userMessage);
    return null;
  }
  let ended: ConnectionEnding | null;
  try {
    ended = await conn.recheck(true);
  } catch (error) {
    deps.logger.error({ err: error, connection: conn.id }, 'could not re-check a connection');
    await refuse(deps, conn, link, channel, new GatewayRefusal('check-failed'));
    return null;
  }
  if (ended !== null) {
    refuseOnChannel(channel, conn, endingText(ended));
    return null;
  }
  const transfer = fileTransferRefusal(link, request);
  if (transfer !== null) {
    await refuse(deps, conn, link, channel, transfer);
    return null;
  }
  try {
    return await runSession(deps, conn, link, request, channel, () =>
      openTargetChannel(link, request),
    );
  } catch (error) {
    await refuse(deps, conn, link, channel, asUserRefusal(error));
    return null;
  }
}

/**
 * Under a policy without file transfer, the SFTP subsystem is refused, and so is an exec request
 * that starts scp or an sftp-server, which is how `scp -O` and `sftp -s PATH` reach the same
 * tools. This keeps the standard tools out; it is no data-loss control, since a shell can still
 * move data (`cat`, `base64`, a here-document).
 */
function fileTransferRefusal(link: Link, request: StartRequest): GatewayRefusal | null {
  if (link.policy.allowSftp) return null;
  if (request.kind === 'sftp') return new GatewayRefusal('sftp-not-allowed');
  if (request.kind === 'exec' && runsFileTransfer(request.command ?? '')) {
    return new GatewayRefusal('sftp-not-allowed', 'file transfer command over exec');
  }
  return null;
}

/** Audits a refusal of the session, then tells it on the channel. */
async function refuse(
  deps: SessionDeps,
  conn: ConnectionState,
  link: Link,
  channel: ServerChannel,
  refusal: GatewayRefusal,
): Promise<void> {
  await auditRefusal(deps, conn, link, refusal).catch(() => undefined);
  refuseOnChannel(channel, conn, refusal.userMessage);
}

function openTargetChannel(link: Link, request: StartRequest): Promise<ClientChannel> {
  const window = request.pty === null ? false : ptyOptions(request.pty);
  return new Promise((resolve, reject) => {
    const done = (error: Error | undefined, channel: ClientChannel) => {
      if (error !== undefined) reject(new GatewayRefusal('target-channel-failed'));
      // Synchronously: ssh2 may parse the command's exit right after this reply, in the same
      // read, before any promise callback could listen.
      else resolve(watchEarlyEnd(channel));
    };
    try {
      if (request.kind === 'shell') link.client.shell(window, { env: request.env }, done);
      else if (request.kind === 'exec') {
        const options = window === false ? { env: request.env } : { env: request.env, pty: window };
        link.client.exec(request.command ?? '', options, done);
      } else link.client.subsys('sftp', done);
    } catch {
      // ssh2 throws when the target connection is already gone.
      reject(new GatewayRefusal('target-unreachable', 'connection closed'));
    }
  });
}

function ptyOptions(pty: PseudoTtyInfo) {
  return {
    term: pty.term,
    rows: pty.rows,
    cols: pty.cols,
    width: pty.width,
    height: pty.height,
    modes: pty.modes,
  };
}

/** Says on the channel why nothing more will happen on it, then closes it. */
function refuseOnChannel(channel: ServerChannel, conn: ConnectionState, text: string): void {
  channel.stderr.write(text, () => {
    channel.exit(1);
    channel.end();
  });
  channel.once('close', () => {
    if (conn.running.size === 0) conn.end();
  });
  // What the client still sends is dropped: unread, the channel would never reach its close
  // while the connection stays (a multiplexing client keeps it).
  channel.resume();
}

function asUserRefusal(error: unknown): GatewayRefusal {
  if (error instanceof GatewayRefusal) return error;
  return new GatewayRefusal('target-unreachable', 'internal error');
}

async function auditRefusal(
  deps: SessionDeps,
  conn: ConnectionState,
  link: Link,
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

/** Agent and X11 forwarding are not offered by the gateway; each attempt is on the record. */
async function featureRefused(
  deps: SessionDeps,
  conn: ConnectionState,
  feature: 'x11' | 'agent-forwarding',
): Promise<void> {
  const link = await conn.link.catch(() => null);
  const event: AuditEventInput = {
    action: 'session.forward.refuse',
    outcome: 'denied',
    actor: { id: conn.user.id, name: conn.user.name },
    object: { type: 'account', id: link?.account.id ?? null, name: link?.account.ref ?? null },
    source: conn.source,
    details: { feature, connection: conn.id },
  };
  await deps.audit.record(event).catch((error: unknown) => {
    deps.logger.error({ err: error }, 'could not audit a refused forwarding request');
  });
}
