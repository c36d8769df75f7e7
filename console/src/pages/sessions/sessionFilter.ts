/** The recorded-sessions search, kept in the page's address so it survives a reload. */
export interface SessionFilter {
  readonly user: string;
  readonly target: string;
  readonly command: string;
}

export const EMPTY_FILTER: SessionFilter = { user: '', target: '', command: '' };
const KEYS = ['user', 'target', 'command'] as const;
/** How many sessions one search shows (the server allows up to 1000). */
export const PAGE_SIZE = 100;

export function filterFromParams(params: URLSearchParams): SessionFilter {
  return {
    user: params.get('user') ?? '',
    target: params.get('target') ?? '',
    command: params.get('command') ?? '',
  };
}

/** The non-empty filters, trimmed: for the address bar and for the API alike. */
export function filterToParams(filter: SessionFilter): URLSearchParams {
  const params = new URLSearchParams();
  for (const key of KEYS) {
    const value = filter[key].trim();
    if (value !== '') params.set(key, value);
  }
  return params;
}

export function sessionsQuery(filter: SessionFilter): string {
  const params = filterToParams(filter);
  params.set('limit', String(PAGE_SIZE));
  return `/v1/sessions?${params}`;
}

export function isFiltered(filter: SessionFilter): boolean {
  return filterToParams(filter).size > 0;
}
