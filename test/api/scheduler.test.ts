/**
 * The scheduler with a clock the test controls, rotating real PostgreSQL roles on a throw-away
 * cluster: policy schedule settings, exactly-once rotation across two nodes sharing one store,
 * retry back-off, and daily runs across daylight-saving changes (F11).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Logger } from 'pino';
import type { Clock } from '../../src/clock.ts';
import { createLogger } from '../../src/logger.ts';
import type { RotationEngine } from '../../src/rotation/rotation-engine.ts';
import { createScheduler, type Scheduler } from '../../src/rotation/scheduler.ts';
import { type RunningServer, startServer } from '../../src/server.ts';
import type { Services } from '../../src/services.ts';
import { type PgCluster, uniqueRoleName, usePgCluster } from '../support/pg-cluster.ts';
import { logsIn } from '../support/pg-login.ts';
import { createTestStoreLocation, STORE_KINDS, type StoreKind } from '../support/stores.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

const DAY_S = 86_400;
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const CLOSED_PORT = 9;
const DUE_ACCOUNTS = 20;
const PER_TARGET = 2;

interface ErrorBody {
  readonly error?: { readonly code: string; readonly message: string };
}

interface AuditEvents {
  readonly events: readonly { action: string; at: string; object: string; outcome: string }[];
}

let cluster: () => PgCluster;

const quietLogger = (): Logger =>
  createLogger({ level: 'error', destination: { write: () => {} } });

/** A scheduler of the node's own services, as the server builds it, with the test's engine. */
function schedulerOf(services: Services, rotation: RotationEngine = services.rotation): Scheduler {
  return createScheduler({ ...services, rotation, logger: quietLogger() });
}

describe('scheduled rotation', () => {
  cluster = usePgCluster();

  for (const store of STORE_KINDS) describePolicySchedule(store);
  describeTwoNodes();
  for (const store of STORE_KINDS) describeBackOff(store);
  for (const store of STORE_KINDS) describeDaylightSaving(store);
});

function describePolicySchedule(store: StoreKind): void {
  describe(`policy schedule settings on ${store}`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({
        store,
        clock: { now: () => Date.parse('2026-03-02T10:00Z') },
      });
    });
    after(() => server.stop());

    const put = (name: string, body: unknown) =>
      server.api<ErrorBody & Record<string, unknown>>('PUT', `/v1/policies/${name}`, { body });

    it('stores a calendar schedule, the zone by its canonical name', async () => {
      const body = {
        rotationIntervalS: DAY_S,
        rotateAt: '02:30',
        timeZone: 'europe/berlin',
        jitterS: 3_600,
        maxPerTarget: 8,
        rotateOnCheckoutExpiry: false,
      };
      const reply = await put('berlin', body);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      const shown = await server.api<Record<string, unknown>>('GET', '/v1/policies/berlin');
      assert.deepEqual(
        [
          shown.body.rotateAt,
          shown.body.timeZone,
          shown.body.jitterS,
          shown.body.maxPerTarget,
          shown.body.rotateOnCheckoutExpiry,
        ],
        ['02:30', 'Europe/Berlin', 3_600, 8, false],
      );
      const defaults = await put('plain', {});
      assert.deepEqual(
        [defaults.body.rotateAt, defaults.body.timeZone, defaults.body.jitterS],
        [null, null, 0],
      );
      assert.deepEqual(
        [defaults.body.maxPerTarget, defaults.body.rotateOnCheckoutExpiry],
        [4, true],
      );
    });

    it('refuses schedules that cannot run, naming the setting', async () => {
      const daily = { rotationIntervalS: DAY_S, rotateAt: '02:30' };
      const cases: ReadonlyArray<readonly [unknown, RegExp]> = [
        [{ ...daily, timeZone: 'Mars/Olympus_Mons' }, /unknown time zone "Mars\/Olympus_Mons"/],
        [{ ...daily, timeZone: '+02:00' }, /unknown time zone "\+02:00"/],
        [{ ...daily, rotateAt: '24:00' }, /rotateAt/],
        [{ ...daily, rotateAt: '2:30' }, /rotateAt/],
        [{ rotateAt: '02:30' }, /rotateAt needs a rotation interval of whole days/],
        [{ ...daily, rotationIntervalS: 36 * 3_600 }, /whole days/],
        [{ timeZone: 'Europe/Paris' }, /timeZone/],
        [{ rotationIntervalS: 3_600, jitterS: 1_800 }, /less than half the rotation interval/],
        [{ jitterS: -1 }, /jitterS/],
        [{ maxPerTarget: 0 }, /maxPerTarget/],
        [{ maxPerTarget: 65 }, /maxPerTarget/],
        [{ maxPerTarget: 1.5 }, /maxPerTarget/],
      ];
      for (const [body, message] of cases) {
        const reply = await put('refused', body);
        assert.equal(reply.body.error?.code, 'VALIDATION_FAILED', JSON.stringify(body));
        assert.match(reply.body.error?.message ?? '', message, JSON.stringify(body));
      }
      assert.equal((await server.api('GET', '/v1/policies/refused')).status, 404);
    });

    it("moves its accounts' next rotation when the schedule changes", async () => {
      assert.equal((await put('later', {})).status, 200);
      await server.api('POST', '/v1/safes', { body: { name: 'ops' } });
      const target = { name: 'db', platform: 'postgresql', host: '127.0.0.1', port: CLOSED_PORT };
      await server.api('POST', '/v1/targets', { body: target });
      const body = { username: 'app', safe: 'ops', policy: 'later', secret: 'initial' };
      assert.equal((await server.api('POST', '/v1/targets/db/accounts', { body })).status, 201);
      const next = async () =>
        (await server.api<{ nextRotationAt: string | null }>('GET', '/v1/targets/db/accounts/app'))
          .body.nextRotationAt;
      assert.equal(await next(), null);

      const schedule = { rotationIntervalS: DAY_S, rotateAt: '02:30', timeZone: 'Europe/Paris' };
      assert.equal((await put('later', schedule)).status, 200);
      // Onboarded at 11:00 Paris time: the day counts from that morning's 02:30.
      assert.equal(await next(), '2026-03-03T01:30:00.000Z');
      assert.equal((await put('later', {})).status, 200);
      assert.equal(await next(), null);
    });
  });
}

function describeTwoNodes(): void {
  describe('two nodes sharing one PostgreSQL store', () => {
    let now = Date.parse('2026-04-01T09:00:00Z');
    const clock: Clock = { now: () => now };
    const rootToken = `tsr_${randomBytes(24).toString('base64url')}`;
    const nodes: RunningServer[] = [];
    const roles: string[] = [];
    let drop: () => Promise<void> = async () => {};
    let extraDir = '';

    const call = async <T>(node: RunningServer, method: string, url: string, body?: unknown) => {
      const response = await fetch(node.url + url, {
        method,
        headers: {
          authorization: `Bearer ${rootToken}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json()) as T };
    };

    before(async () => {
      const place = await createTestStoreLocation('postgres');
      drop = place.drop;
      extraDir = mkdtempSync(path.join(tmpdir(), 'tessera-node-b-'));
      const config = (dataDir: string) => ({
        dataDir,
        host: '127.0.0.1',
        port: 0,
        databaseUrl: place.databaseUrl,
        dev: true,
        devRootToken: rootToken,
        schedulerIntervalMs: HOUR_MS,
        checkpointIntervalMs: MINUTE_MS,
      });
      const options = { logger: quietLogger(), clock, banner: () => {} };
      nodes.push(await startServer(config(place.dataDir), options));
      // The second node unseals with the same dev key; its own data directory gives its node id.
      const key = 'dev-unseal.key';
      copyFileSync(path.join(place.dataDir, key), path.join(extraDir, key));
      nodes.push(await startServer(config(extraDir), options));
    });
    after(async () => {
      for (const node of nodes) await node.close();
      rmSync(extraDir, { recursive: true, force: true });
      await drop();
      for (const role of roles) await cluster().dropRole(role);
    });

    it(`rotates ${DUE_ACCOUNTS} due accounts exactly once, at most ${PER_TARGET} at once per target on each node`, async () => {
      const [a, b] = nodes;
      assert.ok(a && b);
      const c = cluster();
      await call(a, 'POST', '/v1/safes', { name: 'ops' });
      await call(a, 'POST', '/v1/targets', {
        name: 'pg',
        platform: 'postgresql',
        host: c.host,
        port: c.port,
      });
      const policy = { rotationIntervalS: DAY_S, maxPerTarget: PER_TARGET };
      assert.equal((await call(b, 'PUT', '/v1/policies/daily', policy)).status, 200);
      const passwords = new Map<string, string>();
      for (let i = 0; i < DUE_ACCOUNTS; i++) {
        const role = uniqueRoleName('due');
        const password = `Init-${randomBytes(12).toString('base64url')}`;
        await c.createRole(role, password);
        roles.push(role);
        passwords.set(role, password);
        const body = { username: role, safe: 'ops', policy: 'daily', secret: password };
        const node: RunningServer = i % 2 === 0 ? a : b;
        const created: { status: number } = await call(
          node,
          'POST',
          '/v1/targets/pg/accounts',
          body,
        );
        assert.equal(created.status, 201);
      }
      now += 2 * DAY_S * 1000;

      const spies = nodes.map((node) => spyOn(node.services.rotation));
      const schedulers = nodes.map((node, i) => schedulerOf(node.services, spies[i]?.engine));
      await Promise.all(schedulers.map((s) => s.tick()));

      const rotated = spies.flatMap((spy) => spy.calls);
      assert.equal(rotated.length, DUE_ACCOUNTS, 'one rotation per due account');
      assert.equal(new Set(rotated).size, DUE_ACCOUNTS, 'no account rotated twice');
      for (const spy of spies) assert.ok(spy.maxAtOnce() <= PER_TARGET, `${spy.maxAtOnce()}`);
      const pending = await call<AuditEvents>(
        a,
        'GET',
        '/v1/audit/events?action=account.rotate.pending&limit=1000',
      );
      assert.equal(pending.body.events.length, DUE_ACCOUNTS, 'one candidate per account');

      await Promise.all(schedulers.map((s) => s.tick()));
      assert.equal(spies.flatMap((spy) => spy.calls).length, DUE_ACCOUNTS, 'nothing due after');
      for (const [role, password] of passwords) {
        assert.equal(await logsIn(c, role, password), false, `${role}: the old value is gone`);
      }
      const versions = await a.services.store.db
        .selectFrom('accounts')
        .select('current_version')
        .execute();
      assert.deepEqual(
        versions.map((v) => v.current_version),
        new Array(DUE_ACCOUNTS).fill(2),
      );
    });
  });
}

function describeBackOff(store: StoreKind): void {
  describe(`retry back-off on ${store}`, () => {
    let now = Date.parse('2026-06-01T09:00:00Z');
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ store, clock: { now: () => now } });
      await server.api('POST', '/v1/safes', { body: { name: 'ops' } });
      const target = { name: 'down', platform: 'postgresql', host: '127.0.0.1', port: CLOSED_PORT };
      await server.api('POST', '/v1/targets', { body: target });
      await server.api('PUT', '/v1/policies/hourly', { body: { rotationIntervalS: 3_600 } });
      const body = { username: 'app', safe: 'ops', policy: 'hourly', secret: 'initial' };
      assert.equal((await server.api('POST', '/v1/targets/down/accounts', { body })).status, 201);
    });
    after(() => server.stop());

    const attempts = async () =>
      (
        await server.api<AuditEvents>(
          'GET',
          '/v1/audit/events?action=account.rotate&object=down/app&limit=1000',
        )
      ).body.events.filter((e) => e.action === 'account.rotate' && e.outcome === 'failure').length;

    it('waits 5, then 10, then 20 minutes between failed scheduled rotations', async () => {
      const scheduler = schedulerOf(server.services);
      now += 2 * HOUR_MS;
      await scheduler.tick();
      assert.equal(await attempts(), 1);

      const expected: ReadonlyArray<readonly [number, number]> = [
        [4, 1],
        [2, 2], // 6 minutes after the first failure
        [9, 2],
        [2, 3], // 11 minutes after the second
        [19, 3],
        [2, 4], // 21 minutes after the third
      ];
      for (const [minutes, count] of expected) {
        now += minutes * MINUTE_MS;
        await scheduler.tick();
        assert.equal(await attempts(), count, `after ${minutes} more minutes`);
      }
      const status = await server.api<{ accounts: { failures: number; health: string }[] }>(
        'GET',
        '/v1/rotation/status?target=down',
      );
      assert.deepEqual(status.body.accounts[0], {
        ...status.body.accounts[0],
        failures: 4,
        health: 'failing',
      });
    });
  });
}

/** F11 through the scheduler: a pass every 30 minutes of the test's clock, for five days. */
function describeDaylightSaving(store: StoreKind): void {
  const zones = [
    { zone: 'Europe/Berlin', at: '02:30', from: '2025-03-27T12:00:00Z', change: '2025-03-30' },
    { zone: 'America/New_York', at: '01:30', from: '2025-10-30T12:00:00Z', change: '2025-11-02' },
  ];
  for (const { zone, at, from, change } of zones) {
    describe(`F11: daily at ${at} ${zone} on ${store}`, () => {
      let now = Date.parse(from);
      let server: TestServer;
      let role = '';
      before(async () => {
        server = await startTestServer({ store, clock: { now: () => now } });
        const c = cluster();
        role = uniqueRoleName('dst');
        await c.createRole(role, 'Init-dst-1');
        await server.api('POST', '/v1/safes', { body: { name: 'ops' } });
        const target = { name: 'pg', platform: 'postgresql', host: c.host, port: c.port };
        await server.api('POST', '/v1/targets', { body: target });
        await server.api('PUT', '/v1/policies/daily', { body: {} });
        const body = { username: role, safe: 'ops', policy: 'daily', secret: 'Init-dst-1' };
        assert.equal((await server.api('POST', '/v1/targets/pg/accounts', { body })).status, 201);
        const schedule = { rotationIntervalS: DAY_S, rotateAt: at, timeZone: zone };
        assert.equal(
          (await server.api('PUT', '/v1/policies/daily', { body: schedule })).status,
          200,
        );
      });
      after(async () => {
        await server.stop();
        await cluster().dropRole(role);
      });

      it(`rotates once on each day, ${change} included`, async () => {
        const scheduler = schedulerOf(server.services);
        const end = Date.parse(from) + 5 * DAY_S * 1000;
        for (; now < end; now += 30 * MINUTE_MS) await scheduler.tick();

        const rotations = (
          await server.api<AuditEvents>(
            'GET',
            `/v1/audit/events?action=account.rotate&object=pg/${role}&limit=1000`,
          )
        ).body.events.filter((e) => e.action === 'account.rotate' && e.outcome === 'success');
        const days = rotations.map((e) => localDay(Date.parse(e.at), zone));
        const first = localDay(Date.parse(from) + DAY_S * 1000, zone);
        const expected = [0, 1, 2, 3, 4].map((n) =>
          localDay(Date.parse(`${first}T12:00:00Z`) + n * DAY_S * 1000, zone),
        );
        assert.deepEqual(days, expected);
        assert.ok(days.includes(change));
        for (const e of rotations) {
          const day = localDay(Date.parse(e.at), zone);
          // The skipped 02:30 runs at 03:00, the first instant after the gap.
          const wanted = day === change && zone === 'Europe/Berlin' ? '03:00' : at;
          assert.equal(localTime(Date.parse(e.at), zone), wanted, e.at);
        }
      });
    });
  }
}

/** Wraps an engine to record which accounts it rotated and how many ran at once. */
function spyOn(engine: RotationEngine) {
  const calls: string[] = [];
  let running = 0;
  let most = 0;
  const spied: RotationEngine = {
    ...engine,
    async rotate(ctx, account, origin) {
      calls.push(account.id);
      running += 1;
      most = Math.max(most, running);
      try {
        return await engine.rotate(ctx, account, origin);
      } finally {
        running -= 1;
      }
    },
  };
  return { engine: spied, calls, maxAtOnce: () => most };
}

function localDay(at: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, dateStyle: 'short' }).format(at);
}

function localTime(at: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone, timeStyle: 'short' }).format(at);
}
