/**
 * Signing in with a second factor: the API's login and the console's session both want a
 * current code from a user with a confirmed factor, after the password and never before it.
 * A real server whose clock the test moves (a code is taken once per 30 s step), on both stores.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { SESSION_COOKIE } from '../../src/http/browser-session.ts';
import { STORE_KINDS } from '../support/stores.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}
interface LoginBody {
  readonly token: string;
  readonly user: { readonly name: string };
}
interface Reply<T> {
  readonly status: number;
  readonly cookies: readonly string[];
  readonly body: T;
}
interface AuditEvents {
  readonly events: ReadonlyArray<{
    action: string;
    outcome: string;
    actor: string | null;
    details: Record<string, unknown> | null;
  }>;
}

const LOGIN = '/v1/auth/login';
const SESSION = '/v1/auth/session';
const DOORS = [LOGIN, SESSION] as const;
const STEP_MS = 30_000;

/** What an authenticator app shows at `at`, with the app's defaults (SHA-1, 6 digits, 30 s). */
const codeAt = (secret: string, at: number) =>
  TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: at });

for (const store of STORE_KINDS) {
  describe(`signing in with a second factor on ${store}`, () => {
    let server: TestServer;
    let now = Date.parse('2026-12-03T08:00:00Z');
    const secrets: Record<string, string> = {};
    /** Every code sent, right or wrong, for the leak search at the end. */
    const sent: string[] = [];

    const pw = (name: string) => `pw-${name}-long-enough`;
    const nextStep = () => {
      now += STEP_MS;
    };

    /** Signs in through `door` without a token, as the CLI and the console do. */
    const signIn = async <T = LoginBody>(door: string, body: Record<string, unknown>) => {
      if (typeof body.code === 'string') sent.push(body.code);
      const response = await fetch(server.url + door, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      const reply: Reply<T> = {
        status: response.status,
        cookies: response.headers.getSetCookie(),
        body: JSON.parse(text) as T,
      };
      return reply;
    };
    const refusal = (reply: Reply<unknown>) => {
      const { error } = reply.body as ErrorBody;
      return [reply.status, error?.code];
    };
    const userId = async (name: string) => {
      const user = await server.services.users.findByName(name);
      assert.ok(user);
      return user.id;
    };
    const tokenRows = async (name: string) =>
      (
        await server.services.store.db
          .selectFrom('tokens')
          .select('id')
          .where('user_id', '=', await userId(name))
          .execute()
      ).length;
    /** Enrols `name` through the API with a token of theirs; confirms unless told not to. */
    const enroll = async (name: string, confirm = true) => {
      const login = await signIn(LOGIN, { user: name, password: pw(name) });
      assert.equal(login.status, 200, JSON.stringify(login.body));
      const token = login.body.token;
      const enrolled = await server.api<{ secret: string }>('POST', '/v1/auth/mfa/enroll', {
        token,
      });
      assert.equal(enrolled.status, 201, JSON.stringify(enrolled.body));
      secrets[name] = enrolled.body.secret;
      if (!confirm) return;
      const code = codeAt(enrolled.body.secret, now);
      sent.push(code);
      const confirmed = await server.api('POST', '/v1/auth/mfa/confirm', {
        token,
        body: { code },
      });
      assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
      // The confirming code is used up: the tests start on a fresh step.
      nextStep();
    };
    const current = (name: string) => codeAt(secrets[name] ?? '', now);

    before(async () => {
      server = await startTestServer({ store, clock: { now: () => now } });
      for (const name of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina']) {
        const body = { name, role: 'user', password: pw(name) };
        assert.equal((await server.api('POST', '/v1/users', { body })).status, 201);
      }
      for (const name of ['alice', 'bob', 'dave', 'erin', 'frank', 'gina']) await enroll(name);
      await enroll('carol', false);
    });
    after(() => server.stop());

    for (const door of DOORS) {
      it(`${door}: the password alone is MFA_REQUIRED, and nothing is issued`, async () => {
        const before = await tokenRows('alice');
        const reply = await signIn(door, { user: 'alice', password: pw('alice') });
        assert.deepEqual(refusal(reply), [401, 'MFA_REQUIRED']);
        assert.match((reply.body as unknown as ErrorBody).error.message, /code/);
        assert.deepEqual(reply.cookies, []);
        assert.ok(!JSON.stringify(reply.body).includes('tsr_'), 'a token in the refusal');
        assert.equal(await tokenRows('alice'), before, 'a token row was written');
      });

      it(`${door}: a wrong code is MFA_INVALID, and nothing is issued`, async () => {
        const before = await tokenRows('alice');
        const wrong = wrongCode(current('alice'));
        const reply = await signIn(door, { user: 'alice', password: pw('alice'), code: wrong });
        assert.deepEqual(refusal(reply), [401, 'MFA_INVALID']);
        assert.deepEqual(reply.cookies, []);
        assert.equal(await tokenRows('alice'), before);
      });

      it(`${door}: the password and a current code sign in, and that code only once`, async () => {
        nextStep();
        const code = current('alice');
        const body = { user: 'alice', password: pw('alice'), code };
        const first = await signIn(door, body);
        assert.equal(first.status, 200, JSON.stringify(first.body));
        const token = door === LOGIN ? first.body.token : cookieOf(first.cookies);
        const self = await server.api<{ user: string }>('GET', '/v1/auth/self', { token });
        assert.deepEqual([self.status, self.body.user], [200, 'alice']);

        const before = await tokenRows('alice');
        for (const again of DOORS) {
          const replay = await signIn(again, body);
          assert.deepEqual(refusal(replay), [401, 'MFA_INVALID'], `${again} took it again`);
          assert.deepEqual(replay.cookies, []);
        }
        assert.equal(await tokenRows('alice'), before);
      });

      it(`${door}: a wrong password answers as it always did, with any code`, async () => {
        nextStep();
        const code = current('bob');
        const plain = await signIn(door, { user: 'bob', password: 'not-it' });
        assert.deepEqual(refusal(plain), [401, 'UNAUTHENTICATED']);
        const message = (plain.body as unknown as ErrorBody).error.message;
        for (const body of [
          { user: 'bob', password: 'not-it', code },
          { user: 'bob', password: 'not-it', code: wrongCode(code) },
          { user: 'nobody', password: 'not-it', code },
        ]) {
          const reply = await signIn(door, body);
          assert.deepEqual(refusal(reply), [401, 'UNAUTHENTICATED'], JSON.stringify(body));
          assert.equal((reply.body as unknown as ErrorBody).error.message, message);
          assert.deepEqual(reply.cookies, []);
        }
        // The code was never looked at, let alone used up: it still signs bob in.
        const right = await signIn(door, { user: 'bob', password: pw('bob'), code });
        assert.equal(right.status, 200, JSON.stringify(right.body));
      });
    }

    it('lets a user with an unconfirmed factor, or none, sign in as before', async () => {
      assert.equal(await server.services.mfa.hasFactor(await userId('carol')), false);
      for (const door of DOORS) {
        const reply = await signIn(door, { user: 'carol', password: pw('carol') });
        assert.equal(reply.status, 200, `${door}: ${JSON.stringify(reply.body)}`);
      }
      // Without a factor a code sent anyway changes nothing: a script may always send one.
      const reset = await server.api('DELETE', '/v1/users/gina/mfa');
      assert.equal(reset.status, 204);
      for (const door of DOORS) {
        const plain = await signIn(door, { user: 'gina', password: pw('gina') });
        assert.equal(plain.status, 200, JSON.stringify(plain.body));
        const withCode = await signIn(door, { user: 'gina', password: pw('gina'), code: '123456' });
        assert.equal(withCode.status, 200, JSON.stringify(withCode.body));
      }
    });

    it('refuses a code of the wrong shape before anything is checked', async () => {
      for (const code of ['12345', '123456789', 'abcdef', ' 123456', '12345６', '', 123456]) {
        for (const door of DOORS) {
          const reply = await signIn(door, { user: 'dave', password: pw('dave'), code });
          assert.deepEqual(refusal(reply), [400, 'VALIDATION_FAILED'], JSON.stringify(code));
        }
      }
      // None of them counted as a wrong code: the right one still gets in at once.
      nextStep();
      const reply = await signIn(LOGIN, {
        user: 'dave',
        password: pw('dave'),
        code: current('dave'),
      });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
    });

    it('shares the code guess limit between the two doors', async () => {
      nextStep();
      const right = current('erin');
      for (let i = 0; i < 5; i += 1) {
        const door = DOORS[i % 2] ?? LOGIN;
        const reply = await signIn(door, {
          user: 'erin',
          password: pw('erin'),
          code: wrongCode(right),
        });
        assert.deepEqual(refusal(reply), [401, 'MFA_INVALID']);
      }
      for (const door of DOORS) {
        const reply = await signIn(door, { user: 'erin', password: pw('erin'), code: right });
        assert.deepEqual(refusal(reply), [429, 'RATE_LIMITED']);
      }
      now += 5 * 60_000 + STEP_MS;
      const later = await signIn(SESSION, {
        user: 'erin',
        password: pw('erin'),
        code: current('erin'),
      });
      assert.equal(later.status, 200, JSON.stringify(later.body));
    });

    it('audits each refused sign-in after a right password, never with the code', async () => {
      const refusedCodes = await signIn(LOGIN, { user: 'frank', password: pw('frank') });
      assert.deepEqual(refusal(refusedCodes), [401, 'MFA_REQUIRED']);
      const events = await server.api<AuditEvents>('GET', '/v1/audit/events?limit=1000');
      const whys = (action: string, actor: string) =>
        events.body.events
          .filter((e) => e.action === action && e.actor === actor)
          .map((e) => `${e.outcome}:${String(e.details?.why ?? '')}`);
      assert.ok(whys('auth.login', 'frank').includes('failure:code-required'));
      const alices = whys('auth.login', 'alice');
      for (const why of ['failure:code-required', 'failure:code-refused', 'success:']) {
        assert.ok(alices.includes(why), `alice's ${why} is missing: ${alices.join(', ')}`);
      }
      assert.ok(whys('auth.login', 'erin').includes('denied:code-refused'));
      assert.ok(whys('mfa.verify', 'alice').includes('failure:wrong-code'));

      const audit = JSON.stringify(events.body);
      const log = server.logText();
      assert.ok(sent.length > 20);
      for (const code of new Set(sent.filter((c) => /^\d{6}$/.test(c)))) {
        // Quoted: six digits alone turn up inside timestamps.
        assert.ok(!audit.includes(`"${code}"`), 'a code in the audit trail');
        assert.ok(!log.includes(`"${code}"`), 'a code in the server log');
      }
    });
  });
}

function cookieOf(setCookies: readonly string[]): string {
  const pair = setCookies.find((c) => c.startsWith(`${SESSION_COOKIE}=`)) ?? '';
  const value = pair.split(';')[0]?.slice(SESSION_COOKIE.length + 1) ?? '';
  assert.match(value, /^tsr_/);
  return value;
}

/** A six-digit code that is not `code` (nor, with near certainty, a neighbouring step's). */
function wrongCode(code: string): string {
  return code
    .split('')
    .map((d) => String((Number(d) + 5) % 10))
    .join('');
}
