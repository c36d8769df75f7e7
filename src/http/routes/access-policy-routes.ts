import { z } from 'zod';
import type { AccessPolicy, AccessPolicySettings } from '../../access/access-policies.ts';
import { isTimeOfDay, WEEKDAYS } from '../../access/access-window.ts';
import type { Group } from '../../access/groups.ts';
import { GRANTABLE_PERMISSIONS } from '../../access/permissions.ts';
import { parseOutboundUrl } from '../../integrations/outbound-url.ts';
import {
  compileTicketPattern,
  MAX_TICKET_PATTERN_LENGTH,
} from '../../integrations/ticket-pattern.ts';
import type { Services } from '../../services.ts';
import { type App, contextOf, principalOf } from '../app.ts';
import { accountUsername, iso, name, responses } from '../schemas.ts';

const DAY_S = 86_400;
const timeOfDay = z.string().refine(isTimeOfDay, 'a time of day as HH:MM, 00:00 to 23:59');

const windowSchema = z
  .object({
    days: z.array(z.enum(WEEKDAYS)).min(1).max(7),
    start: timeOfDay,
    end: timeOfDay.describe('exclusive; earlier than start runs past midnight'),
    timeZone: z.string().min(1).max(64).describe('IANA time zone, e.g. Europe/Berlin'),
  })
  .strict();

const settingsSchema = z
  .object({
    approvalFor: z
      .array(z.enum(GRANTABLE_PERMISSIONS))
      .max(3)
      .default([])
      .describe('permissions that need an approved request; empty: standing access is enough'),
    approvalsRequired: z.number().int().min(0).max(10).default(1),
    approverGroup: name.nullable().default(null),
    escalateAfterS: z
      .number()
      .int()
      .min(60)
      .max(30 * DAY_S)
      .nullable()
      .default(null),
    escalationGroup: name.nullable().default(null),
    requestTtlS: z
      .number()
      .int()
      .min(60)
      .max(30 * DAY_S)
      .default(DAY_S),
    requireReason: z.boolean().default(true),
    requireTicket: z.boolean().default(false),
    ticketPattern: z
      .string()
      .min(1)
      .max(MAX_TICKET_PATTERN_LENGTH)
      .nullable()
      .default(null)
      .describe('a regular expression the whole ticket reference must match'),
    ticketValidatorUrl: z.string().min(1).max(2048).nullable().default(null),
    maxDurationS: z
      .number()
      .int()
      .min(60)
      .max(30 * DAY_S)
      .default(8 * 3600),
    window: windowSchema.nullable().default(null),
    breakglassWindowS: z.number().int().min(60).max(DAY_S).default(3600),
    ephemeralReveal: z.boolean().default(true),
  })
  .strict();

const policyReply = z.object({
  scope: z.enum(['safe', 'account', 'default']),
  approvalFor: z.array(z.enum(GRANTABLE_PERMISSIONS)),
  approvalsRequired: z.number(),
  approverGroup: z.string().nullable(),
  escalateAfterS: z.number().nullable(),
  escalationGroup: z.string().nullable(),
  requestTtlS: z.number(),
  requireReason: z.boolean(),
  requireTicket: z.boolean(),
  ticketPattern: z.string().nullable(),
  ticketValidatorUrl: z.string().nullable(),
  maxDurationS: z.number(),
  window: windowSchema.nullable(),
  breakglassWindowS: z.number(),
  ephemeralReveal: z.boolean(),
  updatedAt: z.string().nullable(),
  updatedBy: z.string().nullable(),
});

const groupReply = z.object({
  name: z.string(),
  description: z.string(),
  members: z.array(z.string()),
  createdAt: z.string(),
});

const toGroup = (group: Group) => ({
  name: group.name,
  description: group.description,
  members: [...group.members],
  createdAt: iso(group.createdAt),
});

const accountParams = z.object({ target: name, username: accountUsername });

/**
 * Groups, person links and access policies: who approves, and what it takes to use a safe's or
 * an account's secrets.
 */
export function accessPolicyRoutes(
  app: App,
  services: Pick<Services, 'groups' | 'accessPolicies' | 'safes' | 'accounts' | 'access'>,
): void {
  const { groups, accessPolicies, safes, accounts, access } = services;

  const groupNames = async () => {
    const all = await groups.list();
    return new Map(all.map((group) => [group.id, group.name]));
  };

  const toReply = async (policy: AccessPolicy) => {
    const names = await groupNames();
    const scope = policy.accountId !== null ? 'account' : policy.id === null ? 'default' : 'safe';
    return {
      scope: scope as 'safe' | 'account' | 'default',
      approvalFor: [...policy.approvalFor],
      approvalsRequired: policy.approvalsRequired,
      approverGroup:
        policy.approverGroupId === null ? null : (names.get(policy.approverGroupId) ?? null),
      escalateAfterS: policy.escalateAfterS,
      escalationGroup:
        policy.escalationGroupId === null ? null : (names.get(policy.escalationGroupId) ?? null),
      requestTtlS: policy.requestTtlS,
      requireReason: policy.requireReason,
      requireTicket: policy.requireTicket,
      ticketPattern: policy.ticketPattern,
      ticketValidatorUrl: policy.ticketValidatorUrl,
      maxDurationS: policy.maxDurationS,
      window: policy.window === null ? null : { ...policy.window, days: [...policy.window.days] },
      breakglassWindowS: policy.breakglassWindowS,
      ephemeralReveal: policy.ephemeralReveal,
      updatedAt: policy.updatedAt === null ? null : iso(policy.updatedAt),
      updatedBy: policy.updatedBy,
    };
  };

  const toSettings = async (
    body: z.infer<typeof settingsSchema>,
  ): Promise<AccessPolicySettings> => {
    if (body.ticketPattern !== null) compileTicketPattern(body.ticketPattern);
    if (body.ticketValidatorUrl !== null) {
      parseOutboundUrl(body.ticketValidatorUrl, 'ticketValidatorUrl');
    }
    const groupId = async (groupName: string | null) =>
      groupName === null ? null : (await groups.byName(groupName)).id;
    return {
      approvalFor: [...new Set(body.approvalFor)],
      approvalsRequired: body.approvalsRequired,
      approverGroupId: await groupId(body.approverGroup),
      escalateAfterS: body.escalateAfterS,
      escalationGroupId: await groupId(body.escalationGroup),
      requestTtlS: body.requestTtlS,
      requireReason: body.requireReason,
      requireTicket: body.requireTicket,
      ticketPattern: body.ticketPattern,
      ticketValidatorUrl: body.ticketValidatorUrl,
      maxDurationS: body.maxDurationS,
      window: body.window,
      breakglassWindowS: body.breakglassWindowS,
      ephemeralReveal: body.ephemeralReveal,
    };
  };

  // --- groups and persons ----------------------------------------------------------------------

  app.get(
    '/v1/groups',
    {
      config: { action: 'group.read' },
      schema: { response: responses({ 200: z.object({ groups: z.array(groupReply) }) }) },
    },
    async () => ({ groups: (await groups.list()).map(toGroup) }),
  );

  app.post(
    '/v1/groups',
    {
      config: { action: 'group.manage' },
      schema: {
        body: z.object({ name, description: z.string().max(500).default('') }).strict(),
        response: responses({ 201: groupReply }),
      },
    },
    async (request, reply) => {
      const group = await groups.create(contextOf(request), request.body);
      return reply.code(201).send(toGroup(group));
    },
  );

  app.get(
    '/v1/groups/:group',
    {
      config: { action: 'group.read' },
      schema: { params: z.object({ group: name }), response: responses({ 200: groupReply }) },
    },
    async (request) => toGroup(await groups.byName(request.params.group)),
  );

  app.delete(
    '/v1/groups/:group',
    {
      config: { action: 'group.manage' },
      schema: { params: z.object({ group: name }), response: responses({ 204: z.null() }) },
    },
    async (request, reply) => {
      await groups.remove(contextOf(request), request.params.group);
      return reply.code(204).send(null);
    },
  );

  app.put(
    '/v1/groups/:group/members/:user',
    {
      config: { action: 'group.manage' },
      schema: {
        params: z.object({ group: name, user: name }),
        response: responses({ 200: groupReply }),
      },
    },
    async (request) =>
      toGroup(
        await groups.addMember(contextOf(request), request.params.group, request.params.user),
      ),
  );

  app.delete(
    '/v1/groups/:group/members/:user',
    {
      config: { action: 'group.manage' },
      schema: {
        params: z.object({ group: name, user: name }),
        response: responses({ 200: groupReply }),
      },
    },
    async (request) =>
      toGroup(
        await groups.removeMember(contextOf(request), request.params.group, request.params.user),
      ),
  );

  app.put(
    '/v1/users/:name/person',
    {
      config: { action: 'user.link' },
      schema: {
        summary: 'Link a login to another login of the same person (null: unlink)',
        params: z.object({ name }),
        body: z.object({ sameAs: name.nullable() }).strict(),
        response: responses({ 200: z.object({ user: z.string(), person: z.string().nullable() }) }),
      },
    },
    async (request) =>
      groups.linkPerson(contextOf(request), request.params.name, request.body.sameAs),
  );

  // --- access policies -------------------------------------------------------------------------

  const safeScoped = <A extends string>(action: A) => ({ action, scope: 'safe' as const });

  app.get(
    '/v1/safes/:safe/access-policy',
    {
      config: safeScoped('access-policy.read'),
      schema: { params: z.object({ safe: name }), response: responses({ 200: policyReply }) },
    },
    async (request) => {
      const safe = await safes.byName(request.params.safe);
      await access.require(principalOf(request), 'access-policy.read', safe.id);
      return toReply(await accessPolicies.effective(safe.id, null));
    },
  );

  app.put(
    '/v1/safes/:safe/access-policy',
    {
      config: { action: 'access-policy.write' },
      schema: {
        params: z.object({ safe: name }),
        body: settingsSchema,
        response: responses({ 200: policyReply }),
      },
    },
    async (request) => {
      const safe = await safes.byName(request.params.safe);
      const settings = await toSettings(request.body);
      const scope = { safeId: safe.id, label: safe.name };
      return toReply(await accessPolicies.set(contextOf(request), scope, settings));
    },
  );

  app.delete(
    '/v1/safes/:safe/access-policy',
    {
      config: { action: 'access-policy.write' },
      schema: { params: z.object({ safe: name }), response: responses({ 204: z.null() }) },
    },
    async (request, reply) => {
      const safe = await safes.byName(request.params.safe);
      await accessPolicies.remove(contextOf(request), { safeId: safe.id, label: safe.name });
      return reply.code(204).send(null);
    },
  );

  const accountBase = '/v1/targets/:target/accounts/:username/access-policy';

  app.get(
    accountBase,
    {
      config: safeScoped('access-policy.read'),
      schema: { params: accountParams, response: responses({ 200: policyReply }) },
    },
    async (request) => {
      const account = await accounts.find(request.params);
      await access.require(principalOf(request), 'access-policy.read', account.safeId);
      return toReply(await accessPolicies.effective(account.safeId, account.id));
    },
  );

  app.put(
    accountBase,
    {
      config: { action: 'access-policy.write' },
      schema: {
        params: accountParams,
        body: settingsSchema,
        response: responses({ 200: policyReply }),
      },
    },
    async (request) => {
      const account = await accounts.find(request.params);
      const settings = await toSettings(request.body);
      const scope = { accountId: account.id, label: account.ref };
      return toReply(await accessPolicies.set(contextOf(request), scope, settings));
    },
  );

  app.delete(
    accountBase,
    {
      config: { action: 'access-policy.write' },
      schema: { params: accountParams, response: responses({ 204: z.null() }) },
    },
    async (request, reply) => {
      const account = await accounts.find(request.params);
      await accessPolicies.remove(contextOf(request), {
        accountId: account.id,
        label: account.ref,
      });
      return reply.code(204).send(null);
    },
  );
}
