import { useState } from 'react';
import { ErrorNotice } from '../../components/ErrorNotice.tsx';
import { useApi } from '../../session.tsx';
import { ConfirmDialog } from './ConfirmDialog.tsx';
import type { AccessRequest } from './types.ts';
import { subjectOf } from './words.ts';

/** The requester withdraws a pending request (POST /v1/requests/:id/cancel), once confirmed. */
export function CancelDialog({
  request,
  onClose,
  onDone,
}: {
  readonly request: AccessRequest;
  readonly onClose: () => void;
  readonly onDone: () => void;
}) {
  const api = useApi();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const cancel = () => {
    setBusy(true);
    setError(null);
    api
      .send('POST', `/v1/requests/${encodeURIComponent(request.id)}/cancel`)
      .then(onDone, (failure: unknown) => {
        setBusy(false);
        setError(failure);
      });
  };
  return (
    <ConfirmDialog
      title="Cancel this request?"
      confirmLabel="Cancel request"
      dismissLabel="Keep it"
      danger
      busy={busy}
      onConfirm={cancel}
      onClose={onClose}
    >
      <p>
        Your request for <strong>{subjectOf(request)}</strong> will stop waiting; approvers no
        longer see it. To get access later, ask again.
      </p>
      {error !== null && <ErrorNotice doing="cancel the request" error={error} />}
    </ConfirmDialog>
  );
}
