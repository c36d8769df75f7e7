import { ErrorNotice } from '../../components/ErrorNotice.tsx';
import { Loading } from '../../components/Loading.tsx';
import { formatDuration, formatTime } from '../../format.ts';
import type { AccessPolicy } from './types.ts';
import type { Fetched } from './useFetched.ts';

const SCOPE: Readonly<Record<AccessPolicy['scope'], string>> = {
  account: 'set on this account',
  safe: "the safe's",
  default: 'the default: no policy set',
};

/** What it takes to use the account's secret: approvals, a reason, a ticket, a window. */
export function AccessPolicyPanel({
  policy,
}: {
  readonly policy: Fetched<AccessPolicy> & { refresh(): void };
}) {
  return (
    <section className="panel" aria-labelledby="account-access-policy">
      <h2 id="account-access-policy">Access policy</h2>
      {policy.status === 'loading' && <Loading what="the access policy" />}
      {policy.status === 'error' && (
        <ErrorNotice doing="load the access policy" error={policy.error} retry={policy.refresh} />
      )}
      {policy.status === 'ready' && <AccessFacts policy={policy.data} />}
    </section>
  );
}

function AccessFacts({ policy }: { readonly policy: AccessPolicy }) {
  return (
    <dl className="acct-facts">
      <dt>In force</dt>
      <dd>
        {SCOPE[policy.scope]}
        {policy.updatedAt !== null && (
          <span className="acct-fact-detail">
            changed {formatTime(policy.updatedAt)}
            {policy.updatedBy !== null && ` by ${policy.updatedBy}`}
          </span>
        )}
      </dd>
      <dt>Needs approval</dt>
      <dd>
        {policy.approvalFor.length === 0
          ? 'nothing: a safe permission is enough'
          : `${policy.approvalFor.join(', ')}: ${policy.approvalsRequired} ${
              policy.approvalsRequired === 1 ? 'approval' : 'approvals'
            }${policy.approverGroup === null ? '' : ` from ${policy.approverGroup}`}`}
      </dd>
      <dt>A request needs</dt>
      <dd>
        {[policy.requireReason && 'a reason', policy.requireTicket && 'a ticket']
          .filter(Boolean)
          .join(' and ') || 'nothing more'}
        , for at most {formatDuration(policy.maxDurationS)}
      </dd>
      <dt>Access window</dt>
      <dd>
        {policy.window === null
          ? 'any time'
          : `${policy.window.days.join(', ')} ${policy.window.start}–${policy.window.end} ` +
            policy.window.timeZone}
      </dd>
    </dl>
  );
}
