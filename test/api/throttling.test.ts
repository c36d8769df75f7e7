/**
 * Login throttling and the per-source limits of the anonymous routes: the modules with a clock
 * the test controls, then a real server, where the source is always 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAnonymousLimits } from '../../src/http/anonymous-limits.ts';
import { createTokenBuckets } from '../../src/http/token-bucket.ts';
import {
  createLoginThrottle,
  type LoginAttempt,
  MAX_FAILURES_PER_NAME,
  MAX_FAILURES_PER_SOURCE,
  THROTTLE_WINDOW_MS,
} from '../../src/identity/login-throttle.ts';
import { sourceKey } from '../../src/identity/source-key.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

type ErrorReply = { error: { code: string; message: string; requestId: string } };

const T0 = Date.parse('2026-12-01T09:00:00Z');

function failTimes(
  throttle: ReturnType<typeof createLoginThrottle>,
  name: string,
  source: string,
  times: number,
) {
  for (let i = 0; i < times; i++) {
    const attempt = throttle.reserve(name, source, T0);
    assert.ok(attempt, `attempt ${i + 1} from ${source} is allowed`);
    attempt.failed();
  }
}

describe('login throttle, keyed by name and source (F1)', () => {
  it('blocks a source after five failures, but not the same name from elsewhere', () => {
    const throttle = createLoginThrottle();
    failTimes(throttle, 'dana', '203.0.113.7', MAX_FAILURES_PER_SOURCE);
    assert.equal(throttle.reserve('dana', '203.0.113.7', T0), null);
    // The guesser's five tries do not lock the real user out from their own address.
    assert.ok(throttle.reserve('dana', '198.51.100.1', T0));
    assert.ok(throttle.reserve('erin', '203.0.113.7', T0));
  });

  it('still slows a guesser spread over many sources, with a looser limit per name', () => {
    const throttle = createLoginThrottle();
    const sources = MAX_FAILURES_PER_NAME / MAX_FAILURES_PER_SOURCE;
    for (let i = 0; i < sources; i++) {
      failTimes(throttle, 'dana', `192.0.2.${i}`, MAX_FAILURES_PER_SOURCE);
    }
    assert.equal(throttle.reserve('dana', '198.51.100.1', T0), null);
    assert.ok(throttle.reserve('erin', '198.51.100.1', T0));
  });

  it('counts attempts in flight, so parallel guesses cannot outrun the hash', () => {
    const throttle = createLoginThrottle();
    const open: LoginAttempt[] = [];
    for (let i = 0; i < MAX_FAILURES_PER_SOURCE; i++) {
      const attempt = throttle.reserve('dana', '203.0.113.7', T0);
      assert.ok(attempt);
      open.push(attempt);
    }
    assert.equal(throttle.reserve('dana', '203.0.113.7', T0), null);
    // An attempt that never finished is given back; settling twice counts once.
    open[0]?.abandoned();
    open[0]?.failed();
    const next = throttle.reserve('dana', '203.0.113.7', T0);
    assert.ok(next);
    next.succeeded();
  });

  it('forgets a source after a success, and every failure after the window', () => {
    const throttle = createLoginThrottle();
    failTimes(throttle, 'dana', '203.0.113.7', MAX_FAILURES_PER_SOURCE - 1);
    throttle.reserve('dana', '203.0.113.7', T0)?.succeeded();
    failTimes(throttle, 'dana', '203.0.113.7', MAX_FAILURES_PER_SOURCE);
    assert.equal(throttle.reserve('dana', '203.0.113.7', T0), null);
    assert.ok(throttle.reserve('dana', '203.0.113.7', T0 + THROTTLE_WINDOW_MS + 1));
  });

  it('counts an IPv6 source by its /64, which one subscriber holds whole', () => {
    const cases: Array<[string | null, string]> = [
      ['2001:db8:1:2:aaaa::1', '2001:db8:1:2::/64'],
      ['2001:0db8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
      ['2001:db8::1', '2001:db8:0:0::/64'],
      ['::1', '0:0:0:0::/64'],
      ['fe80::1%eth0', 'fe80:0:0:0::/64'],
      ['::ffff:192.0.2.10', '192.0.2.10'],
      ['192.0.2.10', '192.0.2.10'],
      [null, 'unknown'],
    ];
    for (const [address, key] of cases) assert.equal(sourceKey(address), key, String(address));
    const throttle = createLoginThrottle();
    for (let i = 0; i < MAX_FAILURES_PER_SOURCE; i++) {
      throttle.reserve('dana', `2001:db8:1:2::${i + 1}`, T0)?.failed();
    }
    assert.equal(throttle.reserve('dana', '2001:db8:1:2::ffff', T0), null);
  });
});

describe('token buckets of the anonymous routes (F11)', () => {
  it('gives a burst, then one token per interval, per key', () => {
    const buckets = createTokenBuckets({ burst: 10, perSecond: 1 });
    for (let i = 0; i < 10; i++) assert.equal(buckets.take('a', T0), 0);
    assert.equal(buckets.take('a', T0), 1000);
    assert.equal(buckets.take('b', T0), 0);
    assert.equal(buckets.take('a', T0 + 1000), 0);
    assert.equal(buckets.take('a', T0 + 1000), 1000);
  });

  it('limits unseal, init and login only, and says how long to wait', () => {
    const limits = createAnonymousLimits();
    for (let i = 0; i < 10; i++) limits.take('operator.unseal', '192.0.2.1', T0);
    assert.throws(
      () => limits.take('operator.unseal', '192.0.2.1', T0),
      (error: Error & { code?: string; details?: { retryAfterS?: number } }) =>
        error.code === 'RATE_LIMITED' && error.details?.retryAfterS === 1,
    );
    limits.take('operator.init', '192.0.2.1', T0);
    limits.take('operator.unseal', '192.0.2.2', T0);
    for (let i = 0; i < 100; i++) limits.take('system.health', '192.0.2.1', T0);
  });
});

describe('parallel wrong guesses against a real server (F1)', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
    const body = { name: 'quinn', role: 'user', password: 'quinn-right-password' };
    assert.equal((await server.api('POST', '/v1/users', { body })).status, 201);
  });
  after(() => server.stop());

  const login = (password: string) =>
    server.api<ErrorReply>('POST', '/v1/auth/login', {
      token: null,
      body: { user: 'quinn', password },
    });

  it('refuses the right password once the wrong ones in flight reach the limit', async () => {
    // Fewer than the per-source login bucket (30), so only the password throttle can refuse.
    const wrong = Array.from({ length: 20 }, (_, i) => login(`wrong-${i}`));
    await Promise.race(wrong);
    const right = await login('quinn-right-password');
    const statuses = (await Promise.all(wrong)).map((r) => r.status);

    assert.deepEqual([right.status, right.body.error?.code], [429, 'RATE_LIMITED']);
    assert.equal(statuses.filter((s) => s === 401).length, MAX_FAILURES_PER_SOURCE);
    assert.equal(statuses.filter((s) => s === 429).length, 20 - MAX_FAILURES_PER_SOURCE);
  });
});

describe('per-source limits of the anonymous routes on a real server (F11)', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  const countEvents = async (action: string) => {
    const r = await server.api<{ events: unknown[] }>(
      'GET',
      `/v1/audit/events?action=${action}&limit=1000`,
    );
    return r.body.events.length;
  };

  it('answers a flood of unseal shares RATE_LIMITED, and audits only those let in', async () => {
    const before = await countEvents('operator.unseal.share');
    const replies = await Promise.all(
      Array.from({ length: 25 }, () =>
        fetch(`${server.url}/v1/operator/unseal`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ share: 'AAAA' }),
        }),
      ),
    );
    const limited = replies.filter((r) => r.status === 429);
    // Ten in the burst, and at most one more if the flood took over a second.
    assert.ok(limited.length >= 14, `${limited.length} refused`);
    const first = (await limited[0]?.json()) as ErrorReply;
    assert.equal(first.error.code, 'RATE_LIMITED');
    assert.ok(Number(limited[0]?.headers.get('retry-after')) >= 1);
    const audited = (await countEvents('operator.unseal.share')) - before;
    assert.equal(audited, replies.length - limited.length);
  });

  it('answers a flood of logins for made-up names RATE_LIMITED without auditing them', async () => {
    const before = await countEvents('auth.login');
    const replies = await Promise.all(
      Array.from({ length: 45 }, (_, i) =>
        server.api<ErrorReply>('POST', '/v1/auth/login', {
          token: null,
          body: { user: `made-up-${i}`, password: 'whatever' },
        }),
      ),
    );
    const limited = replies.filter((r) => r.body.error?.code === 'RATE_LIMITED');
    assert.ok(limited.length >= 12, `${limited.length} refused`);
    const audited = (await countEvents('auth.login')) - before;
    assert.equal(audited, replies.length - limited.length);
  });
});
