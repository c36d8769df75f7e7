import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.ts';
import { type AuditEventInput, type RequestContext, SYSTEM_CONTEXT } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import { isTesseraError, notFound, TesseraError } from '../errors.ts';
import type { Principal } from '../identity/principal.ts';
import type { Notifier } from '../integrations/notifier.ts';
import type { AccessRequestTable, RequestApprovalTable } from '../store/schema.ts';
import type { Queryable, Store, Tx } from '../store/store.ts';
import type { AccessDecision } from './access-decision.ts';
import type { AccessPolicy, AccessPolicyService } from './access-policies.ts';
import type { GrantKind, GrantService } from './grants.ts';
import type { GroupService } from './groups.ts';
import {
  type GrantablePermission,
  isGrantablePermission,
  parsePermissions,
} from './permissions.ts';

export const REQUEST_STATUSES = ['pending', 'approved', 'denied', 'cancelled', 'expired'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];
export type RequestScope = 'account' | 'safe' | 'ephemeral';

export interface RequestDecision {
  readonly approver: string;
  readonly decision: 'approve' | 'deny';
  readonly comment: string;
  readonly at: number;
}

export interface AccessRequest {
  readonly id: string;
  readonly requester: string;
  readonly requesterId: string;
  readonly scope: RequestScope;
  readonly safeId: string;
  readonly safe: string;
  readonly accountId: string | null;
  /** "target/username" of the account asked for (the admin account for an ephemeral one). */
  readonly account: string | null;
  readonly targetId: string | null;
  readonly target: string | null;
  readonly role: string | null;
  readonly permissions: readonly GrantablePermission[];
  readonly durationS: number;
  readonly reason: string;
  readonly ticket: string | null;
  readonly status: RequestStatus;
  readonly approvalsRequired: number;
  readonly decisions: readonly RequestDecision[];
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly escalatedAt: number | null;
  readonly decidedAt: number | null;
  readonly decidedBy: string | null;
  readonly comment: string | null;
  readonly grantId: string | null;
}

export interface CreateRequestInput {
  readonly account?: { target: string; username: string } | undefined;
  readonly safe?: string | undefined;
  readonly ephemeral?: { target: string; role: string } | undefined;
  readonly permissions?: readonly GrantablePermission[] | undefined;
  readonly durationS: number;
  readonly reason: string;
  readonly ticket?: string | undefined;
}

export interface RequestFilter {
  readonly mine?: boolean;
  readonly pendingForMe?: boolean;
  readonly status?: RequestStatus;
}

export interface RequestService {
  create(
    ctx: RequestContext,
    principal: Principal,
    input: CreateRequestInput,
  ): Promise<AccessRequest>;
  list(principal: Principal, filter: RequestFilter): Promise<AccessRequest[]>;
  get(principal: Principal, id: string): Promise<AccessRequest>;
  approve(
    ctx: RequestContext,
    principal: Principal,
    id: string,
    comment: string,
  ): Promise<AccessRequest>;
  deny(
    ctx: RequestContext,
    principal: Principal,
    id: string,
    reason: string,
  ): Promise<AccessRequest>;
  cancel(ctx: RequestContext, principal: Principal, id: string): Promise<AccessRequest>;
  /** Expires unanswered requests and escalates slow ones; returns how many changed. */
  sweep(): Promise<number>;
}

/** How a grant for an ephemeral account is given its account on the target. */
export interface EphemeralProvisioner {
  provision(
    ctx: RequestContext,
    grant: { id: string; userId: string; targetId: string; role: string; endsAt: number },
  ): Promise<unknown>;
}

export interface TicketCheck {
  /** Whether the ticket reference matches the policy's pattern as a whole. */
  matches(pattern: string, ticket: string): boolean;
  /** Asks the ticketing system; throws TICKET_SYSTEM_UNAVAILABLE when it cannot answer. */
  validate(input: {
    url: string;
    ticket: string;
    requester: string;
    safe: string;
    account: string | null;
  }): Promise<{ valid: boolean; detail: string | null }>;
}

const MIN_DURATION_S = 60;

interface Resolved {
  readonly scope: RequestScope;
  /** For an ephemeral account: the roles its target offers. */
  readonly offeredRoles?: readonly string[];
  readonly safeId: string;
  readonly safeName: string;
  readonly accountId: string | null;
  readonly accountRef: string | null;
  readonly targetId: string | null;
  readonly role: string | null;
}

/**
 * Access requests and their answers. A request moves pending → approved | denied | cancelled |
 * expired, each step one conditional UPDATE and one audit event in the same transaction. An
 * approver holds `approve` on the safe, belongs to the policy's approver group (or, once the
 * request escalated, to its escalation group) and is never the requester's person: two logins
 * linked as one person are one approver, and one person's approvals count once.
 */
export function createRequestService(deps: {
  store: Store;
  audit: AuditLog;
  clock: Clock;
  logger: Logger;
  access: Pick<AccessDecision, 'require' | 'permissionsIn'>;
  policies: Pick<AccessPolicyService, 'effective'>;
  grants: Pick<GrantService, 'createInTx'>;
  groups: Pick<GroupService, 'isMember' | 'personOf'>;
  notifier: Notifier;
  tickets: TicketCheck;
  ephemeral: () => EphemeralProvisioner | null;
}): RequestService {
  const { store, audit, clock, logger, access, policies, groups } = deps;

  const query = (db: Queryable) =>
    db
      .selectFrom('access_requests')
      .innerJoin('users', 'users.id', 'access_requests.requester_id')
      .innerJoin('safes', 'safes.id', 'access_requests.safe_id')
      .leftJoin('accounts', 'accounts.id', 'access_requests.account_id')
      .leftJoin('targets as account_targets', 'account_targets.id', 'accounts.target_id')
      .leftJoin('targets', 'targets.id', 'access_requests.target_id')
      .selectAll('access_requests')
      .select([
        'users.name as requester_name',
        'safes.name as safe_name',
        'accounts.username as account_username',
        'account_targets.name as account_target',
        'targets.name as target_name',
      ]);

  const decisionsOf = async (db: Queryable, ids: readonly string[]) => {
    if (ids.length === 0) return new Map<string, RequestDecision[]>();
    const rows = await db
      .selectFrom('request_approvals')
      .innerJoin('users', 'users.id', 'request_approvals.approver_id')
      .selectAll('request_approvals')
      .select('users.name as approver_name')
      .where('request_id', 'in', ids)
      .orderBy('at')
      .execute();
    const byRequest = new Map<string, RequestDecision[]>();
    for (const row of rows as Array<RequestApprovalTable & { approver_name: string }>) {
      const list = byRequest.get(row.request_id) ?? [];
      list.push({
        approver: row.approver_name,
        decision: row.decision === 'deny' ? 'deny' : 'approve',
        comment: row.comment,
        at: row.at,
      });
      byRequest.set(row.request_id, list);
    }
    return byRequest;
  };

  const load = async (db: Queryable, id: string): Promise<AccessRequest | null> => {
    const row = await query(db).where('access_requests.id', '=', id).executeTakeFirst();
    if (row === undefined) return null;
    const decisions = await decisionsOf(db, [id]);
    return toRequest(row as RequestRow, decisions.get(id) ?? []);
  };

  const loadMany = async (rows: RequestRow[]) => {
    const decisions = await decisionsOf(
      store.db,
      rows.map((row) => row.id),
    );
    return rows.map((row) => toRequest(row, decisions.get(row.id) ?? []));
  };

  const event = (
    ctx: RequestContext,
    action: string,
    request: { id: string; safe: string; account: string | null },
    extra: Partial<AuditEventInput> = {},
  ): AuditEventInput => ({
    action,
    outcome: 'success',
    actor: ctx.actor,
    object: { type: 'access-request', id: request.id, name: request.account ?? request.safe },
    source: ctx.source,
    requestId: ctx.requestId,
    ...extra,
  });

  const notify = (name: string, request: AccessRequest, extra: Record<string, unknown> = {}) =>
    deps.notifier.notify(name, { ...summary(request), ...extra }).catch((error: unknown) => {
      logger.warn({ err: error, request: request.id }, 'queueing a notification failed');
    });

  // --- creating ------------------------------------------------------------------------------

  const resolve = async (input: CreateRequestInput): Promise<Resolved> => {
    const chosen = [input.account, input.safe, input.ephemeral].filter((x) => x !== undefined);
    if (chosen.length !== 1) {
      throw new TesseraError(
        'VALIDATION_FAILED',
        'ask for exactly one: an account, a safe or an ephemeral account',
      );
    }
    if (input.account !== undefined) {
      const row = await store.db
        .selectFrom('accounts')
        .innerJoin('targets', 'targets.id', 'accounts.target_id')
        .innerJoin('safes', 'safes.id', 'accounts.safe_id')
        .select([
          'accounts.id',
          'accounts.safe_id',
          'safes.name as safe_name',
          'targets.id as target_id',
        ])
        .where('targets.name', '=', input.account.target)
        .where('accounts.username', '=', input.account.username)
        .executeTakeFirst();
      if (row === undefined) throw missing(input);
      return {
        scope: 'account',
        safeId: row.safe_id,
        safeName: row.safe_name,
        accountId: row.id,
        accountRef: `${input.account.target}/${input.account.username}`,
        targetId: row.target_id,
        role: null,
      };
    }
    if (input.safe !== undefined) {
      const row = await store.db
        .selectFrom('safes')
        .select(['id', 'name'])
        .where('name', '=', input.safe)
        .executeTakeFirst();
      if (row === undefined) throw missing(input);
      return {
        scope: 'safe',
        safeId: row.id,
        safeName: row.name,
        accountId: null,
        accountRef: null,
        targetId: null,
        role: null,
      };
    }
    const wanted = input.ephemeral as { target: string; role: string };
    const row = await store.db
      .selectFrom('ephemeral_configs')
      .innerJoin('targets', 'targets.id', 'ephemeral_configs.target_id')
      .innerJoin('accounts', 'accounts.id', 'ephemeral_configs.admin_account_id')
      .innerJoin('safes', 'safes.id', 'accounts.safe_id')
      .select([
        'targets.id as target_id',
        'ephemeral_configs.roles',
        'accounts.id as account_id',
        'accounts.username',
        'accounts.safe_id',
        'safes.name as safe_name',
      ])
      .where('targets.name', '=', wanted.target)
      .executeTakeFirst();
    if (row === undefined) throw missing(input);
    return {
      offeredRoles: row.roles.split(','),
      scope: 'ephemeral',
      safeId: row.safe_id,
      safeName: row.safe_name,
      accountId: row.account_id,
      accountRef: `${wanted.target}/${row.username}`,
      targetId: row.target_id,
      role: wanted.role,
    };
  };

  const checkAsk = async (
    principal: Principal,
    input: CreateRequestInput,
    resolved: Resolved,
    policy: AccessPolicy,
  ) => {
    if (input.durationS < MIN_DURATION_S) {
      throw new TesseraError('VALIDATION_FAILED', `a grant lasts at least ${MIN_DURATION_S} s`);
    }
    if (input.durationS > policy.maxDurationS) {
      throw new TesseraError(
        'DURATION_TOO_LONG',
        `at most ${policy.maxDurationS} s may be asked for here`,
        { maxDurationS: policy.maxDurationS },
      );
    }
    if (policy.requireReason && input.reason.trim() === '') {
      throw new TesseraError('REASON_REQUIRED', 'a reason is required for this request');
    }
    const ticket = input.ticket?.trim() ?? '';
    if (ticket === '') {
      if (policy.requireTicket) {
        throw new TesseraError(
          'TICKET_REQUIRED',
          'a ticket reference is required for this request',
        );
      }
      return;
    }
    if (policy.ticketPattern !== null && !deps.tickets.matches(policy.ticketPattern, ticket)) {
      throw new TesseraError(
        'TICKET_INVALID',
        `ticket ${ticket} does not match the expected format`,
      );
    }
    if (policy.ticketValidatorUrl !== null) {
      const verdict = await deps.tickets.validate({
        url: policy.ticketValidatorUrl,
        ticket,
        requester: principal.name,
        safe: resolved.safeName,
        account: resolved.accountRef,
      });
      if (!verdict.valid) {
        const detail = verdict.detail === null ? '' : `: ${verdict.detail}`;
        throw new TesseraError(
          'TICKET_INVALID',
          `the ticketing system refused ticket ${ticket}${detail}`,
        );
      }
    }
  };

  const permissionsFor = (
    input: CreateRequestInput,
    resolved: Resolved,
    policy: AccessPolicy,
  ): GrantablePermission[] => {
    // An ephemeral grant gives its own account, nothing on the admin account.
    if (resolved.scope === 'ephemeral') return ['use'];
    const asked =
      input.permissions ?? (policy.approvalFor.length > 0 ? policy.approvalFor : ['use']);
    const unique = [...new Set(asked)].filter(isGrantablePermission);
    if (unique.length === 0) {
      throw new TesseraError(
        'VALIDATION_FAILED',
        'ask for at least one of use, retrieve, checkout',
      );
    }
    return unique;
  };

  /** Approves inside `trx` once enough distinct persons approved; returns the grant's id. */
  const grantIfApproved = async (
    trx: Tx,
    ctx: RequestContext,
    row: AccessRequestTable,
    approvals: number,
    decidedBy: string,
  ): Promise<string | null> => {
    if (approvals < row.approvals_required) return null;
    const now = clock.now();
    const kind: GrantKind = row.scope === 'ephemeral' ? 'ephemeral' : 'request';
    const grantId = await deps.grants.createInTx(trx, {
      requestId: row.id,
      userId: row.requester_id,
      kind,
      safeId: row.safe_id,
      accountId: row.account_id,
      permissions: parsePermissions(row.permissions).filter(isGrantablePermission),
      startsAt: now,
      endsAt: now + row.duration_s * 1000,
    });
    const updated = await trx
      .updateTable('access_requests')
      .set({ status: 'approved', decided_at: now, decided_by: decidedBy, grant_id: grantId })
      .where('id', '=', row.id)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    if (updated.numUpdatedRows === 0n) {
      throw new TesseraError('REQUEST_NOT_PENDING', 'the request was answered meanwhile');
    }
    await audit.appendInTx(trx, [
      {
        action: 'grant.create',
        outcome: 'success',
        actor: ctx.actor,
        object: { type: 'grant', id: grantId, name: row.id },
        source: ctx.source,
        requestId: ctx.requestId,
        details: {
          request: row.id,
          kind,
          permissions: row.permissions,
          endsAt: new Date(now + row.duration_s * 1000).toISOString(),
        },
      },
    ]);
    return grantId;
  };

  /** Gives an approved ephemeral request its account; a failure is audited by the provisioner. */
  const afterApproval = async (ctx: RequestContext, request: AccessRequest) => {
    await notify('request.approved', request);
    if (request.scope !== 'ephemeral' || request.grantId === null) return;
    const provisioner = deps.ephemeral();
    if (provisioner === null || request.targetId === null || request.role === null) {
      throw new TesseraError('NOT_SUPPORTED', 'ephemeral accounts are not available here');
    }
    await provisioner.provision(ctx, {
      id: request.grantId,
      userId: request.requesterId,
      targetId: request.targetId,
      role: request.role,
      endsAt: clock.now() + request.durationS * 1000,
    });
  };

  // --- approving -----------------------------------------------------------------------------

  /**
   * Why this principal may not answer this request, or null when they may. Checked again inside
   * the transaction that records the answer.
   */
  const approverProblem = async (
    principal: Principal,
    row: AccessRequestTable,
  ): Promise<TesseraError | null> => {
    if (principal.role === 'auditor')
      return new TesseraError('FORBIDDEN', 'auditors do not approve');
    const person = await groups.personOf(principal.userId);
    const requesterPerson = await groups.personOf(row.requester_id);
    if (
      principal.userId === row.requester_id ||
      person === row.requester_person ||
      person === requesterPerson
    ) {
      return new TesseraError('SELF_APPROVAL', 'a request cannot be answered by its requester');
    }
    const held = await access.permissionsIn(principal.userId, row.safe_id);
    if (!held.includes('approve')) {
      return new TesseraError('FORBIDDEN', 'answering needs the approve permission on the safe');
    }
    const policy = await policies.effective(row.safe_id, row.account_id);
    if (policy.approverGroupId === null) return null;
    if (await groups.isMember(policy.approverGroupId, principal.userId)) return null;
    const escalated = row.escalated_at !== null && policy.escalationGroupId !== null;
    if (
      escalated &&
      (await groups.isMember(policy.escalationGroupId as string, principal.userId))
    ) {
      return null;
    }
    return new TesseraError('FORBIDDEN', 'you are not in an approver group of this request');
  };

  const pendingRow = async (db: Queryable, id: string) => {
    // Inside a transaction this takes the row's lock on PostgreSQL first, so two approvers
    // answering at once count each other's approval instead of both seeing only their own.
    if (db !== store.db) {
      await db
        .updateTable('access_requests')
        .set((eb) => ({ status: eb.ref('status') }))
        .where('id', '=', id)
        .execute();
    }
    const row = await db
      .selectFrom('access_requests')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (row === undefined) throw notFound('access request');
    if (row.status !== 'pending') {
      throw new TesseraError('REQUEST_NOT_PENDING', `the request is ${row.status}`);
    }
    if (row.expires_at <= clock.now()) {
      throw new TesseraError('REQUEST_NOT_PENDING', 'the request has expired');
    }
    return row;
  };

  /** Whether the principal may see the request at all: theirs, their safe's, or every one. */
  const mayRead = async (
    principal: Principal,
    request: { requesterId: string; safeId: string },
  ) => {
    if (principal.role === 'admin' || principal.role === 'auditor') return true;
    if (request.requesterId === principal.userId) return true;
    const held = await access.permissionsIn(principal.userId, request.safeId);
    return held.includes('approve') || held.includes('manage');
  };

  const answer = async (
    ctx: RequestContext,
    principal: Principal,
    id: string,
    decision: 'approve' | 'deny',
    comment: string,
  ): Promise<AccessRequest> => {
    const before = await load(store.db, id);
    if (before === null || !(await mayRead(principal, before))) throw notFound('access request');
    const row = await pendingRow(store.db, id);
    const problem = await approverProblem(principal, row);
    if (problem !== null) {
      await audit.record(
        event(ctx, `request.${decision}`, before, {
          outcome: 'denied',
          reason: problem.message,
          details: { code: problem.code },
        }),
      );
      throw problem;
    }
    const person = await groups.personOf(principal.userId);
    const now = clock.now();
    try {
      await store.transaction(async (trx) => {
        const current = await pendingRow(trx, id);
        if (await decidedBy(trx, id, person, principal.userId)) throw alreadyDecided();
        await trx
          .insertInto('request_approvals')
          .values({
            request_id: id,
            approver_person: person,
            approver_id: principal.userId,
            decision,
            comment,
            at: now,
          })
          .execute();
        await audit.appendInTx(trx, [
          event(ctx, `request.${decision}`, before, {
            ...(decision === 'deny' ? { reason: comment } : {}),
            details: { comment: decision === 'approve' ? comment : null },
          }),
        ]);
        if (decision === 'deny') {
          const updated = await trx
            .updateTable('access_requests')
            .set({
              status: 'denied',
              decided_at: now,
              decided_by: principal.name,
              decision_comment: comment,
            })
            .where('id', '=', id)
            .where('status', '=', 'pending')
            .executeTakeFirst();
          if (updated.numUpdatedRows === 0n) {
            throw new TesseraError('REQUEST_NOT_PENDING', 'the request was answered meanwhile');
          }
          return;
        }
        const approvals = await distinctApprovers(trx, current);
        await grantIfApproved(trx, ctx, current, approvals, principal.name);
      });
    } catch (error) {
      // Two logins of one person racing each other: the primary key keeps one.
      if (!isTesseraError(error) && (await decidedBy(store.db, id, person, principal.userId)))
        throw alreadyDecided();
      throw error;
    }
    await store.durable();
    const after = (await load(store.db, id)) as AccessRequest;
    if (after.status === 'approved') await afterApproval(ctx, after);
    if (after.status === 'denied') await notify('request.denied', after);
    return after;
  };

  /**
   * The persons who approved, as they are now: a login linked to another person after it
   * approved counts as that person, and one that turned out to be the requester not at all.
   */
  const distinctApprovers = async (db: Queryable, row: AccessRequestTable): Promise<number> => {
    const approvers = await db
      .selectFrom('request_approvals')
      .innerJoin('users', 'users.id', 'request_approvals.approver_id')
      .select(['users.id', 'users.person_id'])
      .where('request_approvals.request_id', '=', row.id)
      .where('request_approvals.decision', '=', 'approve')
      .execute();
    const requester = await db
      .selectFrom('users')
      .select(['id', 'person_id'])
      .where('id', '=', row.requester_id)
      .executeTakeFirst();
    const excluded = new Set([row.requester_person, requester?.person_id ?? row.requester_id]);
    const persons = new Set(approvers.map((approver) => approver.person_id ?? approver.id));
    for (const person of excluded) persons.delete(person);
    return persons.size;
  };

  /** Whether this login, or its person, already answered the request. */
  const decidedBy = async (db: Queryable, id: string, person: string, userId: string) =>
    (await db
      .selectFrom('request_approvals')
      .select('approver_id')
      .where('request_id', '=', id)
      .where((eb) => eb.or([eb('approver_person', '=', person), eb('approver_id', '=', userId)]))
      .executeTakeFirst()) !== undefined;

  const pendingForMe = async (principal: Principal, requests: AccessRequest[]) => {
    const mine: AccessRequest[] = [];
    const person = await groups.personOf(principal.userId);
    for (const request of requests) {
      if (request.status !== 'pending') continue;
      const row = await store.db
        .selectFrom('access_requests')
        .selectAll()
        .where('id', '=', request.id)
        .executeTakeFirstOrThrow();
      if ((await approverProblem(principal, row)) !== null) continue;
      if (await decidedBy(store.db, request.id, person, principal.userId)) continue;
      mine.push(request);
    }
    return mine;
  };

  return {
    async create(ctx, principal, input) {
      const resolved = await resolve(input);
      try {
        await access.require(principal, 'request.create', resolved.safeId);
      } catch (error) {
        // Word for word what a missing account, safe or target answers.
        if (isTesseraError(error) && error.code === 'NOT_FOUND') throw missing(input);
        throw error;
      }
      checkRole(input, resolved);
      const policy = await policies.effective(resolved.safeId, resolved.accountId);
      const permissions = permissionsFor(input, resolved, policy);
      await checkAsk(principal, input, resolved, policy);
      // An ephemeral grant gives nothing on the admin account, only an account of its own.
      if (policy.approvalsRequired === 0 && resolved.scope !== 'ephemeral') {
        // With nobody to answer, a request only unlocks what the member already holds behind
        // the approval: it never adds a permission no person agreed to.
        const held = await access.permissionsIn(principal.userId, resolved.safeId);
        const beyond = permissions.filter((permission) => !held.includes(permission));
        if (beyond.length > 0) {
          throw new TesseraError(
            'FORBIDDEN',
            'without an approver, a request only unlocks permissions you hold in the safe: ' +
              `not ${beyond.join(', ')}`,
          );
        }
      }

      const id = randomUUID();
      const now = clock.now();
      const row: AccessRequestTable = {
        id,
        requester_id: principal.userId,
        requester_person: await groups.personOf(principal.userId),
        scope: resolved.scope,
        safe_id: resolved.safeId,
        account_id: resolved.accountId,
        target_id: resolved.targetId,
        role: resolved.role,
        permissions: permissions.join(','),
        duration_s: input.durationS,
        reason: input.reason.trim(),
        ticket: input.ticket?.trim() || null,
        status: 'pending',
        approvals_required: policy.approvalsRequired,
        created_at: now,
        expires_at: now + policy.requestTtlS * 1000,
        escalate_at: policy.escalateAfterS === null ? null : now + policy.escalateAfterS * 1000,
        escalated_at: null,
        decided_at: null,
        decided_by: null,
        decision_comment: null,
        grant_id: null,
      };
      const named = { id, safe: resolved.safeName, account: resolved.accountRef };
      await store.transaction(async (trx) => {
        await trx.insertInto('access_requests').values(row).execute();
        await audit.appendInTx(trx, [
          event(ctx, 'request.create', named, {
            reason: row.reason,
            details: {
              scope: row.scope,
              permissions: row.permissions,
              durationS: row.duration_s,
              ticket: row.ticket,
              role: row.role,
              approvalsRequired: row.approvals_required,
            },
          }),
        ]);
        // No approver needed: approved at once, still a time-bound grant with its own event.
        if (row.approvals_required === 0) await grantIfApproved(trx, ctx, row, 0, 'tessera');
      });
      await store.durable();
      const created = (await load(store.db, id)) as AccessRequest;
      if (created.status === 'approved') await afterApproval(ctx, created);
      else await notify('request.created', created);
      return created;
    },

    async list(principal, filter) {
      let q = query(store.db).orderBy('access_requests.created_at', 'desc').limit(500);
      if (filter.status !== undefined) q = q.where('access_requests.status', '=', filter.status);
      if (filter.mine === true) q = q.where('access_requests.requester_id', '=', principal.userId);
      if (filter.pendingForMe === true) q = q.where('access_requests.status', '=', 'pending');
      const requests = await loadMany((await q.execute()) as RequestRow[]);
      if (filter.pendingForMe === true) return pendingForMe(principal, requests);
      const visible: AccessRequest[] = [];
      for (const request of requests) if (await mayRead(principal, request)) visible.push(request);
      return visible;
    },

    async get(principal, id) {
      const request = await load(store.db, id);
      if (request === null || !(await mayRead(principal, request)))
        throw notFound('access request');
      return request;
    },

    approve: (ctx, principal, id, comment) => answer(ctx, principal, id, 'approve', comment),
    deny: (ctx, principal, id, reason) => answer(ctx, principal, id, 'deny', reason),

    async cancel(ctx, principal, id) {
      const request = await load(store.db, id);
      if (request === null || !(await mayRead(principal, request)))
        throw notFound('access request');
      if (request.requesterId !== principal.userId) {
        throw new TesseraError('FORBIDDEN', 'only the requester cancels a request');
      }
      await store.transaction(async (trx) => {
        const updated = await trx
          .updateTable('access_requests')
          .set({ status: 'cancelled', decided_at: clock.now(), decided_by: principal.name })
          .where('id', '=', id)
          .where('status', '=', 'pending')
          .executeTakeFirst();
        if (updated.numUpdatedRows === 0n) {
          throw new TesseraError('REQUEST_NOT_PENDING', `the request is ${request.status}`);
        }
        await audit.appendInTx(trx, [event(ctx, 'request.cancel', request)]);
      });
      await store.durable();
      return (await load(store.db, id)) as AccessRequest;
    },

    async sweep() {
      const now = clock.now();
      let changed = 0;
      const due = await query(store.db)
        .where('access_requests.status', '=', 'pending')
        .where((eb) =>
          eb.or([
            eb('access_requests.expires_at', '<=', now),
            eb.and([
              eb('access_requests.escalate_at', '<=', now),
              eb('access_requests.escalated_at', 'is', null),
            ]),
          ]),
        )
        .limit(500)
        .execute();
      for (const request of await loadMany(due as RequestRow[])) {
        const expired = request.expiresAt <= now;
        const done = await store.transaction(async (trx) => {
          const updated = await trx
            .updateTable('access_requests')
            .set(expired ? { status: 'expired', decided_at: now } : { escalated_at: now })
            .where('id', '=', request.id)
            .where('status', '=', 'pending')
            .executeTakeFirst();
          if (updated.numUpdatedRows === 0n) return false;
          await audit.appendInTx(trx, [
            event(SYSTEM_CONTEXT, expired ? 'request.expire' : 'request.escalate', request),
          ]);
          return true;
        });
        if (!done) continue;
        changed += 1;
        await notify(expired ? 'request.expired' : 'request.escalated', request);
      }
      if (changed > 0) await store.durable();
      return changed;
    },
  };
}

/** What asking for something that is not there, or not the caller's to see, answers. */
function missing(input: CreateRequestInput): TesseraError {
  if (input.account !== undefined) return notFound('account');
  if (input.safe !== undefined) return notFound('safe');
  return new TesseraError(
    'NOT_FOUND',
    `target ${input.ephemeral?.target ?? ''} has no ephemeral accounts`,
  );
}

/** An ephemeral account's role must be one its target offers; said only to who may ask. */
function checkRole(input: CreateRequestInput, resolved: Resolved): void {
  const wanted = input.ephemeral;
  if (wanted === undefined || resolved.offeredRoles === undefined) return;
  if (!resolved.offeredRoles.includes(wanted.role)) {
    const offered = resolved.offeredRoles.join(', ');
    throw new TesseraError(
      'VALIDATION_FAILED',
      `role ${wanted.role} is not offered on ${wanted.target}; offered: ${offered}`,
    );
  }
}

function alreadyDecided(): TesseraError {
  return new TesseraError(
    'ALREADY_DECIDED',
    'you already answered this request (a login linked to you counts as you)',
  );
}

type RequestRow = AccessRequestTable & {
  requester_name: string;
  safe_name: string;
  account_username: string | null;
  account_target: string | null;
  target_name: string | null;
};

function toRequest(row: RequestRow, decisions: RequestDecision[]): AccessRequest {
  return {
    id: row.id,
    requester: row.requester_name,
    requesterId: row.requester_id,
    scope: row.scope as RequestScope,
    safeId: row.safe_id,
    safe: row.safe_name,
    accountId: row.account_id,
    account:
      row.account_target === null || row.account_username === null
        ? null
        : `${row.account_target}/${row.account_username}`,
    targetId: row.target_id,
    target: row.target_name,
    role: row.role,
    permissions: parsePermissions(row.permissions).filter(isGrantablePermission),
    durationS: row.duration_s,
    reason: row.reason,
    ticket: row.ticket,
    status: row.status as RequestStatus,
    approvalsRequired: row.approvals_required,
    decisions,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    escalatedAt: row.escalated_at,
    decidedAt: row.decided_at,
    decidedBy: row.decided_by,
    comment: row.decision_comment,
    grantId: row.grant_id,
  };
}

/** What a webhook receiver learns of a request: who, what, why, for how long; never a secret. */
function summary(request: AccessRequest): Record<string, unknown> {
  return {
    request: request.id,
    requester: request.requester,
    scope: request.scope,
    safe: request.safe,
    account: request.account,
    target: request.target,
    role: request.role,
    permissions: request.permissions,
    durationS: request.durationS,
    reason: request.reason,
    ticket: request.ticket,
    status: request.status,
    approvalsRequired: request.approvalsRequired,
    approvals: request.decisions.filter((d) => d.decision === 'approve').length,
    expiresAt: new Date(request.expiresAt).toISOString(),
  };
}
