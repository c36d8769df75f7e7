import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { STORE_KINDS } from '../support/stores.ts';
import { createUserWithToken, startTestServer, type TestServer } from '../support/test-server.ts';

type Reply = {
  error?: { code: string };
  expiresAt?: string;
  checkout?: { holder: string } | null;
  needsRotation?: boolean;
};

/** Check-outs end by the server's clock, here one the test controls (field case F09 too). */
for (const store of STORE_KINDS) {
  describe(`check-out expiry on ${store}`, () => {
    let server: TestServer;
    let alice: string;
    let bob: string;
    let now = Date.parse('2026-12-01T09:00:00Z');

    before(async () => {
      server = await startTestServer({ store, clock: { now: () => now } });
      alice = await createUserWithToken(server, 'alice', 'user');
      bob = await createUserWithToken(server, 'bob', 'user');
      await server.api('POST', '/v1/safes', { body: { name: 'ops' } });
      for (const user of ['alice', 'bob']) {
        const body = { permissions: ['checkout'] };
        await server.api('PUT', `/v1/safes/ops/members/${user}`, { body });
      }
      const target = { name: 'db', platform: 'postgresql', host: '127.0.0.1', port: 9 };
      await server.api('POST', '/v1/targets', { body: target });
      await server.api('PUT', '/v1/policies/short', {
        body: { maxCheckoutS: 60, rotateOnCheckin: true },
      });
      await server.api('PUT', '/v1/policies/short-keep', {
        body: { maxCheckoutS: 60, rotateOnCheckin: false, rotateOnCheckoutExpiry: false },
      });
      for (const [username, policy] of [
        ['rotating', 'short'],
        ['kept', 'short-keep'],
      ]) {
        const body = { username, safe: 'ops', policy, secret: 'initial' };
        assert.equal((await server.api('POST', '/v1/targets/db/accounts', { body })).status, 201);
      }
    });
    after(() => server.stop());

    const checkout = (token: string, account: string, durationS?: number) =>
      server.api<Reply>('POST', `/v1/targets/db/accounts/${account}/checkout`, {
        token,
        body: { reason: 'expiry test', ...(durationS === undefined ? {} : { durationS }) },
      });
    const show = (account: string) =>
      server.api<Reply>('GET', `/v1/targets/db/accounts/${account}`);

    it('clamps the asked duration to the policy maximum', async () => {
      const reply = await checkout(alice, 'rotating', 7200);
      assert.equal(reply.body.expiresAt, new Date(now + 60_000).toISOString());
    });

    it('checks in at expiry, audited, and waits for a verified rotation', async () => {
      now += 59_000;
      assert.equal(await server.services.checkout.expireDue(), 0, 'not yet');
      now += 2_000;
      assert.equal(await server.services.checkout.expireDue(), 1);

      const account = await show('rotating');
      assert.equal(account.body.checkout, null);
      assert.equal(account.body.needsRotation, true, 'the rotation failed: the target is down');
      const refused = await checkout(bob, 'rotating');
      assert.equal(refused.body.error?.code, 'ACCOUNT_ROTATION_PENDING');

      const events = await server.api<{
        events: { actor: string; details: { automatic?: boolean } }[];
      }>('GET', '/v1/audit/events?action=account.checkin&object=db/rotating');
      assert.equal(events.body.events.length, 1);
      assert.equal(events.body.events[0]?.details.automatic, true);
    });

    it('treats a check-out past its end as free even before the sweeper runs', async () => {
      assert.equal((await checkout(alice, 'kept')).status, 200);
      const held = await checkout(bob, 'kept');
      assert.equal(held.body.error?.code, 'ACCOUNT_CHECKED_OUT');
      now += 61_000;
      const taken = await checkout(bob, 'kept');
      assert.equal(taken.status, 200, JSON.stringify(taken.body));
      assert.equal((await show('kept')).body.checkout?.holder, 'bob');
    });
  });
}
