import { type FormEvent, type ReactNode, useEffect, useRef, useState } from 'react';
import { AccessRefusal } from './AccessRefusal.tsx';
import { Dialog } from './Dialog.tsx';
import { SecretValue, SHOWN_FOR_S } from './SecretValue.tsx';
import type { RevealedSecret } from './types.ts';

/** What the server answered, with a sentence about it (a check-out's end, say). */
export interface SecretAnswer {
  readonly secret: RevealedSecret;
  readonly note: ReactNode;
}

/** The value lives in the `shown` phase only: any other phase has no trace of it. */
type Phase =
  | { readonly kind: 'asking' }
  | { readonly kind: 'sending' }
  | { readonly kind: 'shown'; readonly answer: SecretAnswer }
  | { readonly kind: 'expired' }
  | { readonly kind: 'failed'; readonly error: unknown };

/**
 * Asks for a reason, sends it, and shows the secret that comes back once: masked, on request in
 * clear, for SHOWN_FOR_S seconds. Closing the dialog, the time running out, or leaving the page
 * drops the value from React's state, so it leaves the page with it. Shared by reveal and
 * check-out, which both give the value in exchange for an audited reason.
 */
export function SecretDialog({
  title,
  doing,
  accountRef,
  submitLabel,
  fields,
  send,
  onClose,
}: {
  readonly title: string;
  /** What the user is doing, as "you cannot …" would end: "reveal the password". */
  readonly doing: string;
  readonly accountRef: string;
  readonly submitLabel: string;
  /** Form fields besides the reason. */
  readonly fields?: ReactNode;
  readonly send: (reason: string) => Promise<SecretAnswer>;
  readonly onClose: () => void;
}) {
  const [reason, setReason] = useState('');
  const [phase, setPhase] = useState<Phase>({ kind: 'asking' });
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (phase.kind === 'sending') return;
    setPhase({ kind: 'sending' });
    send(reason.trim()).then(
      (answer) => {
        // A value that arrives after the dialog closed is never put anywhere.
        if (mounted.current) setPhase({ kind: 'shown', answer });
      },
      (error: unknown) => {
        if (mounted.current) setPhase({ kind: 'failed', error });
      },
    );
  };

  return (
    <Dialog title={title} onClose={onClose}>
      {phase.kind === 'shown' ? (
        <>
          <div className="notice" role="status">
            {phase.answer.note}
          </div>
          <SecretValue
            label={`Secret of ${accountRef}, version ${phase.answer.secret.version}`}
            value={phase.answer.secret.value}
            onExpired={() => setPhase({ kind: 'expired' })}
          />
        </>
      ) : phase.kind === 'expired' ? (
        <p className="notice" role="status">
          The value was shown for {SHOWN_FOR_S} seconds and is now cleared from this page. To see it
          again, reveal it again with a reason.
        </p>
      ) : (
        <form className="acct-form" onSubmit={onSubmit}>
          <label htmlFor="secret-reason">Reason</label>
          <textarea
            id="secret-reason"
            // The dialog's one question: typing starts here, not on its Close button.
            autoFocus
            required
            maxLength={500}
            rows={3}
            value={reason}
            aria-describedby="secret-reason-hint"
            onChange={(event) => setReason(event.target.value)}
          />
          <p className="hint" id="secret-reason-hint">
            Recorded in the audit trail with your name, before the value is sent.
          </p>
          {fields}
          {phase.kind === 'failed' && (
            <AccessRefusal doing={doing} error={phase.error} accountRef={accountRef} />
          )}
          <div className="acct-buttons">
            <button type="submit" disabled={phase.kind === 'sending'}>
              {phase.kind === 'sending' ? 'Sending…' : submitLabel}
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
