import { useEffect, useRef, useState } from 'react';
import { Link } from 'react-router';
import { ErrorNotice } from '../../components/ErrorNotice.tsx';
import { useApi, useUser } from '../../session.tsx';
import { AccessRefusal } from './AccessRefusal.tsx';
import { CheckoutDialog } from './CheckoutDialog.tsx';
import type { Capabilities } from './capabilities.ts';
import { accountApi, askForAccessPage, connectPage } from './paths.ts';
import { RevealDialog } from './RevealDialog.tsx';
import type { AccountView, CheckinReply, RotateReply, VerifyReply } from './types.ts';
import { type ActionState, useAction } from './useAction.ts';

/**
 * What the user can do to the account: rotate and verify now, reveal, check out and in, and
 * connect to a Linux account in the browser. Buttons follow the user's capabilities; each
 * call's answer, refusal included, is said next to them.
 */
export function AccountActions({
  account,
  caps,
  platform,
  maxCheckoutS,
  onChanged,
}: {
  readonly account: AccountView;
  readonly caps: Capabilities;
  /** The target's platform, once known: only Linux accounts open a terminal. */
  readonly platform: string | null;
  readonly maxCheckoutS: number | null;
  /** Something on the server changed: read the account and its history again. */
  readonly onChanged: () => void;
}) {
  const api = useApi();
  const user = useUser();
  const [dialog, setDialog] = useState<'reveal' | 'checkout' | null>(null);
  const rotate = useAction(() => api.send<RotateReply>('POST', accountApi(account, '/rotate')));
  const verify = useAction(() => api.send<VerifyReply>('POST', accountApi(account, '/verify')));
  const checkin = useAction(() => api.send<CheckinReply>('POST', accountApi(account, '/checkin')));
  const busy = [rotate, verify, checkin].some((a) => a.state.status === 'running');

  useRefreshAfter(rotate.state, onChanged);
  useRefreshAfter(verify.state, onChanged);
  useRefreshAfter(checkin.state, onChanged);

  const holder = account.checkout?.holder ?? null;
  const asking = caps.reveal === 'ask' || caps.checkout === 'ask' || caps.connect === 'ask';
  const canConnect = platform === 'linux' && caps.connect !== 'no';
  const anything =
    caps.rotate ||
    caps.verify !== 'no' ||
    caps.reveal !== 'no' ||
    caps.checkout !== 'no' ||
    caps.checkin ||
    canConnect;

  const start = (action: { start(): void; reset(): void }) => {
    for (const other of [rotate, verify, checkin]) other.reset();
    action.start();
  };

  return (
    <section className="panel acct-actions" aria-labelledby="account-actions">
      <h2 id="account-actions">Actions</h2>
      {!anything && (
        <p className="state-empty">
          You can read this account. Acting on it needs a role or a permission in safe{' '}
          <strong>{account.safe}</strong> that you do not hold.
        </p>
      )}
      <div className="acct-buttons">
        {caps.rotate && (
          <button type="button" disabled={busy} onClick={() => start(rotate)}>
            {rotate.state.status === 'running' ? 'Rotating…' : 'Rotate now'}
          </button>
        )}
        {caps.verify !== 'no' && (
          <button type="button" disabled={busy} onClick={() => start(verify)}>
            {verify.state.status === 'running' ? 'Verifying…' : 'Verify now'}
          </button>
        )}
        {caps.reveal !== 'no' && (
          <button type="button" onClick={() => setDialog('reveal')}>
            Reveal…
          </button>
        )}
        {caps.checkout !== 'no' && holder === null && (
          <button type="button" onClick={() => setDialog('checkout')}>
            Check out…
          </button>
        )}
        {caps.checkin && holder !== null && (
          <button type="button" disabled={busy} onClick={() => start(checkin)}>
            {checkin.state.status === 'running'
              ? 'Checking in…'
              : holder === user.name
                ? 'Check in'
                : `Check in for ${holder}`}
          </button>
        )}
        {canConnect && (
          <Link className="acct-button-link" to={connectPage(account)}>
            Connect
          </Link>
        )}
      </div>
      {asking && (
        <p className="hint">
          The access policy asks for an approved request before some of these.{' '}
          <Link to={askForAccessPage(account.ref)}>Ask for access</Link>
        </p>
      )}
      <div aria-live="polite" className="acct-results">
        <Progress state={rotate.state} doing="Rotating: Tessera sets a new secret on the target" />
        <Progress state={verify.state} doing="Verifying: Tessera logs in with the stored secret" />
        <Progress state={checkin.state} doing="Checking in" />
        {rotate.state.status === 'done' && (
          <p className="acct-result acct-result-ok">
            <strong>Rotated.</strong> Version {rotate.state.result.version} is current and verified
            ({attempts(rotate.state.result.attempts)}).
          </p>
        )}
        {rotate.state.status === 'failed' && (
          <ErrorNotice doing="rotate this account" error={rotate.state.error} />
        )}
        {verify.state.status === 'done' && <VerifyResult result={verify.state.result} />}
        {verify.state.status === 'failed' && (
          <AccessRefusal
            doing="verify this account"
            error={verify.state.error}
            accountRef={account.ref}
          />
        )}
        {checkin.state.status === 'done' && <CheckinResult result={checkin.state.result} />}
        {checkin.state.status === 'failed' && (
          <ErrorNotice doing="check this account in" error={checkin.state.error} />
        )}
      </div>
      {dialog === 'reveal' && <RevealDialog account={account} onClose={() => setDialog(null)} />}
      {dialog === 'checkout' && (
        <CheckoutDialog
          account={account}
          maxCheckoutS={maxCheckoutS}
          onClose={() => setDialog(null)}
          onCheckedOut={onChanged}
        />
      )}
    </section>
  );
}

/** Reads the account again once an action has finished, whether it worked or not. */
function useRefreshAfter(state: ActionState<unknown>, refresh: () => void): void {
  const latest = useRef(refresh);
  latest.current = refresh;
  // Keyed on the state object, which changes once per outcome, so one outcome reads once.
  useEffect(() => {
    if (state.status === 'done' || state.status === 'failed') latest.current();
  }, [state]);
}

function Progress({
  state,
  doing,
}: {
  readonly state: ActionState<unknown>;
  readonly doing: string;
}) {
  if (state.status !== 'running') return null;
  return (
    <p className="state state-loading" role="status">
      <span className="spinner" aria-hidden="true" />
      {doing}…
    </p>
  );
}

function VerifyResult({ result }: { readonly result: VerifyReply }) {
  return result.valid ? (
    <p className="acct-result acct-result-ok">
      <strong>Valid.</strong> Tessera logged in to the target with the stored secret.
    </p>
  ) : (
    <p className="acct-result acct-result-bad">
      <strong>Not valid.</strong> {result.detail}
    </p>
  );
}

function CheckinResult({ result }: { readonly result: CheckinReply }) {
  if (result.rotationError !== null) {
    return (
      <p className="acct-result acct-result-bad">
        <strong>Checked in,</strong> but the rotation that follows failed: {result.rotationError}
      </p>
    );
  }
  return (
    <p className="acct-result acct-result-ok">
      <strong>Checked in.</strong>{' '}
      {result.rotated
        ? 'The secret was rotated: the value you had no longer works.'
        : 'The policy keeps the secret as it is.'}
    </p>
  );
}

function attempts(n: number): string {
  return n === 1 ? 'first attempt' : `${n} attempts`;
}
