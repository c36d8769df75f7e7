import { TesseraError } from '../errors.ts';

/** Longest URL an administrator may configure for a webhook or a ticket system. */
export const MAX_OUTBOUND_URL_LENGTH = 2048;

/**
 * Checks a URL an administrator configured for Tessera to call (a webhook receiver, a ticket
 * system) and answers its normalised form. Only http and https, and no user name or password in
 * the URL: credentials there end up in logs, listings and audit details. Private and loopback
 * addresses are allowed, since only administrators configure these URLs and receivers often
 * live inside the network; redirects are never followed, so a receiver cannot send Tessera on.
 */
export function parseOutboundUrl(text: string, field: string): URL {
  if (text.length > MAX_OUTBOUND_URL_LENGTH) {
    throw invalid(field, `${field} is longer than ${MAX_OUTBOUND_URL_LENGTH} characters`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // The parser's message repeats the input; ours names the field only.
    throw invalid(field, `${field} is not an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid(field, `${field} must be an http or https URL`);
  }
  if (url.username !== '' || url.password !== '') {
    throw invalid(field, `${field} must not carry a user name or password`);
  }
  if (url.hostname === '') throw invalid(field, `${field} has no host`);
  return url;
}

function invalid(field: string, message: string): TesseraError {
  return new TesseraError('VALIDATION_FAILED', message, { field });
}

/** Why a call to an outside system failed, in a few words that carry no reply body. */
export function describeFetchFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return error.name === 'TimeoutError'
      ? `no answer within ${timeoutMs / 1000} s`
      : 'the call was interrupted';
  }
  const code = causeCode(error);
  return code === null ? 'the connection failed' : `the connection failed (${code})`;
}

/** Node's fetch hides the socket error (ECONNREFUSED, ENOTFOUND) in `cause`. */
function causeCode(error: unknown): string | null {
  const cause = error instanceof Error ? error.cause : undefined;
  if (typeof cause !== 'object' || cause === null || !('code' in cause)) return null;
  const code = (cause as { code: unknown }).code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code) ? code : null;
}
