/**
 * Crash safety of rotation with a real SIGKILL, at each step, and no hook in src/. Tessera runs
 * in a child process (test/support/server-child.ts); a TCP proxy sits between it and a
 * throw-away PostgreSQL and holds the rotation's connections where the kill must land.
 * Connection 1 of a rotation is the change (log in with the current password, ALTER ROLE),
 * connection 2 the login that verifies the new password.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { ROTATION_LEASE_MS } from '../../src/rotation/rotation-engine.ts';
import { openStore } from '../../src/store/store.ts';
import { type PgCluster, uniqueRoleName, usePgCluster } from '../support/pg-cluster.ts';
import { logsIn, storedVerifier } from '../support/pg-login.ts';
import { pgMessageTypes } from '../support/pg-messages.ts';
import { type ServerProcess, startServerProcess } from '../support/server-process.ts';
import {
  createTestStoreLocation,
  STORE_KINDS,
  type StoreKind,
  type TestStoreLocation,
} from '../support/stores.ts';
import {
  type ProxiedConnection,
  type RelayPlan,
  startTcpProxy,
  type TcpProxy,
} from '../support/tcp-proxy.ts';

/** Recovery runs as the server starts; this is ample for two logins and one transaction. */
const SETTLE_AT_START_MS = 3_000;
const SETTLE_MS = 10_000;
const POLL_MS = 50;
/** A clock this far ahead finds the killed process's lease run out. */
const PAST_THE_LEASE_MS = ROTATION_LEASE_MS + 10_000;
const TARGET = 'pg';
const LOG_LINES_IN_REPORT = 15;

interface KillPoint {
  readonly step: string;
  /** How the proxy relays the rotation's connections, numbered from 1. */
  readonly plan: (connection: number) => RelayPlan;
  /** The connection, and the moment on it, at which Tessera is killed. */
  readonly killOn: number;
  readonly reached: (connection: ProxiedConnection) => boolean;
  /** Whether the target holds the new password when the kill lands. */
  readonly applied: boolean;
  /** Asserts, from what the proxy saw, that the kill landed at this step. */
  readonly proveStep: (rotation: readonly ProxiedConnection[]) => void;
}

const clientTypes = (c: ProxiedConnection | undefined) =>
  pgMessageTypes(c?.fromClient ?? [], 'client');
const serverTypes = (c: ProxiedConnection | undefined) =>
  pgMessageTypes(c?.fromServer ?? [], 'server');

const KILL_POINTS: readonly KillPoint[] = [
  {
    step: 'before applying',
    plan: (n) => (n === 1 ? 'hold' : 'forward'),
    killOn: 1,
    reached: () => true,
    applied: false,
    proveStep: ([change, ...rest]) => {
      assert.deepEqual(serverTypes(change), [], 'the change never reached the target');
      assert.equal(rest.length, 0, 'no other connection was opened');
    },
  },
  {
    step: 'after applying, before verifying',
    plan: (n) => (n === 2 ? 'hold' : 'forward'),
    killOn: 2,
    reached: () => true,
    applied: true,
    proveStep: ([change, verify, ...rest]) => {
      const completed = serverTypes(change).filter((type) => type === 'C');
      assert.equal(completed.length, 1, 'ALTER ROLE completed');
      assert.deepEqual(serverTypes(verify), [], 'the verifying login never reached the target');
      assert.equal(rest.length, 0, 'no other connection was opened');
    },
  },
  {
    step: 'after verifying, before promoting',
    plan: (n) => (n === 2 ? 'hold-close' : 'forward'),
    killOn: 2,
    reached: (c) => clientTypes(c).includes('X'),
    applied: true,
    proveStep: ([, verify, ...rest]) => {
      assert.deepEqual(clientTypes(verify).slice(-2), ['Q', 'X'], 'query sent, then goodbye');
      assert.ok(serverTypes(verify).includes('C'), 'the verifying query completed');
      assert.equal(rest.length, 0, 'no other connection was opened');
    },
  },
];

interface VersionInfo {
  readonly version: number;
  readonly status: string;
}

interface AccountView {
  readonly state: string;
  readonly rotating: boolean;
  readonly currentVersion: number | null;
}

interface AuditEvent {
  readonly action: string;
  readonly outcome: string;
  readonly details: Record<string, unknown> | null;
}

/** One Tessera, its store and one managed role, for one kill. */
interface Rig {
  readonly place: TestStoreLocation;
  readonly rootToken: string;
  readonly role: string;
  readonly initial: string;
  server: ServerProcess;
}

let cluster: () => PgCluster;
let proxy: TcpProxy;

describe('rotation survives a SIGKILL of Tessera at every step', () => {
  // Inside a suite, so that the cluster is up before the proxy in front of it starts.
  cluster = usePgCluster();
  before(async () => {
    proxy = await startTcpProxy(cluster());
  });
  after(async () => {
    if (proxy !== undefined) await proxy.close();
  });

  for (const store of STORE_KINDS) {
    for (const point of KILL_POINTS) describeKillPoint(store, point);
  }
});

function describeKillPoint(store: StoreKind, point: KillPoint): void {
  describe(`SIGKILL ${point.step}, with Tessera's store on ${store}`, () => {
    let rig: Rig;
    let verifierBefore: string | null;

    before(async () => {
      rig = await setUpRig(store);
      verifierBefore = await storedVerifier(cluster(), rig.role);
    });
    after(async () => {
      // Nothing to tidy up when the set-up itself failed.
      if (rig === undefined) return;
      await rig.server.stop();
      await rig.place.drop();
      await cluster().dropRole(rig.role);
    });

    it(`lands ${point.step}: a pending version is stored, the current one unchanged`, async () => {
      const rotation = await killDuringRotation(rig, point);

      point.proveStep(rotation);
      const verifierAfter = await storedVerifier(cluster(), rig.role);
      assert.equal(verifierAfter !== verifierBefore, point.applied, 'the target as expected');
      assert.deepEqual(await storedState(rig), {
        currentVersion: 1,
        versions: [
          { version: 1, status: 'current' },
          { version: 2, status: 'pending' },
        ],
      });
    });

    it('the restart settles the interrupted rotation at start', async () => {
      rig.server = await startRig(rig.place, rig.rootToken, 0);

      const settled = await waitUntilSettled(rig, SETTLE_AT_START_MS);
      const account = await getAccount(rig);
      // The killed process cannot come back for its lease; the restarted one must not wait on it.
      assert.ok(
        settled,
        `still pending ${SETTLE_AT_START_MS} ms after the restart, rotating: ${account.rotating}:` +
          ' the killed process still holds the lease, so recovery and rotate wait it out',
      );
    });

    it('then the vault value logs in, nothing pending, audit chain verifies', async () => {
      if (!(await waitUntilSettled(rig, 0))) {
        // Only the dead process's lease running out frees the account: restart as if later.
        await rig.server.stop();
        rig.server = await startRig(rig.place, rig.rootToken, PAST_THE_LEASE_MS);
      }
      assert.ok(await waitUntilSettled(rig, SETTLE_MS), 'the pending version was settled');

      await assertSettled(rig, point);
      await assertAuditTells(rig, point);
      const verified = await rig.server.api<{ ok: boolean }>('POST', '/v1/audit/verify');
      assert.deepEqual([verified.status, verified.body.ok], [200, true]);
    });

    it('and the next rotation runs normally', async () => {
      const rotated = await rig.server.api<{ version: number }>('POST', `${path(rig)}/rotate`);
      assert.equal(rotated.status, 200, failureReport(rig, rotated.body));

      const revealed = await reveal(rig);
      assert.equal(revealed.version, rotated.body.version);
      assert.equal(await logsIn(cluster(), rig.role, revealed.value), true);
    });
  });
}

async function setUpRig(store: StoreKind): Promise<Rig> {
  const place = await createTestStoreLocation(store);
  const role = uniqueRoleName('crash');
  const initial = `Init-${randomBytes(12).toString('base64url')}`;
  await cluster().createRole(role, initial);
  const rootToken = `tsr_${randomBytes(24).toString('base64url')}`;
  const rig: Rig = { place, rootToken, role, initial, server: await startRig(place, rootToken, 0) };

  const target = { name: TARGET, platform: 'postgresql', host: '127.0.0.1', port: proxy.port };
  await expectStatus(rig, 'POST', '/v1/safes', { name: 'ops' }, 201);
  await expectStatus(rig, 'PUT', '/v1/safes/ops/members/admin', { permissions: ['retrieve'] }, 200);
  await expectStatus(rig, 'POST', '/v1/targets', target, 201);
  const account = { username: role, safe: 'ops', secret: initial };
  await expectStatus(rig, 'POST', `/v1/targets/${TARGET}/accounts`, account, 201);
  // Verified first, so that every state after the crash is compared with a known good one.
  await expectStatus(rig, 'POST', `${path(rig)}/verify`, undefined, 200);
  return rig;
}

function startRig(
  place: TestStoreLocation,
  rootToken: string,
  clockOffsetMs: number,
): Promise<ServerProcess> {
  const { dataDir, databaseUrl } = place;
  return startServerProcess({ dataDir, rootToken, databaseUrl, clockOffsetMs });
}

async function expectStatus(
  rig: Rig,
  method: string,
  url: string,
  body: unknown,
  status: number,
): Promise<void> {
  const reply = await rig.server.api(method, url, { body });
  assert.equal(reply.status, status, `${method} ${url}: ${JSON.stringify(reply.body)}`);
}

function path(rig: Rig): string {
  return `/v1/targets/${TARGET}/accounts/${encodeURIComponent(rig.role)}`;
}

/** Starts a rotation, SIGKILLs Tessera at the kill point, returns the rotation's connections. */
async function killDuringRotation(rig: Rig, point: KillPoint): Promise<ProxiedConnection[]> {
  const base = proxy.connections.length;
  proxy.setPlan((index) => point.plan(index - base));
  // The reply never comes: the process dies first.
  const call = rig.server.api('POST', `${path(rig)}/rotate`).then(
    (reply) => reply.status,
    () => null,
  );

  await proxy.waitFor((all) =>
    all.find((c) => c.index === base + point.killOn && point.reached(c)),
  );
  rig.server.killNow();
  await rig.server.exited();
  proxy.setPlan(() => 'forward');

  assert.equal(await call, null, 'the rotation was cut short, no reply');
  return proxy.connections.slice(base);
}

/** Reads the account's versions straight from the store while no Tessera runs. */
async function storedState(rig: Rig) {
  const store = await openStore(rig.place.location);
  try {
    const account = await store.db
      .selectFrom('accounts')
      .select(['id', 'current_version'])
      .where('username', '=', rig.role)
      .executeTakeFirstOrThrow();
    const versions = await store.db
      .selectFrom('secret_versions')
      .select(['version', 'status'])
      .where('account_id', '=', account.id)
      .orderBy('version')
      .execute();
    return { currentVersion: account.current_version, versions };
  } finally {
    await store.close();
  }
}

async function versionsOf(rig: Rig): Promise<VersionInfo[]> {
  const reply = await rig.server.api<{ versions: VersionInfo[] }>('GET', `${path(rig)}/versions`);
  assert.equal(reply.status, 200);
  return reply.body.versions;
}

async function waitUntilSettled(rig: Rig, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const versions = await versionsOf(rig);
    if (!versions.some((v) => v.status === 'pending')) return true;
    if (Date.now() >= deadline) return false;
    await delay(POLL_MS);
  }
}

async function getAccount(rig: Rig): Promise<AccountView> {
  const reply = await rig.server.api<AccountView>('GET', path(rig));
  assert.equal(reply.status, 200);
  return reply.body;
}

async function reveal(rig: Rig): Promise<{ value: string; version: number }> {
  const reply = await rig.server.api<{ value: string; version: number }>(
    'POST',
    `${path(rig)}/reveal`,
    { body: { reason: 'crash test: check the vault value' } },
  );
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  return reply.body;
}

async function assertSettled(rig: Rig, point: KillPoint): Promise<void> {
  const expected = point.applied
    ? [
        { version: 2, status: 'current' },
        { version: 1, status: 'previous' },
      ]
    : [
        { version: 2, status: 'discarded' },
        { version: 1, status: 'current' },
      ];
  const versions = (await versionsOf(rig)).map(({ version, status }) => ({ version, status }));
  assert.deepEqual(versions, expected);

  const revealed = await reveal(rig);
  assert.equal(revealed.version, point.applied ? 2 : 1);
  assert.equal(await logsIn(cluster(), rig.role, revealed.value), true, 'vault value logs in');
  assert.equal(revealed.value === rig.initial, !point.applied);
  if (point.applied) assert.equal(await logsIn(cluster(), rig.role, rig.initial), false);

  const account = await getAccount(rig);
  assert.deepEqual([account.state, account.rotating], ['ok', false]);
}

async function assertAuditTells(rig: Rig, point: KillPoint): Promise<void> {
  const object = encodeURIComponent(`${TARGET}/${rig.role}`);
  const reply = await rig.server.api<{ events: AuditEvent[] }>(
    'GET',
    `/v1/audit/events?object=${object}&action=account.rotate&limit=100`,
  );
  const events = reply.body.events.map((e) => [e.action, e.outcome, e.details?.version]);
  const settledAs = point.applied
    ? ['account.rotate', 'success', 2]
    : ['account.rotate.discard', 'failure', 2];
  assert.deepEqual(events.slice(0, 2), [['account.rotate.pending', 'success', 2], settledAs]);
}

/** A reply and the end of the server's own log, for a failure message. */
function failureReport(rig: Rig, body: unknown): string {
  const log = rig.server.output().split('\n').slice(-LOG_LINES_IN_REPORT).join('\n');
  return `${JSON.stringify(body)}\nserver log, last lines:\n${log}`;
}
