import type { Readable, Writable } from 'node:stream';
import type { ClientChannel, ServerChannel } from 'ssh2';

/** How the target's side of a channel ended. */
export interface ExitInfo {
  readonly code: number | null;
  readonly signal: string | null;
  readonly coreDumped: boolean;
  readonly description: string;
}

export interface ProxyTaps {
  /**
   * Bytes from the user: before they go to the target when `inputChecked` (the tap may refuse
   * them), else right after, so that recording never delays a keystroke.
   */
  input(data: Buffer): void;
  /**
   * Whether `input` decides what may pass (an SFTP monitor) and must see it first. Read anew for
   * each chunk, before the tap sees it.
   */
  readonly inputChecked: boolean;
  /**
   * Bytes from the target, right after they went on their way to the user. May return a hold:
   * the target's side then waits until the hold calls `resume` (the recording catching up).
   */
  output(data: Buffer, stream: 'stdout' | 'stderr'): ((resume: () => void) => void) | undefined;
  /** The target ended the channel; the user has been told its exit status. */
  targetEnded(exit: ExitInfo | null): void;
  /** The user closed the channel or went away. */
  userEnded(): void;
}

export interface ChannelProxy {
  /**
   * Stops passing data at once (what the target sent and the user has not yet been sent is
   * dropped), tells the user `message` and closes both channels; `closed` is called once the
   * client has closed its side too (or did not in time).
   */
  terminate(message: string, closed: () => void): void;
  readonly open: boolean;
}

/** How long a client that does not read gets to take in the last words before it is cut off. */
const GOODBYE_TIMEOUT_MS = 2_000;

interface EarlyEnd {
  exit: ExitInfo | null;
  closed: boolean;
}

/** What a target channel did before its proxy was wired: a quick command may be done by then. */
const earlyEnds = new WeakMap<ClientChannel, EarlyEnd>();

/**
 * Starts listening for the target channel's exit and close as soon as it opens. The session row
 * is stored meanwhile, and a command that ends first must not lose its exit status.
 */
export function watchEarlyEnd(target: ClientChannel): ClientChannel {
  const seen: EarlyEnd = { exit: null, closed: false };
  earlyEnds.set(target, seen);
  target.on('exit', (code: number | null, signal?: string, dump?: boolean, text?: string) => {
    seen.exit = {
      code,
      signal: signal ?? null,
      coreDumped: dump === true,
      description: text ?? '',
    };
  });
  target.once('close', () => {
    seen.closed = true;
  });
  return target;
}

/**
 * Passes a channel's data both ways with flow control (a slow side pauses the other), and its
 * end faithfully: the target's output is all delivered, then its exit status or signal, then
 * EOF and close.
 */
export function proxyChannel(
  user: ServerChannel,
  target: ClientChannel,
  taps: ProxyTaps,
): ChannelProxy {
  let open = true;
  const early = earlyEnds.get(target);
  let exit: ExitInfo | null = early?.exit ?? null;
  const toUser = createUserLane(user);

  const fromTarget = (source: Readable, stream: 'stdout' | 'stderr') => {
    // The source reads again only once every reason to wait (the user's lane, a tap) is over.
    let holds = 0;
    const hold = () => {
      if (holds++ === 0) source.pause();
    };
    const release = () => {
      if (--holds === 0) source.resume();
    };
    source.on('data', (data: Buffer) => {
      if (!open) return;
      const room = toUser.send(stream, data);
      const wait = taps.output(data, stream);
      if (!open) return;
      if (!room) {
        hold();
        toUser.drained(release);
      }
      if (wait !== undefined) {
        hold();
        wait(release);
      }
    });
  };
  fromTarget(target, 'stdout');
  fromTarget(target.stderr, 'stderr');
  user.on('data', (data: Buffer) => {
    if (!open) return;
    // Read once: the tap may change its mind while it looks (an exec channel found to be SFTP).
    const checked = taps.inputChecked;
    if (checked) {
      taps.input(data);
      // The tap may end the session over what it saw (an SFTP request it refuses): it stops here.
      if (!open) return;
    }
    const room = target.write(data);
    if (!checked) taps.input(data);
    if (room || !open) return;
    user.pause();
    target.once('drain', () => user.resume());
  });

  user.on('end', () => {
    if (open) target.end();
  });
  user.on('close', () => {
    if (!open) return;
    open = false;
    target.close();
    taps.userEnded();
  });
  target.on('exit', (code: number | null, signal?: string, dump?: boolean, text?: string) => {
    exit = { code, signal: signal ?? null, coreDumped: dump === true, description: text ?? '' };
  });
  target.on('close', () => {
    if (open) void finishFromTarget();
  });
  if (early?.closed === true) setImmediate(() => open && void finishFromTarget());
  user.on('error', () => undefined);
  target.on('error', () => undefined);

  const finishFromTarget = async () => {
    exit ??= early?.exit ?? null;
    // Output buffered before the proxy was wired is still flowing out after an early close.
    if (!target.readableEnded) await new Promise((resolve) => target.once('end', resolve));
    if (!target.stderr.readableEnded) {
      await new Promise((resolve) => target.stderr.once('end', resolve));
    }
    await toUser.idle();
    if (!open) return;
    open = false;
    if (exit?.code != null) user.exit(exit.code);
    else if (exit?.signal) {
      user.exit(exit.signal.replace(/^SIG/, ''), exit.coreDumped, exit.description);
    }
    user.end();
    taps.targetEnded(exit);
  };

  return {
    get open() {
      return open;
    },
    terminate(message, closed) {
      if (!open) return;
      open = false;
      target.close();
      toUser.drop();
      // The connection is closed only once the client has closed the channel in turn: a client
      // told to disconnect at once may drop the message it has not yet shown.
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(force);
        closed();
      };
      const force = setTimeout(finish, GOODBYE_TIMEOUT_MS);
      force.unref();
      user.once('close', finish);
      toUser.send('stderr', Buffer.from(message), () => {
        user.end();
        user.close();
      });
    },
  };
}

interface Lane {
  /** Queues data for the user; false once enough waits that the sender should pause. */
  send(stream: 'stdout' | 'stderr', data: Buffer, written?: () => void): boolean;
  /** Calls `wake` once nothing waits to be written. */
  drained(wake: () => void): void;
  /** Forgets what waits to be sent (the write under way still completes). */
  drop(): void;
  /** Resolves once nothing waits and nothing is being written. */
  idle(): Promise<void>;
}

/**
 * Queued output past which the target's side is paused. A source is not paused for every chunk:
 * that costs two turns of the event loop per packet, which a thousand busy sessions feel.
 */
const LANE_HIGH_BYTES = 256 * 1024;

/**
 * Writes to the user's channel one chunk at a time, stdout and stderr alike. ssh2 (1.17) resumes
 * only one of a channel's two streams when the window opens again, and keeps the last stalled
 * stdout chunk after it was sent: with both in flight, stderr could wait forever or the stale
 * chunk be sent twice. One write at a time, with that leftover cleared after each, avoids both.
 */
function createUserLane(user: ServerChannel): Lane {
  const queue: Array<{ stream: 'stdout' | 'stderr'; data: Buffer; written?: () => void }> = [];
  let queuedBytes = 0;
  let busy = false;
  let waiters: Array<() => void> = [];
  const stalled = user as unknown as Record<string, unknown>;

  const next = () => {
    const item = queue.shift();
    if (item === undefined) {
      busy = false;
      const woken = waiters;
      waiters = [];
      for (const wake of woken) wake();
      return;
    }
    busy = true;
    const writer: Writable = item.stream === 'stdout' ? user : user.stderr;
    writer.write(item.data, () => {
      for (const key of ['_chunk', '_chunkcb', '_chunkErr', '_chunkcbErr'])
        stalled[key] = undefined;
      queuedBytes -= item.data.length;
      item.written?.();
      next();
    });
  };

  return {
    send(stream, data, written) {
      queue.push({ stream, data, ...(written === undefined ? {} : { written }) });
      queuedBytes += data.length;
      if (!busy) next();
      return queuedBytes < LANE_HIGH_BYTES;
    },
    drained(wake) {
      if (busy) waiters.push(wake);
      else wake();
    },
    drop() {
      for (const item of queue) queuedBytes -= item.data.length;
      queue.length = 0;
    },
    idle() {
      if (!busy) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}
