import { type FormEvent, type ReactNode, useId, useLayoutEffect, useRef } from 'react';

/**
 * A modal confirmation: the browser's own <dialog>, so focus stays inside it, Escape closes it,
 * and the page behind is inert. Focus goes back to whatever opened it. The caller renders it
 * only while it is open and owns its fields; `onConfirm` runs on submit.
 */
export function ConfirmDialog({
  title,
  children,
  confirmLabel,
  dismissLabel = 'Cancel',
  busy,
  danger = false,
  onConfirm,
  onClose,
}: {
  readonly title: string;
  readonly children: ReactNode;
  readonly confirmLabel: string;
  /** The button that closes without acting. */
  readonly dismissLabel?: string;
  readonly busy: boolean;
  readonly danger?: boolean;
  readonly onConfirm: () => void;
  readonly onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();

  // A layout effect, so that focus is given back before whatever replaces the opener (a
  // notice after the answer) takes it in the same commit.
  useLayoutEffect(() => {
    const dialog = ref.current;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    dialog?.showModal();
    return () => {
      dialog?.close();
      opener?.focus();
    };
  }, []);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!busy) onConfirm();
  };

  return (
    <dialog
      ref={ref}
      className="rq-confirm-dialog"
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        if (!busy) onClose();
      }}
    >
      <form onSubmit={submit} noValidate>
        <h2 id={titleId}>{title}</h2>
        {children}
        <div className="rq-dialog-actions">
          <button type="submit" className={danger ? 'rq-button-danger' : undefined} disabled={busy}>
            {busy ? 'Sending…' : confirmLabel}
          </button>
          <button type="button" className="button-secondary" onClick={onClose} disabled={busy}>
            {dismissLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
