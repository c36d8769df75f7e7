import { createPacketReader, type Reader, SftpViolation } from './sftp-packets.ts';

export { MAX_SFTP_PACKET } from './sftp-packets.ts';

/**
 * Follows an SFTP conversation passed through unchanged, and reports each file operation: what
 * was opened for reading or writing and how many bytes moved, and every request that changes
 * something (remove, rename, link, make, attributes) or that is an extension. The bytes of a
 * file are counted, never kept.
 */
export type SftpOp =
  | 'upload'
  | 'download'
  | 'remove'
  | 'rename'
  | 'mkdir'
  | 'rmdir'
  | 'symlink'
  | 'hardlink'
  | 'setstat'
  | 'extended';

export interface SftpOperation {
  readonly op: SftpOp;
  /** The path acted on; for `extended`, the extension's name. */
  readonly path: string;
  /** The new name of a rename or hard link, the target of a symlink. */
  readonly path2: string | null;
  /** Bytes read or written through the handle, for upload and download. */
  readonly bytes: number | null;
  /** What a setstat changes (`mode 0755, size 0`). */
  readonly detail: string | null;
  readonly ok: boolean;
  /** False when the session ended before the target answered: it may have acted all the same. */
  readonly answered: boolean;
}

export interface SftpMonitor {
  /** Bytes from the user to the target. */
  request(data: Buffer): void;
  /** Bytes from the target to the user. */
  response(data: Buffer): void;
  /** Reports files still open, and requests still unanswered, when the session ends. */
  finish(): void;
  /** Whether the server has answered the client's INIT with its VERSION. */
  readonly started: boolean;
}

const T = {
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  SETSTAT: 9,
  FSETSTAT: 10,
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
/** Any of these in an OPEN may change the file (O_CREAT, O_TRUNC need no write access asked). */
const PFLAGS_CHANGING = 0x02 | 0x04 | 0x08 | 0x10;
/** Enough of a WRITE to read its handle; the data after it is counted, not kept. */
const KEEP_WRITE = 1024;
const KEEP_RESPONSE = 1024;
/** OpenSSH's client keeps 64 requests in flight; far more is not a client worth following. */
const MAX_PENDING = 10_000;

interface OpenFile {
  readonly path: string;
  readonly write: boolean;
  bytes: number;
}

interface Change {
  readonly op: SftpOp;
  readonly path: string;
  readonly path2: string | null;
  readonly detail: string | null;
}

type Pending =
  | { readonly kind: 'open'; readonly path: string; readonly write: boolean }
  | { readonly kind: 'read'; readonly handle: string }
  | { readonly kind: 'close'; readonly handle: string }
  | ({ readonly kind: 'op' } & Change)
  | { readonly kind: 'other' };

/**
 * Every request's id is followed until its answer: an id used again while outstanding would let
 * one answer pass for another's (an upload's handle taken as a decoy's status), so it ends the
 * session, as does anything else that is not SFTP.
 */
export function createSftpMonitor(events: {
  operation(operation: SftpOperation): void;
  /** The stream is not SFTP: the caller ends the session rather than pass what it cannot log. */
  malformed(why: string): void;
}): SftpMonitor {
  const pending = new Map<number, Pending>();
  const files = new Map<string, OpenFile>();
  let started = false;

  const expect = (id: number, what: Pending) => {
    if (pending.has(id)) throw new SftpViolation(`request id ${id} reused while outstanding`);
    if (pending.size >= MAX_PENDING) throw new SftpViolation('too many requests outstanding');
    pending.set(id, what);
  };

  const onRequest = (type: number, body: Reader, fullLength: number) => {
    if (type === T.INIT) return;
    const id = body.u32();
    if (type === T.WRITE) {
      const handle = body.bytes().toString('hex');
      body.skip(8); // offset
      const file = files.get(handle);
      // The data's length is what is left of the packet past its header.
      if (file !== undefined) file.bytes += Math.max(0, fullLength - body.position - 4);
      return expect(id, { kind: 'other' });
    }
    expect(id, readRequest(type, body, files));
  };

  const onResponse = (type: number, body: Reader) => {
    if (type === T.VERSION) {
      started = true;
      return;
    }
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
    } else if (what.kind === 'op') {
      events.operation(changeOperation(what, ok, true));
    }
  };

  const keepRequest = (type: number) => (type === T.WRITE ? KEEP_WRITE : Number.POSITIVE_INFINITY);
  const requests = createPacketReader(keepRequest, onRequest, events.malformed);
  const responses = createPacketReader(() => KEEP_RESPONSE, onResponse, events.malformed);
  return {
    request: requests,
    response: responses,
    finish() {
      for (const file of files.values()) events.operation(fileOperation(file, true));
      for (const what of pending.values()) {
        if (what.kind === 'op') events.operation(changeOperation(what, false, false));
        if (what.kind === 'open' && what.write) {
          const file = { path: what.path, write: true, bytes: 0 };
          events.operation({ ...fileOperation(file, false), answered: false });
        }
      }
      files.clear();
      pending.clear();
    },
    get started() {
      return started;
    },
  };
}

/** What a request other than WRITE waits for, read from its packet. */
function readRequest(type: number, body: Reader, files: ReadonlyMap<string, OpenFile>): Pending {
  switch (type) {
    case T.OPEN: {
      const path = body.path();
      const flags = body.u32();
      return { kind: 'open', path, write: (flags & PFLAGS_CHANGING) !== 0 };
    }
    case T.READ:
      return { kind: 'read', handle: body.bytes().toString('hex') };
    case T.CLOSE:
      return { kind: 'close', handle: body.bytes().toString('hex') };
    case T.FSETSTAT: {
      const handle = body.bytes().toString('hex');
      const path = files.get(handle)?.path ?? `(handle ${handle.slice(0, 64)})`;
      return op({ op: 'setstat', path, path2: null, detail: body.attributes() });
    }
    default: {
      const change = readChange(type, body);
      return change === null ? { kind: 'other' } : op(change);
    }
  }
}

function readChange(type: number, body: Reader): Change | null {
  const one = (kind: SftpOp): Change => ({
    op: kind,
    path: body.path(),
    path2: null,
    detail: null,
  });
  const two = (kind: SftpOp): Change => ({
    op: kind,
    path: body.path(),
    path2: body.path(),
    detail: null,
  });
  switch (type) {
    case T.REMOVE:
      return one('remove');
    case T.MKDIR:
      return one('mkdir');
    case T.RMDIR:
      return one('rmdir');
    case T.SETSTAT:
      return { op: 'setstat', path: body.path(), path2: null, detail: body.attributes() };
    case T.RENAME:
      return two('rename');
    case T.SYMLINK:
      return two('symlink');
    case T.EXTENDED:
      return readExtension(body);
    default:
      return null;
  }
}

/** Extensions OpenSSH offers that change files are read as such; any other is logged by name. */
function readExtension(body: Reader): Change {
  const name = body.name();
  switch (name) {
    case 'posix-rename@openssh.com':
      return { op: 'rename', path: body.path(), path2: body.path(), detail: null };
    case 'hardlink@openssh.com':
      return { op: 'hardlink', path: body.path(), path2: body.path(), detail: null };
    case 'lsetstat@openssh.com':
      return { op: 'setstat', path: body.path(), path2: null, detail: body.attributes() };
    default:
      return { op: 'extended', path: name, path2: null, detail: null };
  }
}

function op(change: Change): Pending {
  return { kind: 'op', ...change };
}

function changeOperation(change: Change, ok: boolean, answered: boolean): SftpOperation {
  const { op: kind, path, path2, detail } = change;
  return { op: kind, path, path2, bytes: null, detail, ok, answered };
}

function fileOperation(file: OpenFile, ok: boolean): SftpOperation {
  return {
    op: file.write ? 'upload' : 'download',
    path: file.path,
    path2: null,
    bytes: file.bytes,
    detail: null,
    ok,
    answered: true,
  };
}
