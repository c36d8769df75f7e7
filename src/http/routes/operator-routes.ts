import { z } from 'zod';
import type { Services } from '../../services.ts';
import { type App, contextOf } from '../app.ts';
import { responses } from '../schemas.ts';

const sealStatus = z.object({
  initialized: z.boolean(),
  sealed: z.boolean(),
  threshold: z.number(),
  shares: z.number(),
  progress: z.number(),
});

export function operatorRoutes(app: App, { operator }: Pick<Services, 'operator'>): void {
  app.get(
    '/v1/health',
    {
      config: { action: 'system.health' },
      schema: {
        summary: 'Liveness and seal state; answers while sealed',
        response: responses({
          200: z.object({ status: z.literal('ok'), initialized: z.boolean(), sealed: z.boolean() }),
        }),
      },
    },
    async () => {
      const status = await operator.status();
      return { status: 'ok' as const, initialized: status.initialized, sealed: status.sealed };
    },
  );

  app.get(
    '/v1/operator/status',
    { config: { action: 'operator.status' }, schema: { response: responses({ 200: sealStatus }) } },
    () => operator.status(),
  );

  app.post(
    '/v1/operator/init',
    {
      config: { action: 'operator.init' },
      schema: {
        summary: 'Create the root key and split the unseal key into shares, once',
        body: z
          .object({
            shares: z.number().int().min(1).max(16),
            threshold: z.number().int().min(1).max(16),
          })
          .strict(),
        response: responses({
          200: z.object({
            shares: z.array(z.string()),
            threshold: z.number(),
            rootToken: z.string(),
          }),
        }),
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return operator.initialize(contextOf(request), request.body);
    },
  );

  app.post(
    '/v1/operator/unseal',
    {
      config: { action: 'operator.unseal' },
      schema: {
        body: z.object({ share: z.string().min(1).max(256) }).strict(),
        response: responses({ 200: sealStatus }),
      },
    },
    (request) => operator.unseal(contextOf(request), request.body.share),
  );

  app.post(
    '/v1/operator/seal',
    { config: { action: 'operator.seal' }, schema: { response: responses({ 200: sealStatus }) } },
    async (request) => {
      await operator.seal(contextOf(request));
      return operator.status();
    },
  );
}
