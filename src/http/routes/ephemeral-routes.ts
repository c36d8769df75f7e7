import { z } from 'zod';
import {
  EPHEMERAL_STATES,
  type EphemeralAccount,
  type EphemeralConfig,
} from '../../access/ephemeral.ts';
import type { Services } from '../../services.ts';
import { type App, contextOf, principalOf } from '../app.ts';
import { iso, name, responses, uuid } from '../schemas.ts';

/** A role on the target, as its platform names it; the connector checks it further. */
const roleName = z
  .string()
  .min(1)
  .max(128)
  .refine((v) => !/[\0\r\n,]/.test(v), 'no control characters and no comma');

const config = z.object({
  target: z.string(),
  adminAccount: z.string(),
  roles: z.array(z.string()),
  updatedAt: z.string(),
});

const ephemeralAccount = z.object({
  id: z.string(),
  grantId: z.string(),
  target: z.string(),
  username: z.string(),
  role: z.string(),
  state: z.enum(EPHEMERAL_STATES),
  revealedAt: z.string().nullable(),
  createdAt: z.string(),
  droppedAt: z.string().nullable(),
  lastError: z.string().nullable(),
});

const toConfig = (c: EphemeralConfig) => ({
  target: c.target,
  adminAccount: c.adminAccount,
  roles: [...c.roles],
  updatedAt: iso(c.updatedAt),
});

const toAccount = (a: EphemeralAccount) => ({
  id: a.id,
  grantId: a.grantId,
  target: a.target,
  username: a.username,
  role: a.role,
  state: a.state,
  revealedAt: iso(a.revealedAt),
  createdAt: iso(a.createdAt),
  droppedAt: iso(a.droppedAt),
  lastError: a.lastError,
});

export function ephemeralRoutes(app: App, { ephemeral }: Pick<Services, 'ephemeral'>): void {
  app.put(
    '/v1/targets/:target/ephemeral',
    {
      config: { action: 'ephemeral.configure' },
      schema: {
        summary: 'Set the account that creates ephemeral accounts on the target, and their roles',
        params: z.object({ target: name }),
        body: z
          .object({
            adminAccount: z.string().min(1).max(300),
            roles: z.array(roleName).min(1).max(32),
          })
          .strict(),
        response: responses({ 200: config }),
      },
    },
    async (request) => {
      const input = { adminAccount: request.body.adminAccount, roles: request.body.roles };
      const saved = await ephemeral.configure(
        contextOf(request),
        principalOf(request),
        request.params.target,
        input,
      );
      return toConfig(saved);
    },
  );

  app.get(
    '/v1/targets/:target/ephemeral',
    {
      config: { action: 'ephemeral.read' },
      schema: {
        summary: "The target's ephemeral account configuration",
        params: z.object({ target: name }),
        response: responses({ 200: config }),
      },
    },
    async (request) => toConfig(await ephemeral.config(request.params.target)),
  );

  app.get(
    '/v1/ephemeral-accounts',
    {
      config: { action: 'ephemeral.read' },
      schema: {
        summary: 'Ephemeral accounts, newest first; never their passwords',
        querystring: z
          .object({
            target: name.optional(),
            state: z.enum(EPHEMERAL_STATES).optional(),
            grant: uuid.optional(),
            limit: z.coerce.number().int().min(1).max(500).optional(),
          })
          .strict(),
        response: responses({ 200: z.object({ accounts: z.array(ephemeralAccount) }) }),
      },
    },
    async (request) => ({
      accounts: (await ephemeral.list(request.query)).map(toAccount),
    }),
  );

  app.post(
    '/v1/grants/:id/credential',
    {
      // Any user may ask; the service shows it to the grant's own user only, and only once.
      config: { action: 'grant.read' },
      schema: {
        summary: "The grant's ephemeral account and its password, shown once to the grant's user",
        params: z.object({ id: uuid }),
        body: z.object({}).strict().nullish(),
        response: responses({
          200: z.object({
            username: z.string(),
            password: z.string(),
            host: z.string(),
            port: z.number(),
            database: z.string().nullable(),
          }),
        }),
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const credential = await ephemeral.reveal(
        contextOf(request),
        principalOf(request),
        request.params.id,
      );
      return {
        username: credential.username,
        password: credential.password,
        host: credential.host,
        port: credential.port,
        database: credential.database,
      };
    },
  );
}
