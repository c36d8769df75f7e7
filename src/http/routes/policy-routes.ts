import { z } from 'zod';
import { MAX_PER_TARGET_LIMIT, type Policy } from '../../accounts/policies.ts';
import type { Services } from '../../services.ts';
import { type App, contextOf } from '../app.ts';
import { name, responses } from '../schemas.ts';

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
    rotateAt: z
      .string()
      .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day as HH:MM, 00:00 to 23:59')
      .nullable()
      .default(null)
      .describe('scheduled rotations run at this wall-clock time in timeZone'),
    // The zone database decides which names exist; the service refuses the others by name.
    timeZone: z
      .string()
      .min(1)
      .max(64)
      .nullable()
      .default(null)
      .describe('IANA time zone of rotateAt, e.g. Europe/Paris; null is UTC'),
    jitterS: z
      .number()
      .int()
      .min(0)
      .max(7 * 86_400)
      .default(0)
      .describe('scheduled rotations spread over this many seconds after their time'),
    maxPerTarget: z.number().int().min(1).max(MAX_PER_TARGET_LIMIT).default(4),
    rotateOnCheckoutExpiry: z.boolean().default(true),
  })
  .strict();
const policy = policySettings.required().extend({ id: z.string(), name: z.string() });

/** The API's view of a policy, field by field. */
const toPolicy = (p: Policy) => ({
  id: p.id,
  name: p.name,
  rotationIntervalS: p.rotationIntervalS,
  secret: p.secret,
  exclusiveCheckout: p.exclusiveCheckout,
  rotateOnCheckin: p.rotateOnCheckin,
  maxCheckoutS: p.maxCheckoutS,
  rotateAt: p.rotateAt,
  timeZone: p.timeZone,
  jitterS: p.jitterS,
  maxPerTarget: p.maxPerTarget,
  rotateOnCheckoutExpiry: p.rotateOnCheckoutExpiry,
});

export function policyRoutes(app: App, { policies }: Pick<Services, 'policies'>): void {
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
        summary: 'Create or replace a policy: rotation schedule, secret rules, check-out rules',
        params: z.object({ policy: name }),
        body: policySettings,
        response: responses({ 200: policy }),
      },
    },
    async (request) =>
      toPolicy(await policies.set(contextOf(request), request.params.policy, request.body)),
  );
}
