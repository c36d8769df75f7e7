import { useState } from 'react';
import { ApiError } from '../../api.ts';
import { ErrorNotice } from '../../components/ErrorNotice.tsx';
import { useApi } from '../../session.tsx';
import { ConfirmDialog } from './ConfirmDialog.tsx';
import { type AccessRequest, LIMITS } from './types.ts';
import { DECISION_ADVICE, durationWords, listOf, subjectOf } from './words.ts';

export type Decision = 'approve' | 'deny';

/**
 * Confirms an approval (with an optional comment) or a denial (with the reason the requester
 * will read), then sends it. A refusal stays in the dialog, explained in plain words.
 */
export function DecisionDialog({
  request,
  decision,
  onDone,
  onClose,
}: {
  readonly request: AccessRequest;
  readonly decision: Decision;
  readonly onDone: (answered: AccessRequest) => void;
  readonly onClose: () => void;
}) {
  const api = useApi();
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [missing, setMissing] = useState(false);
  const approving = decision === 'approve';
  const fieldId = `decision-${request.id}`;

  const confirm = () => {
    const value = text.trim();
    if (!approving && value === '') {
      setMissing(true);
      document.getElementById(fieldId)?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    const path = `/v1/requests/${encodeURIComponent(request.id)}/${decision}`;
    const body = approving ? { comment: value } : { reason: value };
    api.send<AccessRequest>('POST', path, body).then(onDone, (failure: unknown) => {
      setBusy(false);
      setError(failure);
    });
  };

  const code = error instanceof ApiError ? error.code : null;
  const advice = code === null ? undefined : DECISION_ADVICE[code];
  return (
    <ConfirmDialog
      title={approving ? 'Approve this request?' : 'Deny this request?'}
      confirmLabel={approving ? 'Approve' : 'Deny'}
      danger={!approving}
      busy={busy}
      onConfirm={confirm}
      onClose={onClose}
    >
      <p>
        <strong>{request.requester}</strong> asks for {listOf(request.permissions)} on{' '}
        <strong>{subjectOf(request)}</strong> for {durationWords(request.durationS)}.
      </p>
      {approving && request.approvalsRequired > 1 && (
        <p className="hint">
          Your approval is one of the {request.approvalsRequired} this request needs; access opens
          with the last one.
        </p>
      )}
      <label htmlFor={fieldId}>
        {approving ? 'Comment (optional)' : 'Reason for denying (required)'}
      </label>
      <textarea
        id={fieldId}
        rows={3}
        maxLength={approving ? LIMITS.comment : LIMITS.reason}
        value={text}
        aria-invalid={missing || undefined}
        aria-describedby={missing ? `${fieldId}-error` : undefined}
        onChange={(event) => {
          setText(event.target.value);
          setMissing(false);
        }}
      />
      {missing && (
        <p id={`${fieldId}-error`} className="rq-field-error">
          Say why you deny it: {request.requester} will read it.
        </p>
      )}
      {error !== null &&
        (advice === undefined ? (
          <ErrorNotice doing={approving ? 'approve' : 'deny'} error={error} />
        ) : (
          <div className="state state-error" role="alert">
            <p>
              <strong>Not {approving ? 'approved' : 'denied'}.</strong> {advice}
            </p>
            <p className="detail">
              {(error as ApiError).message} · Code {code}
            </p>
          </div>
        ))}
    </ConfirmDialog>
  );
}
