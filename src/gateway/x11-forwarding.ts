import type { ClientChannel, Connection, ServerChannel, X11Details, X11Info } from 'ssh2';
import type { ConnectionDeps } from './connection.ts';
import type { ConnectionState } from './connection-state.ts';
import { auditForwardEvent, splice, stillAllowed } from './forwarding.ts';
import type { Link } from './link.ts';

/**
 * X11 forwarding as the target is asked for it. The cookie is the one the user's client made up
 * (OpenSSH never sends the real one): the target's X clients present it, and the user's client
 * checks it and puts the real one in its place before it reaches the user's X server.
 */
export interface X11Request {
  readonly single: boolean;
  readonly protocol: string;
  /** Hexadecimal text, as OpenSSH sends it. */
  readonly cookie: string;
  readonly screen: number;
}

const PROTOCOL = /^[\x21-\x7e]{1,64}$/;
const COOKIE = /^[0-9a-fA-F]{2,512}$/;
const MAX_SCREEN = 0xffff;

/** The client's `x11-req` as one the target can be sent; null when it is malformed. */
export function x11Request(info: X11Info): X11Request | null {
  // ssh2 (1.17) hands the cookie over as the bytes it read, whatever its types say.
  const raw: unknown = info.cookie;
  const cookie = Buffer.isBuffer(raw) ? raw.toString('latin1') : typeof raw === 'string' ? raw : '';
  const { protocol, screen } = info;
  if (typeof protocol !== 'string' || !PROTOCOL.test(protocol) || !COOKIE.test(cookie)) {
    return null;
  }
  if (!Number.isInteger(screen) || screen < 0 || screen > MAX_SCREEN) return null;
  return { single: info.single === true, protocol, cookie, screen };
}

/**
 * Serves the X11 connections the target opens back, for sessions the gateway asked X11 for:
 * each is checked (the user may still use the account, the policy allows X11), audited, then
 * passed to an x11 channel opened to the user's client. What cannot be audited is refused.
 */
export function serveX11Forwarding(
  deps: ConnectionDeps,
  client: Connection,
  state: ConnectionState,
  link: Link,
): void {
  link.client.on('x11', (details, accept, reject) => {
    void x11Channel(deps, client, state, link, details).then(
      (channel) => {
        if (channel === null) return reject();
        const target: ClientChannel = accept();
        splice(channel, target);
      },
      (error: unknown) => {
        deps.logger.debug({ err: error, connection: state.id }, 'x11 channel refused');
        reject();
      },
    );
  });
}

async function x11Channel(
  deps: ConnectionDeps,
  client: Connection,
  state: ConnectionState,
  link: Link,
  details: X11Details,
): Promise<ServerChannel | null> {
  if (!link.policy.allowX11 || !(await stillAllowed(deps, state))) return null;
  const origin = { feature: 'x11', host: details.srcIP.slice(0, 255), port: details.srcPort };
  if (!(await auditForwardEvent(deps, state, 'session.forward.channel', origin, true))) {
    return null;
  }
  const channel = await new Promise<ServerChannel>((resolve, reject) => {
    client.x11(details.srcIP, details.srcPort, (error, opened) => {
      if (error !== undefined) reject(error);
      else resolve(opened);
    });
  });
  channel.once(
    'close',
    state.channelOpened(() => channel.close()),
  );
  return channel;
}
