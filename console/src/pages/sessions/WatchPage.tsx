import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { ErrorNotice } from '../../components/ErrorNotice.tsx';
import { formatTime } from '../../format.ts';
import { useUser } from '../../session.tsx';
import { usePageTitle } from '../../usePageTitle.ts';
import { useResource } from '../../useResource.ts';
import { KillForm } from './KillForm.tsx';
import { replayPage, SESSIONS_PAGE, sessionApi } from './paths.ts';
import { loginOf } from './sessionFormat.ts';
import { TerminalStatus } from './TerminalStatus.tsx';
import type { LinkState, SessionDetail } from './types.ts';
import { WatchTerminal } from './WatchTerminal.tsx';

/**
 * Watch a live session as its user sees it, read-only, and (for administrators) kill it with a
 * reason. Opening the watch is itself audited by the server.
 */
export function WatchPage() {
  const { id = '' } = useParams();
  const user = useUser();
  const session = useResource<SessionDetail>(sessionApi(id));
  const [state, setState] = useState<LinkState>({ phase: 'connecting' });
  const [who, setWho] = useState<string | null>(null);
  usePageTitle('Watch a session');

  const known = session.status === 'ready' ? session.data : null;
  const login = known === null ? 'the session' : loginOf(known);
  const owner = who ?? known?.user ?? 'its user';

  return (
    <div className="sess-watch">
      <p className="sess-back">
        <Link to={SESSIONS_PAGE}>All sessions</Link>
      </p>
      <div className="sess-head">
        <h1 tabIndex={-1}>
          Watching <span className="sess-login">{login}</span>
        </h1>
        <span className="sess-badge">Read-only</span>
      </div>
      {known !== null && (
        <p className="sess-meta">
          {known.user} · {known.kind} · started{' '}
          <time dateTime={known.startedAt}>{formatTime(known.startedAt)}</time>
          {known.clientAddress !== null && <> · from {known.clientAddress}</>}
        </p>
      )}
      {session.status === 'error' && (
        <ErrorNotice doing="load the session" error={session.error} retry={session.reload} />
      )}
      <TerminalStatus
        state={state}
        connecting="Joining the session…"
        open={`Watching ${owner}’s screen. Read-only: what you type here is not sent.`}
      />
      <WatchTerminal id={id} onState={setState} onHello={(hello) => setWho(hello.user)} />
      {state.phase === 'ended' ? (
        <p>
          <Link to={replayPage(id)}>Replay the recording</Link> to see it again, with its commands.
        </p>
      ) : (
        known !== null &&
        user.role === 'admin' && (
          <section className="panel sess-kill-panel" aria-labelledby="kill-title">
            <h2 id="kill-title">Kill this session</h2>
            <KillForm session={known} />
          </section>
        )
      )}
    </div>
  );
}
