import { ApiError } from '../api.ts';

/** What a code means for the person reading it; the server's message follows. */
const ADVICE: Readonly<Record<string, string>> = {
  FORBIDDEN: 'Your role or safe memberships do not allow this. Ask a Tessera administrator.',
  VAULT_SEALED: 'The vault is sealed. An operator must unseal it before secrets can be used.',
  RATE_LIMITED: 'Too many requests. Wait a little, then try again.',
  NETWORK: 'Your browser could not reach Tessera.',
  AUDIT_UNAVAILABLE:
    'The audit trail cannot be written, so Tessera refuses to act. Tell an operator.',
};

/**
 * A failed load or action: what was being done, what the server said, and the request id to
 * quote when reporting it. A 401 never shows here: the session ends and sign-in takes over.
 */
export function ErrorNotice({
  doing,
  error,
  retry,
}: {
  readonly doing: string;
  readonly error: unknown;
  readonly retry?: () => void;
}) {
  const apiError = error instanceof ApiError ? error : null;
  const message = error instanceof Error ? error.message : 'An unexpected error happened.';
  const advice = apiError === null ? undefined : ADVICE[apiError.code];
  return (
    <div className="state state-error" role="alert">
      <p>
        <strong>Could not {doing}.</strong> {advice ?? message}
      </p>
      {advice !== undefined && <p className="detail">{message}</p>}
      {apiError !== null && (
        <p className="detail">
          Code {apiError.code}
          {apiError.requestId !== null && <> · request {apiError.requestId}</>}
        </p>
      )}
      {retry !== undefined && (
        <button type="button" className="button-secondary" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}
