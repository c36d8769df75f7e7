import { useUser } from '../../session.tsx';
import { usePageTitle } from '../../usePageTitle.ts';
import { ConnectForm } from './ConnectForm.tsx';
import { LiveSessions } from './LiveSessions.tsx';
import { RecordedSessions } from './RecordedSessions.tsx';

/**
 * The Sessions screen: for auditors and administrators, the sessions running now and every
 * recorded one; for everyone, a way to open a terminal on an account.
 */
export function SessionLists() {
  usePageTitle('Sessions');
  const user = useUser();
  const oversees = user.role === 'admin' || user.role === 'auditor';

  return (
    <>
      <h1 tabIndex={-1}>Sessions</h1>
      {oversees ? (
        <>
          <section aria-labelledby="live-title">
            <h2 id="live-title">Live now</h2>
            <LiveSessions canKill={user.role === 'admin'} />
          </section>
          <section aria-labelledby="recorded-title">
            <h2 id="recorded-title">Recorded sessions</h2>
            <RecordedSessions />
          </section>
        </>
      ) : (
        <div className="panel">
          <p>
            Live sessions and recordings are open to auditors and administrators. Your own sessions
            start here, or from an account’s page under Accounts.
          </p>
        </div>
      )}
      <section aria-labelledby="connect-title" className="panel sess-connect-panel">
        <h2 id="connect-title">Open a terminal</h2>
        <p className="hint">
          Through Tessera’s gateway, with the account’s credentials, which you never see.
        </p>
        <ConnectForm />
      </section>
    </>
  );
}
