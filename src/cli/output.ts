import type { Writable } from 'node:stream';

/** What a command writes to: data on stdout, notes, warnings and prompts on stderr. */
export interface Output {
  readonly stdout: Writable;
  readonly stderr: Writable;
}

const UNITS: ReadonlyArray<readonly [string, number]> = [
  ['d', 86_400],
  ['h', 3_600],
  ['m', 60],
  ['s', 1],
];

/**
 * Escapes control characters, so a name or reason stored by someone else cannot move the
 * cursor or rewrite the terminal of whoever lists it. Never used on a revealed secret.
 */
export function clean(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the aim
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => {
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/** The API's reply as is: the only thing on stdout under `-o json`. */
export function printJson(out: Output, value: unknown): void {
  out.stdout.write(`${JSON.stringify(value ?? {}, null, 2)}\n`);
}

export function printLine(out: Output, line: string): void {
  out.stdout.write(`${line}\n`);
}

/** A note for people, on stderr, so that stdout stays clean for pipes. */
export function printNote(out: Output, line: string): void {
  out.stderr.write(`${line}\n`);
}

export function printWarning(out: Output, line: string): void {
  out.stderr.write(`warning: ${line}\n`);
}

/** Aligned columns under upper-case headers; an empty list says so instead of a bare header. */
export function printTable(
  out: Output,
  headers: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
  empty = '(none)',
): void {
  if (rows.length === 0) {
    printLine(out, empty);
    return;
  }
  const cells = [headers, ...rows].map((row) => row.map(clean));
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => width(row[i] ?? ''))));
  for (const row of cells) {
    const padded = row.map((cell, i) => (i === row.length - 1 ? cell : pad(cell, widths[i] ?? 0)));
    printLine(out, padded.join('  ').trimEnd());
  }
}

/** `Label:  value` lines with the values aligned. */
export function printFields(out: Output, fields: ReadonlyArray<readonly [string, string]>): void {
  const labelWidth = Math.max(...fields.map(([label]) => width(label))) + 1;
  for (const [label, value] of fields) {
    printLine(out, `${pad(`${label}:`, labelWidth)}  ${clean(value)}`);
  }
}

/** Seconds as the two largest units: `90` is `1m 30s`, `86400` is `1d`. */
export function formatDuration(totalSeconds: number): string {
  let rest = Math.max(0, Math.round(totalSeconds));
  if (rest === 0) return '0s';
  const parts: string[] = [];
  for (const [unit, size] of UNITS) {
    if (rest < size) continue;
    parts.push(`${Math.floor(rest / size)}${unit}`);
    rest %= size;
  }
  return parts.slice(0, 2).join(' ');
}

/** `in 29m` or `3h ago`, relative to `now`. */
export function relativeTime(iso: string, now: number): string {
  const seconds = (Date.parse(iso) - now) / 1000;
  if (Math.abs(seconds) < 5) return 'now';
  const span = formatDuration(Math.abs(seconds));
  return seconds > 0 ? `in ${span}` : `${span} ago`;
}

/** A UTC time to the second, e.g. `2025-01-31 14:05:09Z`; `-` for none. */
export function formatTime(iso: string | null): string {
  if (iso === null) return '-';
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`;
}

/** A time with how far it is from now, e.g. `2025-01-31 14:05:09Z (in 29m)`. */
export function formatWhen(iso: string | null, now: number): string {
  if (iso === null) return '-';
  return `${formatTime(iso)} (${relativeTime(iso, now)})`;
}

export function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

function width(text: string): number {
  return [...text].length;
}

function pad(text: string, size: number): string {
  return text + ' '.repeat(Math.max(0, size - width(text)));
}
