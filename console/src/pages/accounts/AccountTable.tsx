import { Link } from 'react-router';
import { formatTime, timeLeft } from '../../format.ts';
import { useNow } from '../../useNow.ts';
import { accountPage } from './paths.ts';
import { rotationState, verifySummary } from './rotationState.ts';
import { StateBadge } from './StateBadge.tsx';
import type { AccountView } from './types.ts';

/**
 * Accounts as a table on a wide window; on a narrow one each row becomes a card (CSS), every
 * cell keeping its column's name.
 */
export function AccountTable({ accounts }: { readonly accounts: readonly AccountView[] }) {
  const now = useNow();
  return (
    <table className="acct-table acct-list card-table">
      <caption className="visually-hidden">Accounts, by target and user name</caption>
      <thead>
        <tr>
          <th scope="col">Account</th>
          <th scope="col">Safe</th>
          <th scope="col">Rotation state</th>
          <th scope="col">Last rotated</th>
          <th scope="col">Last verify</th>
          <th scope="col">Checked out</th>
        </tr>
      </thead>
      <tbody>
        {accounts.map((a) => {
          const state = rotationState(a);
          const verify = verifySummary(a);
          return (
            <tr key={a.id}>
              <th scope="row" data-label="Account">
                <Link to={accountPage(a)}>{a.ref}</Link>
              </th>
              <td data-label="Safe">{a.safe}</td>
              <td data-label="Rotation state">
                <StateBadge tone={state.tone} label={state.label} />
              </td>
              <td data-label="Last rotated">
                {a.lastRotatedAt === null ? 'never' : formatTime(a.lastRotatedAt)}
              </td>
              <td data-label="Last verify">
                {a.lastVerifiedAt === null ? (
                  'never'
                ) : (
                  <>
                    <StateBadge
                      tone={verify.tone}
                      label={verify.tone === 'ok' ? 'valid' : 'failed'}
                    />{' '}
                    <span className="acct-muted acct-block">{formatTime(a.lastVerifiedAt)}</span>
                  </>
                )}
              </td>
              <td data-label="Checked out">
                {a.checkout === null ? (
                  <span className="acct-muted">no</span>
                ) : (
                  <>
                    {a.checkout.holder}, until {formatTime(a.checkout.expiresAt)}{' '}
                    <span className="acct-muted">({timeLeft(a.checkout.expiresAt, now)} left)</span>
                  </>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
