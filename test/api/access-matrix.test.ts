import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { SYSTEM_CONTEXT } from '../../src/audit/event.ts';
import { STORE_KINDS } from '../support/stores.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

/**
 * Walks every route of the API with every kind of caller and asserts who gets through the access
 * decision point. A refusal is 401 UNAUTHENTICATED, 403 FORBIDDEN, or 404 NOT_FOUND for another
 * safe's objects; anything else (success, validation, conflict, target errors) got past it.
 */
type Caller = 'anonymous' | 'admin' | 'auditor' | 'member' | 'outsider';
const CALLERS: readonly Caller[] = ['anonymous', 'admin', 'auditor', 'member', 'outsider'];
const LOGGED_IN: readonly Caller[] = ['admin', 'auditor', 'member', 'outsider'];

interface RouteCase {
  readonly allowed: readonly Caller[];
  /** A function when the path names something `prepare` made for this attempt. */
  readonly path?: string | (() => string);
  readonly body?: () => unknown;
  /** Runs before each caller's attempt, so every caller finds the same state. */
  readonly prepare?: (server: TestServer) => Promise<unknown>;
}

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
const ACCOUNT = '/v1/targets/tgt/accounts/app_user';
/** In the safe `jit`, which no caller is a member of: its access policy is written freely. */
const JIT_ACCOUNT = '/v1/targets/tgt/accounts/jit_user';
/** In vault1 and marked for break-glass; opening it leaves app_user and held alone. */
const BREAKGLASS_ACCOUNT = '/v1/targets/tgt/accounts/bg_user';
const REQUEST_BODY = { account: 'tgt/app_user', durationS: 3600, reason: 'access matrix' };
const EPHEMERAL_CONFIG = { adminAccount: 'eph/eph_admin', roles: ['readonly'] };
/** The discard port on loopback: nothing listens, a delivery attempt fails at once. */
const HOOK_URL = 'http://127.0.0.1:9/matrix';

const ROUTES: Record<string, RouteCase> = {
  'GET /v1/health': { allowed: CALLERS },
  'GET /v1/operator/status': { allowed: CALLERS },
  'POST /v1/operator/init': { allowed: CALLERS, body: () => ({ shares: 3, threshold: 2 }) },
  'POST /v1/operator/unseal': { allowed: CALLERS, body: () => ({ share: 'AAAA' }) },
  'POST /v1/operator/seal': { allowed: ['admin'] },
  'POST /v1/auth/login': {
    allowed: CALLERS,
    body: () => ({ user: 'member', password: MEMBER_PASSWORD }),
  },
  'GET /v1/auth/self': { allowed: LOGGED_IN },
  'POST /v1/auth/logout': { allowed: LOGGED_IN },
  'POST /v1/auth/session': {
    allowed: CALLERS,
    body: () => ({ user: 'member', password: MEMBER_PASSWORD }),
  },
  'GET /v1/auth/session': { allowed: LOGGED_IN },
  'DELETE /v1/auth/session': { allowed: LOGGED_IN },
  'DELETE /v1/tokens/{id}': {
    allowed: ['admin'],
    // A live token each time: an unknown one is NOT_FOUND even for an admin.
    path: () => `/v1/tokens/${bystanderTokenId}`,
    prepare: async (server) => {
      bystanderTokenId = (await issueToken(server, 'bystander')).id;
    },
  },
  'GET /v1/users': { allowed: ['admin', 'auditor'] },
  'POST /v1/users': { allowed: ['admin'], body: () => ({ name: unique('u'), role: 'user' }) },
  'PUT /v1/users/{name}/password': {
    allowed: ['admin'],
    path: '/v1/users/bystander/password',
    body: () => ({ password: 'a new password' }),
  },
  'POST /v1/users/{name}/disable': { allowed: ['admin'], path: '/v1/users/leaver/disable' },
  'POST /v1/users/{name}/enable': { allowed: ['admin'], path: '/v1/users/leaver/enable' },
  'GET /v1/safes': { allowed: LOGGED_IN },
  'POST /v1/safes': { allowed: ['admin'], body: () => ({ name: unique('s') }) },
  'GET /v1/safes/{safe}': { allowed: ['admin', 'auditor', 'member'], path: '/v1/safes/vault1' },
  'PUT /v1/safes/{safe}/members/{user}': {
    allowed: ['admin', 'member'],
    path: '/v1/safes/vault1/members/bystander',
    body: () => ({ permissions: ['list'] }),
  },
  'DELETE /v1/safes/{safe}/members/{user}': {
    allowed: ['admin', 'member'],
    path: '/v1/safes/vault1/members/bystander',
    prepare: (server) =>
      server.api('PUT', '/v1/safes/vault1/members/bystander', { body: { permissions: ['list'] } }),
  },
  'GET /v1/targets': { allowed: LOGGED_IN },
  'POST /v1/targets': {
    allowed: ['admin'],
    body: () => ({ name: unique('t'), platform: 'postgresql', host: '127.0.0.1', port: 9 }),
  },
  'GET /v1/targets/{target}': { allowed: LOGGED_IN, path: '/v1/targets/tgt' },
  'PUT /v1/targets/{target}': {
    allowed: ['admin'],
    path: '/v1/targets/tgt',
    body: () => ({ port: 9 }),
  },
  'GET /v1/policies': { allowed: LOGGED_IN },
  'GET /v1/policies/{policy}': { allowed: LOGGED_IN, path: '/v1/policies/default' },
  'PUT /v1/policies/{policy}': { allowed: ['admin'], path: '/v1/policies/p1', body: () => ({}) },
  'GET /v1/accounts': { allowed: LOGGED_IN },
  'POST /v1/targets/{target}/accounts': {
    allowed: ['admin', 'member'],
    path: '/v1/targets/tgt/accounts',
    body: () => ({ username: unique('acct'), safe: 'vault1', secret: 'initial' }),
  },
  'GET /v1/targets/{target}/accounts/{username}': {
    allowed: ['admin', 'auditor', 'member'],
    path: ACCOUNT,
  },
  'GET /v1/targets/{target}/accounts/{username}/versions': {
    allowed: ['admin', 'auditor', 'member'],
    path: `${ACCOUNT}/versions`,
  },
  'POST /v1/targets/{target}/accounts/{username}/verify': {
    allowed: ['admin', 'member'],
    path: `${ACCOUNT}/verify`,
  },
  'POST /v1/targets/{target}/accounts/{username}/rotate': {
    allowed: ['admin', 'member'],
    path: `${ACCOUNT}/rotate`,
  },
  'POST /v1/targets/{target}/accounts/{username}/reconcile': {
    allowed: ['admin', 'member'],
    path: `${ACCOUNT}/reconcile`,
  },
  'PUT /v1/targets/{target}/accounts/{username}/reconcile-account': {
    allowed: ['admin', 'member'],
    path: `${ACCOUNT}/reconcile-account`,
    body: () => ({ reconcileAccount: null }),
  },
  'POST /v1/targets/{target}/accounts/{username}/reveal': {
    allowed: ['member'],
    path: `${ACCOUNT}/reveal`,
    body: () => ({ reason: 'access matrix' }),
  },
  'POST /v1/targets/{target}/accounts/{username}/checkout': {
    allowed: ['member'],
    path: `${ACCOUNT}/checkout`,
    body: () => ({ reason: 'access matrix' }),
  },
  'POST /v1/targets/{target}/accounts/{username}/checkin': {
    allowed: ['admin', 'member'],
    path: '/v1/targets/tgt/accounts/held/checkin',
    // The member holds the account before every attempt: the holder and an admin may end it.
    prepare: (server) =>
      server.api('POST', '/v1/targets/tgt/accounts/held/checkout', {
        token: memberToken,
        body: { reason: 'hold for the matrix' },
      }),
  },
  // A run over the member's empty safe: everyone allowed starts one, no target is touched.
  'POST /v1/rotation/runs': { allowed: ['admin', 'member'], body: () => ({ safe: 'runs' }) },
  'GET /v1/rotation/runs/{id}': {
    allowed: ['admin', 'auditor', 'member'],
    path: () => `/v1/rotation/runs/${runId}`,
    prepare: async (server) => {
      const started = await server.api<{ id: string }>('POST', '/v1/rotation/runs', {
        body: { safe: 'runs' },
      });
      runId = started.body.id;
    },
  },
  'GET /v1/rotation/status': { allowed: LOGGED_IN },
  'GET /v1/rotation/activity': { allowed: ['admin', 'auditor'] },
  // The matrix target has no reconcile account: an admin gets past the decision point and is
  // then asked for a scanner (VALIDATION_FAILED), which is not a refusal.
  'POST /v1/targets/{target}/discovery': { allowed: ['admin'], path: '/v1/targets/tgt/discovery' },
  'GET /v1/discovery': { allowed: ['admin', 'auditor'] },
  'GET /v1/discovery/runs': { allowed: ['admin', 'auditor'] },
  'GET /v1/audit/events': { allowed: ['admin', 'auditor'] },
  'POST /v1/audit/verify': { allowed: ['admin', 'auditor'] },
  // The SSH gateway's routes. An id that is not a UUID fails validation, which comes after the
  // access decision: whoever gets a 400 got past it.
  'GET /v1/users/me/ssh-keys': { allowed: LOGGED_IN },
  'POST /v1/users/me/ssh-keys/challenge': {
    allowed: LOGGED_IN,
    body: () => ({ publicKey: freshKey() }),
  },
  // Without proof of holding the key: KEY_PROOF_REQUIRED, which is past the decision point.
  'POST /v1/users/me/ssh-keys': { allowed: LOGGED_IN, body: () => ({ publicKey: freshKey() }) },
  'DELETE /v1/users/me/ssh-keys/{id}': {
    allowed: LOGGED_IN,
    path: '/v1/users/me/ssh-keys/not-a-uuid',
  },
  'GET /v1/users/{name}/ssh-keys': { allowed: ['admin'], path: '/v1/users/bystander/ssh-keys' },
  'POST /v1/users/{name}/ssh-keys': {
    allowed: ['admin'],
    path: '/v1/users/bystander/ssh-keys',
    body: () => ({ publicKey: freshKey() }),
  },
  'DELETE /v1/users/{name}/ssh-keys/{id}': {
    allowed: ['admin'],
    path: '/v1/users/bystander/ssh-keys/not-a-uuid',
  },
  'GET /v1/sessions': { allowed: ['admin', 'auditor'] },
  'GET /v1/sessions/commands': {
    allowed: ['admin', 'auditor'],
    path: '/v1/sessions/commands?q=ls',
  },
  'GET /v1/sessions/{id}': { allowed: ['admin', 'auditor'], path: '/v1/sessions/not-a-uuid' },
  'POST /v1/sessions/{id}/kill': {
    allowed: ['admin'],
    path: '/v1/sessions/not-a-uuid/kill',
    body: () => ({ reason: 'access matrix' }),
  },
  'GET /v1/nodes': { allowed: ['admin', 'auditor'] },
  'GET /v1/sessions/{id}/recording': {
    allowed: ['admin', 'auditor'],
    path: '/v1/sessions/not-a-uuid/recording',
  },
  'GET /v1/policies/{policy}/session': {
    allowed: LOGGED_IN,
    path: '/v1/policies/default/session',
  },
  'PUT /v1/policies/{policy}/session': {
    allowed: ['admin'],
    path: '/v1/policies/default/session',
    body: () => ({}),
  },
  // Groups and person links: they decide who counts as whom among approvers.
  'GET /v1/groups': { allowed: ['admin', 'auditor'] },
  'POST /v1/groups': { allowed: ['admin'], body: () => ({ name: unique('g') }) },
  'GET /v1/groups/{group}': { allowed: ['admin', 'auditor'], path: '/v1/groups/approvers' },
  'DELETE /v1/groups/{group}': {
    allowed: ['admin'],
    path: '/v1/groups/doomed',
    prepare: (server) => ensureCreated(server, '/v1/groups', { name: 'doomed' }),
  },
  'PUT /v1/groups/{group}/members/{user}': {
    allowed: ['admin'],
    path: '/v1/groups/approvers/members/bystander',
  },
  'DELETE /v1/groups/{group}/members/{user}': {
    allowed: ['admin'],
    path: '/v1/groups/approvers/members/bystander',
    prepare: (server) => server.api('PUT', '/v1/groups/approvers/members/bystander'),
  },
  // Unlinking a login that is linked to nobody changes nothing.
  'PUT /v1/users/{name}/person': {
    allowed: ['admin'],
    path: '/v1/users/leaver/person',
    body: () => ({ sameAs: null }),
  },
  // Access policies. Writes go to the safe `jit` and its account: with the default body they
  // gate nothing, and no other route uses them.
  'GET /v1/safes/{safe}/access-policy': {
    allowed: ['admin', 'auditor', 'member'],
    path: '/v1/safes/vault1/access-policy',
  },
  'PUT /v1/safes/{safe}/access-policy': {
    allowed: ['admin'],
    path: '/v1/safes/jit/access-policy',
    body: () => ({}),
  },
  'DELETE /v1/safes/{safe}/access-policy': {
    allowed: ['admin'],
    path: '/v1/safes/jit/access-policy',
    prepare: (server) => server.api('PUT', '/v1/safes/jit/access-policy', { body: {} }),
  },
  'GET /v1/targets/{target}/accounts/{username}/access-policy': {
    allowed: ['admin', 'auditor', 'member'],
    path: `${ACCOUNT}/access-policy`,
  },
  'PUT /v1/targets/{target}/accounts/{username}/access-policy': {
    allowed: ['admin'],
    path: `${JIT_ACCOUNT}/access-policy`,
    body: () => ({}),
  },
  'DELETE /v1/targets/{target}/accounts/{username}/access-policy': {
    allowed: ['admin'],
    path: `${JIT_ACCOUNT}/access-policy`,
    prepare: (server) => server.api('PUT', `${JIT_ACCOUNT}/access-policy`, { body: {} }),
  },
  // Requests. The auditor may not ask (403), the outsider does not see the safe (404).
  'POST /v1/requests': { allowed: ['admin', 'member'], body: () => REQUEST_BODY },
  'GET /v1/requests': { allowed: LOGGED_IN },
  'GET /v1/requests/{id}': {
    allowed: ['admin', 'auditor', 'member'],
    path: () => `/v1/requests/${memberRequestId}`,
  },
  // Nobody here may answer the member's request: the member asked it (SELF_APPROVAL), and no
  // one else holds `approve` on the safe; the admin's role is not enough.
  'POST /v1/requests/{id}/approve': {
    allowed: [],
    path: () => `/v1/requests/${memberRequestId}/approve`,
    body: () => ({ comment: 'access matrix' }),
  },
  'POST /v1/requests/{id}/deny': {
    allowed: [],
    path: () => `/v1/requests/${memberRequestId}/deny`,
    body: () => ({ reason: 'access matrix' }),
  },
  'POST /v1/requests/{id}/cancel': {
    allowed: ['member'],
    path: () => `/v1/requests/${cancelledRequestId}/cancel`,
    prepare: async (server) => {
      cancelledRequestId = await askAsMember(server);
    },
  },
  // Grants, on the member's break-glass openings of `tgt/bg_user`.
  'GET /v1/grants': { allowed: LOGGED_IN },
  'GET /v1/grants/{id}': {
    allowed: ['admin', 'auditor', 'member'],
    path: () => `/v1/grants/${memberGrantId}`,
  },
  'POST /v1/grants/{id}/revoke': {
    allowed: ['admin', 'member'],
    path: () => `/v1/grants/${revokedGrantId}/revoke`,
    body: () => ({ reason: 'access matrix' }),
    prepare: async (server) => {
      revokedGrantId = (await openBreakglass(server, memberToken)).grantId;
    },
  },
  // Break-glass. It opens only the opener's own secret permissions: an admin, who holds none in
  // vault1, is refused. The event read and reviewed here is another member's (`opener`): the
  // member, though a manager of its safe, does not see it. Its window is still open, so the
  // auditor's review is a CONFLICT, past the decision point.
  'PUT /v1/targets/{target}/accounts/{username}/breakglass': {
    allowed: ['admin'],
    path: `${BREAKGLASS_ACCOUNT}/breakglass`,
    body: () => ({ enabled: true }),
  },
  'POST /v1/targets/{target}/accounts/{username}/breakglass': {
    allowed: ['member'],
    path: `${BREAKGLASS_ACCOUNT}/breakglass`,
    body: () => ({ reason: 'access matrix' }),
  },
  'GET /v1/breakglass': { allowed: ['admin', 'auditor'] },
  'GET /v1/breakglass/{id}': {
    allowed: ['admin', 'auditor'],
    path: () => `/v1/breakglass/${openerBreakglassId}`,
  },
  'POST /v1/breakglass/{id}/review': {
    allowed: ['auditor'],
    path: () => `/v1/breakglass/${openerBreakglassId}/review`,
    body: () => ({ outcome: 'justified', notes: 'access matrix' }),
  },
  'GET /v1/reports/breakglass': { allowed: ['admin', 'auditor'] },
  // Ephemeral accounts, configured on the target `eph` (nothing listens there).
  'PUT /v1/targets/{target}/ephemeral': {
    allowed: ['admin'],
    path: '/v1/targets/eph/ephemeral',
    body: () => EPHEMERAL_CONFIG,
  },
  'GET /v1/targets/{target}/ephemeral': {
    allowed: ['admin', 'auditor'],
    path: '/v1/targets/eph/ephemeral',
  },
  'GET /v1/ephemeral-accounts': { allowed: ['admin', 'auditor'] },
  // Any logged-in caller passes the decision point; the service shows the grant to its own
  // user only (here a CONFLICT: a break-glass grant has no ephemeral account) and answers
  // everyone else NOT_FOUND, admins included.
  'POST /v1/grants/{id}/credential': {
    allowed: ['member'],
    path: () => `/v1/grants/${memberGrantId}/credential`,
  },
  // Webhooks, only ever pointed at the discard port on loopback.
  'POST /v1/webhooks': {
    allowed: ['admin'],
    body: () => ({ name: unique('hook'), url: HOOK_URL, events: ['webhook.test'] }),
  },
  'GET /v1/webhooks': { allowed: ['admin', 'auditor'] },
  'DELETE /v1/webhooks/{name}': {
    allowed: ['admin'],
    path: '/v1/webhooks/doomed',
    prepare: (server) =>
      ensureCreated(server, '/v1/webhooks', {
        name: 'doomed',
        url: HOOK_URL,
        events: ['webhook.test'],
      }),
  },
  'POST /v1/webhooks/{name}/rotate-key': {
    allowed: ['admin'],
    path: '/v1/webhooks/hook/rotate-key',
  },
  'POST /v1/webhooks/{name}/test': { allowed: ['admin'], path: '/v1/webhooks/hook/test' },
  'GET /v1/webhooks/{name}/deliveries': {
    allowed: ['admin', 'auditor'],
    path: '/v1/webhooks/hook/deliveries',
  },
  // Second factors. A code that is not six digits fails validation, after the decision.
  'GET /v1/auth/mfa': { allowed: LOGGED_IN },
  'POST /v1/auth/mfa/enroll': { allowed: LOGGED_IN },
  'POST /v1/auth/mfa/confirm': { allowed: LOGGED_IN, body: () => ({ code: 'abcdef' }) },
  'DELETE /v1/auth/mfa': { allowed: LOGGED_IN, body: () => ({ code: 'abcdef' }) },
  'DELETE /v1/users/{name}/mfa': {
    allowed: ['admin'],
    path: '/v1/users/bystander/mfa',
    // An admin's reset removes it: the bystander enrolls again before every attempt.
    prepare: async (server) => {
      const user = await server.services.users.findByName('bystander');
      assert.ok(user);
      await server.services.mfa.enroll(SYSTEM_CONTEXT, { userId: user.id, name: user.name });
    },
  },
};

/** A public key nobody registered yet, for each attempt to register one. */
function freshKey(): string {
  const pair = ssh2.utils.generateKeyPairSync('ed25519');
  return pair.public;
}

const MEMBER_PASSWORD = `pw-${randomBytes(8).toString('hex')}`;
let memberToken = '';
let bystanderTokenId = '';
let runId = '';
let memberRequestId = '';
let cancelledRequestId = '';
let memberGrantId = '';
let revokedGrantId = '';
let openerBreakglassId = '';

async function issueToken(server: TestServer, name: string) {
  const user = await server.services.users.findByName(name);
  assert.ok(user);
  const db = server.services.store.db;
  return server.services.tokens.issue(db, { userId: user.id, kind: 'test', ttlMs: 60_000 });
}
/** Creates something a route removes, unless an earlier attempt left it in place. */
async function ensureCreated(server: TestServer, collection: string, body: unknown) {
  const created = await server.api('POST', collection, { body });
  assert.ok(created.status === 201 || created.status === 409, JSON.stringify(created.body));
}

/** A pending request of the member's for app_user; answers its id. */
async function askAsMember(server: TestServer): Promise<string> {
  const asked = await server.api<{ id: string; status: string }>('POST', '/v1/requests', {
    token: memberToken,
    body: REQUEST_BODY,
  });
  assert.equal(asked.status, 201, JSON.stringify(asked.body));
  assert.equal(asked.body.status, 'pending');
  return asked.body.id;
}

/** Opens break-glass on bg_user with the token's caller; answers the event and its grant. */
async function openBreakglass(server: TestServer, token: string) {
  const opened = await server.api<{ id: string; grantId: string }>(
    'POST',
    `${BREAKGLASS_ACCOUNT}/breakglass`,
    { token, body: { reason: 'access matrix' } },
  );
  assert.equal(opened.status, 201, JSON.stringify(opened.body));
  return opened.body;
}

/**
 * What the just-in-time routes work on: a group, the safe `jit` with an account, a target with
 * ephemeral accounts, a break-glass account opened once by `opener` and once by the member, a
 * pending request of the member's and a webhook.
 */
async function prepareJustInTime(server: TestServer) {
  const created = async (method: string, route: string, body: unknown, status = 201) => {
    const reply = await server.api(method, route, { body });
    assert.equal(reply.status, status, `${method} ${route}: ${JSON.stringify(reply.body)}`);
  };
  await created('POST', '/v1/groups', { name: 'approvers' });
  await created('POST', '/v1/safes', { name: 'jit' });
  const account = (username: string, safe: string) => ({ username, safe, secret: 'initial' });
  await created('POST', '/v1/targets/tgt/accounts', account('jit_user', 'jit'));
  const eph = { name: 'eph', platform: 'postgresql', host: '127.0.0.1', port: 9 };
  await created('POST', '/v1/targets', eph);
  await created('POST', '/v1/targets/eph/accounts', account('eph_admin', 'jit'));
  await created('PUT', '/v1/targets/eph/ephemeral', EPHEMERAL_CONFIG, 200);
  await created('POST', '/v1/targets/tgt/accounts', account('bg_user', 'vault1'));
  await created('PUT', `${BREAKGLASS_ACCOUNT}/breakglass`, { enabled: true }, 200);
  await created('PUT', '/v1/safes/vault1/members/opener', { permissions: ['use'] }, 200);
  const opener = await server.services.users.findByName('opener');
  assert.ok(opener);
  const db = server.services.store.db;
  const openerToken = await server.services.tokens.issue(db, {
    userId: opener.id,
    kind: 'test',
    ttlMs: 600_000,
  });
  openerBreakglassId = (await openBreakglass(server, openerToken.token)).id;
  memberGrantId = (await openBreakglass(server, memberToken)).grantId;
  memberRequestId = await askAsMember(server);
  await created('POST', '/v1/webhooks', { name: 'hook', url: HOOK_URL, events: ['webhook.test'] });
}

/**
 * SELF_APPROVAL is the refusal of a requester answering their own request (or an opener
 * reviewing their own break-glass): the decision point's verdict on who, like FORBIDDEN.
 */
const REFUSALS = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'SELF_APPROVAL']);

for (const store of STORE_KINDS) {
  describe(`access matrix on ${store}`, () => {
    let server: TestServer;
    const userIds: Partial<Record<Caller, string>> = {};

    before(async () => {
      server = await startTestServer({ store });
      const create = async (name: string, role: string, password?: string) => {
        const r = await server.api<{ id: string }>('POST', '/v1/users', {
          body: { name, role, password },
        });
        assert.equal(r.status, 201);
        return r.body.id;
      };
      userIds.admin = (await server.services.users.findByName('admin'))?.id ?? '';
      userIds.auditor = await create('auditor', 'auditor');
      userIds.member = await create('member', 'user', MEMBER_PASSWORD);
      userIds.outsider = await create('outsider', 'user');
      await create('bystander', 'user');
      await create('leaver', 'user');
      await create('opener', 'user');
      assert.equal(
        (await server.api('POST', '/v1/safes', { body: { name: 'vault1' } })).status,
        201,
      );
      const permissions = ['list', 'use', 'retrieve', 'checkout', 'manage'];
      assert.equal(
        (await server.api('PUT', '/v1/safes/vault1/members/member', { body: { permissions } }))
          .status,
        200,
      );
      const target = { name: 'tgt', platform: 'postgresql', host: '127.0.0.1', port: 9 };
      assert.equal((await server.api('POST', '/v1/targets', { body: target })).status, 201);
      const account = { username: 'app_user', safe: 'vault1', secret: 'initial' };
      const onboard = (body: unknown) => server.api('POST', '/v1/targets/tgt/accounts', { body });
      assert.equal((await onboard(account)).status, 201);
      const keep = { rotateOnCheckin: false };
      assert.equal((await server.api('PUT', '/v1/policies/keep', { body: keep })).status, 200);
      const held = { username: 'held', safe: 'vault1', policy: 'keep', secret: 'initial' };
      assert.equal((await onboard(held)).status, 201);
      assert.equal((await server.api('POST', '/v1/safes', { body: { name: 'runs' } })).status, 201);
      const manage = { permissions: ['list', 'manage'] };
      const runsMember = await server.api('PUT', '/v1/safes/runs/members/member', { body: manage });
      assert.equal(runsMember.status, 200);
      memberToken = (await tokenFor('member')) ?? '';
      await prepareJustInTime(server);
    });
    after(() => server.stop());

    const tokenFor = async (caller: Caller): Promise<string | null> => {
      if (caller === 'anonymous') return null;
      const userId = userIds[caller];
      assert.ok(userId);
      const issued = await server.services.tokens.issue(server.services.store.db, {
        userId,
        kind: 'test',
        ttlMs: 60_000,
      });
      return issued.token;
    };

    it('lists exactly the routes of the OpenAPI document', async () => {
      const doc = await server.api<{ paths: Record<string, Record<string, unknown>> }>(
        'GET',
        '/v1/openapi.json',
      );
      const documented = Object.entries(doc.body.paths).flatMap(([p, methods]) =>
        Object.keys(methods).map((m) => `${m.toUpperCase()} ${p}`),
      );
      assert.deepEqual(documented.sort(), Object.keys(ROUTES).sort());
    });

    for (const [route, spec] of Object.entries(ROUTES)) {
      it(route, async () => {
        const [method = 'GET', template = ''] = route.split(' ');
        for (const caller of CALLERS) {
          const token = await tokenFor(caller);
          await spec.prepare?.(server);
          const body = spec.body?.();
          const target = typeof spec.path === 'function' ? spec.path() : spec.path;
          const response = await server.api<{ error?: { code: string } }>(
            method,
            target ?? template,
            {
              token,
              ...(body === undefined ? {} : { body }),
            },
          );
          const refused = response.status >= 400 && REFUSALS.has(response.body.error?.code ?? '');
          const expected = spec.allowed.includes(caller);
          assert.equal(
            !refused,
            expected,
            `${route} as ${caller}: ${response.status} ${JSON.stringify(response.body)}`,
          );
          if (route === 'POST /v1/operator/seal' && !refused) {
            const key = readFileSync(path.join(server.dataDir, 'dev-unseal.key'), 'utf8');
            await server.services.keyring.unsealWithKey(Buffer.from(key, 'base64'));
          }
        }
      });
    }
  });
}
