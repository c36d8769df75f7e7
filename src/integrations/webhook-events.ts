import { TesseraError } from '../errors.ts';

/** At most this many entries in one webhook's `events`. */
export const MAX_EVENT_FILTERS = 32;
/** The longest event name or prefix. */
export const MAX_EVENT_LENGTH = 64;

/** `request.created`, `breakglass.opened`: lower-case words joined by dots. */
const EVENT_NAME = /^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$/;
/** `request.`: every event whose name starts with it. */
const EVENT_PREFIX = /^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*\.$/;

/**
 * Checks a webhook's subscriptions: each is an event name (`request.created`), a prefix ending
 * in a dot (`request.`), or `*` for everything. Answers them without repeats, in the given order.
 */
export function parseEventFilters(filters: readonly string[]): string[] {
  if (filters.length === 0) throw invalid('events needs at least one event name, prefix or *');
  if (filters.length > MAX_EVENT_FILTERS) {
    throw invalid(`events takes at most ${MAX_EVENT_FILTERS} entries`);
  }
  const parsed: string[] = [];
  for (const raw of filters) {
    const filter = raw.trim();
    const valid =
      filter === '*' ||
      (filter.length <= MAX_EVENT_LENGTH && (EVENT_NAME.test(filter) || EVENT_PREFIX.test(filter)));
    if (!valid) {
      throw invalid(
        'each of events is an event name (request.created), a prefix ending in a dot ' +
          '(request.) or *; lower-case letters, digits, dash, underscore and dots',
      );
    }
    if (!parsed.includes(filter)) parsed.push(filter);
  }
  return parsed;
}

/** Whether a webhook with these subscriptions gets `event`. */
export function subscribesTo(filters: readonly string[], event: string): boolean {
  return filters.some((f) => f === '*' || f === event || (f.endsWith('.') && event.startsWith(f)));
}

/** A name the domains may notify under; anything else is a fault in the caller. */
export function assertEventName(event: string): void {
  if (event.length > MAX_EVENT_LENGTH || !EVENT_NAME.test(event)) {
    throw new Error('a webhook event name is lower-case words joined by dots');
  }
}

/** Stored as one text column: the filters joined by commas (none of them holds a comma). */
export function joinEventFilters(filters: readonly string[]): string {
  return filters.join(',');
}

export function splitEventFilters(column: string): string[] {
  return column === '' ? [] : column.split(',');
}

function invalid(message: string): TesseraError {
  return new TesseraError('VALIDATION_FAILED', message, { field: 'events' });
}
