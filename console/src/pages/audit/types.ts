/**
 * The audit API's replies as src/http/routes/audit-routes.ts declares them. Every field of an
 * event is listed: the export writes what the server sent, field by field.
 */

export type AuditOutcome = 'success' | 'failure' | 'denied';

/** GET /v1/audit/events: one event of the hash chain. */
export interface AuditEvent {
  readonly seq: number;
  readonly id: string;
  readonly at: string;
  readonly actor: string | null;
  readonly actorId: string | null;
  readonly action: string;
  readonly objectType: string | null;
  readonly object: string | null;
  readonly outcome: string;
  readonly source: string | null;
  readonly reason: string | null;
  readonly requestId: string | null;
  readonly details: Readonly<Record<string, unknown>> | null;
  readonly hash: string;
}

/** GET /v1/audit/events: a page, and the `after` of the next one (null: this was the last). */
export interface AuditPage {
  readonly events: readonly AuditEvent[];
  readonly next: number | null;
}

export type ChainProblem =
  | 'altered'
  | 'missing'
  | 'reordered'
  | 'checkpoint-mismatch'
  | 'checkpoint-signature'
  | 'truncated'
  | 'anchor-mismatch';

/** POST /v1/audit/verify */
export interface ChainReport {
  readonly ok: boolean;
  readonly events: number;
  readonly checkpoints: number;
  readonly lastSeq: number;
  readonly lastCheckpoint: { readonly seq: number; readonly hash: string } | null;
  /** Events after the newest signed checkpoint. */
  readonly unsigned: number;
  readonly firstBad: { readonly seq: number; readonly problem: string } | null;
}

/**
 * What the search form asks for. Every field but `outcome` is a query parameter of
 * GET /v1/audit/events; the API has no outcome filter, so that one narrows the loaded events.
 */
export interface AuditFilter {
  readonly actor: string;
  /** A prefix: `safe.` finds safe.create and safe.member.add. */
  readonly action: string;
  readonly object: string;
  readonly outcome: '' | AuditOutcome;
  /** datetime-local values, in the reader's time zone; empty: no bound. */
  readonly since: string;
  readonly until: string;
  readonly limit: number;
}
