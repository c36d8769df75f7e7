import type { Clock } from '../clock.ts';
import type { TesseraError } from '../errors.ts';
import {
  type AsciicastEvent,
  eventTime,
  headerLine,
  isScreenDimension,
  resizeData,
} from './asciicast.ts';
import {
  createFrameWriter,
  type FrameWriter,
  type OpenRecordingFile,
  openRecordingFile,
} from './frame-writer.ts';
import { ioErrorCode, recordingUnavailable } from './recording-errors.ts';
import { assertDataKey, assertSessionId } from './recording-format.ts';
import {
  createEventDecoder,
  RECORD_HEAD_BYTES,
  type RecordKind,
  writeRecordHead,
} from './recording-records.ts';
import { createWriteQueue } from './write-queue.ts';

const EMPTY = Buffer.alloc(0);

export interface RecordingHeaderFields {
  readonly width: number;
  readonly height: number;
  /** Unix seconds when the session started. */
  readonly timestamp: number;
  readonly command?: string;
  readonly title?: string;
  readonly env?: Readonly<Record<string, string>>;
}

export interface RecorderOptions {
  /** A new file: an existing one is never overwritten. */
  readonly path: string;
  readonly sessionId: string;
  /** The recording's own 256-bit key. Copied, used, and never written to the file. */
  readonly dataKey: Buffer;
  readonly header: RecordingHeaderFields;
  /** Longest time recorded data waits in memory before it is on disk. */
  readonly flushIntervalMs?: number;
  /** Session data waiting to be written past which further output and input are dropped. */
  readonly maxBufferedBytes?: number;
  /** Called once when the file cannot be written any more; the session must end. */
  readonly onFailure: (error: TesseraError) => void;
  /** Called when a run of dropped data begins; policy decides whether the session ends. */
  readonly onDrop?: (droppedBytes: number) => void;
  /**
   * Every event as a reader will make it, at once. Given only where needed (tests): it costs the
   * UTF-8 decoding that recording otherwise leaves to the reader.
   */
  readonly onEvent?: (event: AsciicastEvent) => void;
  /** Only differences between readings are used; defaults to a monotonic clock. */
  readonly clock?: Clock;
  /** Creates the file; by default exclusively, mode 0600, with its folder entry synced. */
  readonly openFile?: OpenRecordingFile;
}

export interface RecordingResult {
  /** SHA-256 of the exact bytes of the encrypted file, hex. */
  readonly sha256: string;
  readonly bytesWritten: number;
  readonly droppedBytes: number;
}

/**
 * Records one session into an encrypted file that reads back as asciicast v2 (the bytes are
 * kept as they passed, recording-records.ts). Calls never wait for the disk: data is buffered
 * and written at least every `flushIntervalMs`. `output` and `input` answer false when their
 * bytes were not recorded (dropped, failed or closed).
 */
export interface Recorder {
  output(bytes: Buffer): boolean;
  input(bytes: Buffer): boolean;
  resize(cols: number, rows: number): boolean;
  marker(text: string): void;
  readonly droppedBytes: number;
  /** Recorded bytes not yet written: the gateway holds output briefly while this is high. */
  readonly bufferedBytes: number;
  /** Resolves once some of `bufferedBytes` is written (or on the loop's next turn). */
  written(): Promise<void>;
  /** Writes and syncs what is buffered now, without waiting for the interval. */
  flush(): Promise<void>;
  /** Writes what is left, ends the file and syncs it; rejects if the recording failed. */
  close(): Promise<RecordingResult>;
}

export const DEFAULT_FLUSH_INTERVAL_MS = 1_000;
export const DEFAULT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

const monotonicClock: Clock = { now: () => performance.now() };

/**
 * Creates the recording file and writes its header before resolving, so a session whose
 * recording cannot be written is refused before it starts (RECORDING_UNAVAILABLE).
 */
export async function createRecorder(options: RecorderOptions): Promise<Recorder> {
  checkOptions(options);
  const openFile = options.openFile ?? openRecordingFile;
  const file = await openFile(options.path).catch((error: unknown) => {
    throw recordingUnavailable(
      `session recording cannot be created (${ioErrorCode(error)})`,
      error,
    );
  });
  const writer = createFrameWriter({
    file,
    sessionId: options.sessionId,
    dataKey: options.dataKey,
  });
  try {
    const header = Buffer.from(headerLine({ version: 2, ...options.header }), 'utf8');
    const record = Buffer.alloc(RECORD_HEAD_BYTES + header.length);
    writeRecordHead(record, 0, 'h', 0, header.length);
    header.copy(record, RECORD_HEAD_BYTES);
    await writer.write(record, false);
    await writer.sync();
  } catch (error) {
    await writer.close().catch(() => undefined); // the write failure is the one to report
    throw recordingUnavailable(
      `session recording cannot be written (${ioErrorCode(error)})`,
      error,
    );
  }
  return startRecorder(writer, options);
}

type Direction = 'o' | 'i';

interface DropState {
  total: number;
  sinceMarker: number;
  since: number;
  active: boolean;
}

function startRecorder(writer: FrameWriter, options: RecorderOptions): Recorder {
  const maxBuffered = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  const clock = options.clock ?? monotonicClock;
  const started = clock.now();
  const queue = createWriteQueue({
    writer,
    flushIntervalMs: options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS,
    onFailure: options.onFailure,
  });
  // Bytes are kept as they came; events are made of them when read, or here for onEvent only.
  const live = options.onEvent === undefined ? null : createEventDecoder();
  const drop: DropState = { total: 0, sinceMarker: 0, since: 0, active: false };
  let lastTime = 0;
  let closing: Promise<RecordingResult> | null = null;

  const stopped = (): boolean => queue.failure !== null || closing !== null;

  const now = (): number => {
    lastTime = Math.max(lastTime, eventTime((clock.now() - started) / 1000));
    return lastTime;
  };

  const record = (kind: RecordKind, data: Buffer | string): void => {
    const time = now();
    queue.append(kind, time, data);
    if (live === null) return;
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    for (const event of live.events({ kind, time, data: bytes })) options.onEvent?.(event);
  };

  const isFull = (): boolean => {
    // Resume only at half, so a full buffer does not alternate drop and record on every packet.
    const limit = drop.active ? maxBuffered / 2 : maxBuffered;
    return queue.bufferedBytes >= limit;
  };

  /** Where a decoder would end: a character cut here becomes U+FFFD, not a mix of two. */
  const breakDecoding = (): void => record('f', EMPTY);

  const dropped = (bytes: Buffer): void => {
    const first = !drop.active;
    if (first) {
      drop.active = true;
      drop.since = now();
      breakDecoding(); // a character cut by the gap becomes U+FFFD, not a mix of two packets
    }
    drop.total += bytes.length;
    drop.sinceMarker += bytes.length;
    if (first) options.onDrop?.(drop.total);
  };

  const endDropping = (): void => {
    const { sinceMarker, since } = drop;
    drop.active = false;
    drop.sinceMarker = 0;
    const text = `tessera: ${sinceMarker} bytes of session data not recorded since ${since} s`;
    record('m', `${text} (recording buffer full)`);
  };

  const accept = (code: Direction, bytes: Buffer): boolean => {
    if (stopped()) return false;
    if (isFull()) {
      dropped(bytes);
      return false;
    }
    if (drop.active) endDropping();
    record(code, bytes);
    return true;
  };

  const finish = async (): Promise<RecordingResult> => {
    if (queue.failure === null) {
      breakDecoding();
      if (drop.active) endDropping();
    }
    await queue.end();
    return { sha256: writer.digest(), bytesWritten: writer.bytesWritten, droppedBytes: drop.total };
  };

  return {
    output: (bytes) => accept('o', bytes),
    input: (bytes) => accept('i', bytes),

    resize(cols, rows) {
      if (stopped() || !isScreenDimension(cols) || !isScreenDimension(rows)) return false;
      record('r', resizeData({ cols, rows }));
      return true;
    },

    marker(text) {
      if (!stopped()) record('m', text);
    },

    get droppedBytes() {
      return drop.total;
    },

    get bufferedBytes() {
      return queue.bufferedBytes;
    },

    written: () => queue.written(),

    flush: () => queue.flush(),

    close() {
      closing ??= finish();
      return closing;
    },
  };
}

function checkOptions(options: RecorderOptions): void {
  assertSessionId(options.sessionId);
  assertDataKey(options.dataKey);
  const { width, height, timestamp } = options.header;
  if (!isScreenDimension(width) || !isScreenDimension(height)) {
    throw new RangeError('recording header width and height must be whole numbers of cells');
  }
  if (!Number.isFinite(timestamp)) throw new RangeError('recording header timestamp is invalid');
  const interval = options.flushIntervalMs;
  if (interval !== undefined && !(interval > 0 && Number.isFinite(interval))) {
    throw new RangeError('flushIntervalMs must be a positive number');
  }
  const max = options.maxBufferedBytes;
  if (max !== undefined && !(Number.isInteger(max) && max > 0)) {
    throw new RangeError('maxBufferedBytes must be a positive integer');
  }
}
