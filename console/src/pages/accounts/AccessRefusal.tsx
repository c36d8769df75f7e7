import { Link } from 'react-router';
import { ApiError } from '../../api.ts';
import { ErrorNotice } from '../../components/ErrorNotice.tsx';
import { askForAccessPage } from './paths.ts';

/**
 * A refused use of the secret, said so that the reader knows the way on: an approval to ask
 * for, a window to wait for, or a permission to ask an administrator for. Anything else is a
 * plain error notice.
 */
export function AccessRefusal({
  doing,
  error,
  accountRef,
}: {
  readonly doing: string;
  readonly error: unknown;
  readonly accountRef: string;
}) {
  const code = error instanceof ApiError ? error.code : null;
  if (code === 'APPROVAL_REQUIRED') {
    return (
      <div className="state acct-refusal" role="alert" data-code={code}>
        <p>
          <strong>Approval required.</strong> This account's access policy asks for an approved
          request before you can {doing}.
        </p>
        <p>
          <Link to={askForAccessPage(accountRef)}>Ask for access to {accountRef}</Link>
        </p>
      </div>
    );
  }
  if (code === 'OUTSIDE_ACCESS_WINDOW') {
    return (
      <div className="state acct-refusal" role="alert" data-code={code}>
        <p>
          <strong>Outside the access window.</strong> You can {doing} only during the hours the
          access policy allows: see "Access policy" on this page.
        </p>
      </div>
    );
  }
  if (code === 'FORBIDDEN' || code === 'NOT_FOUND') {
    return (
      <div className="state state-error" role="alert" data-code={code}>
        <p>
          <strong>Not allowed.</strong> Your membership of this account's safe does not let you{' '}
          {doing}, or no longer does. Ask a Tessera administrator or the safe's manager.
        </p>
        <p className="detail">
          Code {code}
          {error instanceof ApiError && error.requestId !== null && (
            <> · request {error.requestId}</>
          )}
        </p>
      </div>
    );
  }
  return <ErrorNotice doing={doing} error={error} />;
}
