import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { useSshd } from '../support/sshd.ts';
import {
  addOwnKey,
  auditEvents,
  eventually,
  gatewayUser,
  type Harness,
  linuxAccount,
  runClient,
  sshOptions,
  sshThrough,
  startHarness,
  unique,
} from './support.ts';

describe('ssh gateway: file transfer and session policies', () => {
  const sshd = useSshd();
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h?.stop());

  const account = async (policy?: string) => {
    const password = `Pw-${randomBytes(12).toString('base64url')}`;
    const linux = await sshd().createUser('tgf', { password });
    const user = await gatewayUser(h);
    const { login } = await linuxAccount(h, sshd(), {
      user: user.name,
      secret: password,
      secretType: 'password',
      linuxUser: linux.name,
      ...(policy === undefined ? {} : { policy }),
    });
    return { user, login, linux: linux.name };
  };

  const policyWith = async (settings: Record<string, unknown>) => {
    const name = unique('sp');
    assert.equal((await h.server.api('PUT', `/v1/policies/${name}`, { body: {} })).status, 200);
    const set = await h.api('PUT', `/v1/policies/${name}/session`, { body: settings });
    assert.equal(set.status, 200, set.text);
    return name;
  };

  it('passes sftp through and logs each file operation: path, size, direction', async () => {
    const { user, login, linux } = await account();
    const local = path.join(h.dir, unique('up-'));
    const back = `${local}.back`;
    const content = randomBytes(100_000);
    writeFileSync(local, content);
    const batch = path.join(h.dir, unique('batch-'));
    writeFileSync(
      batch,
      [
        `put ${local} up.bin`,
        `get up.bin ${back}`,
        'mkdir d1',
        'rename up.bin d1/moved.bin',
        'rm d1/moved.bin',
        'rmdir d1',
        '',
      ].join('\n'),
    );
    const args = [
      ...sshOptions(h, user.key.file),
      '-b',
      batch,
      '-P',
      String(h.gateway.port),
      `${login}@127.0.0.1`,
    ];
    const result = await runClient('sftp', args);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(readFileSync(back), content);

    const logged = (await auditEvents(h, 'session.sftp')).filter((e) => e.actor_name === user.name);
    // Extensions the client asks for on its own (limits@openssh.com) are logged by name.
    const extensions = logged.filter((e) => e.details.op === 'extended');
    assert.ok(extensions.every((e) => /^[a-z-]+@openssh\.com$/.test(String(e.details.path))));
    const ops = logged.filter((e) => e.details.op !== 'extended');
    const summary = ops.map((e) => [
      e.details.op,
      path.basename(String(e.details.path)),
      e.details.bytes,
    ]);
    assert.deepEqual(summary, [
      ['upload', 'up.bin', 100_000],
      ['download', 'up.bin', 100_000],
      ['mkdir', 'd1', null],
      ['rename', 'up.bin', null],
      ['remove', 'moved.bin', null],
      ['rmdir', 'd1', null],
    ]);
    assert.equal(ops[0]?.details.direction, 'to-target');
    assert.equal(ops[1]?.details.direction, 'from-target');
    assert.match(String(ops[3]?.details.path2), /d1\/moved\.bin$/);
    assert.ok(ops.every((e) => e.outcome === 'success'));
    assert.ok(String(ops[0]?.details.path).includes(linux));

    // scp speaks SFTP too: its upload is logged the same way.
    const scp = await runClient('scp', [
      ...sshOptions(h, user.key.file),
      '-P',
      String(h.gateway.port),
      local,
      `${login}@127.0.0.1:copied.bin`,
    ]);
    assert.equal(scp.code, 0, scp.stderr);
    const after = (await auditEvents(h, 'session.sftp')).filter((e) => e.actor_name === user.name);
    assert.deepEqual(
      [
        after.at(-1)?.details.op,
        path.basename(String(after.at(-1)?.details.path)),
        after.at(-1)?.details.bytes,
      ],
      ['upload', 'copied.bin', 100_000],
    );
    const found = await h.api<{ commands: Array<Record<string, unknown>> }>(
      'GET',
      '/v1/sessions/commands?q=copied.bin',
    );
    assert.equal(found.body.commands?.[0]?.user, user.name);
  });

  it('refuses sftp when the policy does not allow it, and says so', async () => {
    const policy = await policyWith({ allowSftp: false });
    const read = await h.api<Record<string, unknown>>('GET', `/v1/policies/${policy}/session`);
    assert.equal(read.body.allowSftp, false);
    assert.equal(read.body.recordingRequired, true);
    const { user, login, linux } = await account(policy);
    const batch = path.join(h.dir, unique('batch-'));
    writeFileSync(batch, 'ls\n');
    const result = await runClient('sftp', [
      ...sshOptions(h, user.key.file),
      '-b',
      batch,
      '-P',
      String(h.gateway.port),
      `${login}@127.0.0.1`,
    ]);
    assert.notEqual(result.code, 0);
    const refusals = await auditEvents(h, 'session.refuse');
    const refusal = refusals.find((e) => e.object_name?.endsWith(`/${linux}`));
    assert.equal(refusal?.details.why, 'sftp-not-allowed');
    assert.equal(refusal?.outcome, 'denied');
    // A shell is still fine under that policy.
    const shell = await sshThrough(h, user.key.file, login, { command: 'echo still-ok' });
    assert.equal(shell.stdout, 'still-ok\n');
  });

  it('refuses scp and an sftp-server over exec when file transfer is not allowed', async () => {
    const policy = await policyWith({ allowSftp: false });
    const { user, login, linux } = await account(policy);
    const local = path.join(h.dir, unique('up-'));
    writeFileSync(local, randomBytes(1000));
    const batch = path.join(h.dir, unique('batch-'));
    writeFileSync(batch, `put ${local} up.bin\n`);
    const gateway = ['-P', String(h.gateway.port)];

    const viaServer = await runClient('sftp', [
      ...sshOptions(h, user.key.file),
      '-s',
      '/usr/lib/openssh/sftp-server',
      '-b',
      batch,
      ...gateway,
      `${login}@127.0.0.1`,
    ]);
    assert.notEqual(viaServer.code, 0);
    const legacy = await runClient('scp', [
      ...sshOptions(h, user.key.file),
      '-O',
      ...gateway,
      local,
      `${login}@127.0.0.1:copied.bin`,
    ]);
    assert.notEqual(legacy.code, 0);
    assert.match(legacy.stderr, /tessera: file transfer is not allowed for this account/);
    assert.equal(await sshd().readHomeFile(linux, 'up.bin'), '');
    assert.equal(await sshd().readHomeFile(linux, 'copied.bin'), '');

    const refusals = (await auditEvents(h, 'session.refuse')).filter((e) =>
      e.object_name?.endsWith(`/${linux}`),
    );
    assert.equal(refusals.length, 2);
    for (const refusal of refusals) {
      assert.equal(refusal.details.why, 'sftp-not-allowed');
      assert.equal(refusal.details.detail, 'file transfer command over exec');
      assert.equal(refusal.outcome, 'denied');
    }
    // Only the tools are refused: a command that merely names scp runs.
    const shell = await sshThrough(h, user.key.file, login, { command: 'echo scp -t' });
    assert.equal(shell.stdout, 'scp -t\n');
  });

  it('ends an idle session after the policy idle timeout and tells the user', async () => {
    const policy = await policyWith({ idleTimeoutS: 1 });
    const { user, login } = await account(policy);
    const started = Date.now();
    const result = await sshThrough(h, user.key.file, login, { command: 'sleep 10; echo late' });
    assert.ok(Date.now() - started < 6_000);
    assert.notEqual(result.code, 0);
    assert.doesNotMatch(result.stdout, /late/);
    assert.match(result.stderr, /idle for 1 s/);
    const end = await eventually(async () => {
      const ends = await auditEvents(h, 'session.end');
      return ends.find((e) => e.actor_name === user.name);
    });
    assert.equal(end.details.reason, 'idle timeout');
  });

  it('ends a busy session at the policy maximum length', async () => {
    const policy = await policyWith({ maxSessionS: 1 });
    const { user, login } = await account(policy);
    const started = Date.now();
    const result = await sshThrough(h, user.key.file, login, {
      command: 'while true; do echo busy; sleep 0.1; done',
    });
    assert.ok(Date.now() - started < 6_000);
    assert.match(result.stdout, /busy/);
    assert.match(result.stderr, /reached its limit of 1 s/);
  });

  it('forwards a port when the policy allows it, and audits the forward', async () => {
    const policy = await policyWith({ allowPortForwarding: true });
    const { user, login, linux } = await account(policy);
    const args = [
      ...sshOptions(h, user.key.file),
      '-W',
      `127.0.0.1:${sshd().port}`,
      '-p',
      String(h.gateway.port),
      `${login}@127.0.0.1`,
    ];
    // The target's own sshd answers through the forward with its banner.
    const result = await runClient('ssh', args, {
      input: 'SSH-2.0-tessera-test\r\n',
      timeoutMs: 5_000,
    });
    assert.match(result.stdout, /^SSH-2\.0-OpenSSH/);
    const forwards = await auditEvents(h, 'session.forward');
    const forward = forwards.find((e) => e.object_name?.endsWith(`/${linux}`));
    assert.equal(forward?.details.feature, 'local-forwarding');
    assert.equal(forward?.outcome, 'success');
  });

  it('validates session policies and ssh keys at the API', async () => {
    const bad = await h.api('PUT', '/v1/policies/default/session', { body: { idleTimeoutS: 0 } });
    assert.equal(bad.status, 400);
    const user = await gatewayUser(h);
    for (const publicKey of [
      'nonsense',
      'ssh-dss AAAAB3NzaC1kc3MAAACBAP',
      '-----BEGIN OPENSSH PRIVATE KEY-----',
    ]) {
      const refused = await h.api<{ error: { code: string } }>('POST', '/v1/users/me/ssh-keys', {
        token: user.token,
        body: { publicKey },
      });
      assert.equal(refused.body.error?.code, 'VALIDATION_FAILED', publicKey);
    }
    const listed = await h.api<{ keys: Array<Record<string, unknown>> }>(
      'GET',
      '/v1/users/me/ssh-keys',
      {
        token: user.token,
      },
    );
    assert.equal(listed.body.keys?.length, 1);
    const key = listed.body.keys?.[0];
    assert.match(String(key?.fingerprint), /^SHA256:[A-Za-z0-9+/]{43}$/);
    const again = await addOwnKey(h.api, user.token, user.key);
    assert.equal(again.status, 409);
    const other = await gatewayUser(h);
    const notMine = await h.api('DELETE', `/v1/users/me/ssh-keys/${String(key?.id)}`, {
      token: other.token,
    });
    assert.equal(notMine.status, 404);
    const byAdmin = await h.api('DELETE', `/v1/users/${user.name}/ssh-keys/${String(key?.id)}`);
    assert.equal(byAdmin.status, 204);
    const removed = await auditEvents(h, 'sshkey.remove');
    assert.ok(removed.some((e) => e.object_id === key?.id && e.actor_name === 'admin'));
  });
});
