import { type FormEvent, useState } from 'react';
import { ErrorNotice } from '../../components/ErrorNotice.tsx';
import { useApi } from '../../session.tsx';
import { sessionApi } from './paths.ts';
import { loginOf } from './sessionFormat.ts';
import type { KillAnswer } from './types.ts';

/** The server's limit on a reason (src/http/schemas.ts `reason`). */
const MAX_REASON = 500;

/**
 * Kill a live session with a reason: the gateway ends it and prints the reason to the user, and
 * the audit trail keeps it. A session on another Tessera node is ended by that node within a
 * few seconds. Only administrators may (the server decides; the form is shown to them alone).
 */
export function KillForm({
  session,
  onKilled,
  onCancel,
}: {
  readonly session: {
    readonly id: string;
    readonly user: string;
    readonly account: string;
    readonly target: string;
  };
  /** Told the reason once the server has killed the session, or passed the kill to `node`. */
  readonly onKilled?: (reason: string, node: string | null) => void;
  readonly onCancel?: () => void;
}) {
  const api = useApi();
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [told, setTold] = useState<{ reason: string; node: string | null } | null>(null);
  const field = `kill-reason-${session.id}`;

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const why = reason.trim();
    if (why === '') return;
    setBusy(true);
    setError(null);
    api
      .send<KillAnswer>('POST', sessionApi(session.id, '/kill'), { reason: why })
      .then(
        (answer) => {
          const node = answer.killed ? null : answer.node;
          setTold({ reason: why, node });
          onKilled?.(why, node);
        },
        (failure: unknown) => setError(failure),
      )
      .finally(() => setBusy(false));
  };

  if (told !== null) {
    return (
      <p className="notice" role="status">
        {told.node === null
          ? `Killed. ${session.user} was told: “${told.reason}”.`
          : `Passed to node ${told.node}, which runs the session and ends it within seconds. ` +
            `${session.user} will be told: “${told.reason}”.`}
      </p>
    );
  }
  return (
    <form className="sess-kill" onSubmit={submit}>
      <label htmlFor={field}>
        Reason for killing {session.user}’s session on {loginOf(session)}
      </label>
      <p className="hint" id={`${field}-hint`}>
        Shown to {session.user} in their terminal and kept in the audit trail.
      </p>
      <div className="sess-kill-row">
        <input
          id={field}
          required
          maxLength={MAX_REASON}
          autoComplete="off"
          aria-describedby={`${field}-hint`}
          value={reason}
          onChange={(e) => setReason(e.target.value)}
        />
        <button type="submit" className="sess-button-danger" disabled={busy}>
          {busy ? 'Killing…' : 'Kill session'}
        </button>
        {onCancel !== undefined && (
          <button type="button" className="button-secondary" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
      {error !== null && <ErrorNotice doing="kill the session" error={error} />}
    </form>
  );
}
