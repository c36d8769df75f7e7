import { z } from 'zod';
import { MAX_OUTBOUND_URL_LENGTH } from '../../integrations/outbound-url.ts';
import { MAX_EVENT_FILTERS, MAX_EVENT_LENGTH } from '../../integrations/webhook-events.ts';
import type { Webhook, WebhookDelivery } from '../../integrations/webhooks.ts';
import type { Services } from '../../services.ts';
import { type App, contextOf, principalOf } from '../app.ts';
import { iso, name, responses } from '../schemas.ts';

const webhook = z.object({
  id: z.string(),
  name: z.string(),
  url: z.string(),
  events: z.array(z.string()),
  enabled: z.boolean(),
  createdAt: z.string(),
  createdBy: z.string(),
});
const withKey = z.object({
  webhook,
  key: z.string().describe('the HMAC signing key: shown in this answer only, never again'),
});
const delivery = z.object({
  id: z.string(),
  event: z.string(),
  state: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number(),
  nextAttemptAt: z.string().nullable(),
  lastError: z.string().nullable(),
  createdAt: z.string(),
  deliveredAt: z.string().nullable(),
});

/** The API's view of a webhook, field by field: the sealed key never leaves this way. */
const toWebhook = (w: Webhook) => ({
  id: w.id,
  name: w.name,
  url: w.url,
  events: [...w.events],
  enabled: w.enabled,
  createdAt: iso(w.createdAt),
  createdBy: w.createdBy,
});
const toDelivery = (d: WebhookDelivery) => ({
  id: d.id,
  event: d.event,
  state: d.state,
  attempts: d.attempts,
  nextAttemptAt: iso(d.nextAttemptAt),
  lastError: d.lastError,
  createdAt: iso(d.createdAt),
  deliveredAt: iso(d.deliveredAt),
});

const params = z.object({ name });

/** Outgoing webhooks: administrators configure them, auditors may see them and their deliveries. */
export function webhookRoutes(app: App, { webhooks }: Pick<Services, 'webhooks'>): void {
  app.post(
    '/v1/webhooks',
    {
      config: { action: 'webhook.manage' },
      schema: {
        summary: 'Add a webhook; its signing key is in this answer only',
        body: z
          .object({
            name,
            url: z.string().min(1).max(MAX_OUTBOUND_URL_LENGTH),
            events: z
              .array(z.string().min(1).max(MAX_EVENT_LENGTH))
              .min(1)
              .max(MAX_EVENT_FILTERS)
              .describe('event names, prefixes ending in a dot (request.), or *'),
          })
          .strict(),
        response: responses({ 201: withKey }),
      },
    },
    async (request, reply) => {
      const created = await webhooks.create(contextOf(request), principalOf(request), {
        name: request.body.name,
        url: request.body.url,
        events: request.body.events,
      });
      return reply.status(201).send({ webhook: toWebhook(created.webhook), key: created.key });
    },
  );

  app.get(
    '/v1/webhooks',
    {
      config: { action: 'webhook.read' },
      schema: { response: responses({ 200: z.object({ webhooks: z.array(webhook) }) }) },
    },
    async () => ({ webhooks: (await webhooks.list()).map(toWebhook) }),
  );

  app.delete(
    '/v1/webhooks/:name',
    {
      config: { action: 'webhook.manage' },
      schema: {
        summary: 'Remove a webhook and the deliveries still queued for it',
        params,
        response: responses({ 204: z.null() }),
      },
    },
    async (request, reply) => {
      await webhooks.remove(contextOf(request), principalOf(request), request.params.name);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/v1/webhooks/:name/rotate-key',
    {
      config: { action: 'webhook.manage' },
      schema: {
        summary: 'Replace the signing key; the new one is in this answer only',
        params,
        response: responses({ 200: withKey }),
      },
    },
    async (request) => {
      const rotated = await webhooks.rotateKey(
        contextOf(request),
        principalOf(request),
        request.params.name,
      );
      return { webhook: toWebhook(rotated.webhook), key: rotated.key };
    },
  );

  app.post(
    '/v1/webhooks/:name/test',
    {
      config: { action: 'webhook.manage' },
      schema: {
        summary: 'Queue a webhook.test event for this webhook',
        params,
        response: responses({ 202: z.object({ delivery }) }),
      },
    },
    async (request, reply) => {
      const queued = await webhooks.test(
        contextOf(request),
        principalOf(request),
        request.params.name,
      );
      return reply.status(202).send({ delivery: toDelivery(queued) });
    },
  );

  app.get(
    '/v1/webhooks/:name/deliveries',
    {
      config: { action: 'webhook.read' },
      schema: {
        summary: "A webhook's newest deliveries and their state",
        params,
        querystring: z
          .object({ limit: z.coerce.number().int().min(1).max(500).default(50) })
          .strict(),
        response: responses({ 200: z.object({ deliveries: z.array(delivery) }) }),
      },
    },
    async (request) => {
      const found = await webhooks.deliveries(request.params.name, { limit: request.query.limit });
      return { deliveries: found.map(toDelivery) };
    },
  );
}
