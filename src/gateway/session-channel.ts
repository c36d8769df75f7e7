import type { AcceptConnection, PseudoTtyInfo, ServerChannel, Session } from 'ssh2';
import {
  type ConnectionEnding,
  type ConnectionState,
  endingText,
  type SessionDeps,
  type SessionRun,
} from './connection-state.ts';
import { runsFileTransfer } from './file-transfer.ts';
import { auditForwardEvent } from './forwarding.ts';
import type { Link, LinkDecision } from './link.ts';
import { GatewayRefusal } from './refusal.ts';
import { auditRefusal } from './session-records.ts';
import {
  discardSession,
  prepareSession,
  runSession,
  type SessionSpec,
  type SessionStart,
} from './session-run.ts';
import {
  type ForwardFeature,
  NO_FORWARDS,
  openTargetChannel,
  type TargetChannelRequest,
} from './target-channel.ts';
import { type X11Request, x11Request } from './x11-forwarding.ts';

/** Variables a client may pass on; the target's sshd still decides (AcceptEnv). */
const PASSED_ENV = /^(LANG|LC_[A-Z]+|TZ|COLORTERM)$/;
const MAX_ENV = 32;
const MAX_ENV_VALUE = 256;

/**
 * Serves one session channel: remembers its PTY, environment and forwarding requests, then
 * starts the shell, command or SFTP subsystem on the target and runs the session. X11 and agent
 * forwarding are granted as the decided policy allows (`decision` is null when access was
 * refused); a refusal is audited, and so is a grant, as the session starts.
 */
export function serveSession(
  deps: SessionDeps,
  conn: ConnectionState,
  session: Session,
  decision: LinkDecision | null,
): void {
  let pty: PseudoTtyInfo | null = null;
  const env: Record<string, string> = {};
  let agent = false;
  let x11: X11Request | null = null;
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
  // Answered at once: the client reads the answers to its requests in order.
  session.on('x11', (accept, reject, info) => {
    const request = decision?.policy.allowX11 === true && !started ? x11Request(info) : null;
    if (request === null) return refuseForward(deps, conn, 'x11', reject);
    x11 = request;
    accept?.();
  });
  session.on('auth-agent', (accept, reject) => {
    if (decision?.policy.allowAgentForwarding !== true || started) {
      return refuseForward(deps, conn, 'agent-forwarding', reject);
    }
    agent = true;
    accept?.();
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
    // OpenSSH's sftp asks for no forwarding; the target is asked for none with a subsystem.
    const forwards = spec.kind === 'sftp' ? NO_FORWARDS : { agent, x11 };
    void begin(deps, conn, { ...spec, pty, env, forwards }, channel).then(
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

/**
 * Sets a session up in two steps: what needs only the access decision (the policy's refusals,
 * the recording) while the target's login runs, then the re-check and the target's channel once
 * the link is up. A link that fails is what the user is told, as when nothing ran before it: a
 * sealed vault, say, fails the recording too.
 */
async function begin(
  deps: SessionDeps,
  conn: ConnectionState,
  request: TargetChannelRequest,
  channel: ServerChannel,
): Promise<SessionRun | null> {
  let decision: LinkDecision;
  try {
    decision = await conn.decision;
  } catch (error) {
    refuseOnChannel(channel, conn, asUserRefusal(error).userMessage);
    return null;
  }
  const refuseUnlessLinkFailed = async (refusal: GatewayRefusal) => {
    // The link's own refusal is on the record already, as the link's.
    const failed = await conn.link.then(
      () => null,
      (error: unknown) => asUserRefusal(error),
    );
    if (failed !== null) refuseOnChannel(channel, conn, failed.userMessage);
    else await refuse(deps, conn, decision, channel, refusal);
  };
  const transfer = fileTransferRefusal(decision, request);
  if (transfer !== null) {
    await refuseUnlessLinkFailed(transfer);
    return null;
  }
  let start: SessionStart;
  try {
    start = await prepareSession(deps, decision, request, channel);
  } catch (error) {
    await refuseUnlessLinkFailed(asUserRefusal(error));
    return null;
  }
  const link = await settle(deps, conn, request, channel, start);
  if (link === null) return null;
  const dropped = (feature: ForwardFeature) => {
    deps.logger.info({ connection: conn.id, feature }, 'the target refused a forwarding');
    channel.stderr.write(`tessera: ${DROPPED[feature]}\r\n`);
  };
  try {
    return await runSession(deps, conn, link, start, channel, () =>
      openTargetChannel(link, request, dropped),
    );
  } catch (error) {
    await refuse(deps, conn, link, channel, asUserRefusal(error));
    return null;
  }
}

/**
 * Waits for the link, checks again that the user may still use the account and puts the
 * forwarding granted on the record: the link, or null once the session has been refused and its
 * recording removed (before the user is told, who may look).
 */
async function settle(
  deps: SessionDeps,
  conn: ConnectionState,
  request: TargetChannelRequest,
  channel: ServerChannel,
  start: SessionStart,
): Promise<Link | null> {
  let link: Link;
  try {
    link = await conn.link;
  } catch (error) {
    await discardSession(deps, start);
    refuseOnChannel(channel, conn, asUserRefusal(error).userMessage);
    return null;
  }
  if (start.userLeft()) {
    await discardSession(deps, start);
    return null;
  }
  let ended: ConnectionEnding | null;
  try {
    ended = await conn.recheck(true);
  } catch (error) {
    deps.logger.error({ err: error, connection: conn.id }, 'could not re-check a connection');
    await discardSession(deps, start);
    await refuse(deps, conn, link, channel, new GatewayRefusal('check-failed'));
    return null;
  }
  if (ended !== null) {
    await discardSession(deps, start);
    refuseOnChannel(channel, conn, endingText(ended));
    return null;
  }
  if (!(await auditGrants(deps, conn, request))) {
    await discardSession(deps, start);
    await refuse(deps, conn, link, channel, new GatewayRefusal('audit-unavailable'));
    return null;
  }
  return link;
}

/**
 * Under a policy without file transfer, the SFTP subsystem is refused, and so is an exec request
 * that starts scp or an sftp-server, which is how `scp -O` and `sftp -s PATH` reach the same
 * tools. This keeps the standard tools out; it is no data-loss control, since a shell can still
 * move data (`cat`, `base64`, a here-document).
 */
function fileTransferRefusal(
  decision: LinkDecision,
  request: TargetChannelRequest,
): GatewayRefusal | null {
  if (decision.policy.allowSftp) return null;
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
  decision: LinkDecision,
  channel: ServerChannel,
  refusal: GatewayRefusal,
): Promise<void> {
  await auditRefusal(deps, conn, decision, refusal).catch(() => undefined);
  refuseOnChannel(channel, conn, refusal.userMessage);
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

const DROPPED: Record<ForwardFeature, string> = {
  x11: 'the target refused X11 forwarding; the session goes on without it',
  'agent-forwarding': 'the target refused agent forwarding; the session goes on without it',
};

const FEATURE = {
  x11: { feature: 'x11' },
  'agent-forwarding': { feature: 'agent-forwarding' },
} as const;

/**
 * Puts the forwarding granted to a session on the record before the target is asked for it;
 * the agent's connections are served from then on. False when the record cannot be written.
 */
async function auditGrants(
  deps: SessionDeps,
  conn: ConnectionState,
  request: TargetChannelRequest,
): Promise<boolean> {
  const granted: ForwardFeature[] = [];
  if (request.forwards.x11 !== null) granted.push('x11');
  if (request.forwards.agent) granted.push('agent-forwarding');
  for (const feature of granted) {
    if (!(await auditForwardEvent(deps, conn, 'session.forward', FEATURE[feature], true))) {
      return false;
    }
  }
  if (request.forwards.agent) conn.agent.grant();
  return true;
}

/** A forwarding request the policy does not allow: refused, and the attempt on the record. */
function refuseForward(
  deps: SessionDeps,
  conn: ConnectionState,
  feature: ForwardFeature,
  reject: (() => void) | undefined,
): void {
  reject?.();
  void auditForwardEvent(deps, conn, 'session.forward.refuse', FEATURE[feature], false);
}
