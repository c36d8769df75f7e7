import { createHash, type Hash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { pipeline, Readable } from 'node:stream';
import { TextDecoder } from 'node:util';
import { constants, createInflateRaw } from 'node:zlib';
import {
  type AsciicastEvent,
  type AsciicastHeader,
  eventLine,
  headerLine,
  parseEventLine,
  parseHeaderLine,
} from './asciicast.ts';
import { expandFrame } from './frame-compressor.ts';
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
import {
  createEventDecoder,
  createRecordParser,
  type RecordingRecord,
} from './recording-records.ts';

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
  const opened = await openRecording(source);
  try {
    if (opened.version === 2 || opened.version === 3) yield* itemsOfRecords(opened, opened.version);
    else yield* itemsOfLines(castLines(opened));
  } finally {
    await opened.frames.return(undefined);
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

/**
 * The .cast text for `asciinema play` and other players: a version 1 file's text exactly as
 * written, a later file's events written as its recorder would have.
 */
export async function exportAsciicast(
  source: RecordingSource,
): Promise<{ readonly cast: string } & RecordingEnd> {
  const opened = await openRecording(source);
  try {
    const lines: string[] = [];
    const { version } = opened;
    const text =
      version === 2 || version === 3 ? linesOf(itemsOfRecords(opened, version)) : castLines(opened);
    for await (const item of text) {
      if (typeof item === 'string') lines.push(item, '\n');
      else return { cast: lines.join(''), ...item };
    }
  } finally {
    await opened.frames.return(undefined);
  }
  throw recordingCorrupt('recording ended without an end');
}

/** A recording whose file header has been read: its version, and its frames from the first. */
interface OpenedRecording {
  readonly version: FormatVersion | null;
  readonly first: IteratorResult<Buffer>;
  readonly frames: AsyncGenerator<Buffer>;
  readonly state: FrameState;
}

async function openRecording(source: RecordingSource): Promise<OpenedRecording> {
  assertSessionId(source.sessionId);
  assertDataKey(source.dataKey);
  const state: FrameState = { version: null, end: null, error: null };
  // Frame errors wait in `state` so that everything before the bad frame is read first.
  const frames = framePlaintexts(source, state);
  const first = await frames.next(); // the file header is read by now, or failed
  return { version: state.version, first, frames, state };
}

/** The frames' plaintexts, the first included. */
async function* plaintexts(opened: OpenedRecording): AsyncGenerator<Buffer> {
  if (opened.first.done) return;
  yield opened.first.value;
  yield* opened.frames;
}

/** How a read ended, once every whole frame has been read; throws what stopped it early. */
function endOf(state: FrameState): RecordingEnd {
  if (state.error !== null) throw state.error;
  if (state.end === null) throw recordingCorrupt('recording ended unexpectedly');
  return state.end;
}

/** Versions 2 and 3: records (recording-records.ts), made into the events a recorder writes. */
async function* itemsOfRecords(
  opened: OpenedRecording,
  version: 2 | 3,
): AsyncGenerator<RecordingItem> {
  const parser = createRecordParser();
  const events = createEventDecoder();
  let header = false;
  for await (const plaintext of plaintexts(opened)) {
    let records: RecordingRecord[];
    try {
      records = [...parser.push(await expandFrame(version, plaintext, FRAME_TEXT_BYTES))];
    } catch {
      // Authenticated bytes that do not expand or parse: written by something other than Tessera.
      throw recordingCorrupt('recording records cannot be decoded');
    }
    for (const record of records) {
      if (!header) {
        const parsed = record.kind === 'h' ? parseHeaderLine(record.data.toString('utf8')) : null;
        if (parsed === null) {
          throw recordingCorrupt('recording does not start with an asciicast header');
        }
        header = true;
        yield { kind: 'header', header: parsed };
      } else if (record.kind === 'h') {
        throw recordingCorrupt('recording holds a second header');
      } else {
        for (const event of events.events(record)) yield { kind: 'event', event };
      }
    }
  }
  const end = endOf(opened.state);
  if (!end.truncated && parser.cut) throw recordingCorrupt('recording ends mid-record');
  if (!header) throw recordingCorrupt('recording holds no asciicast header');
  yield { kind: 'end', ...end };
}

/** asciicast lines of the items, then the end. */
async function* linesOf(
  items: AsyncGenerator<RecordingItem>,
): AsyncGenerator<string | RecordingEnd> {
  for await (const item of items) {
    if (item.kind === 'header') yield headerLine(item.header);
    else if (item.kind === 'event') yield eventLine(item.event);
    else {
      const { kind: _end, ...end } = item;
      yield end;
    }
  }
}

/** Version 1: the header and events of asciicast lines. */
async function* itemsOfLines(
  lines: AsyncGenerator<string | RecordingEnd>,
): AsyncGenerator<RecordingItem> {
  let header: AsciicastHeader | null = null;
  let lineNumber = 0;
  for await (const item of lines) {
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

/**
 * Version 1: every whole line of the asciicast text, then the end. A last line without its
 * newline can only come from a cut file and is left out.
 */
async function* castLines(opened: OpenedRecording): AsyncGenerator<string | RecordingEnd> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let partial = '';
  try {
    for await (const chunk of streamText(opened)) {
      const lines = (partial + decoder.decode(chunk, { stream: true })).split('\n');
      partial = lines.pop() ?? '';
      yield* lines;
    }
  } catch {
    // Authenticated bytes that do not inflate or decode: written by something other than Tessera.
    throw recordingCorrupt('recording text cannot be decoded');
  }
  const end = endOf(opened.state);
  if (!end.truncated && partial.length > 0) throw recordingCorrupt('recording ends mid-line');
  yield end;
}

/** Version 1: the frames' plaintexts are one deflate stream. */
async function* streamText(opened: OpenedRecording): AsyncGenerator<Buffer> {
  if (opened.first.done) return;
  const inflate = createInflateRaw({ finishFlush: constants.Z_SYNC_FLUSH });
  pipeline(Readable.from(plaintexts(opened)), inflate, () => undefined);
  yield* inflate as AsyncIterable<Buffer>;
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
