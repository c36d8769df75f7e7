import type { TesseraError } from '../errors.ts';
import type { FrameWriter } from './frame-writer.ts';
import { ioErrorCode, recordingUnavailable } from './recording-errors.ts';
import { FRAME_TEXT_BYTES } from './recording-format.ts';
import { RECORD_HEAD_BYTES, type RecordKind, writeRecordHead } from './recording-records.ts';

/**
 * Records of a recording on their way to disk. Appending never waits: a frame goes out as soon as
 * a frame's worth is buffered, and everything is synced at least once per interval (one sync per
 * interval however much is written). Up to WRITES_IN_FLIGHT batches are written at once, so one
 * batch compresses while the one before is sealed and appended; the writer keeps their order.
 */
export interface WriteQueue {
  /**
   * Copies one record (recording-records.ts) into the session's own growing buffer: no string
   * and no Buffer per record, so nothing on the JavaScript heap outlives a young collection and
   * nothing is cut from Node's shared pool, whose slabs many sessions' records would pin.
   */
  append(kind: RecordKind, time: number, data: Buffer | string): void;
  /** Writes and syncs what is buffered now. */
  flush(): Promise<void>;
  /** Writes the rest as the final frame, syncs and closes the file. */
  end(): Promise<void>;
  /** Appended but not yet written. */
  readonly bufferedBytes: number;
  /**
   * Resolves once one of the batches being written now is written, or on the loop's next turn
   * when none is: for a caller that waits for `bufferedBytes` to fall.
   */
  written(): Promise<void>;
  readonly failure: TesseraError | null;
}

export interface WriteQueueOptions {
  readonly writer: FrameWriter;
  readonly flushIntervalMs: number;
  /** Called once, on the first failed write or sync. */
  readonly onFailure: (error: TesseraError) => void;
}

/**
 * Two batches keep two of libuv's threads compressing for a session that outputs faster than one
 * thread compresses; more would only hold more memory (each compression takes about 120 KiB).
 */
const WRITES_IN_FLIGHT = 2;
/**
 * A session that fills frames (a bulk transfer) keeps one written buffer for its next records,
 * which spares V8 a full collection every few frames; one that writes on the interval keeps none,
 * so that a thousand quiet sessions do not each hold a spare.
 */
const RECYCLED_BYTES = FRAME_TEXT_BYTES / 4;
const FIRST_BUFFER_BYTES = 4096;

export function createWriteQueue(options: WriteQueueOptions): WriteQueue {
  const { writer, flushIntervalMs } = options;
  // Allocated for this session alone (never from the pool), and handed whole to the writer.
  let pending: Buffer | null = null;
  let pendingBytes = 0;
  const spare: Buffer[] = [];
  let expected = FIRST_BUFFER_BYTES;
  let inFlightBytes = 0;
  let queue: Promise<void> = Promise.resolve();
  const writing = new Set<Promise<void>>();
  let flushQueued = false;
  let syncWanted = false;
  let ending = false;
  // Armed while appended data is not yet on disk: the interval is a promise about durability.
  let deadline: NodeJS.Timeout | null = null;
  let failure: TesseraError | null = null;

  const takePending = (): Buffer => {
    const taken = pending === null ? Buffer.alloc(0) : pending.subarray(0, pendingBytes);
    expected = Math.max(FIRST_BUFFER_BYTES, pendingBytes);
    pending = null;
    pendingBytes = 0;
    return taken;
  };

  /**
   * Room for `more` bytes after those pending, doubling so that copies stay few. A busy
   * session's buffer comes back once written and serves again: every large Buffer allocated
   * counts towards V8's next full collection, which bulk output would bring on several times a
   * second.
   */
  const room = (more: number): Buffer => {
    const needed = pendingBytes + more;
    pending ??= spare.pop() ?? null;
    if (pending !== null && pending.length >= needed) return pending;
    // As large as the last batch and a quarter, so that a steady session grows it rarely.
    const size = Math.max(needed, (pending?.length ?? 0) * 2, expected + expected / 4);
    const larger = Buffer.allocUnsafeSlow(Math.ceil(size));
    pending?.copy(larger, 0, 0, pendingBytes);
    pending = larger;
    return larger;
  };

  const clearDeadline = (): void => {
    if (deadline !== null) clearTimeout(deadline);
    deadline = null;
  };

  const fail = (error: unknown): void => {
    if (failure !== null) return;
    const reason = recordingUnavailable(
      `session recording stopped: write failed (${ioErrorCode(error)})`,
      error,
    );
    failure = reason;
    clearDeadline();
    takePending();
    queueMicrotask(() => options.onFailure(reason));
  };

  const runFlush = async (): Promise<void> => {
    const sync = syncWanted;
    flushQueued = false;
    syncWanted = false;
    if (failure !== null) return;
    const text = takePending();
    inFlightBytes += text.length;
    const written = writer
      .write(text, false)
      .then(() => {
        // Compressed and appended: its memory may take the next records.
        if (text.length >= RECYCLED_BYTES && spare.length === 0) {
          spare.push(Buffer.from(text.buffer));
        }
        return sync ? writer.sync() : undefined;
      })
      .catch(fail)
      .finally(() => {
        inFlightBytes -= text.length;
        writing.delete(written);
      });
    writing.add(written);
    while (writing.size >= WRITES_IN_FLIGHT) await Promise.race(writing);
    if (pendingBytes >= FRAME_TEXT_BYTES && !ending) queueFlush(false);
  };

  const queueFlush = (sync: boolean): void => {
    if (failure !== null) return;
    syncWanted ||= sync;
    if (flushQueued) return;
    flushQueued = true;
    queue = queue.then(runFlush);
  };

  const onDeadline = (): void => {
    deadline = null;
    queueFlush(true);
  };

  const drain = async (): Promise<void> => {
    for (let settled = queue; ; settled = queue) {
      await settled;
      await Promise.all(writing);
      if (settled === queue) return;
    }
  };

  return {
    append(kind, time, data) {
      if (failure !== null || ending) return;
      const length = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.length;
      const into = room(RECORD_HEAD_BYTES + length);
      writeRecordHead(into, pendingBytes, kind, time, length);
      const at = pendingBytes + RECORD_HEAD_BYTES;
      if (typeof data === 'string') into.write(data, at, 'utf8');
      else data.copy(into, at);
      pendingBytes = at + length;
      deadline ??= setTimeout(onDeadline, flushIntervalMs).unref();
      if (pendingBytes >= FRAME_TEXT_BYTES) queueFlush(false);
    },

    async flush() {
      if (!ending) queueFlush(true);
      await drain();
      if (failure !== null) throw failure;
    },

    async end() {
      ending = true;
      clearDeadline();
      await drain();
      if (failure === null) {
        await writer
          .write(takePending(), true)
          .then(() => writer.sync())
          .catch(fail);
      }
      await writer.close().catch(fail);
      if (failure !== null) throw failure;
    },

    get bufferedBytes() {
      return pendingBytes + inFlightBytes;
    },

    written() {
      if (writing.size === 0) return new Promise((resolve) => setImmediate(resolve));
      return Promise.race(writing);
    },

    get failure() {
      return failure;
    },
  };
}
