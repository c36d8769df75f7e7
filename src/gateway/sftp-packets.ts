import { createHash } from 'node:crypto';
import { escapeControls } from './printable.ts';

/** Packets past this are not SFTP as OpenSSH speaks it (its limit is 256 KiB). */
export const MAX_SFTP_PACKET = 1024 * 1024;
/**
 * A path is logged whole up to this many characters; a longer one is cut, saying so, with the
 * SHA-256 of the whole, so no name can be hidden behind a long prefix.
 */
export const MAX_LOGGED_PATH = 4096;
const MAX_NAME = 256;

/**
 * The stream broke the protocol: the caller ends the session rather than pass what it cannot
 * log.
 */
export class SftpViolation extends Error {
  constructor(why: string) {
    super(why);
    this.name = 'SftpViolation';
  }
}

/**
 * Splits a byte stream into SFTP packets and hands each one's type and first bytes to `packet`:
 * as many as `keep(type)` says, the rest of a long packet is skipped without being copied. A
 * packet that cannot be read, or a SftpViolation thrown by `packet`, stops the reader for good
 * and is told to `broken`.
 */
export function createPacketReader(
  keep: (type: number) => number,
  packet: (type: number, body: Reader, fullLength: number) => void,
  broken: (why: string) => void,
): (data: Buffer) => void {
  let header = Buffer.alloc(0);
  let remaining = 0;
  let kept: Buffer[] = [];
  let keptLength = 0;
  let limit = 0;
  let length = 0;
  let stopped = false;

  const stop = (why: string) => {
    stopped = true;
    broken(why);
  };

  const deliver = () => {
    const body = Buffer.concat(kept);
    kept = [];
    keptLength = 0;
    const type = body[0];
    if (type === undefined) return;
    try {
      packet(type, new Reader(body.subarray(1)), length - 1);
    } catch (error) {
      stop(
        error instanceof SftpViolation ? error.message : `packet of type ${type} not understood`,
      );
    }
  };

  return (data) => {
    let at = 0;
    while (!stopped && at < data.length) {
      if (remaining === 0) {
        const need = 4 - header.length;
        header = Buffer.concat([header, data.subarray(at, at + need)]);
        at += Math.min(need, data.length - at);
        if (header.length < 4) return;
        length = header.readUInt32BE(0);
        header = Buffer.alloc(0);
        if (length === 0 || length > MAX_SFTP_PACKET) return stop('packet length out of bounds');
        remaining = length;
        limit = 0;
        continue;
      }
      const take = Math.min(remaining, data.length - at);
      // The type is the first byte: it says how much of the packet is worth keeping.
      if (keptLength === 0 && limit === 0) limit = Math.max(1, keep(data[at] ?? 0));
      if (keptLength < limit) {
        const piece = data.subarray(at, at + Math.min(take, limit - keptLength));
        kept.push(Buffer.from(piece));
        keptLength += piece.length;
      }
      at += take;
      remaining -= take;
      if (remaining === 0) deliver();
    }
  };
}

/** Reads the fields of one packet; a field past its end throws. */
export class Reader {
  readonly #bytes: Buffer;
  #at = 0;

  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  get position(): number {
    return this.#at;
  }

  u32(): number {
    const value = this.#bytes.readUInt32BE(this.#at);
    this.#at += 4;
    return value;
  }

  u64(): number {
    const value = this.#bytes.readBigUInt64BE(this.#at);
    this.#at += 8;
    return Number(value);
  }

  skip(count: number): void {
    this.#at += count;
  }

  bytes(): Buffer {
    const length = this.u32();
    if (this.#at + length > this.#bytes.length) throw new RangeError('short packet');
    const value = this.#bytes.subarray(this.#at, this.#at + length);
    this.#at += length;
    return value;
  }

  /**
   * A path as the audit trail shows it: UTF-8 with control characters escaped; past
   * MAX_LOGGED_PATH characters cut, saying so, with the SHA-256 of the bytes received.
   */
  path(): string {
    const raw = this.bytes();
    const clean = escapeControls(raw.toString('utf8'));
    if (clean.length <= MAX_LOGGED_PATH) return clean;
    const digest = createHash('sha256').update(raw).digest('hex');
    return (
      `${clean.slice(0, MAX_LOGGED_PATH)}… [path cut at ${MAX_LOGGED_PATH} of ` +
      `${clean.length} characters; sha256 of the whole path: ${digest}]`
    );
  }

  /** A short name (an extension's), escaped and capped. */
  name(): string {
    const clean = escapeControls(this.bytes().toString('utf8'));
    return clean.length > MAX_NAME ? `${clean.slice(0, MAX_NAME)}…` : clean;
  }

  /** File attributes (SFTP v3) as the audit trail shows a change: `mode 0755, size 0`… */
  attributes(): string | null {
    const flags = this.u32();
    const parts: string[] = [];
    if (flags & ATTR.SIZE) parts.push(`size ${this.u64()}`);
    if (flags & ATTR.UIDGID) parts.push(`owner ${this.u32()}:${this.u32()}`);
    if (flags & ATTR.PERMISSIONS) {
      parts.push(`mode ${(this.u32() & 0o7777).toString(8).padStart(4, '0')}`);
    }
    if (flags & ATTR.ACMODTIME) {
      this.skip(8);
      parts.push('times');
    }
    if (flags & ATTR.EXTENDED) parts.push('extended attributes');
    return parts.length === 0 ? null : parts.join(', ');
  }
}

const ATTR = {
  SIZE: 0x1,
  UIDGID: 0x2,
  PERMISSIONS: 0x4,
  ACMODTIME: 0x8,
  EXTENDED: 0x80000000,
} as const;
