import { ErrorNotice } from '../../components/ErrorNotice.tsx';
import { Loading } from '../../components/Loading.tsx';
import { formatDuration } from '../../format.ts';
import type { Policy } from './types.ts';
import type { Fetched } from './useFetched.ts';

/** The rotation policy the account follows: when it rotates, what its secrets look like. */
export function PolicyPanel({
  name,
  policy,
}: {
  readonly name: string;
  readonly policy: Fetched<Policy> & { refresh(): void };
}) {
  return (
    <section className="panel" aria-labelledby="account-policy">
      <h2 id="account-policy">
        Rotation policy <span className="acct-heading-name">{name}</span>
      </h2>
      {policy.status === 'loading' && <Loading what="the policy" />}
      {policy.status === 'error' && (
        <ErrorNotice doing="load the policy" error={policy.error} retry={policy.refresh} />
      )}
      {policy.status === 'ready' && <PolicyFacts policy={policy.data} />}
    </section>
  );
}

function PolicyFacts({ policy }: { readonly policy: Policy }) {
  const { secret } = policy;
  return (
    <dl className="acct-facts">
      <dt>Rotates</dt>
      <dd>{schedule(policy)}</dd>
      <dt>New secrets</dt>
      <dd>
        {secret.length} characters, at least {count(secret.minLowercase, 'lower-case letter')},{' '}
        {count(secret.minUppercase, 'upper-case letter')}, {count(secret.minDigits, 'digit')},{' '}
        {count(secret.minSymbols, 'symbol')}
      </dd>
      <dt>Check-out</dt>
      <dd>
        {policy.exclusiveCheckout ? 'exclusive' : 'shared'}, at most{' '}
        {formatDuration(policy.maxCheckoutS)}
      </dd>
      <dt>After check-in</dt>
      <dd>{policy.rotateOnCheckin ? 'rotated' : 'kept'}</dd>
      <dt>When a check-out runs out</dt>
      <dd>{policy.rotateOnCheckoutExpiry ? 'rotated' : 'kept'}</dd>
    </dl>
  );
}

function schedule(policy: Policy): string {
  if (policy.rotationIntervalS === null) return 'on demand only';
  const every = `every ${formatDuration(policy.rotationIntervalS)}`;
  if (policy.rotateAt === null) return every;
  return `${every}, at ${policy.rotateAt} ${policy.timeZone ?? 'UTC'}`;
}

function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}
