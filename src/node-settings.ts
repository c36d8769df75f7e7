import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

/**
 * The Node settings the server runs under, for its memory (and SERVER_ENVIRONMENT below).
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
 * gateway's CPU 2.6 and 1.3 seconds with recording off, 8.0 and 4.1 with it on. The price is
 * memory held while relaying: the peak resident size went from 320–390 MiB to 450 MiB, and to
 * 364 MiB with SERVER_ENVIRONMENT too. Beside a session flooding output, keystrokes' p99 went
 * from 24 to 10 ms. An idle server's memory does not change: these are limits, not allocations.
 */
export const SERVER_NODE_FLAGS: readonly string[] = [
  '--initial-old-space-size=128',
  '--external-memory-accounted-in-global-limit',
  '--max-semi-space-size=8',
];

/**
 * glibc's malloc gives threads that allocate at once (libuv's pool compressing and hashing, V8's
 * helpers) arenas of their own, up to eight per core, and each keeps what is freed in it. Two
 * arenas cost nothing measurable here and hold less: relaying 512 MiB, the peak resident size
 * went from 472 to 371 MiB at the same throughput. Other C libraries ignore it. A value already
 * in the environment wins.
 */
export const SERVER_ENVIRONMENT: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

/** `off` keeps Node's own settings: for a small container, or a Node these do not suit. */
export const NODE_SETTINGS_SWITCH = 'TESSERA_NODE_SETTINGS';
/** Set for the command run again, which removes it, so that it is run again only once. */
const RESTARTED = 'TESSERA_NODE_SETTINGS_APPLIED';
/** Node's exit status for an option it does not know. */
const BAD_OPTION = 9;
/** A Node start with no script takes about 50 ms; this much means something else is wrong. */
const PROBE_TIMEOUT_MS = 5_000;
const KEPT = "tessera: the server keeps Node's own heap settings";
/** The CLI's global options that take a value (main.ts). */
const VALUE_OPTIONS: ReadonlySet<string> = new Set(['-o', '--output', '--addr']);

/**
 * For `tessera server` (`argv` without node and the script): runs the same command again in this
 * same process, with the server's settings in front of Node's own arguments; the heap's settings
 * can only be given when Node starts. execve keeps the process id, the standard streams'
 * descriptors and the environment, so a service manager, a container runtime or a terminal sees
 * one process, and signals reach it as before. Nothing may use the standard streams through Node
 * before it, `note` included (write it with fs.writeSync): a piped stream Node has opened is
 * non-blocking, and would stay so for whoever shares the pipe.
 *
 * Returns, changing nothing, for any other command, where execve is missing (Windows), with
 * TESSERA_NODE_SETTINGS=off, when every setting was given by hand (a value given by hand wins),
 * or when a preload (`--require`, `--import`) would run a second time, and says why in `note`
 * where that is news. Settings this Node does not know are left out.
 */
export function restartForServer(argv: readonly string[], note: (line: string) => void): void {
  if (commandOf(argv) !== 'server') return;
  if (process.env[RESTARTED] === '1') {
    // The server's own child processes do not inherit it.
    delete process.env[RESTARTED];
    return;
  }
  const off = process.env[NODE_SETTINGS_SWITCH]?.toLowerCase() === 'off';
  if (off || typeof process.execve !== 'function') return;
  const own = nodeArguments(process.execArgv, process.env.NODE_OPTIONS);
  const wanted = notGiven(SERVER_NODE_FLAGS, own);
  if (wanted.length === 0) return;
  if (own.some(isPreload)) {
    note(`${KEPT}: a --require or --import preload would run twice`);
    return;
  }
  const tried = trial(wanted);
  if (tried === null) {
    note(`${KEPT}: a trial start of Node with them failed`);
    return;
  }
  if (tried.unknown.length > 0) {
    note(`tessera: this Node does not know ${tried.unknown.join(' ')}; the server runs without`);
  }
  if (tried.starts.length === 0 || !executable(process.execPath)) return;
  try {
    process.execve(
      process.execPath,
      [process.execPath, ...tried.starts, ...process.execArgv, ...process.argv.slice(1)],
      { ...SERVER_ENVIRONMENT, ...process.env, [RESTARTED]: '1' },
    );
  } catch {
    // Node 24 aborts on a failed execve; later versions throw.
    note(`${KEPT}: Node could not be started again`);
  }
}

/**
 * The command's name: the first argument that is not an option, nor the value of a global option
 * that takes one (main.ts). Were a new such option missed here, a server would only run without
 * the settings, or another command with them.
 */
export function commandOf(argv: readonly string[]): string | null {
  for (let at = 0; at < argv.length; at++) {
    const arg = argv[at] ?? '';
    if (arg === '--') return argv[at + 1] ?? null;
    if (VALUE_OPTIONS.has(arg)) at += 1;
    else if (!arg.startsWith('-')) return arg;
  }
  return null;
}

/** SERVER_NODE_FLAGS that this Node starts with (benches start their servers with these). */
export function knownServerNodeFlags(): readonly string[] {
  return startableFlags(SERVER_NODE_FLAGS);
}

/** The options this Node starts with, of those given; none when a trial start fails. */
export function startableFlags(flags: readonly string[]): readonly string[] {
  return trial(flags)?.starts ?? [];
}

/**
 * Which options this Node starts with and which it does not know: one Node start when it knows
 * them all, one more for each otherwise. Null when a start fails for another reason (a timeout,
 * a Node that cannot run): no guess is made then. The trial gets no environment: no
 * NODE_OPTIONS preloads, no secrets.
 */
function trial(flags: readonly string[]): { starts: string[]; unknown: string[] } | null {
  const all = probe(flags);
  if (all === 'starts') return { starts: [...flags], unknown: [] };
  if (all === 'failed') return null;
  const starts: string[] = [];
  const unknown: string[] = [];
  for (const flag of flags) {
    const one = probe([flag]);
    if (one === 'failed') return null;
    (one === 'starts' ? starts : unknown).push(flag);
  }
  return { starts, unknown };
}

function probe(flags: readonly string[]): 'starts' | 'bad-option' | 'failed' {
  try {
    const started = spawnSync(process.execPath, [...flags, '-e', ''], {
      stdio: 'ignore',
      env: {},
      timeout: PROBE_TIMEOUT_MS,
    });
    if (started.status === 0) return 'starts';
    return started.status === BAD_OPTION ? 'bad-option' : 'failed';
  } catch {
    // Starting a process is not allowed here (Node's permission model).
    return 'failed';
  }
}

/**
 * The settings Node was not started with, in any value or in their `--no-` form: a value given
 * by hand wins. V8 reads `_` in an option's name as `-`.
 */
export function notGiven(flags: readonly string[], own: readonly string[]): string[] {
  const names = new Set(own.map(optionName));
  return flags.filter((flag) => {
    const name = optionName(flag);
    return !names.has(name) && !names.has(name.replace(/^--/, '--no-'));
  });
}

/** Node's own arguments: its command line, then NODE_OPTIONS (quotes dropped). */
export function nodeArguments(execArgv: readonly string[], nodeOptions = ''): string[] {
  const fromEnvironment = nodeOptions.replaceAll(/["']/g, '').split(/\s+/);
  return [...execArgv, ...fromEnvironment].filter((arg) => arg !== '');
}

function optionName(arg: string): string {
  return (arg.split('=')[0] ?? arg).replaceAll('_', '-');
}

function isPreload(arg: string): boolean {
  return ['-r', '--require', '--import', '--loader', '--experimental-loader'].includes(
    optionName(arg),
  );
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
