import { type ReactNode, useEffect, useId, useRef } from 'react';

/**
 * A modal dialog on the browser's own <dialog>: it keeps focus inside, Escape closes it, and
 * the page behind is inert. Mounted means open; closing (Escape, the Close button) asks the
 * parent to unmount it, which takes its content, a revealed value included, out of the page.
 */
export function Dialog({
  title,
  onClose,
  children,
}: {
  readonly title: string;
  readonly onClose: () => void;
  readonly children: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const closing = useRef(onClose);
  closing.current = onClose;

  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return;
    // Focus goes back where it was (the button that opened the dialog) once it closes.
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    dialog.showModal();
    const onDialogClose = () => closing.current();
    dialog.addEventListener('close', onDialogClose);
    return () => {
      dialog.removeEventListener('close', onDialogClose);
      if (dialog.open) dialog.close();
      opener?.focus();
    };
  }, []);

  return (
    <dialog ref={ref} className="acct-dialog" aria-labelledby={titleId}>
      <div className="acct-dialog-head">
        <h2 id={titleId}>{title}</h2>
        <button type="button" className="button-secondary" onClick={() => ref.current?.close()}>
          Close
        </button>
      </div>
      {children}
    </dialog>
  );
}
