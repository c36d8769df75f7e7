import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import {
  brotliCompressSync,
  brotliDecompressSync,
  createDeflateRaw,
  deflateRawSync,
  constants as zlibConstants,
} from 'node:zlib';
import type { AsciicastEvent } from '../../src/sessions/asciicast.ts';
import { screenSizeAt } from '../../src/sessions/player.ts';
import { createRecorder, type RecorderOptions } from '../../src/sessions/recorder.ts';
import {
  FILE_HEADER_BYTES,
  FILE_MAGIC,
  FRAME_HEADER_BYTES,
  FRAME_TEXT_BYTES,
  openFrame,
  readFrameHeader,
  sealFrame,
} from '../../src/sessions/recording-format.ts';
import {
  exportAsciicast,
  loadRecording,
  readRecording,
} from '../../src/sessions/recording-reader.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'tessera-recording-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
const SESSION = 'sess-0001';

/** A clock the test moves: milliseconds. */
function manualClock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

async function recorder(overrides: Partial<RecorderOptions> = {}) {
  const file = path.join(dir, `r${++fileCount}.rec`);
  const dataKey = randomBytes(32);
  const failures: Error[] = [];
  const rec = await createRecorder({
    path: file,
    sessionId: SESSION,
    dataKey,
    header: { width: 120, height: 40, timestamp: 1_760_000_000 },
    onFailure: (error) => failures.push(error),
    ...overrides,
  });
  const source = { path: file, sessionId: SESSION, dataKey };
  return { rec, file, dataKey, source, failures };
}

const outputs = (events: readonly AsciicastEvent[]) =>
  events.filter((e) => e.code === 'o').map((e) => e.data);

/** Offsets where each frame starts, read from the clear frame headers. */
function frameOffsets(file: string): number[] {
  const bytes = readFileSync(file);
  const offsets: number[] = [];
  for (let at = FILE_HEADER_BYTES; at < bytes.length; ) {
    offsets.push(at);
    const { length } = readFrameHeader(bytes.subarray(at, at + FRAME_HEADER_BYTES), 0);
    at += FRAME_HEADER_BYTES + length;
  }
  return offsets;
}

/** Three flushed frames of two lines each, then the final frame. */
async function threeFrames() {
  const made = await recorder();
  for (const n of [1, 2, 3]) {
    made.rec.output(Buffer.from(`frame ${n} line a\r\n`));
    made.rec.output(Buffer.from(`frame ${n} line b\r\n`));
    await made.rec.flush();
  }
  await made.rec.close();
  return made;
}

describe('recording: F12, characters split across packets and invalid bytes', () => {
  it('records 你好 whole when its bytes arrive in two packets', async () => {
    const { rec, source } = await recorder();
    rec.output(Buffer.from([0xe4, 0xbd]));
    rec.output(Buffer.from([0xa0, 0xe5, 0xa5, 0xbd]));
    await rec.close();
    const { events } = await loadRecording(source);
    assert.deepEqual(outputs(events), ['你好']);
  });

  it('decodes each direction on its own: a key typed between the halves does not break them', async () => {
    const { rec, source } = await recorder();
    rec.output(Buffer.from([0xe4, 0xbd]));
    rec.input(Buffer.from('a'));
    rec.output(Buffer.from([0xa0]));
    await rec.close();
    const { events } = await loadRecording(source);
    assert.deepEqual(
      events.map((e) => [e.code, e.data]),
      [
        ['i', 'a'],
        ['o', '你'],
      ],
    );
  });

  it('turns \\377\\376ok\\n into U+FFFD U+FFFD ok and goes on recording', async () => {
    const { rec, source } = await recorder();
    rec.output(Buffer.from([0xff, 0xfe, 0x6f, 0x6b, 0x0a]));
    rec.output(Buffer.from('after\n'));
    await rec.close();
    const { events } = await loadRecording(source);
    assert.deepEqual(outputs(events), ['\uFFFD\uFFFDok\n', 'after\n']);
  });

  it('keeps every line valid JSON through 4 KiB of random bytes, and records what follows', async () => {
    const { rec, source } = await recorder({ clock: manualClock() });
    rec.output(Buffer.from([0xe4, 0xbd]));
    rec.output(Buffer.from([0xa0, 0xe5, 0xa5, 0xbd]));
    rec.output(Buffer.from([0xff, 0xfe, 0x6f, 0x6b, 0x0a]));
    for (let i = 0; i < 4; i++) rec.output(randomBytes(1024));
    rec.output(Buffer.from('$ echo done\r\n'));
    await rec.close();

    const { cast, truncated } = await exportAsciicast(source);
    assert.equal(truncated, false);
    const lines = cast.split('\n');
    assert.equal(lines.pop(), '', 'the text ends with a newline');
    for (const [n, line] of lines.entries())
      assert.doesNotThrow(() => JSON.parse(line), `line ${n}`);
    assert.deepEqual(JSON.parse(lines[1] ?? ''), [0, 'o', '你好']);
    // The random bytes may end in half a character: it turns into U+FFFD before the prompt.
    assert.match(JSON.parse(lines.at(-1) ?? '')[2], /^\uFFFD?\$ echo done\r\n$/);
  });

  it('hands the live view exactly the events the replay reads', async () => {
    const live: AsciicastEvent[] = [];
    const { rec, source } = await recorder({ onEvent: (event) => live.push(event) });
    rec.output(Buffer.from([0xe4, 0xbd]));
    rec.input(Buffer.from([0xc3]));
    rec.output(Buffer.from([0xa0, 0xe5, 0xa5, 0xbd, 0xff]));
    rec.input(Buffer.from([0xa9, 0x0d]));
    rec.resize(100, 30);
    rec.output(randomBytes(512));
    await rec.close();
    assert.deepEqual((await loadRecording(source)).events, live);
    assert.deepEqual(
      live.slice(0, 3).map((e) => [e.code, e.data]),
      [
        ['o', '你好\uFFFD'],
        ['i', 'é\r'],
        ['r', '100x30'],
      ],
    );
  });

  it('holds a split character over a flush and writes a dangling one as U+FFFD at close', async () => {
    const { rec, source } = await recorder();
    rec.output(Buffer.from([0xe4, 0xbd]));
    await rec.flush();
    rec.output(Buffer.from([0xa0, 0xe5]));
    await rec.close();
    const { events } = await loadRecording(source);
    assert.deepEqual(outputs(events), ['你', '\uFFFD']);
  });
});

describe('recording: F13, resizes', () => {
  it('writes the header at 120x40 and a resize at 5.0 s to 80x24; the size follows seeks', async () => {
    const clock = manualClock();
    const { rec, source } = await recorder({ clock });
    clock.advance(1_000);
    rec.output(Buffer.from('$ top\r\n'));
    clock.advance(4_000);
    assert.equal(rec.resize(80, 24), true);
    clock.advance(500);
    rec.output(Buffer.from('\x1b[H\x1b[2Jtop - 10:00:00'));
    await rec.close();

    const { header, events } = await loadRecording(source);
    assert.equal(header.width, 120);
    assert.equal(header.height, 40);
    assert.deepEqual(
      events.find((e) => e.code === 'r'),
      { time: 5, code: 'r', data: '80x24' },
    );
    assert.deepEqual(screenSizeAt(header, events, 4.999), { cols: 120, rows: 40 });
    assert.deepEqual(screenSizeAt(header, events, 5), { cols: 80, rows: 24 });
    assert.deepEqual(screenSizeAt(header, events, 60), { cols: 80, rows: 24 });
    assert.deepEqual(screenSizeAt(header, events, 2), { cols: 120, rows: 40 });
  });

  it('refuses sizes that are not screens', async () => {
    const { rec, source } = await recorder();
    for (const [cols, rows] of [
      [0, 24],
      [80, -1],
      [Number.NaN, 24],
      [80.5, 24],
      [100_000, 24],
    ] as const) {
      assert.equal(rec.resize(cols, rows), false, `${cols}x${rows}`);
    }
    await rec.close();
    const { events } = await loadRecording(source);
    assert.equal(events.length, 0);
  });
});

describe('recording: the file', () => {
  it('reads back header, events, markers and times as recorded', async () => {
    const clock = manualClock();
    const { rec, source } = await recorder({
      clock,
      header: {
        width: 80,
        height: 24,
        timestamp: 1_760_000_123,
        command: 'uptime',
        title: 'alice@db01',
        env: { TERM: 'xterm-256color' },
      },
    });
    clock.advance(250);
    rec.input(Buffer.from('u'));
    clock.advance(1_250.4);
    rec.output(Buffer.from('10:00 up 3 days\r\n'));
    rec.marker('approved by bob');
    await rec.close();

    const { header, events, truncated } = await loadRecording(source);
    assert.deepEqual(header, {
      version: 2,
      width: 80,
      height: 24,
      timestamp: 1_760_000_123,
      command: 'uptime',
      title: 'alice@db01',
      env: { TERM: 'xterm-256color' },
    });
    assert.deepEqual(events, [
      { time: 0.25, code: 'i', data: 'u' },
      { time: 1.5, code: 'o', data: '10:00 up 3 days\r\n' },
      { time: 1.5, code: 'm', data: 'approved by bob' },
    ]);
    assert.equal(truncated, false);
  });

  it('pins the exact file bytes with sha256 and never writes the key or the text in clear', async () => {
    const { rec, file, dataKey, source } = await recorder();
    rec.output(Buffer.from('root password is in /etc/shadow-canary-text\r\n'));
    const result = await rec.close();

    const bytes = readFileSync(file);
    assert.equal(result.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.equal(result.bytesWritten, bytes.length);
    assert.equal(bytes.indexOf(dataKey), -1);
    assert.equal(bytes.indexOf('shadow-canary-text'), -1);
    assert.equal((await loadRecording(source)).sha256, result.sha256);
  });

  it('creates the file readable by its owner only and never over an existing file', async () => {
    const { rec, file } = await recorder();
    await rec.close();
    const { statSync } = await import('node:fs');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const before = readFileSync(file);
    await assert.rejects(
      createRecorder({
        path: file,
        sessionId: SESSION,
        dataKey: randomBytes(32),
        header: { width: 80, height: 24, timestamp: 0 },
        onFailure: () => undefined,
      }),
      { code: 'RECORDING_UNAVAILABLE' },
    );
    assert.deepEqual(readFileSync(file), before);
  });

  it('reads an empty session: a header, no events', async () => {
    const { rec, source } = await recorder();
    await rec.close();
    const loaded = await loadRecording(source);
    assert.equal(loaded.events.length, 0);
    assert.equal(loaded.truncated, false);
  });

  it('streams: the header comes first and the end says how the file ended', async () => {
    const { source } = await threeFrames();
    const kinds: string[] = [];
    for await (const item of readRecording(source)) kinds.push(item.kind);
    assert.equal(kinds[0], 'header');
    assert.equal(kinds.at(-1), 'end');
    assert.equal(kinds.filter((k) => k === 'event').length, 6);
  });

  it('exports a .cast that asciinema plays back to the same output', async (t) => {
    const hasTools = ['asciinema', 'script'].every(
      (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0,
    );
    if (!hasTools) return t.skip('asciinema or script (util-linux) not installed');
    const { rec, source } = await recorder();
    rec.output(Buffer.from([0xe4, 0xbd]));
    rec.output(Buffer.from([0xa0, 0xe5, 0xa5, 0xbd, 0x0a]));
    rec.output(Buffer.from('ls\n'));
    await rec.close();
    const castFile = path.join(dir, 'play.cast');
    writeFileSync(castFile, (await exportAsciicast(source)).cast);
    // asciinema cat wants a terminal: script gives it one.
    const run = spawnSync('script', ['-qec', `asciinema cat ${castFile}`, '/dev/null'], {
      input: '',
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.replaceAll('\r\n', '\n'), '你好\nls\n');
  });
});

describe('recording: F14, a file cut by a crash', () => {
  it('reads a file cut mid-frame up to its last whole frame and says it was truncated', async () => {
    const { file, source } = await threeFrames();
    const offsets = frameOffsets(file);
    assert.equal(offsets.length, 5, 'header frame, three flushed frames, final frame');
    const thirdFrame = offsets[3] ?? 0;
    truncateSync(file, thirdFrame + 20);

    const loaded = await loadRecording(source);
    assert.equal(loaded.truncated, true);
    assert.equal(loaded.frames, 3);
    assert.deepEqual(outputs(loaded.events), [
      'frame 1 line a\r\n',
      'frame 1 line b\r\n',
      'frame 2 line a\r\n',
      'frame 2 line b\r\n',
    ]);
  });

  it('reads a file cut exactly at a frame boundary as truncated, not finished', async () => {
    const { file, source } = await threeFrames();
    truncateSync(file, frameOffsets(file).at(-1) ?? 0);
    const loaded = await loadRecording(source);
    assert.equal(loaded.truncated, true);
    assert.equal(outputs(loaded.events).length, 6);
  });

  it('reads zeros left after the last frame by a machine crash as a cut', async () => {
    const { file, source } = await threeFrames();
    const bytes = readFileSync(file);
    const lastFrame = frameOffsets(file).at(-1) ?? 0;
    writeFileSync(file, Buffer.concat([bytes.subarray(0, lastFrame), Buffer.alloc(4096)]));
    const loaded = await loadRecording(source);
    assert.equal(loaded.truncated, true);
    assert.equal(outputs(loaded.events).length, 6);
  });
});

describe('recording: tampering and keys', () => {
  const corrupt = { code: 'INTEGRITY_FAILURE' };

  it('refuses a flipped bit in a frame and names the frame, after the frames before it', async () => {
    const { file, source } = await threeFrames();
    const bytes = readFileSync(file);
    const target = (frameOffsets(file)[2] ?? 0) + FRAME_HEADER_BYTES + 1;
    bytes[target] = (bytes[target] ?? 0) ^ 0x01;
    writeFileSync(file, bytes);

    const seen: string[] = [];
    await assert.rejects(
      async () => {
        for await (const item of readRecording(source)) {
          if (item.kind === 'event') seen.push(item.event.data);
        }
      },
      { ...corrupt, details: { frame: 2 } },
    );
    assert.deepEqual(seen, ['frame 1 line a\r\n', 'frame 1 line b\r\n']);
  });

  it('refuses frames swapped, a final flag set early, a frame removed, bytes appended', async () => {
    const { file, source } = await threeFrames();
    const original = readFileSync(file);
    const at = frameOffsets(file);
    const [, f1 = 0, f2 = 0, f3 = 0] = at;
    const cases: Record<string, Buffer> = {
      swapped: Buffer.concat([
        original.subarray(0, f1),
        original.subarray(f2, f3),
        original.subarray(f1, f2),
        original.subarray(f3),
      ]),
      'final flag': Buffer.from(original).fill(0x01, f1 + 4, f1 + 5),
      removed: Buffer.concat([original.subarray(0, f1), original.subarray(f2)]),
      // Cut after frame 3, then frame 3 claimed to be the last: the cut would pass for an end.
      'cut, marked final': Buffer.from(original.subarray(0, at[4])).fill(0x01, f3 + 4, f3 + 5),
      appended: Buffer.concat([original, Buffer.from('x')]),
      'not a recording': Buffer.from('{"version": 2, "width": 80, "height": 24}\n'),
    };
    for (const [name, bytes] of Object.entries(cases)) {
      writeFileSync(file, bytes);
      await assert.rejects(loadRecording(source), corrupt, name);
    }
  });

  it('refuses another key and another session id before yielding any event', async () => {
    const { source } = await threeFrames();
    for (const wrong of [
      { ...source, dataKey: randomBytes(32) },
      { ...source, sessionId: 'sess-0002' },
    ]) {
      const seen: unknown[] = [];
      await assert.rejects(
        async () => {
          for await (const item of readRecording(wrong)) seen.push(item);
        },
        { ...corrupt, details: { frame: 0 } },
      );
      assert.deepEqual(seen, []);
    }
  });
});

describe('recording: size on disk', () => {
  /** Lines like `ls -l` and a service log, in SSH-sized packets. */
  function typicalText(bytes: number): Buffer[] {
    const packets: Buffer[] = [];
    let total = 0;
    for (let i = 0; total < bytes; i++) {
      const lines: string[] = [];
      for (let j = 0; j < 24; j++) {
        const n = i * 24 + j;
        lines.push(
          n % 3 === 0
            ? `-rw-r--r-- 1 app app ${(n * 7919) % 100_000} Dec  4 17:${String(n % 60).padStart(2, '0')} report-${n}.csv\r\n`
            : `2025-12-04T17:${String(n % 60).padStart(2, '0')}:${String((n * 13) % 60).padStart(2, '0')}Z INFO worker-${n % 8} processed job ${n * 31} in ${n % 997} ms\r\n`,
        );
      }
      const packet = Buffer.from(lines.join(''));
      packets.push(packet);
      total += packet.length;
    }
    return packets;
  }

  async function recordPackets(packets: readonly Buffer[]) {
    const clock = manualClock();
    const { rec } = await recorder({ clock });
    let output = 0;
    for (const packet of packets) {
      clock.advance(3);
      assert.equal(rec.output(packet), true);
      output += packet.length;
    }
    const { bytesWritten } = await rec.close();
    return { output, bytesWritten };
  }

  it('stays within 1.1 times the output for 1 MiB of typical text', async () => {
    const { output, bytesWritten } = await recordPackets(typicalText(1024 * 1024));
    assert.ok(bytesWritten <= 1.1 * output, `${bytesWritten} bytes for ${output} of output`);
  });

  it('stores 1 MiB of random bytes at about their own size', async () => {
    // Compressing what does not compress costs ten times what text does: such frames are stored.
    const packets = Array.from({ length: 256 }, () => randomBytes(4096));
    const { output, bytesWritten } = await recordPackets(packets);
    assert.ok(bytesWritten <= 1.01 * output, `${bytesWritten} bytes for ${output} of output`);
  });

  it('stays small for 1 MiB of NUL bytes (escaped six times over in JSON)', async () => {
    const packets = Array.from({ length: 256 }, () => Buffer.alloc(4096));
    const { bytesWritten } = await recordPackets(packets);
    assert.ok(bytesWritten < 64 * 1024, `${bytesWritten} bytes`);
  });
});

describe('recording: a writer that falls behind', () => {
  it('wakes whoever waits on it as its frames are written', async () => {
    // The gateway holds a bulk transfer's output on this, and lets it flow again when woken.
    const { rec, source } = await recorder();
    const line = Buffer.from(`${'2025-12-04T17:00:00Z INFO worker-3 job done'.repeat(3)}\r\n`);
    const packet = Buffer.concat(Array.from({ length: 256 }, () => line));
    let output = 0;
    while (output < 3 * FRAME_TEXT_BYTES) {
      assert.equal(rec.output(packet), true);
      output += packet.length;
    }
    assert.ok(rec.bufferedBytes >= 3 * FRAME_TEXT_BYTES);
    const seen: number[] = [];
    while (rec.bufferedBytes >= FRAME_TEXT_BYTES && seen.length < 1_000) {
      await rec.written();
      seen.push(rec.bufferedBytes);
    }
    assert.ok(rec.bufferedBytes < FRAME_TEXT_BYTES, `still ${rec.bufferedBytes} bytes waiting`);
    // Nothing being written: it answers anyway, on the loop's next turn.
    await rec.written();
    await rec.close();
    const { events } = await loadRecording(source);
    assert.equal(outputs(events).join('').length, output);
  });
});

describe('recording: format versions', () => {
  const castText = (lines: readonly string[]) => Buffer.from(lines.map((l) => `${l}\n`).join(''));
  const HEADER = '{"version":2,"width":80,"height":24,"timestamp":1760000000}';

  /** A file of `version` whose frames hold these plaintexts, the last one final. */
  function fileOf(version: 1 | 2 | 3, dataKey: Buffer, plaintexts: readonly Buffer[]): string {
    const file = path.join(dir, `v${version}-${++fileCount}.rec`);
    const frames = plaintexts.map((plain, frame) =>
      sealFrame(dataKey, SESSION, frame, frame === plaintexts.length - 1, plain, version),
    );
    writeFileSync(file, Buffer.concat([FILE_MAGIC, Buffer.of(version), ...frames]));
    return file;
  }

  /** Records (recording-records.ts), as a recorder writes them. */
  const records = (...items: [string, number, string | Buffer][]) =>
    Buffer.concat(
      items.map(([kind, time, data]) => {
        const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
        const head = Buffer.alloc(13);
        head.write(kind, 0, 'latin1');
        head.writeDoubleBE(time, 1);
        head.writeUInt32BE(bytes.length, 9);
        return Buffer.concat([head, bytes]);
      }),
    );

  it('still reads version 1: one deflate stream across frames, flushed at each', async () => {
    const parts = [
      castText([HEADER, '[0.5, "o", "first\\r\\n"]']),
      castText(['[1.5, "o", "second\\r\\n"]']),
      castText(['[2.5, "o", "third\\r\\n"]']),
    ];
    const deflate = createDeflateRaw();
    const chunks: Buffer[] = [];
    deflate.on('data', (chunk: Buffer) => chunks.push(chunk));
    const plaintexts: Buffer[] = [];
    for (const [index, part] of parts.entries()) {
      if (index === parts.length - 1) {
        deflate.end(part);
        await once(deflate, 'end');
      } else {
        deflate.write(part);
        await new Promise((resolve) =>
          deflate.flush(zlibConstants.Z_SYNC_FLUSH, () => resolve(undefined)),
        );
      }
      plaintexts.push(Buffer.concat(chunks.splice(0)));
    }
    const dataKey = randomBytes(32);
    const file = fileOf(1, dataKey, plaintexts);
    const loaded = await loadRecording({ path: file, sessionId: SESSION, dataKey });
    assert.deepEqual(outputs(loaded.events), ['first\r\n', 'second\r\n', 'third\r\n']);
    assert.equal(loaded.truncated, false);
  });

  it('writes version 3: every frame a brotli stream, read without the ones before it', async () => {
    const { file, dataKey } = await threeFrames();
    const bytes = readFileSync(file);
    assert.equal(bytes[FILE_MAGIC.length], 3);
    const offsets = frameOffsets(file);
    const at = offsets[2] as number;
    const { length } = readFrameHeader(bytes.subarray(at, at + FRAME_HEADER_BYTES), 2);
    const sealed = bytes.subarray(at, at + FRAME_HEADER_BYTES + length);
    const text = brotliDecompressSync(openFrame(3, dataKey, SESSION, 2, sealed)).toString('utf8');
    assert.match(text, /frame 2 line a/);
    assert.doesNotMatch(text, /frame 1/);
  });

  it('refuses a frame that expands past what a writer puts in one', async () => {
    const dataKey = randomBytes(32);
    const big = records(['h', 0, HEADER], ['o', 1, 'a'.repeat(FRAME_TEXT_BYTES)]);
    assert.ok(big.length > FRAME_TEXT_BYTES);
    for (const file of [
      fileOf(2, dataKey, [deflateRawSync(big)]),
      fileOf(3, dataKey, [brotliCompressSync(big)]),
    ]) {
      await assert.rejects(loadRecording({ path: file, sessionId: SESSION, dataKey }), {
        code: 'INTEGRITY_FAILURE',
        message: /cannot be decoded/,
      });
    }
  });

  /** The file with its clear version byte set to `version`. */
  const relabelled = (file: string, version: number) => {
    const bytes = readFileSync(file);
    bytes[FILE_MAGIC.length] = version;
    const copy = path.join(dir, `relabelled-${++fileCount}.rec`);
    writeFileSync(copy, bytes);
    return copy;
  };

  it('refuses an unknown version', async () => {
    const { file, dataKey } = await threeFrames();
    const source = { path: relabelled(file, 4), sessionId: SESSION, dataKey };
    await assert.rejects(loadRecording(source), {
      code: 'INTEGRITY_FAILURE',
      message: /unknown recording format version/,
    });
  });

  it('refuses a file relabelled with another version: the version is authenticated', async () => {
    // Read as version 1, a later file would yield its first frame and seem whole.
    const { file, dataKey } = await threeFrames();
    for (const version of [1, 2]) {
      const source = { path: relabelled(file, version), sessionId: SESSION, dataKey };
      await assert.rejects(loadRecording(source), {
        code: 'INTEGRITY_FAILURE',
        message: /frame 0 failed authentication/,
      });
    }
    const oldKey = randomBytes(32);
    const old = fileOf(1, oldKey, [deflateRawSync(castText([HEADER, '[1, "o", "x"]']))]);
    const asTwo = { path: relabelled(old, 2), sessionId: SESSION, dataKey: oldKey };
    await assert.rejects(loadRecording(asTwo), {
      code: 'INTEGRITY_FAILURE',
      message: /frame 0 failed authentication/,
    });
  });

  it('makes events of records when read, as a recorder decoding as it went', async () => {
    const dataKey = randomBytes(32);
    const euro = Buffer.from('€', 'utf8');
    const plain = records(
      ['h', 0, HEADER],
      ['o', 0.5, 'a'],
      ['o', 0.5, euro.subarray(0, 2)], // "€" split across two packets comes out whole
      ['o', 0.7, euro.subarray(2)],
      ['o', 1, 'x'],
      ['r', 1.5, '80x24'],
      ['m', 2, 'note'],
      ['o', 2.5, euro.subarray(0, 1)], // cut by the end: U+FFFD at the break
      ['f', 3, ''],
    );
    const file = fileOf(3, dataKey, [brotliCompressSync(plain)]);
    const loaded = await loadRecording({ path: file, sessionId: SESSION, dataKey });
    assert.deepEqual(loaded.events, [
      { time: 0.5, code: 'o', data: 'a' },
      { time: 0.7, code: 'o', data: '€' },
      { time: 1, code: 'o', data: 'x' },
      { time: 1.5, code: 'r', data: '80x24' },
      { time: 2, code: 'm', data: 'note' },
      { time: 3, code: 'o', data: '\ufffd' },
    ]);
    const { cast } = await exportAsciicast({ path: file, sessionId: SESSION, dataKey });
    assert.equal(cast.split('\n')[2], '[0.7,"o","€"]');
  });

  it('still reads version 2: the same records in raw deflate frames', async () => {
    const dataKey = randomBytes(32);
    const frames = [
      records(['h', 0, HEADER], ['o', 0.5, 'first\r\n']),
      records(['i', 1, 'ls\r'], ['o', 1.5, 'second\r\n']),
    ];
    const file = fileOf(
      2,
      dataKey,
      frames.map((plain) => deflateRawSync(plain)),
    );
    const loaded = await loadRecording({ path: file, sessionId: SESSION, dataKey });
    assert.deepEqual(loaded.events, [
      { time: 0.5, code: 'o', data: 'first\r\n' },
      { time: 1, code: 'i', data: 'ls\r' },
      { time: 1.5, code: 'o', data: 'second\r\n' },
    ]);
    assert.equal(loaded.truncated, false);
  });

  it('refuses records that no recorder writes', async () => {
    const dataKey = randomBytes(32);
    const cases: [string, Buffer][] = [
      ['does not start with an asciicast header', records(['o', 0, 'x'])],
      ['a second header', records(['h', 0, HEADER], ['h', 1, HEADER])],
      ['cannot be decoded', records(['h', 0, HEADER], ['z', 1, 'x'])],
      ['cannot be decoded', records(['h', 0, HEADER], ['o', -1, 'x'])],
      ['ends mid-record', records(['h', 0, HEADER], ['o', 1, 'xyz']).subarray(0, -1)],
    ];
    for (const [message, plain] of cases) {
      const file = fileOf(3, dataKey, [brotliCompressSync(plain)]);
      await assert.rejects(loadRecording({ path: file, sessionId: SESSION, dataKey }), {
        code: 'INTEGRITY_FAILURE',
        message: new RegExp(message),
      });
    }
  });
});
