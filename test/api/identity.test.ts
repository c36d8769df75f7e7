import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../support/test-server.ts';

type ErrorReply = { error: { code: string; message: string; requestId: string } };

describe('identity, tokens and input handling', () => {
  let server: TestServer;
  let now = Date.parse('2026-12-01T09:00:00Z');
  const clock = { now: () => now };

  before(async () => {
    server = await startTestServer({ clock });
  });
  after(() => server.stop());

  const login = (user: string, password: string) =>
    server.api<ErrorReply & { token: string }>('POST', '/v1/auth/login', {
      token: null,
      body: { user, password },
    });

  it('answers an unknown user and a wrong password alike, and audits both', async () => {
    await server.api('POST', '/v1/users', {
      body: { name: 'dana', role: 'user', password: 'right-password' },
    });
    const unknown = await login('nobody', 'whatever');
    const wrong = await login('dana', 'wrong-password');
    assert.equal(unknown.status, 401);
    assert.equal(wrong.status, 401);
    assert.equal(unknown.body.error.message, wrong.body.error.message);
    assert.equal(unknown.body.error.code, 'UNAUTHENTICATED');
    const events = await server.api<{ events: { actor: string | null; outcome: string }[] }>(
      'GET',
      '/v1/audit/events?action=auth.login',
    );
    const failures = events.body.events.filter((e) => e.outcome === 'failure').map((e) => e.actor);
    // Both audited; an unknown name is not kept (it may be a password in the wrong field).
    assert.deepEqual(failures, [null, 'dana']);
  });

  it('accepts a password typed in either Unicode form (F04)', async () => {
    const precomposed = 'caf\u00e9-Ünïcode';
    const decomposed = precomposed.normalize('NFD');
    assert.notEqual(precomposed, decomposed);
    await server.api('POST', '/v1/users', {
      body: { name: 'eve', role: 'user', password: precomposed },
    });
    assert.equal((await login('eve', decomposed)).status, 200);
    assert.equal((await login('eve', precomposed)).status, 200);
  });

  it('throttles guessing: after five failures even the right password waits', async () => {
    await server.api('POST', '/v1/users', {
      body: { name: 'frank', role: 'user', password: 'frank-pass' },
    });
    for (let i = 0; i < 5; i++) assert.equal((await login('frank', `guess-${i}`)).status, 401);
    const blocked = await login('frank', 'frank-pass');
    assert.deepEqual([blocked.status, blocked.body.error.code], [429, 'RATE_LIMITED']);
    now += 6 * 60_000;
    assert.equal((await login('frank', 'frank-pass')).status, 200);
  });

  it('ends a token at logout and when it expires', async () => {
    await server.api('POST', '/v1/users', {
      body: { name: 'gina', role: 'user', password: 'gina-pass' },
    });
    const first = await login('gina', 'gina-pass');
    const self = () => server.api<ErrorReply>('GET', '/v1/auth/self', { token: first.body.token });
    assert.equal((await self()).status, 200);
    assert.equal(
      (await server.api('POST', '/v1/auth/logout', { token: first.body.token })).status,
      204,
    );
    assert.equal((await self()).body.error.code, 'UNAUTHENTICATED');

    const second = await login('gina', 'gina-pass');
    const check = () =>
      server.api<ErrorReply>('GET', '/v1/auth/self', { token: second.body.token });
    assert.equal((await check()).status, 200);
    now += 61 * 60_000;
    assert.equal((await check()).status, 401);
  });

  it('changes a password: own with the current one, anyone as admin', async () => {
    await server.api('POST', '/v1/users', {
      body: { name: 'hank', role: 'user', password: 'first-pass' },
    });
    const first = await login('hank', 'first-pass');
    const other = await login('hank', 'first-pass');
    const change = (token: string, body: unknown) =>
      server.api<ErrorReply>('PUT', '/v1/users/hank/password', { token, body });
    assert.equal((await change(first.body.token, { password: 'second-pass' })).status, 401);
    const changed = await change(first.body.token, {
      password: 'second-pass',
      currentPassword: 'first-pass',
    });
    assert.equal(changed.status, 204);
    // The caller's own token stays; every other one is revoked.
    assert.equal(
      (await server.api('GET', '/v1/auth/self', { token: first.body.token })).status,
      200,
    );
    assert.equal(
      (await server.api('GET', '/v1/auth/self', { token: other.body.token })).status,
      401,
    );
    assert.equal((await login('hank', 'second-pass')).status, 200);

    const dana = await login('dana', 'right-password');
    const byUser = await change(dana.body.token, { password: 'taken-over' });
    assert.equal(byUser.body.error.code, 'FORBIDDEN');
    assert.equal(
      (await server.api('PUT', '/v1/users/hank/password', { body: { password: 'reset-pass' } }))
        .status,
      204,
    );
    assert.equal((await login('hank', 'reset-pass')).status, 200);
    assert.equal(
      (await server.api('GET', '/v1/auth/self', { token: first.body.token })).status,
      401,
    );
  });

  it('refuses hostile and malformed input with a stable code and no stack trace', async () => {
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/v1/users', { name: 'x', role: 'root' }, 'VALIDATION_FAILED'],
      ['POST', '/v1/users', { name: '../etc', role: 'user' }, 'VALIDATION_FAILED'],
      ['POST', '/v1/users', { name: 'a'.repeat(129), role: 'user' }, 'VALIDATION_FAILED'],
      ['POST', '/v1/users', { name: 'ok', role: 'user', extra: 1 }, 'VALIDATION_FAILED'],
      ['POST', '/v1/users', { name: 'dana', role: 'user' }, 'ALREADY_EXISTS'],
      ['POST', '/v1/safes', { name: 'bad name' }, 'VALIDATION_FAILED'],
      [
        'POST',
        '/v1/targets',
        { name: 't', platform: 'oracle', host: 'h', port: 1 },
        'VALIDATION_FAILED',
      ],
      [
        'POST',
        '/v1/targets',
        { name: 't', platform: 'postgresql', host: 'h;rm -rf', port: 1 },
        'VALIDATION_FAILED',
      ],
      [
        'POST',
        '/v1/targets',
        { name: 't', platform: 'postgresql', host: 'h', port: 70000 },
        'VALIDATION_FAILED',
      ],
      ['PUT', '/v1/policies/p', { secret: { length: 8, minDigits: 9 } }, 'VALIDATION_FAILED'],
      ['PUT', '/v1/policies/p', { secret: { length: 16, symbols: 'aa' } }, 'VALIDATION_FAILED'],
      ['GET', '/v1/audit/events?limit=100000', undefined, 'VALIDATION_FAILED'],
      ['GET', '/v1/audit/events?since=yesterday', undefined, 'VALIDATION_FAILED'],
      ['GET', '/v1/nowhere', undefined, 'NOT_FOUND'],
      ['DELETE', '/v1/tokens/not-a-uuid', undefined, 'VALIDATION_FAILED'],
    ];
    for (const [method, path, body, code] of cases) {
      const r = await server.api<ErrorReply>(method, path, body === undefined ? {} : { body });
      assert.equal(r.body.error?.code, code, `${method} ${path} ${JSON.stringify(body)}`);
      assert.ok(r.body.error.requestId.length > 0);
      assert.ok(!/at .*\.ts:\d+/.test(JSON.stringify(r.body)), 'no stack in the reply');
    }
    const raw = await fetch(`${server.url}/v1/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.rootToken}`, 'content-type': 'application/json' },
      body: '{"name": "x", ',
    });
    const rawBody = (await raw.json()) as ErrorReply;
    assert.deepEqual([raw.status, rawBody.error.code], [400, 'BAD_REQUEST']);
    // Nothing was half-written by any refused request.
    const users = await server.api<{ users: { name: string }[] }>('GET', '/v1/users');
    assert.ok(!users.body.users.some((u) => ['x', 'ok'].includes(u.name)));
  });

  it('writes JSON logs that carry the request id and the actor', async () => {
    const r = await fetch(`${server.url}/v1/safes`, {
      headers: { authorization: `Bearer ${server.rootToken}` },
    });
    const requestId = r.headers.get('x-request-id');
    assert.ok(requestId);
    const lines = server
      .logText()
      .split('\n')
      .filter((l) => l.includes(requestId))
      .map((l) => JSON.parse(l) as { reqId: string; actor?: string });
    assert.ok(lines.length > 0);
    assert.ok(lines.some((l) => l.actor === 'admin'));
  });
});
