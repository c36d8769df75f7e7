import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TesseraError } from '../errors.ts';
import type { Principal } from '../identity/principal.ts';
import type { TokenService } from '../identity/tokens.ts';

/**
 * The web console's session: the login token in an HttpOnly cookie, so no script on the page
 * can read it, plus a CSRF token the page keeps in memory and sends back on every request that
 * changes something. A cookie goes with any request the browser makes to Tessera; the CSRF
 * header only with the console's own.
 */
export const SESSION_COOKIE = 'tessera_session';
export const CSRF_HEADER = 'x-tessera-csrf';

const CSRF_KEY_BYTES = 32;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface CsrfTokens {
  /** The CSRF token of the session whose login token has this id. */
  tokenFor(tokenId: string): string;
  /** Whether `presented` is that token; compared in constant time. */
  matches(tokenId: string, presented: unknown): boolean;
}

/**
 * CSRF tokens derived from the login token's id under a key that lives only in this process:
 * nothing to store, and a token dies with its session. A restart changes the key, so the page
 * fetches its token again (GET /v1/auth/session) when it loads.
 */
export function createCsrfTokens(key: Buffer = randomBytes(CSRF_KEY_BYTES)): CsrfTokens {
  const tokenFor = (tokenId: string) =>
    createHmac('sha256', key).update(tokenId, 'utf8').digest('base64url');
  return {
    tokenFor,
    matches(tokenId, presented) {
      if (typeof presented !== 'string') return false;
      const expected = Buffer.from(tokenFor(tokenId), 'utf8');
      const given = Buffer.from(presented, 'utf8');
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}

/**
 * The caller behind the session cookie, or null without one. The checks a bearer token does not
 * need, because a browser never adds an Authorization header on its own:
 * - a request that may change something carries the session's CSRF token;
 * - a WebSocket upgrade comes from a page of this server's own origin (browsers send no custom
 *   header with an upgrade, but always the Origin).
 * On a route anyone may call, a cookie that fails them only makes the caller anonymous: a stale
 * tab must not break a new sign-in.
 */
export async function authenticateCookie(
  deps: { tokens: TokenService; csrf: CsrfTokens },
  request: FastifyRequest,
  anonymousRoute: boolean,
): Promise<Principal | null> {
  const token = request.cookies[SESSION_COOKIE];
  if (token === undefined || token === '') return null;
  const principal = await deps.tokens.authenticate(token);
  if (principal === null) {
    if (anonymousRoute) return null;
    throw new TesseraError('UNAUTHENTICATED', 'the session has ended: sign in again');
  }
  const forged = crossSiteRisk(deps.csrf, request, principal);
  if (forged === null) return principal;
  if (anonymousRoute) return null;
  throw new TesseraError('CSRF_FAILED', forged);
}

/** Why the request may have been forged by another site, or null when it is the console's. */
function crossSiteRisk(
  csrf: CsrfTokens,
  request: FastifyRequest,
  principal: Principal,
): string | null {
  if (isWebSocketUpgrade(request)) {
    return isSameOrigin(request) ? null : 'a WebSocket must come from the console itself';
  }
  if (SAFE_METHODS.has(request.method)) return null;
  if (csrf.matches(principal.tokenId, request.headers[CSRF_HEADER])) return null;
  return `send the session's CSRF token in ${CSRF_HEADER}`;
}

function isWebSocketUpgrade(request: FastifyRequest): boolean {
  return request.headers.upgrade?.toLowerCase() === 'websocket';
}

/** Whether the Origin header names this server as the request reached it. */
export function isSameOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  try {
    return new URL(origin).origin === new URL(`${request.protocol}://${request.host}`).origin;
  } catch {
    // An Origin or Host that is not a URL (`null` from a sandboxed frame) is not this server.
    return false;
  }
}

/** Sets the session cookie: HttpOnly, SameSite=Strict, Secure over TLS, gone with the token. */
export function setSessionCookie(
  reply: FastifyReply,
  token: string,
  lifetimeMs: number | null,
): void {
  reply.setCookie(SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: 'strict',
    path: '/',
    secure: reply.request.protocol === 'https',
    ...(lifetimeMs === null ? {} : { maxAge: Math.max(0, Math.floor(lifetimeMs / 1000)) }),
  });
}

export function clearSessionCookie(reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, {
    httpOnly: true,
    sameSite: 'strict',
    path: '/',
    secure: reply.request.protocol === 'https',
  });
}
