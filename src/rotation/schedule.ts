import { createHash } from 'node:crypto';
import type { Policy } from '../accounts/policies.ts';

/**
 * When scheduled rotations run. Pure functions of a policy, an account and a time: the store
 * keeps only the resulting instant (UTC milliseconds), the policy keeps the zone's name, so a
 * change of daylight-saving rules in the zone database is picked up at the next computation.
 */

/** The first retry after a failed rotation waits this long; each further failure doubles it. */
export const RETRY_BASE_MS = 5 * 60_000;
/** ...up to this. */
export const RETRY_CAP_MS = 24 * 3_600_000;

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
/** Wide enough to see both offsets around any daylight-saving change near a wall-clock time. */
const OFFSET_PROBE_MS = DAY_MS;
const ROTATE_AT = /^([01]\d|2[0-3]):([0-5]\d)$/;

interface LocalDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

interface WallClock extends LocalDate {
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

/**
 * The next scheduled rotation of an account after `from` (usually the end of its last
 * rotation), or null when the policy has no interval.
 *
 * Interval only: `from + interval + jitter`.
 *
 * With `rotateAt` ("HH:MM" in `timeZone`, UTC when none), the interval counts whole days of a
 * calendar: the run at or before `from` belongs to the latest HH:MM at or before it, and the next
 * one is that many calendar days later, at HH:MM, plus jitter. A late, retried or jittered run
 * therefore never pushes the schedule a day on, and a 23- or 25-hour day still has its one run.
 * An HH:MM that does not exist that day (clocks go forward) runs at the first instant after the
 * gap; one that happens twice (clocks go back) runs at the first of them only.
 */
export function nextRotationAt(policy: Policy, accountId: string, from: number): number | null {
  if (policy.rotationIntervalS === null) return null;
  const jitterWindowMs = policy.jitterS * 1000;

  if (policy.rotateAt === null) {
    const at = from + policy.rotationIntervalS * 1000;
    return at + jitterMs(accountId, utcDayKey(at), jitterWindowMs);
  }

  const zone = createZone(policy.timeZone ?? 'UTC');
  const time = parseRotateAt(policy.rotateAt);
  const days = Math.max(1, Math.round(policy.rotationIntervalS / 86_400));
  const next = addDays(latestSlotDate(zone, time, from), days);
  return zone.instantOf(next, time) + jitterMs(accountId, dateKey(next), jitterWindowMs);
}

/**
 * How long to wait before trying again after `failures` consecutive failed rotations, the one
 * just seen included: 5 minutes after the first, doubling, at most a day. 0 for no failure.
 */
export function retryDelayMs(failures: number): number {
  if (!(failures >= 1)) return 0;
  const doublings = Math.min(Math.floor(failures) - 1, 30);
  return Math.min(RETRY_BASE_MS * 2 ** doublings, RETRY_CAP_MS);
}

/**
 * A deterministic delay in [0, windowMs) for one account and one day: a few hundred accounts on
 * one schedule spread over the window, and a restart computes the same delay again.
 */
export function jitterMs(accountId: string, dayKey: string, windowMs: number): number {
  if (windowMs <= 0) return 0;
  const digest = createHash('sha256').update(`${accountId}\u0000${dayKey}`).digest();
  const fraction = digest.readUIntBE(0, 6) / 2 ** 48;
  return Math.floor(fraction * windowMs);
}

/** The zone's canonical name, or null when the zone database does not know it. */
export function canonicalTimeZone(name: string): string | null {
  // Intl also takes fixed offsets such as +02:00; those are not zones and know no daylight saving.
  if (!/^[A-Za-z]/.test(name)) return null;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return null; // RangeError: unknown zone
  }
}

/** Whether `text` is a wall-clock time of day as policies take it: `HH:MM`, 24-hour. */
export function isRotateAt(text: string): boolean {
  return ROTATE_AT.test(text);
}

interface TimeOfDay {
  readonly hour: number;
  readonly minute: number;
}

interface Zone {
  wallClock(at: number): WallClock;
  /** The instant of a local date and time, settled for daylight-saving gaps and overlaps. */
  instantOf(date: LocalDate, time: TimeOfDay): number;
}

function createZone(timeZone: string): Zone {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });

  const wallClock = (at: number): WallClock => {
    const parts: Record<string, number> = {};
    for (const part of format.formatToParts(at)) {
      if (part.type !== 'literal') parts[part.type] = Number(part.value);
    }
    return {
      year: parts.year ?? 0,
      month: parts.month ?? 0,
      day: parts.day ?? 0,
      hour: parts.hour ?? 0,
      minute: parts.minute ?? 0,
      second: parts.second ?? 0,
    };
  };

  /** Local time minus UTC at an instant, in milliseconds. */
  const offsetAt = (at: number) => {
    const w = wallClock(at);
    const wholeSecond = at - (((at % 1000) + 1000) % 1000);
    return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - wholeSecond;
  };

  const instantOf = (date: LocalDate, time: TimeOfDay) => {
    const naive = Date.UTC(date.year, date.month - 1, date.day, time.hour, time.minute);
    const before = offsetAt(naive - OFFSET_PROBE_MS);
    const after = offsetAt(naive + OFFSET_PROBE_MS);
    const shows = (at: number) => {
      const w = wallClock(at);
      return w.day === date.day && w.hour === time.hour && w.minute === time.minute;
    };
    // Clocks going back show the time twice: the earlier instant is the one.
    const valid = [naive - before, naive - after].filter(shows).sort((a, b) => a - b);
    if (valid[0] !== undefined) return valid[0];
    // Clocks going forward skip it: the first instant after the gap.
    return firstInstantWithOffset(offsetAt, naive - after, naive - before, after);
  };

  return { wallClock, instantOf };
}

/** The earliest minute in (low, high] whose offset is `offset`; the offset at `low` differs. */
function firstInstantWithOffset(
  offsetAt: (at: number) => number,
  low: number,
  high: number,
  offset: number,
): number {
  let lo = low;
  let hi = high;
  while (hi - lo > MINUTE_MS) {
    const mid = lo + Math.floor((hi - lo) / 2 / MINUTE_MS) * MINUTE_MS;
    if (offsetAt(mid) === offset) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** The local date of the latest HH:MM at or before `at`. */
function latestSlotDate(zone: Zone, time: TimeOfDay, at: number): LocalDate {
  const today = zone.wallClock(at);
  return zone.instantOf(today, time) <= at ? today : addDays(today, -1);
}

function parseRotateAt(text: string): TimeOfDay {
  const match = ROTATE_AT.exec(text);
  if (match === null) throw new RangeError('rotateAt is not HH:MM');
  return { hour: Number(match[1]), minute: Number(match[2]) };
}

function addDays(date: LocalDate, days: number): LocalDate {
  const moved = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: moved.getUTCFullYear(), month: moved.getUTCMonth() + 1, day: moved.getUTCDate() };
}

function dateKey(date: LocalDate): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.year}-${pad(date.month)}-${pad(date.day)}`;
}

function utcDayKey(at: number): string {
  return new Date(at).toISOString().slice(0, 10);
}
