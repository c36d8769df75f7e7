import { z } from 'zod';
import { createPasswordSignIn } from '../../identity/password-sign-in.ts';
import type { Services } from '../../services.ts';
import { type App, contextOf, principalOf } from '../app.ts';
import { iso, name, password, responses, role, uuid } from '../schemas.ts';

const user = z.object({
  id: z.string(),
  name: z.string(),
  role,
  disabled: z.boolean(),
  createdAt: z.string(),
});
/**
 * What a sign-in sends, to the API's login and to the console's session alike. `code` is asked
 * for (MFA_REQUIRED) only of a user with a confirmed second factor, after a right password.
 */
export const loginBody = z
  .object({
    user: name,
    password,
    code: z
      .string()
      .regex(/^\d{6,8}$/, '6 to 8 digits from the authenticator app')
      .describe('a current code of the second factor, if the user has one')
      .optional(),
  })
  .strict();

const toUser = (u: {
  id: string;
  name: string;
  role: 'admin' | 'auditor' | 'user';
  disabled: boolean;
  createdAt: number;
}) => ({
  ...u,
  createdAt: iso(u.createdAt),
});

export function identityRoutes(
  app: App,
  deps: Pick<Services, 'users' | 'access' | 'mfa' | 'audit'>,
): void {
  const { users, access } = deps;
  const passwordSignIn = createPasswordSignIn(deps);

  app.post(
    '/v1/auth/login',
    {
      config: { action: 'auth.login' },
      schema: {
        summary: 'Log in with a password, and a code when the user has a second factor',
        body: loginBody,
        response: responses({
          200: z.object({
            token: z.string(),
            tokenId: z.string(),
            expiresAt: z.string().nullable(),
            user,
          }),
        }),
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const { source, requestId } = contextOf(request);
      const result = await passwordSignIn.signIn({ source, requestId }, request.body);
      return { ...result, expiresAt: iso(result.expiresAt), user: toUser(result.user) };
    },
  );

  app.get(
    '/v1/auth/self',
    {
      config: { action: 'auth.self' },
      schema: {
        response: responses({
          200: z.object({
            user: z.string(),
            role,
            tokenId: z.string(),
            passwordSet: z.boolean(),
          }),
        }),
      },
    },
    async (request) => {
      const principal = principalOf(request);
      return {
        user: principal.name,
        role: principal.role,
        tokenId: principal.tokenId,
        passwordSet: await users.hasPassword(principal.userId),
      };
    },
  );

  app.post(
    '/v1/auth/logout',
    { config: { action: 'auth.logout' }, schema: { response: responses({ 204: z.null() }) } },
    async (request, reply) => {
      await users.revokeToken(contextOf(request), principalOf(request).tokenId);
      return reply.status(204).send(null);
    },
  );

  app.delete(
    '/v1/tokens/:id',
    {
      config: { action: 'token.revoke' },
      schema: { params: z.object({ id: uuid }), response: responses({ 204: z.null() }) },
    },
    async (request, reply) => {
      await users.revokeToken(contextOf(request), request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/v1/users',
    {
      config: { action: 'user.list' },
      schema: { response: responses({ 200: z.object({ users: z.array(user) }) }) },
    },
    async () => ({ users: (await users.list()).map(toUser) }),
  );

  app.post(
    '/v1/users',
    {
      config: { action: 'user.create' },
      schema: {
        body: z.object({ name, role, password: password.optional() }).strict(),
        response: responses({ 201: user }),
      },
    },
    async (request, reply) => {
      const created = await users.create(contextOf(request), request.body);
      return reply.status(201).send(toUser(created));
    },
  );

  app.put(
    '/v1/users/:name/password',
    {
      config: { action: 'user.password' },
      schema: {
        summary: "Set a password: one's own with the current one, or anyone's as an admin",
        params: z.object({ name }),
        body: z.object({ password, currentPassword: password.optional() }).strict(),
        response: responses({ 204: z.null() }),
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      if (principal.name !== request.params.name) {
        await access.require(principal, 'user.password.other');
      }
      await users.setPassword(contextOf(request), principal, {
        name: request.params.name,
        ...request.body,
      });
      return reply.status(204).send(null);
    },
  );

  for (const [verb, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    app.post(
      `/v1/users/:name/${verb}`,
      {
        config: { action: `user.${verb}` },
        schema: {
          summary: disabled
            ? 'Offboard a user: no login, every token revoked (not the built-in admin or oneself)'
            : 'Let a disabled user log in again',
          params: z.object({ name }),
          response: responses({ 200: user }),
        },
      },
      async (request) => {
        const input = { name: request.params.name, disabled };
        return toUser(await users.setDisabled(contextOf(request), principalOf(request), input));
      },
    );
  }
}
