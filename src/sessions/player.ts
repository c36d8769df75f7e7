import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AsciicastEvent,
  type AsciicastHeader,
  parseResizeData,
  type ScreenSize,
} from './asciicast.ts';

/** Time for playback; tests pass one they control. */
export interface PlaybackTimer {
  /** Milliseconds, monotonic. */
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface PlayOptions {
  /** 2 plays twice as fast. */
  readonly speed?: number;
  /** A pause in the recording longer than this plays as this long (before speed applies). */
  readonly maxIdleMs?: number;
  /** Seconds into the recording to start at: output before it is written at once. */
  readonly from?: number;
  readonly signal?: AbortSignal;
  /** The screen size in force, at `from` and after each resize. */
  readonly onResize?: (size: ScreenSize) => void;
  readonly timer?: PlaybackTimer;
}

export interface PlayResult {
  /** False when the signal stopped playback. */
  readonly completed: boolean;
  readonly events: number;
}

/** Long pauses play as two seconds by default: hours of idle terminal show nothing. */
export const DEFAULT_MAX_IDLE_MS = 2_000;

const systemTimer: PlaybackTimer = {
  now: () => performance.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal }),
};

/**
 * Writes a recording's output with its original timing, scaled by `speed`. Waits are measured
 * from the start of playback, so slow writes do not add up to drift.
 */
export async function play(
  events: Iterable<AsciicastEvent> | AsyncIterable<AsciicastEvent>,
  write: (data: string) => void | Promise<void>,
  options: PlayOptions = {},
): Promise<PlayResult> {
  const { speed, maxIdleMs, from } = checkPlayOptions(options);
  const timer = options.timer ?? systemTimer;
  const started = timer.now();
  let timeline = 0;
  let previous = from;
  let played = 0;
  for await (const event of events) {
    if (options.signal?.aborted) return { completed: false, events: played };
    played += 1;
    if (event.time >= from) {
      const gap = Math.max(0, event.time - previous) * 1000;
      previous = event.time;
      timeline += Math.min(gap, maxIdleMs) / speed;
      const wait = started + timeline - timer.now();
      if (wait > 0 && !(await pause(timer, wait, options.signal))) {
        return { completed: false, events: played - 1 };
      }
    }
    await apply(event, write, options.onResize);
  }
  return { completed: true, events: played };
}

/** The screen size in force at `time` seconds: the header's, or the last resize at or before it. */
export function screenSizeAt(
  header: Pick<AsciicastHeader, 'width' | 'height'>,
  events: Iterable<AsciicastEvent>,
  time: number,
): ScreenSize {
  let size: ScreenSize = { cols: header.width, rows: header.height };
  for (const event of events) {
    if (event.time > time) break;
    if (event.code !== 'r') continue;
    size = parseResizeData(event.data) ?? size;
  }
  return size;
}

async function apply(
  event: AsciicastEvent,
  write: (data: string) => void | Promise<void>,
  onResize: PlayOptions['onResize'],
): Promise<void> {
  if (event.code === 'o') {
    await write(event.data);
  } else if (event.code === 'r') {
    const size = parseResizeData(event.data);
    if (size !== null) onResize?.(size);
  }
}

async function pause(timer: PlaybackTimer, ms: number, signal?: AbortSignal): Promise<boolean> {
  try {
    await timer.sleep(ms, signal);
    return true;
  } catch (error) {
    if (signal?.aborted) return false;
    throw error;
  }
}

function checkPlayOptions(options: PlayOptions) {
  const speed = options.speed ?? 1;
  const maxIdleMs = options.maxIdleMs ?? DEFAULT_MAX_IDLE_MS;
  const from = options.from ?? 0;
  if (!(speed > 0 && Number.isFinite(speed))) throw new RangeError('speed must be above zero');
  if (!(maxIdleMs >= 0)) throw new RangeError('maxIdleMs must not be negative');
  if (!(from >= 0 && Number.isFinite(from))) throw new RangeError('from must not be negative');
  return { speed, maxIdleMs, from };
}
