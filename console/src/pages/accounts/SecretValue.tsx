import { useEffect, useId, useRef, useState } from 'react';

/** How long a revealed value stays on the page. */
export const SHOWN_FOR_S = 30;
const MASK = '••••••••••••••••';

/**
 * A revealed secret: masked until asked, copied on request, and gone after SHOWN_FOR_S seconds.
 * While masked the value is not in the page at all, only in memory; `onExpired` lets the owner
 * drop it from its state, after which nothing of it is left to show.
 */
export function SecretValue({
  label,
  value,
  onExpired,
}: {
  readonly label: string;
  readonly value: string;
  readonly onExpired: () => void;
}) {
  const [shown, setShown] = useState(false);
  const [left, setLeft] = useState(SHOWN_FOR_S);
  const [copy, setCopy] = useState<'idle' | 'copied' | 'failed'>('idle');
  const labelId = useId();
  const expire = useRef(onExpired);
  expire.current = onExpired;
  const showButton = useRef<HTMLButtonElement>(null);

  // The form that asked is gone: keyboard focus goes to what comes next, Show.
  useEffect(() => {
    showButton.current?.focus();
  }, []);

  // The clock starts once, when the value arrives; a re-render does not restart it.
  useEffect(() => {
    const started = Date.now();
    const timer = window.setInterval(() => {
      const remaining = SHOWN_FOR_S - Math.floor((Date.now() - started) / 1000);
      setLeft(Math.max(0, remaining));
      if (remaining <= 0) expire.current();
    }, 250);
    return () => window.clearInterval(timer);
  }, []);

  const onCopy = () => {
    // The clipboard API exists on secure origins only (HTTPS, or localhost).
    const clipboard = navigator.clipboard as Clipboard | undefined;
    if (clipboard === undefined) {
      setCopy('failed');
      return;
    }
    clipboard.writeText(value).then(
      () => setCopy('copied'),
      () => setCopy('failed'),
    );
  };

  return (
    <div className="acct-secret">
      <p className="acct-secret-label" id={labelId}>
        {label}
      </p>
      <output
        className={shown ? 'acct-secret-value acct-secret-shown' : 'acct-secret-value'}
        aria-labelledby={labelId}
        data-testid="secret-value"
      >
        {shown ? (
          value
        ) : (
          <>
            <span aria-hidden="true">{MASK}</span>
            <span className="visually-hidden">hidden: press Show to see it</span>
          </>
        )}
      </output>
      <div className="acct-buttons">
        <button
          ref={showButton}
          type="button"
          className="button-secondary"
          aria-pressed={shown}
          onClick={() => setShown((s) => !s)}
        >
          {shown ? 'Hide' : 'Show'}
        </button>
        <button type="button" className="button-secondary" onClick={onCopy}>
          Copy to clipboard
        </button>
      </div>
      <p className="hint" role="status">
        {copy === 'copied' && 'Copied. The clipboard keeps it until you copy something else. '}
        {copy === 'failed' && 'This browser did not allow copying: select the shown value. '}
      </p>
      <p className="hint">
        Cleared from this page in <strong>{left} s</strong>, or when you close this or leave the
        page.
      </p>
    </div>
  );
}
