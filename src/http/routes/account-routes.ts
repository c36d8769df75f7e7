import { z } from 'zod';
import type { Account } from '../../accounts/account.ts';
import { SECRET_KINDS } from '../../connectors/connector.ts';
import type { Services } from '../../services.ts';
import { type App, contextOf, principalOf } from '../app.ts';
import { accountUsername, iso, name, reason, responses, secretValue } from '../schemas.ts';

const account = z.object({
  id: z.string(),
  ref: z.string(),
  target: z.string(),
  username: z.string(),
  safe: z.string(),
  policy: z.string(),
  currentVersion: z.number().nullable(),
  secretType: z.enum(SECRET_KINDS),
  reconcileAccountId: z.string().nullable(),
  state: z.string(),
  lastVerifiedAt: z.string().nullable(),
  lastVerifyResult: z.string().nullable(),
  lastRotatedAt: z.string().nullable(),
  lastRotationError: z.string().nullable(),
  nextRotationAt: z.string().nullable(),
  rotationFailures: z.number(),
  needsRotation: z.boolean(),
  rotating: z.boolean(),
  checkout: z.object({ holder: z.string(), since: z.string(), expiresAt: z.string() }).nullable(),
  createdAt: z.string(),
});

const toAccount = (a: Account) => ({
  id: a.id,
  ref: a.ref,
  target: a.target,
  username: a.username,
  safe: a.safe,
  policy: a.policy,
  currentVersion: a.currentVersion,
  secretType: a.secretType,
  reconcileAccountId: a.reconcileAccountId,
  state: a.state,
  lastVerifiedAt: iso(a.lastVerifiedAt),
  lastVerifyResult: a.lastVerifyResult,
  lastRotatedAt: iso(a.lastRotatedAt),
  lastRotationError: a.lastRotationError,
  nextRotationAt: iso(a.nextRotationAt),
  rotationFailures: a.rotationFailures,
  needsRotation: a.needsRotation,
  rotating: a.rotating,
  checkout:
    a.checkout === null
      ? null
      : {
          holder: a.checkout.holder,
          since: iso(a.checkout.since),
          expiresAt: iso(a.checkout.expiresAt),
        },
  createdAt: iso(a.createdAt),
});

const accountParams = z.object({ target: name, username: accountUsername });
const secretReply = z.object({ value: z.string(), version: z.number() });

export function accountRoutes(
  app: App,
  { accounts, checkout, rotation }: Pick<Services, 'accounts' | 'checkout' | 'rotation'>,
): void {
  const base = '/v1/targets/:target/accounts/:username';
  const safeScoped = <A extends string>(action: A) => ({ action, scope: 'safe' as const });

  app.get(
    '/v1/accounts',
    {
      config: { action: 'account.read', scope: 'safe' },
      schema: {
        summary: 'Accounts in every safe the caller may see',
        querystring: z.object({ safe: name.optional(), target: name.optional() }).strict(),
        response: responses({ 200: z.object({ accounts: z.array(account) }) }),
      },
    },
    async (request) => ({
      accounts: (await accounts.list(principalOf(request), request.query)).map(toAccount),
    }),
  );

  app.post(
    '/v1/targets/:target/accounts',
    {
      config: safeScoped('account.create'),
      schema: {
        summary: 'Onboard an existing account with its current secret',
        params: z.object({ target: name }),
        body: z
          .object({
            username: accountUsername,
            safe: name,
            policy: name.optional(),
            secret: secretValue.optional(),
            secretType: z.enum(SECRET_KINDS).optional(),
            reconcileAccount: z.string().min(3).max(300).optional(),
          })
          .strict(),
        response: responses({ 201: account }),
      },
    },
    async (request, reply) => {
      const input = { ...request.body, target: request.params.target };
      const created = await accounts.onboard(contextOf(request), principalOf(request), input);
      return reply.status(201).send(toAccount(created));
    },
  );

  app.get(
    base,
    {
      config: safeScoped('account.read'),
      schema: { params: accountParams, response: responses({ 200: account }) },
    },
    async (request) =>
      toAccount(await accounts.get(principalOf(request), request.params, 'account.read')),
  );

  app.get(
    `${base}/versions`,
    {
      config: safeScoped('account.read'),
      schema: {
        summary: 'Secret history: versions and their state, never their values',
        params: accountParams,
        response: responses({
          200: z.object({
            versions: z.array(
              z.object({
                version: z.number(),
                status: z.string(),
                origin: z.string(),
                createdAt: z.string(),
                createdBy: z.string(),
                promotedAt: z.string().nullable(),
              }),
            ),
          }),
        }),
      },
    },
    async (request) => {
      const found = await accounts.get(principalOf(request), request.params, 'account.read');
      const versions = await accounts.history(found);
      return {
        versions: versions.map((v) => ({
          ...v,
          createdAt: iso(v.createdAt),
          promotedAt: iso(v.promotedAt),
        })),
      };
    },
  );

  app.post(
    `${base}/verify`,
    {
      config: safeScoped('account.verify'),
      schema: {
        params: accountParams,
        response: responses({ 200: z.object({ valid: z.boolean(), detail: z.string() }) }),
      },
    },
    async (request) => {
      const found = await accounts.get(principalOf(request), request.params, 'account.verify');
      return rotation.verify(contextOf(request), found);
    },
  );

  app.post(
    `${base}/rotate`,
    {
      config: safeScoped('account.rotate'),
      schema: {
        params: accountParams,
        response: responses({ 200: z.object({ version: z.number(), attempts: z.number() }) }),
      },
    },
    async (request) => {
      const found = await accounts.get(principalOf(request), request.params, 'account.rotate');
      return rotation.rotate(contextOf(request), found, 'manual');
    },
  );

  app.post(
    `${base}/reconcile`,
    {
      config: safeScoped('account.rotate'),
      schema: {
        summary: 'Set a new secret through the reconcile account, whatever the current value',
        params: accountParams,
        response: responses({ 200: z.object({ version: z.number(), attempts: z.number() }) }),
      },
    },
    async (request) => {
      const found = await accounts.get(principalOf(request), request.params, 'account.rotate');
      return rotation.reconcile(contextOf(request), found);
    },
  );

  app.put(
    `${base}/reconcile-account`,
    {
      config: safeScoped('account.rotate'),
      schema: {
        summary: 'Name the account that changes this one (null: it changes its own)',
        params: accountParams,
        body: z.object({ reconcileAccount: z.string().min(3).max(300).nullable() }).strict(),
        response: responses({ 200: account }),
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const found = await accounts.get(principal, request.params, 'account.rotate');
      const ref = request.body.reconcileAccount;
      return toAccount(
        await accounts.setReconcileAccount(contextOf(request), principal, found, ref),
      );
    },
  );

  app.post(
    `${base}/reveal`,
    {
      config: safeScoped('secret.retrieve'),
      schema: {
        summary:
          'Reveal the current secret; needs a reason, and the reveal is audited before the reply',
        params: accountParams,
        body: z.object({ reason }).strict(),
        response: responses({ 200: secretReply }),
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return checkout.reveal(
        contextOf(request),
        principalOf(request),
        request.params,
        request.body.reason,
      );
    },
  );

  app.post(
    `${base}/checkout`,
    {
      config: safeScoped('account.checkout'),
      schema: {
        params: accountParams,
        body: z
          .object({
            reason,
            durationS: z
              .number()
              .int()
              .min(60)
              .max(30 * 86_400)
              .optional(),
          })
          .strict(),
        response: responses({
          200: secretReply.extend({
            checkoutId: z.string().nullable(),
            expiresAt: z.string(),
            exclusive: z.boolean(),
          }),
        }),
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const result = await checkout.checkout(
        contextOf(request),
        principalOf(request),
        request.params,
        request.body,
      );
      return { ...result, expiresAt: iso(result.expiresAt) };
    },
  );

  app.post(
    `${base}/checkin`,
    {
      config: safeScoped('account.checkin'),
      schema: {
        params: accountParams,
        response: responses({
          200: z.object({ rotated: z.boolean(), rotationError: z.string().nullable() }),
        }),
      },
    },
    (request) => checkout.checkin(contextOf(request), principalOf(request), request.params),
  );
}
