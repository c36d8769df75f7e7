import type { FastifyPluginAsync } from 'fastify';
import ssh2, { type ClientChannel } from 'ssh2';
import { z } from 'zod';
import type { Services } from '../../services.ts';
import { type App, principalOf } from '../app.ts';
import { accountUsername, name } from '../schemas.ts';

/** The handshake to this node's own gateway, over loopback: seconds would mean it is stuck. */
const CONNECT_TIMEOUT_MS = 10_000;

const control = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('resize'),
    cols: z.number().int().min(1).max(1000),
    rows: z.number().int().min(1).max(1000),
  }),
]);

interface TerminalSocket {
  send(data: string | Buffer, options?: { binary: boolean }): void;
  close(code?: number, reason?: string): void;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'close', listener: () => void): void;
  readonly readyState: number;
}

/**
 * A terminal in the browser: a WebSocket the console opens, which this node turns into a
 * session through its own SSH gateway, logged in as the signed-in user with a one-time ticket.
 * So a browser session is a gateway session in every way: the same access decision, session
 * policy, recording, live watch, kill and audit trail. Binary frames carry the terminal's bytes
 * both ways; text frames from the browser are JSON control messages (resize).
 */
export function terminalRoutes(app: App, services: Pick<Services, 'gateway'>): void {
  const { gateway } = services;

  const route: FastifyPluginAsync = async (scope) => {
    scope.get(
      '/v1/terminal',
      {
        websocket: true,
        // The gateway decides, exactly as for an OpenSSH client: here, only a login is needed.
        config: { action: 'terminal.open' },
        schema: {
          querystring: z
            .object({
              target: name,
              account: accountUsername,
              cols: z.coerce.number().int().min(1).max(1000).default(80),
              rows: z.coerce.number().int().min(1).max(1000).default(24),
            })
            .strict(),
        },
      },
      (socket, request) => {
        const query = request.query as {
          target: string;
          account: string;
          cols: number;
          rows: number;
        };
        const principal = principalOf(request);
        const endpoint = gateway.endpoint.current;
        if (endpoint === null) {
          socket.close(4503, 'the SSH gateway does not run on this node');
          return;
        }
        const login = `${query.account}@${query.target}`;
        const ticket = gateway.consoleTickets.issue(
          {
            id: principal.userId,
            name: principal.name,
            role: principal.role,
            tokenId: principal.tokenId,
            source: request.ip,
          },
          login,
        );
        relay(socket as unknown as TerminalSocket, {
          host: loopbackOf(endpoint.host),
          port: endpoint.port,
          hostKey: endpoint.hostKey,
          login,
          ticket,
          cols: query.cols,
          rows: query.rows,
        });
      },
    );
  };
  app.register(route);
}

interface RelayOptions {
  readonly host: string;
  readonly port: number;
  readonly hostKey: string;
  readonly login: string;
  readonly ticket: string;
  readonly cols: number;
  readonly rows: number;
}

function relay(socket: TerminalSocket, options: RelayOptions): void {
  const client = new ssh2.Client();
  let stream: ClientChannel | null = null;
  let closed = false;
  const expectedKey = keyBlob(options.hostKey);

  const finish = (code: number, reason: string) => {
    if (closed) return;
    closed = true;
    client.end();
    // A WebSocket close reason holds at most 123 bytes.
    if (socket.readyState === 1)
      socket.close(code, Buffer.from(reason).subarray(0, 120).toString());
  };

  socket.on('message', (data, isBinary) => {
    if (stream === null) return;
    if (isBinary) {
      stream.write(data);
      return;
    }
    const parsed = control.safeParse(safeJson(data.toString('utf8')));
    if (parsed.success) stream.setWindow(parsed.data.rows, parsed.data.cols, 0, 0);
  });
  socket.on('close', () => finish(1000, 'closed'));

  client.on('ready', () => {
    client.shell(
      { term: 'xterm-256color', cols: options.cols, rows: options.rows },
      (error, channel) => {
        if (error) return finish(4502, 'the gateway refused the session');
        stream = channel;
        const forward = (chunk: Buffer) => {
          if (socket.readyState === 1) socket.send(chunk, { binary: true });
        };
        // What the gateway tells the user (a refusal, a kill's reason) arrives on these too.
        channel.on('data', forward);
        channel.stderr.on('data', forward);
        channel.on('close', () => finish(1000, 'the session ended'));
      },
    );
  });
  client.on('error', (error) => {
    const refused = (error as { level?: string }).level === 'client-authentication';
    finish(refused ? 4403 : 4502, refused ? 'not allowed' : 'the gateway could not be reached');
  });
  client.on('close', () => finish(1000, 'the session ended'));

  client.connect({
    host: options.host,
    port: options.port,
    username: options.login,
    password: options.ticket,
    tryKeyboard: false,
    readyTimeout: CONNECT_TIMEOUT_MS,
    // Our own gateway: its host key is known in this process, so nothing is trusted on first use.
    hostVerifier: (key: Buffer) => expectedKey !== null && key.equals(expectedKey),
  });
}

/** The key blob of an OpenSSH public key line ("TYPE BASE64 [comment]"). */
function keyBlob(line: string): Buffer | null {
  const encoded = line.trim().split(/\s+/)[1];
  return encoded === undefined ? null : Buffer.from(encoded, 'base64');
}

/** A gateway listening on every address is reached on loopback. */
function loopbackOf(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
