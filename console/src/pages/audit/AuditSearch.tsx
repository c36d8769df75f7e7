import { type FormEvent, useState } from 'react';
import { EMPTY_FILTER, OUTCOMES, PAGE_SIZES } from './auditQuery.ts';
import type { AuditFilter } from './types.ts';

/** Families of actions the trail holds, offered as prefixes while typing. */
const ACTION_PREFIXES = [
  'access-policy.',
  'account.',
  'auth.',
  'breakglass.',
  'grant.',
  'group.',
  'policy.',
  'request.',
  'rotation.',
  'safe.',
  'secret.',
  'session.',
  'target.',
  'user.',
];

/**
 * The search form. It edits a draft and searches on submit, so typing does not send a request
 * per key; the filters in force are the page's (its address), not this form's.
 */
export function AuditSearch({
  filter,
  onSearch,
}: {
  readonly filter: AuditFilter;
  readonly onSearch: (filter: AuditFilter) => void;
}) {
  const [draft, setDraft] = useState(filter);
  const set = <K extends keyof AuditFilter>(key: K, value: AuditFilter[K]) =>
    setDraft((current) => ({ ...current, [key]: value }));

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    onSearch(draft);
  };
  const clear = () => {
    setDraft(EMPTY_FILTER);
    onSearch(EMPTY_FILTER);
  };

  return (
    <form className="panel audit-search" onSubmit={submit} aria-labelledby="audit-search-title">
      <h2 id="audit-search-title">Search</h2>
      <div className="field-grid">
        <div className="field">
          <label htmlFor="audit-actor">Actor (exact user name)</label>
          <input
            id="audit-actor"
            maxLength={128}
            autoComplete="off"
            spellCheck={false}
            value={draft.actor}
            onChange={(e) => set('actor', e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="audit-action">Action starts with</label>
          <input
            id="audit-action"
            list="audit-action-prefixes"
            maxLength={128}
            autoComplete="off"
            spellCheck={false}
            placeholder="e.g. safe."
            value={draft.action}
            onChange={(e) => set('action', e.target.value)}
          />
          <datalist id="audit-action-prefixes">
            {ACTION_PREFIXES.map((prefix) => (
              <option key={prefix} value={prefix} />
            ))}
          </datalist>
        </div>
        <div className="field">
          <label htmlFor="audit-object">Object (exact name)</label>
          <input
            id="audit-object"
            maxLength={300}
            autoComplete="off"
            spellCheck={false}
            value={draft.object}
            onChange={(e) => set('object', e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="audit-outcome">Outcome</label>
          <select
            id="audit-outcome"
            aria-describedby="audit-outcome-hint"
            value={draft.outcome}
            onChange={(e) => set('outcome', OUTCOMES.find((o) => o === e.target.value) ?? '')}
          >
            <option value="">Any</option>
            {OUTCOMES.map((outcome) => (
              <option key={outcome} value={outcome}>
                {outcome}
              </option>
            ))}
          </select>
          <p id="audit-outcome-hint" className="hint">
            Narrows the events of each page loaded.
          </p>
        </div>
        <div className="field">
          <label htmlFor="audit-since">From (your time)</label>
          <input
            id="audit-since"
            type="datetime-local"
            value={draft.since}
            onChange={(e) => set('since', e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="audit-until">Until, not included</label>
          <input
            id="audit-until"
            type="datetime-local"
            value={draft.until}
            onChange={(e) => set('until', e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="audit-limit">Events per page</label>
          <select
            id="audit-limit"
            value={draft.limit}
            onChange={(e) => set('limit', Number(e.target.value))}
          >
            {PAGE_SIZES.map((size) => (
              <option key={size} value={size}>
                {size}
              </option>
            ))}
          </select>
        </div>
      </div>
      <div className="actions">
        <button type="submit">Search</button>
        <button type="button" className="button-secondary" onClick={clear}>
          Clear filters
        </button>
      </div>
    </form>
  );
}
