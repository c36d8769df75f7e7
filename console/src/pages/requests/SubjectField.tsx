import type { ReactNode } from 'react';
import { useResource } from '../../useResource.ts';
import type { AccountRef, Safe } from './types.ts';

export type SubjectKind = 'account' | 'safe';

/**
 * What access is asked for: one account, typed as TARGET/USERNAME with the accounts the reader
 * may see as suggestions, or a whole safe chosen from theirs.
 */
export function SubjectField({
  kind,
  account,
  safe,
  onKind,
  onAccount,
  onSafe,
  error,
}: {
  readonly kind: SubjectKind;
  readonly account: string;
  readonly safe: string;
  readonly onKind: (kind: SubjectKind) => void;
  readonly onAccount: (ref: string) => void;
  readonly onSafe: (name: string) => void;
  readonly error: ReactNode;
}) {
  const errorId = 'ask-subject-error';
  return (
    <fieldset className="rq-field">
      <legend>Access to</legend>
      <div className="rq-choices">
        <label className="rq-choice">
          <input
            type="radio"
            name="subject"
            checked={kind === 'account'}
            onChange={() => onKind('account')}
          />
          One account
        </label>
        <label className="rq-choice">
          <input
            type="radio"
            name="subject"
            checked={kind === 'safe'}
            onChange={() => onKind('safe')}
          />
          A whole safe
        </label>
      </div>
      {kind === 'account' ? (
        <AccountInput value={account} onChange={onAccount} error={error} errorId={errorId} />
      ) : (
        <SafeSelect value={safe} onChange={onSafe} error={error} errorId={errorId} />
      )}
      {error !== null && (
        <p id={errorId} className="rq-field-error">
          {error}
        </p>
      )}
    </fieldset>
  );
}

function AccountInput({
  value,
  onChange,
  error,
  errorId,
}: {
  readonly value: string;
  readonly onChange: (ref: string) => void;
  readonly error: ReactNode;
  readonly errorId: string;
}) {
  const accounts = useResource<{ accounts: AccountRef[] }>('/v1/accounts');
  const hintId = 'ask-account-hint';
  return (
    <>
      <label htmlFor="ask-account">Account</label>
      <input
        id="ask-account"
        list="ask-account-options"
        autoComplete="off"
        spellCheck={false}
        placeholder="target/username"
        value={value}
        aria-invalid={error !== null || undefined}
        aria-describedby={error === null ? hintId : `${errorId} ${hintId}`}
        onChange={(event) => onChange(event.target.value)}
      />
      <datalist id="ask-account-options">
        {accounts.status === 'ready' &&
          accounts.data.accounts.map((a) => (
            <option key={a.id} value={a.ref}>
              safe {a.safe}
            </option>
          ))}
      </datalist>
      <p id={hintId} className="hint">
        As <code>target/username</code>, for example <code>db01/postgres</code>.
        {accounts.status === 'ready' &&
          accounts.data.accounts.length > 0 &&
          ' Start typing to pick one of the accounts you can see.'}
      </p>
    </>
  );
}

function SafeSelect({
  value,
  onChange,
  error,
  errorId,
}: {
  readonly value: string;
  readonly onChange: (name: string) => void;
  readonly error: ReactNode;
  readonly errorId: string;
}) {
  const safes = useResource<{ safes: Safe[] }>('/v1/safes');
  const names = safes.status === 'ready' ? safes.data.safes.map((s) => s.name) : [];
  // A safe named in the link but not (yet) listed stays choosable: the server decides.
  if (value !== '' && !names.includes(value)) names.unshift(value);
  return (
    <>
      <label htmlFor="ask-safe">Safe</label>
      <select
        id="ask-safe"
        value={value}
        aria-invalid={error !== null || undefined}
        aria-describedby={error === null ? undefined : errorId}
        onChange={(event) => onChange(event.target.value)}
      >
        <option value="">
          {safes.status === 'loading' ? 'Loading your safes…' : 'Choose a safe'}
        </option>
        {names.map((name) => (
          <option key={name} value={name}>
            {name}
          </option>
        ))}
      </select>
      {safes.status === 'error' && (
        <p className="hint">Your safes could not be listed; reload the page to try again.</p>
      )}
    </>
  );
}
