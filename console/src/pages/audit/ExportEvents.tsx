import { useEffect, useRef, useState } from 'react';
import type { Api } from '../../api.ts';
import { ErrorNotice } from '../../components/ErrorNotice.tsx';
import { useApi } from '../../session.tsx';
import { byOutcome, eventsPath } from './auditQuery.ts';
import { download, eventsToCsv, eventsToJson, exportName } from './exportEvents.ts';
import type { AuditEvent, AuditFilter, AuditPage } from './types.ts';

/** The API's largest page. */
const EXPORT_PAGE = 1000;
/** Past this, a browser tab holds too much: a larger export belongs to the CLI or a SIEM. */
export const MAX_EXPORT = 50_000;

type Format = 'csv' | 'json';

type State =
  | { readonly status: 'idle' }
  | { readonly status: 'fetching'; readonly format: Format; readonly fetched: number }
  | { readonly status: 'done'; readonly format: Format; readonly count: number; cut: boolean }
  | { readonly status: 'error'; readonly error: unknown };

/**
 * Exports every event the search matches, not only the page on screen: it reads the pages from
 * the API in turn and writes what the server returned, as JSON or CSV, in a download.
 */
export function ExportEvents({ filter }: { readonly filter: AuditFilter }) {
  const api = useApi();
  const [state, setState] = useState<State>({ status: 'idle' });
  const running = useRef<AbortController | null>(null);
  useEffect(() => () => running.current?.abort(), []);

  const start = (format: Format) => {
    running.current?.abort();
    const controller = new AbortController();
    running.current = controller;
    setState({ status: 'fetching', format, fetched: 0 });
    const progress = (fetched: number) => setState({ status: 'fetching', format, fetched });
    readAll(api, filter, progress, controller.signal).then(
      ({ events, cut }) => {
        const matching = byOutcome(events, filter.outcome);
        if (format === 'csv') download(exportName('csv'), 'text/csv', eventsToCsv(matching));
        else download(exportName('json'), 'application/json', eventsToJson(matching));
        setState({ status: 'done', format, count: matching.length, cut });
      },
      (error: unknown) => {
        if (!controller.signal.aborted) setState({ status: 'error', error });
      },
    );
  };

  const busy = state.status === 'fetching';
  return (
    <div className="export">
      <div className="actions">
        <button
          type="button"
          className="button-secondary"
          disabled={busy}
          onClick={() => start('csv')}
        >
          Export CSV
        </button>
        <button
          type="button"
          className="button-secondary"
          disabled={busy}
          onClick={() => start('json')}
        >
          Export JSON
        </button>
      </div>
      <ExportStatus state={state} />
    </div>
  );
}

function ExportStatus({ state }: { readonly state: State }) {
  switch (state.status) {
    case 'idle':
      return (
        <p className="hint">
          Exports every event matching the search (up to {MAX_EXPORT.toLocaleString()}).
        </p>
      );
    case 'fetching':
      return (
        <p className="hint" role="status">
          Reading events for the {state.format.toUpperCase()} export… {state.fetched} so far.
        </p>
      );
    case 'done':
      return (
        <p className="hint" role="status">
          Exported {state.count} {state.count === 1 ? 'event' : 'events'} as{' '}
          {state.format.toUpperCase()}.
          {state.cut &&
            ` The export stopped at ${MAX_EXPORT.toLocaleString()} events: narrow the search to` +
              ' export the rest.'}
        </p>
      );
    case 'error':
      return <ErrorNotice doing="export the events" error={state.error} />;
  }
}

async function readAll(
  api: Api,
  filter: AuditFilter,
  progress: (fetched: number) => void,
  signal: AbortSignal,
): Promise<{ events: AuditEvent[]; cut: boolean }> {
  const events: AuditEvent[] = [];
  let after: number | null = null;
  do {
    const page: AuditPage = await api.get(eventsPath(filter, after, EXPORT_PAGE), { signal });
    events.push(...page.events);
    progress(events.length);
    after = page.next;
  } while (after !== null && events.length < MAX_EXPORT);
  return { events: events.slice(0, MAX_EXPORT), cut: after !== null };
}
