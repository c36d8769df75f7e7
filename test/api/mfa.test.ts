import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Secret, TOTP, URI } from 'otpauth';
import type { RequestContext } from '../../src/audit/event.ts';
import type { Io } from '../../src/cli/context.ts';
import { main } from '../../src/cli/main.ts';
import { TesseraError } from '../../src/errors.ts';
import { STORE_KINDS } from '../support/stores.ts';
import { createUserWithToken, startTestServer, type TestServer } from '../support/test-server.ts';

interface Enrollment {
  readonly secret: string;
  readonly uri: string;
}
interface Status {
  readonly enrolled: boolean;
  readonly confirmed: boolean;
  readonly confirmedAt: string | null;
}
interface Reply {
  readonly error?: { readonly code: string };
}
interface AuditEvents {
  readonly events: ReadonlyArray<{
    action: string;
    outcome: string;
    object: string | null;
    details: Record<string, unknown> | null;
  }>;
}

/** What an authenticator app shows at `at`, with the app's defaults (SHA-1, 6 digits, 30 s). */
const codeAt = (secret: string, at: number) =>
  TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: at });

const failsWith = (code: string) => (error: unknown) =>
  error instanceof TesseraError && error.code === code;

/** TOTP against a real server whose clock the test moves, on both stores. */
for (const store of STORE_KINDS) {
  describe(`TOTP second factor on ${store}`, () => {
    let server: TestServer;
    let now = Date.parse('2026-12-01T09:00:00Z');
    const tokens: Record<string, string> = {};
    const secrets: Record<string, string> = {};
    const uris: string[] = [];

    before(async () => {
      server = await startTestServer({ store, clock: { now: () => now } });
      for (const name of ['alice', 'bob', 'carol', 'dave', 'erin']) {
        tokens[name] = await createUserWithToken(server, name, 'user');
      }
    });
    after(() => server.stop());

    const as = (name: string) => tokens[name] ?? '';
    const enroll = async (name: string) => {
      const reply = await server.api<Enrollment>('POST', '/v1/auth/mfa/enroll', {
        token: as(name),
      });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      secrets[name] = reply.body.secret;
      uris.push(reply.body.uri);
      return reply.body;
    };
    const confirm = (name: string, code: string) =>
      server.api<Status & Reply>('POST', '/v1/auth/mfa/confirm', {
        token: as(name),
        body: { code },
      });
    const enrolled = async (name: string) => {
      const { secret } = await enroll(name);
      assert.equal((await confirm(name, codeAt(secret, now))).status, 200);
      return secret;
    };
    const userId = async (name: string) => {
      const user = await server.services.users.findByName(name);
      assert.ok(user);
      return user.id;
    };
    const ctxOf = async (name: string): Promise<RequestContext> => ({
      actor: { id: await userId(name), name },
      source: '127.0.0.1',
      requestId: null,
    });
    const verify = async (name: string, code: string) =>
      server.services.mfa.verify(await ctxOf(name), await userId(name), code);
    const nextStep = () => {
      now += 30_000;
    };

    it('enrolls as authenticator apps expect, and confirms with a code from the app', async () => {
      const { secret, uri } = await enroll('alice');
      const parsed = URI.parse(uri);
      assert.ok(parsed instanceof TOTP);
      assert.deepEqual(
        [parsed.issuer, parsed.label, parsed.algorithm, parsed.digits, parsed.period],
        ['Tessera', 'alice', 'SHA1', 6, 30],
      );
      assert.equal(parsed.secret.base32, secret);
      assert.equal(Secret.fromBase32(secret).bytes.length, 20);

      const pending = await server.api<Status>('GET', '/v1/auth/mfa', { token: as('alice') });
      assert.deepEqual([pending.body.enrolled, pending.body.confirmed], [true, false]);
      assert.equal(await server.services.mfa.hasFactor(await userId('alice')), false);

      const wrong = await confirm('alice', wrongCode(codeAt(secret, now)));
      assert.deepEqual([wrong.status, wrong.body.error?.code], [401, 'MFA_INVALID']);
      const done = await confirm('alice', codeAt(secret, now));
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.equal(done.body.confirmedAt, new Date(now).toISOString());
      assert.equal(await server.services.mfa.hasFactor(await userId('alice')), true);
    });

    it('ends the other sign-ins of a user who confirms a factor, not the one used', async () => {
      const password = 'grace has a long password';
      await server.api('POST', '/v1/users', { body: { name: 'grace', role: 'user', password } });
      const signIn = async () => {
        const reply = await server.api<{ token: string }>('POST', '/v1/auth/login', {
          token: null,
          body: { user: 'grace', password },
        });
        assert.equal(reply.status, 200, JSON.stringify(reply.body));
        return reply.body.token;
      };
      tokens.grace = await signIn();
      // Another sign-in with the password alone, as someone who knew it could have made.
      const other = await signIn();
      const { secret } = await enroll('grace');
      assert.equal((await confirm('grace', codeAt(secret, now))).status, 200);
      const kept = await server.api('GET', '/v1/auth/mfa', { token: as('grace') });
      assert.equal(kept.status, 200);
      const ended = await server.api('GET', '/v1/auth/mfa', { token: other });
      assert.equal(ended.status, 401);
    });

    it('stores the secret sealed, not as the base32 text or the raw bytes', async () => {
      const row = await server.services.store.db
        .selectFrom('user_mfa')
        .select('ciphertext')
        .where('user_id', '=', await userId('alice'))
        .executeTakeFirstOrThrow();
      const secret = secrets.alice ?? '';
      const raw = Buffer.from(Secret.fromBase32(secret).bytes);
      assert.ok(!row.ciphertext.includes(raw));
      assert.ok(!row.ciphertext.includes(Buffer.from(secret)));
      assert.ok(!row.ciphertext.toString('latin1').includes(secret));
    });

    it('refuses to enroll again while a confirmed factor exists', async () => {
      const again = await server.api<Reply>('POST', '/v1/auth/mfa/enroll', { token: as('alice') });
      assert.deepEqual([again.status, again.body.error?.code], [409, 'CONFLICT']);
    });

    it('uses a code once: the confirming, a reused and an old code are refused', async () => {
      const secret = secrets.alice ?? '';
      // The code that confirmed is used up, like every other.
      await assert.rejects(verify('alice', codeAt(secret, now)), failsWith('MFA_INVALID'));

      nextStep();
      const fresh = codeAt(secret, now);
      await verify('alice', fresh);
      await assert.rejects(verify('alice', fresh), failsWith('MFA_INVALID'));

      nextStep();
      nextStep();
      const twoStepsAgo = codeAt(secret, now - 60_000);
      await assert.rejects(verify('alice', twoStepsAgo), failsWith('MFA_INVALID'));
      // One step late or early is a clock off by a little: accepted, once.
      await verify('alice', codeAt(secret, now - 30_000));
      await verify('alice', codeAt(secret, now + 30_000));
      // Nothing up to the newest step taken is accepted any more, even within the window.
      await assert.rejects(verify('alice', codeAt(secret, now)), failsWith('MFA_INVALID'));
      await assert.rejects(verify('alice', '12345'), failsWith('MFA_INVALID'));
    });

    it('refuses everyone after five wrong codes for a while, the right code too', async () => {
      const secret = await enrolled('bob');
      nextStep();
      const right = codeAt(secret, now);
      for (let i = 0; i < 5; i += 1) {
        await assert.rejects(verify('bob', wrongCode(right)), failsWith('MFA_INVALID'));
      }
      await assert.rejects(verify('bob', right), failsWith('RATE_LIMITED'));
      // Another user is not held back by bob's guesser.
      nextStep();
      await verify('alice', codeAt(secrets.alice ?? '', now));

      now += 5 * 60_000;
      await verify('bob', codeAt(secret, now));
      const events = await server.api<AuditEvents>(
        'GET',
        '/v1/audit/events?action=mfa.verify&limit=100',
      );
      const bobs = events.body.events.filter((e) => e.object === 'bob');
      assert.deepEqual(
        bobs.map((e) => `${e.outcome}:${String(e.details?.why ?? '')}`).sort(),
        ['denied:throttled', ...Array(5).fill('failure:wrong-code'), 'success:'].sort(),
      );
    });

    it('removes your own factor only with a valid code', async () => {
      const secret = await enrolled('dave');
      const remove = (code: string) =>
        server.api<Reply>('DELETE', '/v1/auth/mfa', { token: as('dave'), body: { code } });
      nextStep();
      const wrong = await remove(wrongCode(codeAt(secret, now)));
      assert.deepEqual([wrong.status, wrong.body.error?.code], [401, 'MFA_INVALID']);
      const noCode = await server.api<Reply>('DELETE', '/v1/auth/mfa', {
        token: as('dave'),
        body: { code: 'abcdef' },
      });
      assert.deepEqual([noCode.status, noCode.body.error?.code], [400, 'VALIDATION_FAILED']);
      assert.equal(await server.services.mfa.hasFactor(await userId('dave')), true);

      assert.equal((await remove(codeAt(secret, now))).status, 204);
      const status = await server.api<Status>('GET', '/v1/auth/mfa', { token: as('dave') });
      assert.deepEqual([status.body.enrolled, status.body.confirmed], [false, false]);
      // With none left, a new enrolment is welcome.
      await enroll('dave');
    });

    it('lets an admin reset a factor, and no one else', async () => {
      await enrolled('erin');
      const byUser = await server.api<Reply>('DELETE', '/v1/users/erin/mfa', {
        token: as('alice'),
      });
      assert.deepEqual([byUser.status, byUser.body.error?.code], [403, 'FORBIDDEN']);
      assert.equal(await server.services.mfa.hasFactor(await userId('erin')), true);

      assert.equal((await server.api('DELETE', '/v1/users/erin/mfa')).status, 204);
      assert.equal(await server.services.mfa.hasFactor(await userId('erin')), false);
      const again = await server.api<Reply>('DELETE', '/v1/users/erin/mfa');
      assert.deepEqual([again.status, again.body.error?.code], [404, 'NOT_FOUND']);
      const unknown = await server.api<Reply>('DELETE', '/v1/users/nobody/mfa');
      assert.deepEqual([unknown.status, unknown.body.error?.code], [404, 'NOT_FOUND']);
      // Not even an admin strips their own factor without a code.
      const self = await server.api<Reply>('DELETE', '/v1/users/admin/mfa');
      assert.deepEqual([self.status, self.body.error?.code], [403, 'FORBIDDEN']);

      const events = await server.api<AuditEvents>('GET', '/v1/audit/events?action=mfa.reset');
      assert.deepEqual(
        events.body.events.map((e) => [e.outcome, e.object]),
        [['success', 'erin']],
      );
    });

    it('drives enroll, confirm, status, remove and reset from the CLI', async () => {
      const carol = cliFor(server, as('carol'), () => now);
      assert.equal(await main(['user', 'mfa', 'enroll'], carol.io), 0, carol.err());
      const secret = /Secret:\s+([A-Z2-7]+)/.exec(carol.out())?.[1] ?? '';
      assert.match(carol.out(), /URI:\s+otpauth:\/\/totp\/Tessera:carol\?/);
      assert.match(carol.err(), /tessera user mfa confirm/);
      secrets.carol = secret;
      uris.push(/URI:\s+(\S+)/.exec(carol.out())?.[1] ?? '');

      const badCode = cliFor(server, as('carol'), () => now);
      assert.equal(await main(['user', 'mfa', 'confirm', '12ab56'], badCode.io), 2);
      const confirmed = cliFor(server, as('carol'), () => now, `${codeAt(secret, now)}\n`);
      const args = ['user', 'mfa', 'confirm', '--code-stdin'];
      assert.equal(await main(args, confirmed.io), 0, confirmed.err());

      const status = cliFor(server, as('carol'), () => now);
      assert.equal(await main(['user', 'mfa', 'status'], status.io), 0, status.err());
      assert.match(status.out(), /Second factor:\s+TOTP, confirmed/);

      nextStep();
      const reused = cliFor(server, as('carol'), () => now);
      const stale = codeAt(secret, now - 60_000);
      assert.equal(await main(['user', 'mfa', 'remove', stale], reused.io), 1);
      assert.match(reused.err(), /MFA_INVALID/);
      const removed = cliFor(server, as('carol'), () => now);
      const code = codeAt(secret, now);
      assert.equal(await main(['user', 'mfa', 'remove', code], removed.io), 0, removed.err());

      await enrolled('carol');
      const reset = cliFor(server, server.rootToken, () => now);
      assert.equal(await main(['user', 'mfa', 'reset', 'carol'], reset.io), 0, reset.err());
      assert.equal(await server.services.mfa.hasFactor(await userId('carol')), false);
    });

    it('never writes a secret or its URI to the log or the audit trail', async () => {
      const events = await server.api<AuditEvents>('GET', '/v1/audit/events?limit=1000');
      const audit = JSON.stringify(events.body);
      assert.match(audit, /mfa\.enroll/);
      const log = server.logText();
      assert.ok(log.length > 0);
      const shown = [...Object.values(secrets), ...uris];
      assert.ok(shown.length >= 6);
      for (const text of shown) {
        assert.ok(!log.includes(text), 'a secret or URI in the server log');
        assert.ok(!audit.includes(text), 'a secret or URI in the audit trail');
      }
      for (const event of events.body.events.filter((e) => e.action.startsWith('mfa.'))) {
        assert.deepEqual(
          Object.keys(event.details ?? {}).filter((k) => !['why', 'kind', 'replaced'].includes(k)),
          [],
        );
      }
    });
  });
}

/** A six-digit code that is not `code` (nor, with near certainty, a neighbouring step's). */
function wrongCode(code: string): string {
  return code
    .split('')
    .map((d) => String((Number(d) + 5) % 10))
    .join('');
}

function cliFor(server: TestServer, token: string, now: () => number, stdin?: string) {
  let out = '';
  let err = '';
  const sink = (append: (text: string) => void) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        append(chunk.toString('utf8'));
        done();
      },
    });
  const io: Io = {
    stdout: sink((text) => {
      out += text;
    }),
    stderr: sink((text) => {
      err += text;
    }),
    stdin: Readable.from(stdin === undefined ? [] : [Buffer.from(stdin)]),
    env: { TESSERA_ADDR: server.url, TESSERA_TOKEN: token },
    now,
    cwd: process.cwd(),
  };
  return { io, out: () => out, err: () => err };
}
