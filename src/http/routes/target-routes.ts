import { z } from 'zod';
import type { Policy } from '../../accounts/policies.ts';
import {
  optionsView,
  SSL_MODES,
  type Target,
  targetOptions,
  targetOptionsChange,
} from '../../accounts/targets.ts';
import type { Services } from '../../services.ts';
import { type App, contextOf } from '../app.ts';
import { iso, name, responses } from '../schemas.ts';

const hostName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9.:_-]+$/, 'a host name or address');
const port = z.number().int().min(1).max(65_535);
const database = z.string().min(1).max(63);
/** An allow-list: the root certificate's text never leaves, only whether one is set. */
const targetOptionsView = z
  .object({
    sslmode: z.enum(SSL_MODES),
    sslrootcertSet: z.boolean(),
    allowMd5Auth: z.boolean(),
  })
  .partial();
const target = z.object({
  id: z.string(),
  name: z.string(),
  platform: z.string(),
  host: z.string(),
  port: z.number(),
  database: z.string().nullable(),
  options: targetOptionsView,
  createdAt: z.string(),
});
const toTarget = (t: Target) => ({
  id: t.id,
  name: t.name,
  platform: t.platform,
  host: t.host,
  port: t.port,
  database: t.database ?? null,
  options: optionsView(t),
  createdAt: iso(t.createdAt),
});
const targetChange = z
  .object({
    host: hostName.optional(),
    port: port.optional(),
    database: database.nullable().optional(),
    options: targetOptionsChange.optional(),
  })
  .strict()
  .refine((change) => Object.keys(change).length > 0, 'give host, port, database or options');

const characters = z.string().max(128);
const policySettings = z
  .object({
    rotationIntervalS: z
      .number()
      .int()
      .min(60)
      .max(10 * 365 * 86_400)
      .nullable()
      .default(null),
    secret: z
      .object({
        length: z.number().int().min(8).max(256).default(32),
        minLowercase: z.number().int().min(0).max(256).default(1),
        minUppercase: z.number().int().min(0).max(256).default(1),
        minDigits: z.number().int().min(0).max(256).default(1),
        minSymbols: z.number().int().min(0).max(256).default(1),
        symbols: characters.default('!#$%&()*+,-./:;<=>?@[]^_{|}~\'"\\`'),
        exclude: characters.default(''),
      })
      .strict()
      .prefault({}),
    exclusiveCheckout: z.boolean().default(true),
    rotateOnCheckin: z.boolean().default(true),
    maxCheckoutS: z
      .number()
      .int()
      .min(60)
      .max(30 * 86_400)
      .default(8 * 3600),
  })
  .strict();
const policy = policySettings.required().extend({ id: z.string(), name: z.string() });
const toPolicy = (p: Policy) => p;

export function targetRoutes(
  app: App,
  { targets, policies }: Pick<Services, 'targets' | 'policies'>,
): void {
  app.get(
    '/v1/targets',
    {
      config: { action: 'target.read' },
      schema: { response: responses({ 200: z.object({ targets: z.array(target) }) }) },
    },
    async () => ({ targets: (await targets.list()).map(toTarget) }),
  );

  app.post(
    '/v1/targets',
    {
      config: { action: 'target.write' },
      schema: {
        body: z
          .object({
            name,
            platform: z.string().min(1).max(32),
            host: hostName,
            port,
            database: database.optional(),
            options: targetOptions.optional(),
          })
          .strict(),
        response: responses({ 201: target }),
      },
    },
    async (request, reply) =>
      reply.status(201).send(toTarget(await targets.create(contextOf(request), request.body))),
  );

  app.get(
    '/v1/targets/:target',
    {
      config: { action: 'target.read' },
      schema: { params: z.object({ target: name }), response: responses({ 200: target }) },
    },
    async (request) => toTarget(await targets.byName(request.params.target)),
  );

  app.put(
    '/v1/targets/:target',
    {
      config: { action: 'target.write' },
      schema: {
        params: z.object({ target: name }),
        body: targetChange,
        response: responses({ 200: target }),
      },
    },
    async (request) =>
      toTarget(await targets.update(contextOf(request), request.params.target, request.body)),
  );

  app.get(
    '/v1/policies',
    {
      config: { action: 'policy.read' },
      schema: { response: responses({ 200: z.object({ policies: z.array(policy) }) }) },
    },
    async () => ({ policies: (await policies.list()).map(toPolicy) }),
  );

  app.get(
    '/v1/policies/:policy',
    {
      config: { action: 'policy.read' },
      schema: { params: z.object({ policy: name }), response: responses({ 200: policy }) },
    },
    async (request) => toPolicy(await policies.byName(request.params.policy)),
  );

  app.put(
    '/v1/policies/:policy',
    {
      config: { action: 'policy.write' },
      schema: {
        params: z.object({ policy: name }),
        body: policySettings,
        response: responses({ 200: policy }),
      },
    },
    async (request) =>
      toPolicy(await policies.set(contextOf(request), request.params.policy, request.body)),
  );
}
