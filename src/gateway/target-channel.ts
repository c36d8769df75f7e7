import type { ClientChannel, ExecOptions, PseudoTtyInfo, ShellOptions } from 'ssh2';
import type { Link } from './link.ts';
import { GatewayRefusal } from './refusal.ts';
import { watchEarlyEnd } from './session-proxy.ts';
import type { SessionSpec } from './session-run.ts';
import type { X11Request } from './x11-forwarding.ts';

/** What a session asks the target to forward back, as its policy allowed and the user asked. */
export interface SessionForwards {
  readonly agent: boolean;
  readonly x11: X11Request | null;
}

export const NO_FORWARDS: SessionForwards = { agent: false, x11: null };

/** A session as the target is asked to start it. */
export interface TargetChannelRequest extends SessionSpec {
  readonly pty: PseudoTtyInfo | null;
  readonly env: Readonly<Record<string, string>>;
  readonly forwards: SessionForwards;
}

export type ForwardFeature = 'x11' | 'agent-forwarding';

/**
 * Opens the session's channel on the target. A target that refuses X11 or agent forwarding
 * fails the whole channel in ssh2; as OpenSSH's client does, the session then goes on without
 * that forwarding (X11 is given up first, then the agent), and `dropped` is told.
 */
export async function openTargetChannel(
  link: Link,
  request: TargetChannelRequest,
  dropped: (feature: ForwardFeature) => void,
): Promise<ClientChannel> {
  let forwards = request.forwards;
  for (;;) {
    try {
      return await openOnce(link, request, forwards);
    } catch (error) {
      const retry = error instanceof GatewayRefusal && error.why === 'target-channel-failed';
      if (!retry || (forwards.x11 === null && !forwards.agent)) throw error;
      dropped(forwards.x11 !== null ? 'x11' : 'agent-forwarding');
      forwards = forwards.x11 !== null ? { ...forwards, x11: null } : NO_FORWARDS;
    }
  }
}

function openOnce(
  link: Link,
  request: TargetChannelRequest,
  forwards: SessionForwards,
): Promise<ClientChannel> {
  const window = request.pty === null ? false : ptyOptions(request.pty);
  // ssh2 (1.17) reads `agentForward` from these options, though its types leave it out.
  const options: ShellOptions & ExecOptions & { agentForward?: boolean } = {
    env: request.env,
    ...(forwards.agent ? { agentForward: true } : {}),
    ...(forwards.x11 === null ? {} : { x11: { ...forwards.x11 } }),
  };
  return new Promise((resolve, reject) => {
    const done = (error: Error | undefined, channel: ClientChannel) => {
      if (error !== undefined) reject(new GatewayRefusal('target-channel-failed'));
      // Synchronously: ssh2 may parse the command's exit right after this reply, in the same
      // read, before any promise callback could listen.
      else resolve(watchEarlyEnd(channel));
    };
    try {
      if (request.kind === 'shell') link.client.shell(window, options, done);
      else if (request.kind === 'exec') {
        const withPty = window === false ? options : { ...options, pty: window };
        link.client.exec(request.command ?? '', withPty, done);
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
