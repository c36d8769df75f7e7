import { InvalidArgumentError } from 'commander';

const UNIT_SECONDS: Readonly<Record<string, number>> = {
  s: 1,
  m: 60,
  h: 3_600,
  d: 86_400,
  w: 604_800,
};

/**
 * Parses `90s`, `30m`, `8h`, `30d`, `2w` or a sum such as `1h30m` into seconds. Throws commander's
 * InvalidArgumentError, so a bad value is a usage error naming the option.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  const part = /(\d{1,9})([smhdw])/y;
  let seconds = 0;
  let matched = 0;
  for (let m = part.exec(trimmed); m !== null; m = part.exec(trimmed)) {
    seconds += Number(m[1]) * (UNIT_SECONDS[m[2] ?? ''] ?? 0);
    matched = part.lastIndex;
  }
  if (trimmed === '' || matched !== trimmed.length) {
    throw new InvalidArgumentError('use a duration such as 90s, 30m, 8h or 30d');
  }
  if (seconds <= 0 || !Number.isSafeInteger(seconds)) {
    throw new InvalidArgumentError('the duration must be more than zero');
  }
  return seconds;
}

/** A duration, or `none` (returned as null) to switch something off. */
export function parseDurationOrNone(text: string): number | null {
  return text.trim().toLowerCase() === 'none' ? null : parseDuration(text);
}

/** An option parser for whole numbers between `min` and `max`. */
export function integerBetween(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = /^\d{1,10}$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`use a whole number from ${min} to ${max}`);
    }
    return value;
  };
}

/**
 * A point in time: a duration back from now (`1h` is an hour ago) or an ISO 8601 time. Returned
 * as ISO in UTC, the form the API takes.
 */
export function parseTimeBack(now: number): (text: string) => string {
  return (text) => {
    if (/^\d/.test(text) && /[smhdw]$/.test(text.trim())) {
      return new Date(now - parseDuration(text) * 1000).toISOString();
    }
    const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
    if (!Number.isFinite(at)) {
      throw new InvalidArgumentError('use a duration back from now (1h, 7d) or an ISO 8601 time');
    }
    return new Date(at).toISOString();
  };
}

/** A comma-separated list whose items all come from `allowed`, without repeats. */
export function listOf(allowed: readonly string[]): (text: string) => string[] {
  return (text) => {
    const items = text
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
    const unknown = items.filter((item) => !allowed.includes(item));
    if (items.length === 0 || unknown.length > 0) {
      throw new InvalidArgumentError(`use a comma-separated list of: ${allowed.join(', ')}`);
    }
    return [...new Set(items)];
  };
}
