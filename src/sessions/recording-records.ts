import { TextDecoder } from 'node:util';
import type { AsciicastEvent, EventCode } from './asciicast.ts';

/**
 * What a recording (version 2 on) holds once decrypted and expanded: the session's bytes as they
 * passed, in records, not yet asciicast text.
 *
 * ```
 * record = kind (1 byte) | time (float64 BE, seconds) | length (u32 BE) | data
 * ```
 *
 * Kinds: `h` the asciicast header line, `o` output bytes, `i` input bytes, `r` a resize
 * (`COLSxROWS`), `m` a marker, `f` a decoding break (the data is empty). Output and input are
 * kept exactly as they came, so recording a byte costs a copy: the asciicast events (UTF-8
 * decoded, a character split across packets kept whole, invalid bytes as U+FFFD) are made when the
 * recording is read. An `f` record stands where the recorder would have ended its decoders: at a
 * gap of dropped data and at the end, so what a reader makes of the bytes is what a recorder
 * decoding as it went would have written.
 */
export type RecordKind = 'h' | EventCode | 'f';

export const RECORD_HEAD_BYTES = 1 + 8 + 4;
/** A record longer than this was not written by Tessera (the longest is one SSH packet). */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;

const KIND_BYTES: Readonly<Record<RecordKind, number>> = {
  h: 0x68,
  o: 0x6f,
  i: 0x69,
  r: 0x72,
  m: 0x6d,
  f: 0x66,
};
const KINDS = new Map<number, RecordKind>(
  Object.entries(KIND_BYTES).map(([kind, byte]) => [byte, kind as RecordKind]),
);

/** Writes one record's head into `into` at `at`; its data follows. */
export function writeRecordHead(
  into: Buffer,
  at: number,
  kind: RecordKind,
  time: number,
  length: number,
): void {
  into[at] = KIND_BYTES[kind];
  into.writeDoubleBE(time, at + 1);
  into.writeUInt32BE(length, at + 9);
}

export interface RecordingRecord {
  readonly kind: RecordKind;
  readonly time: number;
  readonly data: Buffer;
}

/** Why bytes are not records; the message names the part, never the bytes. */
export class RecordError extends Error {}

/**
 * Records out of a stream of plaintext chunks; a record may lie across chunks. A stream that
 * stops inside a record ends without it (a file cut by a crash): `cut` says so.
 */
export function createRecordParser() {
  let held: Buffer = Buffer.alloc(0);
  return {
    *push(chunk: Buffer): Generator<RecordingRecord> {
      held = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
      let at = 0;
      while (held.length - at >= RECORD_HEAD_BYTES) {
        const kind = KINDS.get(held[at] as number);
        const time = held.readDoubleBE(at + 1);
        const length = held.readUInt32BE(at + 9);
        if (kind === undefined) throw new RecordError('unknown record kind');
        if (!(time >= 0 && Number.isFinite(time))) throw new RecordError('record time invalid');
        if (length > MAX_RECORD_BYTES) throw new RecordError('record too long');
        const end = at + RECORD_HEAD_BYTES + length;
        if (end > held.length) break;
        yield { kind, time, data: held.subarray(at + RECORD_HEAD_BYTES, end) };
        at = end;
      }
      held = held.subarray(at);
    },
    get cut(): boolean {
      return held.length > 0;
    },
  };
}

/**
 * asciicast events out of output and input bytes, as the recorder once decoded them as they
 * came: one streaming UTF-8 decoder per direction, ended at every `f`.
 */
export function createEventDecoder() {
  const decoders: Record<'o' | 'i', TextDecoder> = { o: utf8Decoder(), i: utf8Decoder() };
  return {
    /** The events one record makes (none for a header). */
    *events(record: RecordingRecord): Generator<AsciicastEvent> {
      const { kind, time, data } = record;
      if (kind === 'o' || kind === 'i') {
        const text = decoders[kind].decode(data, { stream: true });
        if (text.length > 0) yield { time, code: kind, data: text };
      } else if (kind === 'f') {
        for (const code of ['o', 'i'] as const) {
          const tail = decoders[code].decode();
          if (tail.length > 0) yield { time, code, data: tail };
        }
      } else if (kind === 'r' || kind === 'm') {
        yield { time, code: kind, data: data.toString('utf8') };
      }
    },
  };
}

function utf8Decoder(): TextDecoder {
  // ignoreBOM keeps a leading U+FEFF: it is output like any other.
  return new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
}
