import type { AuditEvent, AuditFilter, AuditOutcome } from './types.ts';

export const PAGE_SIZES = [50, 100, 250, 1000] as const;
export const OUTCOMES: readonly AuditOutcome[] = ['success', 'failure', 'denied'];

export const EMPTY_FILTER: AuditFilter = {
  actor: '',
  action: '',
  object: '',
  outcome: '',
  since: '',
  until: '',
  limit: 100,
};

/**
 * The page's address keeps the search, so a reload or a shared link shows the same events.
 * Names of people, actions and objects are not secrets; nothing else goes there.
 */
export function filterFromParams(params: URLSearchParams): AuditFilter {
  const text = (key: string, max: number) => (params.get(key) ?? '').slice(0, max);
  const outcome = params.get('outcome') ?? '';
  const limit = Number(params.get('limit'));
  return {
    actor: text('actor', 128),
    action: text('action', 128),
    object: text('object', 300),
    outcome: OUTCOMES.find((o) => o === outcome) ?? '',
    since: localTime(params.get('since')),
    until: localTime(params.get('until')),
    limit: PAGE_SIZES.find((size) => size === limit) ?? EMPTY_FILTER.limit,
  };
}

export function filterToParams(filter: AuditFilter): URLSearchParams {
  const params = new URLSearchParams();
  for (const key of ['actor', 'action', 'object', 'outcome', 'since', 'until'] as const) {
    const value = filter[key].trim();
    if (value !== '') params.set(key, value);
  }
  if (filter.limit !== EMPTY_FILTER.limit) params.set('limit', String(filter.limit));
  return params;
}

/** GET /v1/audit/events with the filters the API takes; `after` pages on. */
export function eventsPath(filter: AuditFilter, after: number | null, limit = filter.limit) {
  const query = new URLSearchParams();
  for (const key of ['actor', 'action', 'object'] as const) {
    const value = filter[key].trim();
    if (value !== '') query.set(key, value);
  }
  const since = isoOf(filter.since);
  const until = isoOf(filter.until);
  if (since !== null) query.set('since', since);
  if (until !== null) query.set('until', until);
  if (after !== null) query.set('after', String(after));
  query.set('limit', String(limit));
  return `/v1/audit/events?${query.toString()}`;
}

/** The outcome filter, which the API does not have: applied to the events it returned. */
export function byOutcome(events: readonly AuditEvent[], outcome: AuditFilter['outcome']) {
  return outcome === '' ? events : events.filter((event) => event.outcome === outcome);
}

/** A datetime-local value (the reader's zone) as the API's ISO time; null when empty or bad. */
function isoOf(local: string): string | null {
  if (local === '') return null;
  const ms = new Date(local).getTime();
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** Only a well-formed datetime-local value comes back from the address. */
function localTime(value: string | null): string {
  return value !== null && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(value) ? value : '';
}
