import { type FormEvent, useState } from 'react';
import { EMPTY_FILTER, type SessionFilter } from './sessionFilter.ts';

/** A user's or target's name, as the server's schema accepts it (src/http/schemas.ts `name`). */
const NAME_PATTERN = '[A-Za-z0-9][A-Za-z0-9._\\-]*';

/**
 * The recorded-sessions search. It edits a draft and searches on submit, so typing does not
 * send a request per key.
 */
export function SessionSearch({
  filter,
  onSearch,
}: {
  readonly filter: SessionFilter;
  readonly onSearch: (filter: SessionFilter) => void;
}) {
  const [draft, setDraft] = useState(filter);
  const set = (key: keyof SessionFilter, value: string) =>
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
    <form className="sess-search" onSubmit={submit} aria-label="Search sessions">
      <div className="sess-fields">
        <div className="sess-field">
          <label htmlFor="search-user">User</label>
          <input
            id="search-user"
            maxLength={128}
            pattern={NAME_PATTERN}
            title="A Tessera user name: letters, digits, dot, dash and underscore"
            autoComplete="off"
            spellCheck={false}
            value={draft.user}
            onChange={(e) => set('user', e.target.value)}
          />
        </div>
        <div className="sess-field">
          <label htmlFor="search-target">Target</label>
          <input
            id="search-target"
            maxLength={128}
            pattern={NAME_PATTERN}
            title="A target name: letters, digits, dot, dash and underscore"
            autoComplete="off"
            spellCheck={false}
            value={draft.target}
            onChange={(e) => set('target', e.target.value)}
          />
        </div>
        <div className="sess-field sess-field-wide">
          <label htmlFor="search-command">Command contains</label>
          <input
            id="search-command"
            maxLength={200}
            autoComplete="off"
            spellCheck={false}
            placeholder="e.g. systemctl restart"
            value={draft.command}
            onChange={(e) => set('command', e.target.value)}
          />
        </div>
      </div>
      <div className="sess-actions">
        <button type="submit">Search</button>
        <button type="button" className="button-secondary" onClick={clear}>
          Clear
        </button>
      </div>
    </form>
  );
}
