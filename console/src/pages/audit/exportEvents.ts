import type { AuditEvent } from './types.ts';

const REVOKE_AFTER_MS = 10_000;

/** The columns of the CSV export, in the order of the API's event fields. */
const COLUMNS = [
  'seq',
  'id',
  'at',
  'actor',
  'actorId',
  'action',
  'objectType',
  'object',
  'outcome',
  'source',
  'reason',
  'requestId',
  'details',
  'hash',
] as const satisfies readonly (keyof AuditEvent)[];

/**
 * A spreadsheet runs a cell that starts with one of these as a formula. Actor names, objects
 * and reasons are typed by users, so such a cell gets a leading apostrophe: shown as text.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/** One CSV cell: text as-is, details as JSON, quoted when it holds a quote, comma or newline. */
export function csvCell(value: unknown): string {
  let text: string;
  if (value === null || value === undefined) text = '';
  else if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean') text = String(value);
  else text = JSON.stringify(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** RFC 4180 CSV with a header row and CRLF line ends. */
export function eventsToCsv(events: readonly AuditEvent[]): string {
  const lines = [COLUMNS.join(',')];
  for (const event of events) lines.push(COLUMNS.map((column) => csvCell(event[column])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

export function eventsToJson(events: readonly AuditEvent[]): string {
  return `${JSON.stringify(events, null, 2)}\n`;
}

/** tessera-audit-20260102-1530.csv: when it was taken, in the reader's time. */
export function exportName(extension: 'csv' | 'json', now = new Date()): string {
  const two = (n: number) => String(n).padStart(2, '0');
  const day = `${now.getFullYear()}${two(now.getMonth() + 1)}${two(now.getDate())}`;
  return `tessera-audit-${day}-${two(now.getHours())}${two(now.getMinutes())}.${extension}`;
}

/**
 * Hands the text to the browser as a download. The object URL is revoked once the browser has
 * had time to start reading it (some start only after the click handler returns), so the trail
 * does not stay reachable from the page.
 */
export function download(name: string, type: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), REVOKE_AFTER_MS);
}
