import type { SessionKind } from './session-store.ts';

/** Someone following a live session: read-only, told of output, resizes and the end. */
export interface Watcher {
  output(data: Buffer): void;
  resize(cols: number, rows: number): void;
  end(reason: string): void;
}

export interface LiveSessionInfo {
  readonly id: string;
  readonly user: string;
  readonly account: string;
  readonly target: string;
  readonly kind: SessionKind;
  readonly command: string | null;
  readonly startedAt: number;
}

/** What the session side of a live session offers the registry. */
export interface LiveSessionControl {
  /** Ends the session at once, telling the user why. */
  kill(reason: string): void;
  /** The bytes each way so far: the stored row has them only once the session ends. */
  bytes(): { readonly bytesIn: number; readonly bytesOut: number };
}

export interface LiveSession {
  readonly info: LiveSessionInfo;
  size(): { cols: number; rows: number };
  /** The output since the screen was last cleared, bounded: enough to draw the screen again. */
  screen(): Buffer;
  /** Adds a watcher; the returned function removes it. */
  watch(watcher: Watcher): () => void;
  kill(reason: string): void;
  bytes(): { readonly bytesIn: number; readonly bytesOut: number };
}

/** The session's side: feeds output and resizes in, and leaves the registry at its end. */
export interface LiveSessionFeed {
  output(data: Buffer): void;
  resize(cols: number, rows: number): void;
  ended(reason: string): void;
}

/** The sessions running on this node, for listing, watching and killing. */
export interface LiveSessions {
  add(
    info: LiveSessionInfo,
    size: { cols: number; rows: number },
    control: LiveSessionControl,
  ): LiveSessionFeed;
  get(id: string): LiveSession | undefined;
  list(): LiveSession[];
  /** Kills every live session (the server is stopping). */
  killAll(reason: string): void;
}

/**
 * Output kept for a watcher who joins late: a full-colour redraw of a 200x50 terminal is about
 * 30 KiB, so this holds a busy screen twice over. Every live session holds this much once it has
 * printed it, so it counts against the memory a thousand sessions take (bench/gateway.ts).
 */
export const SCREEN_BUFFER_BYTES = 64 * 1024;

// ESC c (reset), CSI 2 J (erase display), CSI ? 1049 h (alternate screen, full-screen programs).
const ESC = 0x1b;
const CLEARS = [Buffer.from('\x1bc'), Buffer.from('\x1b[2J'), Buffer.from('\x1b[?1049h')];

export function createLiveSessions(): LiveSessions {
  const sessions = new Map<string, LiveSession>();

  return {
    add(info, initialSize, control) {
      const watchers = new Set<Watcher>();
      const screen = createScreenBuffer(SCREEN_BUFFER_BYTES);
      let size = initialSize;
      const each = (call: (watcher: Watcher) => void) => {
        for (const watcher of watchers) call(watcher);
      };
      sessions.set(info.id, {
        info,
        size: () => size,
        screen: () => screen.contents(),
        watch(watcher) {
          watchers.add(watcher);
          return () => watchers.delete(watcher);
        },
        kill: (reason) => control.kill(reason),
        bytes: () => control.bytes(),
      });
      return {
        output(data) {
          screen.append(data);
          each((watcher) => watcher.output(data));
        },
        resize(cols, rows) {
          size = { cols, rows };
          each((watcher) => watcher.resize(cols, rows));
        },
        ended(reason) {
          sessions.delete(info.id);
          each((watcher) => watcher.end(reason));
          watchers.clear();
        },
      };
    },
    get: (id) => sessions.get(id),
    list: () => [...sessions.values()],
    killAll(reason) {
      for (const session of [...sessions.values()]) session.kill(reason);
    },
  };
}

/**
 * Output since the last screen clear, at most `limit` bytes (the oldest go first), in one ring of
 * memory of its own that grows to `limit` as output comes: every chunk is copied (the caller's
 * buffer may be reused) without a new allocation per chunk, so a busy session makes no garbage
 * here, and nothing is cut from Node's shared pool to pin its slabs.
 */
export function createScreenBuffer(limit: number) {
  let ring = Buffer.alloc(0);
  let start = 0;
  let size = 0;

  /**
   * Room for `needed` bytes (at most `limit`). The ring only wraps once it is `limit` long, so
   * while it grows what it holds starts at index 0.
   */
  const grow = (needed: number) => {
    if (ring.length >= needed) return;
    const larger = Buffer.alloc(Math.min(limit, Math.max(needed, ring.length * 2, 4096)));
    ring.copy(larger, 0, 0, size);
    ring = larger;
  };

  /** Copies `data` (at most `limit` bytes) after what is held, the oldest giving way. */
  const put = (data: Buffer) => {
    if (data.length === 0) return;
    grow(Math.min(limit, size + data.length));
    let at = (start + size) % ring.length;
    let from = 0;
    while (from < data.length) {
      const copied = data.copy(ring, at, from, Math.min(data.length, from + ring.length - at));
      from += copied;
      at = (at + copied) % ring.length;
    }
    const overflow = Math.max(0, size + data.length - ring.length);
    start = (start + overflow) % ring.length;
    size = Math.min(ring.length, size + data.length);
  };

  return {
    append(data: Buffer) {
      const clearAt = lastClear(data);
      if (clearAt >= 0) {
        start = 0;
        size = 0;
        data = data.subarray(clearAt);
      }
      put(data.length > limit ? data.subarray(data.length - limit) : data);
    },
    contents(): Buffer {
      const end = start + size;
      if (end <= ring.length) return Buffer.from(ring.subarray(start, end));
      return Buffer.concat([ring.subarray(start), ring.subarray(0, end - ring.length)]);
    },
  };
}

/**
 * Where the last screen clear in `data` begins, or -1. One pass back over the escape bytes:
 * plain text has none, and a search for each kind of clear read every chunk three times.
 */
function lastClear(data: Buffer): number {
  for (let at = data.lastIndexOf(ESC); at >= 0; at = at > 0 ? data.lastIndexOf(ESC, at - 1) : -1) {
    if (CLEARS.some((clear) => clearAt(data, at, clear))) return at;
  }
  return -1;
}

function clearAt(data: Buffer, at: number, clear: Buffer): boolean {
  const end = at + clear.length;
  return end <= data.length && data.compare(clear, 0, clear.length, at, end) === 0;
}
