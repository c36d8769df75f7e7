import { z } from 'zod';
import { TesseraError } from '../errors.ts';
import { describeFetchFailure, parseOutboundUrl } from './outbound-url.ts';
import { assertTicketValue } from './ticket-pattern.ts';

export {
  assertTicketValue,
  checkTicketPattern,
  compileTicketPattern,
  isTicketValue,
} from './ticket-pattern.ts';

export interface TicketQuery {
  /** The ticket system's endpoint, from the access policy. */
  readonly url: string;
  readonly ticket: string;
  /** The requester's user name. */
  readonly requester: string;
  /** The safe's name. */
  readonly safe: string;
  /** The account (`USERNAME@TARGET`), or null for a request on a whole safe. */
  readonly account: string | null;
}

export interface TicketVerdict {
  readonly valid: boolean;
  /** The ticket system's own words, cut short and stripped of control characters. */
  readonly detail: string | null;
}

/**
 * Asks a ticketing system whether a ticket reference justifies an access request. Throws
 * TICKET_SYSTEM_UNAVAILABLE when no verdict can be had, so the caller fails closed.
 */
export interface TicketValidator {
  validate(query: TicketQuery): Promise<TicketVerdict>;
}

export const TICKET_TIMEOUT_MS = 5_000;
/** A verdict is a few dozen bytes; a larger answer is not one. */
const MAX_ANSWER_BYTES = 16 * 1024;
const MAX_DETAIL_LENGTH = 200;

const answer = z.object({
  valid: z.boolean(),
  detail: z.string().nullish(),
});

/**
 * The generic HTTP protocol: `POST URL` with the JSON body `{ ticket, requester, safe, account }`;
 * a 2xx answer with the JSON body `{ "valid": true|false, "detail": "..." }` decides. Anything
 * else (another status, a redirect, which is never followed, no answer within the timeout, a
 * body that is not such JSON) is TICKET_SYSTEM_UNAVAILABLE, saying what happened without
 * repeating the answer.
 */
export function createHttpTicketValidator(
  options: { fetch?: typeof fetch; timeoutMs?: number } = {},
): TicketValidator {
  const send = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? TICKET_TIMEOUT_MS;

  return {
    async validate(query) {
      assertTicketValue(query.ticket);
      const url = validatorUrl(query.url);
      const signal = AbortSignal.timeout(timeoutMs);
      let text: string;
      try {
        const response = await send(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({
            ticket: query.ticket,
            requester: query.requester,
            safe: query.safe,
            account: query.account,
          }),
          redirect: 'manual',
          signal,
        });
        if (response.status < 200 || response.status >= 300) {
          await response.body?.cancel().catch(() => undefined);
          throw unavailable(`the ticket system answered HTTP ${response.status}`);
        }
        text = await readBounded(response);
      } catch (error) {
        if (error instanceof TesseraError) throw error;
        throw unavailable(`the ticket system: ${describeFetchFailure(error, timeoutMs)}`);
      }
      return verdictOf(text);
    },
  };
}

function validatorUrl(text: string): URL {
  try {
    return parseOutboundUrl(text, 'ticketValidatorUrl');
  } catch {
    throw unavailable("the access policy's ticket validator URL is not a usable http(s) URL");
  }
}

function verdictOf(text: string): TicketVerdict {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw unavailable('the ticket system did not answer with JSON');
  }
  const result = answer.safeParse(parsed);
  if (!result.success) {
    throw unavailable('the ticket system answered without a boolean "valid"');
  }
  const detail = result.data.detail;
  return { valid: result.data.valid, detail: detail == null ? null : sanitize(detail) };
}

/** The body as text, refused past MAX_ANSWER_BYTES without reading the rest. */
async function readBounded(response: Response): Promise<string> {
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += chunk.byteLength;
    // Leaving the loop cancels the rest of the body.
    if (size > MAX_ANSWER_BYTES)
      throw unavailable('the ticket system answered with more than a verdict');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** No control characters, so a detail shown in a terminal or the console cannot rewrite it. */
function sanitize(detail: string): string | null {
  const clean = detail.replace(/\p{C}+/gu, ' ').trim();
  if (clean === '') return null;
  return clean.length > MAX_DETAIL_LENGTH ? `${clean.slice(0, MAX_DETAIL_LENGTH)}…` : clean;
}

function unavailable(message: string): TesseraError {
  return new TesseraError('TICKET_SYSTEM_UNAVAILABLE', message);
}
