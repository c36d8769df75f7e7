import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { STORE_KINDS } from '../support/stores.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

type Reply = {
  error?: { code: string; message: string };
  id?: string;
  status?: string;
  grantId?: string | null;
  approvals?: Array<{ approver: string }>;
  requests?: Array<{ id: string; status: string }>;
  grants?: Array<{ id: string; active: boolean; remainingS: number; user: string }>;
  value?: string;
  active?: boolean;
  events?: Array<{ action: string; outcome: string; actor: { name: string } }>;
  checkout?: { holder: string } | null;
};

const MINUTE = 60_000;

/**
 * Dual control end to end over the API, with a clock the test controls: nobody answers their own
 * request by any login of theirs, one person's approvals count once, a grant opens exactly what
 * it names for exactly its time, and its end checks in what it checked out.
 */
for (const store of STORE_KINDS) {
  describe(`access requests on ${store}`, () => {
    let server: TestServer;
    let now = Date.parse('2026-12-02T10:00:00Z');
    const tokens: Record<string, string> = {};

    before(async () => {
      server = await startTestServer({ store, clock: { now: () => now } });
      for (const name of ['alice', 'alice2', 'bob', 'carol', 'dave']) {
        await server.api('POST', '/v1/users', { body: { name, role: 'user', password: pw(name) } });
      }
      await server.api('POST', '/v1/users', {
        body: { name: 'audrey', role: 'auditor', password: pw('audrey') },
      });
      await relogin();
      await server.api('POST', '/v1/safes', { body: { name: 'prod' } });
      const members: Record<string, string[]> = {
        alice: ['list', 'use', 'retrieve', 'checkout'],
        alice2: ['list', 'approve'],
        bob: ['list', 'approve'],
        carol: ['list', 'approve'],
        dave: ['list'],
      };
      for (const [user, permissions] of Object.entries(members)) {
        await server.api('PUT', `/v1/safes/prod/members/${user}`, { body: { permissions } });
      }
      const linked = await server.api('PUT', '/v1/users/alice2/person', {
        body: { sameAs: 'alice' },
      });
      assert.equal(linked.status, 200);
      const target = { name: 'db01', platform: 'postgresql', host: '127.0.0.1', port: 9 };
      await server.api('POST', '/v1/targets', { body: target });
      await server.api('PUT', '/v1/policies/keep', {
        body: { rotateOnCheckin: false, rotateOnCheckoutExpiry: false },
      });
      for (const username of ['postgres', 'app']) {
        const body = { username, safe: 'prod', policy: 'keep', secret: `pw-${username}` };
        assert.equal((await server.api('POST', '/v1/targets/db01/accounts', { body })).status, 201);
      }
      const policy = await server.api('PUT', '/v1/safes/prod/access-policy', {
        body: {
          approvalFor: ['use', 'retrieve', 'checkout'],
          approvalsRequired: 2,
          requireTicket: true,
          ticketPattern: 'INC-[0-9]{3,6}',
          maxDurationS: 4 * 3600,
          requestTtlS: 3600,
        },
      });
      assert.equal(policy.status, 200, JSON.stringify(policy.body));
    });
    after(() => server.stop());

    const pw = (name: string) => `pw-${name}-long-enough`;
    /** Login tokens live an hour by the same clock: the tests that move it log in again. */
    const relogin = async () => {
      for (const name of ['alice', 'alice2', 'bob', 'carol', 'dave', 'audrey']) {
        const login = await server.api<{ token: string }>('POST', '/v1/auth/login', {
          token: null,
          body: { user: name, password: pw(name) },
        });
        tokens[name] = login.body.token;
      }
    };

    const as = (user: string) => tokens[user] as string;
    const reveal = (user: string, account = 'postgres') =>
      server.api<Reply>('POST', `/v1/targets/db01/accounts/${account}/reveal`, {
        token: as(user),
        body: { reason: 'looking' },
      });
    const ask = (user: string, body: Record<string, unknown>) =>
      server.api<Reply>('POST', '/v1/requests', {
        token: as(user),
        body: { account: 'db01/postgres', durationS: 3600, ticket: 'INC-4411', ...body },
      });
    const approve = (user: string, id: string) =>
      server.api<Reply>('POST', `/v1/requests/${id}/approve`, {
        token: as(user),
        body: { comment: 'ok' },
      });

    it('refuses standing use behind an approval, saying how to ask', async () => {
      const refused = await reveal('alice');
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error?.code, 'APPROVAL_REQUIRED');
    });

    it('checks what a request carries against the policy', async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ ticket: undefined, reason: 'disk full' }, 'TICKET_REQUIRED'],
        [{ ticket: 'CHG-1', reason: 'disk full' }, 'TICKET_INVALID'],
        [{ ticket: 'INC-12', reason: 'disk full' }, 'TICKET_INVALID'],
        [{ reason: '' }, 'REASON_REQUIRED'],
        [{ reason: 'disk full', durationS: 5 * 3600 }, 'DURATION_TOO_LONG'],
      ];
      for (const [body, code] of cases) {
        const reply = await ask('alice', body);
        assert.equal(reply.body.error?.code, code, JSON.stringify(body));
      }
      const listed = await server.api<Reply>('GET', '/v1/requests?mine=true', {
        token: as('alice'),
      });
      assert.deepEqual(listed.body.requests, [], 'a refused request leaves nothing behind');
    });

    it('never lets a requester answer their own request, by any login', async () => {
      const created = await ask('alice', { reason: 'INC-4411 disk full' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.id as string;

      const own = await approve('alice', id);
      assert.equal(own.status, 403);
      const linked = await approve('alice2', id);
      assert.equal(linked.body.error?.code, 'SELF_APPROVAL');
      const deny = await server.api<Reply>('POST', `/v1/requests/${id}/deny`, {
        token: as('alice2'),
        body: { reason: 'no' },
      });
      assert.equal(deny.body.error?.code, 'SELF_APPROVAL');
      const auditor = await approve('audrey', id);
      assert.equal(auditor.status, 403, JSON.stringify(auditor.body));
      const noApprove = await approve('dave', id);
      assert.equal(noApprove.status, 404, 'a member without approve does not see it');

      const queue = await server.api<Reply>('GET', '/v1/requests?pendingForMe=true', {
        token: as('alice2'),
      });
      assert.deepEqual(queue.body.requests, [], "not in the linked login's queue either");
      await server.api('POST', `/v1/requests/${id}/cancel`, { token: as('alice') });
    });

    it('counts one person once and grants at the Nth distinct approver', async () => {
      const created = await ask('alice', { reason: 'INC-4412 vacuum', permissions: ['retrieve'] });
      const id = created.body.id as string;
      const queue = await server.api<Reply>('GET', '/v1/requests?pendingForMe=true', {
        token: as('bob'),
      });
      assert.deepEqual(
        queue.body.requests?.map((r) => r.id),
        [id],
      );

      assert.equal((await approve('bob', id)).body.status, 'pending');
      const again = await approve('bob', id);
      assert.equal(again.body.error?.code, 'ALREADY_DECIDED');
      assert.equal((await reveal('alice')).body.error?.code, 'APPROVAL_REQUIRED');

      const done = await approve('carol', id);
      assert.equal(done.body.status, 'approved');
      assert.equal(done.body.approvals?.length, 2);
      const revealed = await reveal('alice');
      assert.equal(revealed.status, 200);
      assert.equal(revealed.body.value, 'pw-postgres');

      // The grant names one account and one permission: nothing else opened.
      assert.equal((await reveal('alice', 'app')).body.error?.code, 'APPROVAL_REQUIRED');
      const checkout = await server.api<Reply>(
        'POST',
        '/v1/targets/db01/accounts/postgres/checkout',
        {
          token: as('alice'),
          body: { reason: 'x' },
        },
      );
      assert.equal(checkout.body.error?.code, 'APPROVAL_REQUIRED');

      now += 61 * MINUTE;
      await relogin();
      assert.equal((await reveal('alice')).body.error?.code, 'APPROVAL_REQUIRED', 'expired');
      await server.services.accessTicker.tickNow();
      const trail = await server.api<Reply>('GET', '/v1/audit/events?action=grant.expire');
      assert.ok(trail.body.events?.some((e) => e.action === 'grant.expire'));
      // alice still knows the value she revealed: the account waits for a rotation.
      const known = await server.api<{ needsRotation?: boolean }>(
        'GET',
        '/v1/targets/db01/accounts/postgres',
      );
      assert.equal(known.body.needsRotation, true);
      const untouched = await server.api<{ needsRotation?: boolean }>(
        'GET',
        '/v1/targets/db01/accounts/app',
      );
      assert.equal(untouched.body.needsRotation, false, 'only what was revealed');
    });

    it('checks in a check-out when its grant is revoked', async () => {
      // postgres waits for a rotation since the last grant: the check-out is of app.
      const created = await ask('alice', {
        account: 'db01/app',
        reason: 'INC-4413',
        permissions: ['checkout'],
      });
      const id = created.body.id as string;
      await approve('bob', id);
      const approved = await approve('carol', id);
      const grantId = approved.body.grantId as string;
      const out = await server.api<Reply>('POST', '/v1/targets/db01/accounts/app/checkout', {
        token: as('alice'),
        body: { reason: 'maintenance' },
      });
      assert.equal(out.status, 200, JSON.stringify(out.body));

      const byOther = await server.api<Reply>('POST', `/v1/grants/${grantId}/revoke`, {
        token: as('dave'),
        body: { reason: 'not mine' },
      });
      assert.equal(byOther.status, 404, 'another member does not even see the grant');
      const revoked = await server.api<Reply>('POST', `/v1/grants/${grantId}/revoke`, {
        token: as('bob'),
        body: { reason: 'incident over' },
      });
      assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
      assert.equal(revoked.body.active, false);
      const account = await server.api<Reply>('GET', '/v1/targets/db01/accounts/app');
      assert.equal(account.body.checkout, null, 'checked in at once');
    });

    it('grants when two approvers answer at the same moment', async () => {
      for (let round = 0; round < 3; round += 1) {
        const created = await ask('alice', { reason: `INC-50${round}0`, permissions: ['use'] });
        const id = created.body.id as string;
        const answers = await Promise.all([approve('bob', id), approve('carol', id)]);
        assert.deepEqual(
          answers.map((a) => a.status),
          [200, 200],
        );
        const after = await server.api<Reply>('GET', `/v1/requests/${id}`);
        assert.equal(after.body.status, 'approved', 'neither approval was lost');
        await server.api('POST', `/v1/grants/${after.body.grantId}/revoke`, {
          token: as('alice'),
          body: { reason: 'done early' },
        });
      }
    });

    it('expires unanswered requests by the clock', async () => {
      const created = await ask('alice', { reason: 'INC-4414' });
      const id = created.body.id as string;
      now += 59 * MINUTE;
      await relogin();
      await server.services.accessTicker.tickNow();
      assert.equal((await server.api<Reply>('GET', `/v1/requests/${id}`)).body.status, 'pending');
      now += 2 * MINUTE;
      await relogin();
      assert.equal((await approve('bob', id)).body.error?.code, 'REQUEST_NOT_PENDING');
      await server.services.accessTicker.tickNow();
      assert.equal((await server.api<Reply>('GET', `/v1/requests/${id}`)).body.status, 'expired');
    });

    it("hides other people's requests", async () => {
      const created = await ask('alice', { reason: 'INC-4415' });
      const id = created.body.id as string;
      const peek = await server.api<Reply>('GET', `/v1/requests/${id}`, { token: as('dave') });
      assert.equal(peek.status, 404);
      const cancel = await server.api<Reply>('POST', `/v1/requests/${id}/cancel`, {
        token: as('bob'),
      });
      assert.equal(cancel.status, 403, 'only the requester cancels');
    });
  });
}
