import { formatTime, timeLeft } from '../../format.ts';
import { useNow } from '../../useNow.ts';
import { rotationState, verifySummary } from './rotationState.ts';
import { StateBadge } from './StateBadge.tsx';
import type { AccountView, Target } from './types.ts';

/** The account's facts: where it lives, its rotation state, last verify, who holds it. */
export function AccountStatus({
  account,
  target,
}: {
  readonly account: AccountView;
  readonly target: Target | null;
}) {
  const now = useNow();
  const state = rotationState(account);
  const verify = verifySummary(account);
  return (
    <section className="panel" aria-labelledby="account-status">
      <h2 id="account-status">Status</h2>
      <dl className="acct-facts">
        <dt>Rotation state</dt>
        <dd>
          <StateBadge tone={state.tone} label={state.label} />
          {state.detail !== null && <span className="acct-fact-detail">{state.detail}</span>}
        </dd>
        <dt>Last rotated</dt>
        <dd>{account.lastRotatedAt === null ? 'never' : formatTime(account.lastRotatedAt)}</dd>
        <dt>Next rotation</dt>
        <dd>
          {account.nextRotationAt === null ? 'none scheduled' : formatTime(account.nextRotationAt)}
        </dd>
        <dt>Last verify</dt>
        <dd>
          <StateBadge tone={verify.tone} label={verify.tone === 'bad' ? 'failed' : verify.text} />
          {account.lastVerifiedAt !== null && (
            <span className="acct-fact-detail">{formatTime(account.lastVerifiedAt)}</span>
          )}
          {verify.tone === 'bad' && <span className="acct-fact-detail">{verify.text}</span>}
        </dd>
        <dt>Checked out</dt>
        <dd>
          {account.checkout === null ? (
            'no'
          ) : (
            <>
              by <strong>{account.checkout.holder}</strong> until{' '}
              {formatTime(account.checkout.expiresAt)}
              <span className="acct-fact-detail">
                {timeLeft(account.checkout.expiresAt, now)} left
              </span>
            </>
          )}
        </dd>
        <dt>Safe</dt>
        <dd>{account.safe}</dd>
        <dt>Target</dt>
        <dd>
          {account.target}
          {target !== null && (
            <span className="acct-fact-detail">
              {target.platform} · {target.host}:{target.port}
            </span>
          )}
        </dd>
        <dt>Secret</dt>
        <dd>
          {account.secretType === 'ssh-key' ? 'SSH key' : 'password'}
          {account.currentVersion !== null && `, version ${account.currentVersion}`}
        </dd>
        {account.rotationFailures > 0 && (
          <>
            <dt>Failed rotations</dt>
            <dd>{account.rotationFailures} in a row</dd>
          </>
        )}
      </dl>
    </section>
  );
}
