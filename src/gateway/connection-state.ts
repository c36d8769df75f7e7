import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Clock } from '../clock.ts';
import type { GatewayUser } from './authenticate.ts';
import type { CommandTrackers } from './commands.ts';
import type { Link } from './link.ts';
import type { LiveSessions } from './live-sessions.ts';
import type { Recordings } from './recording.ts';
import type { SessionStore } from './session-store.ts';

/** What every session of the gateway needs. */
export interface SessionDeps {
  readonly audit: AuditLog;
  readonly sessions: SessionStore;
  readonly live: LiveSessions;
  readonly recordings: Recordings;
  readonly commands: CommandTrackers;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly nodeId: string;
}

/** A session under way, as its channel's later requests reach it. */
export interface SessionRun {
  readonly id: string;
  resize(cols: number, rows: number, width: number, height: number): void;
  signal(name: string): void;
  /**
   * Ends the session now, tells the user why, and closes the whole connection: a session that
   * was killed or timed out must not be followed by a new one on the same authorisation.
   */
  terminate(userMessage: string, reason: string): void;
  /** Ends the session because its connection is gone. */
  abandon(reason: string): void;
}

/** One authenticated user connection, as its session channels see it. */
export interface ConnectionState {
  readonly id: string;
  readonly user: GatewayUser;
  readonly source: string | null;
  /** Settles once the target is reached, or rejects with a GatewayRefusal. */
  readonly link: Promise<Link>;
  readonly running: Set<SessionRun>;
  /** Closes the user's connection and its link to the target. */
  end(): void;
}

/** The screen size of a session without a PTY, as recordings and watchers see it. */
export const DEFAULT_SIZE = { cols: 80, rows: 24 } as const;
