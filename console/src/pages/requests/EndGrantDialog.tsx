import { useState } from 'react';
import { ErrorNotice } from '../../components/ErrorNotice.tsx';
import { useApi } from '../../session.tsx';
import { ConfirmDialog } from './ConfirmDialog.tsx';
import { type Grant, LIMITS } from './types.ts';
import { grantSubject, listOf } from './words.ts';

/** Said in the audit trail when the holder gives a grant back without saying more. */
const GIVEN_BACK = 'Given back early by the holder';

/**
 * Ends a grant now (POST /v1/grants/:id/revoke): the holder giving it back early, with an
 * optional word, or an approver or admin revoking it, with the reason the holder and the audit
 * trail will read. Live sessions under it end and check-outs are checked in at once.
 */
export function EndGrantDialog({
  grant,
  holder,
  onDone,
  onClose,
}: {
  readonly grant: Grant;
  /** The reader holds the grant: giving back rather than revoking. */
  readonly holder: boolean;
  readonly onDone: (ended: Grant) => void;
  readonly onClose: () => void;
}) {
  const api = useApi();
  const [reason, setReason] = useState('');
  const [missing, setMissing] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const fieldId = `end-${grant.id}`;
  const subject = grantSubject(grant);
  const permissions = listOf(grant.permissions);

  const confirm = () => {
    const text = reason.trim();
    if (!holder && text === '') {
      setMissing(true);
      document.getElementById(fieldId)?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    const body = { reason: text === '' ? GIVEN_BACK : text };
    api
      .send<Grant>('POST', `/v1/grants/${encodeURIComponent(grant.id)}/revoke`, body)
      .then(onDone, (failure: unknown) => {
        setBusy(false);
        setError(failure);
      });
  };

  return (
    <ConfirmDialog
      title={holder ? 'Give this access back now?' : 'Revoke this grant?'}
      confirmLabel={holder ? 'Give back now' : 'Revoke now'}
      dismissLabel={holder ? 'Keep it' : 'Cancel'}
      danger
      busy={busy}
      onConfirm={confirm}
      onClose={onClose}
    >
      <p>
        {holder ? 'You' : <strong>{grant.user}</strong>} will lose {permissions} on{' '}
        <strong>{subject}</strong> at once: sessions under this grant end and check-outs are checked
        in.
      </p>
      <label htmlFor={fieldId}>{holder ? 'Note (optional)' : 'Reason (required)'}</label>
      <textarea
        id={fieldId}
        rows={3}
        maxLength={LIMITS.reason}
        value={reason}
        aria-invalid={missing || undefined}
        aria-describedby={missing ? `${fieldId}-error` : `${fieldId}-hint`}
        onChange={(event) => {
          setReason(event.target.value);
          setMissing(false);
        }}
      />
      {missing ? (
        <p id={`${fieldId}-error`} className="rq-field-error">
          Say why: {grant.user} and the audit trail will read it.
        </p>
      ) : (
        <p id={`${fieldId}-hint`} className="hint">
          {holder
            ? `Without a note, the audit trail says “${GIVEN_BACK}”.`
            : 'Recorded in the audit trail with your name.'}
        </p>
      )}
      {error !== null && (
        <ErrorNotice doing={holder ? 'give the grant back' : 'revoke the grant'} error={error} />
      )}
    </ConfirmDialog>
  );
}
