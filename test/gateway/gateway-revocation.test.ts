import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type Sshd, useSshd } from '../support/sshd.ts';
import {
  auditEvents,
  controlMaster,
  eventually,
  gatewayUser,
  type Harness,
  linuxAccount,
  type SshResult,
  sshThrough,
  startHarness,
  unique,
} from './support.ts';

type Row = Record<string, unknown>;
const execFileAsync = promisify(execFile);

/** What the client printed, without OpenSSH's own notices. */
const said = (stderr: string) =>
  stderr
    .split('\n')
    .map((line) => line.replace(/\r$/, ''))
    .filter((line) => line.startsWith('tessera:'))
    .join('\n');

function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    work,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref(),
    ),
  ]);
}

/** Runs a command through the gateway and resolves once it printed `started`. */
function startedSession(h: Harness, keyFile: string, login: string) {
  let seen: () => void = () => undefined;
  const started = new Promise<void>((resolve) => {
    seen = resolve;
  });
  const result = sshThrough(h, keyFile, login, {
    command: 'echo started; sleep 30; echo late',
    timeoutMs: 15_000,
    onStdout: (text) => {
      if (text.includes('started')) seen();
    },
  });
  return { started, result };
}

function setUp(sshd: () => Sshd) {
  return async (h: Harness, options: { policy?: string } = {}) => {
    const password = `Pw-${randomBytes(12).toString('base64url')}`;
    const linux = await sshd().createUser('tgv', { password });
    const user = await gatewayUser(h);
    const account = await linuxAccount(h, sshd(), {
      user: user.name,
      secret: password,
      secretType: 'password',
      linuxUser: linux.name,
      ...options,
    });
    return { user, linux: linux.name, ...account };
  };
}

/** Another user checks the account out (they may: `checkout` in its safe). */
async function checkOutByAnother(
  h: Harness,
  account: { safe: string; target: string },
  linux: string,
) {
  const other = await gatewayUser(h);
  const member = await h.api('PUT', `/v1/safes/${account.safe}/members/${other.name}`, {
    body: { permissions: ['list', 'checkout'] },
  });
  assert.equal(member.status, 200, member.text);
  const route = `/v1/targets/${account.target}/accounts/${linux}`;
  const out = await h.api('POST', `${route}/checkout`, {
    token: other.token,
    body: { reason: 'maintenance window' },
  });
  assert.equal(out.status, 200, out.text);
  return { other, route };
}

async function endOf(h: Harness, user: string, why?: string) {
  return eventually(async () => {
    const events = await auditEvents(h, 'gateway.connection.end');
    return events.find(
      (e) => e.actor_name === user && (why === undefined || e.details.why === why),
    );
  });
}

describe('ssh gateway: access taken away from a live connection', () => {
  const sshd = useSshd();
  const account = setUp(sshd);
  let h: Harness;
  before(async () => {
    // Nothing periodic here: each end below comes from a hook or from a channel's own check.
    h = await startHarness({ recheckIntervalMs: 3_600_000 });
  });
  after(() => h?.stop());

  it('ends a ControlMaster connection at once when the safe membership is removed', async () => {
    const { user, login, safe } = await account(h);
    const master = await controlMaster(h, user.key.file, login);
    const first = await master.run('echo first');
    assert.equal(first.stdout, 'first\n', first.stderr);
    const listed = h.services.connections.list().filter((c) => c.info.user === user.name);
    assert.equal(listed.length, 1);
    assert.equal(listed[0]?.info.login, login);

    const removed = await h.api('DELETE', `/v1/safes/${safe}/members/${user.name}`);
    assert.equal(removed.status, 204, removed.text);
    await within(master.exited, 5_000, 'the master connection ends');
    const afterwards = await master.run('echo after');
    assert.notEqual(afterwards.code, 0);
    assert.doesNotMatch(afterwards.stdout, /after/);

    const ended = await endOf(h, user.name);
    assert.equal(ended.details.why, 'no-permission');
    assert.equal(ended.outcome, 'denied');
    assert.ok(ended.object_name?.endsWith(`/${login.split('@')[0]}`));
    assert.equal(h.services.connections.list().filter((c) => c.info.user === user.name).length, 0);
  });

  it('ends a running session when its user is disabled, and tells them why', async () => {
    const { user, login } = await account(h);
    const session = startedSession(h, user.key.file, login);
    await session.started;
    const startedAt = Date.now();
    const disabled = await h.api('POST', `/v1/users/${user.name}/disable`);
    assert.equal(disabled.status, 200, disabled.text);

    const result = await session.result;
    assert.ok(Date.now() - startedAt < 5_000);
    assert.notEqual(result.code, 0);
    assert.doesNotMatch(result.stdout, /late/);
    assert.equal(
      said(result.stderr),
      'tessera: your Tessera user was disabled, so the connection has ended',
    );
    const end = await eventually(async () => {
      const ends = await auditEvents(h, 'session.end');
      return ends.find((e) => e.actor_name === user.name);
    });
    assert.equal(end.details.reason, 'connection ended: user-disabled');
    assert.equal((await endOf(h, user.name)).details.why, 'user-disabled');
  });

  it('ends a ControlMaster connection when the key it logged in with is removed', async () => {
    const { user, login } = await account(h);
    const master = await controlMaster(h, user.key.file, login);
    assert.equal((await master.run('echo first')).stdout, 'first\n');
    const keys = await h.api<{ keys: Row[] }>('GET', '/v1/users/me/ssh-keys', {
      token: user.token,
    });
    const keyId = String(keys.body.keys?.[0]?.id);
    const removed = await h.api('DELETE', `/v1/users/me/ssh-keys/${keyId}`, { token: user.token });
    assert.equal(removed.status, 204, removed.text);

    await within(master.exited, 5_000, 'the master connection ends');
    assert.equal((await endOf(h, user.name)).details.why, 'key-removed');
  });

  it('refuses a new channel once another user checks the account out', async () => {
    const created = await account(h);
    const { user, login, linux } = created;
    const master = await controlMaster(h, user.key.file, login);
    assert.equal((await master.run('echo first')).stdout, 'first\n');

    // No hook tells the gateway of a check-out: the channel's own check finds it.
    await checkOutByAnother(h, created, linux);
    const refused = await master.run('echo after');
    assert.notEqual(refused.code, 0);
    assert.doesNotMatch(refused.stdout, /after/);
    assert.equal(
      said(refused.stderr),
      'tessera: the account was checked out by another user, so the connection has ended',
    );
    await within(master.exited, 5_000, 'the master connection ends');
    assert.equal((await endOf(h, user.name)).details.why, 'checked-out');

    const fresh = await sshThrough(h, user.key.file, login, { command: 'echo fresh' });
    assert.equal(fresh.stdout, '');
    assert.equal(
      said(fresh.stderr),
      'tessera: the account is checked out by another user; try again once it is checked in',
    );
    const refusals = await auditEvents(h, 'session.refuse');
    const refusal = refusals.find((e) => e.actor_name === user.name);
    assert.equal(refusal?.details.why, 'checked-out');
    assert.equal(refusal?.outcome, 'denied');
  });

  it('refuses the account while it waits for a verified rotation after a check-in', async () => {
    const created = await account(h);
    const { user, login, linux } = created;
    const { other, route } = await checkOutByAnother(h, created, linux);
    // A minimum password age keeps `passwd` from changing it, so the rotation after the check-in
    // fails and stays owed.
    await execFileAsync('chage', ['-m', '99', linux]);
    const checkin = await h.api<Row>('POST', `${route}/checkin`, { token: other.token });
    assert.equal(checkin.status, 200, checkin.text);
    assert.equal(checkin.body.rotated, false);

    const result = await sshThrough(h, user.key.file, login, { command: 'echo should-not-run' });
    assert.equal(result.stdout, '');
    assert.equal(
      said(result.stderr),
      'tessera: the account waits for a verified rotation after its last check-in; try again later',
    );
    const refusals = await auditEvents(h, 'session.refuse');
    const refusal = refusals.find((e) => e.actor_name === user.name);
    assert.equal(refusal?.details.why, 'rotation-pending');

    // Break-glass is not held up by the rotation still owed: its window closes with one anyway.
    const marked = await h.api('PUT', `${route}/breakglass`, { body: { enabled: true } });
    assert.equal(marked.status, 200, marked.text);
    const opened = await h.api('POST', `${route}/breakglass`, {
      token: user.token,
      body: { reason: 'the on-call needs the host now' },
    });
    assert.equal(opened.status, 201, opened.text);
    const emergency = await sshThrough(h, user.key.file, login, { command: 'echo in-emergency' });
    assert.equal(emergency.stdout.trim(), 'in-emergency');
  });
});

describe('ssh gateway: periodic re-checks and connection limits', () => {
  const sshd = useSshd();
  const account = setUp(sshd);
  let h: Harness;
  before(async () => {
    h = await startHarness({ recheckIntervalMs: 250, connectionIdleMs: 1_500 });
  });
  after(() => h?.stop());

  it('ends a running session at the next re-check once another checks it out', async () => {
    const created = await account(h);
    const { user, login, linux } = created;
    const session = startedSession(h, user.key.file, login);
    await session.started;
    const startedAt = Date.now();
    await checkOutByAnother(h, created, linux);

    const result = await session.result;
    assert.ok(Date.now() - startedAt < 5_000);
    assert.doesNotMatch(result.stdout, /late/);
    assert.equal(
      said(result.stderr),
      'tessera: the account was checked out by another user, so the connection has ended',
    );
    assert.equal((await endOf(h, user.name)).details.why, 'checked-out');
  });

  it('closes a connection that has had no channel for longer than the idle limit', async () => {
    const { user, login } = await account(h);
    const master = await controlMaster(h, user.key.file, login);
    // A session longer than the limit keeps the connection in use.
    const busy = await master.run('sleep 2; echo done');
    assert.equal(busy.stdout, 'done\n', busy.stderr);
    assert.equal(await master.isOpen(), true);

    const openedAt = Date.now();
    await within(master.exited, 5_000, 'the idle connection ends');
    assert.ok(Date.now() - openedAt >= 1_000);
    const ended = await endOf(h, user.name);
    assert.equal(ended.details.why, 'idle');
    assert.equal(ended.details.sessions, 0);
  });

  it('ends a connection at the policy maximum length even with no session on it', async () => {
    const policy = unique('sp');
    assert.equal((await h.api('PUT', `/v1/policies/${policy}`, { body: {} })).status, 200);
    const settings = { maxSessionS: 1, idleTimeoutS: 600 };
    const set = await h.api('PUT', `/v1/policies/${policy}/session`, { body: settings });
    assert.equal(set.status, 200, set.text);
    const { user, login } = await account(h, { policy });
    const master = await controlMaster(h, user.key.file, login);

    await within(master.exited, 5_000, 'the connection reaches its limit');
    // The policy's idle timeout of 10 minutes replaced the gateway's 1.5 s.
    assert.equal((await endOf(h, user.name)).details.why, 'maximum-length');
  });
});

describe('ssh gateway: sealing the vault', () => {
  const sshd = useSshd();
  const account = setUp(sshd);
  let h: Harness;
  before(async () => {
    h = await startHarness({ recheckIntervalMs: 3_600_000 });
  });
  after(() => h?.stop());

  it('ends every connection and closes its recordings when the vault is sealed', async () => {
    const { user, login } = await account(h);
    const session = startedSession(h, user.key.file, login);
    await session.started;
    const master = await controlMaster(h, user.key.file, login);

    const sealed = await h.api('POST', '/v1/operator/seal');
    assert.equal(sealed.status, 200, sealed.text);
    let result: SshResult;
    try {
      result = await session.result;
      await within(master.exited, 5_000, 'the master connection ends');
      const fresh = await sshThrough(h, user.key.file, login, { command: 'echo fresh' });
      assert.equal(
        said(fresh.stderr),
        'tessera: the vault is sealed; try again once it is unsealed',
      );
    } finally {
      const keyFile = path.join(h.server.dataDir, 'dev-unseal.key');
      const unsealKey = Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64');
      await h.server.services.keyring.unsealWithKey(unsealKey);
    }
    assert.doesNotMatch(result.stdout, /late/);
    assert.equal(said(result.stderr), 'tessera: the vault was sealed, so the connection has ended');

    const ends = await eventually(async () => {
      const events = await auditEvents(h, 'gateway.connection.end');
      const mine = events.filter((e) => e.actor_name === user.name);
      return mine.length === 2 ? mine : undefined;
    });
    assert.ok(ends.every((e) => e.details.why === 'vault-sealed'));
    const end = await eventually(async () => {
      const events = await auditEvents(h, 'session.end');
      return events.find((e) => e.actor_name === user.name);
    });
    assert.equal(end.details.reason, 'connection ended: vault-sealed');
    assert.match(String(end.details.recordingSha256), /^[0-9a-f]{64}$/);
  });
});
