import { type FormEvent, useId, useLayoutEffect, useRef, useState } from 'react';
import { ApiError } from '../../api.ts';
import type { SshKey } from '../../api-types.ts';
import { ErrorNotice } from '../../components/ErrorNotice.tsx';
import { useApi } from '../../session.tsx';

/**
 * Asks before removing one of the user's keys (DELETE /v1/users/me/ssh-keys/:id). A modal on the
 * browser's own <dialog>: focus stays inside, Escape keeps the key, the page behind is inert.
 * Mounted means open; the caller unmounts it when `onClose` or `onRemoved` is called.
 */
export function RemoveKeyDialog({
  sshKey,
  onClose,
  onRemoved,
}: {
  readonly sshKey: SshKey;
  readonly onClose: () => void;
  /** The key is gone; `alreadyGone` when another tab or an administrator removed it first. */
  readonly onRemoved: (alreadyGone: boolean) => void;
}) {
  const api = useApi();
  const ref = useRef<HTMLDialogElement>(null);
  const keep = useRef<HTMLButtonElement>(null);
  const titleId = useId();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  // A layout effect, so that focus is given back to the opener before a notice that replaces
  // it (after the removal) takes focus in the same commit.
  useLayoutEffect(() => {
    const dialog = ref.current;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    dialog?.showModal();
    // The safe choice has focus: a second Enter from the list must not remove the key.
    keep.current?.focus();
    return () => {
      dialog?.close();
      opener?.focus();
    };
  }, []);

  const remove = (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    api.send('DELETE', `/v1/users/me/ssh-keys/${encodeURIComponent(sshKey.id)}`).then(
      () => onRemoved(false),
      (failure: unknown) => {
        if (failure instanceof ApiError && failure.code === 'NOT_FOUND') {
          onRemoved(true);
          return;
        }
        setBusy(false);
        setError(failure);
      },
    );
  };

  return (
    <dialog
      ref={ref}
      className="sk-dialog"
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        if (!busy) onClose();
      }}
    >
      <form onSubmit={remove} noValidate>
        <h2 id={titleId}>Remove this key?</h2>
        <p className="sk-mono sk-dialog-key">
          {sshKey.type} {sshKey.fingerprint}
          {sshKey.comment !== '' && <> ({sshKey.comment})</>}
        </p>
        <p>
          The SSH gateway stops accepting it and ends the connections made with it. To use it again,
          register it again with a new signature.
        </p>
        {error !== null && <ErrorNotice doing="remove the key" error={error} />}
        <div className="sk-buttons">
          <button type="submit" className="sk-button-danger" disabled={busy}>
            {busy ? 'Removing…' : 'Remove key'}
          </button>
          <button
            ref={keep}
            type="button"
            className="button-secondary"
            onClick={onClose}
            disabled={busy}
          >
            Keep it
          </button>
        </div>
      </form>
    </dialog>
  );
}
