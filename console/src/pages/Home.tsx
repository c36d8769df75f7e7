import type { ReactNode } from 'react';
import { Link } from 'react-router';
import type {
  AccessRequest,
  Account,
  Grant,
  RotationStatus,
  SessionSummary,
} from '../api-types.ts';
import { EmptyState } from '../components/EmptyState.tsx';
import { HealthBar } from '../components/HealthBar.tsx';
import { ResourceView } from '../components/ResourceView.tsx';
import { formatDuration, formatTime, timeLeft } from '../format.ts';
import { type SignedInUser, useUser } from '../session.tsx';
import { useNow } from '../useNow.ts';
import { usePageTitle } from '../usePageTitle.ts';
import { useResource } from '../useResource.ts';
import { RotationChart } from './admin/RotationChart.tsx';

/** How many failing accounts and live sessions Home lists before pointing to the full screen. */
const SHORT_LIST = 5;

/**
 * What needs the signed-in user now: requests waiting for their approval, their own pending
 * requests, their check-outs and grants with the time left. Admins and auditors also see the
 * health of the estate: accounts by rotation health, the failing ones, live sessions.
 */
export function Home() {
  usePageTitle('Home');
  const user = useUser();
  const overseer = user.role === 'admin' || user.role === 'auditor';
  return (
    <>
      <h1 tabIndex={-1}>Home</h1>
      <section aria-labelledby="needs-you">
        <h2 id="needs-you">Needs you now</h2>
        <div className="grid">
          <WaitingForApproval />
          <MyPendingRequests />
          <MyCheckouts user={user} />
          <MyGrants user={user} />
        </div>
      </section>
      {overseer && (
        <section aria-labelledby="estate">
          <h2 id="estate">Estate</h2>
          <div className="grid">
            <RotationHealth />
            <LiveSessions />
            <RotationChart />
          </div>
        </section>
      )}
    </>
  );
}

function Panel({ title, children }: { readonly title: string; readonly children: ReactNode }) {
  const id = `panel-${title.toLowerCase().replaceAll(/[^a-z]+/g, '-')}`;
  return (
    <article className="panel" aria-labelledby={id}>
      <h3 id={id}>{title}</h3>
      {children}
    </article>
  );
}

function WaitingForApproval() {
  const now = useNow();
  const resource = useResource<{ requests: AccessRequest[] }>('/v1/requests?pendingForMe=true');
  return (
    <Panel title="Waiting for your approval">
      <ResourceView resource={resource} what="requests waiting for you">
        {({ requests }) =>
          requests.length === 0 ? (
            <EmptyState>Nothing is waiting for your approval.</EmptyState>
          ) : (
            <ul className="items">
              {requests.map((r) => (
                <li key={r.id}>
                  <Link to={`/requests/${r.id}`} className="item-title">
                    {r.requester} asks for {subjectOf(r)}
                  </Link>
                  <span className="item-meta">{askedFor(r, now)}</span>
                  <span className="item-quote">“{r.reason}”</span>
                </li>
              ))}
            </ul>
          )
        }
      </ResourceView>
    </Panel>
  );
}

function MyPendingRequests() {
  const now = useNow();
  const resource = useResource<{ requests: AccessRequest[] }>(
    '/v1/requests?mine=true&status=pending',
  );
  return (
    <Panel title="Your pending requests">
      <ResourceView resource={resource} what="your requests">
        {({ requests }) =>
          requests.length === 0 ? (
            <EmptyState>
              You have no request waiting. To ask for access, go to{' '}
              <Link to="/requests">Requests</Link>.
            </EmptyState>
          ) : (
            <ul className="items">
              {requests.map((r) => (
                <li key={r.id}>
                  <Link to={`/requests/${r.id}`} className="item-title">
                    {subjectOf(r)}
                  </Link>
                  <span className="item-meta">
                    {approvalsOf(r)} · expires in {timeLeft(r.expiresAt, now)}
                  </span>
                </li>
              ))}
            </ul>
          )
        }
      </ResourceView>
    </Panel>
  );
}

function MyCheckouts({ user }: { readonly user: SignedInUser }) {
  const now = useNow();
  const resource = useResource<{ accounts: Account[] }>('/v1/accounts');
  return (
    <Panel title="Your check-outs">
      <ResourceView resource={resource} what="your check-outs">
        {({ accounts }) => {
          const held = accounts.filter((a) => a.checkout?.holder === user.name);
          return held.length === 0 ? (
            <EmptyState>You hold no check-out. Accounts you check out appear here.</EmptyState>
          ) : (
            <ul className="items">
              {held.map((a) => (
                <li key={a.id}>
                  <span className="item-title">{a.ref}</span>
                  <span className="item-meta">
                    safe {a.safe} · checked in automatically in{' '}
                    {a.checkout === null ? '' : timeLeft(a.checkout.expiresAt, now)}
                  </span>
                </li>
              ))}
            </ul>
          );
        }}
      </ResourceView>
    </Panel>
  );
}

function MyGrants({ user }: { readonly user: SignedInUser }) {
  const now = useNow();
  const resource = useResource<{ grants: Grant[] }>(
    `/v1/grants?active=true&user=${encodeURIComponent(user.name)}`,
  );
  return (
    <Panel title="Your access grants">
      <ResourceView resource={resource} what="your grants">
        {({ grants }) =>
          grants.length === 0 ? (
            <EmptyState>No approved access is open for you right now.</EmptyState>
          ) : (
            <ul className="items">
              {grants.map((g) => (
                <li key={g.id}>
                  <span className="item-title">{g.account ?? `safe ${g.safe}`}</span>
                  <span className="item-meta">
                    {g.kind === 'breakglass' ? 'break-glass · ' : ''}
                    {g.permissions.join(', ')} · {timeLeft(g.endsAt, now)} left
                  </span>
                </li>
              ))}
            </ul>
          )
        }
      </ResourceView>
    </Panel>
  );
}

function RotationHealth() {
  const resource = useResource<RotationStatus>('/v1/rotation/status');
  return (
    <Panel title="Rotation health">
      <ResourceView resource={resource} what="rotation health">
        {({ totals, accounts }) => {
          if (totals.accounts === 0) {
            return (
              <EmptyState>
                No account is managed yet. Onboard accounts from{' '}
                <Link to="/accounts">Accounts</Link> or with <code>tessera account add</code>.
              </EmptyState>
            );
          }
          const failing = accounts.filter((a) => a.health === 'failing').slice(0, SHORT_LIST);
          return (
            <>
              <HealthBar
                label="Accounts by rotation health"
                parts={[
                  { label: 'on schedule', count: totals.ok, tone: 'ok' },
                  { label: 'due', count: totals.due, tone: 'warn' },
                  { label: 'failing', count: totals.failing, tone: 'bad' },
                ]}
              />
              <p className="item-meta">
                {totals.accounts} {totals.accounts === 1 ? 'account' : 'accounts'} ·{' '}
                {totals.neverRotated} never rotated
              </p>
              {failing.length > 0 && (
                <>
                  <h4>Failing</h4>
                  <ul className="items">
                    {failing.map((a) => (
                      <li key={a.ref}>
                        <span className="item-title">{a.ref}</span>
                        <span className="item-meta">
                          {a.failures} failed {a.failures === 1 ? 'attempt' : 'attempts'}
                          {a.lastAttemptAt === null ? '' : `, last ${formatTime(a.lastAttemptAt)}`}
                        </span>
                        {a.lastError !== null && <span className="item-quote">{a.lastError}</span>}
                      </li>
                    ))}
                  </ul>
                </>
              )}
            </>
          );
        }}
      </ResourceView>
    </Panel>
  );
}

function LiveSessions() {
  const resource = useResource<{ sessions: SessionSummary[] }>('/v1/sessions?live=true&limit=1000');
  return (
    <Panel title="Live sessions">
      <ResourceView resource={resource} what="live sessions">
        {({ sessions }) =>
          sessions.length === 0 ? (
            <EmptyState>No one is connected through Tessera right now.</EmptyState>
          ) : (
            <>
              <p className="big-number">
                <strong>{sessions.length}</strong> live{' '}
                {sessions.length === 1 ? 'session' : 'sessions'}
              </p>
              <ul className="items">
                {sessions.slice(0, SHORT_LIST).map((s) => (
                  <li key={s.id}>
                    <span className="item-title">
                      {s.user} → {s.account}@{s.target}
                    </span>
                    <span className="item-meta">since {formatTime(s.startedAt)}</span>
                  </li>
                ))}
              </ul>
              <Link to="/sessions">All sessions</Link>
            </>
          )
        }
      </ResourceView>
    </Panel>
  );
}

/** What a request is for, in words. */
function subjectOf(r: AccessRequest): string {
  if (r.scope === 'ephemeral') return `a temporary ${r.role ?? ''} account on ${r.target ?? '?'}`;
  if (r.scope === 'safe') return `the safe ${r.safe}`;
  return r.account ?? `an account in ${r.safe}`;
}

/** What an approver needs to decide: what, how long, how far along, and by when. */
function askedFor(r: AccessRequest, now: number): string {
  const what = `${r.permissions.join(', ')} for ${formatDuration(r.durationS)}`;
  return `${what} · ${approvalsOf(r)} · answer within ${timeLeft(r.expiresAt, now)}`;
}

function approvalsOf(r: AccessRequest): string {
  const approved = r.approvals.filter((a) => a.decision === 'approve').length;
  return `${approved} of ${r.approvalsRequired} approvals`;
}
