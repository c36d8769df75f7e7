/**
 * The web console's session: the token in an HttpOnly cookie, the CSRF token on every request
 * that changes something, WebSockets only from the console's own origin; and how the built
 * console is served (security headers, client-side routes, a missing build).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHttpApp } from '../../src/http/app.ts';
import { CSRF_HEADER, createCsrfTokens, SESSION_COOKIE } from '../../src/http/browser-session.ts';
import { CONSOLE_HEADERS, consoleRoutes } from '../../src/http/console.ts';
import { createLogger } from '../../src/logger.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

type ErrorReply = { error: { code: string; message: string } };
type SessionReply = {
  user: { name: string; role: string };
  csrfToken: string;
  expiresAt: string | null;
};

interface Reply<T> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

describe('console sessions', () => {
  let server: TestServer;
  let now = Date.parse('2026-12-01T09:00:00Z');
  const clock = { now: () => now };

  before(async () => {
    server = await startTestServer({ clock });
    for (const [name, role] of [
      ['carol', 'admin'],
      ['ursula', 'user'],
      ['tess', 'user'],
    ]) {
      const body = { name, role, password: `${name}-password` };
      assert.equal((await server.api('POST', '/v1/users', { body })).status, 201);
    }
  });
  after(() => server.stop());

  /** Calls the API as a browser would: a cookie, maybe a CSRF header, maybe an Origin. */
  const call = async <T = ErrorReply>(
    method: string,
    route: string,
    options: {
      cookie?: string;
      csrf?: string;
      origin?: string;
      body?: unknown;
      type?: string;
    } = {},
  ): Promise<Reply<T>> => {
    const headers: Record<string, string> = {};
    if (options.cookie !== undefined) headers.cookie = `${SESSION_COOKIE}=${options.cookie}`;
    if (options.csrf !== undefined) headers[CSRF_HEADER] = options.csrf;
    if (options.origin !== undefined) headers.origin = options.origin;
    if (options.body !== undefined) headers['content-type'] = options.type ?? 'application/json';
    const response = await fetch(server.url + route, {
      method,
      headers,
      ...(options.body === undefined
        ? {}
        : {
            body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
          }),
    });
    const text = await response.text();
    const body = text === '' ? ({} as T) : (JSON.parse(text) as T);
    return { status: response.status, headers: response.headers, body };
  };

  /** Signs in; answers the cookie's value, its attributes and the reply. */
  const signIn = async (user: string, password = `${user}-password`) => {
    const reply = await call<SessionReply & ErrorReply>('POST', '/v1/auth/session', {
      body: { user, password },
    });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const setCookie = reply.headers.getSetCookie();
    assert.equal(setCookie.length, 1);
    const [pair = '', ...attributes] = (setCookie[0] ?? '').split(';').map((s) => s.trim());
    const [cookieName, value = ''] = pair.split('=');
    assert.equal(cookieName, SESSION_COOKIE);
    return { cookie: value, attributes, reply };
  };

  it('signs in with a cookie no script can read, and says who and until when', async () => {
    const { cookie, attributes, reply } = await signIn('carol');
    assert.match(cookie, /^tsr_/);
    assert.deepEqual(attributes.sort(), ['HttpOnly', 'Max-Age=3600', 'Path=/', 'SameSite=Strict']);
    assert.equal(reply.headers.get('cache-control'), 'no-store');
    assert.deepEqual(reply.body.user, { name: 'carol', role: 'admin' });
    assert.equal(reply.body.expiresAt, new Date(now + 3_600_000).toISOString());
    assert.ok(!JSON.stringify(reply.body).includes(cookie), 'the token is in the body');
    assert.ok(!server.logText().includes(cookie), 'the token is in the log');

    const self = await call<{ user: string }>('GET', '/v1/auth/self', { cookie });
    assert.deepEqual([self.status, self.body.user], [200, 'carol']);
    const again = await call<SessionReply>('GET', '/v1/auth/session', { cookie });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, reply.body);
  });

  it('audits a console sign-in like any login, and shares its password throttle', async () => {
    const failed = await call<ErrorReply>('POST', '/v1/auth/session', {
      body: { user: 'tess', password: 'wrong' },
    });
    assert.deepEqual([failed.status, failed.body.error.code], [401, 'UNAUTHENTICATED']);
    assert.deepEqual(failed.headers.getSetCookie(), []);
    for (let i = 0; i < 4; i++) {
      const body = { user: 'tess', password: `guess-${i}` };
      assert.equal((await call('POST', '/v1/auth/session', { body })).status, 401);
    }
    const viaLogin = await server.api<ErrorReply>('POST', '/v1/auth/login', {
      token: null,
      body: { user: 'tess', password: 'tess-password' },
    });
    assert.deepEqual([viaLogin.status, viaLogin.body.error.code], [429, 'RATE_LIMITED']);
    now += 6 * 60_000;

    const { reply } = await signIn('tess');
    const events = await server.api<{ events: { actor: string; outcome: string }[] }>(
      'GET',
      '/v1/audit/events?action=auth.login&actor=tess&limit=1000',
    );
    const outcomes = events.body.events.map((e) => e.outcome);
    assert.equal(outcomes.filter((o) => o === 'failure').length, 5);
    assert.ok(outcomes.includes('denied'));
    assert.ok(outcomes.includes('success'));
    assert.equal(reply.body.user.name, 'tess');
  });

  it('refuses a cookie request that changes something without the CSRF token', async () => {
    const carol = await signIn('carol');
    const tess = await signIn('tess');
    const create = (options: { csrf?: string; body?: unknown; type?: string }) =>
      call<ErrorReply>('POST', '/v1/safes', {
        cookie: carol.cookie,
        body: { name: `s${Math.random().toString(36).slice(2, 8)}` },
        ...options,
      });
    const refusals = [
      await create({}),
      await create({ csrf: '' }),
      await create({ csrf: carol.reply.body.csrfToken.slice(1) }),
      await create({ csrf: otherLastCharacter(carol.reply.body.csrfToken) }),
      // Another session's token does not fit this cookie.
      await create({ csrf: tess.reply.body.csrfToken }),
      // What an HTML form on another site can send: refused before the body is even read.
      await create({ body: 'name=evil', type: 'application/x-www-form-urlencoded' }),
    ];
    for (const refused of refusals) {
      assert.deepEqual(
        [refused.status, refused.body.error?.code],
        [403, 'CSRF_FAILED'],
        JSON.stringify(refused.body),
      );
    }
    const allowed = await create({ csrf: carol.reply.body.csrfToken });
    assert.equal(allowed.status, 201, JSON.stringify(allowed.body));
    // A bearer token needs no CSRF token: no browser adds an Authorization header by itself.
    const bearer = await server.api('POST', '/v1/safes', { body: { name: 'by-bearer' } });
    assert.equal(bearer.status, 201);
  });

  it('lets a stale tab sign in again, and refuses a sign-in from another site', async () => {
    const { cookie } = await signIn('ursula');
    const body = { user: 'ursula', password: 'ursula-password' };
    const fresh = await call<SessionReply>('POST', '/v1/auth/session', { cookie, body });
    assert.equal(fresh.status, 200);
    const own = await call('POST', '/v1/auth/session', { body, origin: server.url });
    assert.equal(own.status, 200);
    const foreign = await call('POST', '/v1/auth/session', {
      body,
      origin: 'http://evil.example',
    });
    assert.deepEqual([foreign.status, foreign.body.error.code], [403, 'CSRF_FAILED']);
    assert.deepEqual(foreign.headers.getSetCookie(), []);
  });

  it('signs out with the CSRF token: the token is revoked, the cookie cleared', async () => {
    const { cookie, reply } = await signIn('ursula');
    const forged = await call('DELETE', '/v1/auth/session', { cookie });
    assert.equal(forged.body.error.code, 'CSRF_FAILED');
    const out = await call('DELETE', '/v1/auth/session', { cookie, csrf: reply.body.csrfToken });
    assert.equal(out.status, 204);
    const cleared = out.headers.getSetCookie()[0] ?? '';
    assert.match(cleared, new RegExp(`^${SESSION_COOKIE}=;`));
    assert.match(cleared, /Max-Age=0/);
    const after = await call('GET', '/v1/auth/session', { cookie });
    assert.deepEqual([after.status, after.body.error.code], [401, 'UNAUTHENTICATED']);
    const events = await server.api<{ events: { actor: string }[] }>(
      'GET',
      '/v1/audit/events?action=auth.token.revoke&actor=ursula',
    );
    assert.equal(events.body.events.length, 1);
  });

  it('ends a cookie session when its token expires', async () => {
    const { cookie } = await signIn('tess');
    assert.equal((await call('GET', '/v1/auth/self', { cookie })).status, 200);
    now += 61 * 60_000;
    const expired = await call('GET', '/v1/auth/self', { cookie });
    assert.deepEqual([expired.status, expired.body.error.code], [401, 'UNAUTHENTICATED']);
    // Anonymous routes still answer: a stale cookie does not break the health check.
    assert.equal((await call('GET', '/v1/health', { cookie })).status, 200);
    assert.equal((await call('GET', '/v1/auth/session')).status, 401);
  });

  it('opens a WebSocket with a cookie only from the console own origin', async () => {
    const { cookie } = await signIn('carol');
    const id = '00000000-0000-4000-8000-000000000000';
    const upgrade = (origin: string | undefined) =>
      new Promise<number>((resolve, reject) => {
        // A connection of its own, as a browser opens for every WebSocket.
        const req = httpRequest(`${server.url}/v1/sessions/${id}/watch`, {
          agent: false,
          headers: {
            cookie: `${SESSION_COOKIE}=${cookie}`,
            connection: 'Upgrade',
            upgrade: 'websocket',
            'sec-websocket-version': '13',
            'sec-websocket-key': Buffer.alloc(16, 7).toString('base64'),
            ...(origin === undefined ? {} : { origin }),
          },
        });
        req.on('upgrade', (response, socket) => {
          socket.destroy();
          resolve(response.statusCode ?? 0);
        });
        req.on('response', (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    assert.equal(await upgrade(server.url), 101);
    assert.equal(await upgrade('http://evil.example'), 403);
    assert.equal(await upgrade(undefined), 403);
  });
});

describe('console files', () => {
  let server: TestServer;
  const built = mkdtempSync(path.join(tmpdir(), 'tessera-console-'));
  const empty = mkdtempSync(path.join(tmpdir(), 'tessera-console-empty-'));

  before(async () => {
    server = await startTestServer();
    mkdirSync(path.join(built, 'assets'));
    writeFileSync(path.join(built, 'index.html'), '<!doctype html><title>console</title>');
    writeFileSync(path.join(built, 'assets', 'index-abc123.js'), 'export {};');
    writeFileSync(path.join(built, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    writeFileSync(path.join(built, '.env'), 'SECRET=1');
  });
  after(async () => {
    await server.stop();
    rmSync(built, { recursive: true, force: true });
    rmSync(empty, { recursive: true, force: true });
  });

  const appOver = async (root: string) => {
    const { tokens, access } = server.services;
    const logger = createLogger({ level: 'silent' });
    const app = await createHttpApp({ logger, tokens, access, csrf: createCsrfTokens() });
    await consoleRoutes(app, { root });
    await app.ready();
    return app;
  };

  it('serves the page with its security headers, and client routes from the index', async () => {
    const app = await appOver(built);
    for (const url of ['/', '/accounts', '/accounts/db01.example.com/root?tab=history']) {
      const page = await app.inject({ method: 'GET', url });
      assert.equal(page.statusCode, 200, url);
      assert.equal(page.body, '<!doctype html><title>console</title>');
      assert.match(String(page.headers['content-type']), /^text\/html/);
      assert.equal(page.headers['cache-control'], 'no-store');
      for (const [header, value] of Object.entries(CONSOLE_HEADERS)) {
        assert.equal(page.headers[header], value, `${url} ${header}`);
      }
    }
    const csp = String((await app.inject({ url: '/' })).headers['content-security-policy']);
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval';/);
    assert.doesNotMatch(csp, /'unsafe-inline'|'unsafe-eval'/);

    const asset = await app.inject({ url: '/assets/index-abc123.js' });
    assert.equal(asset.statusCode, 200);
    assert.match(String(asset.headers['content-type']), /javascript/);
    assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(asset.headers['x-content-type-options'], 'nosniff');
    const icon = await app.inject({ url: '/favicon.svg' });
    assert.match(String(icon.headers['content-type']), /^image\/svg\+xml/);
    assert.equal((await app.inject({ method: 'HEAD', url: '/' })).statusCode, 200);
    await app.close();
  });

  it('answers API paths and missing assets as JSON errors; serves nothing outside', async () => {
    const app = await appOver(built);
    const notFound = async (url: string) => {
      const reply = await app.inject({ url });
      assert.equal(reply.statusCode, 404, url);
      assert.equal(reply.json().error.code, 'NOT_FOUND', url);
    };
    await notFound('/v1/no-such-route');
    await notFound('/V1/no-such-route');
    await notFound('/v1');
    await notFound('/assets/missing.js');
    for (const url of [
      '/.env',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/..%2f..%2fetc%2fpasswd',
      '/a/../.env',
    ]) {
      const reply = await app.inject({ url });
      assert.ok(!reply.body.includes('SECRET') && !reply.body.includes('root:'), url);
    }
    const posted = await app.inject({ method: 'POST', url: '/accounts' });
    assert.equal(posted.statusCode, 404);
    await app.close();
  });

  it('says how to build the console when it is missing', async () => {
    const app = await appOver(empty);
    const reply = await app.inject({ url: '/' });
    assert.equal(reply.statusCode, 503);
    assert.equal(reply.body, 'the console is not built: run npm run build');
    assert.match(String(reply.headers['content-type']), /^text\/plain/);
    assert.equal((await app.inject({ url: '/v1/health' })).statusCode, 404);
    await app.close();
  });
});

/** The same token with its last character changed. */
function otherLastCharacter(token: string): string {
  return `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
}
