/**
 * Rotation of MariaDB accounts, LDAP entries and Linux users through Tessera's HTTP API, against
 * real servers on 127.0.0.1: the machine's MariaDB (and a private one for a validation plugin),
 * a throw-away slapd and a throw-away sshd. Every claim is checked the way an operator would:
 * the value the vault reveals logs in with the platform's reference client (`mariadb`,
 * `ldapwhoami`, `ssh`), and the value before it no longer does.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createSecretVersions } from '../../src/accounts/secret-versions.ts';
import { createLogger } from '../../src/logger.ts';
import { MAX_CANDIDATES } from '../../src/rotation/rotation-engine.ts';
import { createSecretCipher } from '../../src/vault/secret-cipher.ts';
import {
  auditEvents,
  type ErrorBody,
  expectStatus,
  getAccount,
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
import {
  initialPassword,
  uniqueUserName,
  usePrivateMariadb,
  useSharedMariadb,
} from '../support/mariadb.ts';
import { type Slapd, uniqueLdapName, useSlapd } from '../support/slapd.ts';
import { type Sshd, useSshd } from '../support/sshd.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

const execFileAsync = promisify(execFile);

const HOSTILE_POLICY = 'hostile';
const DASH_POLICY = 'dash';
const SHORT_POLICY = 'short';
const NO_DIGITS_POLICY = 'no-digits';
/**
 * The characters the issue names (quotes, backslash, dollar, backtick, dash, space, non-ASCII
 * letters) and the shell's `:`, `(` and `)`, as the only symbols of a policy that wants many.
 */
const HARD_CHARACTERS = ["'", '"', '\\', '$', '`', '-', ' ', ':', '(', ')', 'é', 'ж', 'ß'];
/** Rotations until every hard character came up; one misses all 240 draws with odds of 2·10⁻⁷. */
const MAX_HOSTILE_ROTATIONS = 10;
/** One value in four starts with `-` under the dash policy: 40 misses in a row are 10⁻⁵. */
const MAX_DASH_ROTATIONS = 40;
/**
 * An onboarded value that starts with `-` and holds every hard character, including two ways of
 * running a command that would create `canary`.
 */
const hostileInitial = (canary: string) => `-n0pe 'x"\\ $(touch ${canary})\`touch ${canary}\`:éжß9`;

const POLICIES: Record<string, unknown> = {
  // Hard characters in the majority: letters and digits cut down to one of each class.
  [HOSTILE_POLICY]: {
    secret: {
      length: 24,
      ...oneOfEachClass(),
      minSymbols: 8,
      symbols: HARD_CHARACTERS.join(''),
    },
  },
  // The symbols are one dash: a value starts with it as often as with each of a, B and 7.
  [DASH_POLICY]: { secret: { length: 8, ...oneOfEachClass(), minSymbols: 1, symbols: '-' } },
  // The strict LDAP password policy wants 12 characters at least.
  [SHORT_POLICY]: { secret: { length: 8 } },
  // MariaDB's simple_password_check wants a digit.
  [NO_DIGITS_POLICY]: { secret: { length: 16, minDigits: 0, exclude: '0123456789' } },
};

function oneOfEachClass() {
  const keep = /[aB7]/;
  const exclude = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
    .split('')
    .filter((char) => !keep.test(char))
    .join('');
  return { minLowercase: 1, minUppercase: 1, minDigits: 1, exclude };
}

interface Rig {
  readonly server: TestServer;
  /** Every clear value the tests onboarded or read back, for the log search. */
  readonly used: Set<string>;
}

let rig: Rig | undefined;
const rigOf = (): Rig => {
  if (rig === undefined) throw new Error('the test server did not start');
  return rig;
};
const api: TestServer['api'] = (method, path, options) => rigOf().server.api(method, path, options);

describe('rotation through the API on MariaDB, LDAP and Linux', () => {
  const mariadb = useSharedMariadb();
  const slapd = useSlapd();
  const linuxMissing = platformMissing('linux');
  const sshd = linuxMissing ? () => assert.fail(linuxMissing) : useSshd();
  const linux = linuxFixture(sshd);
  const fixtures = [mariadbFixture(mariadb), ldapFixture(slapd), linux];

  before(async () => {
    rig = { server: await startTestServer(), used: new Set() };
    await setUpSafe(api);
    for (const [name, policy] of Object.entries(POLICIES)) {
      await expectStatus(api, 'PUT', `/v1/policies/${name}`, policy, 200);
    }
  });
  after(async () => {
    for (const fixture of fixtures) await fixture.cleanup().catch(() => undefined);
    await rig?.server.stop();
  });

  for (const fixture of fixtures) describePlatform(fixture);
  describe('Linux: self change and SSH keys', { skip: linuxMissing }, () => {
    describeLinuxSelf(linux);
    describeSshKeys(sshd);
  });
  describeLdapRejection(slapd);
  describeMariadbRejection();

  it('no clear value the tests used is in the server log', () => {
    const log = rigOf().server.logText();
    assert.ok(rigOf().used.size > 20, 'rotations happened');
    for (const value of rigOf().used) assert.ok(!log.includes(value), 'a secret is in the log');
  });
});

// ---------------------------------------------------------------------------------------------
// every platform

function describePlatform(fixture: PlatformFixture): void {
  const platform = fixture.platform;
  const target = `t-${platform}`;
  let reconcileRef: string;

  describe(`${platform}: through a reconcile account`, { skip: platformMissing(platform) }, () => {
    before(async () => {
      const { port } = fixture.upstream();
      await expectStatus(api, 'POST', '/v1/targets', fixture.target(target, port), 201);
      const reconciler = await fixture.createReconciler();
      rigOf().used.add(reconciler.password);
      await onboard(api, target, { username: reconciler.username, secret: reconciler.password });
      reconcileRef = `${target}/${reconciler.username}`;
    });

    it('rotates: the vault value logs in with the reference client, the old does not', async () => {
      const account = await fixture.createAccount('rot');
      const path = await onboardUsed(target, account, { reconcileAccount: reconcileRef });
      const verified = await api<{ valid: boolean }>('POST', `${path}/verify`);
      assert.deepEqual(verified.body, { valid: true, detail: 'valid' });

      const rotated = await api('POST', `${path}/rotate`);
      assert.deepEqual([rotated.status, rotated.body], [200, { version: 2, attempts: 1 }]);
      const revealed = await revealUsed(path);
      assert.equal(revealed.version, 2);
      assert.equal(await fixture.logsIn(account.username, revealed.value), true, 'new logs in');
      assert.equal(await fixture.logsIn(account.username, account.password), false, 'old refused');
      assert.deepEqual(await statusesOf(api, path), [
        [2, 'current'],
        [1, 'previous'],
      ]);
      const [done] = (await auditEvents(api, `${target}/${account.username}`, 'account.rotate'))
        .filter((e) => e.action === 'account.rotate')
        .map((e) => [e.outcome, e.details?.via, e.details?.version]);
      assert.deepEqual(done, ['success', 'reconcile', 2]);
      const view = await getAccount(api, path);
      assert.deepEqual([view.state, view.rotating, view.currentVersion], ['ok', false, 2]);
    });

    it('rotates to values with quotes, \\, $, backtick, -, spaces, non-ASCII letters', async () => {
      const account = await fixture.createAccount('hard');
      const path = await onboardUsed(target, account, {
        reconcileAccount: reconcileRef,
        policy: HOSTILE_POLICY,
      });

      const values = await rotateUntil(fixture, account, path, coversHardCharacters, {
        max: MAX_HOSTILE_ROTATIONS,
      });
      assert.deepEqual(missingHardCharacters(values), [], `after ${values.length} rotations`);
    });

    it("rotates to a value that starts with '-'", async () => {
      const account = await fixture.createAccount('dash');
      const path = await onboardUsed(target, account, {
        reconcileAccount: reconcileRef,
        policy: DASH_POLICY,
      });

      const values = await rotateUntil(fixture, account, path, (all) => leadingDash(all), {
        max: MAX_DASH_ROTATIONS,
      });
      assert.ok(leadingDash(values), `no value started with '-' in ${values.length} rotations`);
    });

    it('discovered, onboarded without a secret: reconcile gives it a working value', async () => {
      const account = await fixture.createAccount('disc');
      rigOf().used.add(account.password);
      const path = await onboard(api, target, {
        username: account.username,
        reconcileAccount: reconcileRef,
      });
      assert.equal((await getAccount(api, path)).currentVersion, null);

      const reconciled = await api('POST', `${path}/reconcile`);
      assert.deepEqual([reconciled.status, reconciled.body], [200, { version: 1, attempts: 1 }]);
      const revealed = await revealUsed(path);
      assert.equal(revealed.version, 1);
      assert.equal(await fixture.logsIn(account.username, revealed.value), true, 'vault value');
      assert.equal(await fixture.logsIn(account.username, account.password), false, 'unknown one');
      const view = await getAccount(api, path);
      assert.deepEqual([view.state, view.currentVersion], ['ok', 1]);
    });

    it('reconcile repairs an account whose password was changed behind Tessera', async () => {
      const account = await fixture.createAccount('drift');
      const path = await onboardUsed(target, account, { reconcileAccount: reconcileRef });
      const behind = initialPassword();
      await fixture.setPassword(account.username, behind);
      rigOf().used.add(behind);
      assert.equal((await api<{ valid: boolean }>('POST', `${path}/verify`)).body.valid, false);

      const reconciled = await api('POST', `${path}/reconcile`);
      assert.equal(reconciled.status, 200, JSON.stringify(reconciled.body));
      const revealed = await revealUsed(path);
      assert.equal(await fixture.logsIn(account.username, revealed.value), true);
      assert.equal(await fixture.logsIn(account.username, behind), false);
      assert.equal((await getAccount(api, path)).state, 'ok');
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Linux only

function describeLinuxSelf(fixture: PlatformFixture): void {
  const target = 't-linux-self';

  it('F03: a user changes its own password (passwd), from and to hostile values', async () => {
    const { port } = fixture.upstream();
    await expectStatus(api, 'POST', '/v1/targets', fixture.target(target, port), 201);
    const canary = join(tmpdir(), `tessera-pwned-${randomBytes(4).toString('hex')}`);
    const account = await fixture.createAccount('tpself', hostileInitial(canary));
    const path = await onboardUsed(target, account, { policy: HOSTILE_POLICY });
    assert.equal((await api<{ valid: boolean }>('POST', `${path}/verify`)).body.valid, true);

    const values = await rotateUntil(fixture, account, path, coversHardCharacters, {
      max: MAX_HOSTILE_ROTATIONS,
    });
    assert.deepEqual(missingHardCharacters(values), []);
    assert.equal(existsSync(canary), false, 'a shell ran part of a password');
    const events = await auditEvents(api, `${target}/${account.username}`, 'account.rotate');
    const vias = events.filter((e) => e.action === 'account.rotate').map((e) => e.details?.via);
    assert.ok(vias.length > 0 && vias.every((via) => via === 'self'), 'every change via self');
  });
}

function describeSshKeys(sshd: () => Sshd): void {
  const target = 't-linux-keys';
  let keyDir: string;
  let reconcileRef: string;

  before(async () => {
    keyDir = await mkdtemp(join(tmpdir(), 'tessera-keys-'));
    const linux = linuxFixture(sshd);
    const { port } = linux.upstream();
    await expectStatus(api, 'POST', '/v1/targets', linux.target(target, port), 201);
    const reconciler = await linux.createReconciler();
    rigOf().used.add(reconciler.password);
    await onboard(api, target, { username: reconciler.username, secret: reconciler.password });
    reconcileRef = `${target}/${reconciler.username}`;
  });
  after(async () => {
    if (keyDir !== undefined) await rm(keyDir, { recursive: true, force: true });
  });

  for (const via of ['self', 'reconcile'] as const) {
    describe(`an ssh-key account changed via ${via}`, () => {
      let user: string;
      let path: string;
      let original: { privateKey: string; publicKey: string };

      before(async () => {
        original = await sshKeygen(keyDir);
        // sshd refuses even a key to an account whose password is locked: it gets one, unused.
        const created = await sshd().createUser('tkey', {
          password: initialPassword(),
          authorizedKeys: [original.publicKey],
        });
        user = created.name;
        path = await onboard(api, target, {
          username: user,
          secretType: 'ssh-key',
          secret: original.privateKey,
          ...(via === 'reconcile' ? { reconcileAccount: reconcileRef } : {}),
        });
        rigOf().used.add(original.privateKey);
      });

      it('each new key logs in with ssh; the key of the rotation before is removed', async () => {
        assert.equal((await api<{ valid: boolean }>('POST', `${path}/verify`)).body.valid, true);
        const placed: string[] = [];
        for (let version = 2; version <= 3; version++) {
          const rotated = await api('POST', `${path}/rotate`);
          assert.deepEqual([rotated.status, rotated.body], [200, { version, attempts: 1 }]);
          const revealed = await revealUsed(path);
          assert.match(revealed.value, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
          assert.equal(await sshd().loginWithKey(user, revealed.value), true, `v${version}`);
          placed.push(revealed.value);
        }
        assert.equal(await sshd().loginWithKey(user, placed[0] ?? ''), false, 'v2 refused');
        const managed = (await sshd().readHomeFile(user, '.ssh/authorized_keys'))
          .split('\n')
          .filter((line) => line.includes(' tessera-managed:'));
        assert.equal(managed.length, 1, 'one Tessera key left in authorized_keys');
      });

      // BUG (report): the retire step removes only lines marked `tessera-managed:`, so the key
      // the account was onboarded with, which the vault holds and reveals as version 1, keeps
      // working after every rotation.
      it('BUG retire keeps the onboarded key: after a rotation the v1 key is refused', async () => {
        assert.ok((await statusesOf(api, path)).length >= 2, 'rotated before');
        const works = await sshd().loginWithKey(user, original.privateKey);
        assert.equal(works, false, 'the onboarded key (vault version 1) still logs in');
      });
    });
  }
}

async function sshKeygen(dir: string): Promise<{ privateKey: string; publicKey: string }> {
  const file = join(dir, `id-${randomBytes(4).toString('hex')}`);
  await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file], {
    env: { PATH: '/usr/bin:/bin' },
  });
  return {
    privateKey: await readFile(file, 'utf8'),
    publicKey: (await readFile(`${file}.pub`, 'utf8')).trim(),
  };
}

// ---------------------------------------------------------------------------------------------
// F05: a target that refuses every value

function describeLdapRejection(slapd: () => Slapd): void {
  describe('F05: a directory whose password policy refuses every generated value', () => {
    const target = 't-ldap-strict';
    const fixture = ldapFixture(slapd);
    let reconcileRef: string;

    before(async () => {
      await expectStatus(api, 'POST', '/v1/targets', fixture.target(target, slapd().port), 201);
      const reconciler = await fixture.createReconciler();
      await onboard(api, target, { username: reconciler.username, secret: reconciler.password });
      reconcileRef = `${target}/${reconciler.username}`;
    });
    after(async () => {
      await fixture.cleanup();
    });

    for (const via of ['reconcile', 'self'] as const) {
      it(`via ${via}: ${MAX_CANDIDATES} values each discarded once, then failed`, async () => {
        const uid = uniqueLdapName('strict');
        const password = initialPassword();
        const dn = await slapd().addPerson(uid, password, { strictPolicy: true });
        const account = { username: uid, password };
        const path = await onboardUsed(target, account, {
          policy: SHORT_POLICY,
          ...(via === 'reconcile' ? { reconcileAccount: reconcileRef } : {}),
        });

        await assertRejectedEveryTime(path, `${target}/${uid}`, /constraintViolation/);
        assert.equal(await slapd().loginWithLdapwhoami(dn, password), true, 'old value kept');
        await slapd().remove(dn);
      });
    }
  });
}

function describeMariadbRejection(): void {
  describe('F05: a MariaDB whose validation plugin refuses every generated value', () => {
    const server = usePrivateMariadb();
    const target = 't-mariadb-strict';

    before(async () => {
      const body = { name: target, platform: 'mariadb', host: server().host, port: server().port };
      await expectStatus(api, 'POST', '/v1/targets', body, 201);
    });

    it(`${MAX_CANDIDATES} new values, each discarded once, then rotation_failed`, async () => {
      const reconciler = { user: uniqueUserName('rec'), password: initialPassword() };
      await server().createAccount(reconciler.user, reconciler.password, {
        grants: ['CREATE USER'],
        mysqlSchema: 'SELECT',
      });
      await onboard(api, target, { username: reconciler.user, secret: reconciler.password });
      const account = { username: uniqueUserName('weak'), password: initialPassword() };
      await server().createAccount(account.username, account.password);
      const path = await onboardUsed(target, account, {
        policy: NO_DIGITS_POLICY,
        reconcileAccount: `${target}/${reconciler.user}`,
      });
      // The plugin's default wants one digit; the policy leaves digits out.
      await server().query("INSTALL SONAME 'simple_password_check'");

      await assertRejectedEveryTime(path, `${target}/${account.username}`, /1819/);
      const row = await server().loginWithCli(account.username, account.password);
      assert.equal(row, `${account.username}@127.0.0.1`, 'old value kept');
    });
  });
}

/**
 * Rotates once against a target that refuses every value: each candidate is stored, discarded
 * with the target's reason, never offered twice; the rotation then fails with an alert, the
 * account shows it, and the onboarded value is still the vault's.
 */
async function assertRejectedEveryTime(path: string, object: string, reason: RegExp) {
  const failed = await api<ErrorBody>('POST', `${path}/rotate`);
  assert.deepEqual([failed.status, failed.body.error.code], [502, 'ROTATION_FAILED']);
  assert.match(failed.body.error.message, new RegExp(`refused ${MAX_CANDIDATES} generated values`));

  const view = await getAccount(api, path);
  assert.deepEqual([view.state, view.rotating, view.currentVersion], ['rotation_failed', false, 1]);
  assert.match(view.lastRotationError ?? '', /refused/);
  const candidates = Array.from({ length: MAX_CANDIDATES }, (_, i) => MAX_CANDIDATES + 1 - i);
  assert.deepEqual(await statusesOf(api, path), [
    ...candidates.map((version): [number, string] => [version, 'discarded']),
    [1, 'current'],
  ]);

  const events = await auditEvents(api, object, 'account.rotate');
  const discards = events.filter((e) => e.action === 'account.rotate.discard');
  assert.deepEqual(
    discards.map((e) => e.details?.version),
    [...candidates].reverse(),
    'each candidate discarded once',
  );
  for (const discard of discards) assert.match(String(discard.details?.why), reason);
  const failure = events.filter((e) => e.action === 'account.rotate').at(-1);
  assert.deepEqual(
    [failure?.outcome, failure?.details?.alert],
    ['failure', 'candidates-exhausted'],
  );

  const rejected = await storedValues(view.id, candidates);
  assert.equal(new Set(rejected).size, MAX_CANDIDATES, 'the same rejected value was offered again');
  for (const value of rejected) rigOf().used.add(value);
  assert.equal((await reveal(api, path)).version, 1);
}

/** Versions of the account, discarded ones too, decrypted in this process. */
async function storedValues(accountId: string, wanted: readonly number[]): Promise<string[]> {
  const { store, keyring, audit } = rigOf().server.services;
  const cipher = createSecretCipher({ keyring });
  const logger = createLogger({ level: 'silent' });
  const versions = createSecretVersions({ store, cipher, audit, logger });
  const { safe_id: safeId } = await store.db
    .selectFrom('accounts')
    .select('safe_id')
    .where('id', '=', accountId)
    .executeTakeFirstOrThrow();
  const values = await Promise.all(
    wanted.map((version) => versions.read({ accountId, safeId }, version)),
  );
  return values.map((value) => value.toString('utf8'));
}

// ---------------------------------------------------------------------------------------------
// helpers

async function onboardUsed(
  target: string,
  account: TargetAccount,
  extra: { reconcileAccount?: string; policy?: string },
): Promise<string> {
  rigOf().used.add(account.password);
  return onboard(api, target, { username: account.username, secret: account.password, ...extra });
}

async function revealUsed(path: string): Promise<{ value: string; version: number }> {
  const revealed = await reveal(api, path);
  rigOf().used.add(revealed.value);
  return revealed;
}

/**
 * Rotates until `done` holds for the values so far (at most `max` times); after each rotation
 * the revealed value logs in with the reference client and the one before it is refused.
 */
async function rotateUntil(
  fixture: PlatformFixture,
  account: TargetAccount,
  path: string,
  done: (values: readonly string[]) => boolean,
  { max }: { max: number },
): Promise<string[]> {
  const values: string[] = [];
  let previous = account.password;
  while (values.length < max && !done(values)) {
    const rotated = await api('POST', `${path}/rotate`);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    const { value } = await revealUsed(path);
    // The value itself stays out of the message; the hard characters it holds say enough.
    const hard = HARD_CHARACTERS.filter((char) => value.includes(char)).join('');
    const label = `rotation ${values.length + 1}, to a value holding ${JSON.stringify(hard)}`;
    assert.equal(await fixture.logsIn(account.username, value), true, `${label}: logs in`);
    assert.equal(await fixture.logsIn(account.username, previous), false, `${label}: old refused`);
    values.push(value);
    previous = value;
  }
  return values;
}

function missingHardCharacters(values: readonly string[]): string[] {
  const all = values.join('');
  return HARD_CHARACTERS.filter((char) => !all.includes(char));
}

function coversHardCharacters(values: readonly string[]): boolean {
  return missingHardCharacters(values).length === 0;
}

function leadingDash(values: readonly string[]): boolean {
  return values.some((value) => value.startsWith('-'));
}
