/**
 * When a safe's or an account's secrets may be used at all: days of the week and a time of day
 * in a named zone, checked against the server's clock. Pure functions: the zone database decides
 * the local time, so a daylight-saving change moves the window with the wall clock.
 */

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface AccessWindow {
  readonly days: readonly Weekday[];
  /** "HH:MM", inclusive. */
  readonly start: string;
  /** "HH:MM", exclusive. Earlier than start: the window runs past midnight into the next day. */
  readonly end: string;
  readonly timeZone: string;
}

const TIME_OF_DAY = /^([01]\d|2[0-3]):([0-5]\d)$/;
const WEEKDAY_OF_INTL: Readonly<Record<string, Weekday>> = {
  Mon: 'mon',
  Tue: 'tue',
  Wed: 'wed',
  Thu: 'thu',
  Fri: 'fri',
  Sat: 'sat',
  Sun: 'sun',
};
const formats = new Map<string, Intl.DateTimeFormat>();

export function isWeekday(value: string): value is Weekday {
  return (WEEKDAYS as readonly string[]).includes(value);
}

export function isTimeOfDay(value: string): boolean {
  return TIME_OF_DAY.test(value);
}

/**
 * Whether `at` falls inside the window. The day named is the day the window opens: a Friday
 * 22:00–06:00 window covers Friday night until Saturday 06:00.
 */
export function withinWindow(window: AccessWindow, at: number): boolean {
  const local = localTime(window.timeZone, at);
  const start = minutesOf(window.start);
  const end = minutesOf(window.end);
  if (start < end) {
    return window.days.includes(local.day) && local.minutes >= start && local.minutes < end;
  }
  // Past midnight: the evening part belongs to today, the morning part to yesterday's window.
  if (local.minutes >= start) return window.days.includes(local.day);
  if (local.minutes < end) return window.days.includes(previousDay(local.day));
  return false;
}

function localTime(timeZone: string, at: number): { day: Weekday; minutes: number } {
  const parts = formatFor(timeZone).formatToParts(at);
  let day: Weekday | undefined;
  let hour = 0;
  let minute = 0;
  for (const part of parts) {
    if (part.type === 'weekday') day = WEEKDAY_OF_INTL[part.value];
    else if (part.type === 'hour') hour = Number(part.value) % 24;
    else if (part.type === 'minute') minute = Number(part.value);
  }
  if (day === undefined) throw new Error(`no weekday for ${timeZone}`);
  return { day, minutes: hour * 60 + minute };
}

function formatFor(timeZone: string): Intl.DateTimeFormat {
  let format = formats.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formats.set(timeZone, format);
  }
  return format;
}

function minutesOf(time: string): number {
  const match = TIME_OF_DAY.exec(time);
  if (match === null) throw new Error(`not a time of day: ${time}`);
  return Number(match[1]) * 60 + Number(match[2]);
}

function previousDay(day: Weekday): Weekday {
  const index = WEEKDAYS.indexOf(day);
  return WEEKDAYS[(index + WEEKDAYS.length - 1) % WEEKDAYS.length] as Weekday;
}
