import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { useSshd } from '../support/sshd.ts';
import {
  auditEvents,
  eventually,
  gatewayUser,
  type Harness,
  keyPair,
  linuxAccount,
  sshThrough,
  startHarness,
} from './support.ts';

describe('ssh gateway: password and key accounts', () => {
  const sshd = useSshd();
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h?.stop());

  it('runs a command on a password account and passes its exit status back', async () => {
    const password = `Pw-${randomBytes(12).toString('base64url')}`;
    const linux = await sshd().createUser('tgp', { password });
    const user = await gatewayUser(h);
    const { login } = await linuxAccount(h, sshd(), {
      user: user.name,
      secret: password,
      secretType: 'password',
      linuxUser: linux.name,
    });

    const ok = await sshThrough(h, user.key.file, login, { command: 'echo hi; whoami' });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, `hi\n${linux.name}\n`);

    const failed = await sshThrough(h, user.key.file, login, {
      command: 'echo out; echo err >&2; exit 3',
    });
    assert.equal(failed.code, 3);
    assert.equal(failed.stdout, 'out\n');
    assert.match(failed.stderr, /^err$/m);

    // The password never reaches the user, the log or the audit trail.
    assert.ok(!ok.stdout.includes(password) && !ok.stderr.includes(password));
    assert.ok(!h.logText().includes(password));
    const events = await h.server.services.store.db
      .selectFrom('audit_events')
      .selectAll()
      .execute();
    assert.ok(!JSON.stringify(events).includes(password));
  });

  it('opens an interactive shell with a PTY on a key account, input on stdin', async () => {
    const targetKey = await keyPair(h.dir, 'target-key');
    // A Linux account with no password at all is locked, and sshd refuses it even a key.
    const unused = randomBytes(16).toString('base64url');
    const linux = await sshd().createUser('tgk', {
      password: unused,
      authorizedKeys: [targetKey.publicKey],
    });
    const user = await gatewayUser(h);
    const { login } = await linuxAccount(h, sshd(), {
      user: user.name,
      secret: targetKey.privateKey,
      secretType: 'ssh-key',
      linuxUser: linux.name,
    });

    const marker = `m${randomBytes(4).toString('hex')}`;
    const shell = await sshThrough(h, user.key.file, login, {
      args: ['-tt'],
      input: `echo ${marker}-$((6*7))\nexit 5\n`,
    });
    assert.equal(shell.code, 5, shell.stderr);
    assert.match(shell.stdout, new RegExp(`${marker}-42`));

    const session = await eventually(async () => {
      const list = await h.api<{ sessions: Array<Record<string, unknown>> }>(
        'GET',
        `/v1/sessions?user=${user.name}`,
      );
      const found = list.body.sessions?.[0];
      return found?.state === 'ended' ? found : undefined;
    });
    assert.equal(session.kind, 'shell');
    assert.equal(session.recorded, true);
    assert.match(String(session.recordingSha256), /^[0-9a-f]{64}$/);
    assert.ok(Number(session.bytesIn) > 0 && Number(session.bytesOut) > 0);

    const cast = await h.api('GET', `/v1/sessions/${session.id}/recording`);
    assert.equal(cast.status, 200, cast.text);
    const [header, ...events] = cast.text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.equal(header.version, 2);
    assert.ok(events.some((e: unknown[]) => e[1] === 'o' && String(e[2]).includes(`${marker}-42`)));
    assert.ok(events.some((e: unknown[]) => e[1] === 'i' && String(e[2]).includes(marker)));

    // The private key never reaches the log or the audit trail.
    const body = targetKey.privateKey.split('\n')[1] ?? '';
    assert.ok(body.length > 20 && !h.logText().includes(body));
    const all = await h.server.services.store.db.selectFrom('audit_events').selectAll().execute();
    assert.ok(!JSON.stringify(all).includes(body));

    const ends = await auditEvents(h, 'session.end');
    const end = ends.find((e) => e.object_id === session.id);
    assert.equal(end?.details.recordingSha256, session.recordingSha256);
    assert.equal(end?.details.exitStatus, 5);
  });
});
