import type { TesseraError } from '../errors.ts';
import type { FrameWriter } from './frame-writer.ts';
import { ioErrorCode, recordingUnavailable } from './recording-errors.ts';
import { FRAME_TEXT_BYTES } from './recording-format.ts';

/**
 * Lines of a recording on their way to disk. Appending never waits: a frame goes out as soon as
 * a frame's worth is buffered, and everything is synced at least once per interval (one sync per
 * interval however much is written). Up to WRITES_IN_FLIGHT batches are written at once, so one
 * batch compresses while the one before is sealed and appended; the writer keeps their order.
 */
export interface WriteQueue {
  /**
   * Text kept as the string it is until written: a small Buffer per line would be cut from
   * Node's shared pool, and lines of many sessions interleaved keep most of its slabs alive.
   */
  append(line: string): void;
  /** Writes and syncs what is buffered now. */
  flush(): Promise<void>;
  /** Writes the rest as the final frame, syncs and closes the file. */
  end(): Promise<void>;
  /** Appended but not yet written. */
  readonly bufferedBytes: number;
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

export function createWriteQueue(options: WriteQueueOptions): WriteQueue {
  const { writer, flushIntervalMs } = options;
  let pending: string[] = [];
  let pendingBytes = 0;
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
    const text = Buffer.from(pending.join(''), 'utf8');
    pending = [];
    pendingBytes = 0;
    return text;
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
      .then(() => (sync ? writer.sync() : undefined))
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
    append(line) {
      if (failure !== null || ending) return;
      pending.push(line);
      pendingBytes += Buffer.byteLength(line, 'utf8');
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

    get failure() {
      return failure;
    },
  };
}
