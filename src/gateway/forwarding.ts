import type { Connection, ServerChannel } from 'ssh2';
import type { ConnectionDeps } from './connection.ts';
import type { ConnectionState } from './connection-state.ts';

/**
 * Forwarding on a connection: `ssh -L`/`-W` and `ssh -R` as the policy allows, socket forwarding
 * never. Every attempt is audited, and each checks first that the user may still use the account.
 */
export function serveForwarding(
  deps: ConnectionDeps,
  client: Connection,
  state: ConnectionState,
): void {
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
  if (link === null || !(await stillAllowed(deps, state))) return reject();
  const where = { host: info.destIP.slice(0, 255), port: info.destPort };
  const allowed = link.policy.allowPortForwarding;
  const audited = await auditForward(deps, state, 'local-forwarding', where, allowed);
  if (!allowed || !audited) return reject();
  link.client.forwardOut(info.srcIP, info.srcPort, info.destIP, info.destPort, (error, remote) => {
    if (error !== undefined) return reject();
    const channel = accept();
    if (channel === undefined) return remote.close();
    channel.once(
      'close',
      state.channelOpened(() => channel.close()),
    );
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
  if (link === null || !(await stillAllowed(deps, state))) return reject?.();
  const where = { host: info.bindAddr.slice(0, 255), port: info.bindPort };
  const allowed = link.policy.allowPortForwarding;
  const audited = await auditForward(deps, state, 'remote-forwarding', where, allowed);
  if (!allowed || !audited) return reject?.();
  if (link.client.listenerCount('tcp connection') === 0) {
    link.client.on('tcp connection', (details, acceptTarget, rejectTarget) => {
      void stillAllowed(deps, state).then((yes) => {
        if (!yes) return rejectTarget();
        client.forwardOut(
          details.destIP,
          details.destPort,
          details.srcIP,
          details.srcPort,
          (error, channel) => {
            if (error !== undefined) return rejectTarget();
            channel.once(
              'close',
              state.channelOpened(() => channel.close()),
            );
            splice(channel, acceptTarget());
          },
        );
      });
    });
  }
  link.client.forwardIn(info.bindAddr, info.bindPort, (error, port) => {
    if (error !== undefined) reject?.();
    else accept?.(port);
  });
}

/** Whether the connection may still use its account; a check that fails counts as no. */
export async function stillAllowed(deps: ConnectionDeps, state: ConnectionState): Promise<boolean> {
  try {
    return (await state.recheck(false)) === null;
  } catch (error) {
    deps.logger.error({ err: error, connection: state.id }, 'could not re-check a connection');
    return false;
  }
}

/** Passes two channels' data both ways, each with the other's flow control. */
export function splice(
  a: NodeJS.ReadWriteStream & { on(e: 'error', l: () => void): unknown },
  b: typeof a,
): void {
  a.on('error', () => undefined);
  b.on('error', () => undefined);
  a.pipe(b).pipe(a);
}

/** Audits a forwarding attempt; false when that failed, so an allowed one is refused after all. */
function auditForward(
  deps: ConnectionDeps,
  state: ConnectionState,
  feature: string,
  where: Record<string, string | number>,
  allowed: boolean,
): Promise<boolean> {
  const action = allowed ? 'session.forward' : 'session.forward.refuse';
  return auditForwardEvent(deps, state, action, { feature, ...where }, allowed);
}

/**
 * Audits a forwarding event of the connection, about its account; false when that failed, so
 * the caller refuses what it was about to allow.
 */
export async function auditForwardEvent(
  deps: Pick<ConnectionDeps, 'audit' | 'logger'>,
  state: ConnectionState,
  action: string,
  details: Record<string, string | number>,
  allowed: boolean,
): Promise<boolean> {
  // The decision names the account before the target is reached, and whether it is reached.
  const decided = await state.decision.catch(() => null);
  const account = decided?.account ?? null;
  return deps.audit
    .record({
      action,
      outcome: allowed ? 'success' : 'denied',
      actor: { id: state.user.id, name: state.user.name },
      object: { type: 'account', id: account?.id ?? null, name: account?.ref ?? null },
      source: state.source,
      details: { ...details, connection: state.id },
    })
    .then(
      () => true,
      (error: unknown) => {
        deps.logger.error({ err: error }, 'could not audit a forwarding request');
        return false;
      },
    );
}
