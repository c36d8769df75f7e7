/**
 * Bulk rotation runs and rotation status through the API and the CLI, on both stores: accounts
 * on a throw-away PostgreSQL cluster rotate for real, accounts on a closed loopback port fail,
 * and each outcome is checked the way an operator would see it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Io } from '../../src/cli/context.ts';
import { main } from '../../src/cli/main.ts';
import { type PgCluster, uniqueRoleName, usePgCluster } from '../support/pg-cluster.ts';
import { logsIn } from '../support/pg-login.ts';
import { STORE_KINDS, type StoreKind } from '../support/stores.ts';
import { createUserWithToken, startTestServer, type TestServer } from '../support/test-server.ts';

interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

interface Run {
  readonly id: string;
  readonly state: string;
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly startedBy: string;
  readonly failures: readonly { account: string; error: string }[];
}

interface Status {
  readonly accounts: readonly {
    ref: string;
    health: string;
    state: string;
    failures: number;
    lastError: string | null;
    lastRotatedAt: string | null;
  }[];
  readonly totals: Record<string, number>;
}

/** Nothing listens here: every rotation on this target fails at its first step. */
const CLOSED_PORT = 9;
const RUN_TIMEOUT_MS = 60_000;

interface Managed {
  readonly role: string;
  readonly password: string;
  readonly ref: string;
}

let cluster: () => PgCluster;

describe('bulk rotation runs and rotation status', () => {
  cluster = usePgCluster();
  for (const store of STORE_KINDS) describeStore(store);
});

function describeStore(store: StoreKind): void {
  describe(`on ${store}`, () => {
    let server: TestServer;
    const tokens: Record<'alice' | 'bob' | 'carol' | 'auditor', string> = {
      alice: '',
      bob: '',
      carol: '',
      auditor: '',
    };
    const ops: Managed[] = [];
    let spare: Managed;
    const roles: string[] = [];
    let now = Date.parse('2026-05-04T08:00:00Z');

    const newRole = async (safe: string, policy?: string): Promise<Managed> => {
      const role = uniqueRoleName('bulk');
      const password = `Init-${randomBytes(12).toString('base64url')}`;
      await cluster().createRole(role, password);
      roles.push(role);
      const body = { username: role, safe, secret: password, ...(policy ? { policy } : {}) };
      const created = await server.api('POST', '/v1/targets/pg/accounts', { body });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return { role, password, ref: `pg/${role}` };
    };

    before(async () => {
      server = await startTestServer({ store, clock: { now: () => now } });
      tokens.alice = await createUserWithToken(server, 'alice', 'user');
      tokens.bob = await createUserWithToken(server, 'bob', 'user');
      tokens.carol = await createUserWithToken(server, 'carol', 'user');
      tokens.auditor = await createUserWithToken(server, 'aud', 'auditor');
      for (const name of ['ops', 'spare']) {
        assert.equal((await server.api('POST', '/v1/safes', { body: { name } })).status, 201);
      }
      const grant = (user: string, permissions: string[]) =>
        server.api('PUT', `/v1/safes/ops/members/${user}`, { body: { permissions } });
      assert.equal((await grant('alice', ['list', 'retrieve', 'checkout', 'manage'])).status, 200);
      assert.equal((await grant('bob', ['list'])).status, 200);
      const c = cluster();
      for (const target of [
        { name: 'pg', platform: 'postgresql', host: c.host, port: c.port },
        { name: 'down', platform: 'postgresql', host: '127.0.0.1', port: CLOSED_PORT },
      ]) {
        assert.equal((await server.api('POST', '/v1/targets', { body: target })).status, 201);
      }
      const hourly = await server.api('PUT', '/v1/policies/hourly', {
        body: { rotationIntervalS: 3_600 },
      });
      assert.equal(hourly.status, 200);
      for (let i = 0; i < 3; i++) ops.push(await newRole('ops'));
      for (const username of ['gone1', 'gone2']) {
        const body = { username, safe: 'ops', secret: 'initial' };
        const created = await server.api('POST', '/v1/targets/down/accounts', { body });
        assert.equal(created.status, 201);
      }
      spare = await newRole('spare', 'hourly');
    });
    after(async () => {
      await server?.stop();
      for (const role of roles) await cluster().dropRole(role);
    });

    const start = (token: string, body: unknown) =>
      server.api<{ id: string; total: number } & Partial<ErrorBody>>('POST', '/v1/rotation/runs', {
        token,
        body,
      });

    const waitForRun = async (id: string, token = server.rootToken): Promise<Run> => {
      const deadline = Date.now() + RUN_TIMEOUT_MS;
      for (;;) {
        const reply = await server.api<Run>('GET', `/v1/rotation/runs/${id}`, { token });
        assert.equal(reply.status, 200, JSON.stringify(reply.body));
        if (reply.body.state !== 'running') return reply.body;
        assert.ok(Date.now() < deadline, `run ${id} still running`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };

    const reveal = async (managed: Managed) => {
      const reply = await server.api<{ value: string; version: number }>(
        'POST',
        `/v1/targets/pg/accounts/${managed.role}/reveal`,
        { token: tokens.alice, body: { reason: 'bulk rotation test' } },
      );
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      return reply.body;
    };

    const status = (token: string, query = '') =>
      server.api<Status>('GET', `/v1/rotation/status${query}`, { token });

    it('refuses runs to those who may not manage their scope', async () => {
      const cases: ReadonlyArray<readonly [keyof typeof tokens, unknown, string]> = [
        ['bob', { safe: 'ops' }, 'FORBIDDEN'], // list only
        ['carol', { safe: 'ops' }, 'NOT_FOUND'], // not a member: the safe is not confirmed
        ['auditor', { safe: 'ops' }, 'FORBIDDEN'],
        ['alice', { target: 'pg' }, 'FORBIDDEN'], // a target's accounts lie in several safes
        ['alice', { all: true }, 'FORBIDDEN'],
      ];
      for (const [who, body, code] of cases) {
        const reply = await start(tokens[who], body);
        assert.equal(reply.body.error?.code, code, `${who} ${JSON.stringify(body)}`);
      }
    });

    it('refuses a body without exactly one scope', async () => {
      for (const body of [{}, { safe: 'ops', target: 'pg' }, { all: false }, { safe: 'x y' }]) {
        const reply = await start(server.rootToken, body);
        assert.equal(reply.body.error?.code, 'VALIDATION_FAILED', JSON.stringify(body));
      }
      const missing = await start(server.rootToken, { safe: 'nowhere' });
      assert.equal(missing.body.error?.code, 'NOT_FOUND');
    });

    it("rotates a safe's accounts in the background: failures keep their reason", async () => {
      const started = await start(tokens.alice, { safe: 'ops' });
      assert.equal(started.status, 202, JSON.stringify(started.body));
      assert.equal(started.body.total, 5);

      const run = await waitForRun(started.body.id, tokens.alice);
      assert.deepEqual(
        [run.state, run.total, run.succeeded, run.failed, run.startedBy],
        ['finished', 5, 3, 2, 'alice'],
      );
      assert.deepEqual(
        run.failures.map((f) => f.account),
        ['down/gone1', 'down/gone2'],
      );
      for (const failure of run.failures) {
        assert.match(failure.error, new RegExp(`rotation of ${failure.account} failed: .+`));
      }
      for (const managed of ops) {
        const { value, version } = await reveal(managed);
        assert.equal(version, 2);
        assert.equal(await logsIn(cluster(), managed.role, value), true, 'the new value logs in');
        assert.equal(await logsIn(cluster(), managed.role, managed.password), false);
      }
      assert.equal(await logsIn(cluster(), spare.role, spare.password), true, 'other safe kept');
    });

    it('audits the start and the finish of a run, and each rotation under its starter', async () => {
      const events = async (action: string) =>
        (
          await server.api<{
            events: {
              action: string;
              actor: string;
              outcome: string;
              details: Record<string, unknown>;
            }[];
          }>('GET', `/v1/audit/events?action=${action}&limit=1000`)
        ).body.events.filter((e) => e.action === action); // the filter matches a prefix
      const [first] = await events('rotation.run.start');
      assert.equal(first?.actor, 'alice');
      assert.deepEqual(first?.details, { scope: 'safe', safe: 'ops', total: 5 });
      const [finish] = await events('rotation.run.finish');
      assert.equal(finish?.outcome, 'failure');
      assert.deepEqual(finish?.details, { total: 5, succeeded: 3, failed: 2 });
      const rotations = (await events('account.rotate')).filter((e) => e.actor === 'alice');
      assert.equal(rotations.length, 5);
    });

    it('lets members of the safe and auditors follow a run; to others it does not exist', async () => {
      const started = await start(tokens.alice, { safe: 'ops' });
      await waitForRun(started.body.id);
      const path = `/v1/rotation/runs/${started.body.id}`;
      for (const [who, expected] of [
        ['alice', 200],
        ['bob', 200],
        ['auditor', 200],
        ['carol', 404],
      ] as const) {
        const reply = await server.api('GET', path, { token: tokens[who] });
        assert.equal(reply.status, expected, who);
      }
      const unknown = await server.api<ErrorBody>(
        'GET',
        '/v1/rotation/runs/8d0f5a8e-1b52-4c1e-9a8e-0c1d2e3f4a5b',
      );
      assert.equal(unknown.body.error.code, 'NOT_FOUND');
    });

    it('shows rotation health with totals, to each caller only their accounts', async () => {
      const reply = await status(tokens.alice);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      const health = Object.fromEntries(reply.body.accounts.map((a) => [a.ref, a.health]));
      assert.deepEqual(health, {
        'down/gone1': 'failing',
        'down/gone2': 'failing',
        ...Object.fromEntries(ops.map((m) => [m.ref, 'ok'])),
      });
      assert.deepEqual(reply.body.totals, {
        accounts: 5,
        ok: 3,
        due: 0,
        failing: 2,
        neverRotated: 2,
      });
      const gone = reply.body.accounts.find((a) => a.ref === 'down/gone1');
      assert.equal(gone?.failures, 2, 'two runs, two failures in a row');
      assert.equal(gone?.state, 'rotation_failed');
      assert.ok(gone?.lastError);

      assert.deepEqual((await status(tokens.carol)).body.accounts, []);
      const failing = await status(tokens.alice, '?health=failing');
      assert.deepEqual(
        failing.body.accounts.map((a) => a.ref),
        ['down/gone1', 'down/gone2'],
      );
      assert.equal(failing.body.totals.accounts, 5, 'totals ignore the health filter');
      const onPg = await status(server.rootToken, '?target=pg&state=ok');
      assert.deepEqual(
        onPg.body.accounts.map((a) => a.ref),
        ops.map((m) => m.ref).sort(),
      );
      const untouched = await status(server.rootToken, '?target=pg&state=unverified');
      assert.deepEqual(
        untouched.body.accounts.map((a) => a.ref),
        [spare.ref],
      );
      const bad = await status(tokens.alice, '?state=broken');
      assert.equal(bad.status, 400);
    });

    it('does not rotate a checked-out account: it waits for its check-in', async () => {
      const [held] = ops;
      assert.ok(held);
      const checkout = await server.api('POST', `/v1/targets/pg/accounts/${held.role}/checkout`, {
        token: tokens.alice,
        body: { reason: 'working on it' },
      });
      assert.equal(checkout.status, 200, JSON.stringify(checkout.body));

      const started = await start(server.rootToken, { target: 'pg' });
      assert.equal(started.body.total, 4);
      const run = await waitForRun(started.body.id);
      assert.deepEqual([run.succeeded, run.failed], [3, 1]);
      assert.equal(run.failures[0]?.account, held.ref);
      assert.match(run.failures[0]?.error ?? '', /checked out by alice/);
      const checkin = await server.api('POST', `/v1/targets/pg/accounts/${held.role}/checkin`, {
        token: tokens.alice,
      });
      assert.equal(checkin.status, 200);
    });

    it('runs over every account for an admin', async () => {
      const started = await start(server.rootToken, { all: true });
      assert.equal(started.status, 202);
      const run = await waitForRun(started.body.id);
      assert.deepEqual([run.total, run.succeeded, run.failed], [6, 4, 2]);
    });

    it('tessera rotation run: waits, sums up, and exits 1 when any rotation failed', async () => {
      const cli = cliFor(server, tokens.alice, () => now);
      const code = await main(['rotation', 'run', '--safe', 'ops', '-o', 'json'], cli.io);
      assert.equal(code, 1, cli.err());
      const run = JSON.parse(cli.out()) as Run;
      assert.deepEqual([run.state, run.succeeded, run.failed], ['finished', 3, 2]);
      assert.match(cli.err(), /ROTATION_FAILED: 2 of 5 rotations failed/);

      const text = cliFor(server, tokens.alice, () => now);
      assert.equal(await main(['rotation', 'run', '--safe', 'ops'], text.io), 1);
      assert.match(text.out(), /Succeeded:\s+3/);
      assert.match(text.out(), /down\/gone1\s+rotation of down\/gone1 failed/);
      assert.ok(!text.err().includes('\u001b['), 'no progress bar without a terminal');

      const usage = cliFor(server, tokens.alice, () => now);
      assert.equal(await main(['rotation', 'run', '--safe', 'ops', '--all'], usage.io), 2);
    });

    it('tessera rotation status: a table, the failing ones, and totals', async () => {
      const cli = cliFor(server, tokens.alice, () => now);
      assert.equal(await main(['rotation', 'status', '--failing'], cli.io), 0, cli.err());
      const lines = cli.out().split('\n');
      assert.match(lines[0] ?? '', /^ACCOUNT\s+STATE\s+HEALTH\s+ROTATED\s+NEXT\s+FAILURES/);
      assert.deepEqual(
        lines.slice(1, 3).map((line) => line.split(/\s+/).slice(0, 4)),
        [
          ['down/gone1', 'rotation_failed', 'failing', 'never'],
          ['down/gone2', 'rotation_failed', 'failing', 'never'],
        ],
      );
      assert.match(cli.out(), /5 accounts: 3 ok, 0 due, 2 failing; 2 never rotated\./);
    });

    it('tessera policy set: a schedule with --at, --jitter and --max-per-target', async () => {
      const run = async (...args: string[]) => {
        const cli = cliFor(server, server.rootToken, () => now);
        const code = await main(args, cli.io);
        return { code, out: cli.out(), err: cli.err() };
      };
      const set = await run(
        'policy',
        'set',
        'nightly',
        '--rotate-every',
        '30d',
        '--at',
        '2:00 Europe/Paris',
        '--jitter',
        '1h',
        '--max-per-target',
        '4',
        '--no-rotate-on-checkout-expiry',
      );
      assert.equal(set.code, 0, set.err);
      assert.match(set.out, /Rotation:\s+every 30d at 02:00 Europe\/Paris \(\+ up to 1h\)/);
      const shown = JSON.parse((await run('policy', 'show', 'nightly', '-o', 'json')).out);
      assert.deepEqual(
        [shown.rotateAt, shown.timeZone, shown.jitterS, shown.maxPerTarget],
        ['02:00', 'Europe/Paris', 3_600, 4],
      );
      assert.equal(shown.rotateOnCheckoutExpiry, false);

      // Other flags keep the schedule; --at none clears the time and its zone.
      assert.equal((await run('policy', 'set', 'nightly', '--length', '40')).code, 0);
      const kept = JSON.parse((await run('policy', 'show', 'nightly', '-o', 'json')).out);
      assert.deepEqual([kept.rotateAt, kept.jitterS, kept.secret.length], ['02:00', 3_600, 40]);
      assert.equal((await run('policy', 'set', 'nightly', '--at', 'none')).code, 0);
      const cleared = JSON.parse((await run('policy', 'show', 'nightly', '-o', 'json')).out);
      assert.deepEqual([cleared.rotateAt, cleared.timeZone], [null, null]);

      const unknown = await run('policy', 'set', 'nightly', '--at', '02:00 Europe/Atlantis');
      assert.equal(unknown.code, 1);
      assert.match(unknown.err, /VALIDATION_FAILED: unknown time zone "Europe\/Atlantis"/);
      for (const bad of [
        ['--at', '25:00'],
        ['--max-per-target', '65'],
        ['--jitter', 'soon'],
      ]) {
        assert.equal((await run('policy', 'set', 'nightly', ...bad)).code, 2, bad.join(' '));
      }
    });

    it('counts an account whose schedule has come as due', async () => {
      now += 2 * 3_600_000; // the hourly policy's account is past its time; tokens ran out
      const reply = await status(server.rootToken, '?safe=spare');
      assert.deepEqual(
        reply.body.accounts.map((a) => [a.ref, a.health]),
        [[spare.ref, 'due']],
      );
      assert.equal(reply.body.totals.due, 1);
    });
  });
}

/** Runs the CLI in this process against the server, capturing what it writes. */
function cliFor(server: TestServer, token: string, now: () => number) {
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
    stdin: Readable.from([]),
    env: { TESSERA_ADDR: server.url, TESSERA_TOKEN: token },
    now,
    cwd: process.cwd(),
  };
  return { io, out: () => out, err: () => err };
}
