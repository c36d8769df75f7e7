/**
 * SFTP found on exec channels by its first bytes (opensSftp, session-run.ts): a long INIT, a
 * renamed server under a policy without file transfer, a file that only looks like an INIT, and
 * a server that logs on stderr.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
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

const SFTP_SERVER = '/usr/lib/openssh/sftp-server';

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const str = (s: string | Buffer) => {
  const d = typeof s === 'string' ? Buffer.from(s) : s;
  return Buffer.concat([u32(d.length), d]);
};
const packet = (type: number, body: Buffer) =>
  Buffer.concat([u32(body.length + 1), Buffer.from([type]), body]);

/**
 * A hand-made SFTP client on an exec channel: INIT padded to `initLength` bytes (sftp-server
 * ignores what follows the version), then OPEN for writing, WRITE, CLOSE.
 */
async function uploadOverExec(
  h: Harness,
  keyFile: string,
  login: string,
  file: { name: string; data: Buffer; initLength: number },
): Promise<void> {
  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    client.on('ready', () => resolve());
    client.on('error', reject);
    client.connect({
      host: '127.0.0.1',
      port: h.gateway.port,
      username: login,
      privateKey: readFileSync(keyFile),
      hostVerifier: () => true,
    });
  });
  try {
    const channel = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
      client.exec(SFTP_SERVER, (error, stream) => (error ? reject(error) : resolve(stream))),
    );
    let inbox = Buffer.alloc(0);
    const waiters: Array<() => void> = [];
    channel.on('data', (data: Buffer) => {
      inbox = Buffer.concat([inbox, data]);
      for (const wake of waiters.splice(0)) wake();
    });
    const next = async (): Promise<{ type: number; body: Buffer }> => {
      for (;;) {
        if (inbox.length >= 4 && inbox.length >= 4 + inbox.readUInt32BE(0)) {
          const length = inbox.readUInt32BE(0);
          const type = inbox[4] ?? 0;
          const body = inbox.subarray(5, 4 + length);
          inbox = inbox.subarray(4 + length);
          return { type, body };
        }
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    };
    const padding = Buffer.alloc(file.initLength - 5, 0x41);
    channel.write(packet(1, Buffer.concat([u32(3), padding])));
    assert.equal((await next()).type, 2, 'no VERSION answer');
    const flags = 0x02 | 0x08 | 0x10; // WRITE | CREAT | TRUNC
    channel.write(packet(3, Buffer.concat([u32(1), str(file.name), u32(flags), u32(0)])));
    const opened = await next();
    assert.equal(opened.type, 102, 'no HANDLE');
    const handle = opened.body.subarray(8, 8 + opened.body.readUInt32BE(4));
    const offset = Buffer.alloc(8);
    channel.write(packet(6, Buffer.concat([u32(2), str(handle), offset, str(file.data)])));
    assert.equal((await next()).type, 101);
    channel.write(packet(4, Buffer.concat([u32(3), str(handle)])));
    assert.equal((await next()).type, 101);
    channel.end();
    await new Promise((resolve) => channel.once('close', resolve));
  } finally {
    client.end();
  }
}

describe('ssh gateway: SFTP over exec, edge cases', () => {
  const sshd = useSshd();
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h?.stop());

  const account = async (policy?: string) => {
    const password = `Pw-${randomBytes(12).toString('base64url')}`;
    const linux = await sshd().createUser('tax', { password });
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
  const uploads = async (userName: string) =>
    (await auditEvents(h, 'session.sftp')).filter(
      (e) => e.actor_name === userName && e.details.op === 'upload',
    );

  it('audits an upload whose INIT is longer than 1 KiB (sftp-server accepts it)', async () => {
    const { user, login, linux } = await account();
    const data = randomBytes(5000);
    // Control: an ordinary INIT is followed and the upload audited.
    await uploadOverExec(h, user.key.file, login, { name: 'seen.bin', data, initLength: 9 });
    assert.equal((await uploads(user.name)).length, 1, 'control upload not audited');

    await uploadOverExec(h, user.key.file, login, { name: 'unseen.bin', data, initLength: 2000 });
    assert.equal((await sshd().readHomeFile(linux, 'unseen.bin')).length > 0, true);
    const logged = await uploads(user.name);
    assert.ok(
      logged.some((e) => String(e.details.path).endsWith('unseen.bin')),
      'an SFTP upload over exec left no session.sftp event (INIT of 2000 bytes)',
    );
  });

  it('refuses the standard sftp client with a renamed server when the policy forbids', async () => {
    const name = unique('sp');
    assert.equal((await h.server.api('PUT', `/v1/policies/${name}`, { body: {} })).status, 200);
    const set = await h.api('PUT', `/v1/policies/${name}/session`, { body: { allowSftp: false } });
    assert.equal(set.status, 200, set.text);
    const { user, login, linux } = await account(name);
    // The name guard looks for words ending in sftp-server; a glob names it without that.
    const copied = await sshThrough(h, user.key.file, login, {
      command: 'cp /usr/lib/openssh/sftp-serve? ./files && echo copied',
    });
    assert.equal(copied.stdout, 'copied\n', copied.stderr);
    const local = path.join(h.dir, unique('up-'));
    writeFileSync(local, randomBytes(3000));
    const batch = path.join(h.dir, unique('batch-'));
    writeFileSync(batch, `put ${local} forbidden.bin\n`);
    await runClient('sftp', [
      ...sshOptions(h, user.key.file),
      '-s',
      './files',
      '-b',
      batch,
      '-P',
      String(h.gateway.port),
      `${login}@127.0.0.1`,
    ]);
    const landed = (await sshd().readHomeFile(linux, 'forbidden.bin')).length;
    assert.equal(landed, 0, 'an SFTP upload went through under a policy without file transfer');
  });

  it('leaves a benign upload of an .ico file through cat alone', async () => {
    const { user, login, linux } = await account();
    // A 16x16 32-bit icon: ICONDIR (0,1,1), one entry, a BMP header and transparent pixels.
    const icon = Buffer.alloc(1150);
    icon.writeUInt16LE(0, 0);
    icon.writeUInt16LE(1, 2);
    icon.writeUInt16LE(1, 4);
    icon.writeUInt8(16, 6);
    icon.writeUInt8(16, 7);
    icon.writeUInt16LE(1, 10);
    icon.writeUInt16LE(32, 12);
    icon.writeUInt32LE(1128, 14);
    icon.writeUInt32LE(22, 18);
    icon.writeUInt32LE(40, 22);
    const result = await runClient(
      'ssh',
      [
        ...sshOptions(h, user.key.file),
        '-p',
        String(h.gateway.port),
        `${login}@127.0.0.1`,
        'cat > favicon.ico; wc -c < favicon.ico',
      ],
      { input: icon },
    );
    assert.equal(result.stdout.trim(), '1150', `stderr: ${result.stderr}`);
    assert.equal((await sshd().readHomeFile(linux, 'favicon.ico')).length > 0, true);
  });

  it("follows an sftp-server that logs to stderr: stderr is not SFTP's stream", async () => {
    const { user, login } = await account();
    const local = path.join(h.dir, unique('up-'));
    writeFileSync(local, randomBytes(3000));
    const batch = path.join(h.dir, unique('batch-'));
    writeFileSync(batch, `put ${local} logged.bin\n`);
    const result = await runClient('sftp', [
      ...sshOptions(h, user.key.file),
      '-s',
      `${SFTP_SERVER} -e -l VERBOSE`,
      '-b',
      batch,
      '-P',
      String(h.gateway.port),
      `${login}@127.0.0.1`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(
      (await uploads(user.name)).some((e) => String(e.details.path).endsWith('logged.bin')),
    );
  });
});
