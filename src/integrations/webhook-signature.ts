import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * How a receiver knows that a webhook delivery comes from Tessera, unchanged and recent.
 *
 * Every attempt is a `POST` with a JSON body `{ id, event, occurredAt, severity, data }` and
 * these headers:
 *
 * - `x-tessera-event`: the event name, e.g. `request.created`;
 * - `x-tessera-delivery`: the delivery's id, the same on every retry of it. Deliveries are at
 *   least once: a receiver that answered too slowly can get one again, so it uses this id to
 *   ignore a repeat;
 * - `x-tessera-timestamp`: when this attempt was sent, in Unix seconds;
 * - `x-tessera-signature`: `sha256=` and the lower-case hex HMAC-SHA256 of the string
 *   `TIMESTAMP.BODY` (the timestamp header, a dot, and the raw body bytes as received).
 *
 * The HMAC key is the webhook's key exactly as Tessera showed it once (at creation or rotation):
 * its 43 base64url characters, used as they are (their ASCII bytes), not decoded. A receiver
 * recomputes the HMAC over the raw body before parsing it, compares in constant time
 * (`verifyWebhookSignature`), and refuses a timestamp more than a few minutes from its own
 * clock, so that a captured delivery cannot be replayed later.
 */
export function signWebhookBody(key: string, timestamp: string, body: string | Buffer): string {
  const mac = createHmac('sha256', Buffer.from(key, 'utf8'));
  mac.update(`${timestamp}.`);
  mac.update(body);
  return `sha256=${mac.digest('hex')}`;
}

/**
 * Whether `header` (the `x-tessera-signature` value) signs `timestamp` and `body` with `key`.
 * Compares in constant time. It does not judge the timestamp's age: the caller does, against
 * its own clock.
 */
export function verifyWebhookSignature(
  key: string,
  timestamp: string,
  body: string | Buffer,
  header: string,
): boolean {
  if (!/^\d{1,12}$/.test(timestamp)) return false;
  const expected = Buffer.from(signWebhookBody(key, timestamp, body), 'utf8');
  const given = Buffer.from(header, 'utf8');
  // timingSafeEqual needs equal lengths; the length of a well-formed header is public anyway.
  if (given.length !== expected.length) return false;
  return timingSafeEqual(given, expected);
}
