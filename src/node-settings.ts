import { spawnSync } from 'node:child_process';

/**
 * The Node settings the server runs under, for its memory.
 *
 * Every Buffer is memory outside V8's heap: each read from a socket, each SSH packet decrypted
 * or encrypted, each recording frame. By default V8 starts a full collection whenever 64 MiB more
 * of it has been allocated since the last one, or when the old generation with that memory nears
 * a limit derived from the server's own heap, which is small (about 35 MB). A session relaying
 * 200 MiB/s allocates that much several times a second, so full collections ran back to back,
 * each marking the whole heap on a second thread and pausing the event loop for 3 to 12 ms.
 *
 * - `--initial-old-space-size=128` puts a floor of 128 MiB under the old generation's limit,
 *   and so 256 MiB under the limit for all memory.
 * - `--external-memory-accounted-in-global-limit` counts memory outside the heap against that
 *   second limit instead of the fixed 64 MiB. Young collections, which free the Buffers that
 *   died young (nearly all of them), keep it far below; a full collection is rarely needed.
 * - `--max-semi-space-size=8` keeps the young generation at 16 MiB: it grew with the rate of
 *   allocation to 64 MiB and more under many busy sessions, though almost nothing in it survives.
 *
 * Measured on a fresh server relaying 512 MiB through the gateway (bench/support/gateway-rig.ts,
 * `--trace-gc`), without these settings and then with them: full collections 77 and 2; the
 * gateway's CPU 2.6 and 1.3 seconds with recording off, 8.0 and 4.1 with it on; its peak resident
 * memory 320 to 390 MiB and 450 MiB. Beside a session flooding output, keystrokes' p99 went from
 * 24 to 10 ms. An idle server's memory does not change: these are limits, not allocations.
 */
export const SERVER_NODE_FLAGS: readonly string[] = [
  '--initial-old-space-size=128',
  '--external-memory-accounted-in-global-limit',
  '--max-semi-space-size=8',
];

/** Set in the environment of the command run again, so that it is never run a third time. */
const RESTARTED = 'TESSERA_NODE_SETTINGS_APPLIED';
const PROBE_TIMEOUT_MS = 10_000;

/**
 * Runs the same command again in this same process, with the server's settings in front of
 * Node's own arguments, unless they are there already; the heap's settings can only be given when
 * Node starts. execve keeps the process id, the standard streams and the environment, so a
 * service manager, a container runtime or a terminal sees one process, and signals reach it as
 * before. Returns, changing nothing, where execve is missing (Windows) or the settings were given
 * by hand; call it before anything is opened.
 */
export function restartWithServerNodeFlags(): void {
  if (process.env[RESTARTED] === '1' || typeof process.execve !== 'function') return;
  const missing = knownServerNodeFlags().filter((flag) => !given(flag));
  if (missing.length === 0) return;
  process.execve(
    process.execPath,
    [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)],
    { ...process.env, [RESTARTED]: '1' },
  );
}

let known: readonly string[] | null = null;

/**
 * SERVER_NODE_FLAGS that this Node starts with. V8's options change between Node versions, and
 * Node refuses to start with one it does not know: an option missing here is left out, not fatal.
 * Asking costs one short Node start, once.
 */
export function knownServerNodeFlags(): readonly string[] {
  known ??= startableFlags(SERVER_NODE_FLAGS);
  return known;
}

/** The options this Node starts with, of those given; one Node start when all of them do. */
export function startableFlags(flags: readonly string[]): readonly string[] {
  return startsWith(flags) ? flags : flags.filter((flag) => startsWith([flag]));
}

function startsWith(flags: readonly string[]): boolean {
  const probe = spawnSync(process.execPath, [...flags, '-e', ''], {
    stdio: 'ignore',
    timeout: PROBE_TIMEOUT_MS,
  });
  return probe.status === 0;
}

/** Whether Node was started with this option, whatever its value: a value given by hand wins. */
function given(flag: string): boolean {
  const name = flag.split('=')[0] ?? flag;
  const negated = name.replace(/^--/, '--no-');
  return process.execArgv.some(
    (arg) => arg === name || arg === negated || arg.startsWith(`${name}=`),
  );
}
