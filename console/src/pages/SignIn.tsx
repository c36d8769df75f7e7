import { type FormEvent, useEffect, useRef, useState } from 'react';
import { Navigate, useLocation } from 'react-router';
import { ApiError } from '../api.ts';
import { Loading } from '../components/Loading.tsx';
import { useSession } from '../session.tsx';
import { usePageTitle } from '../usePageTitle.ts';

/** Where to go after signing in: the page that sent the visitor here, if it is one of ours. */
function returnPath(state: unknown): string {
  const from = (state as { from?: unknown } | null)?.from;
  return typeof from === 'string' && from.startsWith('/') && !from.startsWith('//') ? from : '/';
}

export function SignIn() {
  usePageTitle('Sign in');
  const { state, signIn } = useSession();
  const location = useLocation();
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  /** Counts the server's requests for a code: each one shows the field and focuses it. */
  const [codeAsked, setCodeAsked] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const userField = useRef<HTMLInputElement>(null);
  const codeField = useRef<HTMLInputElement>(null);

  const ready = state.status === 'signed-out';
  const needsCode = codeAsked > 0;
  useEffect(() => {
    if (ready) userField.current?.focus();
  }, [ready]);
  useEffect(() => {
    if (codeAsked > 0) codeField.current?.focus();
  }, [codeAsked]);

  if (state.status === 'signed-in') return <Navigate to={returnPath(location.state)} replace />;

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    signIn(user.trim(), password, needsCode ? code.trim() : undefined).catch(refused);
  };
  /** After a right password only the code is asked for (again): the password stays. */
  const refused = (failure: unknown) => {
    setBusy(false);
    setCode('');
    const answer = failure instanceof ApiError ? failure.code : null;
    if (answer === 'MFA_REQUIRED' || answer === 'MFA_INVALID') {
      setCodeAsked((asked) => asked + 1);
    } else {
      setPassword('');
      setCodeAsked(0);
    }
    setError(answer === 'MFA_REQUIRED' ? null : signInError(failure));
  };
  /** Another user may have no second factor: the code is asked for again only if needed. */
  const onUserChange = (value: string) => {
    setUser(value);
    setCode('');
    setCodeAsked(0);
  };

  return (
    <main className="sign-in">
      <div className="sign-in-card">
        <p className="sign-in-brand">
          <img src="/favicon.svg" alt="" width="32" height="32" />
          Tessera
        </p>
        <h1>Sign in</h1>
        {state.status === 'loading' && <Loading what="your session" />}
        {state.status === 'signed-out' && state.notice !== null && error === null && !needsCode && (
          <p className="notice" role="status">
            {state.notice}
          </p>
        )}
        {needsCode && error === null && (
          <p className="notice" role="status">
            Your account has a second factor: enter the code your authenticator app shows now.
          </p>
        )}
        <form onSubmit={onSubmit} aria-describedby={error === null ? undefined : 'sign-in-error'}>
          <label htmlFor="sign-in-user">User name</label>
          <input
            id="sign-in-user"
            ref={userField}
            name="username"
            autoComplete="username"
            autoCapitalize="none"
            spellCheck={false}
            required
            maxLength={128}
            value={user}
            onChange={(event) => onUserChange(event.target.value)}
          />
          <label htmlFor="sign-in-password">Password</label>
          <input
            id="sign-in-password"
            name="password"
            type="password"
            autoComplete="current-password"
            required
            maxLength={1024}
            value={password}
            onChange={(event) => setPassword(event.target.value)}
          />
          {needsCode && (
            <>
              <label htmlFor="sign-in-code">Code from your authenticator app</label>
              <input
                id="sign-in-code"
                ref={codeField}
                name="one-time-code"
                inputMode="numeric"
                autoComplete="one-time-code"
                pattern="[0-9]{6,8}"
                title="The 6 digits your authenticator app shows"
                required
                maxLength={8}
                value={code}
                onChange={(event) => setCode(event.target.value)}
              />
            </>
          )}
          {error !== null && (
            <p id="sign-in-error" className="form-error" role="alert">
              {error}
            </p>
          )}
          <button type="submit" disabled={busy || !ready}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
        <p className="hint">
          No account yet? A Tessera administrator creates users and resets passwords.
        </p>
      </div>
    </main>
  );
}

/** Says what went wrong and what to do; it never says whether the user name exists. */
function signInError(failure: unknown): string {
  if (!(failure instanceof ApiError)) return 'Sign-in failed unexpectedly. Try again.';
  switch (failure.code) {
    case 'UNAUTHENTICATED':
      return 'The user name or password is not right. Check both and try again.';
    case 'MFA_INVALID':
      return 'That code is not right or was already used. Enter the code your app shows now.';
    case 'RATE_LIMITED':
      return 'Too many attempts. Wait a few minutes before trying again.';
    case 'VALIDATION_FAILED':
      return 'Enter a user name (letters, digits, dot, dash, underscore) and a password.';
    case 'NETWORK':
      return failure.message;
    default:
      return `Sign-in failed: ${failure.message}`;
  }
}
