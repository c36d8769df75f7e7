import { escapeControls } from './printable.ts';

/**
 * Follows an SFTP conversation passed through unchanged, and reports each file operation: what
 * was opened for reading or writing and how many bytes moved, what was removed, renamed or made.
 * The bytes of a file are counted, never kept.
 */
export type SftpOp =
  | 'upload'
  | 'download'
  | 'remove'
  | 'rename'
  | 'mkdir'
  | 'rmdir'
  | 'symlink'
  | 'setstat';

export interface SftpOperation {
  readonly op: SftpOp;
  readonly path: string;
  /** The new name of a rename, the target of a symlink. */
  readonly path2: string | null;
  /** Bytes read or written through the handle, for upload and download. */
  readonly bytes: number | null;
  readonly ok: boolean;
}

export interface SftpMonitor {
  /** Bytes from the user to the target. */
  request(data: Buffer): void;
  /** Bytes from the target to the user. */
  response(data: Buffer): void;
  /** Reports files still open when the session ends. */
  finish(): void;
}

const T = {
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  SETSTAT: 9,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  RENAME: 18,
  SYMLINK: 20,
  EXTENDED: 200,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
} as const;
const PFLAG_WRITE = 0x02;
/** Packets past this are not SFTP as OpenSSH speaks it (its limit is 256 KiB). */
export const MAX_SFTP_PACKET = 1024 * 1024;
/** Enough of a request to read two paths; file data past the header is counted, not kept. */
const KEEP_REQUEST = 16 * 1024;
const KEEP_RESPONSE = 1024;
const MAX_PENDING = 10_000;
const MAX_PATH = 1024;

interface OpenFile {
  readonly path: string;
  readonly write: boolean;
  bytes: number;
}

type Pending =
  | { readonly kind: 'open'; readonly path: string; readonly write: boolean }
  | { readonly kind: 'read'; readonly handle: string }
  | { readonly kind: 'close'; readonly handle: string }
  | {
      readonly kind: 'op';
      readonly op: SftpOp;
      readonly path: string;
      readonly path2: string | null;
    };

export function createSftpMonitor(events: {
  operation(operation: SftpOperation): void;
  /** The stream is not SFTP: the caller ends the session rather than pass what it cannot log. */
  malformed(): void;
}): SftpMonitor {
  const pending = new Map<number, Pending>();
  const files = new Map<string, OpenFile>();

  const expect = (id: number, what: Pending) => {
    if (pending.size >= MAX_PENDING) {
      const oldest = pending.keys().next();
      if (oldest.done !== true) pending.delete(oldest.value);
    }
    pending.set(id, what);
  };

  const onRequest = (type: number, body: Reader, fullLength: number) => {
    const id = body.u32();
    if (type === T.OPEN) {
      const path = body.text();
      const flags = body.u32();
      expect(id, { kind: 'open', path, write: (flags & PFLAG_WRITE) !== 0 });
    } else if (type === T.READ) {
      expect(id, { kind: 'read', handle: body.bytes().toString('hex') });
    } else if (type === T.WRITE) {
      const handle = body.bytes().toString('hex');
      body.skip(8); // offset
      const file = files.get(handle);
      // The data's length is what is left of the packet past its header.
      if (file !== undefined) file.bytes += Math.max(0, fullLength - body.position - 4);
    } else if (type === T.CLOSE) {
      expect(id, { kind: 'close', handle: body.bytes().toString('hex') });
    } else {
      const op = simpleOp(type, body);
      if (op !== null) expect(id, { kind: 'op', ...op });
    }
  };

  const onResponse = (type: number, body: Reader) => {
    const id = body.u32();
    const what = pending.get(id);
    if (what === undefined) return;
    pending.delete(id);
    const ok = type !== T.STATUS || body.u32() === 0;
    if (what.kind === 'open') {
      if (type === T.HANDLE) {
        files.set(body.bytes().toString('hex'), { path: what.path, write: what.write, bytes: 0 });
      } else {
        events.operation(fileOperation({ path: what.path, write: what.write, bytes: 0 }, false));
      }
    } else if (what.kind === 'read') {
      const file = files.get(what.handle);
      if (type === T.DATA && file !== undefined) file.bytes += body.u32();
    } else if (what.kind === 'close') {
      const file = files.get(what.handle);
      files.delete(what.handle);
      if (file !== undefined) events.operation(fileOperation(file, ok));
    } else {
      events.operation({ op: what.op, path: what.path, path2: what.path2, bytes: null, ok });
    }
  };

  const requests = createPacketReader(KEEP_REQUEST, onRequest, events.malformed);
  const responses = createPacketReader(KEEP_RESPONSE, onResponse, events.malformed);
  return {
    request: requests,
    response: responses,
    finish() {
      for (const file of files.values()) events.operation(fileOperation(file, true));
      files.clear();
      pending.clear();
    },
  };
}

function fileOperation(file: OpenFile, ok: boolean): SftpOperation {
  return {
    op: file.write ? 'upload' : 'download',
    path: file.path,
    path2: null,
    bytes: file.bytes,
    ok,
  };
}

function simpleOp(
  type: number,
  body: Reader,
): { op: SftpOp; path: string; path2: string | null } | null {
  switch (type) {
    case T.REMOVE:
      return { op: 'remove', path: body.text(), path2: null };
    case T.MKDIR:
      return { op: 'mkdir', path: body.text(), path2: null };
    case T.RMDIR:
      return { op: 'rmdir', path: body.text(), path2: null };
    case T.SETSTAT:
      return { op: 'setstat', path: body.text(), path2: null };
    case T.RENAME:
      return { op: 'rename', path: body.text(), path2: body.text() };
    case T.SYMLINK:
      return { op: 'symlink', path: body.text(), path2: body.text() };
    case T.EXTENDED: {
      const name = body.text();
      if (name === 'posix-rename@openssh.com') {
        return { op: 'rename', path: body.text(), path2: body.text() };
      }
      return null;
    }
    default:
      return null;
  }
}

/**
 * Splits a byte stream into SFTP packets and hands each one's type and first bytes to `packet`;
 * the rest of a long packet is skipped without being copied.
 */
function createPacketReader(
  keep: number,
  packet: (type: number, body: Reader, fullLength: number) => void,
  malformed: () => void,
): (data: Buffer) => void {
  let header = Buffer.alloc(0);
  let remaining = 0;
  let kept: Buffer[] = [];
  let keptLength = 0;
  let length = 0;
  let broken = false;

  const deliver = () => {
    const body = Buffer.concat(kept);
    kept = [];
    keptLength = 0;
    const type = body[0];
    if (type === undefined) return;
    try {
      packet(type, new Reader(body.subarray(1)), length - 1);
    } catch {
      // A packet cut short by `keep` (an absurdly long path) is not reported; the target
      // answers it all the same.
    }
  };

  return (data) => {
    let at = 0;
    while (!broken && at < data.length) {
      if (remaining === 0) {
        const need = 4 - header.length;
        header = Buffer.concat([header, data.subarray(at, at + need)]);
        at += Math.min(need, data.length - at);
        if (header.length < 4) return;
        length = header.readUInt32BE(0);
        header = Buffer.alloc(0);
        if (length === 0 || length > MAX_SFTP_PACKET) {
          broken = true;
          malformed();
          return;
        }
        remaining = length;
        continue;
      }
      const take = Math.min(remaining, data.length - at);
      if (keptLength < keep) {
        const piece = data.subarray(at, at + Math.min(take, keep - keptLength));
        kept.push(Buffer.from(piece));
        keptLength += piece.length;
      }
      at += take;
      remaining -= take;
      if (remaining === 0) deliver();
    }
  };
}

class Reader {
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

  /** A path as the audit trail shows it: UTF-8, control characters escaped, length capped. */
  text(): string {
    const raw = this.bytes().toString('utf8');
    const clean = escapeControls(raw);
    return clean.length > MAX_PATH ? `${clean.slice(0, MAX_PATH)}…` : clean;
  }
}
