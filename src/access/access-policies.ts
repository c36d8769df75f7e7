import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RequestContext } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import { notFound, TesseraError } from '../errors.ts';
import { canonicalTimeZone } from '../rotation/schedule.ts';
import type { AccessPolicyTable } from '../store/schema.ts';
import type { Queryable, Store } from '../store/store.ts';
import { type AccessWindow, isTimeOfDay, isWeekday, type Weekday } from './access-window.ts';
import { type GrantablePermission, isGrantablePermission } from './permissions.ts';

/**
 * What it takes to use a safe's or an account's secrets: which permissions wait for approval,
 * by how many people of which group, what a request must carry, how long a grant may last and
 * when access is possible at all. An account's own policy wins over its safe's; with neither,
 * nothing waits for approval and requests still follow the defaults below.
 */
export interface AccessPolicy {
  /** Null for the defaults that apply where no policy was set. */
  readonly id: string | null;
  readonly safeId: string | null;
  readonly accountId: string | null;
  readonly approvalFor: readonly GrantablePermission[];
  /** 0 approves every valid request at once (still time-bound and audited). */
  readonly approvalsRequired: number;
  readonly approverGroupId: string | null;
  readonly escalateAfterS: number | null;
  readonly escalationGroupId: string | null;
  /** An unanswered request expires after this long. */
  readonly requestTtlS: number;
  readonly requireReason: boolean;
  readonly requireTicket: boolean;
  readonly ticketPattern: string | null;
  readonly ticketValidatorUrl: string | null;
  readonly maxDurationS: number;
  readonly window: AccessWindow | null;
  readonly breakglassWindowS: number;
  /** Whether an ephemeral account's password is shown once to the requester. */
  readonly ephemeralReveal: boolean;
  readonly updatedAt: number | null;
  readonly updatedBy: string | null;
}

export type AccessPolicySettings = Omit<
  AccessPolicy,
  'id' | 'safeId' | 'accountId' | 'updatedAt' | 'updatedBy'
>;

export const DEFAULT_ACCESS_POLICY: AccessPolicy = {
  id: null,
  safeId: null,
  accountId: null,
  approvalFor: [],
  approvalsRequired: 1,
  approverGroupId: null,
  escalateAfterS: null,
  escalationGroupId: null,
  requestTtlS: 24 * 3600,
  requireReason: true,
  requireTicket: false,
  ticketPattern: null,
  ticketValidatorUrl: null,
  maxDurationS: 8 * 3600,
  window: null,
  breakglassWindowS: 3600,
  ephemeralReveal: true,
  updatedAt: null,
  updatedBy: null,
};

export type PolicyScope = { readonly safeId: string } | { readonly accountId: string };

export interface AccessPolicyService {
  /** The policy in force for an account (its own, else its safe's), or for a whole safe. */
  effective(safeId: string, accountId: string | null, db?: Queryable): Promise<AccessPolicy>;
  /** The policy set exactly at this scope, or null. */
  at(scope: PolicyScope): Promise<AccessPolicy | null>;
  set(
    ctx: RequestContext,
    scope: PolicyScope & { readonly label: string },
    settings: AccessPolicySettings,
  ): Promise<AccessPolicy>;
  remove(ctx: RequestContext, scope: PolicyScope & { readonly label: string }): Promise<void>;
}

export function createAccessPolicyService(deps: {
  store: Store;
  audit: AuditLog;
  clock: Clock;
}): AccessPolicyService {
  const { store, audit, clock } = deps;

  const rowAt = (db: Queryable, scope: PolicyScope) =>
    db
      .selectFrom('access_policies')
      .selectAll()
      .where(
        'safeId' in scope ? 'safe_id' : 'account_id',
        '=',
        'safeId' in scope ? scope.safeId : scope.accountId,
      )
      .executeTakeFirst();

  const checkGroups = async (settings: AccessPolicySettings) => {
    for (const id of [settings.approverGroupId, settings.escalationGroupId]) {
      if (id === null) continue;
      const found = await store.db
        .selectFrom('groups')
        .select('id')
        .where('id', '=', id)
        .executeTakeFirst();
      if (found === undefined) throw notFound('group');
    }
  };

  return {
    async effective(safeId, accountId, db = store.db) {
      if (accountId !== null) {
        const own = await rowAt(db, { accountId });
        if (own !== undefined) return toPolicy(own);
      }
      const ofSafe = await rowAt(db, { safeId });
      return ofSafe === undefined ? { ...DEFAULT_ACCESS_POLICY, safeId } : toPolicy(ofSafe);
    },

    async at(scope) {
      const row = await rowAt(store.db, scope);
      return row === undefined ? null : toPolicy(row);
    },

    async set(ctx, scope, asked) {
      validateSettings(asked);
      // Zones are stored by their canonical name: `europe/berlin` is kept as Europe/Berlin.
      const settings: AccessPolicySettings =
        asked.window === null
          ? asked
          : {
              ...asked,
              window: {
                ...asked.window,
                timeZone: canonicalTimeZone(asked.window.timeZone) ?? asked.window.timeZone,
              },
            };
      await checkGroups(settings);
      const now = clock.now();
      const values = toRow(settings, now, ctx.actor.name ?? 'tessera');
      await store.transaction(async (trx) => {
        const existing = await rowAt(trx, scope);
        if (existing === undefined) {
          await trx
            .insertInto('access_policies')
            .values({
              id: randomUUID(),
              safe_id: 'safeId' in scope ? scope.safeId : null,
              account_id: 'accountId' in scope ? scope.accountId : null,
              ...values,
            })
            .execute();
        } else {
          await trx
            .updateTable('access_policies')
            .set(values)
            .where('id', '=', existing.id)
            .execute();
        }
        await audit.appendInTx(trx, [
          {
            action: 'access-policy.set',
            outcome: 'success',
            actor: ctx.actor,
            object: scopeObject(scope),
            source: ctx.source,
            requestId: ctx.requestId,
            details: {
              approvalFor: settings.approvalFor.join(','),
              approvalsRequired: settings.approvalsRequired,
              requireTicket: settings.requireTicket,
              maxDurationS: settings.maxDurationS,
              window: settings.window === null ? null : windowText(settings.window),
            },
          },
        ]);
      });
      await store.durable();
      const stored = await rowAt(store.db, scope);
      if (stored === undefined) throw new TesseraError('INTERNAL', 'access policy not stored');
      return toPolicy(stored);
    },

    async remove(ctx, scope) {
      await store.transaction(async (trx) => {
        const existing = await rowAt(trx, scope);
        if (existing === undefined) throw notFound('access policy');
        await trx.deleteFrom('access_policies').where('id', '=', existing.id).execute();
        await audit.appendInTx(trx, [
          {
            action: 'access-policy.remove',
            outcome: 'success',
            actor: ctx.actor,
            object: scopeObject(scope),
            source: ctx.source,
            requestId: ctx.requestId,
          },
        ]);
      });
      await store.durable();
    },
  };
}

/** Rules a schema cannot state alone: names the zone database knows, groups that differ. */
function validateSettings(settings: AccessPolicySettings): void {
  const window = settings.window;
  if (window !== null) {
    if (canonicalTimeZone(window.timeZone) === null) {
      throw new TesseraError('VALIDATION_FAILED', `unknown time zone: ${window.timeZone}`);
    }
    if (window.start === window.end) {
      throw new TesseraError('VALIDATION_FAILED', 'an access window cannot start when it ends');
    }
  }
  if (settings.escalationGroupId !== null && settings.escalateAfterS === null) {
    throw new TesseraError('VALIDATION_FAILED', 'an escalation group needs escalateAfterS');
  }
  if (settings.escalateAfterS !== null && settings.escalateAfterS >= settings.requestTtlS) {
    throw new TesseraError(
      'VALIDATION_FAILED',
      'escalateAfterS must be shorter than requestTtlS, or the request expires first',
    );
  }
}

function scopeObject(scope: PolicyScope & { readonly label: string }) {
  return 'safeId' in scope
    ? { type: 'safe', id: scope.safeId, name: scope.label }
    : { type: 'account', id: scope.accountId, name: scope.label };
}

function windowText(window: AccessWindow): string {
  return `${window.days.join(',')} ${window.start}-${window.end} ${window.timeZone}`;
}

function toRow(settings: AccessPolicySettings, now: number, by: string) {
  const window = settings.window;
  return {
    approval_for: settings.approvalFor.join(','),
    approvals_required: settings.approvalsRequired,
    approver_group_id: settings.approverGroupId,
    escalate_after_s: settings.escalateAfterS,
    escalation_group_id: settings.escalationGroupId,
    request_ttl_s: settings.requestTtlS,
    require_reason: settings.requireReason ? 1 : 0,
    require_ticket: settings.requireTicket ? 1 : 0,
    ticket_pattern: settings.ticketPattern,
    ticket_validator_url: settings.ticketValidatorUrl,
    max_duration_s: settings.maxDurationS,
    window_days: window === null ? null : window.days.join(','),
    window_start: window?.start ?? null,
    window_end: window?.end ?? null,
    window_time_zone: window?.timeZone ?? null,
    breakglass_window_s: settings.breakglassWindowS,
    ephemeral_reveal: settings.ephemeralReveal ? 1 : 0,
    updated_at: now,
    updated_by: by,
  };
}

function toPolicy(row: AccessPolicyTable): AccessPolicy {
  return {
    id: row.id,
    safeId: row.safe_id,
    accountId: row.account_id,
    approvalFor: row.approval_for.split(',').filter(isGrantablePermission),
    approvalsRequired: row.approvals_required,
    approverGroupId: row.approver_group_id,
    escalateAfterS: row.escalate_after_s,
    escalationGroupId: row.escalation_group_id,
    requestTtlS: row.request_ttl_s,
    requireReason: row.require_reason !== 0,
    requireTicket: row.require_ticket !== 0,
    ticketPattern: row.ticket_pattern,
    ticketValidatorUrl: row.ticket_validator_url,
    maxDurationS: row.max_duration_s,
    window: windowOf(row),
    breakglassWindowS: row.breakglass_window_s,
    ephemeralReveal: row.ephemeral_reveal !== 0,
    updatedAt: row.updated_at,
    updatedBy: row.updated_by,
  };
}

function windowOf(row: AccessPolicyTable): AccessWindow | null {
  const { window_days, window_start, window_end, window_time_zone } = row;
  if (window_days === null) return null;
  const days = window_days.split(',').filter(isWeekday) as Weekday[];
  const start = window_start ?? '';
  const end = window_end ?? '';
  if (window_time_zone === null || !isTimeOfDay(start) || !isTimeOfDay(end)) {
    // A window that cannot be read is closed, never open: default deny.
    return { days: [], start: '00:00', end: '00:01', timeZone: 'UTC' };
  }
  return { days, start, end, timeZone: window_time_zone };
}
