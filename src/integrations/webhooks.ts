import { randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditEventInput, RequestContext } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import { notFound, TesseraError } from '../errors.ts';
import type { Principal } from '../identity/principal.ts';
import type { WebhookDeliveryTable, WebhookTable } from '../store/schema.ts';
import type { Store, Tx } from '../store/store.ts';
import { webhookKeyContext } from '../vault/contexts.ts';
import type { Keyring } from '../vault/keyring.ts';
import { sealWithRoot } from '../vault/root-sealed.ts';
import type { Notifier } from './notifier.ts';
import { parseOutboundUrl } from './outbound-url.ts';
import { createWebhookDispatcher, type WebhookDispatcher } from './webhook-dispatcher.ts';
import {
  assertEventName,
  joinEventFilters,
  parseEventFilters,
  splitEventFilters,
  subscribesTo,
} from './webhook-events.ts';

export { verifyWebhookSignature } from './webhook-signature.ts';
export type { WebhookDispatcher };

export interface Webhook {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  /** Event names, prefixes ending in a dot, or `*`. */
  readonly events: readonly string[];
  readonly enabled: boolean;
  readonly createdAt: number;
  readonly createdBy: string;
}

export type DeliveryState = 'pending' | 'delivered' | 'failed';

export interface WebhookDelivery {
  readonly id: string;
  readonly event: string;
  readonly state: DeliveryState;
  readonly attempts: number;
  /** When the next attempt is due; null once delivered or given up. */
  readonly nextAttemptAt: number | null;
  /** Why the last attempt failed, in a few words (never the receiver's reply). */
  readonly lastError: string | null;
  readonly createdAt: number;
  readonly deliveredAt: number | null;
}

/** A webhook and its signing key, which is shown this once and never again. */
export interface WebhookWithKey {
  readonly webhook: Webhook;
  readonly key: string;
}

export interface WebhookService {
  create(
    ctx: RequestContext,
    principal: Principal,
    input: { name: string; url: string; events: readonly string[] },
  ): Promise<WebhookWithKey>;
  list(): Promise<Webhook[]>;
  /** Removes the webhook and every delivery queued for it. */
  remove(ctx: RequestContext, principal: Principal, name: string): Promise<void>;
  /** A new signing key, from the next attempt on; the old one stops verifying at once. */
  rotateKey(ctx: RequestContext, principal: Principal, name: string): Promise<WebhookWithKey>;
  /** Queues a `webhook.test` event for this webhook alone, whatever it subscribes to. */
  test(ctx: RequestContext, principal: Principal, name: string): Promise<WebhookDelivery>;
  /** The newest deliveries first. */
  deliveries(name: string, options: { limit: number }): Promise<WebhookDelivery[]>;
}

export interface Webhooks {
  readonly service: WebhookService;
  readonly notifier: Notifier;
  readonly dispatcher: WebhookDispatcher;
}

export type Severity = 'info' | 'critical';

const KEY_BYTES = 32;
/** A webhook per team, SIEM and chat room is plenty; a runaway script is not. */
const MAX_WEBHOOKS = 100;
/** Payloads are metadata; anything this large is a fault in the caller. */
const MAX_BODY_BYTES = 64 * 1024;
/** Longest text of one payload field written to the log with a critical alert. */
const MAX_LOGGED_TEXT = 200;

/**
 * Outgoing webhooks: the administrators' configuration, the notifier the domains call, and the
 * dispatcher that sends. Deliveries are a durable outbox (`webhook_deliveries`): queued in the
 * store before the notifier returns, so they survive a restart and wait out a receiver that is
 * down.
 */
export function createWebhooks(deps: {
  store: Store;
  audit: AuditLog;
  keyring: Pick<Keyring, 'keys' | 'isSealed'>;
  clock: Clock;
  logger: Logger;
  fetch?: typeof fetch;
}): Webhooks {
  const { store, audit, keyring, clock, logger } = deps;
  const dispatcher = createWebhookDispatcher(deps);

  /** Queues one delivery per webhook; the body, and so its `id`, is the same for all of them. */
  const enqueue = async (
    trx: Tx,
    hooks: readonly { id: string }[],
    event: string,
    severity: Severity,
    data: Readonly<Record<string, unknown>>,
  ): Promise<WebhookDeliveryTable[]> => {
    const now = clock.now();
    const body = JSON.stringify({
      id: randomUUID(),
      event,
      occurredAt: new Date(now).toISOString(),
      severity,
      data,
    });
    if (Buffer.byteLength(body) > MAX_BODY_BYTES) throw new Error('webhook payload too large');
    const rows = hooks.map((hook) => ({
      id: randomUUID(),
      webhook_id: hook.id,
      event,
      payload: body,
      attempts: 0,
      next_attempt_at: now,
      state: 'pending',
      last_error: null,
      created_at: now,
      delivered_at: null,
    }));
    if (rows.length > 0) await trx.insertInto('webhook_deliveries').values(rows).execute();
    return rows;
  };

  const queue = async (
    hooks: readonly { id: string }[],
    event: string,
    severity: Severity,
    data: Readonly<Record<string, unknown>>,
  ) => {
    if (hooks.length === 0) return;
    await store.transaction((trx) => enqueue(trx, hooks, event, severity, data));
    await store.durable();
    dispatcher.nudge();
  };

  const enabledWebhooks = async () => {
    const rows = await store.db
      .selectFrom('webhooks')
      .select(['id', 'events'])
      .where('enabled', '=', 1)
      .execute();
    return rows.map((row) => ({ id: row.id, events: splitEventFilters(row.events) }));
  };

  const notifier: Notifier = {
    async notify(event, payload) {
      assertEventName(event);
      const hooks = await enabledWebhooks();
      const subscribed = hooks.filter((hook) => subscribesTo(hook.events, event));
      await queue(subscribed, event, 'info', payload);
    },

    async alert(event, payload) {
      assertEventName(event);
      // Logged before anything else: if the store is what failed, the log still has the alarm.
      logger.error({ event, alert: loggableFields(payload) }, 'critical alert');
      await queue(await enabledWebhooks(), event, 'critical', payload);
    },
  };

  const service = createWebhookService({ store, audit, keyring, clock, enqueue, dispatcher });
  return { service, notifier, dispatcher };
}

type Enqueue = (
  trx: Tx,
  hooks: readonly { id: string }[],
  event: string,
  severity: Severity,
  data: Readonly<Record<string, unknown>>,
) => Promise<WebhookDeliveryTable[]>;

function createWebhookService(deps: {
  store: Store;
  audit: AuditLog;
  keyring: Pick<Keyring, 'keys'>;
  clock: Clock;
  enqueue: Enqueue;
  dispatcher: WebhookDispatcher;
}): WebhookService {
  const { store, audit, keyring, clock } = deps;

  const findRow = async (q: Store['db'] | Tx, name: string) => {
    const row = await q
      .selectFrom('webhooks')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    if (row === undefined) throw notFound('webhook');
    return row;
  };

  const event = (
    ctx: RequestContext,
    action: string,
    row: Pick<WebhookTable, 'id' | 'name'>,
    details: AuditEventInput['details'],
  ): AuditEventInput => ({
    action,
    outcome: 'success',
    actor: ctx.actor,
    object: { type: 'webhook', id: row.id, name: row.name },
    source: ctx.source,
    requestId: ctx.requestId,
    details,
  });

  /** A fresh key, sealed under the root key and bound to its webhook. */
  const newKey = (webhookId: string) => {
    const key = randomBytes(KEY_BYTES).toString('base64url');
    const sealed = sealWithRoot(keyring, Buffer.from(key, 'utf8'), webhookKeyContext(webhookId));
    return { key, sealed };
  };

  return {
    async create(ctx, principal, input) {
      const url = parseOutboundUrl(input.url, 'url');
      const events = parseEventFilters(input.events);
      const id = randomUUID();
      const { key, sealed } = newKey(id);
      const row: WebhookTable = {
        id,
        name: input.name,
        url: url.href,
        ciphertext: sealed,
        events: joinEventFilters(events),
        enabled: 1,
        created_at: clock.now(),
        created_by: principal.name,
      };
      await store.transaction(async (trx) => {
        const taken = await trx
          .selectFrom('webhooks')
          .select('id')
          .where('name', '=', input.name)
          .executeTakeFirst();
        if (taken !== undefined) {
          throw new TesseraError('ALREADY_EXISTS', 'a webhook with this name exists');
        }
        const count = await trx
          .selectFrom('webhooks')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow();
        if (Number(count.n) >= MAX_WEBHOOKS) {
          throw new TesseraError('CONFLICT', `at most ${MAX_WEBHOOKS} webhooks`);
        }
        await trx.insertInto('webhooks').values(row).execute();
        // The receiver's origin only: a path or query can hold the receiver's own token.
        const details = { origin: url.origin, events: row.events };
        await audit.appendInTx(trx, [event(ctx, 'webhook.create', row, details)]);
      });
      await store.durable();
      return { webhook: toWebhook(row), key };
    },

    async list() {
      const rows = await store.db.selectFrom('webhooks').selectAll().orderBy('name').execute();
      return rows.map(toWebhook);
    },

    async remove(ctx, _principal, name) {
      await store.transaction(async (trx) => {
        const row = await findRow(trx, name);
        const dropped = await trx
          .deleteFrom('webhook_deliveries')
          .where('webhook_id', '=', row.id)
          .where('state', '=', 'pending')
          .executeTakeFirst();
        await trx.deleteFrom('webhook_deliveries').where('webhook_id', '=', row.id).execute();
        await trx.deleteFrom('webhooks').where('id', '=', row.id).execute();
        const details = { droppedPending: Number(dropped.numDeletedRows) };
        await audit.appendInTx(trx, [event(ctx, 'webhook.remove', row, details)]);
      });
      await store.durable();
    },

    async rotateKey(ctx, _principal, name) {
      const updated = await store.transaction(async (trx) => {
        const row = await findRow(trx, name);
        const { key, sealed } = newKey(row.id);
        await trx
          .updateTable('webhooks')
          .set({ ciphertext: sealed })
          .where('id', '=', row.id)
          .execute();
        await audit.appendInTx(trx, [event(ctx, 'webhook.rotate-key', row, {})]);
        return { webhook: toWebhook(row), key };
      });
      await store.durable();
      return updated;
    },

    async test(ctx, principal, name) {
      const delivery = await store.transaction(async (trx) => {
        const row = await findRow(trx, name);
        const data = { webhook: row.name, requestedBy: principal.name };
        const [queued] = await deps.enqueue(trx, [row], 'webhook.test', 'info', data);
        if (queued === undefined) throw new Error('no test delivery queued');
        await audit.appendInTx(trx, [event(ctx, 'webhook.test', row, { delivery: queued.id })]);
        return queued;
      });
      await store.durable();
      deps.dispatcher.nudge();
      return toDelivery(delivery);
    },

    async deliveries(name, { limit }) {
      const row = await findRow(store.db, name);
      const rows = await store.db
        .selectFrom('webhook_deliveries')
        .selectAll()
        .where('webhook_id', '=', row.id)
        .orderBy('created_at', 'desc')
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map(toDelivery);
    },
  };
}

function toWebhook(row: WebhookTable): Webhook {
  return {
    id: row.id,
    name: row.name,
    url: row.url,
    events: splitEventFilters(row.events),
    enabled: row.enabled !== 0,
    createdAt: row.created_at,
    createdBy: row.created_by,
  };
}

function toDelivery(row: WebhookDeliveryTable): WebhookDelivery {
  const state = row.state as DeliveryState;
  return {
    id: row.id,
    event: row.event,
    state,
    attempts: row.attempts,
    nextAttemptAt: state === 'pending' ? row.next_attempt_at : null,
    lastError: row.last_error,
    createdAt: row.created_at,
    deliveredAt: row.delivered_at,
  };
}

/**
 * What a critical alert writes to the log: the payload's scalar fields, texts cut short. The
 * payload is metadata by contract; the logger's redaction still covers fields named like secrets.
 */
function loggableFields(payload: Readonly<Record<string, unknown>>) {
  const fields: Record<string, string | number | boolean | null> = {};
  for (const [name, value] of Object.entries(payload)) {
    if (typeof value === 'string') fields[name] = value.slice(0, MAX_LOGGED_TEXT);
    else if (typeof value === 'number' || typeof value === 'boolean' || value === null) {
      fields[name] = value;
    }
  }
  return fields;
}
