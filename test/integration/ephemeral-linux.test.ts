/**
 * Ephemeral accounts on a Linux target, end to end: a real sshd (test/support/sshd.ts), real
 * sudo, useradd and userdel on this machine, the real OpenSSH client, and a real Tessera with
 * its SSH gateway. A request under an access policy that needs no approver makes the account;
 * its user logs in with the revealed password and through the gateway as `tsr_…@TARGET`, which
 * nobody else can; the grant's end ends the gateway session, kills the user's processes and
 * deletes the user, also when Tessera was SIGKILLed meanwhile. No password may appear in the
 * arguments or environment of any process on the machine.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { Clock } from '../../src/clock.ts';
import type { Credential as Logon, TargetAddress } from '../../src/connectors/connector.ts';
import { createLinuxConnector } from '../../src/connectors/linux.ts';
import { generateSshPrivateKey, publicKeyLine } from '../../src/connectors/ssh-keys.ts';
import {
  auditEvents,
  eventually,
  gatewayUser,
  type Harness,
  type SshResult,
  sshOptions,
  sshThrough,
  startHarness,
  unique,
} from '../gateway/support.ts';
import { startServerProcess } from '../support/server-process.ts';
import { type Sshd, useSshd } from '../support/sshd.ts';

const execFileAsync = promisify(execFile);
const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
const GRANT_S = 600;
const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const UNKNOWN = 'tessera: no such account, or you may not connect to it';
const GRANT_ENDED =
  'tessera: your access grant for this account ended, so the connection has ended';

type Row = Record<string, unknown>;
type GatewayPerson = Awaited<ReturnType<typeof gatewayUser>>;

interface Credential {
  readonly username: string;
  readonly password: string;
}

/** What the client printed, without OpenSSH's own notices. */
const said = (stderr: string) =>
  stderr
    .split('\n')
    .map((line) => line.replace(/\r$/, ''))
    .filter((line) => line.startsWith('tessera:'))
    .join('\n');

describe('ephemeral accounts on a Linux target, through the SSH gateway', () => {
  // The ephemeral users Tessera creates are let in besides the test's own.
  const sshd = useSshd({ allowUserPatterns: ['tsr_*'] });
  /** Real time moved on by the test: the server's timers still run, its grants end on cue. */
  let offset = 0;
  const clock: Clock = { now: () => Date.now() + offset };
  let h: Harness;
  let setup: Setup;
  let alice: GatewayPerson;
  let bob: GatewayPerson;
  /** Every password revealed, searched for in the logs and process arguments. */
  const secrets: string[] = [];
  const made = new Set<string>();

  before(async () => {
    // No periodic re-check: each session end below comes from a grant's end.
    h = await startHarness({ clock, recheckIntervalMs: 3_600_000 });
    setup = await configureTarget(sshd(), (method, route, body) => h.api(method, route, { body }));
    alice = await gatewayUser(h);
    bob = await gatewayUser(h);
    await joinSafe(h, setup.safe, alice.name, ['list']);
    // `use` on the safe gives bob nothing on alice's ephemeral account.
    await joinSafe(h, setup.safe, bob.name, ['list', 'use']);
  });
  after(async () => {
    await h?.stop();
    for (const name of made) await removeLinuxUser(name);
    await setup?.cleanup();
  });

  /** Alice asks; the policy needs no approver, so the account is made at once. */
  const provision = async () => {
    const asked = await h.api<Row>('POST', '/v1/requests', {
      token: alice.token,
      body: {
        ephemeral: { target: setup.target, role: setup.group },
        durationS: GRANT_S,
        reason: 'look at the web logs',
      },
    });
    assert.equal(asked.status, 201, asked.text);
    assert.equal(asked.body.status, 'approved');
    const grantId = String(asked.body.grantId);
    const listed = await h.api<{ accounts: Row[] }>(
      'GET',
      `/v1/ephemeral-accounts?grant=${grantId}`,
    );
    const account = listed.body.accounts[0];
    assert.equal(account?.state, 'active', listed.text);
    const username = String(account.username);
    made.add(username);
    return { grantId, username, login: `${username}@${setup.target}` };
  };

  const reveal = async (grantId: string): Promise<Credential> => {
    const reply = await h.api<Credential>('POST', `/v1/grants/${grantId}/credential`, {
      token: alice.token,
    });
    assert.equal(reply.status, 200, reply.text);
    secrets.push(reply.body.password);
    return reply.body;
  };

  const sessionsOf = async (user: string) =>
    (await h.api<{ sessions: Row[] }>('GET', `/v1/sessions?user=${user}`)).body.sessions;

  it('makes the user with its group and expiry; it logs in with ssh and the gateway', async () => {
    const watch = recordProcesses();
    const { grantId, username, login } = await provision();
    const entry = await passwdEntry(username);
    assert.ok(entry !== null, 'the Linux user exists');
    assert.equal(entry.shell, '/bin/bash');
    assert.ok(existsSync(entry.home), 'its home directory was made');
    assert.ok((await groupsOf(username)).includes(setup.group), 'it is in the role group');

    const grant = await h.api<Row>('GET', `/v1/grants/${grantId}`);
    const endDay = Math.floor(Date.parse(String(grant.body.endsAt)) / DAY_MS);
    // Expired from the first moment of the day after the grant's last day, by the host itself.
    assert.ok([endDay + 1, endDay + 2].includes(await expiryDay(username)));

    const credential = await reveal(grantId);
    assert.equal(credential.username, username);
    assert.equal(await sshd().loginWithPassword(username, credential.password), true);

    const through = await sshThrough(h, alice.key.file, login, { command: 'id -un; id -Gn' });
    assert.equal(through.code, 0, through.stderr);
    const [who, groups] = through.stdout.trim().split('\n');
    assert.equal(who, username);
    assert.ok(groups?.split(' ').includes(setup.group));
    const hits = await watch.stop(secrets);
    assert.deepEqual(hits, [], 'a password was in a process argument or environment');

    const sessions = await eventually(async () => {
      const found = await sessionsOf(alice.name);
      return found[0]?.state === 'ended' ? found : undefined;
    });
    assert.deepEqual(
      sessions.map((s) => [s.account, s.target, s.kind]),
      [[username, setup.target, 'exec']],
    );
    const connects = await auditEvents(h, 'account.connect');
    const connect = connects.find((e) => e.actor_name === alice.name);
    assert.equal(connect?.object_type, 'ephemeral-account');
    assert.equal(connect?.object_name, `${setup.target}/${username}`);
    assert.equal(connect?.details.grant, grantId);

    // Given back early by its holder: the account goes at once.
    const revoked = await h.api('POST', `/v1/grants/${grantId}/revoke`, {
      token: alice.token,
      body: { reason: 'done' },
    });
    assert.equal(revoked.status, 200, revoked.text);
    assert.equal(await passwdEntry(username), null, 'the user was deleted');
    assert.equal(existsSync(entry.home), false, 'with its home directory');
  });

  it('refuses the account to anyone but the grant user, as if it did not exist', async () => {
    const { login } = await provision();
    const unknownLogin = `tsr_${'0'.repeat(10)}@${setup.target}`;

    const others = [
      await sshThrough(h, bob.key.file, login, { command: 'echo should-not-run' }),
      await sshThrough(h, bob.key.file, unknownLogin, { command: 'echo should-not-run' }),
      await sshThrough(h, alice.key.file, unknownLogin, { command: 'echo should-not-run' }),
    ];
    for (const result of others) {
      assert.notEqual(result.code, 0);
      assert.equal(result.stdout, '');
      assert.equal(said(result.stderr), UNKNOWN);
    }
    const refusals = await auditEvents(h, 'session.refuse');
    const bobs = refusals.filter((e) => e.actor_name === bob.name);
    assert.deepEqual(
      bobs.map((e) => [e.object_id, e.details.why]),
      [
        [null, 'unknown-account'],
        [null, 'unknown-account'],
      ],
      'the two refusals are recorded alike',
    );
    assert.deepEqual(await sessionsOf(bob.name), []);
  });

  it("the grant's end ends the session, kills every process, deletes the user", async () => {
    const { grantId, username, login } = await provision();
    const uid = await uidOf(username);
    const shell = interactiveShell(h, alice.key.file, login);
    try {
      await shell.sees(/\$ $/m);
      // One process in the session, one detached from it that a closed session leaves behind.
      shell.type('sleep 4242 & setsid nohup sleep 4343 > /dev/null 2>&1 & echo started-$((6*7))');
      await shell.sees(/^started-42\r?$/m);
      await eventually(async () => ((await sleepers(uid)).length === 2 ? true : undefined));

      offset += GRANT_S * 1000 + MINUTE_MS;
      await h.server.services.accessTicker.tickNow();
      const result = await within(shell.exited, 10_000, 'the shell ends');
      assert.notEqual(result.code, 0);
    } finally {
      shell.kill();
    }
    assert.equal(await passwdEntry(username), null, 'the user was deleted');
    assert.deepEqual(await processesOfUid(uid), [], 'no process of the user is left');

    const [row] = (
      await h.api<{ accounts: Row[] }>('GET', `/v1/ephemeral-accounts?grant=${grantId}`)
    ).body.accounts;
    assert.equal(row?.state, 'dropped');
    const shellRow = await eventually(async () => {
      const found = (await sessionsOf(alice.name)).find((s) => s.kind === 'shell');
      return found?.state === 'live' ? undefined : found;
    });
    assert.equal(shellRow?.account, username);
    assert.equal(shellRow?.state, 'ended');

    const again = await sshThrough(h, alice.key.file, login, { command: 'echo should-not-run' });
    assert.notEqual(again.code, 0);
    assert.equal(said(again.stderr), UNKNOWN, 'an ended grant reads like an unknown account');
  });

  it('the re-check ends the session once the grant ended, even when the drop fails', async () => {
    const { grantId, username, login } = await provision();
    const uid = await uidOf(username);
    const shell = interactiveShell(h, alice.key.file, login);
    try {
      await shell.sees(/\$ $/m);
      // The admin account cannot log in now: the drop fails and is retried later.
      await execFileAsync('usermod', ['-L', setup.admin], { env: ENV });
      offset += GRANT_S * 1000 + MINUTE_MS;
      await h.server.services.accessTicker.tickNow();
      const result = await within(shell.exited, 10_000, 'the shell ends');
      assert.equal(said(result.stderr), GRANT_ENDED);
      assert.ok((await passwdEntry(username)) !== null, 'the drop did fail');
    } finally {
      shell.kill();
      await execFileAsync('usermod', ['-U', setup.admin], { env: ENV });
    }
    const ended = await eventually(async () => {
      const events = await auditEvents(h, 'gateway.connection.end');
      return events.find((e) => e.actor_name === alice.name && e.details.why === 'grant-ended');
    });
    assert.equal(ended.outcome, 'denied');
    const [failure] = (
      await h.api<{ accounts: Row[] }>('GET', `/v1/ephemeral-accounts?grant=${grantId}`)
    ).body.accounts;
    assert.match(String(failure?.lastError), /admin account could not log in/);

    assert.ok((await h.server.services.ephemeral.reap()) >= 1);
    assert.equal(await passwdEntry(username), null);
    assert.deepEqual(await processesOfUid(uid), []);
  });

  it('never writes a password to a log or an audit event', async () => {
    assert.ok(secrets.length >= 1);
    const reply = await h.api<{ events: unknown[] }>('GET', '/v1/audit/events?limit=1000');
    const places = {
      audit: JSON.stringify(reply.body.events),
      tessera: h.logText(),
      sshd: sshd().readLog(),
    };
    for (const secret of secrets) {
      for (const [place, text] of Object.entries(places)) {
        assert.equal(text.includes(secret), false, `a password appears in the ${place} log`);
      }
    }
    const verified = await h.api<{ ok: boolean }>('POST', '/v1/audit/verify');
    assert.equal(verified.body.ok, true);
  });
});

describe('a SIGKILLed Tessera restarted after the grant ended drops the Linux user', () => {
  const sshd = useSshd({ allowUserPatterns: ['tsr_*'] });
  const made = new Set<string>();
  let dataDir = '';
  let setup: Setup | undefined;

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'tessera-eph-linux-'));
  });
  after(async () => {
    for (const name of made) await removeLinuxUser(name);
    await setup?.cleanup();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('reaps it at start, ending the session the user still had open', async (t) => {
    const rootToken = `tsr_${randomBytes(24).toString('base64url')}`;
    const first = await startServerProcess({ dataDir, rootToken, databaseUrl: null });
    t.after(() => first.stop());
    const call = async (method: string, route: string, body?: unknown, token?: string) => {
      const reply = await first.api<Row>(method, route, {
        body,
        ...(token === undefined ? {} : { token }),
      });
      const text = JSON.stringify(reply.body);
      return { ...reply, text };
    };
    // This time the admin account logs in with a key (and NOPASSWD sudo).
    setup = await configureTarget(sshd(), call, { adminKey: true });
    const password = `Pw-${randomBytes(12).toString('base64url')}`;
    assert.equal(
      (await call('POST', '/v1/users', { name: 'carol', role: 'user', password })).status,
      201,
    );
    const login = await call('POST', '/v1/auth/login', { user: 'carol', password });
    const token = String(login.body.token);
    const member = await call('PUT', `/v1/safes/${setup.safe}/members/carol`, {
      permissions: ['list'],
    });
    assert.equal(member.status, 200, member.text);

    const asked = await call(
      'POST',
      '/v1/requests',
      {
        ephemeral: { target: setup.target, role: setup.group },
        durationS: GRANT_S,
        reason: 'rotate the logs',
      },
      token,
    );
    assert.equal(asked.status, 201, asked.text);
    const grantId = String(asked.body.grantId);
    const revealed = await call('POST', `/v1/grants/${grantId}/credential`, undefined, token);
    assert.equal(revealed.status, 200, revealed.text);
    const credential = revealed.body as unknown as Credential;
    made.add(credential.username);
    const uid = await uidOf(credential.username);
    const held = holdLogin(sshd(), credential);
    t.after(() => held.kill());
    await eventually(async () => ((await processesOfUid(uid)).length > 0 ? true : undefined));

    first.killNow();
    await first.exited();
    assert.ok((await passwdEntry(credential.username)) !== null, 'the kill alone ends nothing');

    const restarted = await startServerProcess({
      dataDir,
      rootToken,
      databaseUrl: null,
      clockOffsetMs: GRANT_S * 1000 + MINUTE_MS,
    });
    t.after(() => restarted.stop());
    await eventually(
      async () => ((await passwdEntry(credential.username)) === null ? true : undefined),
      20_000,
    );
    await within(held.exited, 10_000, 'the held login ends');
    assert.deepEqual(await processesOfUid(uid), []);

    const listed = await restarted.api<{ accounts: Row[] }>(
      'GET',
      `/v1/ephemeral-accounts?grant=${grantId}`,
    );
    assert.equal(listed.body.accounts[0]?.state, 'dropped');
    const verified = await restarted.api<{ ok: boolean }>('POST', '/v1/audit/verify');
    assert.equal(verified.body.ok, true);
    for (const output of [first.output(), restarted.output()]) {
      assert.equal(output.includes(credential.password), false, 'no password in the server log');
    }
  });
});

describe("the Linux connector's ephemeral support, called directly", () => {
  const sshd = useSshd({ allowUserPatterns: ['tsr_*'] });
  const support = createLinuxConnector().ephemeral;
  const made = new Set<string>();
  let group = '';
  let keyAdmin: Logon;
  let target: TargetAddress;

  before(async () => {
    group = unique('tekg');
    await execFileAsync('groupadd', [group], { env: ENV });
    // A key logon: sudo must not ask, as the connector has no password to give it.
    const key = generateSshPrivateKey('eph-admin');
    const admin = await sshd().createUser('tekadm', {
      // A password nobody is told: without one the account is locked, keys and all.
      password: `Unused-${randomBytes(12).toString('base64url')}`,
      authorizedKeys: [publicKeyLine(key)],
      sudoers: (name) => `${name} ALL=(ALL) NOPASSWD: ALL`,
    });
    await waitForListening(sshd());
    keyAdmin = { username: admin.name, secret: key, kind: 'ssh-key' };
    target = {
      name: 'web-direct',
      host: sshd().host,
      port: sshd().port,
      options: { hostKey: sshd().hostKey, sudo: true },
    };
  });
  after(async () => {
    for (const name of made) await removeLinuxUser(name);
    await execFileAsync('groupdel', [group], { env: ENV }).catch(() => undefined);
  });

  const spec = (username: string, role = group) => ({
    username,
    password: `Eph-${randomBytes(12).toString('base64url')}`,
    role,
    validUntil: new Date(Date.now() + 3_600_000),
  });
  const freshName = () => {
    const name = `tsr_${randomBytes(5).toString('hex')}`;
    made.add(name);
    return name;
  };

  it('with a key logon: creates, reports present, drops, reports absent, drops again', async () => {
    assert.ok(support !== undefined);
    const account = spec(freshName());
    assert.deepEqual(await support.create(target, keyAdmin, account), { kind: 'done' });
    assert.deepEqual(await support.exists(target, keyAdmin, account.username), {
      kind: 'present',
    });
    assert.ok((await groupsOf(account.username)).includes(group));
    assert.equal(await sshd().loginWithPassword(account.username, account.password), true);

    assert.deepEqual(await support.drop(target, keyAdmin, account.username), { kind: 'done' });
    assert.equal(await passwdEntry(account.username), null);
    assert.deepEqual(await support.exists(target, keyAdmin, account.username), {
      kind: 'absent',
    });
    // After a crash the drop runs again, for an account already gone or never made.
    assert.deepEqual(await support.drop(target, keyAdmin, account.username), { kind: 'done' });
  });

  it('refuses a missing group, and creates nothing', async () => {
    assert.ok(support !== undefined);
    const account = spec(freshName(), unique('tnogrp'));
    const outcome = await support.create(target, keyAdmin, account);
    assert.equal(outcome.kind, 'failed');
    assert.match(reasonOf(outcome), /group tnogrp[0-9a-f]+ does not exist on the target/);
    assert.equal(await passwdEntry(account.username), null);
  });

  it('refuses names Tessera never generates, and hostile roles, before any login', async () => {
    assert.ok(support !== undefined);
    // No logon could work: a refusal here cannot come from the target.
    const nobody: Logon = { username: 'nobody-at-all', secret: 'x', kind: 'password' };
    for (const name of ['root', 'tsr_ABCDEFGHIJ', 'tsr_abc', '-rf', 'tsr_abcdefghij;id', '']) {
      for (const outcome of [
        await support.create(target, nobody, spec(name)),
        await support.drop(target, nobody, name),
        await support.exists(target, nobody, name),
      ]) {
        assert.match(reasonOf(outcome), /not one Tessera generates/, name);
      }
    }
    for (const role of ['root;id', '-G', 'a b', '', 'Wheel', `${'g'.repeat(33)}`]) {
      assert.match(String(support.checkRole(role)), /not a plain Linux group name/, role);
      const outcome = await support.create(target, nobody, spec(freshName(), role));
      assert.match(reasonOf(outcome), /not a plain Linux group name/, role);
    }
    assert.equal(support.checkRole('sudo'), null);
  });
});

function reasonOf(outcome: { kind: string; reason?: string }): string {
  return outcome.reason ?? '';
}

// ---------------------------------------------------------------------------------------------
// the target

interface Setup {
  readonly target: string;
  readonly safe: string;
  readonly group: string;
  /** The sudo-capable admin (reconcile) account's Linux name. */
  readonly admin: string;
  cleanup(): Promise<void>;
}

type Call = (
  method: string,
  route: string,
  body?: unknown,
) => Promise<{ status: number; body: unknown; text?: string }>;

/**
 * A group for the role, an admin user allowed everything through sudo, and in Tessera: the
 * target with its host key pinned, the admin account in a safe, the ephemeral configuration,
 * and an access policy that approves requests without an approver. The admin logs in with its
 * password (which sudo asks for), or with `adminKey` with a key and sudo that does not ask.
 */
async function configureTarget(
  sshd: Sshd,
  call: Call,
  options: { adminKey?: boolean } = {},
): Promise<Setup> {
  const group = unique('teph');
  await execFileAsync('groupadd', [group], { env: ENV });
  const adminPassword = `Adm-${randomBytes(12).toString('base64url')}`;
  const key = options.adminKey === true ? generateSshPrivateKey('eph-admin') : null;
  const admin = await sshd.createUser('tehadm', {
    password: adminPassword,
    ...(key === null
      ? { sudoers: (name: string) => `${name} ALL=(ALL) ALL` }
      : {
          authorizedKeys: [publicKeyLine(key)],
          sudoers: (name: string) => `${name} ALL=(ALL) NOPASSWD: ALL`,
        }),
  });
  await waitForListening(sshd);
  const target = unique('web');
  const safe = unique('ops');
  const expect = async (status: number, method: string, route: string, body: unknown) => {
    const reply = await call(method, route, body);
    assert.equal(reply.status, status, `${method} ${route}: ${JSON.stringify(reply.body)}`);
  };
  await expect(201, 'POST', '/v1/safes', { name: safe });
  await expect(201, 'POST', '/v1/targets', {
    name: target,
    platform: 'linux',
    host: sshd.host,
    port: sshd.port,
    options: { hostKey: sshd.hostKey },
  });
  await expect(201, 'POST', `/v1/targets/${target}/accounts`, {
    safe,
    username: admin.name,
    ...(key === null ? { secret: adminPassword } : { secret: key, secretType: 'ssh-key' }),
  });
  await expect(200, 'PUT', `/v1/targets/${target}/ephemeral`, {
    adminAccount: admin.name,
    roles: [group],
  });
  await expect(200, 'PUT', `/v1/safes/${safe}/access-policy`, {
    approvalsRequired: 0,
    maxDurationS: 3600,
  });
  return {
    target,
    safe,
    group,
    admin: admin.name,
    async cleanup() {
      await execFileAsync('groupdel', [group], { env: ENV }).catch(() => undefined);
    },
  };
}

async function joinSafe(h: Harness, safe: string, user: string, permissions: string[]) {
  const reply = await h.api('PUT', `/v1/safes/${safe}/members/${user}`, {
    body: { permissions },
  });
  assert.equal(reply.status, 200, reply.text);
}

/** sshd re-executes itself after a user is added; wait until it listens again. */
async function waitForListening(sshd: Sshd): Promise<void> {
  await eventually(() => {
    const log = sshd.readLog();
    const restarts = log.split('Received SIGHUP').length - 1;
    const listens = log.split('Server listening on').length - 1;
    return listens > restarts ? true : undefined;
  });
}

/** The user's passwd entry, or null when there is none. */
async function passwdEntry(name: string): Promise<{ home: string; shell: string } | null> {
  try {
    const { stdout } = await execFileAsync('getent', ['passwd', name], { env: ENV });
    const fields = stdout.trim().split(':');
    return { home: fields[5] ?? '', shell: fields[6] ?? '' };
  } catch {
    return null;
  }
}

async function groupsOf(name: string): Promise<string[]> {
  const { stdout } = await execFileAsync('id', ['-Gn', name], { env: ENV });
  return stdout.trim().split(' ');
}

async function uidOf(name: string): Promise<number> {
  const { stdout } = await execFileAsync('id', ['-u', name], { env: ENV });
  return Number(stdout.trim());
}

/** The account expiry of the user, in days since 1970 (shadow's eighth field). */
async function expiryDay(name: string): Promise<number> {
  const { stdout } = await execFileAsync('getent', ['shadow', name], { env: ENV });
  return Number(stdout.trim().split(':')[7]);
}

/** Processes whose real or effective user is `uid`. */
async function processesOfUid(uid: number): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const ids = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
    if (ids !== null && (Number(ids[1]) === uid || Number(ids[2]) === uid)) found.push(pid);
  }
  return found;
}

/** The test's `sleep 4242` and `sleep 4343` of the user `uid`. */
async function sleepers(uid: number): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await processesOfUid(uid)) {
    const line = await readFile(`/proc/${pid}/cmdline`, 'latin1').catch(() => '');
    if (/^sleep\0(4242|4343)\0$/.test(line)) found.push(pid);
  }
  return found;
}

/** Deletes a user a failed test may have left, with its processes. */
async function removeLinuxUser(name: string): Promise<void> {
  if ((await passwdEntry(name)) === null) return;
  await execFileAsync('pkill', ['-KILL', '-u', name], { env: ENV }).catch(() => undefined);
  await execFileAsync('userdel', ['-r', name], { env: ENV }).catch(() => undefined);
}

// ---------------------------------------------------------------------------------------------
// processes and clients

/**
 * Keeps the arguments and environment of every process on the machine (the target is this
 * machine) while it runs, so that values only known afterwards (a generated password) can be
 * searched for in them.
 */
function recordProcesses() {
  const seen = new Set<string>();
  let running = true;
  const deadline = Date.now() + 120_000;
  const loop = (async () => {
    while (running && Date.now() < deadline) {
      for (const pid of await readdir('/proc')) {
        if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
        for (const file of ['cmdline', 'environ']) {
          const bytes = await readFile(`/proc/${pid}/${file}`).catch(() => Buffer.alloc(0));
          if (bytes.length > 0) seen.add(`${pid}/${file}\n${bytes.toString('latin1')}`);
        }
      }
      await delay(1);
    }
  })();
  return {
    /** Stops, and returns the `pid/file` of each record holding one of `secrets`. */
    async stop(secrets: readonly string[]): Promise<string[]> {
      running = false;
      await loop;
      assert.ok(seen.size > 0, 'processes were seen');
      const needles = secrets.map((value) => Buffer.from(value, 'utf8').toString('latin1'));
      return [...seen]
        .filter((record) => needles.some((needle) => record.includes(needle)))
        .map((record) => record.slice(0, record.indexOf('\n')));
    },
  };
}

function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    work,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref(),
    ),
  ]);
}

/** An interactive shell through the gateway whose input stays open, as a terminal's does. */
function interactiveShell(h: Harness, keyFile: string, login: string) {
  const args = [...sshOptions(h, keyFile), '-tt', '-p', String(h.gateway.port)];
  const child = spawn('ssh', [...args, `${login}@127.0.0.1`], { env: ENV, stdio: 'pipe' });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  child.stdin.on('error', () => undefined);
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const exited = new Promise<SshResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      const stdoutBytes = Buffer.concat(out);
      const stderr = Buffer.concat(err).toString('utf8');
      resolve({ code, stdout: stdoutBytes.toString('utf8'), stdoutBytes, stderr });
    });
  });
  const shown = () => Buffer.concat(out).toString('utf8');
  return {
    exited,
    type: (line: string) => child.stdin.write(`${line}\n`),
    sees: (pattern: RegExp) => eventually(() => (pattern.test(shown()) ? true : undefined)),
    kill: () => child.kill('SIGKILL'),
  };
}

/**
 * A login with the real OpenSSH client straight to the target, holding a command open; the
 * password comes from a 0600 file through SSH_ASKPASS, never an argument.
 */
function holdLogin(sshd: Sshd, credential: Credential) {
  const started = (async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tessera-hold-'));
    const secretFile = path.join(dir, 'password');
    const askpass = path.join(dir, 'askpass');
    await writeFile(secretFile, credential.password, { mode: 0o600 });
    await writeFile(askpass, '#!/bin/sh\nexec cat "$TESSERA_TEST_SECRET_FILE"\n', { mode: 0o700 });
    const args = [
      ...['-F', '/dev/null', '-o', `UserKnownHostsFile=${sshd.knownHostsPath}`],
      ...['-o', 'StrictHostKeyChecking=yes', '-o', 'PubkeyAuthentication=no'],
      ...['-o', 'PreferredAuthentications=password', '-p', String(sshd.port)],
      ...['-l', credential.username, sshd.host, 'sleep 600'],
    ];
    const env = {
      ...ENV,
      SSH_ASKPASS: askpass,
      SSH_ASKPASS_REQUIRE: 'force',
      DISPLAY: 'none',
      TESSERA_TEST_SECRET_FILE: secretFile,
    };
    const child = spawn('ssh', args, { env, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => {
      child.on('close', (code) => resolve(code));
    });
    return { dir, child, exited };
  })();
  return {
    exited: started.then((held) => held.exited),
    async kill() {
      const held = await started;
      held.child.kill('SIGKILL');
      await rm(held.dir, { recursive: true, force: true });
    },
  };
}
