import { z } from 'zod';
import { TesseraError } from '../../errors.ts';
import { createPasswordSignIn } from '../../identity/password-sign-in.ts';
import type { Principal } from '../../identity/principal.ts';
import type { Services } from '../../services.ts';
import { type App, contextOf, principalOf } from '../app.ts';
import {
  type CsrfTokens,
  clearSessionCookie,
  isSameOrigin,
  setSessionCookie,
} from '../browser-session.ts';
import { iso, responses, role } from '../schemas.ts';
import { loginBody } from './identity-routes.ts';

const sessionReply = z.object({
  user: z.object({ name: z.string(), role }),
  /** Sent back in x-tessera-csrf on every request that changes something. */
  csrfToken: z.string(),
  expiresAt: z.string().nullable(),
});

/**
 * The web console's sign-in: the same login as POST /v1/auth/login (password throttle,
 * per-source limit, second factor, audit), but the token goes into an HttpOnly cookie and never
 * into a body a script can read. The page learns who it is and its CSRF token instead.
 */
export function sessionAuthRoutes(
  app: App,
  deps: Pick<Services, 'users' | 'mfa' | 'audit' | 'store' | 'clock'> & { csrf: CsrfTokens },
): void {
  const { users, csrf, clock } = deps;
  const passwordSignIn = createPasswordSignIn(deps);
  const session = (
    principal: Pick<Principal, 'name' | 'role' | 'tokenId'>,
    expiresAt: number | null,
  ) => ({
    user: { name: principal.name, role: principal.role },
    csrfToken: csrf.tokenFor(principal.tokenId),
    expiresAt: iso(expiresAt),
  });

  app.post(
    '/v1/auth/session',
    {
      // The login's own action: the same per-source limit and the same rule.
      config: { action: 'auth.login' },
      schema: {
        summary: 'Sign in to the web console: the token is set as an HttpOnly cookie',
        body: loginBody,
        response: responses({ 200: sessionReply }),
      },
    },
    async (request, reply) => {
      // A browser always names the page that sent a POST: another site's page may not sign the
      // user in to an account of its choosing. Other clients send no Origin.
      if (request.headers.origin !== undefined && !isSameOrigin(request)) {
        throw new TesseraError('CSRF_FAILED', 'sign in from the console itself');
      }
      reply.header('cache-control', 'no-store');
      const { source, requestId } = contextOf(request);
      const result = await passwordSignIn.signIn({ source, requestId }, request.body);
      const lifetime = result.expiresAt === null ? null : result.expiresAt - clock.now();
      setSessionCookie(reply, result.token, lifetime);
      return session({ ...result.user, tokenId: result.tokenId }, result.expiresAt);
    },
  );

  app.get(
    '/v1/auth/session',
    {
      config: { action: 'auth.self' },
      schema: {
        summary: 'The signed-in user, the CSRF token and the expiry of the current session',
        response: responses({ 200: sessionReply }),
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const principal = principalOf(request);
      return session(principal, await expiryOf(deps, principal.tokenId));
    },
  );

  app.delete(
    '/v1/auth/session',
    {
      config: { action: 'auth.logout' },
      schema: {
        summary: 'Sign out: the token is revoked and the cookie cleared',
        response: responses({ 204: z.null() }),
      },
    },
    async (request, reply) => {
      await users.revokeToken(contextOf(request), principalOf(request).tokenId);
      clearSessionCookie(reply);
      return reply.status(204).send(null);
    },
  );
}

/**
 * When the token behind this request expires. The token service answers only who a token
 * belongs to, so its expiry is read here; the token was found live a moment ago.
 */
async function expiryOf(deps: Pick<Services, 'store'>, tokenId: string): Promise<number | null> {
  const row = await deps.store.db
    .selectFrom('tokens')
    .select('expires_at')
    .where('id', '=', tokenId)
    .executeTakeFirst();
  if (row === undefined) throw new TesseraError('UNAUTHENTICATED', 'the session has ended');
  return row.expires_at;
}
