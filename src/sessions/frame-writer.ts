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
 * Not safe for concurrent calls: the recorder runs one `write` at a time.
 */
export interface FrameWriter {
  /** Compresses, seals and appends `text`, in frames of at most FRAME_TEXT_BYTES. */
  write(text: Buffer, final: boolean): Promise<void>;
  /** Waits until everything written is on disk. */
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

  const append = async (bytes: Buffer): Promise<void> => {
    let offset = 0;
    while (offset < bytes.length) {
      const { bytesWritten: n } = await file.write(bytes, offset, bytes.length - offset);
      offset += n;
    }
    hash.update(bytes);
    bytesWritten += bytes.length;
  };

  const writeFrame = async (text: Buffer, final: boolean): Promise<void> => {
    const compressed = await compressFrame(text);
    const frame = sealFrame(key, sessionId, frames, final, compressed);
    frames += 1;
    // The file header goes out with the first frame: one write, and a file never holds only it.
    const bytes = pendingHead === null ? frame : Buffer.concat([pendingHead, frame]);
    pendingHead = null;
    await append(bytes);
  };

  return {
    async write(text, final) {
      if (text.length === 0 && !final) return;
      const slices = sliceText(text);
      for (const [index, slice] of slices.entries()) {
        await writeFrame(slice, final && index === slices.length - 1);
      }
    },

    sync: () => file.datasync(),

    get bytesWritten() {
      return bytesWritten;
    },

    digest() {
      return hash.copy().digest('hex');
    },

    async close() {
      key.fill(0);
      await file.close();
    },
  };
}

/** Creates the file (never over an existing one, readable by the owner only) and syncs its entry. */
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
