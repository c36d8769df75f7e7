import { NavLink, Route, Routes } from 'react-router';
import { useUser } from '../session.tsx';
import { usePageTitle } from '../usePageTitle.ts';
import { ApprovalsQueue, type PendingList } from './requests/ApprovalsQueue.tsx';
import { AskForm } from './requests/AskForm.tsx';
import { GrantsView } from './requests/GrantsView.tsx';
import { MyRequests } from './requests/MyRequests.tsx';
import { RequestDetail } from './requests/RequestDetail.tsx';
import type { AccessRequest } from './requests/types.ts';
import { useLiveResource } from './requests/useLiveResource.ts';
import './requests/requests.css';

/** How often the count of requests waiting for the reader is read again. */
const PENDING_EVERY_MS = 30_000;

/**
 * Just-in-time access: asking for it, answering others' requests, and the grants that follow,
 * each a sub-page under /requests. The requests waiting for the reader are read once here, for
 * the count in the sub-navigation and the queue itself, and read again after every answer.
 */
export function Requests() {
  usePageTitle('Requests');
  const user = useUser();
  // Auditors read every request but neither ask nor answer (src/access/rules.ts).
  const acts = user.role !== 'auditor';
  const pending: PendingList = useLiveResource<{ requests: AccessRequest[] }>(
    acts ? '/v1/requests?pendingForMe=true' : null,
    PENDING_EVERY_MS,
  );

  return (
    <>
      <h1 tabIndex={-1}>Access requests</h1>
      <nav aria-label="Requests" className="rq-subnav">
        <ul>
          <li>
            <NavLink to="/requests" end>
              My requests
            </NavLink>
          </li>
          {acts && (
            <li>
              <NavLink to="/requests/new">Ask for access</NavLink>
            </li>
          )}
          {acts && (
            <li>
              <NavLink to="/requests/approvals">
                Approvals <PendingCount pending={pending} />
              </NavLink>
            </li>
          )}
          <li>
            <NavLink to="/requests/grants">Grants</NavLink>
          </li>
        </ul>
      </nav>
      <Routes>
        <Route index element={<MyRequests />} />
        <Route path="new" element={<AskForm />} />
        <Route path="approvals" element={<ApprovalsQueue pending={pending} />} />
        <Route path="grants" element={<GrantsView />} />
        <Route path=":id" element={<RequestDetail pending={pending} />} />
      </Routes>
    </>
  );
}

/** The number waiting for the reader, shown only when there is one. */
function PendingCount({ pending }: { readonly pending: PendingList }) {
  if (pending.status !== 'ready' || pending.data.requests.length === 0) return null;
  const count = pending.data.requests.length;
  return (
    <span className="rq-count-badge" data-testid="pending-count">
      {count}
      <span className="visually-hidden"> waiting</span>
    </span>
  );
}
