import type { Socket } from 'node:net';

/**
 * What one connection may read before the event loop turns to the others. libuv reads a busy
 * socket up to 32 times in a row, so without a bound a session flooding output (`yes`, `cat` of
 * a log) takes 2 MiB a turn, and every other session's keystrokes wait behind it for
 * milliseconds. 64 KiB (one read) is a few hundred microseconds of work, and still fills the link.
 */
export const READ_BURST_BYTES = 64 * 1024;

/**
 * Bounds a socket's reads per turn of the event loop: past `burstBytes` since it last gave way,
 * the socket pauses until the next check phase (setImmediate), after the loop has polled every
 * other connection once. Only the reading is paced; what was read is processed as before.
 */
export function shareReads(socket: Socket, burstBytes: number = READ_BURST_BYTES): void {
  let taken = 0;
  let yielding = false;
  socket.on('data', (chunk: Buffer) => {
    taken += chunk.length;
    if (taken < burstBytes || yielding) return;
    yielding = true;
    socket.pause();
    setImmediate(() => {
      taken = 0;
      yielding = false;
      if (!socket.destroyed) socket.resume();
    });
  });
}
