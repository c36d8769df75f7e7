import { z } from 'zod';
import { notFound } from '../../errors.ts';
import type { GatewayServices } from '../../gateway/gateway.ts';
import { MAX_CHALLENGE_LENGTH } from '../../gateway/key-proof.ts';
import { MAX_KEY_LINE, type SshKey } from '../../gateway/user-keys.ts';
import type { Services } from '../../services.ts';
import { type App, contextOf, principalOf } from '../app.ts';
import { iso, name, responses, uuid } from '../schemas.ts';

const sshKey = z.object({
  id: z.string(),
  fingerprint: z.string(),
  type: z.string(),
  publicKey: z.string(),
  comment: z.string(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
});
const toView = (key: SshKey) => ({
  id: key.id,
  fingerprint: key.fingerprint,
  type: key.type,
  publicKey: key.publicKey,
  comment: key.comment,
  createdAt: iso(key.createdAt),
  lastUsedAt: iso(key.lastUsedAt),
});
const publicKey = z.string().min(1).max(MAX_KEY_LINE);
/** An RSA 16384 signature armored stays under 4 KiB. */
const MAX_SIGNATURE_LENGTH = 16 * 1024;
const newKey = z.object({ publicKey }).strict();
/** Proof is optional in the schema so that its absence is KEY_PROOF_REQUIRED, not bad input. */
const newOwnKey = z
  .object({
    publicKey,
    challenge: z.string().min(1).max(MAX_CHALLENGE_LENGTH).optional(),
    signature: z.string().min(1).max(MAX_SIGNATURE_LENGTH).optional(),
  })
  .strict();
const challengeRequest = z.object({ publicKey }).strict();
const challengeReply = z.object({
  challenge: z.string(),
  namespace: z.string(),
  expiresAt: z.string(),
});
const keyList = z.object({ keys: z.array(sshKey) });

/**
 * Public keys for the SSH gateway: each user manages their own under `/v1/users/me`, proving
 * with a signed challenge that they hold each key they add, and an administrator anyone else's
 * (onboarding, offboarding) on their word.
 */
export function sshKeyRoutes(
  app: App,
  deps: Pick<Services, 'users'> & { gateway: Pick<GatewayServices, 'sshKeys'> },
): void {
  const keys = deps.gateway.sshKeys;
  const self = (request: Parameters<typeof principalOf>[0]) => {
    const principal = principalOf(request);
    return { id: principal.userId, name: principal.name };
  };
  const named = async (userName: string) => {
    const user = await deps.users.findByName(userName);
    if (user === null) throw notFound('user');
    return { id: user.id, name: user.name };
  };

  app.get(
    '/v1/users/me/ssh-keys',
    {
      config: { action: 'sshkey.self' },
      schema: {
        summary: 'My public keys for the SSH gateway',
        response: responses({ 200: keyList }),
      },
    },
    async (request) => ({ keys: (await keys.list(self(request).id)).map(toView) }),
  );

  app.post(
    '/v1/users/me/ssh-keys/challenge',
    {
      config: { action: 'sshkey.self' },
      schema: {
        summary: 'A challenge to sign with the key I am about to register (ssh-keygen -Y sign)',
        body: challengeRequest,
        response: responses({ 200: challengeReply }),
      },
    },
    async (request) => {
      const issued = await keys.challenge(self(request), request.body.publicKey);
      return { ...issued, expiresAt: iso(issued.expiresAt) };
    },
  );

  app.post(
    '/v1/users/me/ssh-keys',
    {
      config: { action: 'sshkey.self' },
      schema: {
        summary: 'Register one of my public keys, with its signature of a challenge',
        body: newOwnKey,
        response: responses({ 201: sshKey }),
      },
    },
    async (request, reply) => {
      const { challenge, signature } = request.body;
      const key = await keys.add(contextOf(request), self(request), request.body.publicKey, {
        by: 'signature',
        proof: { challenge, signature },
      });
      return reply.status(201).send(toView(key));
    },
  );

  app.delete(
    '/v1/users/me/ssh-keys/:id',
    {
      config: { action: 'sshkey.self' },
      schema: { params: z.object({ id: uuid }), response: responses({ 204: z.null() }) },
    },
    async (request, reply) => {
      await keys.remove(contextOf(request), self(request), request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/v1/users/:name/ssh-keys',
    {
      config: { action: 'sshkey.admin' },
      schema: { params: z.object({ name }), response: responses({ 200: keyList }) },
    },
    async (request) => ({
      keys: (await keys.list((await named(request.params.name)).id)).map(toView),
    }),
  );

  app.post(
    '/v1/users/:name/ssh-keys',
    {
      config: { action: 'sshkey.admin' },
      schema: { params: z.object({ name }), body: newKey, response: responses({ 201: sshKey }) },
    },
    async (request, reply) => {
      const owner = await named(request.params.name);
      const key = await keys.add(contextOf(request), owner, request.body.publicKey, {
        by: 'admin',
      });
      return reply.status(201).send(toView(key));
    },
  );

  app.delete(
    '/v1/users/:name/ssh-keys/:id',
    {
      config: { action: 'sshkey.admin' },
      schema: { params: z.object({ name, id: uuid }), response: responses({ 204: z.null() }) },
    },
    async (request, reply) => {
      const owner = await named(request.params.name);
      await keys.remove(contextOf(request), owner, request.params.id);
      return reply.status(204).send(null);
    },
  );
}
