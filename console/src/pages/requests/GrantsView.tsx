import { useEffect, useState } from 'react';
import { Link } from 'react-router';
import { EmptyState } from '../../components/EmptyState.tsx';
import { formatTime } from '../../format.ts';
import { type SignedInUser, useUser } from '../../session.tsx';
import { useNow } from '../../useNow.ts';
import { usePageTitle } from '../../usePageTitle.ts';
import { GrantStateBadge, KindBadge } from './Badges.tsx';
import { CredentialOnce } from './CredentialOnce.tsx';
import { EndGrantDialog } from './EndGrantDialog.tsx';
import { focusOnMount } from './focusOnMount.ts';
import { LiveView } from './LiveView.tsx';
import type { Grant } from './types.ts';
import { useLiveResource } from './useLiveResource.ts';
import { asTitle, countdown, grantSubject, listOf } from './words.ts';

/**
 * Grants the reader may see (their own; for approvers and admins, those of their safes), with
 * the time left counting down. The holder can give one back early; an approver or admin can
 * revoke one with a reason; an ephemeral grant's holder can see its login once.
 */
export function GrantsView() {
  usePageTitle('Grants');
  const user = useUser();
  const now = useNow(1000);
  const [activeOnly, setActiveOnly] = useState(true);
  const grants = useLiveResource<{ grants: Grant[] }>(
    activeOnly ? '/v1/grants?active=true' : '/v1/grants',
    60_000,
  );
  const [ending, setEnding] = useState<Grant | null>(null);
  const [ended, setEnded] = useState<Grant | null>(null);

  // A grant whose time ran out on screen: ask the server, which says whether it ended.
  const runOut =
    grants.status === 'ready'
      ? grants.data.grants
          .filter((g) => g.active && Date.parse(g.endsAt) <= now)
          .map((g) => g.id)
          .join(',')
      : '';
  const { reload } = grants;
  useEffect(() => {
    if (runOut !== '') reload();
  }, [runOut, reload]);

  return (
    <section aria-labelledby="grants-title">
      <div className="rq-section-head">
        <h2 id="grants-title">Grants</h2>
        <fieldset className="rq-toggle">
          <legend className="visually-hidden">Which grants</legend>
          <label>
            <input
              type="radio"
              name="grants-shown"
              checked={activeOnly}
              onChange={() => setActiveOnly(true)}
            />
            Active now
          </label>
          <label>
            <input
              type="radio"
              name="grants-shown"
              checked={!activeOnly}
              onChange={() => setActiveOnly(false)}
            />
            All, with ended ones
          </label>
        </fieldset>
      </div>
      {ended !== null && (
        <p className="notice" role="status" key={ended.id} tabIndex={-1} ref={focusOnMount}>
          {ended.user === user.name
            ? `You gave back ${grantSubject(ended)}.`
            : `Revoked: ${ended.user} no longer holds ${grantSubject(ended)}.`}
        </p>
      )}
      <LiveView resource={grants} what="grants">
        {(data) =>
          data.grants.length === 0 ? (
            <EmptyState>
              {activeOnly ? 'No grant is active now. ' : 'No grant yet. '}A grant opens when a
              request is approved; to ask for one, use{' '}
              <Link to="/requests/new">Ask for access</Link>.
            </EmptyState>
          ) : (
            <ul className="rq-cards">
              {data.grants.map((grant) => (
                <GrantCard
                  key={grant.id}
                  grant={grant}
                  now={now}
                  user={user}
                  onEnd={() => setEnding(grant)}
                />
              ))}
            </ul>
          )
        }
      </LiveView>
      {ending !== null && (
        <EndGrantDialog
          grant={ending}
          holder={ending.user === user.name}
          onClose={() => setEnding(null)}
          onDone={(grant) => {
            setEnding(null);
            setEnded(grant);
            grants.reload();
          }}
        />
      )}
    </section>
  );
}

function GrantCard({
  grant: g,
  now,
  user,
  onEnd,
}: {
  readonly grant: Grant;
  readonly now: number;
  readonly user: SignedInUser;
  readonly onEnd: () => void;
}) {
  const titleId = `grant-${g.id}`;
  const active = g.active && Date.parse(g.endsAt) > now;
  const holder = g.user === user.name;
  // The list holds only grants the reader holds or oversees; auditors read, never revoke.
  const mayRevoke = !holder && user.role !== 'auditor';
  const total = Math.max(1, Date.parse(g.endsAt) - Date.parse(g.startsAt));
  const left = Math.min(total, Math.max(0, Date.parse(g.endsAt) - now));
  return (
    <li className="rq-grant-card" aria-labelledby={titleId} data-grant={g.id}>
      <div className="rq-card-head">
        <h3 id={titleId}>{asTitle(grantSubject(g))}</h3>
        <KindBadge kind={g.kind} />
        <GrantStateBadge active={active} revoked={g.revokedAt !== null} />
      </div>
      {active && (
        <div className="rq-time-left">
          <p>
            <strong className="rq-countdown">{countdown(g.endsAt, now)}</strong> left
            <span className="rq-muted"> · ends {formatTime(g.endsAt)}</span>
          </p>
          <progress max={total} value={left} aria-label="Share of the grant's time left" />
        </div>
      )}
      <dl className="rq-facts">
        <div>
          <dt>Holder</dt>
          <dd>{holder ? `${g.user} (you)` : g.user}</dd>
        </div>
        <div>
          <dt>Permissions</dt>
          <dd>{listOf(g.permissions)}</dd>
        </div>
        <div>
          <dt>Safe</dt>
          <dd>{g.safe}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{formatTime(g.startsAt)}</dd>
        </div>
        {!active && (
          <div>
            <dt>{g.revokedAt === null ? 'Ended' : 'Revoked'}</dt>
            <dd>{formatTime(g.revokedAt ?? g.endsAt)}</dd>
          </div>
        )}
      </dl>
      {g.revokedAt !== null && (
        <p className="rq-denial">
          Revoked by <strong>{g.revokedBy ?? 'Tessera'}</strong>: “{g.revokeReason ?? ''}”
        </p>
      )}
      {active && holder && g.kind === 'ephemeral' && <CredentialOnce grant={g} />}
      <div className="rq-card-actions">
        {active && holder && (
          <button
            type="button"
            className="button-secondary"
            aria-describedby={titleId}
            onClick={onEnd}
          >
            Give back now
          </button>
        )}
        {active && mayRevoke && (
          <button
            type="button"
            className="rq-button-danger"
            aria-describedby={titleId}
            onClick={onEnd}
          >
            Revoke…
          </button>
        )}
        {g.requestId !== null && <Link to={`/requests/${g.requestId}`}>The request</Link>}
      </div>
    </li>
  );
}
