import { useEffect, useState } from 'react';
import { ApiError } from '../../api.ts';
import { ErrorNotice } from '../../components/ErrorNotice.tsx';
import { useApi } from '../../session.tsx';
import type { EphemeralCredential, Grant } from './types.ts';

/** How long a shown credential stays on the page before it is cleared. */
const SHOWN_FOR_S = 120;

type State =
  | { readonly step: 'idle' }
  | { readonly step: 'asking' }
  | { readonly step: 'shown'; readonly credential: EphemeralCredential; readonly left: number }
  | { readonly step: 'cleared' }
  | { readonly step: 'failed'; readonly error: unknown };

/**
 * An ephemeral grant's login, shown once to its holder (POST /v1/grants/:id/credential): the
 * server gives it a single time, so the page keeps it in memory only while shown, clears it
 * after two minutes or when asked, and forgets it when the screen goes.
 */
export function CredentialOnce({ grant }: { readonly grant: Grant }) {
  const api = useApi();
  const [state, setState] = useState<State>({ step: 'idle' });
  const [copied, setCopied] = useState<string | null>(null);

  const shown = state.step === 'shown';
  useEffect(() => {
    if (!shown) return;
    const timer = window.setInterval(() => {
      setState((now) => {
        if (now.step !== 'shown') return now;
        return now.left <= 1 ? { step: 'cleared' } : { ...now, left: now.left - 1 };
      });
    }, 1000);
    return () => window.clearInterval(timer);
  }, [shown]);

  const reveal = () => {
    setState({ step: 'asking' });
    api
      .send<EphemeralCredential>('POST', `/v1/grants/${encodeURIComponent(grant.id)}/credential`)
      .then(
        (credential) => setState({ step: 'shown', credential, left: SHOWN_FOR_S }),
        (error: unknown) => setState({ step: 'failed', error }),
      );
  };

  const copy = (what: string, value: string) => {
    navigator.clipboard.writeText(value).then(
      () => setCopied(what),
      () => setCopied(null),
    );
  };

  switch (state.step) {
    case 'idle':
    case 'asking':
      return (
        <div className="rq-credential">
          <button type="button" onClick={reveal} disabled={state.step === 'asking'}>
            {state.step === 'asking' ? 'Asking…' : 'Show credential once'}
          </button>
          <p className="hint">
            Tessera shows this account’s login one time only. Have your client ready.
          </p>
        </div>
      );
    case 'failed':
      return (
        <div className="rq-credential">
          <ErrorNotice doing="show the credential" error={state.error} />
          {state.error instanceof ApiError && state.error.code === 'CONFLICT' && (
            <p className="hint">
              A credential is shown once. If it was lost, give this grant back and ask again.
            </p>
          )}
        </div>
      );
    case 'cleared':
      return (
        <p className="rq-credential hint" role="status">
          The credential was shown and is now cleared from this page. It cannot be shown again.
        </p>
      );
    case 'shown': {
      const c = state.credential;
      return (
        <section className="rq-credential rq-credential-shown" aria-label="Temporary credential">
          <dl className="rq-facts">
            <div>
              <dt>Username</dt>
              <dd>
                <code>{c.username}</code>
              </dd>
            </div>
            <div>
              <dt>Password</dt>
              <dd>
                <code className="rq-secret">{c.password}</code>
              </dd>
            </div>
            <div>
              <dt>Host</dt>
              <dd>
                <code>
                  {c.host}:{c.port}
                </code>
              </dd>
            </div>
            {c.database !== null && (
              <div>
                <dt>Database</dt>
                <dd>
                  <code>{c.database}</code>
                </dd>
              </div>
            )}
          </dl>
          <div className="rq-card-actions">
            <button type="button" onClick={() => copy('password', c.password)}>
              Copy password
            </button>
            <button
              type="button"
              className="button-secondary"
              onClick={() => setState({ step: 'cleared' })}
            >
              Hide and clear
            </button>
          </div>
          <p className="hint" role="status">
            {copied === null ? '' : 'Password copied to the clipboard.'}
          </p>
          <p className="hint">Cleared from this page in {state.left} s.</p>
        </section>
      );
    }
  }
}
