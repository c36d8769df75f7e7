import { ErrorNotice } from '../../components/ErrorNotice.tsx';
import { Loading } from '../../components/Loading.tsx';
import type { Safe } from './types.ts';
import { useFetched } from './useFetched.ts';

/**
 * The safes the user may see (GET /v1/safes: all for admins and auditors, their own for
 * users); choosing one shows its accounts. The choice is a toggle button, so the selected safe
 * is announced as pressed.
 */
export function SafeList({
  selected,
  onSelect,
}: {
  readonly selected: string;
  readonly onSelect: (safe: string) => void;
}) {
  const safes = useFetched<{ safes: Safe[] }>('/v1/safes');
  return (
    <nav className="acct-safes" aria-labelledby="safes-heading">
      <h2 id="safes-heading">Safes</h2>
      {safes.status === 'loading' && <Loading what="safes" />}
      {safes.status === 'error' && (
        <ErrorNotice doing="load the safes" error={safes.error} retry={safes.refresh} />
      )}
      {safes.status === 'ready' &&
        (safes.data.safes.length === 0 ? (
          <p className="state-empty">
            You are in no safe yet. An administrator adds you to the safes you work with.
          </p>
        ) : (
          <ul>
            <li>
              <button
                type="button"
                className="acct-safe"
                aria-pressed={selected === ''}
                onClick={() => onSelect('')}
              >
                All safes
              </button>
            </li>
            {safes.data.safes.map((s) => (
              <li key={s.id}>
                <button
                  type="button"
                  className="acct-safe"
                  aria-pressed={selected === s.name}
                  onClick={() => onSelect(s.name)}
                >
                  <span className="acct-safe-name">{s.name}</span>
                  {s.description !== '' && (
                    <span className="acct-safe-description">{s.description}</span>
                  )}
                </button>
              </li>
            ))}
          </ul>
        ))}
    </nav>
  );
}
