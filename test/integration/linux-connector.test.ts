/**
 * The Linux connector against a real OpenSSH server on 127.0.0.1 (test/support/sshd.ts), real
 * sudo, chpasswd and passwd, with users made for each test. Every rotated value is checked with
 * the connector and with the real `ssh` client; no secret may show in a reason, in sshd's log, or
 * in the arguments or environment of any process on the machine while a change runs.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import ssh2 from 'ssh2';
import type {
  ChangeOutcome,
  ChangeRequest,
  Connector,
  Credential,
  RetireRequest,
  TargetAddress,
} from '../../src/connectors/connector.ts';
import { createLinuxConnector } from '../../src/connectors/linux.ts';
import { generateSshPrivateKey, publicKeyLine } from '../../src/connectors/ssh-keys.ts';
import { type TestUser, uniqueUserName, useSshd } from '../support/sshd.ts';

const execFileAsync = promisify(execFile);
const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
const PWNED = '/tmp/pwned';
const WAIT_TIMEOUT_MS = 10_000;
/** A process watcher left running by a failed test stops by itself after this. */
const WATCH_LIMIT_MS = 60_000;

/** Every reason any outcome gave, searched for secrets at the end. */
const reasons: string[] = [];
const connector = recordingReasons(createLinuxConnector());
const server = useSshd();
/**
 * The test sshd, once it listens again: adding a user makes it re-read its configuration
 * (SIGHUP, then a re-exec), and a connection in that gap would be refused.
 */
const sshd = () => {
  const instance = server();
  return {
    ...instance,
    async createUser(...args: Parameters<typeof instance.createUser>) {
      const user = await instance.createUser(...args);
      await waitForListening(instance.readLog);
      return user;
    },
  };
};
/** Every secret any test used, searched for in sshd's log at the end. */
const secretsUsed = new Set<string>();

const secret = (prefix = 'Pw') => {
  const value = `${prefix}-${randomBytes(9).toString('base64url')}-9q`;
  secretsUsed.add(value);
  return value;
};
const target = (options: Record<string, string | boolean> = {}): TargetAddress => ({
  name: 'web01',
  host: sshd().host,
  port: sshd().port,
  options: { hostKey: sshd().hostKey, sudo: true, ...options },
});
const password = (username: string, value: string): Credential => ({
  username,
  secret: value,
  kind: 'password',
});
const sshKey = (username: string, value: string): Credential => ({
  username,
  secret: value,
  kind: 'ssh-key',
});

function assertNoSecret(text: string, secrets: readonly string[]): void {
  for (const value of secrets) {
    for (const form of [value, value.normalize('NFC'), value.normalize('NFD')]) {
      assert.ok(!text.includes(form), 'a secret appears in text meant for people');
    }
  }
}

function reasonOf(outcome: { kind: string; reason?: string }): string {
  return 'reason' in outcome && typeof outcome.reason === 'string' ? outcome.reason : '';
}

/**
 * Polls the arguments and environment of every process on the machine (the target is this
 * machine) and records any that holds one of the secrets.
 */
function watchProcesses(secrets: readonly string[]) {
  const needles = secrets.map((value) => Buffer.from(value, 'utf8'));
  const hits: string[] = [];
  let running = true;
  const deadline = Date.now() + WATCH_LIMIT_MS;
  const loop = (async () => {
    while (running && Date.now() < deadline) {
      for (const pid of await readdir('/proc')) {
        if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
        for (const file of ['cmdline', 'environ']) {
          const bytes = await readFile(`/proc/${pid}/${file}`).catch(() => Buffer.alloc(0));
          if (needles.some((needle) => bytes.includes(needle))) hits.push(`${pid}/${file}`);
        }
      }
      await delay(1);
    }
  })();
  return {
    async stop(): Promise<string[]> {
      running = false;
      await loop;
      return hits;
    },
  };
}

describe('Linux connector', () => {
  let reconcile: TestUser;
  let reconcilePassword: string;
  let nopasswd: TestUser;
  let nopasswdPassword: string;

  before(async () => {
    await rm(PWNED, { force: true });
    reconcilePassword = secret('Rec');
    reconcile = await sshd().createUser('trec', {
      password: reconcilePassword,
      sudoers: (name) => `${name} ALL=(ALL) ALL`,
    });
    nopasswdPassword = secret('Nop');
    nopasswd = await sshd().createUser('tnop', {
      password: nopasswdPassword,
      sudoers: (name) => `${name} ALL=(ALL) NOPASSWD: ALL`,
    });
  });

  const reconcileChange = (
    account: string,
    newSecret: string,
    logon: Credential = password(reconcile.name, reconcilePassword),
    at: TargetAddress = target(),
  ): Promise<ChangeOutcome> =>
    connector.change(at, {
      account,
      secretKind: 'password',
      newSecret,
      currentSecret: null,
      via: 'reconcile',
      logon,
    });

  describe('password rotation through sudo and chpasswd (F03)', () => {
    const values: [string, string][] = [
      ['a single quote', "ab'cd"],
      ['backquotes', 'x`id`y'],
      ['a command substitution', `$(touch ${PWNED})`],
      ['a leading dash', '-n0pe-9'],
      ['spaces', 'a b c'],
      ['colons', 'a:b:c'],
      ['é precomposed (NFC)', 'caf\u00e9-Pw1'],
      ['é decomposed (NFD)', 'cafe\u0301-Pw1'],
      [
        '64 characters of every kind',
        `${'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'}${'Az9'.repeat(10)}ab`,
      ],
    ];

    for (const [label, value] of values) {
      it(`sets ${label} byte for byte; the old value stops working`, async () => {
        assert.ok(value.length <= connector.secretRules.maxLength);
        secretsUsed.add(value);
        const old = secret('Old');
        const user = await sshd().createUser('tdep', { password: old });
        const watch = watchProcesses([value, old, reconcilePassword]);

        const outcome = await reconcileChange(user.name, value);
        assert.deepEqual(outcome, { kind: 'applied' });
        assert.deepEqual(await watch.stop(), [], 'a secret was in a process argument');

        assert.deepEqual(await connector.verify(target(), password(user.name, value)), {
          kind: 'valid',
        });
        const refused = await connector.verify(target(), password(user.name, old));
        assert.equal(refused.kind, 'invalid');
        assertNoSecret(reasonOf(refused), [value, old]);
        assert.equal(await sshd().loginWithPassword(user.name, value), true);
        assert.equal(await sshd().loginWithPassword(user.name, old), false);
        assert.equal(existsSync(PWNED), false, `${PWNED} was created`);
        await sshd().removeUser(user.name);
      });
    }

    it('keeps NFC and NFD é apart: the other form does not log in', async () => {
      const user = await sshd().createUser('tnfc', { password: secret('Old') });
      const nfc = 'caf\u00e9-Pw2';
      const nfd = nfc.normalize('NFD');
      secretsUsed.add(nfc);
      assert.deepEqual(await reconcileChange(user.name, nfc), { kind: 'applied' });
      assert.equal((await connector.verify(target(), password(user.name, nfd))).kind, 'invalid');
      assert.equal(await sshd().loginWithPassword(user.name, nfd), false);
      assert.equal(await sshd().loginWithPassword(user.name, nfc), true);
      await sshd().removeUser(user.name);
    });

    it('refuses a value with a line end before the target is touched', async () => {
      const user = await sshd().createUser('tnl', { password: secret('Old') });
      for (const value of ['a\nroot:x', 'a\rb', 'a\u0000b']) {
        const outcome = await reconcileChange(user.name, value);
        assert.equal(outcome.kind, 'rejected');
        assertNoSecret(reasonOf(outcome), [value]);
      }
      await sshd().removeUser(user.name);
    });

    it('refuses an account name that is not a plain user name, sending nothing', async () => {
      const outcome = await reconcileChange('root;touch /tmp/pwned', secret());
      // Not a refusal of the value: another candidate would fare no better.
      assert.equal(outcome.kind, 'not-sent');
      assert.match(
        outcome.kind === 'not-sent' ? outcome.reason : '',
        /not a plain Linux user name/,
      );
      assert.equal(existsSync(PWNED), false);
      assert.equal(connector.checkUsername?.('root;touch /tmp/pwned') !== null, true);
      assert.equal(connector.checkUsername?.('deploy'), null);
    });

    it('with NOPASSWD sudo, never feeds the logon password to chpasswd', async () => {
      const old = secret('Old');
      const user = await sshd().createUser('tdep', { password: old });
      const value = secret('New');
      const outcome = await reconcileChange(
        user.name,
        value,
        password(nopasswd.name, nopasswdPassword),
      );
      assert.deepEqual(outcome, { kind: 'applied' });
      assert.equal(await sshd().loginWithPassword(user.name, value), true);
      assert.equal(await sshd().loginWithPassword(nopasswd.name, nopasswdPassword), true);
      await sshd().removeUser(user.name);
    });

    it('says not-sent for a user that does not exist', async () => {
      const outcome = await reconcileChange(uniqueUserName('tnone'), secret());
      assert.equal(outcome.kind, 'not-sent');
      assert.match(reasonOf(outcome), /no user/);
    });
  });

  describe('sudo refusals', () => {
    it('a logon without sudo rights: not-sent, nothing changed', async () => {
      const logonPassword = secret('Plain');
      const plain = await sshd().createUser('tplain', { password: logonPassword });
      const old = secret('Old');
      const user = await sshd().createUser('tdep', { password: old });
      const value = secret('New');

      const outcome = await reconcileChange(user.name, value, password(plain.name, logonPassword));
      assert.equal(outcome.kind, 'not-sent');
      assert.match(reasonOf(outcome), /sudo on web01 does not allow/);
      assertNoSecret(reasonOf(outcome), [value, logonPassword, old]);
      assert.equal(await sshd().loginWithPassword(user.name, old), true);
      await sshd().removeUser(plain.name);
      await sshd().removeUser(user.name);
    });

    it('sudo refusing the password: not-sent, nothing changed', async () => {
      // targetpw makes sudo ask for root's password, which the logon's password is not.
      const logonPassword = secret('Tpw');
      const asker = await sshd().createUser('ttpw', {
        password: logonPassword,
        sudoers: (name) => `Defaults:${name} targetpw\n${name} ALL=(ALL) ALL`,
      });
      const old = secret('Old');
      const user = await sshd().createUser('tdep', { password: old });
      const value = secret('New');

      const outcome = await reconcileChange(user.name, value, password(asker.name, logonPassword));
      assert.deepEqual(outcome, {
        kind: 'not-sent',
        reason: "sudo on web01 refused the logon's password; nothing was changed",
      });
      assert.equal(await sshd().loginWithPassword(user.name, old), true);
      await sshd().removeUser(asker.name);
      await sshd().removeUser(user.name);
    });

    it('a key logon whose sudo wants a password: not-sent', async () => {
      const key = generateSshPrivateKey('tkeyrec');
      secretsUsed.add(key);
      const keyed = await sshd().createUser('tkrec', {
        password: secret('Krec'),
        authorizedKeys: [publicKeyLine(key)],
        sudoers: (name) => `${name} ALL=(ALL) ALL`,
      });
      const old = secret('Old');
      const user = await sshd().createUser('tdep', { password: old });

      const outcome = await reconcileChange(user.name, secret(), sshKey(keyed.name, key));
      assert.equal(outcome.kind, 'not-sent');
      assert.match(reasonOf(outcome), /asks for a password and the logon has none/);
      assert.equal(await sshd().loginWithPassword(user.name, old), true);
      await sshd().removeUser(keyed.name);
      await sshd().removeUser(user.name);
    });
  });

  describe('self change with passwd on a terminal', () => {
    const selfChange = (account: string, current: string, next: string) =>
      connector.change(target(), {
        account,
        secretKind: 'password',
        newSecret: next,
        currentSecret: current,
        via: 'self',
        logon: password(account, current),
      });

    it('changes its own password to a value full of shell syntax', async () => {
      const old = secret('Old');
      const user = await sshd().createUser('tself', { password: old });
      const value = `x\`id\`y-$(touch ${PWNED})-'Q9 ${randomBytes(4).toString('hex')}`;
      secretsUsed.add(value);
      const watch = watchProcesses([value, old]);

      assert.deepEqual(await selfChange(user.name, old, value), { kind: 'applied' });
      assert.deepEqual(await watch.stop(), []);
      assert.equal(await sshd().loginWithPassword(user.name, value), true);
      assert.equal(await sshd().loginWithPassword(user.name, old), false);
      assert.equal(existsSync(PWNED), false);
      await sshd().removeUser(user.name);
    });

    it('a value PAM finds too simple: rejected, the old one still works', async () => {
      const old = secret('Old');
      const user = await sshd().createUser('tself', { password: old });
      const outcome = await selfChange(user.name, old, 'ab');
      assert.equal(outcome.kind, 'rejected');
      assert.match(reasonOf(outcome), /passwd on web01 refused the new password/);
      assertNoSecret(reasonOf(outcome), [old, 'ab']);
      assert.equal(await sshd().loginWithPassword(user.name, old), true);
      await sshd().removeUser(user.name);
    });

    it('a wrong current password: not-sent', async () => {
      const user = await sshd().createUser('tself', { password: secret('Old') });
      const outcome = await selfChange(user.name, secret('Wrong'), secret('New'));
      assert.equal(outcome.kind, 'not-sent');
      await sshd().removeUser(user.name);
    });
  });

  describe('an interrupted change', () => {
    it('is unknown when the session drops after the value was sent', async () => {
      const logonPassword = secret('Rec2');
      const rec = await sshd().createUser('trec2', {
        password: logonPassword,
        sudoers: (name) => `${name} ALL=(ALL) ALL`,
      });
      const old = secret('Old');
      const user = await sshd().createUser('tdep', { password: old });
      const value = secret('New');
      // chpasswd waits for the password database lock while this holds it.
      const lock = await holdPasswordLock();
      let lockHeld = true;
      try {
        const pending = reconcileChange(user.name, value, password(rec.name, logonPassword));
        const chpasswd = await waitForProcess('chpasswd', rec.uid);
        for (const file of ['cmdline', 'environ']) {
          const bytes = await readFile(`/proc/${chpasswd}/${file}`);
          for (const value_ of [value, logonPassword]) {
            assert.ok(!bytes.includes(Buffer.from(value_)), `a secret in chpasswd's ${file}`);
          }
        }
        await execFileAsync('pkill', ['-KILL', '-u', rec.name], { env: ENV });

        const outcome = await pending;
        assert.equal(outcome.kind, 'unknown');
        assertNoSecret(reasonOf(outcome), [value, logonPassword, old]);

        lock.kill('SIGTERM');
        lockHeld = false;
        await waitForExit(chpasswd);
        const works = [
          await sshd().loginWithPassword(user.name, value),
          await sshd().loginWithPassword(user.name, old),
        ];
        assert.equal(works.filter(Boolean).length, 1, 'exactly one of old and new logs in');
      } finally {
        if (lockHeld) lock.kill('SIGTERM');
        await sshd().removeUser(rec.name);
        await sshd().removeUser(user.name);
      }
    });
  });

  describe('host keys', () => {
    const otherKey = () => ssh2.utils.generateKeyPairSync('ed25519').public;

    it('fetchHostKey returns the server key', async () => {
      assert.equal(await connector.fetchHostKey?.(target({ hostKey: '' })), sshd().hostKey);
    });

    it('a different key: verify unreachable, change not-sent, nothing sent', async () => {
      const old = secret('Old');
      const user = await sshd().createUser('thk', { password: old });
      const impostor = target({ hostKey: otherKey() });
      const logBefore = sshd().readLog().length;

      const verified = await connector.verify(impostor, password(user.name, old));
      assert.equal(verified.kind, 'unreachable');
      assert.match(
        reasonOf(verified),
        /^host key of web01 \(SHA256:[A-Za-z0-9+/]{43}\) does not match the pinned key \(SHA256:[A-Za-z0-9+/]{43}\): the target may have been replaced$/,
      );
      const changed = await reconcileChange(user.name, secret(), undefined, impostor);
      assert.equal(changed.kind, 'not-sent');
      assert.match(reasonOf(changed), /does not match the pinned key/);
      // The refused connections ended before any user name or password was sent.
      const log = sshd().readLog().slice(logBefore);
      assert.match(log, /Connection from 127\.0\.0\.1/);
      assert.ok(!log.includes(user.name) && !log.includes(reconcile.name));
      assert.equal(await sshd().loginWithPassword(user.name, old), true);
      await sshd().removeUser(user.name);
    });

    it('no pinned key, or one of another type: refused', async () => {
      const none = await connector.verify(target({ hostKey: '' }), password('x', 'y'));
      assert.equal(none.kind, 'unreachable');
      assert.match(reasonOf(none), /no host key is pinned for web01/);
      const ecdsa = ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 }).public;
      const other = await connector.verify(target({ hostKey: ecdsa }), password('x', 'y'));
      assert.equal(other.kind, 'unreachable');
      assert.match(reasonOf(other), /offers no host key of the pinned type ecdsa-sha2-nistp256/);
    });

    it('options: strict, key stored without comment; view shows the fingerprint', async () => {
      const parsed = connector.options.parse({ hostKey: `${sshd().hostKey} root@web01` });
      assert.deepEqual(parsed, { hostKey: sshd().hostKey, sudo: true });
      assert.deepEqual(connector.options.parse(parsed), parsed);
      assert.equal(connector.options.safeParse({ hostKey: 'ssh-ed25519 AAAA' }).success, false);
      assert.equal(connector.options.safeParse({ sudo: 'yes' }).success, false);
      assert.equal(connector.options.safeParse({ port: 22 }).success, false);

      const { stdout } = await execFileAsync(
        'ssh-keygen',
        ['-l', '-f', join(sshd().dir, 'host.pub')],
        {
          env: ENV,
        },
      );
      assert.deepEqual(connector.viewOptions(parsed), {
        hostKeyAlgorithm: 'ssh-ed25519',
        hostKeyFingerprint: stdout.split(' ')[1],
        sudo: true,
      });
    });
  });

  describe('SSH key rotation', () => {
    it('adds the new key, retires only Tessera keys, keeps foreign ones', async () => {
      const first = generateSshPrivateKey('first');
      const foreign = generateSshPrivateKey('foreign');
      const foreignLine = `${publicKeyLine(foreign)} ops@laptop`;
      const user = await sshd().createUser('tkey', {
        password: secret('Key'),
        authorizedKeys: [`${publicKeyLine(first)} tessera-managed:old`, foreignLine],
      });
      const second = generateSshPrivateKey('second');
      for (const key of [first, foreign, second]) secretsUsed.add(key);

      const added = await connector.change(target(), {
        account: user.name,
        secretKind: 'ssh-key',
        newSecret: second,
        currentSecret: first,
        via: 'self',
        logon: sshKey(user.name, first),
      });
      assert.deepEqual(added, { kind: 'applied' });
      assert.equal(await sshd().loginWithKey(user.name, second), true);
      assert.deepEqual(await connector.verify(target(), sshKey(user.name, second)), {
        kind: 'valid',
      });

      const retired = await connector.retire?.(target(), {
        account: user.name,
        keep: second,
        superseded: [],
        via: 'self',
        logon: sshKey(user.name, second),
      });
      assert.deepEqual(retired, { kind: 'applied' });
      assert.equal(await sshd().loginWithKey(user.name, first), false);
      assert.equal((await connector.verify(target(), sshKey(user.name, first))).kind, 'invalid');
      assert.equal(await sshd().loginWithKey(user.name, second), true);
      assert.equal(await sshd().loginWithKey(user.name, foreign), true);
      assert.equal(
        await sshd().readHomeFile(user.name, '.ssh/authorized_keys'),
        `${foreignLine}\n${publicKeyLine(second)} tessera-managed:${user.name}\n`,
      );
      await sshd().removeUser(user.name);
    });

    it('through sudo: creates ~/.ssh and the file with the right owner and modes', async () => {
      const user = await sshd().createUser('tkey', { password: secret('Key') });
      await rm(join(user.home, '.ssh'), { recursive: true, force: true });
      const key = generateSshPrivateKey('by-reconcile');
      const older = generateSshPrivateKey('older');
      secretsUsed.add(key);

      const logon = password(reconcile.name, reconcilePassword);
      const request: ChangeRequest = {
        account: user.name,
        secretKind: 'ssh-key',
        newSecret: older,
        currentSecret: null,
        via: 'reconcile',
        logon,
      };
      assert.deepEqual(await connector.change(target(), request), { kind: 'applied' });
      assert.deepEqual(await connector.change(target(), { ...request, newSecret: key }), {
        kind: 'applied',
      });
      const dir = await stat(join(user.home, '.ssh'));
      const file = await stat(join(user.home, '.ssh', 'authorized_keys'));
      assert.equal(dir.mode & 0o777, 0o700);
      assert.equal(file.mode & 0o777, 0o600);
      assert.equal(dir.uid, user.uid);
      assert.equal(file.uid, user.uid);
      assert.equal(await sshd().loginWithKey(user.name, key), true);

      const retired = await connector.retire?.(target(), {
        account: user.name,
        keep: key,
        superseded: [],
        via: 'reconcile',
        logon,
      });
      assert.deepEqual(retired, { kind: 'applied' });
      assert.equal(await sshd().loginWithKey(user.name, older), false);
      assert.equal(await sshd().loginWithKey(user.name, key), true);
      assert.equal((await stat(join(user.home, '.ssh', 'authorized_keys'))).uid, user.uid);
      await sshd().removeUser(user.name);
    });
  });

  it('retire removes superseded vault keys, tagged or not, and keeps the rest', async () => {
    const onboarded = generateSshPrivateKey('onboarded');
    const foreign = generateSshPrivateKey('foreign');
    const foreignLine = `${publicKeyLine(foreign)} ops@laptop`;
    const user = await sshd().createUser('tkey', {
      password: secret('Key'),
      // The key the account was onboarded with carries no Tessera tag.
      authorizedKeys: [`${publicKeyLine(onboarded)} deploy@ci`, foreignLine],
    });
    const next = generateSshPrivateKey('next');
    for (const key of [onboarded, foreign, next]) secretsUsed.add(key);
    const logon = sshKey(user.name, onboarded);
    const base = { account: user.name, via: 'self' as const };
    const added = await connector.change(target(), {
      ...base,
      secretKind: 'ssh-key',
      newSecret: next,
      currentSecret: onboarded,
      logon,
    });
    assert.deepEqual(added, { kind: 'applied' });

    const retired = await connector.retire?.(target(), {
      ...base,
      keep: next,
      superseded: [onboarded],
      logon: sshKey(user.name, next),
    });

    assert.deepEqual(retired, { kind: 'applied' });
    assert.equal(await sshd().loginWithKey(user.name, onboarded), false);
    assert.equal(await sshd().loginWithKey(user.name, next), true);
    assert.equal(await sshd().loginWithKey(user.name, foreign), true);
    await sshd().removeUser(user.name);
  });

  describe('discovery', () => {
    it('finds uid 0, sudo group members, sudoers users and key holders, with reasons', async () => {
      const group = uniqueUserName('tops');
      const member = await sshd().createUser('tsudo', { password: secret(), groups: ['sudo'] });
      const wheel = await sshd().createUser('twheel', { password: secret(), groups: ['wheel'] });
      const listed = await sshd().createUser('tlist', {
        password: secret(),
        sudoers: (name) => `${name} ALL=(ALL) /usr/bin/id`,
      });
      const viaGroup = await sshd().createUser('tgrp', { password: secret(), groups: [group] });
      const granter = await sshd().createUser('tgrnt', {
        sudoers: () => `%${group} ALL=(ALL) ALL`,
      });
      const keyed = await sshd().createUser('tkeys', {
        authorizedKeys: [publicKeyLine(generateSshPrivateKey('k'))],
      });
      const nobody = await sshd().createUser('tnobody', { password: secret() });

      const outcome = await connector.discover(
        target(),
        password(reconcile.name, reconcilePassword),
      );
      assert.equal(outcome.kind, 'found', reasonOf(outcome));
      const found = new Map(
        outcome.kind === 'found' ? outcome.accounts.map((a) => [a.username, a.reasons]) : [],
      );
      assert.ok(found.get('root')?.includes('uid 0'));
      // Debian's sudoers also grants %sudo, which is reported as a second reason.
      assert.ok(found.get(member.name)?.includes('member of sudo'));
      assert.deepEqual(found.get(wheel.name), ['member of wheel']);
      assert.deepEqual(found.get(listed.name), ['sudoers entry']);
      assert.deepEqual(found.get(viaGroup.name), [`sudoers entry (%${group})`]);
      assert.deepEqual(found.get(keyed.name), ['has authorized_keys']);
      assert.deepEqual(found.get(reconcile.name), ['sudoers entry']);
      assert.equal(found.has(nobody.name), false);
      assert.equal(found.has(granter.name), false);
      for (const user of [member, wheel, listed, viaGroup, granter, keyed, nobody]) {
        await sshd().removeUser(user.name);
      }
    });

    it('fails with a reason when the scanner cannot log in', async () => {
      const outcome = await connector.discover(target(), password(reconcile.name, secret('No')));
      assert.equal(outcome.kind, 'failed');
      assert.match(reasonOf(outcome), /the scanner could not log in/);
    });
  });

  it('gave no secret in any reason', () => {
    assert.ok(reasons.length > 10);
    for (const reason of reasons) assertNoSecret(reason, [...secretsUsed]);
  });

  it('leaves no secret in sshd’s log', () => {
    const log = sshd().readLog();
    assert.ok(log.includes('Accepted password for'), 'the log is the one sshd writes');
    assertNoSecret(log, [...secretsUsed]);
  });
});

/** The connector, with every reason it gives kept in {@link reasons}. */
function recordingReasons(inner: Connector): Connector {
  const keep = <T extends { kind: string }>(outcome: T): T => {
    const reason = reasonOf(outcome);
    if (reason.length > 0) reasons.push(reason);
    return outcome;
  };
  const retire = inner.retire;
  return {
    ...inner,
    verify: async (at, credential) => keep(await inner.verify(at, credential)),
    change: async (at, request) => keep(await inner.change(at, request)),
    discover: async (at, scanner) => keep(await inner.discover(at, scanner)),
    ...(retire === undefined
      ? {}
      : {
          retire: async (at: TargetAddress, request: RetireRequest) =>
            keep(await retire(at, request)),
        }),
  };
}

/** Holds the shadow suite's lock (`/etc/.pwd.lock`, an fcntl lock) until killed. */
async function holdPasswordLock(): Promise<ChildProcess> {
  const child = spawn(
    'perl',
    [
      '-e',
      'use Fcntl; open(my $f, ">>", "/etc/.pwd.lock") or die; ' +
        'my $s = pack("ssx4qqix4", F_WRLCK, 0, 0, 0, 0); ' +
        'fcntl($f, F_SETLKW, $s) or die "lock: $!"; $| = 1; print "locked\\n"; sleep 60',
    ],
    { env: ENV, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
  assert.equal(chunk.toString(), 'locked\n');
  return child;
}

async function waitForListening(readLog: () => string): Promise<void> {
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  for (;;) {
    const log = readLog();
    const restarts = log.split('Received SIGHUP').length - 1;
    const listens = log.split('Server listening on').length - 1;
    if (listens > restarts) return;
    if (Date.now() > deadline) throw new Error('the test sshd did not listen again');
    await delay(20);
  }
}

/** Processes called `name` started (a few generations up) by a process of user `uid`. */
async function processesNamed(name: string, uid: number): Promise<string[]> {
  const pids: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
    if (comm.trim() === name && (await startedBy(pid, uid))) pids.push(pid);
  }
  return pids;
}

async function startedBy(pid: string, uid: number): Promise<boolean> {
  let current = pid;
  for (let generation = 0; generation < 4; generation++) {
    const status = await readFile(`/proc/${current}/status`, 'utf8').catch(() => '');
    const parent = /^PPid:\s+(\d+)/m.exec(status)?.[1];
    if (parent === undefined || parent === '0') return false;
    const parentStatus = await readFile(`/proc/${parent}/status`, 'utf8').catch(() => '');
    if (/^Uid:\s+(\d+)/m.exec(parentStatus)?.[1] === String(uid)) return true;
    current = parent;
  }
  return false;
}

async function waitForProcess(name: string, uid: number): Promise<string> {
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const [pid] = await processesNamed(name, uid);
    if (pid !== undefined) return pid;
    await delay(20);
  }
  throw new Error(`no ${name} process appeared`);
}

async function waitForExit(pid: string): Promise<void> {
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  while (existsSync(`/proc/${pid}`)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} is still running`);
    await delay(20);
  }
}
