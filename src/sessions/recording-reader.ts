import { createHash, type Hash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { pipeline, Readable } from 'node:stream';
import { TextDecoder } from 'node:util';
import { constants, createInflateRaw } from 'node:zlib';
import {
  type AsciicastEvent,
  type AsciicastHeader,
  parseEventLine,
  parseHeaderLine,
} from './asciicast.ts';
import { inflateFrame } from './frame-compressor.ts';
import { recordingCorrupt } from './recording-errors.ts';
import {
  assertDataKey,
  assertSessionId,
  checkFileHeader,
  FILE_HEADER_BYTES,
  type FormatVersion,
  FRAME_HEADER_BYTES,
  FRAME_TEXT_BYTES,
  openFrame,
  readFrameHeader,
} from './recording-format.ts';

/** How a read ended: `truncated` when the file stops before its final frame (a crash). */
export interface RecordingEnd {
  readonly truncated: boolean;
  readonly frames: number;
  /** SHA-256 of the file's bytes, hex, to compare with the one the audit trail pinned. */
  readonly sha256: string;
}

export type RecordingItem =
  | { readonly kind: 'header'; readonly header: AsciicastHeader }
  | { readonly kind: 'event'; readonly event: AsciicastEvent }
  | ({ readonly kind: 'end' } & RecordingEnd);

export interface LoadedRecording extends RecordingEnd {
  readonly header: AsciicastHeader;
  readonly events: readonly AsciicastEvent[];
}

export interface RecordingSource {
  readonly path: string;
  readonly sessionId: string;
  readonly dataKey: Buffer;
}

const READ_CHUNK_BYTES = 256 * 1024;

/**
 * Reads a recording as it streams off the disk: the header, every event, then how it ended.
 * A file cut mid-frame yields everything up to its last whole frame and ends `truncated`; an
 * altered frame, another session's file or another key throws INTEGRITY_FAILURE.
 */
export async function* readRecording(source: RecordingSource): AsyncGenerator<RecordingItem> {
  let header: AsciicastHeader | null = null;
  let lineNumber = 0;
  for await (const item of castLines(source)) {
    lineNumber += 1;
    if (typeof item !== 'string') {
      if (header === null) throw recordingCorrupt('recording holds no asciicast header');
      yield { kind: 'end', ...item };
      return;
    }
    if (header === null) {
      header = parseHeaderLine(item);
      if (header === null)
        throw recordingCorrupt('recording does not start with an asciicast header');
      yield { kind: 'header', header };
      continue;
    }
    const event = parseEventLine(item);
    if (event === null) throw recordingCorrupt(`recording line ${lineNumber} is not an event`);
    yield { kind: 'event', event };
  }
}

/** The whole recording in memory: for tests, commands extraction and short sessions. */
export async function loadRecording(source: RecordingSource): Promise<LoadedRecording> {
  let header: AsciicastHeader | null = null;
  const events: AsciicastEvent[] = [];
  for await (const item of readRecording(source)) {
    if (item.kind === 'header') header = item.header;
    else if (item.kind === 'event') events.push(item.event);
    else if (header !== null) {
      return {
        header,
        events,
        truncated: item.truncated,
        frames: item.frames,
        sha256: item.sha256,
      };
    }
  }
  throw recordingCorrupt('recording ended without an end'); // readRecording always ends with one
}

/** The .cast text, exactly as recorded, for `asciinema play` and other players. */
export async function exportAsciicast(
  source: RecordingSource,
): Promise<{ readonly cast: string } & RecordingEnd> {
  const lines: string[] = [];
  for await (const item of castLines(source)) {
    if (typeof item === 'string') lines.push(item, '\n');
    else return { cast: lines.join(''), ...item };
  }
  throw recordingCorrupt('recording ended without an end');
}

/**
 * Every whole line of the asciicast text, then the end. A last line without its newline can only
 * come from a cut file and is left out.
 */
async function* castLines(source: RecordingSource): AsyncGenerator<string | RecordingEnd> {
  assertSessionId(source.sessionId);
  assertDataKey(source.dataKey);
  const state: FrameState = { version: null, end: null, error: null };
  // Frame errors wait in `state` so that every line before the bad frame is read first.
  const frames = framePlaintexts(source, state);
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let partial = '';
  try {
    for await (const chunk of frameTexts(frames, state)) {
      const lines = (partial + decoder.decode(chunk, { stream: true })).split('\n');
      partial = lines.pop() ?? '';
      yield* lines;
    }
  } catch {
    // Authenticated bytes that do not inflate or decode: written by something other than Tessera.
    throw recordingCorrupt('recording text cannot be decoded');
  }
  if (state.error !== null) throw state.error;
  const end = state.end;
  if (end === null) throw recordingCorrupt('recording ended unexpectedly');
  if (!end.truncated && partial.length > 0) throw recordingCorrupt('recording ends mid-line');
  yield end;
}

/** The asciicast text, frame by frame (version 2) or as one stream across frames (version 1). */
async function* frameTexts(
  frames: AsyncGenerator<Buffer>,
  state: FrameState,
): AsyncGenerator<Buffer> {
  // Closes the file however the reading ends, also while the first frame is being read.
  try {
    const first = await frames.next(); // the file header is read by now
    if (first.done) return;
    if (state.version === 2) {
      yield await inflateFrame(first.value, FRAME_TEXT_BYTES);
      for await (const frame of frames) yield await inflateFrame(frame, FRAME_TEXT_BYTES);
      return;
    }
    const inflate = createInflateRaw({ finishFlush: constants.Z_SYNC_FLUSH });
    pipeline(Readable.from(prepend(first.value, frames)), inflate, () => undefined);
    yield* inflate as AsyncIterable<Buffer>;
  } finally {
    await frames.return(undefined);
  }
}

async function* prepend(first: Buffer, rest: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
  yield first;
  yield* rest;
}

interface FrameState {
  version: FormatVersion | null;
  end: RecordingEnd | null;
  error: unknown;
}

async function* framePlaintexts(
  source: RecordingSource,
  state: FrameState,
): AsyncGenerator<Buffer> {
  try {
    const handle = await open(source.path, 'r');
    try {
      yield* readFrames(source, createByteReader(handle), state);
    } finally {
      await handle.close();
    }
  } catch (error) {
    state.error = error;
  }
}

async function* readFrames(
  source: RecordingSource,
  bytes: ByteReader,
  state: FrameState,
): AsyncGenerator<Buffer> {
  const version = checkFileHeader(await bytes.take(FILE_HEADER_BYTES));
  state.version = version;
  for (let frame = 0; ; frame++) {
    const head = await bytes.take(FRAME_HEADER_BYTES);
    if (head.length < FRAME_HEADER_BYTES || (await isZeroTail(head, bytes, frame))) {
      state.end = { truncated: true, frames: frame, sha256: await bytes.digestToEnd() };
      return;
    }
    const { length, final } = readFrameHeader(head, frame);
    const body = await bytes.take(length);
    if (body.length < length) {
      state.end = { truncated: true, frames: frame, sha256: await bytes.digestToEnd() };
      return;
    }
    const sealed = Buffer.concat([head, body]);
    yield openFrame(version, source.dataKey, source.sessionId, frame, sealed);
    if (final) {
      if ((await bytes.take(1)).length > 0) throw recordingCorrupt('bytes after the final frame');
      state.end = { truncated: false, frames: frame + 1, sha256: bytes.digest() };
      return;
    }
  }
}

/**
 * A crash of the machine (not of the process) can leave the file longer than what reached the
 * disk, filled with zeros. Zeros from a frame boundary to the end read as a cut, not an attack.
 */
async function isZeroTail(head: Buffer, bytes: ByteReader, frame: number): Promise<boolean> {
  if (!head.every((byte) => byte === 0)) return false;
  if (await bytes.restIsZero()) return true;
  throw recordingCorrupt(`recording frame ${frame} has an invalid header`, frame);
}

interface ByteReader {
  /** The next `count` bytes, fewer only at the end of the file. */
  take(count: number): Promise<Buffer>;
  /** Reads to the end; true when every byte there is zero. */
  restIsZero(): Promise<boolean>;
  digest(): string;
  digestToEnd(): Promise<string>;
}

function createByteReader(handle: FileHandle): ByteReader {
  const hash: Hash = createHash('sha256');
  let buffered = Buffer.alloc(0);
  let eof = false;

  const fill = async (count: number): Promise<void> => {
    while (buffered.length < count && !eof) {
      const chunk = Buffer.allocUnsafe(Math.max(READ_CHUNK_BYTES, count - buffered.length));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) eof = true;
      else buffered = Buffer.concat([buffered, chunk.subarray(0, bytesRead)]);
    }
  };

  const take = async (count: number): Promise<Buffer> => {
    await fill(count);
    const bytes = buffered.subarray(0, count);
    buffered = buffered.subarray(bytes.length);
    hash.update(bytes);
    return bytes;
  };

  return {
    take,
    async restIsZero() {
      for (;;) {
        if (!buffered.every((byte) => byte === 0)) return false;
        if (eof) return true;
        hash.update(buffered);
        buffered = Buffer.alloc(0);
        await fill(1);
      }
    },
    digest: () => hash.copy().digest('hex'),
    async digestToEnd() {
      while ((await take(READ_CHUNK_BYTES)).length > 0);
      return hash.copy().digest('hex');
    },
  };
}
