import type { Logger } from 'pino';
import type { Connection } from 'ssh2';
import { AgentRelay } from './agent-forwarding.ts';
import type { GatewayUser } from './authenticate.ts';
import { lostAccessEnding, recheckAccess } from './connect-check.ts';
import type { ConnectionDeps } from './connection.ts';
import {
  type ConnectionEnding,
  type ConnectionState,
  endingText,
  type SessionRun,
} from './connection-state.ts';
import { type Link, type LinkDecision, openLink } from './link.ts';

/** How long an ending connection waits for its terminals to take the last words. */
const GOODBYE_MS = 3_000;

/**
 * An authenticated connection: opens the link, joins the live connections, and keeps the
 * connection's own limits. Access was decided as the link opened; it is decided again as each
 * channel opens, at every periodic re-check and when a change to the user, their keys or their
 * safes is made on this node. A connection whose right is gone ends, sessions and all.
 */
export function authorise(
  deps: ConnectionDeps,
  client: Connection,
  base: {
    id: string;
    user: GatewayUser;
    source: string | null;
    login: string;
    log: Logger;
    running: Set<SessionRun>;
    end: () => void;
  },
): ConnectionState {
  const { id, user, source, login, log, running, end } = base;
  let linked: Link | null = null;
  let ending: ConnectionEnding | null = null;
  let channels = 0;
  const closers = new Set<() => void>();
  const timers: NodeJS.Timeout[] = [];
  let idle: NodeJS.Timeout | null = null;

  const finish = (chosen: ConnectionEnding, goodbye: boolean) => {
    if (ending !== null) return;
    ending = chosen;
    if (idle !== null) clearTimeout(idle);
    const runs = [...running];
    if (chosen.audited) {
      void auditEnding(deps, state, linked, chosen, runs.length).catch((error: unknown) =>
        log.error({ err: error }, 'could not audit the end of a gateway connection'),
      );
    }
    log.info({ why: chosen.why, sessions: runs.length }, 'gateway connection ended');
    for (const run of runs) run.terminate(endingText(chosen), `connection ended: ${chosen.why}`);
    for (const close of [...closers]) close();
    if (runs.length === 0 && !goodbye) return end();
    // Each terminated session closes the connection once its user has the message; this is
    // the backstop for a client that never closes its side.
    setTimeout(end, GOODBYE_MS).unref();
  };

  const armIdle = () => {
    if (idle !== null) clearTimeout(idle);
    idle = null;
    if (channels > 0 || ending !== null) return;
    const seconds = linked?.policy.idleTimeoutS ?? null;
    const limitMs = seconds === null ? deps.limits.idleMs : seconds * 1000;
    const message = `no session was open for ${Math.round(limitMs / 1000)} s`;
    idle = setTimeout(
      () => finish({ why: 'idle', message, outcome: 'success', audited: true }, false),
      limitMs,
    );
    idle.unref();
  };

  const recheck = async (goodbye: boolean): Promise<ConnectionEnding | null> => {
    if (ending !== null) return ending;
    const opened = await state.link.catch(() => null);
    if (opened === null) return null;
    const lost = await recheckAccess(deps, user, opened.account, id);
    if (ending !== null) return ending;
    if (lost === null) return null;
    const chosen = lostAccessEnding(lost);
    finish(chosen, goodbye);
    return chosen;
  };

  const agent = new AgentRelay();
  const decision = Promise.withResolvers<LinkDecision>();
  decision.promise.catch(() => undefined); // a refusal is the link's too, and handled there
  const link = openLink(deps, user, login, {
    connectionId: id,
    source,
    agent,
    decided: decision.resolve,
  });
  // Refused before the decision, the decision is refused; after it, this changes nothing.
  link.catch(decision.reject);
  const state: ConnectionState = {
    id,
    user,
    source,
    decision: decision.promise,
    link,
    running,
    agent,
    end,
    recheck,
    channelOpened(close) {
      channels += 1;
      closers.add(close);
      armIdle();
      let open = true;
      return () => {
        if (!open) return;
        open = false;
        channels -= 1;
        closers.delete(close);
        armIdle();
      };
    },
  };

  state.link.then(
    (opened) => {
      linked = opened;
      opened.client.on('close', end);
      opened.client.on('error', (error: Error) => log.debug({ err: error }, 'target link error'));
      const limit = opened.policy.maxSessionS;
      if (limit !== null) {
        const message = `the session reached its limit of ${limit} s`;
        const ended = {
          why: 'maximum-length',
          message,
          outcome: 'success',
          audited: true,
        } as const;
        timers.push(setTimeout(() => finish(ended, false), limit * 1000));
      }
      armIdle();
    },
    (error: unknown) =>
      log.info({ why: (error as { why?: string }).why }, 'gateway session refused'),
  );
  void auditLogin(deps, state, login).catch((error: unknown) => {
    log.error({ err: error }, 'could not audit a gateway login; closing');
    end();
  });

  const remove = deps.connections.add({
    info: {
      id,
      userId: user.id,
      user: user.name,
      source,
      login: login.slice(0, 300),
      startedAt: deps.clock.now(),
    },
    sessions: () => running.size,
    // A connection still reaching its target is checked as its first channel opens.
    recheck: async () => {
      if (linked !== null) await recheck(false);
    },
    end: (chosen) => finish(chosen, false),
  });
  client.once('close', () => {
    remove();
    if (idle !== null) clearTimeout(idle);
    for (const timer of timers) clearTimeout(timer);
  });
  armIdle();
  return state;
}

/** Audits that a connection was ended whole, and why. */
async function auditEnding(
  deps: ConnectionDeps,
  state: ConnectionState,
  link: Link | null,
  ending: ConnectionEnding,
  sessions: number,
): Promise<void> {
  await deps.audit.record({
    action: 'gateway.connection.end',
    outcome: ending.outcome,
    actor: { id: state.user.id, name: state.user.name },
    object: { type: 'account', id: link?.account.id ?? null, name: link?.account.ref ?? null },
    source: state.source,
    details: { why: ending.why, connection: state.id, sessions },
  });
}

async function auditLogin(
  deps: ConnectionDeps,
  state: ConnectionState,
  login: string,
): Promise<void> {
  // A password login was audited by the user service already.
  if (state.user.method === 'password') return;
  const object =
    state.user.method === 'publickey'
      ? { type: 'ssh-key', id: null, name: state.user.keyFingerprint }
      : { type: 'console-ticket', id: null, name: null };
  await deps.audit.record({
    action: 'auth.ssh',
    outcome: 'success',
    actor: { id: state.user.id, name: state.user.name },
    object,
    source: state.source,
    details: { login: login.slice(0, 300), connection: state.id },
  });
}
