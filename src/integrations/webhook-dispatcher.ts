import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.ts';
import { SYSTEM_CONTEXT } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import type { Store } from '../store/store.ts';
import { webhookKeyContext } from '../vault/contexts.ts';
import type { Keyring } from '../vault/keyring.ts';
import { openWithRoot } from '../vault/root-sealed.ts';
import { describeFetchFailure } from './outbound-url.ts';
import { signWebhookBody } from './webhook-signature.ts';

export interface WebhookDispatcher {
  /** Looks for due deliveries every `intervalMs`, besides every nudge. */
  start(intervalMs: number): void;
  /** Stops looking, interrupts attempts under way and waits for them to be recorded. */
  stop(): Promise<void>;
  /** Sends what is due now and resolves once every attempt it started is recorded. */
  tickNow(): Promise<void>;
  /** Something was queued: look now rather than at the next interval. Never throws. */
  nudge(): void;
}

/** How often the server looks for due deliveries; a new event is sent at once anyway. */
export const WEBHOOK_DISPATCH_INTERVAL_MS = 1_000;
export const WEBHOOK_ATTEMPT_TIMEOUT_MS = 10_000;
export const WEBHOOK_MAX_ATTEMPTS = 10;
/** Receivers served at once by this node, one delivery at a time each. */
const MAX_IN_FLIGHT = 4;
/**
 * A claimed delivery is due again after this long: a node that stopped or crashed during an
 * attempt leaves it to be sent again (at least once). Well above the attempt timeout.
 */
const CLAIM_MS = 60_000;
const FIRST_RETRY_MS = 5_000;
const MAX_RETRY_MS = 3_600_000;
/** Receivers with something due that one pass looks at. */
const DUE_WEBHOOKS = 100;

/** 5 s after the first failed attempt, doubling, at most an hour. */
export function webhookRetryDelayMs(attempts: number): number {
  return Math.min(FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1), MAX_RETRY_MS);
}

interface Claimed {
  readonly id: string;
  readonly webhookId: string;
  readonly webhookName: string;
  readonly url: string;
  readonly sealedKey: Buffer;
  readonly event: string;
  readonly body: string;
  /** Counting this one. */
  readonly attempts: number;
}

type Outcome = { readonly ok: true } | { readonly ok: false; readonly error: string };

/**
 * Sends queued webhook deliveries. Each receiver gets one delivery at a time and at most
 * MAX_IN_FLIGHT receivers are served at once, so a slow or failing receiver holds one slot and
 * never the others. A delivery is claimed by a conditional update before it is sent, so nodes
 * sharing a database send it once (at least once after a crash). A receiver that fails is left
 * alone until its failed delivery's retry time. While the vault is sealed nothing is sent: the
 * signing keys are sealed under the root key.
 */
export function createWebhookDispatcher(deps: {
  store: Store;
  audit: AuditLog;
  keyring: Pick<Keyring, 'keys' | 'isSealed'>;
  clock: Clock;
  logger: Logger;
  fetch?: typeof fetch;
}): WebhookDispatcher {
  const { store, audit, keyring, clock, logger } = deps;
  const send = deps.fetch ?? fetch;
  const workers = new Map<string, Promise<void>>();
  const looks = new Set<Promise<void>>();
  /** Receivers left alone until then (clock time), after a failure. */
  const restingUntil = new Map<string, number>();
  let timer: NodeJS.Timeout | null = null;
  let stopping = false;
  let interrupt = new AbortController();

  const dueWebhooks = async (now: number) => {
    const rows = await store.db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhooks as w', 'w.id', 'd.webhook_id')
      .select('d.webhook_id')
      .select((eb) => eb.fn.min('d.next_attempt_at').as('first_due'))
      .where('d.state', '=', 'pending')
      .where('d.next_attempt_at', '<=', now)
      .where('w.enabled', '=', 1)
      .groupBy('d.webhook_id')
      .orderBy('first_due')
      .limit(DUE_WEBHOOKS)
      .execute();
    return rows.map((row) => row.webhook_id);
  };

  const nextDue = (webhookId: string, now: number) =>
    store.db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhooks as w', 'w.id', 'd.webhook_id')
      .select(['d.id', 'd.event', 'd.payload', 'd.attempts', 'w.name', 'w.url', 'w.ciphertext'])
      .where('d.webhook_id', '=', webhookId)
      .where('d.state', '=', 'pending')
      .where('d.next_attempt_at', '<=', now)
      .where('w.enabled', '=', 1)
      .orderBy('d.next_attempt_at')
      .orderBy('d.created_at')
      .limit(1)
      .executeTakeFirst();

  /** Takes the delivery for this node and counts the attempt; false if another node has it. */
  const claim = async (id: string, attempts: number, now: number) => {
    const result = await store.db
      .updateTable('webhook_deliveries')
      .set({ attempts: attempts + 1, next_attempt_at: now + CLAIM_MS })
      .where('id', '=', id)
      .where('state', '=', 'pending')
      .where('attempts', '=', attempts)
      .where('next_attempt_at', '<=', now)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  };

  const post = async (d: Claimed): Promise<Outcome> => {
    let key: string;
    try {
      key = openWithRoot(keyring, d.sealedKey, webhookKeyContext(d.webhookId)).toString('utf8');
    } catch {
      return { ok: false, error: 'the signing key could not be opened' };
    }
    const timestamp = String(Math.floor(clock.now() / 1000));
    const signal = AbortSignal.any([
      AbortSignal.timeout(WEBHOOK_ATTEMPT_TIMEOUT_MS),
      interrupt.signal,
    ]);
    try {
      const response = await send(d.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'tessera-webhooks/1',
          'x-tessera-event': d.event,
          'x-tessera-delivery': d.id,
          'x-tessera-timestamp': timestamp,
          'x-tessera-signature': signWebhookBody(key, timestamp, d.body),
        },
        body: d.body,
        // A receiver must not send Tessera, and the signed event, somewhere else.
        redirect: 'manual',
        signal,
      });
      // Only the status counts; what the receiver wrote is neither read nor kept.
      await response.body?.cancel().catch(() => undefined);
      if (response.status >= 200 && response.status < 300) return { ok: true };
      if (response.status >= 300 && response.status < 400) {
        return { ok: false, error: `HTTP ${response.status}: redirects are not followed` };
      }
      return { ok: false, error: `HTTP ${response.status}` };
    } catch (error) {
      return { ok: false, error: describeFetchFailure(error, WEBHOOK_ATTEMPT_TIMEOUT_MS) };
    }
  };

  const delivered = async (d: Claimed) => {
    await store.db
      .updateTable('webhook_deliveries')
      .set({ state: 'delivered', delivered_at: clock.now(), last_error: null })
      .where('id', '=', d.id)
      .where('state', '=', 'pending')
      .where('attempts', '=', d.attempts)
      .execute();
  };

  const retryLater = async (d: Claimed, error: string) => {
    const next = clock.now() + webhookRetryDelayMs(d.attempts);
    restingUntil.set(d.webhookId, next);
    await store.db
      .updateTable('webhook_deliveries')
      .set({ next_attempt_at: next, last_error: error })
      .where('id', '=', d.id)
      .where('state', '=', 'pending')
      .where('attempts', '=', d.attempts)
      .execute();
    logger.warn(
      { webhook: d.webhookName, delivery: d.id, event: d.event, attempts: d.attempts, error },
      'webhook delivery failed; will retry',
    );
  };

  /** The last attempt failed: the delivery is given up, and the trail says so. */
  const giveUp = async (d: Claimed, error: string) => {
    restingUntil.set(d.webhookId, clock.now() + FIRST_RETRY_MS);
    await store.transaction(async (trx) => {
      const result = await trx
        .updateTable('webhook_deliveries')
        .set({ state: 'failed', last_error: error })
        .where('id', '=', d.id)
        .where('state', '=', 'pending')
        .where('attempts', '=', d.attempts)
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) return;
      await audit.appendInTx(trx, [
        {
          action: 'webhook.delivery.failed',
          outcome: 'failure',
          actor: SYSTEM_CONTEXT.actor,
          object: { type: 'webhook', id: d.webhookId, name: d.webhookName },
          reason: error,
          details: { delivery: d.id, event: d.event, attempts: d.attempts },
        },
      ]);
    });
    await store.durable();
    logger.error(
      { webhook: d.webhookName, delivery: d.id, event: d.event, attempts: d.attempts, error },
      'webhook delivery given up',
    );
  };

  const attempt = async (d: Claimed): Promise<boolean> => {
    const outcome = await post(d);
    if (outcome.ok) await delivered(d);
    else if (d.attempts >= WEBHOOK_MAX_ATTEMPTS) await giveUp(d, outcome.error);
    else await retryLater(d, outcome.error);
    return outcome.ok;
  };

  /** One receiver's due deliveries, oldest first, until none is due or one fails. */
  const drain = async (webhookId: string) => {
    while (!stopping && !keyring.isSealed()) {
      const now = clock.now();
      const row = await nextDue(webhookId, now);
      if (row === undefined) return;
      if (!(await claim(row.id, row.attempts, now))) continue;
      const ok = await attempt({
        id: row.id,
        webhookId,
        webhookName: row.name,
        url: row.url,
        sealedKey: row.ciphertext,
        event: row.event,
        body: row.payload,
        attempts: row.attempts + 1,
      });
      if (!ok) return;
    }
  };

  const startWorker = (webhookId: string) => {
    const work = drain(webhookId)
      .catch((error: unknown) => {
        // A store fault: rest this receiver a while rather than spin on it.
        restingUntil.set(webhookId, clock.now() + FIRST_RETRY_MS);
        logger.error({ err: error }, 'webhook dispatch failed');
      })
      .finally(() => {
        workers.delete(webhookId);
        // A slot is free: receivers that waited for one need not wait for the next interval.
        if (!stopping) void look();
      });
    workers.set(webhookId, work);
  };

  const lookOnce = async () => {
    if (stopping || keyring.isSealed() || workers.size >= MAX_IN_FLIGHT) return;
    const now = clock.now();
    for (const webhookId of await dueWebhooks(now)) {
      if (stopping || workers.size >= MAX_IN_FLIGHT) return;
      // Checked and set with no await in between: concurrent looks never start a receiver twice.
      if (workers.has(webhookId) || (restingUntil.get(webhookId) ?? 0) > now) continue;
      restingUntil.delete(webhookId);
      startWorker(webhookId);
    }
  };

  const look = () => {
    const pass = lookOnce()
      .catch((error: unknown) => logger.error({ err: error }, 'webhook dispatch pass failed'))
      .finally(() => looks.delete(pass));
    looks.add(pass);
    return pass;
  };

  const settle = async () => {
    while (looks.size + workers.size > 0) {
      await Promise.all([...looks, ...workers.values()]);
    }
  };

  return {
    start(intervalMs) {
      stopping = false;
      interrupt = new AbortController();
      timer = setInterval(() => void look(), intervalMs);
      timer.unref();
    },
    async stop() {
      stopping = true;
      if (timer !== null) clearInterval(timer);
      timer = null;
      interrupt.abort();
      await settle();
    },
    async tickNow() {
      await look();
      await settle();
    },
    nudge() {
      if (!stopping) void look();
    },
  };
}
