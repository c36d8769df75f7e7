import { useLocation, useSearchParams } from 'react-router';
import { useUser } from '../session.tsx';
import { usePageTitle } from '../usePageTitle.ts';
import { AuditResults } from './audit/AuditResults.tsx';
import { AuditSearch } from './audit/AuditSearch.tsx';
import { filterFromParams, filterToParams } from './audit/auditQuery.ts';
import { ChainStatus } from './audit/ChainStatus.tsx';
import { ExportEvents } from './audit/ExportEvents.tsx';
import './admin/forms.css';
import './audit/audit.css';

/**
 * The audit trail: the chain's verification state, a search over the events, each event's
 * details, and exports of what matched. The search lives in the page's address.
 */
export function Audit() {
  usePageTitle('Audit');
  const user = useUser();
  const [params, setParams] = useSearchParams();
  // Each search is a navigation: searching again with the same filters reads the trail anew.
  const { key: searchRound } = useLocation();
  const filter = filterFromParams(params);
  const searchKey = filterToParams(filter).toString();

  if (user.role !== 'admin' && user.role !== 'auditor') {
    return (
      <div className="audit-page">
        <h1 tabIndex={-1}>Audit</h1>
        <div className="panel">
          <p>
            The audit trail is open to auditors and administrators. Ask one of them for the events
            you need.
          </p>
        </div>
      </div>
    );
  }

  return (
    <div className="audit-page">
      <h1 tabIndex={-1}>Audit</h1>
      <ChainStatus />
      <AuditSearch
        key={searchKey}
        filter={filter}
        onSearch={(next) => setParams(filterToParams(next))}
      />
      <section aria-labelledby="audit-events-title" className="audit-events">
        <div className="section-head">
          <h2 id="audit-events-title">Events</h2>
          <ExportEvents filter={filter} />
        </div>
        <AuditResults key={`${searchKey} ${searchRound}`} filter={filter} />
      </section>
    </div>
  );
}
