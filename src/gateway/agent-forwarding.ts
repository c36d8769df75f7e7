import type { Duplex } from 'node:stream';
import ssh2, { type Connection, type GetStreamCallback, type ServerChannel } from 'ssh2';
import type { ConnectionDeps } from './connection.ts';
import type { ConnectionState } from './connection-state.ts';
import { auditForwardEvent, stillAllowed } from './forwarding.ts';

/**
 * The agent the link to the target is given, so that the target can reach the user's own agent
 * (`ssh -A`) through the gateway. It holds no key and signs nothing: the gateway never uses the
 * user's agent to log in anywhere (the link's logins leave the agent out too). It only opens,
 * for each agent connection the target makes, a channel back to the user's client, and only
 * once a session of the connection was granted agent forwarding.
 */
export class AgentRelay extends ssh2.BaseAgent {
  #open: ((cb: GetStreamCallback) => void) | null = null;
  #granted = false;

  override getIdentities(cb: (error: Error | null, keys?: Buffer[]) => void): void {
    cb(new Error('a forwarded agent is not used to log in'));
  }

  override sign(_key: unknown, _data: Buffer, options: unknown, cb?: unknown): void {
    const done = typeof options === 'function' ? options : cb;
    if (typeof done === 'function') done(new Error('a forwarded agent is not used to log in'));
  }

  override getStream(cb: GetStreamCallback): void {
    if (!this.#granted || this.#open === null) {
      cb(new Error('agent forwarding was not granted on this connection'));
      return;
    }
    this.#open(cb);
  }

  /** Sets how a channel to the user's agent is opened (once the connection is served). */
  serve(open: (cb: GetStreamCallback) => void): void {
    this.#open = open;
  }

  /**
   * A session of the connection asked for agent forwarding, its policy allows it and the grant
   * is on the record. Like OpenSSH's sshd, whose agent socket then serves every session of the
   * connection, the grant holds for the rest of the connection.
   */
  grant(): void {
    this.#granted = true;
  }
}

/**
 * Serves the agent connections the target opens: each is checked (the user may still use the
 * account, the policy allows agent forwarding), audited, and then passed to a channel opened
 * to the user's client, which connects it to the user's agent. What cannot be audited is
 * refused.
 */
export function serveAgentForwarding(
  deps: ConnectionDeps,
  client: Connection,
  state: ConnectionState,
): void {
  state.agent.serve((cb) => {
    void agentChannel(deps, client, state).then(
      (channel) => cb(null, channel),
      (error: unknown) => {
        deps.logger.debug({ err: error, connection: state.id }, 'agent channel refused');
        cb(error instanceof Error ? error : new Error('agent channel refused'));
      },
    );
  });
}

async function agentChannel(
  deps: ConnectionDeps,
  client: Connection,
  state: ConnectionState,
): Promise<Duplex> {
  const link = await state.link;
  if (!link.policy.allowAgentForwarding) throw new Error('agent forwarding is not allowed');
  if (!(await stillAllowed(deps, state))) throw new Error('access is gone');
  const details = { feature: 'agent-forwarding' };
  if (!(await auditForwardEvent(deps, state, 'session.forward.channel', details, true))) {
    throw new Error('the agent channel could not be audited');
  }
  const channel = await openAgentChannel(client);
  channel.on('error', () => undefined);
  channel.once(
    'close',
    state.channelOpened(() => channel.close()),
  );
  return channel;
}

/** The window and packet size ssh2 (1.17) assumes for a channel it asked to open. */
const CHANNEL_WINDOW = 2 * 1024 * 1024;
const CHANNEL_PACKET = 32 * 1024;

/** The part of ssh2's server connection that opens a channel of a type it has no method for. */
interface ConnectionInternals {
  _chanMgr?: { add(handler: unknown): number; remove(id: number): void };
  _protocol?: { openssh_authAgent?(channel: number, window: number, packet: number): void };
}

/**
 * Opens an `auth-agent@openssh.com` channel to the user's client. ssh2 (1.17) writes this
 * channel-open message and handles its answer like any channel the server opens (`x11()`,
 * `forwardOut()`), but has no method that sends it; this reaches its channel table and protocol
 * the way those methods do. Fails, rather than guesses, when ssh2 has changed.
 */
export function openAgentChannel(client: Connection): Promise<ServerChannel> {
  return new Promise((resolve, reject) => {
    const internals = client as unknown as ConnectionInternals;
    const table = internals._chanMgr;
    const protocol = internals._protocol;
    if (typeof table?.add !== 'function' || typeof protocol?.openssh_authAgent !== 'function') {
      reject(new Error('this ssh2 cannot open agent channels'));
      return;
    }
    const answered = (error: Error | undefined, channel: ServerChannel) => {
      if (error !== undefined) reject(error);
      else resolve(channel);
    };
    const local = table.add(Object.assign(answered, { type: 'auth-agent@openssh.com' }));
    if (local === -1) {
      reject(new Error('no free channel'));
      return;
    }
    try {
      protocol.openssh_authAgent(local, CHANNEL_WINDOW, CHANNEL_PACKET);
    } catch (error) {
      table.remove(local);
      reject(error instanceof Error ? error : new Error('agent channel not opened'));
    }
  });
}
