import { type FormEvent, useState } from 'react';
import { useNavigate } from 'react-router';
import { connectPage } from './paths.ts';

/** A target's name, as the server's schema accepts it (src/http/schemas.ts `name`). */
const NAME_PATTERN = '[A-Za-z0-9][A-Za-z0-9._\\-]*';

/**
 * Opens a terminal on an account by its target and user name, for whoever has no link from the
 * Accounts screen at hand. The gateway decides whether this user may connect, as for ssh.
 */
export function ConnectForm({
  target = '',
  account = '',
}: {
  readonly target?: string;
  readonly account?: string;
}) {
  const navigate = useNavigate();
  const [draft, setDraft] = useState({ target, account });

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    void navigate(connectPage(draft.target.trim(), draft.account.trim()));
  };

  return (
    <form className="sess-connect-form" onSubmit={submit} aria-label="Open a terminal">
      <div className="sess-fields">
        <div className="sess-field">
          <label htmlFor="connect-account">Account (user name on the target)</label>
          <input
            id="connect-account"
            required
            maxLength={128}
            autoComplete="off"
            spellCheck={false}
            placeholder="root"
            value={draft.account}
            onChange={(e) => setDraft((d) => ({ ...d, account: e.target.value }))}
          />
        </div>
        <div className="sess-field">
          <label htmlFor="connect-target">Target</label>
          <input
            id="connect-target"
            required
            maxLength={128}
            pattern={NAME_PATTERN}
            title="Letters, digits, dot, dash and underscore"
            autoComplete="off"
            spellCheck={false}
            placeholder="web01"
            value={draft.target}
            onChange={(e) => setDraft((d) => ({ ...d, target: e.target.value }))}
          />
        </div>
      </div>
      <div className="sess-actions">
        <button type="submit">Connect</button>
      </div>
    </form>
  );
}
