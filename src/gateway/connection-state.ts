import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Clock } from '../clock.ts';
import type { AgentRelay } from './agent-forwarding.ts';
import type { GatewayUser } from './authenticate.ts';
import type { CommandTrackers } from './commands.ts';
import type { Link, LinkDecision } from './link.ts';
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
  /**
   * Told of each session's ending (its recording closed, its row and event written), so that a
   * stopping gateway waits for them before the store closes.
   */
  readonly ending?: (work: Promise<unknown>) => void;
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
  /**
   * Settles once the user's access to the account is decided, before the target is reached; or
   * rejects with the link's GatewayRefusal when it is refused before that.
   */
  readonly decision: Promise<LinkDecision>;
  /** Settles once the target is reached, or rejects with a GatewayRefusal. */
  readonly link: Promise<Link>;
  readonly running: Set<SessionRun>;
  /** Where the target's agent connections go, once a session is granted agent forwarding. */
  readonly agent: AgentRelay;
  /** Closes the user's connection and its link to the target. */
  end(): void;
  /**
   * Checks again, as a channel opens, that the user may still use the account. When not, the
   * whole connection is being ended and the ending is returned: with `goodbye`, the caller tells
   * it on the channel it holds, which closes the connection once that channel is closed.
   */
  recheck(goodbye: boolean): Promise<ConnectionEnding | null>;
  /** Counts a channel as open (the connection is not idle); the returned function closes it. */
  channelOpened(close: () => void): () => void;
}

/** Why a whole connection ends: what its user reads, and the code on the record. */
export interface ConnectionEnding {
  /** The stable code for the audit trail: `user-disabled`, `vault-sealed`, `idle`… */
  readonly why: string;
  /** What the user's terminals show, without the `tessera: ` prefix. */
  readonly message: string;
  readonly outcome: 'success' | 'denied';
  /** Whether the end is an audit event (not when the server stops: the trail closes too). */
  readonly audited: boolean;
}

/** The line each of the connection's terminals shows as it ends. */
export function endingText(ending: ConnectionEnding): string {
  return `\r\ntessera: ${ending.message}, so the connection has ended\r\n`;
}

/** The screen size of a session without a PTY, as recordings and watchers see it. */
export const DEFAULT_SIZE = { cols: 80, rows: 24 } as const;
