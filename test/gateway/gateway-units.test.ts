import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { loadOrCreateHostKey, publicKeyLine } from '../../src/gateway/host-key.ts';
import { createScreenBuffer } from '../../src/gateway/live-sessions.ts';
import { parseLoginName } from '../../src/gateway/login-name.ts';
import { createSftpMonitor, type SftpOperation } from '../../src/gateway/sftp-monitor.ts';
import { fingerprintOf, parsePublicKeyLine } from '../../src/gateway/user-keys.ts';

const execFileAsync = promisify(execFile);

describe('gateway units', () => {
  it('splits ACCOUNT@TARGET at the last @ and refuses malformed names', () => {
    assert.deepEqual(parseLoginName('root@web01'), { account: 'root', target: 'web01' });
    assert.deepEqual(parseLoginName('app@corp@db1'), { account: 'app@corp', target: 'db1' });
    for (const bad of ['root', '@web01', 'root@', '', 'a@b\nc', 'a\0@b', `${'x'.repeat(300)}@t`]) {
      assert.equal(parseLoginName(bad), null, JSON.stringify(bad));
    }
  });

  it('keeps its host key private and the same across restarts', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tessera-hostkey-'));
    try {
      const file = path.join(dir, 'gateway-host-key');
      const first = publicKeyLine(loadOrCreateHostKey(file));
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.match(first, /^ssh-ed25519 [A-Za-z0-9+/]+=*$/);
      assert.equal(publicKeyLine(loadOrCreateHostKey(file)), first);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names a key by the same SHA256 fingerprint as ssh-keygen', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tessera-fp-'));
    try {
      const file = path.join(dir, 'id');
      await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
      const { stdout } = await execFileAsync('ssh-keygen', [
        '-l',
        '-E',
        'sha256',
        '-f',
        `${file}.pub`,
      ]);
      const { stdout: line } = await execFileAsync('cat', [`${file}.pub`]);
      const parsed = parsePublicKeyLine(line);
      assert.equal(fingerprintOf(parsed.blob), stdout.split(' ')[1]);
      // A file's own newline is fine; a second key line is not taken as the first one's comment.
      assert.throws(() => parsePublicKeyLine(`${line}${line}`), {
        code: 'VALIDATION_FAILED',
        message: /one public key line/,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('follows sftp packets split anywhere, and counts written bytes without keeping them', () => {
    const seen: SftpOperation[] = [];
    const monitor = createSftpMonitor({
      operation: (op) => seen.push(op),
      malformed: () => assert.fail(),
    });
    const str = (text: string | Buffer) => {
      const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      return Buffer.concat([length, bytes]);
    };
    const u32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(n);
      return b;
    };
    const packet = (type: number, ...parts: Buffer[]) =>
      str(Buffer.concat([Buffer.of(type), ...parts]));
    const open = packet(3, u32(1), str('/tmp/f'), u32(0x1a), u32(0));
    const write = packet(6, u32(2), str('h1'), Buffer.alloc(8), str(Buffer.alloc(5000, 7)));
    const close = packet(4, u32(3), str('h1'));
    const feed = (bytes: Buffer, to: (chunk: Buffer) => void) => {
      for (let at = 0; at < bytes.length; at += 7) to(bytes.subarray(at, at + 7));
    };
    feed(open, monitor.request);
    feed(packet(102, u32(1), str('h1')), monitor.response);
    feed(Buffer.concat([write, close]), monitor.request);
    feed(packet(101, u32(3), u32(0), str(''), str('')), monitor.response);
    assert.deepEqual(seen, [
      {
        op: 'upload',
        path: '/tmp/f',
        path2: null,
        bytes: 5000,
        detail: null,
        ok: true,
        answered: true,
      },
    ]);
  });

  it('gives a late watcher the screen since the last clear, within its bound', () => {
    const screen = createScreenBuffer(16);
    screen.append(Buffer.from('old text\x1b[2Jnew'));
    assert.equal(screen.contents().toString(), '\x1b[2Jnew');
    screen.append(Buffer.from('0123456789abcdef'));
    assert.equal(screen.contents().length, 16);
    assert.ok(screen.contents().toString().endsWith('abcdef'));
  });

  it('starts the screen at the last clear of a chunk, whichever kind it is', () => {
    const after = (chunk: string) => {
      const screen = createScreenBuffer(64);
      screen.append(Buffer.from('before'));
      screen.append(Buffer.from(chunk));
      return screen.contents().toString();
    };
    // Escapes that are not clears, after the last one, stay on the screen.
    assert.equal(after('a\x1bcb\x1b[2Jc\x1b[1md\x1b[2'), '\x1b[2Jc\x1b[1md\x1b[2');
    assert.equal(after('x\x1b[2Jy\x1b[?1049hvim'), '\x1b[?1049hvim');
    assert.equal(after('\x1bcfresh'), '\x1bcfresh');
    assert.equal(after('colour \x1b[31mred\x1b[0m'), 'beforecolour \x1b[31mred\x1b[0m');
  });
});
