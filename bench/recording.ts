/**
 * Benchmark: the session recorder (src/sessions/recorder.ts). Terminal output of three kinds
 * (log and listing text, NUL bytes, random bytes) is recorded as fast as it comes, in 4 KiB
 * packets, and compared with writing the same bytes raw to a file in the same run. A keystroke
 * session (one byte typed, one echoed) shows the cost of many tiny events. The bytes on disk per
 * byte of output are reported for each, and, when `asciinema` is installed, set against the size
 * of `asciinema rec -c 'cat FILE'` of the same output. The frames' compression (brotli, format
 * version 3) is timed against version 2's (raw deflate, level 1) on the same frames.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { deflateRaw, type ZlibOptions } from 'node:zlib';
import { compressFrame } from '../src/sessions/frame-compressor.ts';
import { createRecorder, type Recorder } from '../src/sessions/recorder.ts';
import { type TempDir, tempDir } from './support/places.ts';
import type {
  BenchContext,
  Benchmark,
  BenchReport,
  GoalCheck,
  Measurement,
} from './support/report.ts';

const MIB = 1024 * 1024;
const PACKET_BYTES = 4096;
/** The recorder's buffer for the bench: large, so a burst is measured, not dropped. */
const MAX_BUFFERED = 256 * MIB;
/** The producer waits while this much recorded text is unwritten, as an SSH window would. */
const PAUSE_ABOVE_BYTES = 32 * MIB;
/** How often the producer lets the event loop run compression and writes. */
const YIELD_EVERY_BYTES = 256 * 1024;
const KEYSTROKES = 20_000;
const ASCIINEMA_BYTES = 4 * MIB;
const GOAL_TEXT_RATIO = 1.1;
const GOAL_TEXT_MIB_S = 50;
/** Output compressed per workload and frame size in the codec comparison. */
const CODEC_MIB = 16;
/** A bulk transfer's frames, and an interactive session's second of output. */
const CODEC_FRAME_BYTES = [1024 * 1024, 16 * 1024] as const;
/** What version 2 of the format compressed each frame with. */
const VERSION_2_DEFLATE = { level: 1, windowBits: 13, memLevel: 6 } as const;
const VERSION_2_SAMPLE_BYTES = 4096;

interface Workload {
  readonly name: string;
  readonly mib: number;
  packet(index: number): Buffer;
}

const WORKLOADS: readonly Workload[] = [
  { name: 'text', mib: 64, packet: textPacket },
  { name: 'NUL bytes', mib: 64, packet: () => Buffer.alloc(PACKET_BYTES) },
  { name: 'random bytes', mib: 32, packet: () => randomBytes(PACKET_BYTES) },
];

interface CodecRun {
  readonly workload: string;
  readonly frameBytes: number;
  readonly outputBytes: number;
  readonly brotli: { seconds: number; bytes: number };
  readonly deflate: { seconds: number; bytes: number };
}

interface Run {
  readonly workload: string;
  readonly outputBytes: number;
  readonly seconds: number;
  readonly fileBytes: number;
  readonly droppedBytes: number;
}

export const recording: Benchmark = {
  name: 'recording',
  title: 'session recorder throughput and size on disk',
  run,
};

async function run(context: BenchContext): Promise<BenchReport> {
  const dir = tempDir('recording');
  try {
    const runs: { recorded: Run; raw: Run }[] = [];
    for (const workload of WORKLOADS) {
      context.log(`${workload.name}: ${workload.mib} MiB recorded, then written raw`);
      const packets = packetsOf(workload);
      const recorded = await recordPackets(dir, workload.name, packets);
      const raw = await writeRaw(dir, workload.name, packets);
      runs.push({ recorded, raw });
    }
    context.log(`keystrokes: ${KEYSTROKES} typed and echoed`);
    const keystrokes = await recordKeystrokes(dir);
    context.log(
      'frame compression: brotli (version 3) against deflate (version 2), frame by frame',
    );
    const codecs = await compareCodecs();
    context.log('asciinema rec of the same output, if installed');
    const asciinema = compareWithAsciinema(dir, context);
    return report(runs, keystrokes, codecs, await asciinema);
  } finally {
    dir.remove();
  }
}

function packetsOf(workload: Workload): Buffer[] {
  const count = (workload.mib * MIB) / PACKET_BYTES;
  return Array.from({ length: count }, (_, index) => workload.packet(index));
}

let fileCount = 0;

async function newRecorder(
  dir: TempDir,
  clock?: { now(): number },
): Promise<{
  rec: Recorder;
  file: string;
}> {
  const file = path.join(dir.path, `r${++fileCount}.rec`);
  const rec = await createRecorder({
    path: file,
    sessionId: `bench-${fileCount}`,
    dataKey: randomBytes(32),
    header: { width: 200, height: 50, timestamp: Math.floor(Date.now() / 1000) },
    maxBufferedBytes: MAX_BUFFERED,
    onFailure: (error) => {
      throw error;
    },
    ...(clock === undefined ? {} : { clock }),
  });
  return { rec, file };
}

async function recordPackets(dir: TempDir, workload: string, packets: readonly Buffer[]) {
  const { rec, file } = await newRecorder(dir);
  const started = performance.now();
  let sinceYield = 0;
  let outputBytes = 0;
  for (const packet of packets) {
    rec.output(packet);
    outputBytes += packet.length;
    sinceYield += packet.length;
    if (sinceYield >= YIELD_EVERY_BYTES) {
      sinceYield = 0;
      await new Promise((resolve) => setImmediate(resolve));
      while (rec.bufferedBytes > PAUSE_ABOVE_BYTES) await rec.written();
    }
  }
  const result = await rec.close();
  const seconds = (performance.now() - started) / 1000;
  const fileBytes = statSync(file).size;
  return { workload, outputBytes, seconds, fileBytes, droppedBytes: result.droppedBytes };
}

/** The baseline: the same bytes appended raw, in the recorder's frame size, synced at the end. */
async function writeRaw(dir: TempDir, workload: string, packets: readonly Buffer[]) {
  const file = path.join(dir.path, `raw${++fileCount}.bin`);
  const handle = await open(file, 'wx', 0o600);
  const started = performance.now();
  let outputBytes = 0;
  try {
    let batch: Buffer[] = [];
    let batchBytes = 0;
    for (const packet of packets) {
      batch.push(packet);
      batchBytes += packet.length;
      if (batchBytes >= YIELD_EVERY_BYTES) {
        await handle.write(Buffer.concat(batch));
        outputBytes += batchBytes;
        batch = [];
        batchBytes = 0;
      }
    }
    await handle.write(Buffer.concat(batch));
    outputBytes += batchBytes;
    await handle.datasync();
  } finally {
    await handle.close();
  }
  const seconds = (performance.now() - started) / 1000;
  return { workload, outputBytes, seconds, fileBytes: statSync(file).size, droppedBytes: 0 };
}

/** An interactive session: a key every 150 ms (by a clock we move), echoed. */
async function recordKeystrokes(dir: TempDir): Promise<Run> {
  let now = 0;
  const { rec, file } = await newRecorder(dir, { now: () => now });
  const started = performance.now();
  const text = 'ls -la /var/log && journalctl -u nginx --since today\r';
  for (let i = 0; i < KEYSTROKES; i++) {
    const key = Buffer.from(text[i % text.length] ?? 'x');
    now += 150;
    rec.input(key);
    now += 2;
    rec.output(key.equals(Buffer.from('\r')) ? Buffer.from('\r\n') : key);
  }
  const result = await rec.close();
  const seconds = (performance.now() - started) / 1000;
  return {
    workload: 'keystrokes',
    outputBytes: KEYSTROKES,
    seconds,
    fileBytes: statSync(file).size,
    droppedBytes: result.droppedBytes,
  };
}

/** Each frame compressed both ways, one after the other, so that both see the same machine. */
async function compareCodecs(): Promise<CodecRun[]> {
  const runs: CodecRun[] = [];
  for (const workload of WORKLOADS) {
    const output = Buffer.concat(packetsOf({ ...workload, mib: CODEC_MIB }));
    for (const frameBytes of CODEC_FRAME_BYTES) {
      const brotli = { seconds: 0, bytes: 0 };
      const deflate = { seconds: 0, bytes: 0 };
      for (let at = 0; at < output.length; at += frameBytes) {
        const frame = output.subarray(at, at + frameBytes);
        await timeInto(brotli, () => compressFrame(frame));
        await timeInto(deflate, () => deflated(frame));
      }
      runs.push({
        workload: workload.name,
        frameBytes,
        outputBytes: output.length,
        brotli,
        deflate,
      });
    }
  }
  return runs;
}

async function timeInto(
  total: { seconds: number; bytes: number },
  compress: () => Promise<Buffer>,
): Promise<void> {
  const started = performance.now();
  const compressed = await compress();
  total.seconds += (performance.now() - started) / 1000;
  total.bytes += compressed.length;
}

/**
 * Version 2's frame compression: raw deflate at level 1, or stored blocks when a 4 KiB sample
 * of a larger frame saved less than a tenth.
 */
async function deflated(frame: Buffer): Promise<Buffer> {
  if (frame.length > VERSION_2_SAMPLE_BYTES * 2) {
    const sample = await deflateWith(frame.subarray(0, VERSION_2_SAMPLE_BYTES), VERSION_2_DEFLATE);
    if (sample.length > VERSION_2_SAMPLE_BYTES * 0.9) {
      return deflateWith(frame, { ...VERSION_2_DEFLATE, level: 0 });
    }
  }
  return deflateWith(frame, VERSION_2_DEFLATE);
}

function deflateWith(bytes: Buffer, options: ZlibOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    deflateRaw(bytes, options, (error, compressed) => {
      if (error === null) resolve(compressed);
      else reject(error);
    });
  });
}

interface AsciinemaSizes {
  readonly workload: string;
  readonly outputBytes: number;
  readonly castBytes: number;
  readonly tesseraBytes: number;
}

async function compareWithAsciinema(dir: TempDir, context: BenchContext) {
  if (spawnSync('sh', ['-c', 'command -v asciinema']).status !== 0) return null;
  const sizes: AsciinemaSizes[] = [];
  for (const workload of WORKLOADS) {
    const packets = packetsOf({ ...workload, mib: ASCIINEMA_BYTES / MIB });
    const input = path.join(dir.path, `asciinema-${++fileCount}.out`);
    const cast = path.join(dir.path, `asciinema-${fileCount}.cast`);
    writeFileSync(input, Buffer.concat(packets));
    const rec = spawnSync('asciinema', ['rec', '-q', '--overwrite', '-c', `cat ${input}`, cast], {
      stdio: 'ignore',
      timeout: 120_000,
    });
    if (rec.status !== 0) {
      context.log(`asciinema rec failed for ${workload.name}`);
      continue;
    }
    const ours = await recordPackets(dir, workload.name, packets);
    sizes.push({
      workload: workload.name,
      outputBytes: ours.outputBytes,
      castBytes: statSync(cast).size,
      tesseraBytes: ours.fileBytes,
    });
  }
  return sizes;
}

function report(
  runs: readonly { recorded: Run; raw: Run }[],
  keystrokes: Run,
  codecs: readonly CodecRun[],
  asciinema: readonly AsciinemaSizes[] | null,
): BenchReport {
  const mibPerSecond = (r: Run) => r.outputBytes / MIB / r.seconds;
  const measurements: Measurement[] = runs.flatMap(({ recorded, raw }) => [
    {
      subject: `record ${recorded.workload}`,
      value: mibPerSecond(recorded),
      unit: 'MiB/s',
      baseline: { label: 'raw bytes to a file', value: mibPerSecond(raw) },
      better: 'higher',
    },
    {
      subject: `size on disk, ${recorded.workload}`,
      value: recorded.fileBytes,
      unit: 'bytes',
      baseline: { label: 'raw bytes to a file', value: raw.fileBytes },
      better: 'lower',
    },
  ]);
  measurements.push({
    subject: 'size on disk, keystrokes',
    value: keystrokes.fileBytes,
    unit: 'bytes',
    baseline: { label: 'bytes echoed', value: keystrokes.outputBytes },
    better: 'lower',
  });
  for (const codec of codecs) {
    measurements.push({
      subject: `compress ${codec.workload}, ${codec.frameBytes / 1024} KiB frames`,
      value: codec.outputBytes / MIB / codec.brotli.seconds,
      unit: 'MiB/s',
      baseline: {
        label: 'version 2 (deflate level 1)',
        value: codec.outputBytes / MIB / codec.deflate.seconds,
      },
      better: 'higher',
    });
  }
  for (const sizes of asciinema ?? []) {
    measurements.push({
      subject: `size vs asciinema, ${sizes.workload} (${ASCIINEMA_BYTES / MIB} MiB)`,
      value: sizes.tesseraBytes,
      unit: 'bytes',
      baseline: { label: "asciinema rec -c 'cat FILE'", value: sizes.castBytes },
      better: 'lower',
    });
  }
  return {
    name: 'recording',
    title: `recorder, ${PACKET_BYTES} B packets; keystrokes ${KEYSTROKES} typed and echoed`,
    measurements,
    goals: goals(runs),
    notes: notes(runs, keystrokes, codecs, asciinema),
  };
}

function goals(runs: readonly { recorded: Run; raw: Run }[]): GoalCheck[] {
  const text = runs.find((r) => r.recorded.workload === 'text')?.recorded;
  if (text === undefined) return [];
  const ratio = text.fileBytes / text.outputBytes;
  const speed = text.outputBytes / MIB / text.seconds;
  return [
    {
      goal: `text on disk ≤ ${GOAL_TEXT_RATIO}× the output`,
      measured: `${ratio.toFixed(3)}×`,
      met: ratio <= GOAL_TEXT_RATIO,
    },
    {
      goal: `records text at ≥ ${GOAL_TEXT_MIB_S} MiB/s`,
      measured: `${speed.toFixed(0)} MiB/s`,
      met: speed >= GOAL_TEXT_MIB_S,
    },
  ];
}

function notes(
  runs: readonly { recorded: Run; raw: Run }[],
  keystrokes: Run,
  codecs: readonly CodecRun[],
  asciinema: readonly AsciinemaSizes[] | null,
): string[] {
  const lines = runs.map(
    ({ recorded: r }) =>
      `${r.workload}: ${(r.outputBytes / MIB).toFixed(0)} MiB in ${r.seconds.toFixed(2)} s, ` +
      `${(r.fileBytes / r.outputBytes).toFixed(4)} bytes on disk per byte, ${r.droppedBytes} dropped`,
  );
  lines.push(
    `keystrokes: ${keystrokes.fileBytes} bytes for ${keystrokes.outputBytes} keys typed and ` +
      `echoed (${(keystrokes.fileBytes / keystrokes.outputBytes).toFixed(2)} per key, input and output)`,
    'random bytes are mostly invalid UTF-8: recorded as U+FFFD, as asciicast requires',
  );
  for (const c of codecs) {
    const share = (bytes: number) => (bytes / c.outputBytes).toFixed(3);
    lines.push(
      `compressed ${c.workload}, ${c.frameBytes / 1024} KiB frames: ` +
        `brotli ${share(c.brotli.bytes)} of the output, deflate ${share(c.deflate.bytes)}`,
    );
  }
  if (asciinema === null) lines.push('asciinema not installed: no size comparison');
  for (const s of asciinema ?? []) {
    lines.push(
      `asciinema ${s.workload}: cast ${s.castBytes} bytes, Tessera ${s.tesseraBytes} bytes ` +
        `(asciinema records through a pty, which turns LF into CR LF)`,
    );
  }
  return lines;
}

function textPacket(index: number): Buffer {
  const lines: string[] = [];
  for (let j = 0; lines.join('').length < PACKET_BYTES - 120; j++) {
    const n = index * 40 + j;
    const minute = String(n % 60).padStart(2, '0');
    lines.push(
      n % 3 === 0
        ? `-rw-r--r-- 1 app app ${(n * 7919) % 100_000} Dec  4 17:${minute} report-${n}.csv\r\n`
        : `2025-12-04T17:${minute}:0${n % 10}Z INFO worker-${n % 8} job ${n * 31} ${n % 997} ms\r\n`,
    );
  }
  return Buffer.from(lines.join(''));
}
