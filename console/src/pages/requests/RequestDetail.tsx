import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { useUser } from '../../session.tsx';
import { useNow } from '../../useNow.ts';
import { usePageTitle } from '../../usePageTitle.ts';
import type { PendingList } from './ApprovalsQueue.tsx';
import { CancelDialog } from './CancelDialog.tsx';
import { type Decision, DecisionDialog } from './DecisionDialog.tsx';
import { LiveView } from './LiveView.tsx';
import { RequestCard } from './RequestCard.tsx';
import type { AccessRequest } from './types.ts';
import { useLiveResource } from './useLiveResource.ts';

/**
 * One request on its own page (where Home and notifications link). The answer buttons show only
 * when the server lists the request as waiting for the reader, so a requester never sees them
 * on their own; the server refuses such an answer anyway.
 */
export function RequestDetail({ pending }: { readonly pending: PendingList }) {
  usePageTitle('Request');
  const { id = '' } = useParams();
  const user = useUser();
  const now = useNow(15_000);
  const request = useLiveResource<AccessRequest>(`/v1/requests/${encodeURIComponent(id)}`);
  const [deciding, setDeciding] = useState<Decision | null>(null);
  const [cancelling, setCancelling] = useState(false);
  const waitingForMe = pending.status === 'ready' && pending.data.requests.some((r) => r.id === id);

  const refresh = () => {
    request.reload();
    pending.reload();
  };

  return (
    <section aria-labelledby="detail-title">
      <h2 id="detail-title">Request</h2>
      <LiveView resource={request} what="the request">
        {(r) => (
          <>
            <ul className="rq-cards">
              <RequestCard
                request={r}
                now={now}
                showRequester={r.requester !== user.name}
                link={false}
              >
                {waitingForMe && r.status === 'pending' && (
                  <>
                    <button type="button" onClick={() => setDeciding('approve')}>
                      Approve
                    </button>
                    <button
                      type="button"
                      className="button-secondary"
                      onClick={() => setDeciding('deny')}
                    >
                      Deny
                    </button>
                  </>
                )}
                {r.requester === user.name && r.status === 'pending' && (
                  <button
                    type="button"
                    className="button-secondary"
                    onClick={() => setCancelling(true)}
                  >
                    Cancel request
                  </button>
                )}
                {r.grantId !== null && <Link to="/requests/grants">Grants</Link>}
              </RequestCard>
            </ul>
            {r.status === 'pending' && r.requester === user.name && (
              <p className="hint">
                Someone else must approve it: Tessera never lets you answer your own request.
              </p>
            )}
            {deciding !== null && (
              <DecisionDialog
                request={r}
                decision={deciding}
                onClose={() => setDeciding(null)}
                onDone={() => {
                  setDeciding(null);
                  refresh();
                }}
              />
            )}
            {cancelling && (
              <CancelDialog
                request={r}
                onClose={() => setCancelling(false)}
                onDone={() => {
                  setCancelling(false);
                  refresh();
                }}
              />
            )}
          </>
        )}
      </LiveView>
      <p>
        <Link to="/requests">Back to my requests</Link>
      </p>
    </section>
  );
}
