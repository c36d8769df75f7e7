/**
 * Regression: confirming a second factor revoked every token of the user, root tokens included.
 * The dev root token is issued only when missing, so a dev server's admin lost it for good.
 * Confirming revokes the user's other sign-ins (login tokens) and leaves root tokens alone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { BUILTIN_ADMIN } from '../../src/identity/users.ts';
import { STORE_KINDS } from '../support/stores.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

for (const store of STORE_KINDS) {
  describe(`confirming a factor and the user's root tokens on ${store}`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ store });
    });
    after(() => server?.stop());

    it('revokes the other sign-ins but keeps the dev root token and a root token', async () => {
      const { services } = server;
      const admin = await services.users.findByName(BUILTIN_ADMIN);
      assert.ok(admin !== null);
      const issue = (kind: string) =>
        services.tokens.issue(services.store.db, { userId: admin.id, kind, ttlMs: null });
      const root = await issue('root');
      const signIn = await issue('login');
      const ownSignIn = await issue('login');
      const works = async (token: string) =>
        (await server.api('GET', '/v1/auth/self', { token })).status === 200;
      assert.equal(await works(signIn.token), true);

      // The admin confirms a factor from a sign-in of theirs.
      const enrolled = await server.api<{ secret: string }>('POST', '/v1/auth/mfa/enroll', {
        token: ownSignIn.token,
      });
      assert.equal(enrolled.status, 201);
      const code = TOTP.generate({ secret: Secret.fromBase32(enrolled.body.secret) });
      const confirmed = await server.api('POST', '/v1/auth/mfa/confirm', {
        token: ownSignIn.token,
        body: { code },
      });
      assert.equal(confirmed.status, 200);

      assert.equal(await works(signIn.token), false, 'another sign-in outlived the factor');
      assert.equal(await works(ownSignIn.token), true, "the confirming sign-in's own token");
      assert.equal(await works(server.rootToken), true, 'the dev root token was revoked');
      assert.equal(await works(root.token), true, 'a root token was revoked');
    });
  });
}
