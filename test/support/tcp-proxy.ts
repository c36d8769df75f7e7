/**
 * A TCP proxy on 127.0.0.1 between Tessera and a test server. It numbers every connection it
 * accepts, records the bytes each side sent, and can hold or drop a connection at a chosen step,
 * so a test knows exactly where the process in front of it stands (and can kill it there).
 */
import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

const HOST = '127.0.0.1';
const WAIT_TIMEOUT_MS = 10_000;

/**
 * How one connection is relayed:
 * - `forward`: both ways, closes included;
 * - `hold`: accepted, but nothing reaches the server until `release()`;
 * - `hold-close`: both ways, except that the server's close never reaches the client, so a
 *   client that waits for the close after saying goodbye keeps waiting;
 * - a {@link CutPlan}: both ways until the moment it names, then dropped on both sides.
 */
export type RelayPlan = 'forward' | 'hold' | 'hold-close' | CutPlan;

/**
 * Drops the connection once `when` holds for what the client has sent: before passing on the
 * client's chunk (`request`: the server never sees it) or the server's next reply (`reply`: the
 * server acted, the client never hears of it).
 */
export interface CutPlan {
  readonly cut: 'request' | 'reply';
  readonly when: (fromClient: readonly Buffer[]) => boolean;
}

export interface ProxiedConnection {
  /** 1 for the first connection the proxy accepted, 2 for the next, and so on. */
  readonly index: number;
  readonly plan: RelayPlan;
  /** Everything the client sent, in order. */
  readonly fromClient: readonly Buffer[];
  /** Everything the server sent, in order. */
  readonly fromServer: readonly Buffer[];
  /** True once the client ended its side or went away. */
  readonly clientEnded: boolean;
  /** Lets a held connection through to the server. */
  release(): void;
}

export interface TcpProxy {
  readonly port: number;
  readonly connections: readonly ProxiedConnection[];
  /** Chooses the plan of each connection accepted from now on; the default forwards all. */
  setPlan(plan: (index: number) => RelayPlan): void;
  /** Resolves with the first connection `pick` returns, checking again after every event. */
  waitFor(
    pick: (connections: readonly ProxiedConnection[]) => ProxiedConnection | undefined,
    timeoutMs?: number,
  ): Promise<ProxiedConnection>;
  /** Closes the port and every connection: the target looks down (connection refused). */
  pause(): Promise<void>;
  /** Listens again on the same port. */
  resume(): Promise<void>;
  close(): Promise<void>;
}

interface Waiter {
  readonly check: () => boolean;
}

/** Starts a proxy to `upstream` on a free loopback port. */
export async function startTcpProxy(upstream: {
  readonly host: string;
  readonly port: number;
}): Promise<TcpProxy> {
  const connections: ProxiedConnection[] = [];
  const sockets = new Set<Socket>();
  const waiters = new Set<Waiter>();
  let plan: (index: number) => RelayPlan = () => 'forward';

  const changed = () => {
    for (const waiter of [...waiters]) if (waiter.check()) waiters.delete(waiter);
  };
  const accept = (client: Socket) => {
    const index = connections.length + 1;
    connections.push(relay({ client, index, plan: plan(index), upstream, sockets, changed }));
    changed();
  };

  let server = await listen(accept, 0);
  const port = portOf(server);

  return {
    port,
    connections,
    setPlan(next) {
      plan = next;
    },
    waitFor(pick, timeoutMs = WAIT_TIMEOUT_MS) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`proxy: the awaited connection state did not come in ${timeoutMs} ms`));
        }, timeoutMs);
        const waiter: Waiter = {
          check: () => {
            const found = pick(connections);
            if (found === undefined) return false;
            clearTimeout(timer);
            resolve(found);
            return true;
          },
        };
        if (!waiter.check()) waiters.add(waiter);
      });
    },
    async pause() {
      await shut(server, sockets);
    },
    async resume() {
      if (server.listening) return;
      server = await listen(accept, port);
    },
    async close() {
      await shut(server, sockets);
    },
  };
}

async function listen(accept: (client: Socket) => void, port: number): Promise<Server> {
  // Half-open sockets let the proxy see the client's goodbye without answering it.
  const server = createServer({ allowHalfOpen: true }, accept);
  server.listen(port, HOST);
  await once(server, 'listening');
  return server;
}

async function shut(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  if (!server.listening) return;
  const closed = once(server, 'close');
  server.close();
  await closed;
}

function portOf(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy: no TCP address');
  return address.port;
}

interface RelayParts {
  readonly client: Socket;
  readonly index: number;
  readonly plan: RelayPlan;
  readonly upstream: { readonly host: string; readonly port: number };
  readonly sockets: Set<Socket>;
  readonly changed: () => void;
}

function relay(parts: RelayParts): ProxiedConnection {
  const { client, index, plan, upstream, sockets, changed } = parts;
  const fromClient: Buffer[] = [];
  const fromServer: Buffer[] = [];
  const state = { clientEnded: false };
  let server: Socket | null = null;
  sockets.add(client);

  const connectUpstream = () => {
    if (server !== null || client.destroyed) return;
    server = openUpstream({ client, upstream, plan, sockets, fromClient, fromServer, changed });
    for (const chunk of fromClient) server.write(chunk);
    if (state.clientEnded) server.end();
  };

  client.on('data', (chunk: Buffer) => {
    fromClient.push(chunk);
    if (cutsAt(plan, 'request', fromClient)) {
      client.destroy();
      server?.destroy();
    } else {
      server?.write(chunk);
    }
    changed();
  });
  client.on('end', () => {
    state.clientEnded = true;
    server?.end();
    changed();
  });
  client.on('close', () => {
    state.clientEnded = true;
    server?.destroy();
    sockets.delete(client);
    changed();
  });
  client.on('error', () => {
    // The client went away (killed, reset); 'close' follows and tidies up.
  });
  if (plan !== 'hold') connectUpstream();

  return {
    index,
    plan,
    fromClient,
    fromServer,
    get clientEnded() {
      return state.clientEnded;
    },
    release: connectUpstream,
  };
}

function openUpstream(parts: {
  readonly client: Socket;
  readonly upstream: { readonly host: string; readonly port: number };
  readonly plan: RelayPlan;
  readonly sockets: Set<Socket>;
  readonly fromClient: readonly Buffer[];
  readonly fromServer: Buffer[];
  readonly changed: () => void;
}): Socket {
  const { client, upstream, plan, sockets, fromClient, fromServer, changed } = parts;
  const server = createConnection({
    host: upstream.host,
    port: upstream.port,
    allowHalfOpen: true,
  });
  sockets.add(server);
  // Under `hold-close` the client is never told that the server went away.
  const passClose = plan !== 'hold-close';

  server.on('data', (chunk: Buffer) => {
    fromServer.push(chunk);
    if (cutsAt(plan, 'reply', fromClient)) {
      client.destroy();
      server.destroy();
    } else {
      client.write(chunk);
    }
    changed();
  });
  server.on('end', () => {
    if (passClose) client.end();
  });
  server.on('close', (hadError: boolean) => {
    sockets.delete(server);
    if (passClose && hadError) client.destroy();
  });
  server.on('error', () => {
    // Refused or reset upstream; 'close' follows and, unless held, closes the client too.
  });
  return server;
}

function cutsAt(plan: RelayPlan, side: CutPlan['cut'], fromClient: readonly Buffer[]): boolean {
  return typeof plan === 'object' && plan.cut === side && plan.when(fromClient);
}
