import { Link, useSearchParams } from 'react-router';
import { EmptyState } from '../../components/EmptyState.tsx';
import { ResourceView } from '../../components/ResourceView.tsx';
import { formatTime } from '../../format.ts';
import { useResource } from '../../useResource.ts';
import { replayPage, watchPage } from './paths.ts';
import { SessionSearch } from './SessionSearch.tsx';
import {
  filterFromParams,
  filterToParams,
  isFiltered,
  PAGE_SIZE,
  sessionsQuery,
} from './sessionFilter.ts';
import { loginOf } from './sessionFormat.ts';
import type { SessionView } from './types.ts';

const NONE_MATCH =
  'No session matches this search. Clear a filter, or look for a shorter piece of the command.';
const NONE_YET =
  'No session yet. Sessions appear here once someone connects through the gateway, ' +
  'with ssh or from the console.';

/**
 * Every session, newest first, searchable by user, target and the text of the commands run;
 * each recorded one opens its replay.
 */
export function RecordedSessions() {
  const [params, setParams] = useSearchParams();
  const filter = filterFromParams(params);
  const key = filterToParams(filter).toString();
  const sessions = useResource<{ sessions: SessionView[] }>(sessionsQuery(filter));

  return (
    <>
      <SessionSearch
        key={key}
        filter={filter}
        onSearch={(next) => setParams(filterToParams(next))}
      />
      <ResourceView resource={sessions} what="the sessions">
        {({ sessions: found }) =>
          found.length === 0 ? (
            <EmptyState>{isFiltered(filter) ? NONE_MATCH : NONE_YET}</EmptyState>
          ) : (
            <SessionTable sessions={found} />
          )
        }
      </ResourceView>
    </>
  );
}

function SessionTable({ sessions }: { readonly sessions: readonly SessionView[] }) {
  return (
    <>
      <div className="sess-table-scroll">
        <table className="sess-table">
          <caption className="visually-hidden">Sessions, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">User</th>
              <th scope="col">Account</th>
              <th scope="col">Ran</th>
              <th scope="col">Ended</th>
              <th scope="col">
                <span className="visually-hidden">Recording</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {sessions.map((s) => (
              <tr key={s.id}>
                <td data-label="Started">
                  <time dateTime={s.startedAt}>{formatTime(s.startedAt)}</time>
                </td>
                <td data-label="User">{s.user}</td>
                <td data-label="Account">
                  <span className="sess-login">{loginOf(s)}</span>
                </td>
                <td data-label="Ran">{s.command === null ? s.kind : <code>{s.command}</code>}</td>
                <td data-label="Ended">
                  <Ending session={s} />
                </td>
                <td className="cell-action">
                  {s.recorded ? (
                    <Link className="sess-button-link" to={replayPage(s.id)}>
                      Replay
                      <span className="visually-hidden">
                        {' '}
                        {s.user} on {loginOf(s)}, {formatTime(s.startedAt)}
                      </span>
                    </Link>
                  ) : (
                    <span className="hint">Not recorded</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {sessions.length === PAGE_SIZE && (
        <p className="hint">
          The newest {PAGE_SIZE} are shown. Narrow the search to find older sessions.
        </p>
      )}
    </>
  );
}

function Ending({ session: s }: { readonly session: SessionView }) {
  if (s.endedAt === null) {
    return s.watchable ? (
      <Link to={watchPage(s.id)}>Live now: watch</Link>
    ) : (
      <span className="sess-live">Live now</span>
    );
  }
  // One element: on a narrow window the cell is a grid of its label and its content.
  return (
    <span>
      <time dateTime={s.endedAt}>{formatTime(s.endedAt)}</time>
      {s.endReason !== null && <span className="sess-reason">{s.endReason}</span>}
    </span>
  );
}
