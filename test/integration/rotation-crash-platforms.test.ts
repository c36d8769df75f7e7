/**
 * Crash safety of rotation on MariaDB, LDAP and Linux, with a real SIGKILL of Tessera at each
 * step and no hook in src/. Tessera runs in a child process (test/support/server-child.ts) on a
 * SQLite store; a TCP proxy in front of each target numbers a rotation's connections. Every
 * account here changes through a reconcile account, and every connector then opens two:
 * connection 1 is the change (the reconcile account logs in and sets the value, and MariaDB reads
 * the rows back on it), connection 2 the fresh login that verifies the new value.
 *
 * - before applying: connection 1 is held, so nothing reaches the target;
 * - after applying, before verifying: connection 2 is held;
 * - after verifying, before promoting: from the moment connection 2 opens, the test holds the
 *   store's write lock. The verifying login completes on the target; Tessera's next write, the
 *   promotion, then waits in SQLite's busy handler with its event loop blocked, and cannot
 *   commit before the kill.
 *
 * After each kill Tessera starts again on the same store; the account must end with a value that
 * the vault returns and that logs in with the reference client, nothing pending, the audit chain
 * verifying. Two recovery cases follow on MariaDB: a kill followed by a change behind Tessera's
 * back (neither value logs in), and a kill while an account onboarded without a secret, as
 * discovery onboards them, gets its first value.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { ROTATION_LEASE_MS } from '../../src/rotation/rotation-engine.ts';
import { openStore } from '../../src/store/store.ts';
import {
  type ApiCall,
  accountPath,
  assertAuditChainVerifies,
  auditEvents,
  expectStatus,
  getAccount,
  type HeldLock,
  holdSqliteWriteLock,
  ldapFixture,
  linuxFixture,
  mariadbFixture,
  onboard,
  type PlatformFixture,
  platformMissing,
  reveal,
  setUpSafe,
  statusesOf,
  type TargetAccount,
} from '../support/crash-rig.ts';
import { initialPassword, useSharedMariadb } from '../support/mariadb.ts';
import { type ServerProcess, startServerProcess } from '../support/server-process.ts';
import { useSlapd } from '../support/slapd.ts';
import { type Sshd, useSshd } from '../support/sshd.ts';
import { createTestStoreLocation, type TestStoreLocation } from '../support/stores.ts';
import {
  type ProxiedConnection,
  type RelayPlan,
  startTcpProxy,
  type TcpProxy,
} from '../support/tcp-proxy.ts';

/** Recovery runs as the server starts; this is ample for two logins and one transaction. */
const SETTLE_AT_START_MS = 5_000;
const POLL_MS = 50;
/** A Tessera stuck in SQLite's busy wait answers nothing; a free one answers in milliseconds. */
const BLOCKED_PROBE_MS = 500;
/** Well inside SQLite's busy timeout (5 s), after which the blocked write would give up. */
const UNRESPONSIVE_WITHIN_MS = 2_000;
const WAIT_MS = 10_000;
const POLL_INTERVAL_FAST_MS = 5;
const LOG_LINES_IN_REPORT = 15;
/** About three passes of the child's scheduler, which runs once a second. */
const DRIFT_WATCH_MS = 3_500;
/** A start this much later finds the claims and leases of a killed process run out. */
const PAST_THE_CLAIM_MS = ROTATION_LEASE_MS + 10_000;

type Step =
  | 'before applying'
  | 'after applying, before verifying'
  | 'after verifying, before promoting';

interface KillPoint {
  readonly step: Step;
  /** How the proxy relays the rotation's connections, numbered from 1. */
  readonly plan: (connection: number) => RelayPlan;
  /** Whether the target holds the new value when the kill lands. */
  readonly applied: boolean;
}

const KILL_POINTS: readonly KillPoint[] = [
  { step: 'before applying', plan: (n) => (n === 1 ? 'hold' : 'forward'), applied: false },
  {
    step: 'after applying, before verifying',
    plan: (n) => (n === 2 ? 'hold' : 'forward'),
    applied: true,
  },
  { step: 'after verifying, before promoting', plan: () => 'forward', applied: true },
];

/** One target behind its proxy, with the account the kills interrupt. */
interface Managed {
  readonly fixture: PlatformFixture;
  readonly proxy: TcpProxy;
  readonly target: string;
  readonly account: TargetAccount;
  readonly path: string;
  /** The reconcile account every account here changes through. */
  readonly reconciler: TargetAccount;
  /** The value the vault and the target agree on before the next kill, and its version. */
  value: string;
  current: number;
  /** The highest version number stored, discarded candidates included. */
  latest: number;
}

/** What the test saw while the rotation ran up to the kill. */
interface Evidence {
  /** The HTTP status of the call that started the rotation; null when the kill cut it short. */
  readonly reply: number | null;
  readonly connections: readonly ProxiedConnection[];
  /** Whether Tessera answered nothing for a while before the kill (stuck on the store). */
  readonly blocked: boolean;
  /** Whether the verifying login succeeded on the target, as its traffic or its log shows. */
  readonly verified: boolean;
}

interface Rig {
  readonly place: TestStoreLocation;
  readonly rootToken: string;
  server: ServerProcess;
  /** False from a kill until the next start. */
  running: boolean;
  /** How far the server's clock runs ahead; it only ever grows, so time never goes back. */
  clockOffsetMs: number;
}

let rig: Rig | undefined;
const rigOf = (): Rig => {
  if (rig === undefined) throw new Error('the Tessera process did not start');
  return rig;
};
const api: ApiCall = (method, path, options) => rigOf().server.api(method, path, options);

describe('rotation on MariaDB, LDAP and Linux survives a SIGKILL of Tessera at every step', () => {
  const mariadb = useSharedMariadb();
  const slapd = useSlapd();
  const linuxMissing = platformMissing('linux');
  const sshd = linuxMissing ? () => assert.fail(linuxMissing) : useSshd();
  const fixtures = [mariadbFixture(mariadb), ldapFixture(slapd), linuxFixture(sshd)];
  const proxies: TcpProxy[] = [];

  before(async () => {
    const place = await createTestStoreLocation('sqlite');
    const rootToken = `tsr_${randomBytes(24).toString('base64url')}`;
    const server = await startServerProcess({
      dataDir: place.dataDir,
      rootToken,
      databaseUrl: null,
    });
    rig = { place, rootToken, server, running: true, clockOffsetMs: 0 };
    await setUpSafe(api);
  });
  // A failed test may leave Tessera killed; the next one needs it running.
  afterEach(async () => {
    if (rig !== undefined && !rig.running) await restart();
  });
  after(async () => {
    await rig?.server.stop();
    await rig?.place.drop();
    for (const proxy of proxies) await proxy.close();
    for (const fixture of fixtures) await fixture.cleanup().catch(() => undefined);
  });

  const managed = fixtures.map((fixture) => {
    const linuxOnly = fixture.platform === 'linux' ? sshd : undefined;
    return { fixture, managedOf: describePlatform(fixture, proxies, linuxOnly) };
  });
  // Last, so that what a bug may leave behind cannot disturb the kills above.
  const [onMariadb] = managed;
  if (onMariadb !== undefined)
    describeRecoveryCases(onMariadb.fixture, onMariadb.managedOf, proxies);

  it('the audit chain verifies after every kill and restart', async () => {
    await assertAuditChainVerifies(api);
  });
});

/** The three kill points on one platform; returns the account they rotated, for later cases. */
function describePlatform(
  fixture: PlatformFixture,
  proxies: TcpProxy[],
  sshd: (() => Sshd) | undefined,
): () => Managed {
  const platform = fixture.platform;
  let managed: Managed | undefined;
  const managedOf = () => {
    if (managed === undefined) throw new Error(`the ${platform} account was not set up`);
    return managed;
  };
  describe(platform, { skip: platformMissing(platform) }, () => {
    before(async () => {
      const proxy = await startTcpProxy(fixture.upstream());
      proxies.push(proxy);
      managed = await setUpAccount(fixture, proxy);
    });

    for (const point of KILL_POINTS) {
      it(`SIGKILL ${point.step}: lands there; the restart settles it`, async () => {
        const m = managedOf();
        const storedBefore = await fixture.storedCredential(m.account.username);
        const rotate = () => api('POST', `${m.path}/rotate`);
        const evidence = await killDuringRotation(m.proxy, point, rotate, verifyProof(m, sshd));

        assert.equal(evidence.reply, null, 'the rotation was cut short, no reply');
        proveStep(point, evidence);
        const storedAfter = await fixture.storedCredential(m.account.username);
        assert.equal(storedAfter !== storedBefore, point.applied, 'the target changed or not');
        assert.deepEqual(await storedVersions(m), {
          current: m.current,
          pending: [m.latest + 1],
          statusOfCurrent: 'current',
        });

        await restart();
        assert.ok(await waitUntilSettled(m), failureReport('still pending after the restart'));
        await assertSettled(m, point);
      });
    }

    it('and the next rotation runs normally', async () => {
      const m = managedOf();
      const rotated = await api<{ version: number }>('POST', `${m.path}/rotate`);
      assert.equal(rotated.status, 200, failureReport(JSON.stringify(rotated.body)));
      const revealed = await reveal(api, m.path);
      assert.equal(revealed.version, m.latest + 1);
      assert.equal(await fixture.logsIn(m.account.username, revealed.value), true, 'new logs in');
      assert.equal(await fixture.logsIn(m.account.username, m.value), false, 'old refused');
      advance(m, revealed);
    });
  });

  return managedOf;
}

/**
 * What recovery does beyond a plain kill, shown on MariaDB (the engine is the same for every
 * connector; rotation-platforms.test.ts covers each connector's reconcile and first value).
 */
function describeRecoveryCases(
  fixture: PlatformFixture,
  managedOf: () => Managed,
  proxies: TcpProxy[],
): void {
  describe(`recovery cases, on ${fixture.platform}`, {
    skip: platformMissing(fixture.platform),
  }, () => {
    describe('killed after applying, then changed behind Tessera: neither value logs in', () => {
      let failuresAfterRestart = 0;

      it('the restart reports it on the account, and reconcile repairs it', async () => {
        const m = managedOf();
        const rotate = () => api('POST', `${m.path}/rotate`);
        const point = KILL_POINTS[1] as KillPoint;
        proveStep(point, await killDuringRotation(m.proxy, point, rotate, () => false));
        const [pending] = (await storedVersions(m)).pending;
        assert.equal(pending, m.latest + 1);
        const behind = initialPassword();
        await fixture.setPassword(m.account.username, behind);

        await restart();
        await delay(DRIFT_WATCH_MS);
        const object = `${m.target}/${m.account.username}`;
        failuresAfterRestart = (await auditEvents(api, object, 'account.rotate')).filter(
          (e) => e.action === 'account.rotate' && e.details?.version === pending,
        ).length;
        const view = await getAccount(api, m.path);
        assert.equal(view.state, 'rotation_failed');
        assert.match(view.lastRotationError ?? '', /neither .* logs in: reconcile/);

        const repaired = await api<{ version: number }>('POST', `${m.path}/reconcile`);
        assert.equal(repaired.status, 200, failureReport(JSON.stringify(repaired.body)));
        assert.equal(await hasPending(m.path), false, 'nothing pending');
        const revealed = await reveal(api, m.path);
        assert.equal(await fixture.logsIn(m.account.username, revealed.value), true);
        assert.equal(await fixture.logsIn(m.account.username, behind), false);
        assert.equal((await getAccount(api, m.path)).state, 'ok');
        advance(m, revealed);
      });

      // BUG (report): recoverPending settles every pending version at every scheduler pass,
      // whatever the account's back-off; each pass logs in with both values and records one
      // more failed rotation.
      it('BUG recovery retries an unsettleable value at every scheduler pass', () => {
        assert.ok(failuresAfterRestart >= 1, 'the restart reported the drift');
        assert.ok(
          failuresAfterRestart <= 1,
          `${failuresAfterRestart} failed rotations recorded in ${DRIFT_WATCH_MS} ms`,
        );
      });
    });

    // BUG (report) before applying: settle() reads the current value to compare, and an account
    // onboarded without one has none: recovery fails with CONFLICT at every pass, the candidate
    // the target never took stays pending, and the scheduled retry fails with "has no secret".
    for (const point of KILL_POINTS.slice(0, 2)) {
      const bug = point.applied ? '' : 'BUG ';
      it(`${bug}a discovered account's first value: SIGKILL ${point.step}`, async () => {
        await killFirstValue(fixture, managedOf(), point, proxies);
      });
    }
  });
}

/**
 * Onboards an account without a secret (as discovery does), so that the scheduler sets its first
 * value through the reconcile account; kills Tessera at `point`, restarts it, and expects the
 * account to end with a value that works and nothing pending.
 */
async function killFirstValue(
  fixture: PlatformFixture,
  m: Managed,
  point: KillPoint,
  proxies: TcpProxy[],
): Promise<void> {
  // A target of its own, so that only this account's connections are numbered on its proxy.
  const proxy = await startTcpProxy(fixture.upstream());
  proxies.push(proxy);
  const target = `disc-${fixture.platform}-${randomBytes(3).toString('hex')}`;
  await expectStatus(api, 'POST', '/v1/targets', fixture.target(target, proxy.port), 201);
  const { username, password } = m.reconciler;
  await onboard(api, target, { username, secret: password });
  const account = await fixture.createAccount('disc');
  const path = accountPath(target, account.username);
  const body = {
    username: account.username,
    safe: 'ops',
    reconcileAccount: `${target}/${username}`,
  };
  const onboardOnly = () => api('POST', `/v1/targets/${target}/accounts`, { body });

  proveStep(point, await killDuringRotation(proxy, point, onboardOnly, () => false));
  const unchanged = await fixture.logsIn(account.username, account.password);
  assert.equal(unchanged, !point.applied, 'the target changed or not');

  await restart();
  const settled = await waitUntil(async () => !(await hasPending(path)));
  assert.ok(settled, failureReport(`still pending: ${await describeAccount(path)}`));
  // The dead process's claim on the scheduled rotation must run out before it is tried again.
  if (!point.applied) await restart(PAST_THE_CLAIM_MS);
  const valued = await waitUntil(async () => (await getAccount(api, path)).currentVersion !== null);
  assert.ok(valued, failureReport(`no value: ${await describeAccount(path)}`));
  const revealed = await reveal(api, path);
  assert.equal(await fixture.logsIn(account.username, revealed.value), true, 'vault value');
  if (point.applied) assert.equal(revealed.version, 1, 'the first value was kept');
  await assertAuditChainVerifies(api);
}

// ---------------------------------------------------------------------------------------------
// setup

/** Starts Tessera again on the same store, `laterMs` further ahead than the last start. */
async function restart(laterMs = 0): Promise<void> {
  const r = rigOf();
  await r.server.stop();
  r.clockOffsetMs += laterMs;
  const { dataDir } = r.place;
  const options = { dataDir, rootToken: r.rootToken, databaseUrl: null };
  r.server = await startServerProcess({ ...options, clockOffsetMs: r.clockOffsetMs });
  r.running = true;
}

/** A target behind `proxy`, its reconcile account, and a verified account to rotate. */
async function setUpAccount(fixture: PlatformFixture, proxy: TcpProxy): Promise<Managed> {
  const target = `crash-${fixture.platform}`;
  await expectStatus(api, 'POST', '/v1/targets', fixture.target(target, proxy.port), 201);
  const reconciler = await fixture.createReconciler();
  await onboard(api, target, { username: reconciler.username, secret: reconciler.password });
  const account = await fixture.createAccount('crash');
  const reconcileRef = `${target}/${reconciler.username}`;
  const path = await onboard(api, target, {
    username: account.username,
    secret: account.password,
    reconcileAccount: reconcileRef,
  });
  // Verified first, so that every state after a crash is compared with a known good one.
  const verified = await api<{ valid: boolean }>('POST', `${path}/verify`);
  assert.equal(verified.body.valid, true, JSON.stringify(verified.body));
  const value = account.password;
  return {
    ...{ fixture, proxy, target, account, path, reconciler, value },
    ...{ current: 1, latest: 1 },
  };
}

// ---------------------------------------------------------------------------------------------
// the kill

/** Starts a rotation and SIGKILLs Tessera at the kill point; returns what the test saw. */
async function killDuringRotation(
  proxy: TcpProxy,
  point: KillPoint,
  start: () => Promise<{ status: number }>,
  verifiedOn: (verify: ProxiedConnection | undefined) => boolean,
): Promise<Evidence> {
  const base = proxy.connections.length;
  proxy.setPlan((index) => point.plan(index - base));
  const nth = (n: number) => proxy.waitFor((all) => all.find((c) => c.index === base + n));
  const call = start().then(
    (reply) => reply.status,
    () => null,
  );

  let lock: HeldLock | undefined;
  let blocked = false;
  try {
    if (point.step === 'before applying') await nth(1);
    if (point.step === 'after applying, before verifying') await nth(2);
    if (point.step === 'after verifying, before promoting') {
      await nth(2);
      // No byte of the verifying login has been relayed yet: the promotion cannot precede this.
      lock = holdSqliteWriteLock(storeFile());
      await until(() => verifiedOn(proxy.connections[base + 1]), 'the verifying login');
      blocked = await becomesUnresponsive(rigOf().server);
    }
    rigOf().server.killNow();
    rigOf().running = false;
    await rigOf().server.exited();
  } finally {
    lock?.release();
    proxy.setPlan(() => 'forward');
  }

  const connections = proxy.connections.slice(base);
  return { reply: await call, connections, blocked, verified: verifiedOn(connections[1]) };
}

function proveStep(point: KillPoint, evidence: Evidence): void {
  const [change, verify, ...rest] = evidence.connections;
  assert.equal(rest.length, 0, 'no other connection was opened');
  assert.ok(change !== undefined, 'the change connection was opened');
  if (point.step === 'before applying') {
    assert.deepEqual(change.fromServer, [], 'the change never reached the target');
    assert.equal(verify, undefined, 'no verifying login');
    return;
  }
  // The target answered the change; whether the client's own close reached the proxy before
  // the kill depends on when the connector closes (ssh2 and ldapts do not wait for it). That
  // the change took is proved by the target's stored credential, checked by the caller.
  assert.ok(change.fromServer.length > 0, 'the change reached the target and was answered');
  assert.ok(verify !== undefined, 'the verifying login was opened');
  if (point.step === 'after applying, before verifying') {
    assert.deepEqual(verify.fromServer, [], 'the verifying login never reached the target');
    assert.equal(evidence.verified, false);
    return;
  }
  assert.equal(evidence.verified, true, 'the target accepted the new value on the verifying login');
  assert.equal(evidence.blocked, true, 'Tessera was stuck on its next write when killed');
}

/**
 * How to tell that the target accepted the new value on the verifying connection: the row
 * MariaDB says the login landed on; LDAP's bind result; for SSH, whose bytes are encrypted, one
 * more accepted password login for the account in sshd's log than before the rotation.
 */
function verifyProof(
  m: Managed,
  sshd: (() => Sshd) | undefined,
): (verify: ProxiedConnection | undefined) => boolean {
  const user = m.account.username;
  if (m.fixture.platform === 'mariadb') {
    return (verify) => bytesOf(verify?.fromServer).includes(`${user}@127.0.0.1`);
  }
  if (m.fixture.platform === 'ldap') {
    return (verify) => ldapBindResult(bytesOf(verify?.fromServer)) === 0;
  }
  const logins = () => acceptedPasswordLogins(sshd?.().readLog() ?? '', user);
  const before = logins();
  return () => logins() === before + 1;
}

function bytesOf(chunks: readonly Buffer[] | undefined): Buffer {
  return Buffer.concat(chunks ?? []);
}

/** The result code of the first BindResponse in the bytes (RFC 4511: [APPLICATION 1]). */
function ldapBindResult(bytes: Buffer): number | undefined {
  for (let i = 0; i + 4 < bytes.length; i++) {
    // BindResponse, a short length, then resultCode as ENUMERATED of one byte.
    if (bytes[i] === 0x61 && bytes[i + 2] === 0x0a && bytes[i + 3] === 0x01) return bytes[i + 4];
  }
  return undefined;
}

function acceptedPasswordLogins(log: string, user: string): number {
  return log.split('\n').filter((line) => line.includes(`Accepted password for ${user} `)).length;
}

/**
 * True once the server stops answering health checks: its event loop is blocked, here in
 * SQLite's busy wait. Checks again for a while, since it may still be on its way to that write.
 */
async function becomesUnresponsive(server: ServerProcess): Promise<boolean> {
  const deadline = Date.now() + UNRESPONSIVE_WITHIN_MS;
  while (Date.now() < deadline) {
    try {
      await fetch(`${server.url}/v1/health`, { signal: AbortSignal.timeout(BLOCKED_PROBE_MS) });
    } catch {
      return true;
    }
    await delay(POLL_MS);
  }
  return false;
}

/** Polls `condition` until it holds; fails after a while, naming what it waited for. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() >= deadline) assert.fail(`${what} did not happen in ${WAIT_MS} ms`);
    await delay(POLL_INTERVAL_FAST_MS);
  }
}

function storeFile(): string {
  const location = rigOf().place.location;
  if (location.kind !== 'sqlite') throw new Error('these kills hold a SQLite store');
  return location.file;
}

// ---------------------------------------------------------------------------------------------
// after the restart

/** The account's current and pending versions, read from the store itself. */
async function storedVersions(m: Managed) {
  const store = await openStore(rigOf().place.location);
  try {
    const account = await store.db
      .selectFrom('accounts')
      .innerJoin('targets', 'targets.id', 'accounts.target_id')
      .select(['accounts.id', 'accounts.current_version'])
      .where('targets.name', '=', m.target)
      .where('accounts.username', '=', m.account.username)
      .executeTakeFirstOrThrow();
    const rows = await store.db
      .selectFrom('secret_versions')
      .select(['version', 'status'])
      .where('account_id', '=', account.id)
      .orderBy('version')
      .execute();
    return {
      current: account.current_version,
      pending: rows.filter((row) => row.status === 'pending').map((row) => row.version),
      statusOfCurrent: rows.find((row) => row.version === account.current_version)?.status,
    };
  } finally {
    await store.close();
  }
}

async function waitUntilSettled(m: Managed): Promise<boolean> {
  return waitUntil(async () => !(await hasPending(m.path)));
}

async function hasPending(path: string): Promise<boolean> {
  return (await statusesOf(api, path)).some(([, status]) => status === 'pending');
}

/** The account's versions and state, for a failure message. */
async function describeAccount(path: string): Promise<string> {
  const view = await getAccount(api, path);
  const { state, currentVersion, lastRotationError } = view;
  const versions = await statusesOf(api, path);
  return JSON.stringify({ versions, state, currentVersion, lastRotationError });
}

/** Polls the server until `settled` holds; false when it still does not after a while. */
async function waitUntil(settled: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + SETTLE_AT_START_MS;
  for (;;) {
    if (await settled()) return true;
    if (Date.now() >= deadline) return false;
    await delay(POLL_MS);
  }
}

/** The vault's value logs in, the audit tells how the rotation was settled; `m` moves on. */
async function assertSettled(m: Managed, point: KillPoint): Promise<void> {
  const pending = m.latest + 1;
  const statuses = new Map(await statusesOf(api, m.path));
  assert.equal(statuses.get(pending), point.applied ? 'current' : 'discarded');
  assert.equal(statuses.get(m.current), point.applied ? 'previous' : 'current');
  assert.ok(![...statuses.values()].includes('pending'), 'nothing pending');

  const revealed = await reveal(api, m.path);
  assert.equal(revealed.version, point.applied ? pending : m.current);
  const user = m.account.username;
  assert.equal(await m.fixture.logsIn(user, revealed.value), true, 'the vault value logs in');
  assert.equal(revealed.value === m.value, !point.applied);
  if (point.applied) assert.equal(await m.fixture.logsIn(user, m.value), false, 'old refused');
  const view = await getAccount(api, m.path);
  assert.deepEqual([view.state, view.rotating], ['ok', false]);

  const events = (await auditEvents(api, `${m.target}/${user}`, 'account.rotate'))
    .filter((e) => e.details?.version === pending)
    .map((e) => [e.action, e.outcome, e.details?.recovered ?? null]);
  const settledAs = point.applied
    ? ['account.rotate', 'success', true]
    : ['account.rotate.discard', 'failure', null];
  // Promoted by the recovery after the restart, never by the killed process.
  assert.deepEqual(events, [['account.rotate.pending', 'success', null], settledAs]);
  await assertAuditChainVerifies(api);

  advance(m, revealed);
  m.latest = pending;
}

/** The vault's value is now `revealed`, the newest version stored. */
function advance(m: Managed, revealed: { readonly value: string; readonly version: number }) {
  m.value = revealed.value;
  m.current = revealed.version;
  m.latest = revealed.version;
}

/** A message with the end of the server's own log, for a failure. */
function failureReport(message: string): string {
  const log = rigOf().server.output().split('\n').slice(-LOG_LINES_IN_REPORT).join('\n');
  return `${message}\nserver log, last lines:\n${log}`;
}
