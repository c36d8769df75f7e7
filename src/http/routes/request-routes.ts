import { z } from 'zod';
import { BREAKGLASS_OUTCOMES, type BreakglassEvent } from '../../access/breakglass.ts';
import type { Grant } from '../../access/grants.ts';
import { GRANTABLE_PERMISSIONS } from '../../access/permissions.ts';
import { type AccessRequest, REQUEST_STATUSES } from '../../access/requests.ts';
import { TesseraError } from '../../errors.ts';
import { MAX_TICKET_LENGTH } from '../../integrations/ticket-pattern.ts';
import type { Services } from '../../services.ts';
import { type App, contextOf, principalOf } from '../app.ts';
import { accountUsername, iso, name, reason, responses, uuid } from '../schemas.ts';

const DAY_S = 86_400;
const accountRef = z
  .string()
  .min(3)
  .max(300)
  .regex(/^[^/]+\/.+$/, 'an account as TARGET/USERNAME');
const ticket = z
  .string()
  .trim()
  .max(MAX_TICKET_LENGTH)
  .regex(/^[\x21-\x7e]*$/, 'printable ASCII without spaces');
const comment = z.string().trim().max(500);

const requestReply = z.object({
  id: z.string(),
  requester: z.string(),
  scope: z.enum(['account', 'safe', 'ephemeral']),
  safe: z.string(),
  account: z.string().nullable(),
  target: z.string().nullable(),
  role: z.string().nullable(),
  permissions: z.array(z.enum(GRANTABLE_PERMISSIONS)),
  durationS: z.number(),
  reason: z.string(),
  ticket: z.string().nullable(),
  status: z.enum(REQUEST_STATUSES),
  approvalsRequired: z.number(),
  approvals: z.array(
    z.object({
      approver: z.string(),
      decision: z.enum(['approve', 'deny']),
      comment: z.string(),
      at: z.string(),
    }),
  ),
  createdAt: z.string(),
  expiresAt: z.string(),
  escalatedAt: z.string().nullable(),
  decidedAt: z.string().nullable(),
  decidedBy: z.string().nullable(),
  comment: z.string().nullable(),
  grantId: z.string().nullable(),
});

const grantReply = z.object({
  id: z.string(),
  requestId: z.string().nullable(),
  user: z.string(),
  kind: z.enum(['request', 'breakglass', 'ephemeral']),
  safe: z.string(),
  account: z.string().nullable(),
  permissions: z.array(z.enum(GRANTABLE_PERMISSIONS)),
  startsAt: z.string(),
  endsAt: z.string(),
  active: z.boolean(),
  remainingS: z.number(),
  revokedAt: z.string().nullable(),
  revokedBy: z.string().nullable(),
  revokeReason: z.string().nullable(),
});

const breakglassReply = z.object({
  id: z.string(),
  grantId: z.string(),
  account: z.string(),
  user: z.string(),
  reason: z.string(),
  secondFactor: z.boolean(),
  openedAt: z.string(),
  endsAt: z.string(),
  closedAt: z.string().nullable(),
  rotationRequestedAt: z.string().nullable(),
  reviewState: z.enum(['open', 'closed']),
  outcome: z.enum(BREAKGLASS_OUTCOMES).nullable(),
  reviewNotes: z.string().nullable(),
  reviewedBy: z.string().nullable(),
  reviewedAt: z.string().nullable(),
  sessions: z.number(),
});

const toRequest = (r: AccessRequest) => ({
  id: r.id,
  requester: r.requester,
  scope: r.scope,
  safe: r.safe,
  account: r.account,
  target: r.target,
  role: r.role,
  permissions: [...r.permissions],
  durationS: r.durationS,
  reason: r.reason,
  ticket: r.ticket,
  status: r.status,
  approvalsRequired: r.approvalsRequired,
  approvals: r.decisions.map((d) => ({
    approver: d.approver,
    decision: d.decision,
    comment: d.comment,
    at: iso(d.at),
  })),
  createdAt: iso(r.createdAt),
  expiresAt: iso(r.expiresAt),
  escalatedAt: iso(r.escalatedAt),
  decidedAt: iso(r.decidedAt),
  decidedBy: r.decidedBy,
  comment: r.comment,
  grantId: r.grantId,
});

const toBreakglass = (b: BreakglassEvent) => ({
  id: b.id,
  grantId: b.grantId,
  account: b.account,
  user: b.user,
  reason: b.reason,
  secondFactor: b.secondFactor,
  openedAt: iso(b.openedAt),
  endsAt: iso(b.endsAt),
  closedAt: iso(b.closedAt),
  rotationRequestedAt: iso(b.rotationRequestedAt),
  reviewState: b.reviewState,
  outcome: b.outcome,
  reviewNotes: b.reviewNotes,
  reviewedBy: b.reviewedBy,
  reviewedAt: iso(b.reviewedAt),
  sessions: b.sessions,
});

const idParams = z.object({ id: uuid });
const accountParams = z.object({ target: name, username: accountUsername });

/** Access requests and their answers, grants, break-glass and its report. */
export function requestRoutes(
  app: App,
  services: Pick<Services, 'requests' | 'grants' | 'breakglass' | 'clock'>,
): void {
  const { requests, grants, breakglass, clock } = services;

  const toGrant = (g: Grant) => ({
    id: g.id,
    requestId: g.requestId,
    user: g.userName,
    kind: g.kind,
    safe: g.safeName,
    account: g.account,
    permissions: [...g.permissions],
    startsAt: iso(g.startsAt),
    endsAt: iso(g.endsAt),
    active: g.active,
    remainingS: g.active ? Math.max(0, Math.floor((g.endsAt - clock.now()) / 1000)) : 0,
    revokedAt: iso(g.revokedAt),
    revokedBy: g.revokedBy,
    revokeReason: g.revokeReason,
  });

  // --- requests --------------------------------------------------------------------------------

  app.post(
    '/v1/requests',
    {
      // The safe is known once the body names the account, safe or target: the service decides.
      config: { action: 'request.create', scope: 'safe' },
      schema: {
        summary: 'Ask for time-bound access to an account, a safe or an ephemeral account',
        body: z
          .object({
            account: accountRef.optional(),
            safe: name.optional(),
            ephemeral: z.object({ target: name, role: name }).strict().optional(),
            permissions: z.array(z.enum(GRANTABLE_PERMISSIONS)).min(1).max(3).optional(),
            durationS: z
              .number()
              .int()
              .min(60)
              .max(30 * DAY_S),
            reason: z.string().trim().max(500).default(''),
            ticket: ticket.optional(),
          })
          .strict(),
        response: responses({ 201: requestReply }),
      },
    },
    async (request, reply) => {
      const body = request.body;
      const slash = body.account?.indexOf('/') ?? -1;
      const account =
        body.account === undefined
          ? undefined
          : { target: body.account.slice(0, slash), username: body.account.slice(slash + 1) };
      const created = await requests.create(contextOf(request), principalOf(request), {
        account,
        safe: body.safe,
        ephemeral: body.ephemeral,
        permissions: body.permissions,
        durationS: body.durationS,
        reason: body.reason,
        ticket: body.ticket === '' ? undefined : body.ticket,
      });
      return reply.code(201).send(toRequest(created));
    },
  );

  app.get(
    '/v1/requests',
    {
      config: { action: 'request.read' },
      schema: {
        querystring: z
          .object({
            mine: z.stringbool().optional(),
            pendingForMe: z.stringbool().optional(),
            status: z.enum(REQUEST_STATUSES).optional(),
          })
          .strict(),
        response: responses({ 200: z.object({ requests: z.array(requestReply) }) }),
      },
    },
    async (request) => {
      const { mine, pendingForMe, status } = request.query;
      const found = await requests.list(principalOf(request), {
        ...(mine === undefined ? {} : { mine }),
        ...(pendingForMe === undefined ? {} : { pendingForMe }),
        ...(status === undefined ? {} : { status }),
      });
      return { requests: found.map(toRequest) };
    },
  );

  app.get(
    '/v1/requests/:id',
    {
      config: { action: 'request.read' },
      schema: { params: idParams, response: responses({ 200: requestReply }) },
    },
    async (request) => toRequest(await requests.get(principalOf(request), request.params.id)),
  );

  app.post(
    '/v1/requests/:id/approve',
    {
      config: { action: 'request.approve', scope: 'safe' },
      schema: {
        params: idParams,
        body: z.object({ comment: comment.default('') }).strict(),
        response: responses({ 200: requestReply }),
      },
    },
    async (request) =>
      toRequest(
        await requests.approve(
          contextOf(request),
          principalOf(request),
          request.params.id,
          request.body.comment,
        ),
      ),
  );

  app.post(
    '/v1/requests/:id/deny',
    {
      config: { action: 'request.approve', scope: 'safe' },
      schema: {
        params: idParams,
        body: z.object({ reason }).strict(),
        response: responses({ 200: requestReply }),
      },
    },
    async (request) =>
      toRequest(
        await requests.deny(
          contextOf(request),
          principalOf(request),
          request.params.id,
          request.body.reason,
        ),
      ),
  );

  app.post(
    '/v1/requests/:id/cancel',
    {
      config: { action: 'request.cancel' },
      schema: { params: idParams, response: responses({ 200: requestReply }) },
    },
    async (request) =>
      toRequest(await requests.cancel(contextOf(request), principalOf(request), request.params.id)),
  );

  // --- grants ----------------------------------------------------------------------------------

  app.get(
    '/v1/grants',
    {
      config: { action: 'grant.read' },
      schema: {
        querystring: z
          .object({ active: z.stringbool().optional(), user: name.optional() })
          .strict(),
        response: responses({ 200: z.object({ grants: z.array(grantReply) }) }),
      },
    },
    async (request) => {
      const { active, user } = request.query;
      const found = await grants.list(principalOf(request), {
        ...(active === undefined ? {} : { active }),
        ...(user === undefined ? {} : { user }),
      });
      return { grants: found.map(toGrant) };
    },
  );

  app.get(
    '/v1/grants/:id',
    {
      config: { action: 'grant.read' },
      schema: { params: idParams, response: responses({ 200: grantReply }) },
    },
    async (request) => toGrant(await grants.get(principalOf(request), request.params.id)),
  );

  app.post(
    '/v1/grants/:id/revoke',
    {
      config: { action: 'grant.revoke', scope: 'safe' },
      schema: {
        params: idParams,
        body: z.object({ reason }).strict(),
        response: responses({ 200: grantReply }),
      },
    },
    async (request) =>
      toGrant(
        await grants.revoke(
          contextOf(request),
          principalOf(request),
          request.params.id,
          request.body.reason,
        ),
      ),
  );

  // --- break-glass -----------------------------------------------------------------------------

  const breakglassBase = '/v1/targets/:target/accounts/:username/breakglass';

  app.put(
    breakglassBase,
    {
      config: { action: 'breakglass.configure' },
      schema: {
        summary: 'Mark an account for emergency access, or unmark it',
        params: accountParams,
        body: z.object({ enabled: z.boolean() }).strict(),
        response: responses({ 200: z.object({ account: z.string(), enabled: z.boolean() }) }),
      },
    },
    async (request) => {
      await breakglass.mark(contextOf(request), request.params, request.body.enabled);
      const { target, username } = request.params;
      return { account: `${target}/${username}`, enabled: request.body.enabled };
    },
  );

  app.post(
    breakglassBase,
    {
      config: { action: 'breakglass.open', scope: 'safe' },
      schema: {
        summary: 'Open emergency access to an account now, without an approver',
        params: accountParams,
        body: z
          .object({ reason, code: z.string().max(16).optional() })
          .strict()
          .describe('code: from your second factor, when you have one'),
        response: responses({ 201: breakglassReply }),
      },
    },
    async (request, reply) => {
      const opened = await breakglass.open(
        contextOf(request),
        principalOf(request),
        request.params,
        request.body,
      );
      return reply.code(201).send(toBreakglass(opened));
    },
  );

  app.get(
    '/v1/breakglass',
    {
      config: { action: 'breakglass.read' },
      schema: {
        querystring: z.object({ open: z.stringbool().optional() }).strict(),
        response: responses({ 200: z.object({ events: z.array(breakglassReply) }) }),
      },
    },
    async (request) => {
      const open = request.query.open;
      const events = await breakglass.list(open === undefined ? {} : { open });
      return { events: events.map(toBreakglass) };
    },
  );

  app.get(
    '/v1/breakglass/:id',
    {
      config: { action: 'breakglass.read' },
      schema: { params: idParams, response: responses({ 200: breakglassReply }) },
    },
    async (request) => toBreakglass(await breakglass.get(request.params.id)),
  );

  app.post(
    '/v1/breakglass/:id/review',
    {
      config: { action: 'breakglass.review' },
      schema: {
        params: idParams,
        body: z.object({ outcome: z.enum(BREAKGLASS_OUTCOMES), notes: reason }).strict(),
        response: responses({ 200: breakglassReply }),
      },
    },
    async (request) =>
      toBreakglass(
        await breakglass.review(
          contextOf(request),
          principalOf(request),
          request.params.id,
          request.body,
        ),
      ),
  );

  app.get(
    '/v1/reports/breakglass',
    {
      config: { action: 'report.read' },
      schema: {
        summary: 'Every break-glass opening in a period, with its review and sessions',
        querystring: z
          .object({ from: z.iso.datetime().optional(), to: z.iso.datetime().optional() })
          .strict(),
        response: responses({
          200: z.object({
            from: z.string().nullable(),
            to: z.string().nullable(),
            total: z.number(),
            unreviewed: z.number(),
            events: z.array(breakglassReply),
          }),
        }),
      },
    },
    async (request) => {
      const from = request.query.from === undefined ? undefined : Date.parse(request.query.from);
      const to = request.query.to === undefined ? undefined : Date.parse(request.query.to);
      if (from !== undefined && to !== undefined && to <= from) {
        throw new TesseraError('VALIDATION_FAILED', 'to must be after from');
      }
      const events = await breakglass.list({
        ...(from === undefined ? {} : { from }),
        ...(to === undefined ? {} : { to }),
      });
      return {
        from: from === undefined ? null : iso(from),
        to: to === undefined ? null : iso(to),
        total: events.length,
        unreviewed: events.filter((event) => event.reviewState === 'open').length,
        events: events.map(toBreakglass),
      };
    },
  );
}
