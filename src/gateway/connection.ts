import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ClientInfo, Connection, ServerChannel } from 'ssh2';
import type { AuditLog } from '../audit/audit-log.ts';
import type { UserService } from '../identity/users.ts';
import { createAuthenticator, type GatewayUser } from './authenticate.ts';
import type { ConnectionState, SessionDeps, SessionRun } from './connection-state.ts';
import { type Link, type LinkDeps, openLink } from './link.ts';
import { serveSession } from './session-channel.ts';
import type { SshKeyService } from './user-keys.ts';

export interface ConnectionDeps extends SessionDeps, LinkDeps {
  readonly keys: Pick<SshKeyService, 'ownerOf' | 'touch'>;
  readonly users: Pick<UserService, 'authenticate'>;
  readonly passwordLogin: boolean;
  readonly audit: AuditLog;
  readonly logger: Logger;
}

/** A connection that has not authenticated by then is closed, as OpenSSH's LoginGraceTime. */
export const LOGIN_GRACE_MS = 30_000;

/**
 * One user connection: authentication, then (once) the access decision and the link to the
 * target, then its session channels and forwarding requests. Errors from a misbehaving client
 * or target end that connection only.
 */
export function handleConnection(
  deps: ConnectionDeps,
  client: Connection,
  info: ClientInfo,
  registry: Set<() => void>,
): void {
  const id = randomUUID();
  const source = info.ip ?? null;
  const log = deps.logger.child({ connection: id, source });
  let user: GatewayUser | null = null;
  let login = '';
  let link: Promise<Link> | null = null;
  const running = new Set<SessionRun>();
  (client as unknown as { setNoDelay(on: boolean): void }).setNoDelay(true);

  const end = () => {
    client.end();
    void link?.then((opened) => opened.client.end()).catch(() => undefined);
  };
  registry.add(end);
  const grace = setTimeout(end, LOGIN_GRACE_MS);
  grace.unref();

  const auth = createAuthenticator({
    keys: deps.keys,
    users: deps.users,
    passwordLogin: deps.passwordLogin,
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
    clearTimeout(grace);
    if (user === null) return end();
    const state: ConnectionState = {
      id,
      user,
      source,
      link: openLink(deps, user, login, { connectionId: id, source }),
      running,
      end,
    };
    link = state.link;
    state.link.then(
      (opened) => {
        opened.client.on('close', end);
        opened.client.on('error', (error: Error) => log.debug({ err: error }, 'target link error'));
      },
      (error: unknown) =>
        log.info({ why: (error as { why?: string }).why }, 'gateway session refused'),
    );
    void auditLogin(deps, state, login).catch((error: unknown) => {
      log.error({ err: error }, 'could not audit a gateway login; closing');
      end();
    });
    serveConnection(deps, client, state);
  });

  client.on('close', () => {
    clearTimeout(grace);
    registry.delete(end);
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

function serveConnection(deps: ConnectionDeps, client: Connection, state: ConnectionState): void {
  client.on('session', (accept) => {
    const session = accept();
    if (session !== undefined) serveSession(deps, state, session);
  });

  client.on('tcpip', (accept, reject, info) => {
    void forwardLocal(deps, state, info, accept, reject);
  });
  client.on('openssh.streamlocal', (_accept, reject, info) => {
    reject();
    void auditForward(
      deps,
      state,
      'socket-forwarding',
      { path: info.socketPath.slice(0, 300) },
      false,
    );
  });
  client.on('request', (accept, reject, name, info) => {
    if (name === 'tcpip-forward' && 'bindPort' in info) {
      void forwardRemote(deps, client, state, info, accept, reject);
      return;
    }
    if (name === 'cancel-tcpip-forward' && 'bindPort' in info) {
      void state.link
        .then((opened) => opened.client.unforwardIn(info.bindAddr, info.bindPort, () => accept?.()))
        .catch(() => reject?.());
      return;
    }
    reject?.();
  });
}

/** `ssh -L` and `ssh -W`: a TCP connection opened from the target, if the policy allows. */
async function forwardLocal(
  deps: ConnectionDeps,
  state: ConnectionState,
  info: { srcIP: string; srcPort: number; destIP: string; destPort: number },
  accept: () => ServerChannel,
  reject: () => void,
): Promise<void> {
  const link = await state.link.catch(() => null);
  const where = { host: info.destIP.slice(0, 255), port: info.destPort };
  const allowed = link?.policy.allowPortForwarding === true;
  const audited = await auditForward(deps, state, 'local-forwarding', where, allowed);
  if (link === null || !allowed || !audited) return reject();
  link.client.forwardOut(info.srcIP, info.srcPort, info.destIP, info.destPort, (error, remote) => {
    if (error !== undefined) return reject();
    const channel = accept();
    if (channel === undefined) return remote.close();
    splice(channel, remote);
  });
}

/** `ssh -R`: a port bound on the target whose connections come back to the user. */
async function forwardRemote(
  deps: ConnectionDeps,
  client: Connection,
  state: ConnectionState,
  info: { bindAddr: string; bindPort: number },
  accept: ((port?: number) => void) | undefined,
  reject: (() => void) | undefined,
): Promise<void> {
  const link = await state.link.catch(() => null);
  const where = { host: info.bindAddr.slice(0, 255), port: info.bindPort };
  const allowed = link?.policy.allowPortForwarding === true;
  const audited = await auditForward(deps, state, 'remote-forwarding', where, allowed);
  if (link === null || !allowed || !audited) return reject?.();
  if (link.client.listenerCount('tcp connection') === 0) {
    link.client.on('tcp connection', (details, acceptTarget, rejectTarget) => {
      client.forwardOut(
        details.destIP,
        details.destPort,
        details.srcIP,
        details.srcPort,
        (error, channel) => {
          if (error !== undefined) return rejectTarget();
          splice(channel, acceptTarget());
        },
      );
    });
  }
  link.client.forwardIn(info.bindAddr, info.bindPort, (error, port) => {
    if (error !== undefined) reject?.();
    else accept?.(port);
  });
}

function splice(
  a: NodeJS.ReadWriteStream & { on(e: 'error', l: () => void): unknown },
  b: typeof a,
): void {
  a.on('error', () => undefined);
  b.on('error', () => undefined);
  a.pipe(b).pipe(a);
}

/** Audits a forwarding attempt; false when that failed, so an allowed one is refused after all. */
async function auditForward(
  deps: ConnectionDeps,
  state: ConnectionState,
  feature: string,
  where: Record<string, string | number>,
  allowed: boolean,
): Promise<boolean> {
  const link = await state.link.catch(() => null);
  return deps.audit
    .record({
      action: allowed ? 'session.forward' : 'session.forward.refuse',
      outcome: allowed ? 'success' : 'denied',
      actor: { id: state.user.id, name: state.user.name },
      object: { type: 'account', id: link?.account.id ?? null, name: link?.account.ref ?? null },
      source: state.source,
      details: { feature, ...where, connection: state.id },
    })
    .then(
      () => true,
      (error: unknown) => {
        deps.logger.error({ err: error }, 'could not audit a forwarding request');
        return false;
      },
    );
}

async function auditLogin(
  deps: ConnectionDeps,
  state: ConnectionState,
  login: string,
): Promise<void> {
  // A password login was audited by the user service already.
  if (state.user.method !== 'publickey') return;
  await deps.audit.record({
    action: 'auth.ssh',
    outcome: 'success',
    actor: { id: state.user.id, name: state.user.name },
    object: { type: 'ssh-key', id: null, name: state.user.keyFingerprint },
    source: state.source,
    details: { login: login.slice(0, 300), connection: state.id },
  });
}
