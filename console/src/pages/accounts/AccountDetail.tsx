import { useCallback, useEffect } from 'react';
import { Link, useLocation, useParams } from 'react-router';
import { ApiError } from '../../api.ts';
import { ErrorNotice } from '../../components/ErrorNotice.tsx';
import { Loading } from '../../components/Loading.tsx';
import { usePageTitle } from '../../usePageTitle.ts';
import { AccessPolicyPanel } from './AccessPolicyPanel.tsx';
import { AccountActions } from './AccountActions.tsx';
import { AccountStatus } from './AccountStatus.tsx';
import { PolicyPanel } from './PolicyPanel.tsx';
import { accountApi } from './paths.ts';
import { rotationState } from './rotationState.ts';
import { StateBadge } from './StateBadge.tsx';
import type { AccessPolicy, AccountView, Policy, SecretVersion, Target } from './types.ts';
import { useCapabilities } from './useCapabilities.ts';
import { useFetched } from './useFetched.ts';
import { VersionHistory } from './VersionHistory.tsx';

/** How often the page looks again while a rotation it did not start runs. */
const ROTATING_POLL_MS = 3_000;

/** One account: its state, policies and history, and what the user can do to it. */
export function AccountDetail() {
  const params = useParams();
  const key = { target: params.target ?? '', username: params.username ?? '' };
  const ref = `${key.target}/${key.username}`;
  usePageTitle(ref);
  const account = useFetched<AccountView>(accountApi(key));

  return (
    <>
      <nav aria-label="Breadcrumb" className="acct-breadcrumb">
        <Link to="/accounts">Accounts</Link> <span aria-hidden="true">›</span> {ref}
      </nav>
      {account.status === 'ready' ? (
        <AccountBody
          key={account.data.id}
          account={account.data}
          refreshAccount={account.refresh}
        />
      ) : (
        <>
          <h1 tabIndex={-1}>{ref}</h1>
          {account.status === 'loading' && <Loading what="the account" />}
          {account.status === 'error' && (
            <AccountError error={account.error} retry={account.refresh} />
          )}
        </>
      )}
    </>
  );
}

function AccountError({ error, retry }: { readonly error: unknown; readonly retry: () => void }) {
  if (error instanceof ApiError && error.status === 404) {
    return (
      <div className="state state-error" role="alert">
        <p>
          <strong>No such account,</strong> or none you may see: Tessera answers the same for both.
        </p>
        <p>
          <Link to="/accounts">Back to the accounts</Link>
        </p>
      </div>
    );
  }
  return <ErrorNotice doing="load the account" error={error} retry={retry} />;
}

function AccountBody({
  account,
  refreshAccount,
}: {
  readonly account: AccountView;
  readonly refreshAccount: () => void;
}) {
  const location = useLocation();
  // Said only while it is true: once verified or rotated, the account's state says the rest.
  const onboarded =
    (location.state as { onboarded?: unknown } | null)?.onboarded === true &&
    account.state === 'unverified';
  const versions = useFetched<{ versions: SecretVersion[] }>(accountApi(account, '/versions'));
  const policy = useFetched<Policy>(`/v1/policies/${encodeURIComponent(account.policy)}`);
  const accessPolicy = useFetched<AccessPolicy>(accountApi(account, '/access-policy'));
  const target = useFetched<Target>(`/v1/targets/${encodeURIComponent(account.target)}`);
  const caps = useCapabilities(account, accessPolicy.status === 'ready' ? accessPolicy.data : null);
  const state = rotationState(account);
  const refreshVersions = versions.refresh;
  const onChanged = useCallback(() => {
    refreshAccount();
    refreshVersions();
  }, [refreshAccount, refreshVersions]);

  // A rotation started elsewhere (the scheduler, another person) ends on its own: look again.
  useEffect(() => {
    if (!account.rotating) return;
    const timer = window.setTimeout(onChanged, ROTATING_POLL_MS);
    return () => window.clearTimeout(timer);
  }, [account, onChanged]);

  return (
    <>
      <div className="acct-title">
        <h1 tabIndex={-1}>{account.ref}</h1>
        <StateBadge tone={state.tone} label={state.label} />
      </div>
      {onboarded && (
        <p className="notice" role="status">
          <strong>Onboarded.</strong> Tessera has not logged in with this secret yet: verify it now
          to know it works.
        </p>
      )}
      {caps === null ? (
        <Loading what="what you may do" />
      ) : (
        <AccountActions
          account={account}
          caps={caps}
          platform={target.status === 'ready' ? target.data.platform : null}
          maxCheckoutS={policy.status === 'ready' ? policy.data.maxCheckoutS : null}
          onChanged={onChanged}
        />
      )}
      <div className="acct-detail-grid">
        <AccountStatus account={account} target={target.status === 'ready' ? target.data : null} />
        <PolicyPanel name={account.policy} policy={policy} />
        <AccessPolicyPanel policy={accessPolicy} />
      </div>
      <VersionHistory versions={versions} />
    </>
  );
}
