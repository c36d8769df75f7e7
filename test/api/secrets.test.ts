import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { STORE_KINDS } from '../support/stores.ts';
import { createUserWithToken, startTestServer, type TestServer } from '../support/test-server.ts';

type ErrorReply = { error: { code: string; message: string; details?: Record<string, unknown> } };

const marker = () => `Zq${randomBytes(10).toString('hex')}`;

for (const store of STORE_KINDS) {
  describe(`secrets, reveal and check-out on ${store}`, () => {
    let server: TestServer;
    let alice: string;
    const secretA = `${marker()}'"\\$é`;
    const secretB = marker();

    before(async () => {
      server = await startTestServer({ store });
      alice = await createUserWithToken(server, 'alice', 'user');
      await server.api('POST', '/v1/safes', { body: { name: 'ops' } });
      await server.api('PUT', '/v1/safes/ops/members/alice', {
        body: { permissions: ['list', 'retrieve', 'checkout'] },
      });
      // Nothing listens on port 9: rotations fail, which is what the check-in case needs.
      await server.api('POST', '/v1/targets', {
        body: { name: 'db01', platform: 'postgresql', host: '127.0.0.1', port: 9 },
      });
      for (const [username, secret] of [
        ['app', secretA],
        ['report', secretB],
      ] as const) {
        const r = await server.api('POST', '/v1/targets/db01/accounts', {
          body: { username, safe: 'ops', secret },
        });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
    });
    after(() => server.stop());

    it('reveals the exact value to a member with a reason, and audits the reason', async () => {
      const r = await server.api<{ value: string }>(
        'POST',
        '/v1/targets/db01/accounts/app/reveal',
        {
          token: alice,
          body: { reason: 'INC-1 checking the app' },
        },
      );
      assert.equal(r.status, 200);
      assert.equal(r.body.value, secretA);
      const events = await server.api<{
        events: { action: string; reason: string; actor: string }[];
      }>('GET', '/v1/audit/events?action=secret.reveal');
      assert.ok(
        events.body.events.some(
          (e) => e.actor === 'alice' && e.reason === 'INC-1 checking the app',
        ),
      );
    });

    it('refuses a reveal without a reason, or by the admin who is not a member', async () => {
      const noReason = await server.api<ErrorReply>(
        'POST',
        '/v1/targets/db01/accounts/app/reveal',
        { token: alice, body: {} },
      );
      assert.equal(noReason.body.error.code, 'VALIDATION_FAILED');
      const blank = await server.api<ErrorReply>('POST', '/v1/targets/db01/accounts/app/reveal', {
        token: alice,
        body: { reason: '   ' },
      });
      assert.equal(blank.body.error.code, 'VALIDATION_FAILED');
      const admin = await server.api<ErrorReply>('POST', '/v1/targets/db01/accounts/app/reveal', {
        body: { reason: 'x' },
      });
      assert.equal(admin.body.error.code, 'FORBIDDEN');
    });

    it('refuses a ciphertext copied onto another account', async () => {
      const db = server.services.store.db;
      const ids = await db.selectFrom('accounts').select(['id', 'username']).execute();
      const app = ids.find((r) => r.username === 'app')?.id ?? '';
      const report = ids.find((r) => r.username === 'report')?.id ?? '';
      const source = await db
        .selectFrom('secret_versions')
        .selectAll()
        .where('account_id', '=', app)
        .executeTakeFirstOrThrow();
      const original = await db
        .selectFrom('secret_versions')
        .selectAll()
        .where('account_id', '=', report)
        .executeTakeFirstOrThrow();
      await db
        .updateTable('secret_versions')
        .set({ ciphertext: source.ciphertext, wrapped_key: source.wrapped_key })
        .where('account_id', '=', report)
        .execute();
      const r = await server.api<ErrorReply>('POST', '/v1/targets/db01/accounts/report/reveal', {
        token: alice,
        body: { reason: 'test' },
      });
      assert.equal(r.status, 500);
      assert.equal(r.body.error.code, 'INTEGRITY_FAILURE');
      const alarms = await server.api<{ events: { objectType: string; outcome: string }[] }>(
        'GET',
        '/v1/audit/events?action=secret.integrity',
      );
      assert.equal(alarms.body.events.length, 1, 'the failed check is in the audit trail');
      assert.ok(!JSON.stringify(r.body).includes(secretA));
      await db
        .updateTable('secret_versions')
        .set({ ciphertext: original.ciphertext, wrapped_key: original.wrapped_key })
        .where('account_id', '=', report)
        .execute();
    });

    it('gives one winner among concurrent check-outs, naming the holder to others', async () => {
      const names = Array.from({ length: 12 }, (_, i) => `racer${i}`);
      const tokens = await Promise.all(names.map((n) => createUserWithToken(server, n, 'user')));
      for (const n of names) {
        await server.api('PUT', `/v1/safes/ops/members/${n}`, {
          body: { permissions: ['checkout'] },
        });
      }
      const replies = await Promise.all(
        tokens.map((token) =>
          server.api<ErrorReply & { value: string }>(
            'POST',
            '/v1/targets/db01/accounts/report/checkout',
            {
              token,
              body: { reason: 'race' },
            },
          ),
        ),
      );
      const winners = replies.filter((r) => r.status === 200);
      assert.equal(winners.length, 1);
      assert.equal(winners[0]?.body.value, secretB);
      const shown = await server.api<{ checkout: { holder: string } }>(
        'GET',
        '/v1/targets/db01/accounts/report',
      );
      for (const loser of replies.filter((r) => r.status !== 200)) {
        assert.equal(loser.body.error.code, 'ACCOUNT_CHECKED_OUT');
        assert.equal(loser.body.error.details?.holder, shown.body.checkout.holder);
      }
      const audit = await server.api<{ events: { outcome: string; object: string }[] }>(
        'GET',
        '/v1/audit/events?action=account.checkout&limit=1000',
      );
      const forReport = audit.body.events.filter((e) => e.object === 'db01/report');
      assert.equal(forReport.filter((e) => e.outcome === 'success').length, 1);
      assert.equal(forReport.filter((e) => e.outcome === 'denied').length, names.length - 1);

      // The holder checks in; the policy rotates on check-in, the target is down, so the next
      // borrower waits for a verified rotation (field case F09).
      const holderToken = tokens[replies.indexOf(winners[0] as (typeof replies)[number])];
      const checkin = await server.api<{ rotated: boolean }>(
        'POST',
        '/v1/targets/db01/accounts/report/checkin',
        {
          token: holderToken ?? '',
        },
      );
      assert.equal(checkin.status, 200);
      assert.equal(checkin.body.rotated, false);
      const next = await server.api<ErrorReply>(
        'POST',
        '/v1/targets/db01/accounts/report/checkout',
        {
          token: tokens.find((t) => t !== holderToken) ?? '',
          body: { reason: 'after' },
        },
      );
      assert.equal(next.body.error.code, 'ACCOUNT_ROTATION_PENDING');
    });

    it('answers VAULT_SEALED for secrets while sealed, and keeps serving health', async () => {
      assert.equal((await server.api('POST', '/v1/operator/seal')).status, 200);
      const health = await server.api<{ sealed: boolean }>('GET', '/v1/health', { token: null });
      assert.deepEqual([health.status, health.body.sealed], [200, true]);
      const r = await server.api<ErrorReply>('POST', '/v1/targets/db01/accounts/app/reveal', {
        token: alice,
        body: { reason: 'x' },
      });
      assert.deepEqual([r.status, r.body.error.code], [503, 'VAULT_SEALED']);
      const safe = await server.api<ErrorReply>('POST', '/v1/safes', {
        body: { name: 'while-sealed' },
      });
      assert.equal(safe.body.error.code, 'VAULT_SEALED');
      const key = readFileSync(path.join(server.dataDir, 'dev-unseal.key'), 'utf8');
      await server.services.keyring.unsealWithKey(Buffer.from(key, 'base64'));
    });

    it('refuses to reveal when the audit trail cannot be written (F15)', async () => {
      const db = server.services.store.db;
      await sql`alter table audit_events rename to audit_events_away`.execute(db);
      try {
        const r = await server.api<ErrorReply>('POST', '/v1/targets/db01/accounts/app/reveal', {
          token: alice,
          body: { reason: 'audit down' },
        });
        assert.deepEqual([r.status, r.body.error.code], [503, 'AUDIT_UNAVAILABLE']);
        assert.ok(!JSON.stringify(r.body).includes(secretA));
        const onboard = await server.api<ErrorReply>('POST', '/v1/targets/db01/accounts', {
          body: { username: 'late', safe: 'ops', secret: 'x' },
        });
        assert.equal(onboard.body.error.code, 'AUDIT_UNAVAILABLE');
      } finally {
        await sql`alter table audit_events_away rename to audit_events`.execute(db);
      }
      const late = await server.api<ErrorReply>('GET', '/v1/targets/db01/accounts/late');
      assert.equal(late.body.error.code, 'NOT_FOUND', 'the refused onboarding left nothing behind');
    });

    it('never writes a secret, password or token in clear to logs or database files', async () => {
      const password = `Pw-${marker()}`;
      await server.api('POST', '/v1/users', { body: { name: 'carol', role: 'user', password } });
      const login = await server.api<{ token: string }>('POST', '/v1/auth/login', {
        token: null,
        body: { user: 'carol', password },
      });
      const haystacks = [server.logText()];
      if (store === 'sqlite') {
        for (const file of readdirSync(server.dataDir)) {
          if (file.startsWith('tessera.db'))
            haystacks.push(readFileSync(path.join(server.dataDir, file)).toString('latin1'));
        }
      }
      const needles = [secretA, secretB, password, login.body.token, server.rootToken];
      for (const haystack of haystacks) {
        for (const needle of needles) {
          assert.ok(!haystack.includes(needle), 'a secret leaked');
          assert.ok(
            !haystack.includes(Buffer.from(needle).toString('latin1')),
            'a secret leaked (bytes)',
          );
        }
      }
      assert.ok(
        server.logText().includes('secret.reveal') || server.logText().includes('/reveal'),
        'the log saw the requests',
      );
    });
  });
}
