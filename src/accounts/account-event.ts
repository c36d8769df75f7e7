import type { AuditEventInput, RequestContext } from '../audit/event.ts';
import type { Account } from './account.ts';

/** The audit event of an action on an account, built field by field. */
export function accountEvent(
  ctx: RequestContext,
  account: Account,
  action: string,
  outcome: AuditEventInput['outcome'],
  extra: { reason?: string | null; details?: AuditEventInput['details'] } = {},
): AuditEventInput {
  return {
    action,
    outcome,
    actor: ctx.actor,
    object: { type: 'account', id: account.id, name: account.ref },
    source: ctx.source,
    requestId: ctx.requestId,
    reason: extra.reason ?? null,
    details: extra.details,
  };
}

/** The columns that end a check-out; with `rotate`, the account waits for a verified rotation. */
export function checkedInColumns(rotate: boolean) {
  return {
    checkout_id: null,
    checked_out_by: null,
    checked_out_at: null,
    checkout_expires_at: null,
    ...(rotate ? { needs_rotation: 1 } : {}),
  };
}
