import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { MAX_LOGGED_PATH } from '../../src/gateway/sftp-packets.ts';
import { useSshd } from '../support/sshd.ts';
import {
  auditEvents,
  eventually,
  gatewayUser,
  type Harness,
  linuxAccount,
  runClient,
  sshOptions,
  startHarness,
  unique,
} from './support.ts';

const str = (text: string | Buffer) => {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
};
const u32 = (n: number) => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(n);
  return bytes;
};
const packet = (type: number, ...parts: Buffer[]) =>
  str(Buffer.concat([Buffer.of(type), ...parts]));

describe('ssh gateway: what the sftp log cannot be made to miss', () => {
  const sshd = useSshd();
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h?.stop());

  const account = async () => {
    const password = `Pw-${randomBytes(12).toString('base64url')}`;
    const linux = await sshd().createUser('tgs', { password });
    const user = await gatewayUser(h);
    const { login } = await linuxAccount(h, sshd(), {
      user: user.name,
      secret: password,
      secretType: 'password',
      linuxUser: linux.name,
    });
    return { user, login, linux: linux.name };
  };

  const connect = async (login: string, keyFile: string) => {
    const client = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      client.on('ready', () => resolve()).on('error', reject);
      client.connect({
        host: '127.0.0.1',
        port: h.gateway.port,
        username: login,
        privateKey: readFileSync(keyFile),
        hostVerifier: () => true,
      });
    });
    return client;
  };

  const operations = async (user: string) =>
    (await auditEvents(h, 'session.sftp')).filter(
      (e) => e.actor_name === user && e.details.op !== 'extended',
    );

  it('ends an sftp session reusing an outstanding request id: no decoy upload', async () => {
    const { user, login, linux } = await account();
    const client = await connect(login, user.key.file);
    const channel = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
      client.subsys('sftp', (error, opened) => (error ? reject(error) : resolve(opened))),
    );
    let received = Buffer.alloc(0);
    let said = '';
    channel.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
    });
    channel.stderr.on('data', (chunk: Buffer) => {
      said += chunk.toString();
    });
    const closed = new Promise((resolve) => channel.on('close', resolve));
    channel.write(packet(1, u32(3)));
    await eventually(() => (received.length >= 9 ? true : undefined));

    // An upload and a decoy under one id: the decoy's answer would close the upload's record.
    const open = packet(3, u32(7), str('hidden.bin'), u32(0x02 | 0x08 | 0x10), u32(0));
    const decoy = packet(13, u32(7), str('decoy.txt'));
    channel.write(Buffer.concat([open, decoy]));
    await Promise.race([
      closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error('still open')), 5_000)),
    ]);
    client.end();
    assert.match(said, /the file transfer could not be followed/);
    assert.equal(await sshd().readHomeFile(linux, 'hidden.bin'), '');

    const end = await eventually(async () => {
      const ends = await auditEvents(h, 'session.end');
      return ends.find((e) => e.actor_name === user.name);
    });
    assert.match(String(end.details.reason), /request id 7 reused while outstanding/);
    const [upload] = await operations(user.name);
    assert.equal(upload?.details.op, 'upload');
    assert.equal(upload?.details.path, 'hidden.bin');
    assert.equal(upload?.details.answered, false);
  });

  it('logs hard links, symlinks and mode changes, each with what it changed', async () => {
    const { user, login } = await account();
    const local = path.join(h.dir, unique('up-'));
    writeFileSync(local, randomBytes(1000));
    const batch = path.join(h.dir, unique('batch-'));
    const steps = [`put ${local} up.bin`, 'chmod 640 up.bin', 'ln up.bin hard.bin'];
    writeFileSync(batch, [...steps, 'ln -s up.bin soft.bin', ''].join('\n'));
    const result = await runClient('sftp', [
      ...sshOptions(h, user.key.file),
      '-b',
      batch,
      '-P',
      String(h.gateway.port),
      `${login}@127.0.0.1`,
    ]);
    assert.equal(result.code, 0, result.stderr);

    const logged = await eventually(async () => {
      const ops = await operations(user.name);
      return ops.length >= 4 ? ops : undefined;
    });
    const summary = logged.map((e) => [
      e.details.op,
      path.basename(String(e.details.path)),
      e.details.path2 === null ? null : path.basename(String(e.details.path2)),
      e.details.detail,
    ]);
    assert.deepEqual(summary.slice(0, 3), [
      ['upload', 'up.bin', null, null],
      ['setstat', 'up.bin', null, 'mode 0640'],
      ['hardlink', 'up.bin', 'hard.bin', null],
    ]);
    assert.equal(summary[3]?.[0], 'symlink');
    assert.deepEqual(new Set(summary[3]?.slice(1, 3)), new Set(['up.bin', 'soft.bin']));
    assert.ok(logged.every((e) => e.outcome === 'success'));
  });

  it('logs a path past the limit cut, saying so, with the SHA-256 of the whole', async () => {
    const { user, login } = await account();
    const client = await connect(login, user.key.file);
    const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) =>
      client.sftp((error, opened) => (error ? reject(error) : resolve(opened))),
    );
    // Longer than anything kept whole before: such a request went by unlogged.
    const long = `${'./'.repeat(10_000)}${unique('hidden-')}`;
    await new Promise<void>((resolve) => sftp.mkdir(long, () => resolve()));
    client.end();

    const [mkdir] = await eventually(async () => {
      const ops = await operations(user.name);
      return ops.length > 0 ? ops : undefined;
    });
    const digest = createHash('sha256').update(long).digest('hex');
    assert.equal(mkdir?.details.op, 'mkdir');
    assert.equal(
      mkdir?.details.path,
      `${long.slice(0, MAX_LOGGED_PATH)}… [path cut at ${MAX_LOGGED_PATH} of ${long.length} ` +
        `characters; sha256 of the whole path: ${digest}]`,
    );
  });
});
