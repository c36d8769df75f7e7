/**
 * The shapes of the session replies the Sessions screens read, as src/http/routes/
 * session-routes.ts declares them.
 */

/** GET /v1/sessions (each item) */
export interface SessionView {
  readonly id: string;
  readonly user: string;
  readonly account: string;
  readonly target: string;
  /** shell, exec or sftp */
  readonly kind: string;
  readonly command: string | null;
  readonly clientAddress: string | null;
  readonly width: number;
  readonly height: number;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly endReason: string | null;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly recorded: boolean;
  readonly recordingSha256: string | null;
  readonly droppedBytes: number;
  readonly state: string;
  /** The Tessera node whose gateway runs (or ran) the session. */
  readonly node: string;
  /** Running on the node that answered. */
  readonly here: boolean;
  /** Live, and can be watched through the node that answered: it runs it, or passes it on. */
  readonly watchable: boolean;
}

/** A kill: done at once on this node, or passed to the node that runs the session. */
export type KillAnswer =
  | { readonly killed: true }
  | { readonly killed: false; readonly requested: true; readonly node: string };

/** A command the user ran, with its moment in the recording. */
export interface SessionCommand {
  readonly offsetMs: number;
  readonly at: string;
  readonly command: string;
}

/** GET /v1/sessions/:id */
export interface SessionDetail extends SessionView {
  readonly commands: readonly SessionCommand[];
}

/** The text frames of the watch WebSocket (GET /v1/sessions/:id/watch). */
export type WatchMessage =
  | {
      readonly type: 'hello';
      readonly session: string;
      readonly user: string;
      readonly cols: number;
      readonly rows: number;
    }
  | { readonly type: 'resize'; readonly cols: number; readonly rows: number }
  | { readonly type: 'end'; readonly reason: string };

/** Where a terminal's connection stands, as its status line says it. */
export type LinkState =
  | { readonly phase: 'connecting' }
  | { readonly phase: 'open' }
  | { readonly phase: 'ended'; readonly reason: string };
