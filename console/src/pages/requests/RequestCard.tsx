import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { formatTime, timeLeft } from '../../format.ts';
import { StatusBadge } from './Badges.tsx';
import type { AccessRequest } from './types.ts';
import { approvalCount, asTitle, durationWords, listOf, subjectOf, waited } from './words.ts';

/**
 * One request as every list shows it: what, for how long, why, with which ticket, where its
 * approvals stand and who gave them; the caller adds the actions the reader may take.
 */
export function RequestCard({
  request: r,
  now,
  showRequester,
  link = true,
  children,
}: {
  readonly request: AccessRequest;
  readonly now: number;
  /** In an approver's queue the requester matters most; in "my requests" it is the reader. */
  readonly showRequester: boolean;
  /** Whether the title links to the request's own page. */
  readonly link?: boolean;
  readonly children?: ReactNode;
}) {
  const titleId = `request-${r.id}`;
  const subject = subjectOf(r);
  const title = showRequester ? `${r.requester} asks for ${subject}` : asTitle(subject);
  return (
    <li className="rq-request-card" aria-labelledby={titleId} data-request={r.id}>
      <div className="rq-card-head">
        <h3 id={titleId}>{link ? <Link to={`/requests/${r.id}`}>{title}</Link> : title}</h3>
        <StatusBadge status={r.status} />
      </div>
      <p className="rq-reason">
        <span className="visually-hidden">Reason: </span>
        {r.reason === '' ? <span className="rq-muted">No reason given.</span> : `“${r.reason}”`}
      </p>
      <dl className="rq-facts">
        <div>
          <dt>Permissions</dt>
          <dd>{listOf(r.permissions)}</dd>
        </div>
        <div>
          <dt>For</dt>
          <dd>{durationWords(r.durationS)}</dd>
        </div>
        <div>
          <dt>Safe</dt>
          <dd>{r.safe}</dd>
        </div>
        <div>
          <dt>Ticket</dt>
          <dd>{r.ticket ?? <span className="rq-muted">none</span>}</dd>
        </div>
        {r.status === 'pending' ? (
          <>
            <div>
              <dt>Waiting for</dt>
              <dd>
                <time dateTime={r.createdAt} title={formatTime(r.createdAt)}>
                  {waited(r.createdAt, now)}
                </time>
              </dd>
            </div>
            <div>
              <dt>Expires unanswered in</dt>
              <dd>{timeLeft(r.expiresAt, now)}</dd>
            </div>
          </>
        ) : (
          <div>
            <dt>Asked</dt>
            <dd>
              <time dateTime={r.createdAt}>{formatTime(r.createdAt)}</time>
            </dd>
          </div>
        )}
      </dl>
      <Approvals request={r} />
      {children !== undefined && <div className="rq-card-actions">{children}</div>}
    </li>
  );
}

/** "Approvals 1 of 2: bob" with each approver's comment, or who denied it and why. */
function Approvals({ request: r }: { readonly request: AccessRequest }) {
  const approvals = r.approvals.filter((a) => a.decision === 'approve');
  const denial = r.approvals.find((a) => a.decision === 'deny');
  return (
    <div className="rq-approvals">
      <p>
        <strong>
          Approvals {approvalCount(r)} of {r.approvalsRequired}
        </strong>
        {approvals.length === 0 && r.status === 'pending' && ': none yet'}
        {r.approvalsRequired === 0 && ': approved at once by policy'}
      </p>
      {approvals.length > 0 && (
        <ul className="rq-approvers">
          {approvals.map((a) => (
            <li key={a.approver}>
              <span aria-hidden="true">✓ </span>
              {a.approver}
              <span className="rq-muted"> · {formatTime(a.at)}</span>
              {a.comment !== '' && <span className="rq-muted"> · “{a.comment}”</span>}
            </li>
          ))}
        </ul>
      )}
      {denial !== undefined && (
        <p className="rq-denial">
          Denied by <strong>{denial.approver}</strong>: “{denial.comment}”
        </p>
      )}
      {r.status === 'cancelled' && <p className="rq-muted">Cancelled by {r.decidedBy ?? 'you'}.</p>}
    </div>
  );
}
