import { Fragment, useState } from 'react';
import { Link } from 'react-router';
import { EmptyState } from '../../components/EmptyState.tsx';
import { ErrorNotice } from '../../components/ErrorNotice.tsx';
import { Loading } from '../../components/Loading.tsx';
import { formatTime } from '../../format.ts';
import { KillForm } from './KillForm.tsx';
import { watchPage } from './paths.ts';
import { formatBytes, loginOf } from './sessionFormat.ts';
import type { SessionView } from './types.ts';
import { usePolled } from './usePolled.ts';

const REFRESH_MS = 5_000;
const LIVE = '/v1/sessions?live=true&limit=500';

/**
 * The sessions running now, refreshed every few seconds: who, where, since when and how much
 * went each way, with Watch and (for administrators) Kill. A session running on another
 * Tessera node is watched through this one, which passes the watch on; a kill asked here is
 * passed to it too.
 */
export function LiveSessions({ canKill }: { readonly canKill: boolean }) {
  const live = usePolled<{ sessions: SessionView[] }>(LIVE, REFRESH_MS);
  const [killing, setKilling] = useState<string | null>(null);
  const [killed, setKilled] = useState<string | null>(null);

  if (live.status === 'loading') return <Loading what="the live sessions" />;
  if (live.status === 'error') {
    return <ErrorNotice doing="load the live sessions" error={live.error} retry={live.reload} />;
  }
  const { sessions } = live.data;
  const onKilled = (s: SessionView, reason: string, node: string | null) => {
    setKilling(null);
    setKilled(
      node === null
        ? `Killed ${s.user}’s session on ${loginOf(s)}. They were told: “${reason}”.`
        : `Passed the kill of ${s.user}’s session on ${loginOf(s)} to node ${node}, which ` +
            `ends it within seconds. They will be told: “${reason}”.`,
    );
    live.reload();
  };
  return (
    <>
      <p className={killed === null ? 'visually-hidden' : 'notice'} role="status">
        {killed}
      </p>
      {live.refreshError !== null && (
        <ErrorNotice
          doing="refresh the live sessions; these may be out of date"
          error={live.refreshError}
        />
      )}
      {sessions.length === 0 ? (
        <EmptyState>
          No one is connected through the gateway now. Sessions show here as they start; this list
          refreshes every {REFRESH_MS / 1000} seconds.
        </EmptyState>
      ) : (
        <div className="sess-table-scroll">
          <table className="sess-table">
            <caption className="visually-hidden">Live sessions, newest first</caption>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Account</th>
                <th scope="col">Started</th>
                <th scope="col">Bytes</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {sessions.map((s) => (
                <Fragment key={s.id}>
                  <tr className={killing === s.id ? 'row-open' : undefined}>
                    <td data-label="User">{s.user}</td>
                    <td data-label="Account">
                      <span>
                        <span className="sess-login">{loginOf(s)}</span>{' '}
                        <span className="sess-kind">{s.kind}</span>
                      </span>
                    </td>
                    <td data-label="Started">
                      <time dateTime={s.startedAt}>{formatTime(s.startedAt)}</time>
                    </td>
                    <td data-label="Bytes">
                      <Bytes session={s} />
                    </td>
                    <td className="cell-action">
                      <>
                        {s.watchable ? (
                          <Link className="sess-button-link" to={watchPage(s.id)}>
                            Watch
                            <span className="visually-hidden">
                              {' '}
                              {s.user} on {loginOf(s)}
                            </span>
                          </Link>
                        ) : (
                          <span className="hint">
                            Runs on node {s.node}, and cannot be watched through this one: watch it
                            there
                          </span>
                        )}
                        {canKill && (
                          <button
                            type="button"
                            className="sess-button-danger button-small"
                            aria-expanded={killing === s.id}
                            onClick={() => setKilling(killing === s.id ? null : s.id)}
                          >
                            Kill…
                            <span className="visually-hidden">
                              {' '}
                              {s.user} on {loginOf(s)}
                            </span>
                          </button>
                        )}
                      </>
                    </td>
                  </tr>
                  {killing === s.id && (
                    <tr className="row-details">
                      <td colSpan={5}>
                        <KillForm
                          session={s}
                          onKilled={(reason, node) => onKilled(s, reason, node)}
                          onCancel={() => setKilling(null)}
                        />
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

/**
 * Bytes each way. The server counts a session's bytes into its record when it ends, so a live
 * one reads 0 both ways until then; that is said rather than shown as a measurement.
 */
function Bytes({ session: s }: { readonly session: SessionView }) {
  if (s.bytesIn === 0 && s.bytesOut === 0) {
    return <span className="hint">Counted when it ends</span>;
  }
  return (
    <span>
      {formatBytes(s.bytesIn)} in · {formatBytes(s.bytesOut)} out
    </span>
  );
}
