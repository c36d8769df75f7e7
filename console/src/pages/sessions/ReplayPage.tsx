import { Link, useParams } from 'react-router';
import { ResourceView } from '../../components/ResourceView.tsx';
import { formatTime } from '../../format.ts';
import { usePageTitle } from '../../usePageTitle.ts';
import { useResource } from '../../useResource.ts';
import { CommandList } from './CommandList.tsx';
import { SESSIONS_PAGE, sessionApi, watchPage } from './paths.ts';
import { ReplayPlayer } from './ReplayPlayer.tsx';
import { formatBytes, loginOf } from './sessionFormat.ts';
import type { SessionDetail } from './types.ts';
import { useRecording } from './useRecording.ts';

/** A session's replay: what it was, its recording in a player, and the commands run in it. */
export function ReplayPage() {
  const { id = '' } = useParams();
  const session = useResource<SessionDetail>(sessionApi(id));
  usePageTitle('Replay');

  return (
    <div className="sess-replay-page">
      <p className="sess-back">
        <Link to={SESSIONS_PAGE}>All sessions</Link>
      </p>
      <h1 tabIndex={-1}>
        Replay
        {session.status === 'ready' && (
          <>
            {' '}
            <span className="sess-login">{loginOf(session.data)}</span>
          </>
        )}
      </h1>
      <ResourceView resource={session} what="the session">
        {(s) => (
          <>
            <SessionFacts session={s} />
            {s.recorded ? (
              <Recording id={s.id} session={s} />
            ) : (
              <>
                <p className="panel">Tessera holds no recording of this session.</p>
                <CommandList commands={s.commands} current={0} disabled onJump={() => undefined} />
              </>
            )}
          </>
        )}
      </ResourceView>
    </div>
  );
}

function Recording({ id, session }: { readonly id: string; readonly session: SessionDetail }) {
  const recording = useRecording(id);
  return (
    <ResourceView resource={recording} what="the recording">
      {(cast) => <ReplayPlayer cast={cast} commands={session.commands} />}
    </ResourceView>
  );
}

function SessionFacts({ session: s }: { readonly session: SessionDetail }) {
  return (
    <dl className="sess-facts">
      <div>
        <dt>User</dt>
        <dd>{s.user}</dd>
      </div>
      <div>
        <dt>Started</dt>
        <dd>
          <time dateTime={s.startedAt}>{formatTime(s.startedAt)}</time>
        </dd>
      </div>
      <div>
        <dt>Ended</dt>
        <dd>
          {s.endedAt === null ? (
            <>
              Live now
              {s.watchable && (
                <>
                  {' '}
                  · <Link to={watchPage(s.id)}>watch</Link>
                </>
              )}
            </>
          ) : (
            <>
              <time dateTime={s.endedAt}>{formatTime(s.endedAt)}</time>
              {s.endReason !== null && <> · {s.endReason}</>}
            </>
          )}
        </dd>
      </div>
      <div>
        <dt>Bytes</dt>
        <dd>
          {formatBytes(s.bytesIn)} in · {formatBytes(s.bytesOut)} out
          {s.droppedBytes > 0 && <> · {formatBytes(s.droppedBytes)} not recorded</>}
        </dd>
      </div>
      {s.recordingSha256 !== null && (
        <div className="sess-fact-wide">
          <dt>Recording SHA-256</dt>
          <dd>
            <code>{s.recordingSha256}</code>
          </dd>
        </div>
      )}
    </dl>
  );
}
