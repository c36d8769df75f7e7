import { z } from 'zod';
import type { MfaStatus } from '../../identity/mfa.ts';
import type { Services } from '../../services.ts';
import { type App, contextOf, principalOf } from '../app.ts';
import { iso, name, responses } from '../schemas.ts';

const code = z
  .string()
  .regex(/^\d{6}$/, 'six digits from the authenticator app')
  .describe('a current TOTP code');
const codeBody = z.object({ code }).strict();
const status = z.object({
  enrolled: z.boolean(),
  confirmed: z.boolean(),
  createdAt: z.string().nullable(),
  confirmedAt: z.string().nullable(),
});
const toStatus = (s: MfaStatus) => ({
  enrolled: s.enrolled,
  confirmed: s.confirmed,
  createdAt: iso(s.createdAt),
  confirmedAt: iso(s.confirmedAt),
});

/**
 * The caller's TOTP second factor under `/v1/auth/mfa`, and an administrator's reset of
 * someone else's. The secret and its URI leave the server once, in the enrolment reply.
 */
export function mfaRoutes(app: App, { mfa }: Pick<Services, 'mfa'>): void {
  app.get(
    '/v1/auth/mfa',
    {
      config: { action: 'mfa.self' },
      schema: {
        summary: 'Whether I have a second factor, and whether it is confirmed',
        response: responses({ 200: status }),
      },
    },
    async (request) => toStatus(await mfa.status(principalOf(request).userId)),
  );

  app.post(
    '/v1/auth/mfa/enroll',
    {
      config: { action: 'mfa.self' },
      schema: {
        summary: 'Start enrolling a TOTP app: the secret is shown only in this reply',
        response: responses({ 201: z.object({ secret: z.string(), uri: z.string() }) }),
      },
    },
    async (request, reply) => {
      const enrollment = await mfa.enroll(contextOf(request), principalOf(request));
      reply.header('cache-control', 'no-store');
      return reply.status(201).send({ secret: enrollment.secret, uri: enrollment.uri });
    },
  );

  app.post(
    '/v1/auth/mfa/confirm',
    {
      config: { action: 'mfa.self' },
      schema: {
        summary: 'Confirm the enrolment with a code from the app',
        body: codeBody,
        response: responses({ 200: status }),
      },
    },
    async (request) =>
      toStatus(await mfa.confirm(contextOf(request), principalOf(request), request.body.code)),
  );

  app.delete(
    '/v1/auth/mfa',
    {
      config: { action: 'mfa.self' },
      schema: {
        summary: 'Remove my second factor, with a valid code from it',
        body: codeBody,
        response: responses({ 204: z.null() }),
      },
    },
    async (request, reply) => {
      await mfa.remove(contextOf(request), principalOf(request), request.body.code);
      return reply.status(204).send(null);
    },
  );

  app.delete(
    '/v1/users/:name/mfa',
    {
      config: { action: 'mfa.admin' },
      schema: {
        summary: "Remove another user's second factor (a lost phone): they enroll again",
        params: z.object({ name }),
        response: responses({ 204: z.null() }),
      },
    },
    async (request, reply) => {
      await mfa.reset(contextOf(request), principalOf(request), request.params.name);
      return reply.status(204).send(null);
    },
  );
}
