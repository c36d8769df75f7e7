import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { compressFrame } from './frame-compressor.ts';
import { FRAME_TEXT_BYTES, fileHeader, sealFrame } from './recording-format.ts';

/** The part of a file handle the writer uses; `fs/promises` FileHandle fits it. */
export interface RecordingFile {
  write(buffer: Buffer, offset: number, length: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  close(): Promise<void>;
}

export type OpenRecordingFile = (file: string) => Promise<RecordingFile>;

/**
 * Appends compressed, encrypted frames to a new recording file and flushes each batch to disk.
 * Calls may overlap: each write's frames are compressed at once, side by side with those of the
 * writes before it (every frame is compressed on its own), and sealed and appended in the
 * order of the calls. After a failed write or sync nothing more is appended, so a file never
 * holds a frame after a broken one.
 */
export interface FrameWriter {
  /** Compresses, seals and appends `text`, in frames of at most FRAME_TEXT_BYTES. */
  write(text: Buffer, final: boolean): Promise<void>;
  /** Waits until everything written by the calls before is on disk. */
  sync(): Promise<void>;
  readonly bytesWritten: number;
  /** SHA-256 of every byte written so far, hex. */
  digest(): string;
  /** Closes the file and forgets the data key. */
  close(): Promise<void>;
}

export interface FrameWriterOptions {
  readonly file: RecordingFile;
  readonly sessionId: string;
  readonly dataKey: Buffer;
}

export function createFrameWriter(options: FrameWriterOptions): FrameWriter {
  const { file, sessionId } = options;
  // A copy in memory of its own (Buffer.alloc never uses the shared pool), zeroed at close.
  const key = Buffer.alloc(options.dataKey.length);
  options.dataKey.copy(key);
  const hash = createHash('sha256');
  let pendingHead: Buffer | null = fileHeader();
  let frames = 0;
  let bytesWritten = 0;
  // Appends, syncs and the close run one after another, in the order they were asked for.
  let tail: Promise<void> = Promise.resolve();
  let broken: unknown = null;

  const inOrder = (work: () => Promise<void>): Promise<void> => {
    const run = tail.then(async () => {
      if (broken !== null) throw broken;
      try {
        await work();
      } catch (error) {
        broken = error;
        throw error;
      }
    });
    tail = run.catch(() => undefined);
    return run;
  };

  const append = async (bytes: Buffer): Promise<void> => {
    let offset = 0;
    while (offset < bytes.length) {
      const { bytesWritten: n } = await file.write(bytes, offset, bytes.length - offset);
      offset += n;
    }
    hash.update(bytes);
    bytesWritten += bytes.length;
  };

  const appendFrame = async (compressed: Buffer, final: boolean): Promise<void> => {
    const frame = sealFrame(key, sessionId, frames, final, compressed);
    frames += 1;
    // The file header goes out with the first frame: one write, and a file never holds only it.
    const bytes = pendingHead === null ? frame : Buffer.concat([pendingHead, frame]);
    pendingHead = null;
    await append(bytes);
  };

  return {
    write(text, final) {
      if (text.length === 0 && !final) return Promise.resolve();
      const slices = sliceText(text);
      const compressing = slices.map((slice) => compressFrame(slice));
      // Handled in order below; until then a failure must not count as unhandled.
      for (const compressed of compressing) compressed.catch(() => undefined);
      return inOrder(async () => {
        for (const [index, compressed] of compressing.entries()) {
          await appendFrame(await compressed, final && index === slices.length - 1);
        }
      });
    },

    sync: () => inOrder(() => file.datasync()),

    get bytesWritten() {
      return bytesWritten;
    },

    digest() {
      return hash.copy().digest('hex');
    },

    async close() {
      // After every write and sync asked for, whether or not they failed.
      await tail;
      key.fill(0);
      await file.close();
    },
  };
}

/** Creates the file (never over an existing one; the owner's alone) and syncs its folder entry. */
export const openRecordingFile: OpenRecordingFile = async (file) => {
  const handle = await open(file, 'wx', 0o600);
  try {
    await syncDirectory(path.dirname(file));
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
};

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function sliceText(text: Buffer): Buffer[] {
  if (text.length <= FRAME_TEXT_BYTES) return [text];
  const slices: Buffer[] = [];
  for (let at = 0; at < text.length; at += FRAME_TEXT_BYTES) {
    slices.push(text.subarray(at, at + FRAME_TEXT_BYTES));
  }
  return slices;
}
