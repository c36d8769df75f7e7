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
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const userField = useRef<HTMLInputElement>(null);

  const ready = state.status === 'signed-out';
  useEffect(() => {
    if (ready) userField.current?.focus();
  }, [ready]);

  if (state.status === 'signed-in') return <Navigate to={returnPath(location.state)} replace />;

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    signIn(user.trim(), password).catch((failure: unknown) => {
      setBusy(false);
      setPassword('');
      setError(signInError(failure));
    });
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
        {state.status === 'signed-out' && state.notice !== null && error === null && (
          <p className="notice" role="status">
            {state.notice}
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
            onChange={(event) => setUser(event.target.value)}
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
