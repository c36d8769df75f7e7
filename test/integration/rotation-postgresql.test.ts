/**
 * Rotation of PostgreSQL roles through Tessera's HTTP API, on both stores, against a throw-away
 * SCRAM cluster on 127.0.0.1. Every claim is checked the way an operator would: by logging in to
 * the cluster with pg (and psql, the reference client) with exactly the vault's value.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { escapeIdentifier, escapeLiteral } from 'pg';
import { createSecretVersions } from '../../src/accounts/secret-versions.ts';
import { createLogger } from '../../src/logger.ts';
import { createSecretCipher } from '../../src/vault/secret-cipher.ts';
import { type PgCluster, uniqueRoleName, usePgCluster } from '../support/pg-cluster.ts';
import { logsIn } from '../support/pg-login.ts';
import { pgMessageTypes } from '../support/pg-messages.ts';
import { STORE_KINDS, type StoreKind } from '../support/stores.ts';
import { type CutPlan, startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { createUserWithToken, startTestServer, type TestServer } from '../support/test-server.ts';

/** Straight to the cluster. */
const DIRECT = 'pg';
/** Through a proxy the tests can hold or close. */
const PROXIED = 'pg-proxied';
const HOSTILE_POLICY = 'hostile';
/** Every symbol a hand-built literal, a shell or a dollar quote would trip on, plus letters. */
const HOSTILE_SYMBOLS = '\'"\\$éßñж';
const NON_ASCII_LETTERS = /[éßñж]/u;
const HOSTILE_ROTATIONS = 4;
/** A failed rotation's history: its one candidate discarded, the onboarded value still current. */
const ONE_CANDIDATE_DISCARDED = [
  [2, 'discarded'],
  [1, 'current'],
];

type Target = typeof DIRECT | typeof PROXIED;

interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

interface AccountView {
  readonly state: string;
  readonly rotating: boolean;
  readonly currentVersion: number | null;
  readonly lastVerifyResult: string | null;
  readonly lastRotationError: string | null;
}

interface VersionInfo {
  readonly version: number;
  readonly status: string;
}

/** One server, its user and everything the tests made on the cluster. */
interface Rig {
  readonly server: TestServer;
  readonly alice: string;
  /** Roles to drop afterwards. */
  readonly roles: string[];
  /** Every clear password the tests onboarded or read back, for the log search. */
  readonly used: Set<string>;
}

interface ManagedRole {
  readonly role: string;
  readonly password: string;
  /** The account's API path. */
  readonly path: string;
}

let cluster: () => PgCluster;
let proxy: TcpProxy;

describe('rotation of PostgreSQL roles through the API', () => {
  // Inside a suite, so that the cluster is up before the proxy in front of it starts.
  cluster = usePgCluster();
  before(async () => {
    proxy = await startTcpProxy(cluster());
  });
  after(async () => {
    if (proxy !== undefined) await proxy.close();
  });

  for (const store of STORE_KINDS) describeStore(store);
});

function describeStore(store: StoreKind): void {
  describe(`with Tessera's store on ${store}`, () => {
    let rig: Rig | undefined;
    const rigOf = () => {
      if (rig === undefined) throw new Error('the test server did not start');
      return rig;
    };

    before(async () => {
      rig = await setUpRig(store);
    });
    after(async () => {
      if (rig === undefined) return;
      for (const role of rig.roles) await cluster().dropRole(role);
      await rig.server.stop();
    });

    describeOnboardAndVerify(rigOf);
    describeRotate(rigOf);
    describeHostileValues(rigOf);
    describeConcurrency(rigOf);
    describeAmbiguous(rigOf);
    describeUnreachable(rigOf);
    describeStaleLogon(rigOf);
    describeCheckin(rigOf);
    describeStatementLog(rigOf);
  });
}

function describeOnboardAndVerify(rigOf: () => Rig): void {
  it('onboards an existing role with its current password, and verify says valid', async () => {
    const rig = rigOf();
    const managed = await newAccount(rig, 'onboard');

    const verified = await rig.server.api('POST', `${managed.path}/verify`);
    assert.deepEqual(verified.body, { valid: true, detail: 'valid' });
    const account = await getAccount(rig, managed);
    assert.deepEqual([account.state, account.lastVerifyResult], ['ok', 'valid']);
  });

  it('onboarded with a wrong password: verify says invalid, and the account shows it', async () => {
    const rig = rigOf();
    const wrong = `Wrong-${randomBytes(9).toString('base64url')}`;
    const managed = await newAccount(rig, 'wrongpw', { onboardWith: wrong });

    const verified = await rig.server.api<{ valid: boolean; detail: string }>(
      'POST',
      `${managed.path}/verify`,
    );
    assert.equal(verified.body.valid, false);
    const account = await getAccount(rig, managed);
    assert.equal(account.state, 'verify_failed');
    assert.match(account.lastVerifyResult ?? '', /^invalid/);
    assertQuotesNone(JSON.stringify([verified.body, account]), [wrong, managed.password]);
  });
}

function describeRotate(rigOf: () => Rig): void {
  it('rotates: the old password stops working, the revealed one logs in', async () => {
    const rig = rigOf();
    const managed = await newAccount(rig, 'rotate');

    const rotated = await rig.server.api('POST', `${managed.path}/rotate`);
    assert.deepEqual([rotated.status, rotated.body], [200, { version: 2, attempts: 1 }]);
    const revealed = await reveal(rig, managed);
    assert.equal(revealed.version, 2);
    assert.notEqual(revealed.value, managed.password);
    assert.equal(await logsIn(cluster(), managed.role, managed.password), false, 'old refused');
    assert.equal(await logsIn(cluster(), managed.role, revealed.value), true, 'new logs in');
    assert.equal(await cluster().loginWithPsql(managed.role, revealed.value), true, 'psql too');
  });

  it('lists the history with statuses and never a value', async () => {
    const rig = rigOf();
    const managed = await newAccount(rig, 'history');
    const values = [managed.password];
    for (let i = 0; i < 2; i++) {
      await expectRotated(rig, managed);
      values.push((await reveal(rig, managed)).value);
    }

    const reply = await rig.server.api<{ versions: Record<string, unknown>[] }>(
      'GET',
      `${managed.path}/versions`,
    );
    const statuses = reply.body.versions.map((v) => [v.version, v.status, v.origin]);
    assert.deepEqual(statuses, [
      [3, 'current', 'rotation:manual'],
      [2, 'previous', 'rotation:manual'],
      [1, 'previous', 'onboard'],
    ]);
    const fields = ['createdAt', 'createdBy', 'origin', 'promotedAt', 'status', 'version'];
    for (const v of reply.body.versions) assert.deepEqual(Object.keys(v).sort(), fields);
    assertQuotesNone(JSON.stringify(reply.body), values);
  });
}

function describeHostileValues(rigOf: () => Rig): void {
  it('rotates to values full of quotes, backslashes, dollars and letters', async () => {
    const rig = rigOf();
    const current = `O'Re"il\\ly$$1-é-ж`;
    const managed = await newAccount(rig, 'hostile', { password: current, policy: HOSTILE_POLICY });
    assert.equal(await verify(rig, managed), true, 'the onboarded value verifies');

    const generated: string[] = [];
    let previous = current;
    for (let i = 0; i < HOSTILE_ROTATIONS; i++) {
      await expectRotated(rig, managed);
      const { value } = await reveal(rig, managed);
      assert.equal(await logsIn(cluster(), managed.role, value), true, `rotation ${i + 1}`);
      assert.equal(await cluster().loginWithPsql(managed.role, value), true, `psql ${i + 1}`);
      assert.equal(await logsIn(cluster(), managed.role, previous), false, 'previous refused');
      generated.push(value);
      previous = value;
    }

    // The policy left little else to draw from; make sure every hard character really came up.
    const all = generated.join('');
    for (const char of ["'", '"', '\\', '$']) assert.ok(all.includes(char), `generated ${char}`);
    assert.match(all, NON_ASCII_LETTERS);
  });

  const canary = uniqueRoleName('app_rw');
  const onboarded = ["it's", `x';DROP ROLE ${canary};--`, 'ab$$c', 'Xy9$'];
  for (const password of onboarded) {
    it(`F02: onboarded as ${JSON.stringify(password)}, verifies and rotates`, async () => {
      const rig = rigOf();
      await ensureCanary(rig, canary);
      const managed = await newAccount(rig, 'f02', { password });

      assert.equal(await verify(rig, managed), true, 'the onboarded value verifies');
      await expectRotated(rig, managed);
      const { value } = await reveal(rig, managed);
      assert.equal(await logsIn(cluster(), managed.role, value), true);
      assert.equal(await logsIn(cluster(), managed.role, password), false);
      const left = await cluster().query('SELECT 1 FROM pg_roles WHERE rolname = $1', [canary]);
      assert.equal(left.rowCount, 1, 'nothing but the intended statement ran');
    });
  }
}

function describeConcurrency(rigOf: () => Rig): void {
  it('F08b: a rotate during another gets ROTATION_IN_PROGRESS; one pending at most', async () => {
    const rig = rigOf();
    const managed = await newAccount(rig, 'race', { target: PROXIED });
    const base = proxy.connections.length;
    proxy.setPlan((index) => (index === base + 1 ? 'hold' : 'forward'));

    // The first rotation stops at its change, pending version stored, until released.
    const first = rig.server.api('POST', `${managed.path}/rotate`);
    const held = await proxy.waitFor((all) => all.find((c) => c.index === base + 1));
    proxy.setPlan(() => 'forward');
    const second = await rig.server.api<ErrorBody>('POST', `${managed.path}/rotate`);
    assert.deepEqual([second.status, second.body.error.code], [409, 'ROTATION_IN_PROGRESS']);
    assert.equal((await getAccount(rig, managed)).rotating, true);
    assert.deepEqual(await pendingVersions(rig, managed), [2]);

    held.release();
    assert.deepEqual((await first).body, { version: 2, attempts: 1 });
    assert.deepEqual(await pendingVersions(rig, managed), []);
    const { value } = await reveal(rig, managed);
    assert.equal(await logsIn(cluster(), managed.role, value), true);
  });

  it('F08b: of two rotate calls at the same moment, exactly one succeeds', async () => {
    const rig = rigOf();
    const managed = await newAccount(rig, 'race2', { target: PROXIED });

    const replies = await Promise.all([
      rig.server.api<ErrorBody>('POST', `${managed.path}/rotate`),
      rig.server.api<ErrorBody>('POST', `${managed.path}/rotate`),
    ]);
    const outcomes = replies.map((r) => (r.status === 200 ? 'ok' : r.body.error.code)).sort();
    assert.deepEqual(outcomes, ['ROTATION_IN_PROGRESS', 'ok']);
    assert.deepEqual(await statusesOf(rig, managed), [
      [2, 'current'],
      [1, 'previous'],
    ]);
    const pendingEvents = await auditEvents(rig, managed, 'account.rotate.pending');
    assert.equal(pendingEvents.length, 1, 'only the winner stored a candidate');
    const { value } = await reveal(rig, managed);
    assert.equal(await logsIn(cluster(), managed.role, value), true);
  });
}

function describeAmbiguous(rigOf: () => Rig): void {
  // The change session's only query is ALTER ROLE.
  const alterSent = (chunks: readonly Buffer[]) =>
    pgMessageTypes(chunks, 'client').filter((type) => type === 'Q').length >= 1;

  it('F05: ALTER ROLE applied, its reply lost: a login tells, the new value kept', async () => {
    const rig = rigOf();
    const managed = await newAccount(rig, 'lostreply', { target: PROXIED });
    const cutAsPlanned = cutChangeConnection({ cut: 'reply', when: alterSent });

    const rotated = await rig.server.api('POST', `${managed.path}/rotate`);
    cutAsPlanned();
    assert.deepEqual([rotated.status, rotated.body], [200, { version: 2, attempts: 1 }]);
    const { value } = await reveal(rig, managed);
    assert.equal(await logsIn(cluster(), managed.role, value), true);
    assert.equal(await logsIn(cluster(), managed.role, managed.password), false);
  });

  it('F05: ALTER ROLE lost on the way: a login tells, the old value stays', async () => {
    const rig = rigOf();
    const managed = await newAccount(rig, 'lostalter', { target: PROXIED });
    const cutAsPlanned = cutChangeConnection({ cut: 'request', when: alterSent });

    const rotated = await rig.server.api<ErrorBody>('POST', `${managed.path}/rotate`);
    cutAsPlanned();
    assert.deepEqual([rotated.status, rotated.body.error.code], [502, 'ROTATION_FAILED']);
    assert.deepEqual(await statusesOf(rig, managed), ONE_CANDIDATE_DISCARDED);
    const { value } = await reveal(rig, managed);
    assert.equal(value, managed.password);
    assert.equal(await logsIn(cluster(), managed.role, value), true);
    assert.equal((await getAccount(rig, managed)).rotating, false);
  });
}

/**
 * Drops the next connection through the proxy, a rotation's change, at the given moment.
 * Returns a check, for after the rotation, that the drop happened with ALTER ROLE sent.
 */
function cutChangeConnection(plan: CutPlan): () => void {
  const index = proxy.connections.length + 1;
  proxy.setPlan((n) => (n === index ? plan : 'forward'));
  return () => {
    proxy.setPlan(() => 'forward');
    const types = pgMessageTypes(proxy.connections[index - 1]?.fromClient ?? [], 'client');
    // 'p' is the password message of the login; 'Q' the ALTER ROLE; no 'X' (goodbye) follows.
    assert.deepEqual(types.slice(-2), ['p', 'Q'], 'dropped after ALTER ROLE, before goodbye');
  };
}

function describeUnreachable(rigOf: () => Rig): void {
  describe('F08a: target unreachable at the first step', () => {
    let managed: ManagedRole;
    let failure: { status: number; body: ErrorBody };

    before(async () => {
      managed = await newAccount(rigOf(), 'down', { target: PROXIED });
      await proxy.pause();
      failure = await rigOf().server.api<ErrorBody>('POST', `${managed.path}/rotate`);
    });
    after(async () => {
      await proxy.resume();
    });

    it('fails with a clear code; the account shows the failure, not rotating', async () => {
      assert.equal(failure.status, 502);
      assert.ok(['ROTATION_FAILED', 'TARGET_UNREACHABLE'].includes(failure.body.error.code));
      const account = await getAccount(rigOf(), managed);
      assert.deepEqual([account.rotating, account.state], [false, 'rotation_failed']);
      assert.equal(account.currentVersion, 1);
      // Another candidate would fare no better: one was stored, and discarded.
      assert.deepEqual(await statusesOf(rigOf(), managed), ONE_CANDIDATE_DISCARDED);
      assertQuotesNone(JSON.stringify([failure.body, account]), [managed.password]);
    });

    it('tells the operator the target could not be reached', async () => {
      const account = await getAccount(rigOf(), managed);
      for (const text of [failure.body.error.message, account.lastRotationError ?? '']) {
        assert.doesNotMatch(text, /refused \d+ generated values/, 'no value was refused');
        assert.match(text, /unreachable|could not connect|ECONNREFUSED/i);
      }
    });

    it('rotates once the target is back, and the vault value logs in', async () => {
      const rig = rigOf();
      await proxy.resume();

      await expectRotated(rig, managed);
      const { value } = await reveal(rig, managed);
      assert.equal(await logsIn(cluster(), managed.role, value), true);
      const account = await getAccount(rig, managed);
      assert.deepEqual([account.state, account.lastRotationError], ['ok', null]);
    });
  });
}

function describeStaleLogon(rigOf: () => Rig): void {
  const cases = [
    { name: 'a role whose password was changed behind Tessera', nologin: false },
    { name: 'a role that may not log in', nologin: true },
  ];
  for (const { name, nologin } of cases) {
    describe(`cannot change the password of ${name}`, () => {
      let managed: ManagedRole;
      let actual: string;
      let failure: { status: number; body: ErrorBody };

      before(async () => {
        const rig = rigOf();
        managed = await newAccount(rig, 'stale');
        actual = `Behind-${randomBytes(9).toString('base64url')}`;
        await alterRole(managed.role, nologin ? 'NOLOGIN' : `PASSWORD ${escapeLiteral(actual)}`);
        rig.used.add(actual);
        failure = await rig.server.api<ErrorBody>('POST', `${managed.path}/rotate`);
      });

      it('fails cleanly, no secret in the error, the role left as it was', async () => {
        const rig = rigOf();
        assert.deepEqual([failure.status, failure.body.error.code], [502, 'ROTATION_FAILED']);
        const account = await getAccount(rig, managed);
        assert.deepEqual([account.rotating, account.state], [false, 'rotation_failed']);
        assert.equal(account.currentVersion, 1);
        assert.deepEqual(await statusesOf(rig, managed), ONE_CANDIDATE_DISCARDED);
        assertQuotesNone(JSON.stringify([failure.body, account]), [managed.password, actual]);
        assertQuotesNone(rig.server.logText(), [managed.password, actual]);
        if (!nologin) assert.equal(await logsIn(cluster(), managed.role, actual), true);
      });

      it('tells the operator that the logon was refused', async () => {
        const account = await getAccount(rigOf(), managed);
        for (const text of [failure.body.error.message, account.lastRotationError ?? '']) {
          assert.doesNotMatch(text, /refused \d+ generated values/, 'no value was refused');
          assert.match(text, /logon|log in|credential/i);
        }
      });
    });
  }
}

function describeCheckin(rigOf: () => Rig): void {
  it('check-in rotates: the checked-out value stops working, the new one logs in', async () => {
    const rig = rigOf();
    const managed = await newAccount(rig, 'checkout');

    const out = await rig.server.api<{ value: string; version: number }>(
      'POST',
      `${managed.path}/checkout`,
      { token: rig.alice, body: { reason: 'CHG-7 maintenance' } },
    );
    assert.equal(out.status, 200, JSON.stringify(out.body));
    assert.equal(await logsIn(cluster(), managed.role, out.body.value), true);
    const checkin = await rig.server.api('POST', `${managed.path}/checkin`, { token: rig.alice });
    assert.deepEqual(checkin.body, { rotated: true, rotationError: null });

    assert.equal(await logsIn(cluster(), managed.role, out.body.value), false, 'borrowed refused');
    const revealed = await reveal(rig, managed);
    assert.equal(revealed.version, out.body.version + 1);
    assert.equal(await logsIn(cluster(), managed.role, revealed.value), true);
  });
}

function describeStatementLog(rigOf: () => Rig): void {
  it('F02: no clear password in the cluster log; Tessera ran only its statements', async () => {
    const rig = rigOf();
    const log = cluster().readLog();
    const stored = await everyStoredValue(rig);
    assert.ok(stored.length > rig.roles.length, 'rotations happened');

    const values = [...new Set([...rig.used, ...stored])];
    for (const value of values) {
      for (const form of literalForms(value)) assert.ok(!log.includes(form), 'a password leaked');
    }
    const statements = tesseraStatements(log);
    assert.ok(
      statements.some((s) => s.startsWith('ALTER ROLE')),
      'the log saw the changes',
    );
    for (const statement of statements) {
      assert.ok(
        TESSERA_STATEMENTS.some((allowed) => allowed.test(statement)),
        statement,
      );
    }
  });
}

// ---------------------------------------------------------------------------------------------
// setup

async function setUpRig(store: StoreKind): Promise<Rig> {
  const server = await startTestServer({ store });
  const alice = await createUserWithToken(server, 'alice', 'user');
  const c = cluster();
  await expectStatus(server, 'POST', '/v1/safes', { name: 'ops' }, 201);
  const permissions = ['list', 'retrieve', 'checkout'];
  await expectStatus(server, 'PUT', '/v1/safes/ops/members/alice', { permissions }, 200);
  for (const [name, port] of [
    [DIRECT, c.port],
    [PROXIED, proxy.port],
  ] as const) {
    const target = { name, platform: 'postgresql', host: c.host, port };
    await expectStatus(server, 'POST', '/v1/targets', target, 201);
  }
  await expectStatus(server, 'PUT', `/v1/policies/${HOSTILE_POLICY}`, hostilePolicy(), 200);
  return { server, alice, roles: [], used: new Set() };
}

/** Hard characters in the majority: letters and digits cut down to one of each class. */
function hostilePolicy() {
  const keep = /[aB7]/;
  const others = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
    .split('')
    .filter((char) => !keep.test(char))
    .join('');
  return {
    secret: {
      length: 24,
      minLowercase: 1,
      minUppercase: 1,
      minDigits: 1,
      minSymbols: 8,
      symbols: HOSTILE_SYMBOLS,
      exclude: others,
    },
  };
}

async function expectStatus(
  server: TestServer,
  method: string,
  url: string,
  body: unknown,
  status: number,
): Promise<void> {
  const reply = await server.api(method, url, { body });
  assert.equal(reply.status, status, `${method} ${url}: ${JSON.stringify(reply.body)}`);
}

/** Creates a role on the cluster with a password and onboards it in the safe `ops`. */
async function newAccount(
  rig: Rig,
  prefix: string,
  options: { password?: string; onboardWith?: string; target?: Target; policy?: string } = {},
): Promise<ManagedRole> {
  const role = uniqueRoleName(prefix);
  const password = options.password ?? `Init-${randomBytes(12).toString('base64url')}`;
  const target = options.target ?? DIRECT;
  await cluster().createRole(role, password);
  rig.roles.push(role);
  rig.used.add(password);

  const secret = options.onboardWith ?? password;
  rig.used.add(secret);
  const body = { username: role, safe: 'ops', secret, policy: options.policy };
  await expectStatus(rig.server, 'POST', `/v1/targets/${target}/accounts`, body, 201);
  return { role, password, path: `/v1/targets/${target}/accounts/${encodeURIComponent(role)}` };
}

async function ensureCanary(rig: Rig, canary: string): Promise<void> {
  if (rig.roles.includes(canary)) return;
  await cluster().createRole(canary, null, { login: false });
  rig.roles.push(canary);
}

async function alterRole(role: string, change: string): Promise<void> {
  await cluster().query(`ALTER ROLE ${escapeIdentifier(role)} ${change}`);
}

// ---------------------------------------------------------------------------------------------
// API calls

async function getAccount(rig: Rig, managed: ManagedRole): Promise<AccountView> {
  const reply = await rig.server.api<AccountView>('GET', managed.path);
  assert.equal(reply.status, 200);
  return reply.body;
}

async function verify(rig: Rig, managed: ManagedRole): Promise<boolean> {
  const reply = await rig.server.api<{ valid: boolean }>('POST', `${managed.path}/verify`);
  assert.equal(reply.status, 200);
  return reply.body.valid;
}

async function expectRotated(rig: Rig, managed: ManagedRole): Promise<void> {
  const reply = await rig.server.api('POST', `${managed.path}/rotate`);
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
}

/** Alice reads the current value; it joins the values the log search looks for. */
async function reveal(rig: Rig, managed: ManagedRole): Promise<{ value: string; version: number }> {
  const reply = await rig.server.api<{ value: string; version: number }>(
    'POST',
    `${managed.path}/reveal`,
    { token: rig.alice, body: { reason: 'rotation test: check the new value' } },
  );
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  rig.used.add(reply.body.value);
  return reply.body;
}

async function versionsOf(rig: Rig, managed: ManagedRole): Promise<VersionInfo[]> {
  const reply = await rig.server.api<{ versions: VersionInfo[] }>(
    'GET',
    `${managed.path}/versions`,
  );
  assert.equal(reply.status, 200);
  return reply.body.versions;
}

/** `[version, status]`, newest first. */
async function statusesOf(rig: Rig, managed: ManagedRole): Promise<[number, string][]> {
  return (await versionsOf(rig, managed)).map((v) => [v.version, v.status]);
}

async function pendingVersions(rig: Rig, managed: ManagedRole): Promise<number[]> {
  const versions = await versionsOf(rig, managed);
  return versions.filter((v) => v.status === 'pending').map((v) => v.version);
}

async function auditEvents(rig: Rig, managed: ManagedRole, action: string) {
  const object = encodeURIComponent(`${PROXIED}/${managed.role}`);
  const reply = await rig.server.api<{ events: { action: string }[] }>(
    'GET',
    `/v1/audit/events?object=${object}&action=${action}&limit=1000`,
  );
  return reply.body.events.filter((e) => e.action === action);
}

// ---------------------------------------------------------------------------------------------
// log search

/** Statements a Tessera session may run on a target: the check and the change. */
const B64 = '[A-Za-z0-9+/=]+';
const TESSERA_STATEMENTS = [
  /^SELECT 1$/,
  new RegExp(`^ALTER ROLE "[^"]+" PASSWORD 'SCRAM-SHA-256\\$4096:${B64}\\$${B64}:${B64}'$`),
];

/** Every statement the cluster logged for a session that named itself `tessera`. */
function tesseraStatements(log: string): string[] {
  return log
    .split('\n')
    .map((line) => /\bapp=tessera LOG: {2}statement: (.*)$/.exec(line)?.[1])
    .filter((statement) => statement !== undefined);
}

/** The value as it would appear in the log in clear, or inside a quoted or escaped literal. */
function literalForms(value: string): string[] {
  return [value, value.replaceAll("'", "''"), value.replaceAll('\\', '\\\\')];
}

/** Every version of every account on this server, decrypted in process: discarded ones too. */
async function everyStoredValue(rig: Rig): Promise<string[]> {
  const { store, keyring, audit } = rig.server.services;
  const cipher = createSecretCipher({ keyring });
  const logger = createLogger({ level: 'silent' });
  const versions = createSecretVersions({ store, cipher, audit, logger });
  const rows = await store.db
    .selectFrom('secret_versions')
    .innerJoin('accounts', 'accounts.id', 'secret_versions.account_id')
    .select(['accounts.id as accountId', 'accounts.safe_id as safeId', 'secret_versions.version'])
    .execute();
  const values = await Promise.all(
    rows.map((row) => versions.read({ accountId: row.accountId, safeId: row.safeId }, row.version)),
  );
  return values.map((value) => value.toString('utf8'));
}

function assertQuotesNone(text: string, secrets: readonly string[]): void {
  for (const secret of secrets) assert.ok(!text.includes(secret), 'a secret was quoted');
}
