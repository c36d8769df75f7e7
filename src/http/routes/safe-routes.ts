import { z } from 'zod';
import type { Services } from '../../services.ts';
import { type App, contextOf, principalOf } from '../app.ts';
import { iso, name, permission, responses } from '../schemas.ts';

const safe = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  createdAt: z.string(),
});
const member = z.object({
  user: z.string(),
  permissions: z.array(permission),
  addedAt: z.string(),
  addedBy: z.string(),
});
const toSafe = (s: { id: string; name: string; description: string; createdAt: number }) => ({
  ...s,
  createdAt: iso(s.createdAt),
});
const toMember = (m: {
  user: string;
  permissions: z.infer<typeof permission>[];
  addedAt: number;
  addedBy: string;
}) => ({
  ...m,
  addedAt: iso(m.addedAt),
});

export function safeRoutes(app: App, { safes, access }: Pick<Services, 'safes' | 'access'>): void {
  app.get(
    '/v1/safes',
    {
      config: { action: 'safe.list' },
      schema: { response: responses({ 200: z.object({ safes: z.array(safe) }) }) },
    },
    async (request) => ({ safes: (await safes.list(principalOf(request))).map(toSafe) }),
  );

  app.post(
    '/v1/safes',
    {
      config: { action: 'safe.create' },
      schema: {
        body: z.object({ name, description: z.string().max(500).default('') }).strict(),
        response: responses({ 201: safe }),
      },
    },
    async (request, reply) =>
      reply.status(201).send(toSafe(await safes.create(contextOf(request), request.body))),
  );

  app.get(
    '/v1/safes/:safe',
    {
      config: { action: 'safe.read', scope: 'safe' },
      schema: {
        params: z.object({ safe: name }),
        response: responses({ 200: safe.extend({ members: z.array(member) }) }),
      },
    },
    async (request) => {
      const found = await safes.byName(request.params.safe);
      await access.require(principalOf(request), 'safe.read', found.id);
      return { ...toSafe(found), members: (await safes.members(found.id)).map(toMember) };
    },
  );

  app.put(
    '/v1/safes/:safe/members/:user',
    {
      config: { action: 'safe.member.manage', scope: 'safe' },
      schema: {
        params: z.object({ safe: name, user: name }),
        body: z.object({ permissions: z.array(permission).min(1).max(8) }).strict(),
        response: responses({ 200: member }),
      },
    },
    async (request) => {
      const found = await safes.byName(request.params.safe);
      const principal = principalOf(request);
      await access.require(principal, 'safe.member.manage', found.id);
      const input = { user: request.params.user, permissions: request.body.permissions };
      return toMember(await safes.setMember(contextOf(request), principal, found, input));
    },
  );

  app.delete(
    '/v1/safes/:safe/members/:user',
    {
      config: { action: 'safe.member.manage', scope: 'safe' },
      schema: {
        params: z.object({ safe: name, user: name }),
        response: responses({ 204: z.null() }),
      },
    },
    async (request, reply) => {
      const found = await safes.byName(request.params.safe);
      const principal = principalOf(request);
      await access.require(principal, 'safe.member.manage', found.id);
      await safes.removeMember(contextOf(request), principal, found, request.params.user);
      return reply.status(204).send(null);
    },
  );
}
