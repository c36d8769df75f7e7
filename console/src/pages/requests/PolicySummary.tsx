import { ApiError } from '../../api.ts';
import { ErrorNotice } from '../../components/ErrorNotice.tsx';
import { Loading } from '../../components/Loading.tsx';
import type { AccessPolicy } from './types.ts';
import type { PolicyState } from './useAccessPolicy.ts';
import { durationWords, listOf } from './words.ts';

const SCOPE_WORDS: Readonly<Record<AccessPolicy['scope'], string>> = {
  account: 'this account’s own policy',
  safe: 'the policy of its safe',
  default: 'Tessera’s default policy',
};

/**
 * The access policy in force, in words: how many approvals and from whom, the longest grant,
 * whether a reason and a ticket are needed and in which format, and when access may be used.
 */
export function PolicySummary({ state }: { readonly state: PolicyState }) {
  return (
    <aside className="panel rq-policy" aria-labelledby="policy-title">
      <h2 id="policy-title">What this request needs</h2>
      <PolicyBody state={state} />
    </aside>
  );
}

function PolicyBody({ state }: { readonly state: PolicyState }) {
  switch (state.status) {
    case 'none':
      return (
        <p className="rq-muted">
          Choose an account or a safe: its access policy shows here before you send anything.
        </p>
      );
    case 'loading':
      return <Loading what="the access policy" />;
    case 'error':
      if (state.error instanceof ApiError && state.error.status === 404) {
        return (
          <p className="rq-muted">
            No policy to show: Tessera knows no such account or safe that you may ask for.
          </p>
        );
      }
      return <ErrorNotice doing="load the access policy" error={state.error} />;
    case 'ready':
      return <PolicyFacts policy={state.policy} />;
  }
}

function PolicyFacts({ policy: p }: { readonly policy: AccessPolicy }) {
  return (
    <>
      <p className="hint">From {SCOPE_WORDS[p.scope]}.</p>
      <dl className="rq-policy-facts">
        <dt>Approvals</dt>
        <dd data-policy="approvals">{approvalsWords(p)}</dd>
        <dt>Needed for</dt>
        <dd>
          {p.approvalFor.length === 0
            ? 'nothing: your standing permissions suffice, a request adds time-bound access'
            : listOf(p.approvalFor)}
        </dd>
        <dt>Longest</dt>
        <dd data-policy="max-duration">{durationWords(p.maxDurationS)}</dd>
        <dt>Reason</dt>
        <dd>{p.requireReason ? 'required' : 'optional'}</dd>
        <dt>Ticket</dt>
        <dd data-policy="ticket">
          {p.requireTicket ? 'required' : 'optional'}
          {p.ticketPattern !== null && (
            <>
              , matching <code>{p.ticketPattern}</code>
            </>
          )}
          {p.ticketValidatorUrl !== null && ', checked with the ticketing system'}
        </dd>
        {p.window !== null && (
          <>
            <dt>Usable</dt>
            <dd>
              {p.window.days.join(', ')}, {p.window.start} to {p.window.end} ({p.window.timeZone})
            </dd>
          </>
        )}
        <dt>Unanswered</dt>
        <dd>
          expires after {durationWords(p.requestTtlS)}
          {p.escalateAfterS !== null &&
            `; after ${durationWords(p.escalateAfterS)} it also goes to ` +
              (p.escalationGroup ?? 'a second group')}
        </dd>
      </dl>
    </>
  );
}

function approvalsWords(p: AccessPolicy): string {
  if (p.approvalsRequired === 0) return 'none: access opens as soon as you ask';
  const who =
    p.approverGroup === null ? 'with approve on the safe' : `in the group ${p.approverGroup}`;
  const count = p.approvalsRequired === 1 ? '1 approval' : `${p.approvalsRequired} approvals`;
  return `${count} by different people ${who}, never you`;
}
