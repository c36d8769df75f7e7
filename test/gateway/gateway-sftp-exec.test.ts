/**
 * An SFTP server started over exec (`sftp -s PATH`), under whatever name, is followed as the
 * SFTP subsystem is: every file operation is audited. Other exec sessions are left alone.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { useSshd } from '../support/sshd.ts';
import {
  auditEvents,
  gatewayUser,
  type Harness,
  linuxAccount,
  runClient,
  sshOptions,
  sshThrough,
  startHarness,
  unique,
} from './support.ts';

describe('ssh gateway: SFTP over an exec channel', () => {
  const sshd = useSshd();
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h?.stop());

  it('audits an upload through sftp -s PATH, and leaves other exec sessions alone', async () => {
    const password = `Pw-${randomBytes(12).toString('base64url')}`;
    const linux = await sshd().createUser('tax', { password });
    const user = await gatewayUser(h);
    const { login } = await linuxAccount(h, sshd(), {
      user: user.name,
      secret: password,
      secretType: 'password',
      linuxUser: linux.name,
    });
    const local = path.join(h.dir, unique('up-'));
    writeFileSync(local, randomBytes(10_000));
    const batch = path.join(h.dir, unique('batch-'));
    writeFileSync(batch, `put ${local} hidden.bin\n`);
    const result = await runClient('sftp', [
      ...sshOptions(h, user.key.file),
      '-s',
      '/usr/lib/openssh/sftp-server',
      '-b',
      batch,
      '-P',
      String(h.gateway.port),
      `${login}@127.0.0.1`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await sshd().readHomeFile(linux.name, 'hidden.bin')).length > 0, true);
    const logged = (await auditEvents(h, 'session.sftp')).filter((e) => e.actor_name === user.name);
    assert.ok(
      logged.some(
        (e) => e.details.op === 'upload' && String(e.details.path).endsWith('hidden.bin'),
      ),
      'the upload left no session.sftp event',
    );

    // A command that only names an sftp-server, and an upload through cat, are no SFTP: they
    // run to the end with their output whole.
    const named = await sshThrough(h, user.key.file, login, {
      command: 'ls -l /usr/lib/openssh/sftp-server; echo listed',
    });
    assert.equal(named.code, 0, named.stderr);
    assert.match(named.stdout, /listed\n$/);
    const piped = await sshThrough(h, user.key.file, login, {
      command: 'cat > piped.txt && wc -c < piped.txt',
      input: 'not an sftp conversation\n',
    });
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout.trim(), '25');
  });
});
