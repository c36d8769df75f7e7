/**
 * Regressions of the security review, each named after the fault it pins (F2 to F12; F1 and F11
 * are in throttling.test.ts). Every case runs against a real server on both stores.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.ts';
import { STORE_KINDS } from '../support/stores.ts';
import { createUserWithToken, startTestServer, type TestServer } from '../support/test-server.ts';

type ErrorReply = { error: { code: string; message: string; requestId: string } };
type AuditEvents = {
  events: { action: string; outcome: string; actor: string | null; object: string | null }[];
};

for (const store of STORE_KINDS) {
  describe(`security review regressions on ${store}`, () => {
    let server: TestServer;

    before(async () => {
      server = await startTestServer({ store });
      await server.api('POST', '/v1/safes', { body: { name: 'sod' } });
      const target = { name: 'tgt', platform: 'postgresql', host: '127.0.0.1', port: 9 };
      assert.equal((await server.api('POST', '/v1/targets', { body: target })).status, 201);
      const account = { username: 'shared', safe: 'sod', secret: 'initial-secret' };
      const onboarded = await server.api('POST', '/v1/targets/tgt/accounts', { body: account });
      assert.equal(onboarded.status, 201);
    });
    after(() => server.stop());

    const createUser = async (name: string, role: string, password?: string) => {
      const r = await server.api('POST', '/v1/users', { body: { name, role, password } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    };
    const login = (user: string, password: string) =>
      server.api<ErrorReply & { token: string }>('POST', '/v1/auth/login', {
        token: null,
        body: { user, password },
      });
    const events = async (action: string) =>
      (await server.api<AuditEvents>('GET', `/v1/audit/events?action=${action}&limit=1000`)).body
        .events;
    const setPassword = (name: string, token: string, body: unknown) =>
      server.api<ErrorReply>('PUT', `/v1/users/${name}/password`, { token, body });

    it('throttles and audits wrong current passwords of a password change (F2)', async () => {
      await createUser('ivan', 'user', 'ivan-first');
      const token = (await login('ivan', 'ivan-first')).body.token;
      for (let i = 0; i < 5; i++) {
        const wrong = await setPassword('ivan', token, {
          password: 'ivan-second',
          currentPassword: `guess-${i}`,
        });
        assert.equal(wrong.body.error?.code, 'UNAUTHENTICATED');
      }
      const right = { password: 'ivan-second', currentPassword: 'ivan-first' };
      assert.equal((await setPassword('ivan', token, right)).body.error?.code, 'RATE_LIMITED');
      // The same throttle as login: the guesses through this route count there too.
      assert.equal((await login('ivan', 'ivan-first')).body.error?.code, 'RATE_LIMITED');
      const audited = (await events('user.password.set')).filter((e) => e.object === 'ivan');
      assert.equal(audited.filter((e) => e.outcome === 'failure').length, 5);
      assert.equal(audited.filter((e) => e.outcome === 'denied').length, 1);
      assert.ok(audited.every((e) => e.actor === 'ivan'));
    });

    it('asks admins for their current password, unless they have none (F3)', async () => {
      await createUser('ada', 'admin', 'ada-first');
      const token = (await login('ada', 'ada-first')).body.token;
      const bare = await setPassword('ada', token, { password: 'taken-over' });
      assert.equal(bare.body.error?.code, 'UNAUTHENTICATED');
      const right = { password: 'ada-second', currentPassword: 'ada-first' };
      assert.equal((await setPassword('ada', token, right)).status, 204);
      // Another user's password an admin still resets without knowing it.
      await createUser('ben', 'user', 'ben-first');
      assert.equal((await setPassword('ben', token, { password: 'ben-reset' })).status, 204);

      // An admin who has no password yet (the built-in one right after init) sets a first one.
      await createUser('fresh-admin', 'admin');
      const user = await server.services.users.findByName('fresh-admin');
      assert.ok(user);
      const db = server.services.store.db;
      const issued = await server.services.tokens.issue(db, {
        userId: user.id,
        kind: 'root',
        ttlMs: null,
      });
      const self = await server.api<{ passwordSet: boolean }>('GET', '/v1/auth/self', {
        token: issued.token,
      });
      assert.equal(self.body.passwordSet, false);
      assert.equal(
        (await setPassword('fresh-admin', issued.token, { password: 'p1' })).status,
        204,
      );
      const again = await setPassword('fresh-admin', issued.token, { password: 'p2' });
      assert.equal(again.body.error?.code, 'UNAUTHENTICATED');
    });

    it('has the command line ask an admin for the current password of their own (F3)', async () => {
      await createUser('cli-admin', 'admin', 'cli-first');
      const token = (await login('cli-admin', 'cli-first')).body.token;
      const env = { TESSERA_ADDR: server.url, TESSERA_TOKEN: token };
      const args = ['user', 'password', 'cli-admin', '--password-stdin'];
      const oneLine = await runCli(args, env, 'cli-second\n');
      assert.deepEqual([oneLine.code, oneLine.stderr.includes('two lines')], [2, true]);
      assert.equal((await runCli(args, env, 'cli-first\ncli-second\n')).code, 0);
      assert.equal((await login('cli-admin', 'cli-second')).status, 200);
    });

    it('keeps duties apart: no self-grants, auditors list only (F4)', async () => {
      await createUser('mgr', 'user', 'mgr-pass');
      await createUser('aud', 'auditor', 'aud-pass');
      await createUser('bob', 'user');
      const member = (name: string, permissions: string[], token?: string) =>
        server.api<ErrorReply & { addedBy: string; addedAt: string }>(
          'PUT',
          `/v1/safes/sod/members/${name}`,
          { body: { permissions }, ...(token === undefined ? {} : { token }) },
        );
      assert.equal((await member('mgr', ['list', 'manage'])).status, 200);
      const mgr = (await login('mgr', 'mgr-pass')).body.token;

      const selfGrant = await member('mgr', ['list', 'manage', 'retrieve'], mgr);
      assert.equal(selfGrant.body.error?.code, 'FORBIDDEN');
      const selfRemove = await server.api<ErrorReply>('DELETE', '/v1/safes/sod/members/mgr', {
        token: mgr,
      });
      assert.equal(selfRemove.body.error?.code, 'FORBIDDEN');
      for (const token of [mgr, undefined]) {
        const grant = await member('aud', ['list', 'retrieve'], token);
        assert.equal(grant.body.error?.code, 'VALIDATION_FAILED');
      }
      assert.equal((await member('aud', ['list'], mgr)).status, 200);
      // An admin may change their own membership; the event says it was their own.
      assert.equal((await member('admin', ['list'])).status, 200);
      const own = (await events('safe.member.set')).filter((e) => e.actor === 'admin');
      assert.ok(own.length > 0);

      // A membership written around the service still gives an auditor no secret.
      const auditor = await server.services.users.findByName('aud');
      assert.ok(auditor);
      await server.services.store.db
        .updateTable('safe_members')
        .set({ permissions: 'list,retrieve,checkout,manage' })
        .where('user_id', '=', auditor.id)
        .execute();
      const audToken = (await login('aud', 'aud-pass')).body.token;
      for (const action of ['reveal', 'checkout']) {
        const r = await server.api<ErrorReply>(
          'POST',
          `/v1/targets/tgt/accounts/shared/${action}`,
          { token: audToken, body: { reason: 'testing separation of duties' } },
        );
        assert.equal(r.body.error?.code, 'FORBIDDEN', action);
      }

      // Updating a member answers who added them and when, as stored, not the caller and now.
      const added = await member('bob', ['list']);
      await new Promise((resolve) => setTimeout(resolve, 5));
      const updated = await member('bob', ['list', 'use'], mgr);
      assert.deepEqual([updated.body.addedBy, updated.body.addedAt], ['admin', added.body.addedAt]);
    });

    it('answers an invisible and a missing object with the same words (F5)', async () => {
      const olga = await createUserWithToken(server, 'olga', 'user');
      const pairs: Array<[string, string, string, unknown?]> = [
        ['GET', '/v1/targets/tgt/accounts/shared', '/v1/targets/tgt/accounts/none'],
        [
          'POST',
          '/v1/targets/tgt/accounts/shared/reveal',
          '/v1/targets/tgt/accounts/none/reveal',
          { reason: 'r' },
        ],
        [
          'POST',
          '/v1/targets/tgt/accounts/shared/checkin',
          '/v1/targets/tgt/accounts/none/checkin',
        ],
        ['GET', '/v1/safes/sod', '/v1/safes/none'],
        ['DELETE', '/v1/safes/sod/members/bob', '/v1/safes/none/members/bob'],
      ];
      for (const [method, invisible, missing, body] of pairs) {
        const options = { token: olga, ...(body === undefined ? {} : { body }) };
        const a = await server.api<ErrorReply>(method, invisible, options);
        const b = await server.api<ErrorReply>(method, missing, options);
        assert.deepEqual(
          [a.status, a.body.error?.code, a.body.error.message],
          [b.status, b.body.error?.code, b.body.error.message],
          `${method} ${invisible}`,
        );
        assert.equal(a.status, 404);
      }
      const onboard = (safe: string) =>
        server.api<ErrorReply>('POST', '/v1/targets/tgt/accounts', {
          token: olga,
          body: { username: 'new', safe, secret: 's' },
        });
      const [a, b] = [await onboard('sod'), await onboard('none')];
      assert.deepEqual(
        [a.status, a.body.error.message],
        [b.status, b.body.error.message],
        'onboard',
      );
    });

    it('reserves the names Tessera and the built-in admin act under (F6)', async () => {
      for (const name of ['tessera', 'system', 'admin', 'Tessera', 'SYSTEM', 'Admin']) {
        const r = await server.api<ErrorReply>('POST', '/v1/users', {
          body: { name, role: 'user', password: 'pose-as-system' },
        });
        assert.equal(r.body.error?.code, 'VALIDATION_FAILED', name);
      }
    });

    it('answers NOT_FOUND for a token that does not exist, and audits nothing (F7)', async () => {
      const before = (await events('auth.token.revoke')).length;
      const unknown = await server.api<ErrorReply>('DELETE', `/v1/tokens/${randomUUID()}`);
      assert.deepEqual([unknown.status, unknown.body.error?.code], [404, 'NOT_FOUND']);
      assert.equal((await events('auth.token.revoke')).length, before);

      const user = await server.services.users.findByName('bob');
      assert.ok(user);
      const db = server.services.store.db;
      const issued = await server.services.tokens.issue(db, {
        userId: user.id,
        kind: 't',
        ttlMs: 1e5,
      });
      assert.equal((await server.api('DELETE', `/v1/tokens/${issued.id}`)).status, 204);
      assert.equal((await server.api('DELETE', `/v1/tokens/${issued.id}`)).status, 404);
      assert.equal((await events('auth.token.revoke')).length, before + 1);
    });

    it('answers routing errors in the documented shape without echoing the URL (F8)', async () => {
      const long = 'a'.repeat(400);
      const cases: Array<[string, string, string]> = [
        [`/v1/targets/tgt/accounts/${long}`, 'VALIDATION_FAILED', long],
        ['/v1/safes/%E0%A4%A', 'BAD_REQUEST', '%E0'],
      ];
      for (const [path, code, echo] of cases) {
        const r = await fetch(server.url + path, {
          headers: { authorization: `Bearer ${server.rootToken}` },
        });
        const text = await r.text();
        const body = JSON.parse(text) as ErrorReply;
        assert.deepEqual([r.status, body.error.code], [400, code], path);
        assert.equal(body.error.requestId, r.headers.get('x-request-id'));
        assert.ok(!text.includes(echo), `the reply repeats the URL: ${text}`);
      }
      const raw = await rawRequest(
        server.url,
        'GET /v1/health HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n',
      );
      const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as ErrorReply;
      assert.match(raw, /^HTTP\/1\.1 400 /);
      assert.equal(body.error.code, 'BAD_REQUEST');
      assert.ok(body.error.requestId.length > 0);
    });

    it('reads bearer in any case, ignores bad tokens on open routes (F9)', async () => {
      const call = (method: string, path: string, authorization: string, body?: unknown) =>
        fetch(server.url + path, {
          method,
          headers: {
            authorization,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      for (const scheme of ['bearer', 'BEARER', 'Bearer  ']) {
        const r = await call('GET', '/v1/auth/self', `${scheme} ${server.rootToken}`);
        assert.equal(r.status, 200, scheme);
      }
      await createUser('stale', 'user', 'stale-pass');
      for (const header of ['Bearer tsr_expired-or-revoked', 'Basic YWRtaW46eA==', 'Bearer']) {
        for (const path of ['/v1/health', '/v1/operator/status', '/v1/openapi.json']) {
          assert.equal((await call('GET', path, header)).status, 200, `${path} ${header}`);
        }
        const body = { user: 'stale', password: 'stale-pass' };
        assert.equal((await call('POST', '/v1/auth/login', header, body)).status, 200, header);
        assert.equal((await call('GET', '/v1/auth/self', header)).status, 401, header);
      }
    });

    it('logs the path of a request without its query string (F10)', async () => {
      const r = await fetch(`${server.url}/v1/health?token=SECRETVALUE-f10`);
      assert.equal(r.status, 200);
      const requestId = r.headers.get('x-request-id');
      assert.ok(requestId);
      const log = server.logText();
      assert.ok(!log.includes('SECRETVALUE-f10'));
      const incoming = log
        .split('\n')
        .filter((line) => line.includes(requestId))
        .map((line) => JSON.parse(line) as { req?: { method: string; path: string } })
        .find((line) => line.req !== undefined);
      assert.deepEqual(incoming?.req?.path, '/v1/health');
    });

    it('keeps no unknown login name: it is often a password in the wrong field', async () => {
      const typed = `Pw-${randomUUID()}`; // a password typed where the name goes
      const refused = await login(typed, 'anything at all');
      assert.equal(refused.status, 401);
      await createUser('named-tess', 'user', 'the right password 1');
      assert.equal((await login('named-tess', 'a wrong password')).status, 401);
      const { store } = server.services;
      const rows = await store.db.selectFrom('audit_events').selectAll().execute();
      assert.doesNotMatch(JSON.stringify(rows), new RegExp(typed), 'the unknown name is not kept');
      const failures = rows.filter((r) => r.action === 'auth.login' && r.outcome === 'failure');
      assert.ok(
        failures.some((r) => r.actor_name === null && String(r.details).includes('unknown-user')),
        'the refusal itself is audited',
      );
      assert.ok(
        failures.some((r) => r.actor_name === 'named-tess'),
        "a user's own name is kept",
      );
    });

    it('offboards a user: no login, tokens revoked, audited; not oneself (F12)', async () => {
      await createUser('leo', 'user', 'leo-pass');
      const token = (await login('leo', 'leo-pass')).body.token;
      const disabled = await server.api<{ disabled: boolean }>('POST', '/v1/users/leo/disable');
      assert.deepEqual([disabled.status, disabled.body.disabled], [200, true]);
      assert.equal((await server.api('GET', '/v1/auth/self', { token })).status, 401);
      assert.equal((await login('leo', 'leo-pass')).body.error?.code, 'UNAUTHENTICATED');
      assert.equal((await server.api('POST', '/v1/users/leo/enable')).status, 200);
      assert.equal((await login('leo', 'leo-pass')).status, 200);
      const audited = [...(await events('user.disable')), ...(await events('user.enable'))];
      assert.deepEqual(
        audited.filter((e) => e.object === 'leo').map((e) => [e.action, e.actor]),
        [
          ['user.disable', 'admin'],
          ['user.enable', 'admin'],
        ],
      );

      await createUser('ops-admin', 'admin', 'ops-pass');
      const ops = (await login('ops-admin', 'ops-pass')).body.token;
      for (const name of ['admin', 'ops-admin']) {
        const r = await server.api<ErrorReply>('POST', `/v1/users/${name}/disable`, { token: ops });
        assert.equal(r.body.error?.code, 'FORBIDDEN', name);
      }
      const missing = await server.api<ErrorReply>('POST', '/v1/users/nobody/disable');
      assert.equal(missing.body.error?.code, 'NOT_FOUND');
    });

    it('disables and enables from the command line (F12)', async () => {
      await createUser('cli-leaver', 'user', 'cli-pass');
      const env = { TESSERA_ADDR: server.url, TESSERA_TOKEN: server.rootToken };
      const off = await runCli(['user', 'disable', 'cli-leaver'], env);
      assert.deepEqual(
        [off.code, off.stdout],
        [0, 'Disabled cli-leaver; every token of the user is revoked.\n'],
      );
      assert.equal((await login('cli-leaver', 'cli-pass')).status, 401);
      const on = await runCli(['user', 'enable', 'cli-leaver', '-o', 'json'], env);
      assert.equal(on.code, 0);
      assert.equal((JSON.parse(on.stdout) as { disabled: boolean }).disabled, false);
      const self = await runCli(['user', 'disable', 'admin'], env);
      assert.equal(self.code, 1);
      assert.match(self.stderr, /FORBIDDEN|built-in admin/);
    });
  });
}

/** Sends bytes no HTTP client would, and reads the answer until the server closes. */
function rawRequest(url: string, text: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(text));
    let received = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      received += chunk;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
  });
}

/** Runs the tessera command line in this process, as bin/tessera would. */
async function runCli(args: string[], env: Record<string, string>, stdin = '') {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { out: '', err: '' };
  stdout.setEncoding('utf8').on('data', (c: string) => (chunks.out += c));
  stderr.setEncoding('utf8').on('data', (c: string) => (chunks.err += c));
  const code = await main(args, {
    stdout,
    stderr,
    stdin: Readable.from(stdin === '' ? [] : [Buffer.from(stdin)]),
    env,
    now: () => Date.now(),
    cwd: process.cwd(),
  });
  return { code, stdout: chunks.out, stderr: chunks.err };
}
