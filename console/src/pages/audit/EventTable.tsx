import { Fragment, useState } from 'react';
import { formatTime } from '../../format.ts';
import type { AuditEvent } from './types.ts';

/**
 * Events in sequence order, one row each; a row's button opens every field the server sent.
 * On a narrow window each row becomes a card (audit.css), the column names as its labels.
 */
export function EventTable({ events }: { readonly events: readonly AuditEvent[] }) {
  const [open, setOpen] = useState<ReadonlySet<number>>(new Set());
  const toggle = (seq: number) =>
    setOpen((current) => {
      const next = new Set(current);
      if (!next.delete(seq)) next.add(seq);
      return next;
    });

  return (
    <div className="table-scroll">
      <table className="audit-table">
        <caption className="visually-hidden">Audit events, oldest first</caption>
        <thead>
          <tr>
            <th scope="col">Seq</th>
            <th scope="col">Time</th>
            <th scope="col">Actor</th>
            <th scope="col">Action</th>
            <th scope="col">Object</th>
            <th scope="col">Outcome</th>
            <th scope="col">
              <span className="visually-hidden">Details</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {events.map((event) => {
            const expanded = open.has(event.seq);
            const detailsId = `event-${event.seq}-details`;
            return (
              <Fragment key={event.seq}>
                <tr className={expanded ? 'row-open' : undefined}>
                  <td data-label="Seq">{event.seq}</td>
                  <td data-label="Time">
                    <time dateTime={event.at}>{formatTime(event.at)}</time>
                  </td>
                  <td data-label="Actor">{event.actor ?? '—'}</td>
                  <td data-label="Action">
                    <code>{event.action}</code>
                  </td>
                  <td data-label="Object">{objectOf(event)}</td>
                  <td data-label="Outcome">
                    <span className={`outcome outcome-${event.outcome}`}>{event.outcome}</span>
                  </td>
                  <td className="cell-action">
                    <button
                      type="button"
                      className="button-secondary button-small"
                      aria-expanded={expanded}
                      aria-controls={detailsId}
                      onClick={() => toggle(event.seq)}
                    >
                      {expanded ? 'Hide' : 'Details'}
                      <span className="visually-hidden"> of event {event.seq}</span>
                    </button>
                  </td>
                </tr>
                {expanded && (
                  <tr className="row-details" id={detailsId}>
                    <td colSpan={7}>
                      <EventDetails event={event} />
                    </td>
                  </tr>
                )}
              </Fragment>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function EventDetails({ event }: { readonly event: AuditEvent }) {
  const facts: [string, string | null][] = [
    ['Event id', event.id],
    ['Time (UTC)', event.at],
    ['Actor id', event.actorId],
    ['Object type', event.objectType],
    ['Source', event.source],
    ['Reason', event.reason],
    ['Request id', event.requestId],
    ['Hash', event.hash],
  ];
  const details = Object.entries(event.details ?? {});
  return (
    <>
      <dl className="event-details">
        {facts.map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value ?? '—'}</dd>
          </div>
        ))}
      </dl>
      {details.length > 0 && (
        <>
          <p className="event-details-title">Recorded with the event</p>
          <dl className="event-details">
            {details.map(([key, value]) => (
              <div key={key}>
                <dt>{key}</dt>
                <dd>{typeof value === 'string' ? value : JSON.stringify(value)}</dd>
              </div>
            ))}
          </dl>
        </>
      )}
    </>
  );
}

function objectOf(event: AuditEvent): string {
  if (event.object === null) return event.objectType ?? '—';
  return event.objectType === null ? event.object : `${event.objectType} ${event.object}`;
}
