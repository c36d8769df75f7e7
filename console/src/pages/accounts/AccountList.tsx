import { useDeferredValue, useId, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { EmptyState } from '../../components/EmptyState.tsx';
import { ErrorNotice } from '../../components/ErrorNotice.tsx';
import { Loading } from '../../components/Loading.tsx';
import { usePageTitle } from '../../usePageTitle.ts';
import { AccountTable } from './AccountTable.tsx';
import { ONBOARD_PAGE } from './paths.ts';
import { rotationState } from './rotationState.ts';
import { SafeList } from './SafeList.tsx';
import type { AccountView, Target } from './types.ts';
import { useFetched } from './useFetched.ts';
import { useOnboardSafes } from './useOnboardSafes.ts';

/** The state filter's choices, each a test on an account. */
const STATE_FILTERS = {
  '': { label: 'Any state', test: () => true },
  attention: {
    label: 'Needs attention',
    test: (a: AccountView) => ['bad', 'warn'].includes(rotationState(a).tone),
  },
  unverified: { label: 'Not verified', test: (a: AccountView) => a.state === 'unverified' },
  ok: { label: 'Verified', test: (a: AccountView) => rotationState(a).tone === 'ok' },
  'checked-out': { label: 'Checked out', test: (a: AccountView) => a.checkout !== null },
} as const satisfies Record<string, { label: string; test(a: AccountView): boolean }>;
type StateFilter = keyof typeof STATE_FILTERS;

/**
 * Safes and their accounts. The safe and target filters are the API's (GET /v1/accounts?safe=
 * &target=); the search box and the state filter narrow what came back, as the user types. The
 * filters live in the address, so a filtered list can be bookmarked: none of them is secret.
 */
export function AccountList() {
  usePageTitle('Accounts');
  const [params, setParams] = useSearchParams();
  const safe = params.get('safe') ?? '';
  const target = params.get('target') ?? '';
  const query = params.get('q') ?? '';
  const stateParam = params.get('state') ?? '';
  const stateFilter: StateFilter = stateParam in STATE_FILTERS ? (stateParam as StateFilter) : '';
  const deferredQuery = useDeferredValue(query);

  const filter = new URLSearchParams();
  if (safe !== '') filter.set('safe', safe);
  if (target !== '') filter.set('target', target);
  const accounts = useFetched<{ accounts: AccountView[] }>(`/v1/accounts?${filter}`);
  const targets = useFetched<{ targets: Target[] }>('/v1/targets');
  const onboard = useOnboardSafes();
  const canOnboard = onboard.status === 'ready' && onboard.safes.length > 0;

  const setParam = (name: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value === '') next.delete(name);
    else next.set(name, value);
    setParams(next, { replace: true });
  };

  const ids = { search: useId(), target: useId(), state: useId() };
  return (
    <>
      <div className="acct-title">
        <h1 tabIndex={-1}>Accounts</h1>
        {canOnboard && (
          <Link className="acct-button-link" to={ONBOARD_PAGE}>
            Onboard an account
          </Link>
        )}
      </div>
      <div className="acct-browse">
        <SafeList selected={safe} onSelect={(name) => setParam('safe', name)} />
        <section aria-labelledby="accounts-heading" className="acct-browse-main">
          <h2 id="accounts-heading" className="visually-hidden">
            {safe === '' ? 'Accounts in every safe' : `Accounts in safe ${safe}`}
          </h2>
          <search className="acct-filters">
            <div className="acct-filter acct-filter-search">
              <label htmlFor={ids.search}>Search</label>
              <input
                id={ids.search}
                type="search"
                placeholder="target, user name or safe"
                value={query}
                onChange={(event) => setParam('q', event.target.value)}
              />
            </div>
            <div className="acct-filter">
              <label htmlFor={ids.target}>Target</label>
              <select
                id={ids.target}
                value={target}
                onChange={(event) => setParam('target', event.target.value)}
              >
                <option value="">All targets</option>
                {targets.status === 'ready' &&
                  targets.data.targets.map((t) => (
                    <option key={t.name} value={t.name}>
                      {t.name} ({t.platform})
                    </option>
                  ))}
              </select>
            </div>
            <div className="acct-filter">
              <label htmlFor={ids.state}>Rotation state</label>
              <select
                id={ids.state}
                value={stateFilter}
                onChange={(event) => setParam('state', event.target.value)}
              >
                {Object.entries(STATE_FILTERS).map(([value, { label }]) => (
                  <option key={value} value={value}>
                    {label}
                  </option>
                ))}
              </select>
            </div>
          </search>
          {accounts.status === 'loading' && <Loading what="accounts" />}
          {accounts.status === 'error' && (
            <ErrorNotice
              doing="load the accounts"
              error={accounts.error}
              retry={accounts.refresh}
            />
          )}
          {accounts.status === 'ready' && (
            <Results
              all={accounts.data.accounts}
              query={deferredQuery}
              stateFilter={stateFilter}
              filtered={safe !== '' || target !== ''}
              canOnboard={canOnboard}
              onClear={() => setParams(new URLSearchParams(), { replace: true })}
            />
          )}
        </section>
      </div>
    </>
  );
}

function Results({
  all,
  query,
  stateFilter,
  filtered,
  canOnboard,
  onClear,
}: {
  readonly all: readonly AccountView[];
  readonly query: string;
  readonly stateFilter: StateFilter;
  /** A safe or target filter is set. */
  readonly filtered: boolean;
  readonly canOnboard: boolean;
  readonly onClear: () => void;
}) {
  const [limit, setLimit] = useState(PAGE);
  const shown = all.filter((a) => matches(a, query) && STATE_FILTERS[stateFilter].test(a));

  if (all.length === 0 && !filtered) {
    return (
      <EmptyState>
        No account yet.{' '}
        {canOnboard ? (
          <>
            <Link to={ONBOARD_PAGE}>Onboard an account</Link> to put it under Tessera's care.
          </>
        ) : (
          <>
            You see the accounts of the safes you are a member of: ask an administrator to add you
            to one.
          </>
        )}
      </EmptyState>
    );
  }
  if (shown.length === 0) {
    return (
      <div className="state state-empty">
        <p>No account matches these filters.</p>
        <button type="button" className="button-secondary" onClick={onClear}>
          Clear the filters
        </button>
      </div>
    );
  }
  return (
    <>
      <p className="acct-count" role="status">
        {shown.length === all.length
          ? `${all.length} ${all.length === 1 ? 'account' : 'accounts'}`
          : `${shown.length} of ${all.length} accounts`}
      </p>
      <AccountTable accounts={shown.slice(0, limit)} />
      {shown.length > limit && (
        <button type="button" className="button-secondary" onClick={() => setLimit(shown.length)}>
          Show all {shown.length} accounts
        </button>
      )}
    </>
  );
}

/** How many rows the list draws before asking: a thousand rows at once slow a page down. */
const PAGE = 200;

function matches(account: AccountView, query: string): boolean {
  const words = query.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const haystack = `${account.target}/${account.username} ${account.safe}`.toLowerCase();
  return words.every((word) => haystack.includes(word));
}
