import type { FieldProblem, FieldProblems } from './askErrors.ts';
import { type DurationValue, PRESETS_S, secondsOf } from './DurationField.tsx';
import type { SubjectKind } from './SubjectField.tsx';
import { type AccessPolicy, LIMITS, type NewRequest, type Permission } from './types.ts';
import { isAccountRef } from './useAccessPolicy.ts';
import { durationWords } from './words.ts';

/** What the ask form holds, as typed. */
export interface Draft {
  readonly kind: SubjectKind;
  readonly account: string;
  readonly safe: string;
  readonly permissions: readonly Permission[];
  readonly duration: DurationValue;
  readonly reason: string;
  readonly ticket: string;
}

/** What can be said before sending; the server checks everything again. */
export function checkLocally(draft: Draft, policy: AccessPolicy | null): FieldProblems {
  const found: FieldProblems = {};
  const local = (message: string): FieldProblem => ({ message, code: null });
  if (draft.kind === 'account' && !isAccountRef(draft.account.trim())) {
    found.subject = local('Name the account as target/username, for example db01/postgres.');
  }
  if (draft.kind === 'safe' && draft.safe === '') found.subject = local('Choose a safe.');
  if (draft.permissions.length === 0) {
    found.permissions = local('Choose at least one permission.');
  }
  const seconds = secondsOf(draft.duration);
  const max = policy?.maxDurationS ?? LIMITS.maxDurationS;
  if (seconds === null) found.duration = local('Type a length, such as 90 minutes.');
  else if (seconds < LIMITS.minDurationS) found.duration = local('A grant lasts 1 minute or more.');
  else if (seconds > max) found.duration = local(`At most ${durationWords(max)} here.`);
  if (policy?.requireReason !== false && draft.reason.trim() === '') {
    found.reason = local('Say why you need this access.');
  }
  if (policy?.requireTicket === true && draft.ticket.trim() === '') {
    found.ticket = local('This policy needs a ticket reference.');
  }
  return found;
}

/** The body of POST /v1/requests for what the form holds. */
export function requestBody(draft: Draft): NewRequest {
  const ticket = draft.ticket.trim();
  return {
    ...(draft.kind === 'account' ? { account: draft.account.trim() } : { safe: draft.safe }),
    permissions: draft.permissions,
    durationS: secondsOf(draft.duration) ?? 0,
    reason: draft.reason.trim(),
    ...(ticket === '' ? {} : { ticket }),
  };
}

/** Untouched, the permissions are those the policy puts behind approval, or `use`. */
export function defaultPermissions(policy: AccessPolicy | null): readonly Permission[] {
  return policy !== null && policy.approvalFor.length > 0 ? policy.approvalFor : ['use'];
}

/** A duration the policy allows: the longest preset within it, else its maximum typed in. */
export function fitted(d: DurationValue, maxS: number): DurationValue {
  const longest = [...PRESETS_S].reverse().find((s) => s <= maxS);
  if (longest !== undefined) return { ...d, preset: longest };
  return { preset: 'custom', amount: String(Math.floor(maxS / 60)), unit: 'minutes' };
}
