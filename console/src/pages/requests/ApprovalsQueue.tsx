import { useState } from 'react';
import { EmptyState } from '../../components/EmptyState.tsx';
import { useNow } from '../../useNow.ts';
import { usePageTitle } from '../../usePageTitle.ts';
import { type Decision, DecisionDialog } from './DecisionDialog.tsx';
import { focusOnMount } from './focusOnMount.ts';
import { LiveView } from './LiveView.tsx';
import { RequestCard } from './RequestCard.tsx';
import type { AccessRequest } from './types.ts';
import type { LiveResource } from './useLiveResource.ts';
import { approvalCount, durationWords, listOf, subjectOf } from './words.ts';

export type PendingList = LiveResource<{ requests: AccessRequest[] }> & { reload(): void };

/**
 * Requests waiting for the reader's answer, oldest first, as the server decides them (the
 * approver's permission and group, never their own, never one they answered). Each one says
 * who wants what, why, for how long, with which ticket and since when.
 */
export function ApprovalsQueue({ pending }: { readonly pending: PendingList }) {
  usePageTitle('Approvals');
  const now = useNow(15_000);
  const [open, setOpen] = useState<{ request: AccessRequest; decision: Decision } | null>(null);
  const [done, setDone] = useState<AccessRequest | null>(null);

  const answered = (request: AccessRequest) => {
    setOpen(null);
    setDone(request);
    pending.reload();
  };

  return (
    <section aria-labelledby="queue-title">
      <h2 id="queue-title">Waiting for your approval</h2>
      {done !== null && (
        <p
          key={`${done.id}-${done.approvals.length}`}
          className="notice"
          role="status"
          tabIndex={-1}
          ref={focusOnMount}
        >
          {answeredNotice(done)}
        </p>
      )}
      <LiveView resource={pending} what="requests waiting for you">
        {({ requests }) =>
          requests.length === 0 ? (
            <EmptyState>
              Nothing is waiting for your answer. Requests for access to safes where you hold the
              approve permission appear here.
            </EmptyState>
          ) : (
            <ul className="rq-cards">
              {[...requests].reverse().map((request) => (
                <RequestCard key={request.id} request={request} now={now} showRequester>
                  <button
                    type="button"
                    aria-describedby={`request-${request.id}`}
                    onClick={() => setOpen({ request, decision: 'approve' })}
                  >
                    Approve
                  </button>
                  <button
                    type="button"
                    className="button-secondary"
                    aria-describedby={`request-${request.id}`}
                    onClick={() => setOpen({ request, decision: 'deny' })}
                  >
                    Deny
                  </button>
                </RequestCard>
              ))}
            </ul>
          )
        }
      </LiveView>
      {open !== null && (
        <DecisionDialog
          request={open.request}
          decision={open.decision}
          onDone={answered}
          onClose={() => setOpen(null)}
        />
      )}
    </section>
  );
}

/** What the answer did, said where the answered card was. */
function answeredNotice(r: AccessRequest): string {
  const what = `${listOf(r.permissions)} on ${subjectOf(r)}`;
  if (r.status === 'approved') {
    return `Approved: ${r.requester} now holds ${what} for ${durationWords(r.durationS)}.`;
  }
  if (r.status === 'denied') return `Denied: ${r.requester} will see your reason.`;
  const given = approvalCount(r);
  const left = r.approvalsRequired - given;
  const count = `${given} of ${r.approvalsRequired}`;
  const recorded = `Your approval of ${r.requester}'s request is recorded (${count})`;
  return `${recorded}; it waits for ${left} more.`;
}
