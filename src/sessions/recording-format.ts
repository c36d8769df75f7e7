import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { KEY_BYTES } from '../vault/envelope.ts';
import { recordingCorrupt } from './recording-errors.ts';

/**
 * The bytes of a recording file:
 *
 * ```
 * file   = "TSREC\r\n" | version (1 byte) | frame*
 * frame  = length (u32 BE, of the ciphertext) | flags (1 byte) | nonce (12) | tag (16) | ciphertext
 * ```
 *
 * Version 3: each frame's plaintext is one whole brotli stream of the next part of the session's
 * records (recording-records.ts), at most FRAME_TEXT_BYTES of them (a cut may fall inside a
 * record), so every whole frame can be read without the ones after it. Two older versions are
 * still read: version 2 is the same with raw deflate instead of brotli, and version 1 held
 * asciicast text in one raw deflate stream for the whole file, flushed at every frame boundary.
 * Each frame is AES-256-GCM under the recording's own data key with a fresh nonce, and its
 * additional data names the format version, the session, the frame number and whether it is the
 * last frame: frames cannot be moved, dropped from the middle or reordered, and a file cut at a
 * frame boundary is told apart from a finished one.
 */
export const FILE_MAGIC = Buffer.from('TSREC\r\n', 'latin1');
export const FORMAT_VERSION: FormatVersion = 3;
/**
 * Versions a reader takes: 1 was written before frames were compressed one by one, 2 before they
 * were compressed with brotli.
 */
export type FormatVersion = 1 | 2 | 3;
export const FILE_HEADER_BYTES = FILE_MAGIC.length + 1;

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const FRAME_HEADER_BYTES = 4 + 1 + NONCE_BYTES + TAG_BYTES;
const FLAG_FINAL = 0x01;

/** Plaintext per frame: a frame then stays far below MAX_FRAME_CIPHERTEXT whatever the output. */
export const FRAME_TEXT_BYTES = 1024 * 1024;
/** The writer keeps frames far below this; a reader refuses anything longer. */
export const MAX_FRAME_CIPHERTEXT = 4 * 1024 * 1024;

/** Session ids go into the additional data, so they are kept to characters that cannot blur it. */
const SESSION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface FrameHeader {
  readonly length: number;
  readonly final: boolean;
}

export function fileHeader(): Buffer {
  return Buffer.concat([FILE_MAGIC, Buffer.of(FORMAT_VERSION)]);
}

/** The file's format version, or INTEGRITY_FAILURE for a file that is not a recording. */
export function checkFileHeader(bytes: Buffer): FormatVersion {
  const magic = bytes.subarray(0, FILE_MAGIC.length);
  if (bytes.length < FILE_HEADER_BYTES || !magic.equals(FILE_MAGIC)) {
    throw recordingCorrupt('not a Tessera recording');
  }
  const version = bytes[FILE_MAGIC.length];
  if (version !== 1 && version !== 2 && version !== 3)
    throw recordingCorrupt('unknown recording format version');
  return version;
}

/**
 * A frame's additional data. It names the format version too: the version byte in the file's
 * header is not encrypted, and a version 2 file relabelled 1 would otherwise read as its first
 * frame alone, a file with frames dropped that still authenticates.
 */
export function frameContext(
  version: FormatVersion,
  sessionId: string,
  frame: number,
  final: boolean,
): string {
  const at = `session=${sessionId}|frame=${frame}|final=${final ? 1 : 0}`;
  return `tessera/recording-frame/v${version}|${at}`;
}

export function assertSessionId(sessionId: string): void {
  if (!SESSION_ID.test(sessionId)) {
    throw new TypeError('session id must be 1-128 characters of letters, digits and ._:-');
  }
}

export function assertDataKey(dataKey: Buffer): void {
  if (!Buffer.isBuffer(dataKey) || dataKey.length !== KEY_BYTES) {
    throw new TypeError('recording data key must be 32 bytes');
  }
}

/**
 * Seals a frame. Tessera writes only the current version; `version` is there for tests that
 * build files of an older one.
 */
export function sealFrame(
  key: Buffer,
  sessionId: string,
  frame: number,
  final: boolean,
  plaintext: Buffer,
  version: FormatVersion = FORMAT_VERSION,
): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  const context = frameContext(version, sessionId, frame, final);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length, 0);
  head[4] = final ? FLAG_FINAL : 0;
  return Buffer.concat([head, nonce, cipher.getAuthTag(), body]);
}

/** Reads the clear part of a frame header; `bytes` holds at least FRAME_HEADER_BYTES. */
export function readFrameHeader(bytes: Buffer, frame: number): FrameHeader {
  const length = bytes.readUInt32BE(0);
  const flags = bytes[4] ?? 0;
  if (length > MAX_FRAME_CIPHERTEXT || (flags & ~FLAG_FINAL) !== 0) {
    throw recordingCorrupt(`recording frame ${frame} has an invalid header`, frame);
  }
  return { length, final: (flags & FLAG_FINAL) !== 0 };
}

/** Opens one whole frame (header and ciphertext), or throws INTEGRITY_FAILURE naming it. */
export function openFrame(
  version: FormatVersion,
  key: Buffer,
  sessionId: string,
  frame: number,
  bytes: Buffer,
): Buffer {
  const { final } = readFrameHeader(bytes, frame);
  const nonce = bytes.subarray(5, 5 + NONCE_BYTES);
  const tag = bytes.subarray(5 + NONCE_BYTES, FRAME_HEADER_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(Buffer.from(frameContext(version, sessionId, frame, final), 'utf8'));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(bytes.subarray(FRAME_HEADER_BYTES)), decipher.final()]);
  } catch {
    // GCM cannot say why: another key, another session, or altered bytes all look the same.
    throw recordingCorrupt(
      `recording frame ${frame} failed authentication (wrong key or session, or altered)`,
      frame,
    );
  }
}
