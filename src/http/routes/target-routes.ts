import { z } from 'zod';
import {
  type Target,
  type TargetService,
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
/**
 * What the platform lets the API show: a certificate's text never leaves, only whether one is
 * set.
 */
const targetOptionsView = z.record(
  z.string(),
  z.union([z.string(), z.number(), z.boolean(), z.null()]),
);
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
const targetView = (targets: TargetService) => (t: Target) => ({
  id: t.id,
  name: t.name,
  platform: t.platform,
  host: t.host,
  port: t.port,
  database: t.database ?? null,
  options: targets.optionsView(t),
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

export function targetRoutes(app: App, { targets }: Pick<Services, 'targets'>): void {
  const toTarget = targetView(targets);
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
}
