import { type FormEvent, type ReactNode, useEffect, useState } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { ErrorNotice } from '../../components/ErrorNotice.tsx';
import { useApi } from '../../session.tsx';
import { usePageTitle } from '../../usePageTitle.ts';
import { checkLocally, defaultPermissions, fitted, requestBody } from './askDraft.ts';
import {
  type AskField,
  FIELD_ORDER,
  type FieldProblem,
  type FieldProblems,
  fieldProblemOf,
} from './askErrors.ts';
import { DurationField, type DurationValue } from './DurationField.tsx';
import { fieldMessage } from './FieldMessage.tsx';
import type { CreatedState } from './MyRequests.tsx';
import { PermissionsField } from './PermissionsField.tsx';
import { PolicySummary } from './PolicySummary.tsx';
import { SubjectField, type SubjectKind } from './SubjectField.tsx';
import { type AccessPolicy, type AccessRequest, LIMITS, type Permission } from './types.ts';
import { type Subject, useAccessPolicy } from './useAccessPolicy.ts';

/**
 * Asks for time-bound access to an account or a safe. The access policy in force shows beside
 * the form as soon as the subject is known, and the fields say what it requires; a refusal from
 * the server shows next to the field it concerns. Opened from elsewhere with `?account=T/U` or
 * `?safe=S`, the subject is filled in.
 */
export function AskForm() {
  usePageTitle('Ask for access');
  const api = useApi();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [kind, setKind] = useState<SubjectKind>(params.has('safe') ? 'safe' : 'account');
  const [account, setAccount] = useState(params.get('account') ?? '');
  const [safe, setSafe] = useState(params.get('safe') ?? '');
  const subject: Subject = kind === 'account' ? { kind, ref: account } : { kind, name: safe };
  const policyState = useAccessPolicy(subject);
  const policy = policyState.status === 'ready' ? policyState.policy : null;

  const [chosen, setChosen] = useState<readonly Permission[] | null>(null);
  const permissions = chosen ?? defaultPermissions(policy);
  const [duration, setDuration] = useState<DurationValue>({
    preset: 3600,
    amount: '',
    unit: 'hours',
  });
  const [reason, setReason] = useState('');
  const [ticket, setTicket] = useState('');
  const [problems, setProblems] = useState<FieldProblems>({});
  const [formError, setFormError] = useState<unknown>(null);
  const [sending, setSending] = useState(false);

  // A preset longer than the new policy allows gives way to the longest one it does.
  const maxS = policy?.maxDurationS ?? null;
  useEffect(() => {
    if (maxS === null) return;
    setDuration((d) => (typeof d.preset === 'number' && d.preset > maxS ? fitted(d, maxS) : d));
  }, [maxS]);

  const change = (field: AskField) => {
    setProblems((before) => {
      if (before[field] === undefined) return before;
      const { [field]: _, ...rest } = before;
      return rest;
    });
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const found = checkLocally(
      { kind, account, safe, permissions, duration, reason, ticket },
      policy,
    );
    setProblems(found);
    setFormError(null);
    if (Object.keys(found).length > 0) {
      focusField(firstOf(found), kind, duration);
      return;
    }
    setSending(true);
    const body = requestBody({ kind, account, safe, permissions, duration, reason, ticket });
    api.send<AccessRequest>('POST', '/v1/requests', body).then(
      (created) => {
        const state: CreatedState = { created };
        void navigate('/requests', { state });
      },
      (error: unknown) => {
        setSending(false);
        const located = fieldProblemOf(error);
        if (located === null) {
          setFormError(error);
          return;
        }
        setProblems({ [located[0]]: located[1] });
        focusField(located[0], kind, duration);
      },
    );
  };

  const ticketHint = ticketHintOf(policy);
  return (
    <section aria-labelledby="ask-title" className="rq-ask">
      <h2 id="ask-title">Ask for access</h2>
      <div className="rq-ask-layout">
        <form className="panel rq-ask-form" onSubmit={submit} noValidate>
          <SubjectField
            kind={kind}
            account={account}
            safe={safe}
            onKind={(next) => {
              setKind(next);
              change('subject');
            }}
            onAccount={(next) => {
              setAccount(next);
              change('subject');
            }}
            onSafe={(next) => {
              setSafe(next);
              change('subject');
            }}
            error={fieldMessage(problems.subject ?? policyProblem(policyState))}
          />
          <PermissionsField
            value={permissions}
            needApproval={policy?.approvalFor ?? null}
            onChange={(next) => {
              setChosen(next);
              change('permissions');
            }}
            error={fieldMessage(problems.permissions)}
          />
          <DurationField
            value={duration}
            maxS={maxS}
            onChange={(next) => {
              setDuration(next);
              change('duration');
            }}
            error={fieldMessage(problems.duration)}
          />
          <TextField
            id="ask-reason"
            label={`Reason${policy?.requireReason === false ? ' (optional)' : ' (required)'}`}
            hint="Why you need it now; approvers and the audit trail read it."
            problem={problems.reason}
          >
            <textarea
              id="ask-reason"
              rows={3}
              maxLength={LIMITS.reason}
              value={reason}
              {...fieldAria('ask-reason', problems.reason)}
              onChange={(event) => {
                setReason(event.target.value);
                change('reason');
              }}
            />
          </TextField>
          <TextField
            id="ask-ticket"
            label={`Ticket${policy?.requireTicket === true ? ' (required)' : ' (optional)'}`}
            hint={ticketHint}
            problem={problems.ticket}
          >
            <input
              id="ask-ticket"
              autoComplete="off"
              spellCheck={false}
              maxLength={LIMITS.ticket}
              value={ticket}
              {...fieldAria('ask-ticket', problems.ticket)}
              onChange={(event) => {
                setTicket(event.target.value);
                change('ticket');
              }}
            />
          </TextField>
          {formError !== null && <ErrorNotice doing="send the request" error={formError} />}
          <div className="rq-form-actions">
            <button type="submit" disabled={sending}>
              {sending ? 'Sending…' : 'Send request'}
            </button>
            {policy !== null && (
              <p className="hint">
                {policy.approvalsRequired === 0
                  ? 'This policy opens access at once.'
                  : `Needs ${approvalsCount(policy.approvalsRequired)} before access opens.`}
              </p>
            )}
          </div>
        </form>
        <PolicySummary state={policyState} />
      </div>
    </section>
  );
}

function TextField({
  id,
  label,
  hint,
  problem,
  children,
}: {
  readonly id: string;
  readonly label: string;
  readonly hint: ReactNode;
  readonly problem: FieldProblem | undefined;
  readonly children: ReactNode;
}) {
  return (
    <div className="rq-field">
      <label htmlFor={id}>{label}</label>
      {children}
      {problem !== undefined && (
        <p id={`${id}-error`} className="rq-field-error" data-field={id}>
          {fieldMessage(problem)}
        </p>
      )}
      <p id={`${id}-hint`} className="hint">
        {hint}
      </p>
    </div>
  );
}

function fieldAria(id: string, problem: FieldProblem | undefined) {
  return {
    'aria-invalid': problem === undefined ? undefined : true,
    'aria-describedby': problem === undefined ? `${id}-hint` : `${id}-error ${id}-hint`,
  };
}

function ticketHintOf(policy: AccessPolicy | null): ReactNode {
  if (policy === null) return 'A reference in your ticketing system, such as INC-4411.';
  return (
    <>
      {policy.ticketPattern === null ? (
        'A reference in your ticketing system.'
      ) : (
        <>
          Format: the whole reference matches <code>{policy.ticketPattern}</code>.
        </>
      )}
      {policy.ticketValidatorUrl !== null && ' Tessera checks it with the ticketing system.'}
    </>
  );
}

/** A subject the server does not know, said at the field before anything is sent. */
function policyProblem(state: ReturnType<typeof useAccessPolicy>): FieldProblem | undefined {
  if (state.status !== 'error') return undefined;
  const located = fieldProblemOf(state.error);
  return located?.[0] === 'subject' ? located[1] : undefined;
}

function approvalsCount(n: number): string {
  return n === 1 ? '1 approval' : `${n} approvals`;
}

function firstOf(problems: FieldProblems): AskField {
  return FIELD_ORDER.find((field) => problems[field] !== undefined) ?? 'subject';
}

/** Moves focus to the field to fix, once React has shown its message. */
function focusField(field: AskField, kind: SubjectKind, duration: DurationValue): void {
  const ids: Record<AskField, string> = {
    subject: kind === 'account' ? 'ask-account' : 'ask-safe',
    permissions: 'ask-perm-use',
    duration: duration.preset === 'custom' ? 'ask-duration-amount' : 'ask-duration',
    reason: 'ask-reason',
    ticket: 'ask-ticket',
  };
  window.requestAnimationFrame(() => document.getElementById(ids[field])?.focus());
}
