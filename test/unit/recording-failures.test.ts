import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { TesseraError } from '../../src/errors.ts';
import type { OpenRecordingFile, RecordingFile } from '../../src/sessions/frame-writer.ts';
import { createRecorder, type RecorderOptions } from '../../src/sessions/recorder.ts';
import { loadRecording } from '../../src/sessions/recording-reader.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'tessera-recording-failures-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SESSION = 'sess-f14';
const unavailable = { code: 'RECORDING_UNAVAILABLE' };

function options(file: string, overrides: Partial<RecorderOptions> = {}): RecorderOptions {
  return {
    path: file,
    sessionId: SESSION,
    dataKey: randomBytes(32),
    header: { width: 80, height: 24, timestamp: 1_760_000_000 },
    onFailure: () => undefined,
    ...overrides,
  };
}

/** Mounts a small tmpfs (root only); null when this machine does not allow it. */
function mountTmpfs(label: string, flags: string): { path: string; unmount(): void } | null {
  if (process.getuid?.() !== 0) return null;
  const at = path.join(dir, label);
  mkdirSync(at);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', flags, 'tmpfs', at]).status === 0;
  if (!mounted) return null;
  return { path: at, unmount: () => spawnSync('umount', [at]) };
}

/** A real file whose writes fail with ENOSPC once `allowed` writes have gone through. */
function failingAfter(allowed: number): OpenRecordingFile {
  return async (file) => {
    const handle = await open(file, 'wx', 0o600);
    let writes = 0;
    const wrapped: RecordingFile = {
      write: (buffer, offset, length) => {
        writes += 1;
        if (writes > allowed) {
          return Promise.reject(Object.assign(new Error('no space left'), { code: 'ENOSPC' }));
        }
        return handle.write(buffer, offset, length);
      },
      datasync: () => handle.datasync(),
      close: () => handle.close(),
    };
    return wrapped;
  };
}

describe('recording: F14, the recording cannot be created', () => {
  it('fails closed in a read-only folder, with RECORDING_UNAVAILABLE and no file', async () => {
    const readOnly = mountTmpfs('ro', 'ro,size=64k');
    let folder = readOnly?.path;
    if (folder === undefined) {
      // Not root: a folder without write permission is read-only to us.
      folder = path.join(dir, 'no-write');
      mkdirSync(folder);
      chmodSync(folder, 0o555);
    }
    try {
      const file = path.join(folder, 'session.rec');
      await assert.rejects(createRecorder(options(file)), (error: TesseraError) => {
        assert.equal(error.code, unavailable.code);
        assert.match(error.message, /cannot be created \((EROFS|EACCES)\)/);
        return true;
      });
      assert.equal(existsSync(file), false);
    } finally {
      readOnly?.unmount();
    }
  });

  it('fails closed when the folder is missing', async () => {
    const file = path.join(dir, 'missing', 'session.rec');
    await assert.rejects(createRecorder(options(file)), unavailable);
  });

  it('fails closed when even the header cannot be written', async () => {
    const file = path.join(dir, 'header-fails.rec');
    await assert.rejects(createRecorder(options(file, { openFile: failingAfter(0) })), unavailable);
  });
});

describe('recording: F14, the disk fails mid-session', () => {
  it('on a full disk calls onFailure once, records nothing more, and close rejects', async (t) => {
    const small = mountTmpfs('full', 'size=64k');
    if (small === null) return t.skip('cannot mount a tmpfs here (needs root)');
    try {
      const failures: TesseraError[] = [];
      const file = path.join(small.path, 'session.rec');
      const opts = options(file, { onFailure: (e) => failures.push(e) });
      const rec = await createRecorder(opts);
      // Base64 of random bytes barely compresses: the 64 KiB fill up within a few flushes.
      for (let i = 0; i < 64 && failures.length === 0; i++) {
        rec.output(Buffer.from(`${randomBytes(12 * 1024).toString('base64')}\r\n`));
        await rec.flush().catch(() => undefined);
      }
      await new Promise((resolve) => setImmediate(resolve));

      assert.equal(failures.length, 1);
      assert.equal(failures[0]?.code, unavailable.code);
      assert.match(failures[0]?.message ?? '', /ENOSPC/);
      assert.equal(rec.output(Buffer.from('more\r\n')), false);
      await assert.rejects(rec.close(), unavailable);
      assert.equal(failures.length, 1, 'onFailure is called once');

      const partial = await loadRecording(opts);
      assert.equal(partial.truncated, true);
      assert.ok(partial.events.length > 0, 'what reached the disk still reads');
    } finally {
      small.unmount();
    }
  });

  it('refuses the session when the header cannot be synced', async () => {
    // A disk that takes writes but cannot sync them (EIO): the session never starts, so no
    // command runs on the target with no recording on disk.
    const failingSync: OpenRecordingFile = async (file) => {
      const handle = await open(file, 'wx', 0o600);
      return {
        write: (buffer, offset, length) => handle.write(buffer, offset, length),
        datasync: () => Promise.reject(Object.assign(new Error('i/o error'), { code: 'EIO' })),
        close: () => handle.close(),
      };
    };
    const file = path.join(dir, 'sync-fails.rec');
    await assert.rejects(createRecorder(options(file, { openFile: failingSync })), (error) => {
      assert.equal((error as TesseraError).code, unavailable.code);
      assert.match((error as Error).message, /EIO/);
      return true;
    });
  });

  it('calls onFailure once when a write fails, however much more comes', async () => {
    const failures: TesseraError[] = [];
    const file = path.join(dir, 'write-fails.rec');
    const rec = await createRecorder(
      options(file, { openFile: failingAfter(1), onFailure: (e) => failures.push(e) }),
    );
    assert.equal(rec.output(Buffer.from('first\r\n')), true);
    await assert.rejects(rec.flush(), unavailable);
    for (let i = 0; i < 10; i++) assert.equal(rec.output(Buffer.from('x')), false);
    await assert.rejects(rec.flush(), unavailable);
    await assert.rejects(rec.close(), unavailable);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(failures.length, 1);
  });
});

describe('recording: F14, kill -9 of the recording process', () => {
  it('leaves a file that reads up to the last flush, marked truncated', async () => {
    const file = path.join(dir, 'killed.rec');
    const dataKey = randomBytes(32);
    const recorderModule = new URL('../../src/sessions/recorder.ts', import.meta.url).href;
    // The child records numbered lines and says after each flush how many are on disk.
    const script = `
      import { createRecorder } from ${JSON.stringify(recorderModule)};
      const key = Buffer.from(await new Promise((r) => process.stdin.once('data', r)).then(String), 'hex');
      const rec = await createRecorder({ path: ${JSON.stringify(file)}, sessionId: ${JSON.stringify(SESSION)},
        dataKey: key, header: { width: 80, height: 24, timestamp: 0 }, onFailure: () => process.exit(3) });
      for (let n = 0; ; n++) {
        rec.output(Buffer.from('line ' + n + '\\r\\n'));
        if (n % 10 === 9) { await rec.flush(); process.stdout.write('flushed ' + (n + 1) + '\\n'); }
      }
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    child.stdin.end(dataKey.toString('hex'));
    const flushed = await new Promise<number>((resolve) => {
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const counts = [...text.matchAll(/flushed (\d+)\n/g)].map((m) => Number(m[1]));
        if ((counts.at(-1) ?? 0) >= 200) {
          child.kill('SIGKILL');
          resolve(counts.at(-1) ?? 0);
        }
      });
    });
    await new Promise((resolve) => child.once('exit', resolve));

    const loaded = await loadRecording({ path: file, sessionId: SESSION, dataKey });
    assert.equal(loaded.truncated, true);
    const lines = loaded.events.map((e) => e.data);
    assert.ok(lines.length >= flushed, `${lines.length} lines read, ${flushed} flushed`);
    assert.deepEqual(
      lines,
      lines.map((_, n) => `line ${n}\r\n`),
    );
  });
});

describe('recording: a slow disk never blocks the session', () => {
  it('drops past maxBufferedBytes, says how much in a marker, and counts it', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let writes = 0;
    const slowDisk: OpenRecordingFile = async (file) => {
      const handle = await open(file, 'wx', 0o600);
      return {
        write: async (buffer, offset, length) => {
          writes += 1;
          if (writes > 1) await gate; // the header goes through, then the disk stalls
          return handle.write(buffer, offset, length);
        },
        datasync: () => handle.datasync(),
        close: () => handle.close(),
      };
    };
    const drops: number[] = [];
    const file = path.join(dir, 'slow.rec');
    const opts = options(file, {
      openFile: slowDisk,
      maxBufferedBytes: 64 * 1024,
      flushIntervalMs: 60_000,
      onDrop: (n) => drops.push(n),
    });
    const rec = await createRecorder(opts);
    const packet = Buffer.alloc(16 * 1024, 'a');

    for (let i = 0; i < 4; i++) assert.equal(rec.output(packet), true, `packet ${i}`);
    const stalled = rec.flush(); // all four are now in flight behind the stalled disk
    assert.equal(rec.output(packet), false);
    assert.equal(rec.input(Buffer.from('q')), false);
    assert.equal(rec.output(packet), false);
    assert.deepEqual(drops, [16 * 1024], 'onDrop once, when dropping starts');
    assert.equal(rec.droppedBytes, 2 * 16 * 1024 + 1);

    release();
    await stalled;
    assert.equal(rec.output(Buffer.from('back\r\n')), true);
    const result = await rec.close();
    assert.equal(result.droppedBytes, 2 * 16 * 1024 + 1);

    const { events } = await loadRecording({ ...opts, path: file });
    const marker = events.find((e) => e.code === 'm');
    assert.match(marker?.data ?? '', /32769 bytes of session data not recorded/);
    assert.deepEqual(
      events.slice(-2).map((e) => e.code),
      ['m', 'o'],
    );
    assert.equal(events.filter((e) => e.code === 'o').length, 5);
  });
});
