import { useState } from 'react';
import { EmptyState } from '../../components/EmptyState.tsx';
import { ResourceView } from '../../components/ResourceView.tsx';
import { useResource } from '../../useResource.ts';
import { byOutcome, eventsPath } from './auditQuery.ts';
import { EventTable } from './EventTable.tsx';
import type { AuditFilter, AuditPage } from './types.ts';

/**
 * One page of matching events and the way to the next and previous ones. The API pages by
 * sequence number (`after`), so the pages already seen are kept to go back.
 */
export function AuditResults({ filter }: { readonly filter: AuditFilter }) {
  const [cursors, setCursors] = useState<readonly number[]>([]);
  const after = cursors.at(-1) ?? null;
  const resource = useResource<AuditPage>(eventsPath(filter, after));
  const pageNumber = cursors.length + 1;

  return (
    <ResourceView resource={resource} what="audit events">
      {({ events, next }) => {
        const shown = byOutcome(events, filter.outcome);
        const first = events[0]?.seq;
        const last = events.at(-1)?.seq;
        return (
          <>
            <p className="item-meta" role="status">
              Page {pageNumber}
              {first !== undefined && last !== undefined && ` · seq ${first} to ${last}`} ·{' '}
              {shown.length} {shown.length === 1 ? 'event' : 'events'} shown
              {shown.length !== events.length && ` of ${events.length} loaded`}
            </p>
            {shown.length === 0 ? (
              <EmptyState>
                {events.length === 0
                  ? 'No event matches this search. Widen the time range, or clear a filter.'
                  : 'No event on this page has that outcome. Try the next page or another one.'}
              </EmptyState>
            ) : (
              <EventTable events={shown} />
            )}
            <nav className="pager" aria-label="Pages of events">
              <button
                type="button"
                className="button-secondary"
                disabled={cursors.length === 0}
                onClick={() => setCursors((c) => c.slice(0, -1))}
              >
                Previous page
              </button>
              <button
                type="button"
                className="button-secondary"
                disabled={next === null}
                onClick={() => next !== null && setCursors((c) => [...c, next])}
              >
                Next page
              </button>
            </nav>
          </>
        );
      }}
    </ResourceView>
  );
}
