import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { LiveSessions } from './live-sessions.ts';
import type { SessionStore } from './session-store.ts';

/** A kill asked through another node reaches the session within about this long. */
export const KILL_POLL_INTERVAL_MS = 1_000;

export interface KillRequestDeps {
  readonly gateway: {
    readonly sessions: Pick<SessionStore, 'pendingKills' | 'killsDone'>;
    readonly liveSessions: Pick<LiveSessions, 'get' | 'list'>;
  };
  readonly clock: Clock;
  readonly logger: Logger;
  /** This node: the kills stored for it are the ones it carries out. */
  readonly nodeId: string;
}

/**
 * Carries out the kills other nodes stored for the sessions this node runs: one indexed query a
 * tick while any session is live here, none otherwise. A session killed this way ends as a kill
 * asked here does: its user reads the reason, its row and end event keep it. A request for a
 * session that ended meanwhile is only marked done. Returns the function that stops it.
 */
export function watchKillRequests(
  deps: KillRequestDeps,
  intervalMs: number = KILL_POLL_INTERVAL_MS,
): () => void {
  // Killed, but not yet out of the registry: a failed mark must not kill twice.
  const killed = new Set<string>();
  let busy = false;

  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void carryOut(deps, killed)
      .catch((error: unknown) => deps.logger.warn({ err: error }, 'could not read kill requests'))
      .finally(() => {
        busy = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

async function carryOut(deps: KillRequestDeps, killed: Set<string>): Promise<void> {
  const { sessions, liveSessions: live } = deps.gateway;
  for (const id of killed) if (live.get(id) === undefined) killed.delete(id);
  if (live.list().length === 0) return;

  const done: string[] = [];
  let carried = 0;
  for (const request of await sessions.pendingKills(deps.nodeId)) {
    const session = live.get(request.sessionId);
    if (session !== undefined) {
      if (!killed.has(request.sessionId)) {
        session.kill(request.reason);
        killed.add(request.sessionId);
        carried += 1;
      }
      done.push(request.sessionId);
    } else if (!request.live) {
      done.push(request.sessionId);
    }
    // Live by its row but not here yet (still opening) or any more (its end being written):
    // the next tick looks again.
  }
  if (carried > 0) deps.logger.info({ sessions: carried }, 'killed sessions as another node asked');
  if (done.length > 0) await sessions.killsDone(done, deps.clock.now());
}
