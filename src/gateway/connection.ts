import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ClientInfo, Connection } from 'ssh2';
import type { AccessDecision } from '../access/access-decision.ts';
import type { EphemeralLogins } from '../access/ephemeral-logins.ts';
import type { AccountService } from '../accounts/account-service.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { MfaService } from '../identity/mfa.ts';
import type { UserService } from '../identity/users.ts';
import { serveAgentForwarding } from './agent-forwarding.ts';
import { createAuthenticator, type GatewayUser } from './authenticate.ts';
import { authorise } from './authorise.ts';
import type { AccessRecheckDeps } from './connect-check.ts';
import type { ConnectionState, SessionDeps, SessionRun } from './connection-state.ts';
import type { ConsoleTickets } from './console-tickets.ts';
import { serveForwarding } from './forwarding.ts';
import type { Link, LinkDeps } from './link.ts';
import type { LiveConnections } from './live-connections.ts';
import { serveSession } from './session-channel.ts';
import type { SshKeyService } from './user-keys.ts';
import { serveX11Forwarding } from './x11-forwarding.ts';

export interface ConnectionLimits {
  /** A connection with no channel open this long is closed, unless its policy sets the time. */
  readonly idleMs: number;
}

export interface ConnectionDeps extends SessionDeps, LinkDeps, AccessRecheckDeps {
  readonly access: AccessDecision;
  readonly accounts: Pick<AccountService, 'find' | 'reload'>;
  readonly ephemeral: Pick<EphemeralLogins, 'findLogin' | 'loginPassword' | 'holdsLogin'>;
  readonly keys: Pick<SshKeyService, 'ownerOf' | 'touch' | 'holds'>;
  readonly users: Pick<UserService, 'authenticate' | 'findById' | 'passwordStamp'>;
  /** Second factors: a password login to the gateway asks for a code where the user has one. */
  readonly mfa?: Pick<MfaService, 'hasFactor' | 'verify'>;
  readonly passwordLogin: boolean;
  readonly tickets?: Pick<ConsoleTickets, 'redeem'>;
  readonly connections: LiveConnections;
  readonly limits: ConnectionLimits;
  readonly audit: AuditLog;
  readonly logger: Logger;
}

/**
 * One user connection: authentication, then the access decision and the link to the target,
 * then its channels and forwarding requests, each of which checks the access again. Errors from
 * a misbehaving client or target end that connection only.
 */
export function handleConnection(
  deps: ConnectionDeps,
  client: Connection,
  info: ClientInfo,
  sockets: Set<() => void>,
  /** Told once the user has signed in: the listener's grace and per-source count let go. */
  signedIn: () => void = () => undefined,
): void {
  const id = randomUUID();
  const source = info.ip ?? null;
  const log = deps.logger.child({ connection: id, source });
  let user: GatewayUser | null = null;
  let login = '';
  let link: Promise<Link> | null = null;
  // ssh2 still says `ready` when a slow check (a password hash, a code) accepts after the
  // client has gone: nothing is authorised for a connection that closed.
  let closed = false;
  const running = new Set<SessionRun>();
  (client as unknown as { setNoDelay(on: boolean): void }).setNoDelay(true);

  const end = () => {
    client.end();
    void link?.then((opened) => opened.client.end()).catch(() => undefined);
  };
  // The listener closes a connection that has not signed in within its grace (gateway.ts).
  sockets.add(end);

  const auth = createAuthenticator({
    keys: deps.keys,
    users: deps.users,
    ...(deps.mfa === undefined ? {} : { mfa: deps.mfa }),
    passwordLogin: deps.passwordLogin,
    ...(deps.tickets === undefined ? {} : { tickets: deps.tickets }),
    source,
    logger: log,
    onUser: (found) => {
      user = found;
    },
    onTooManyFailures: end,
  });
  client.on('authentication', (ctx) => {
    login = ctx.username;
    auth.handle(ctx);
  });
  client.on('error', (error: Error) => log.debug({ err: error }, 'gateway client error'));

  client.on('ready', () => {
    if (closed || user === null) return end();
    signedIn();
    // A browser terminal reaches the gateway from this process over loopback: its source is the
    // browser's address as the console's HTTP request came.
    const from = user.method === 'console' ? (user.browserSource ?? source) : source;
    const state = authorise(deps, client, { id, user, source: from, login, log, running, end });
    link = state.link;
    serveConnection(deps, client, state);
  });

  client.on('close', () => {
    closed = true;
    sockets.delete(end);
    for (const run of [...running]) run.abandon('the connection closed');
    void link?.then((opened) => opened.client.end()).catch(() => undefined);
    if (user === null && auth.failures + auth.unknownKeys > 0) {
      void deps.audit
        .record({
          action: 'auth.ssh',
          outcome: 'failure',
          actor: { id: null, name: null },
          source,
          details: {
            attempts: auth.failures,
            unknownKeys: auth.unknownKeys,
            login: login.slice(0, 300),
          },
        })
        .catch((error: unknown) => log.error({ err: error }, 'could not audit a failed ssh login'));
    }
  });
}

/**
 * A session channel is accepted once access to the account is decided: its requests (X11,
 * agent forwarding) must be answered at once and in order, and the answer depends on the
 * session policy the decision brings. The client's requests then come while the target's login
 * runs. A refused decision still gets its session, which tells the user why.
 */
function serveConnection(deps: ConnectionDeps, client: Connection, state: ConnectionState): void {
  state.link.then(
    (link) => serveX11Forwarding(deps, client, state, link),
    () => undefined,
  );
  const decided = state.decision.catch(() => null);
  serveAgentForwarding(deps, client, state);
  client.on('session', (accept) => {
    void decided.then((decision) => {
      const session = accept();
      if (session === undefined) return;
      // A session channel that never started has nothing to close; the connection's end
      // covers it.
      session.once(
        'close',
        state.channelOpened(() => undefined),
      );
      serveSession(deps, state, session, decision);
    });
  });
  serveForwarding(deps, client, state);
}
