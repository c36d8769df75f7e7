import { useEffect, useState } from 'react';
import { Link, useLocation, useNavigate } from 'react-router';
import { EmptyState } from '../../components/EmptyState.tsx';
import { useUser } from '../../session.tsx';
import { useNow } from '../../useNow.ts';
import { usePageTitle } from '../../usePageTitle.ts';
import { CancelDialog } from './CancelDialog.tsx';
import { LiveView } from './LiveView.tsx';
import { RequestCard } from './RequestCard.tsx';
import { type AccessRequest, REQUEST_STATUSES, type RequestStatus } from './types.ts';
import { useLiveResource } from './useLiveResource.ts';
import { STATUS_LABEL, subjectOf } from './words.ts';

/** What the form passes on after sending, to say what happened on arrival here. */
export interface CreatedState {
  readonly created: AccessRequest;
}

/**
 * The reader's own requests, newest first, with where each stands; a pending one can be
 * cancelled. Refreshed every half minute, so approvals show up without reloading.
 */
export function MyRequests() {
  usePageTitle('My requests');
  const now = useNow(15_000);
  const [status, setStatus] = useState<RequestStatus | ''>('');
  const path = `/v1/requests?mine=true${status === '' ? '' : `&status=${status}`}`;
  const mine = useLiveResource<{ requests: AccessRequest[] }>(path, 30_000);
  const created = useCreatedOnArrival();
  const user = useUser();
  const [cancelling, setCancelling] = useState<AccessRequest | null>(null);

  return (
    <section aria-labelledby="mine-title">
      <div className="rq-section-head">
        <h2 id="mine-title">My requests</h2>
        <div className="rq-filter">
          <label htmlFor="mine-status">Show</label>
          <select
            id="mine-status"
            value={status}
            onChange={(event) => setStatus(event.target.value as RequestStatus | '')}
          >
            <option value="">All requests</option>
            {REQUEST_STATUSES.map((s) => (
              <option key={s} value={s}>
                {STATUS_LABEL[s]}
              </option>
            ))}
          </select>
        </div>
      </div>
      {created !== null && <CreatedNotice request={created} />}
      <LiveView resource={mine} what="your requests">
        {({ requests }) =>
          requests.length === 0 ? (
            <EmptyState>
              {status === ''
                ? 'You have not asked for access yet. '
                : `None of your requests is “${STATUS_LABEL[status]}”. `}
              {user.role !== 'auditor' && (
                <>
                  To ask for access to an account or a safe, use{' '}
                  <Link to="/requests/new">Ask for access</Link>.
                </>
              )}
            </EmptyState>
          ) : (
            <ul className="rq-cards">
              {requests.map((request) => (
                <RequestCard key={request.id} request={request} now={now} showRequester={false}>
                  {request.status === 'pending' && (
                    <button
                      type="button"
                      className="button-secondary"
                      aria-describedby={`request-${request.id}`}
                      onClick={() => setCancelling(request)}
                    >
                      Cancel request
                    </button>
                  )}
                  {request.status === 'approved' && (
                    <Link to="/requests/grants">See the grant and its time left</Link>
                  )}
                </RequestCard>
              ))}
            </ul>
          )
        }
      </LiveView>
      {cancelling !== null && (
        <CancelDialog
          request={cancelling}
          onClose={() => setCancelling(null)}
          onDone={() => {
            setCancelling(null);
            mine.reload();
          }}
        />
      )}
    </section>
  );
}

function CreatedNotice({ request }: { readonly request: AccessRequest }) {
  const subject = subjectOf(request);
  return (
    <p className="notice" role="status">
      {request.status === 'approved' ? (
        <>
          Access to {subject} is open: this policy needs no approval.{' '}
          <Link to="/requests/grants">See your grant</Link>.
        </>
      ) : (
        <>
          Your request for {subject} is sent. It needs {request.approvalsRequired}{' '}
          {request.approvalsRequired === 1 ? 'approval' : 'approvals'}; this page follows them.
        </>
      )}
    </p>
  );
}

/**
 * The request the form just sent, read once from the navigation and then dropped from the
 * history entry, so that a reload does not announce it again.
 */
function useCreatedOnArrival(): AccessRequest | null {
  const location = useLocation();
  const navigate = useNavigate();
  const [created] = useState(() => (location.state as CreatedState | null)?.created ?? null);
  const arrivedWithIt = location.state !== null;
  useEffect(() => {
    if (arrivedWithIt) void navigate('.', { replace: true, state: null });
  }, [arrivedWithIt, navigate]);
  return created;
}
