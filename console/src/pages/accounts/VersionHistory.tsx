import { EmptyState } from '../../components/EmptyState.tsx';
import { ErrorNotice } from '../../components/ErrorNotice.tsx';
import { Loading } from '../../components/Loading.tsx';
import { formatTime } from '../../format.ts';
import type { Tone } from './rotationState.ts';
import { StateBadge } from './StateBadge.tsx';
import type { SecretVersion } from './types.ts';
import type { Fetched } from './useFetched.ts';

const STATUS: Readonly<Record<string, { tone: Tone; label: string }>> = {
  current: { tone: 'ok', label: 'current' },
  previous: { tone: 'neutral', label: 'previous' },
  pending: { tone: 'info', label: 'pending' },
  partial: { tone: 'warn', label: 'partly applied' },
  discarded: { tone: 'bad', label: 'discarded' },
};

/** Where a version came from (rotation-engine.ts: RotationOrigin), in words. */
const ORIGIN: Readonly<Record<string, string>> = {
  onboard: 'onboarded',
  'rotation:manual': 'rotated on demand',
  'rotation:schedule': 'scheduled rotation',
  'rotation:checkin': 'rotated after check-in',
  'rotation:checkout-expiry': 'rotated when a check-out ran out',
  'rotation:reconcile': 'reconciled',
  'rotation:breakglass': 'rotated after break-glass',
};

/** The rotation history: every version of the secret and what became of it; no value, ever. */
export function VersionHistory({
  versions,
}: {
  readonly versions: Fetched<{ versions: SecretVersion[] }> & { refresh(): void };
}) {
  return (
    <section className="panel acct-wide" aria-labelledby="account-history">
      <h2 id="account-history">Rotation history</h2>
      {versions.status === 'loading' && <Loading what="the history" />}
      {versions.status === 'error' && (
        <ErrorNotice doing="load the history" error={versions.error} retry={versions.refresh} />
      )}
      {versions.status === 'ready' &&
        (versions.data.versions.length === 0 ? (
          <EmptyState>No version yet: the account was onboarded without a secret.</EmptyState>
        ) : (
          <table className="acct-table acct-history card-table">
            <caption className="visually-hidden">Versions of the secret, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Status</th>
                <th scope="col">Origin</th>
                <th scope="col">Created</th>
                <th scope="col">Became current</th>
              </tr>
            </thead>
            <tbody>
              {newestFirst(versions.data.versions).map((v) => {
                const status = STATUS[v.status] ?? { tone: 'neutral', label: v.status };
                return (
                  <tr key={v.version}>
                    <td data-label="Version">{v.version}</td>
                    <td data-label="Status">
                      <StateBadge tone={status.tone} label={status.label} />
                    </td>
                    <td data-label="Origin">{ORIGIN[v.origin] ?? v.origin}</td>
                    <td data-label="Created">
                      {formatTime(v.createdAt)} by {v.createdBy}
                    </td>
                    <td data-label="Became current">
                      {v.promotedAt === null ? '—' : formatTime(v.promotedAt)}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        ))}
    </section>
  );
}

function newestFirst(versions: readonly SecretVersion[]): SecretVersion[] {
  return [...versions].sort((a, b) => b.version - a.version);
}
