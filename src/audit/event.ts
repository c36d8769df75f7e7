/** What happened, to what, by whom and with which outcome: the facts of one audit event. */
export type AuditOutcome = 'success' | 'failure' | 'denied';

export type AuditDetailValue = string | number | boolean | null;

export interface AuditActor {
  readonly id: string | null;
  readonly name: string | null;
}

export interface AuditObject {
  readonly type: string;
  readonly id: string | null;
  readonly name: string | null;
}

/**
 * An event as a service states it. Built field by field at each call site, never by spreading a
 * request body, and never holding a secret: details take only named scalar facts.
 */
export interface AuditEventInput {
  readonly action: string;
  readonly outcome: AuditOutcome;
  readonly actor: AuditActor | null;
  readonly object?: AuditObject | undefined;
  readonly source?: string | null | undefined;
  readonly reason?: string | null | undefined;
  readonly requestId?: string | null | undefined;
  readonly details?: Readonly<Record<string, AuditDetailValue>> | undefined;
}

/** Where a request came from and who made it: passed from the edge to every service call. */
export interface RequestContext {
  readonly actor: AuditActor;
  readonly source: string | null;
  readonly requestId: string | null;
}

/** The context of work Tessera does on its own (scheduler, recovery, expiry). */
export const SYSTEM_CONTEXT: RequestContext = {
  actor: { id: null, name: 'tessera' },
  source: null,
  requestId: null,
};
