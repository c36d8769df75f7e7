/**
 * The Node settings the server runs under, for its memory.
 *
 * V8 starts a full collection once the old generation, with the memory allocated outside the
 * heap since the last full collection, nears a limit it derives from what was live after that
 * collection. Every Buffer is memory outside the heap: each read from a socket, each SSH packet
 * decrypted or encrypted, each recording frame. The server's own heap is small (about 35 MB), so
 * its limit is small too, and one session relaying 100 MiB/s set off about 13 full collections
 * a second, back to back, each marking the whole heap on a second thread.
 * `--initial-old-space-size` puts a floor of 128 MiB under that limit. On a fresh server
 * relaying 512 MiB with recording on, the gateway's CPU went from 7.6 to 5.3 seconds and its
 * full collections from about 90 to 27 (`--trace-gc`). It is a limit, not an allocation: an idle
 * server's memory does not change.
 *
 * The young generation, where short-lived objects start, grows with the rate of allocation, to
 * 64 MiB and more under many busy sessions, though almost nothing in it survives a collection.
 * `--max-semi-space-size=8` keeps it at 16 MiB, which costs no throughput.
 */
export const SERVER_NODE_FLAGS: readonly string[] = [
  '--initial-old-space-size=128',
  '--max-semi-space-size=8',
];

/** Set in the environment of the command run again, so that it is never run a third time. */
const RESTARTED = 'TESSERA_NODE_SETTINGS_APPLIED';

/**
 * Runs the same command again in this same process, with SERVER_NODE_FLAGS in front of Node's
 * own arguments, unless they are there already; the heap's settings can only be given when Node
 * starts. execve keeps the process id, the standard streams and the environment, so a service
 * manager, a container runtime or a terminal sees one process, and signals reach it as before.
 * Returns, changing nothing, where execve is missing (Windows) or the flags were given by hand;
 * call it before anything is opened.
 */
export function restartWithServerNodeFlags(): void {
  const missing = SERVER_NODE_FLAGS.filter((flag) => !given(flag));
  if (missing.length === 0 || process.env[RESTARTED] === '1') return;
  if (typeof process.execve !== 'function') return;
  process.execve(
    process.execPath,
    [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)],
    { ...process.env, [RESTARTED]: '1' },
  );
}

/** Whether Node was started with this option, whatever its value: a value given by hand wins. */
function given(flag: string): boolean {
  const name = flag.split('=')[0] ?? flag;
  return process.execArgv.some((arg) => arg === name || arg.startsWith(`${name}=`));
}
