import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { STORE_KINDS } from '../support/stores.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

type Reply = {
  error?: { code: string };
  id?: string;
  status?: string;
  value?: string;
};

/**
 * What a grant may not do (found by review): count one person twice or count the requester's own
 * login, open an account whose own policy is stricter than its safe's, or, with nobody to
 * approve, give a permission the member never held.
 */
for (const store of STORE_KINDS) {
  describe(`limits of requests and grants on ${store}`, () => {
    let server: TestServer;
    const tokens: Record<string, string> = {};
    const pw = (name: string) => `pw-${name}-long-enough`;

    before(async () => {
      server = await startTestServer({ store });
      for (const name of ['alice', 'bob', 'carol', 'dan', 'erin']) {
        await server.api('POST', '/v1/users', { body: { name, role: 'user', password: pw(name) } });
        const login = await server.api<{ token: string }>('POST', '/v1/auth/login', {
          token: null,
          body: { user: name, password: pw(name) },
        });
        tokens[name] = login.body.token;
      }
      for (const safe of ['prod', 'ops']) {
        await server.api('POST', '/v1/safes', { body: { name: safe } });
      }
      const members: Array<[string, string, string[]]> = [
        ['prod', 'alice', ['list', 'use', 'retrieve', 'checkout']],
        ['prod', 'bob', ['list', 'approve']],
        ['prod', 'carol', ['list', 'approve']],
        ['prod', 'dan', ['list', 'approve']],
        ['ops', 'erin', ['list', 'use']],
        ['prod', 'erin', ['list', 'manage']],
      ];
      for (const [safe, user, permissions] of members) {
        await server.api('PUT', `/v1/safes/${safe}/members/${user}`, { body: { permissions } });
      }
      const target = { name: 'db01', platform: 'postgresql', host: '127.0.0.1', port: 9 };
      await server.api('POST', '/v1/targets', { body: target });
      for (const [username, safe] of [
        ['app', 'prod'],
        ['root', 'prod'],
        ['opsacct', 'ops'],
      ]) {
        const body = { username, safe, secret: `pw-${username}` };
        assert.equal((await server.api('POST', '/v1/targets/db01/accounts', { body })).status, 201);
      }
      const gated = { approvalFor: ['use', 'retrieve', 'checkout'], approvalsRequired: 2 };
      await server.api('PUT', '/v1/safes/prod/access-policy', { body: gated });
      await server.api('PUT', '/v1/targets/db01/accounts/root/access-policy', {
        body: { ...gated, approvalsRequired: 3 },
      });
      await server.api('PUT', '/v1/safes/ops/access-policy', {
        body: { approvalFor: ['use'], approvalsRequired: 0 },
      });
    });
    after(() => server.stop());

    const as = (user: string) => tokens[user] as string;
    const ask = (user: string, body: Record<string, unknown>) =>
      server.api<Reply>('POST', '/v1/requests', {
        token: as(user),
        body: { durationS: 3600, reason: 'maintenance', ...body },
      });
    const approve = (user: string, id: string) =>
      server.api<Reply>('POST', `/v1/requests/${id}/approve`, { token: as(user), body: {} });
    const status = async (id: string) =>
      (await server.api<Reply>('GET', `/v1/requests/${id}`)).body.status;
    const link = (user: string, sameAs: string | null) =>
      server.api('PUT', `/v1/users/${user}/person`, { body: { sameAs } });

    it('counts a login once, whatever person it is linked to later', async () => {
      const id = (await ask('alice', { account: 'db01/app' })).body.id as string;
      assert.equal((await approve('bob', id)).body.status, 'pending');
      await link('bob', 'carol');
      assert.equal((await approve('bob', id)).body.error?.code, 'ALREADY_DECIDED');
      // bob is carol now: her approval adds no second person.
      await approve('carol', id);
      assert.equal(await status(id), 'pending');
      await link('bob', null);
      await server.api('POST', `/v1/requests/${id}/cancel`, { token: as('alice') });
    });

    it('drops an approval whose login turned out to be the requester', async () => {
      const id = (await ask('alice', { account: 'db01/app' })).body.id as string;
      await approve('bob', id);
      await link('bob', 'alice');
      await approve('carol', id);
      assert.equal(await status(id), 'pending', "bob is alice's own login now");
      await approve('dan', id);
      assert.equal(await status(id), 'approved', 'carol and dan are two other persons');
      await link('bob', null);
    });

    it('never opens an account with a stricter own policy through a safe grant', async () => {
      const id = (await ask('alice', { safe: 'prod', permissions: ['retrieve'] })).body
        .id as string;
      await approve('carol', id);
      assert.equal((await approve('dan', id)).body.status, 'approved');
      const reveal = (account: string) =>
        server.api<Reply>('POST', `/v1/targets/db01/accounts/${account}/reveal`, {
          token: as('alice'),
          body: { reason: 'looking' },
        });
      assert.equal((await reveal('app')).body.value, 'pw-app', 'the safe grant opens app');
      assert.equal((await reveal('root')).body.error?.code, 'APPROVAL_REQUIRED');
    });

    it('leaves the choice of approvers to admins, not to safe managers', async () => {
      const put = (permissions: string[]) =>
        server.api<Reply>('PUT', '/v1/safes/prod/members/alice', {
          token: as('erin'),
          body: { permissions },
        });
      const added = await put(['list', 'use', 'retrieve', 'checkout', 'approve']);
      assert.equal(added.body.error?.code, 'FORBIDDEN');
      const taken = await server.api<Reply>('PUT', '/v1/safes/prod/members/bob', {
        token: as('erin'),
        body: { permissions: ['list'] },
      });
      assert.equal(taken.body.error?.code, 'FORBIDDEN');
      assert.equal((await put(['list', 'use'])).status, 200, 'other permissions stay theirs');
      await server.api('PUT', '/v1/safes/prod/members/alice', {
        body: { permissions: ['list', 'use', 'retrieve', 'checkout'] },
      });
    });

    it('gives nothing the member does not hold when no approver is needed', async () => {
      const beyond = await ask('erin', { account: 'db01/opsacct', permissions: ['retrieve'] });
      assert.equal(beyond.body.error?.code, 'FORBIDDEN');
      const held = await ask('erin', { account: 'db01/opsacct', permissions: ['use'] });
      assert.equal(held.body.status, 'approved', 'what erin holds is unlocked at once');
    });
  });
}
