import type { AccessRequest, Grant, GrantKind, Permission, RequestStatus } from './types.ts';

/** What each permission opens, said once so the form and the lists agree. */
export const PERMISSION_MEANING: Readonly<Record<Permission, string>> = {
  use: 'connect through the gateway without seeing the secret',
  retrieve: 'reveal the secret itself',
  checkout: 'check the account out, alone, until it is checked in',
};

export const STATUS_LABEL: Readonly<Record<RequestStatus, string>> = {
  pending: 'Waiting for approval',
  approved: 'Approved',
  denied: 'Denied',
  cancelled: 'Cancelled',
  expired: 'Expired unanswered',
};

export const KIND_LABEL: Readonly<Record<GrantKind, string>> = {
  request: 'Approved request',
  breakglass: 'Break-glass',
  ephemeral: 'Temporary account',
};

/** What a request is for, in words. */
export function subjectOf(
  r: Pick<AccessRequest, 'scope' | 'safe' | 'account' | 'target' | 'role'>,
) {
  if (r.scope === 'ephemeral') {
    return `a temporary ${r.role ?? ''} account on ${r.target ?? 'a target'}`;
  }
  if (r.scope === 'safe') return `the whole safe ${r.safe}`;
  return r.account ?? `an account in ${r.safe}`;
}

/**
 * What a grant opens. An ephemeral grant names the target's admin account, which it does not
 * open: its holder gets a fresh account of their own on that target.
 */
export function grantSubject(g: Pick<Grant, 'account' | 'kind' | 'safe'>): string {
  if (g.account === null) return `the whole safe ${g.safe}`;
  if (g.kind === 'ephemeral') return `a temporary account on ${g.account.split('/')[0]}`;
  return g.account;
}

/**
 * A subject as a title starts: "The whole safe prod", "A temporary account on db02". An
 * account's name stays as it is written.
 */
export function asTitle(subject: string): string {
  return /^(a|an|the) /.test(subject)
    ? subject.charAt(0).toUpperCase() + subject.slice(1)
    : subject;
}

export function approvalCount(r: AccessRequest): number {
  return r.approvals.filter((a) => a.decision === 'approve').length;
}

/** "use, retrieve" as a sentence lists them: "use and retrieve". */
export function listOf(words: readonly string[]): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}

/**
 * What an answer's refusal means for the approver, in plain words; the server's own message
 * follows it. The codes are src/errors.ts's.
 */
export const DECISION_ADVICE: Readonly<Record<string, string>> = {
  SELF_APPROVAL:
    'You cannot answer a request you made yourself, nor one made by another login of yours. ' +
    'Another approver must answer it.',
  ALREADY_DECIDED:
    'You have already answered this request. Each person counts once, whichever login they use.',
  REQUEST_NOT_PENDING:
    'The request is no longer waiting: it was answered, cancelled or expired meanwhile.',
  FORBIDDEN:
    'You may not answer this request: answering takes the approve permission on its safe and, ' +
    'where the policy names one, membership of its approver group.',
  NOT_FOUND: 'The request is gone, or it is not one you may see.',
};

const MINUTE_S = 60;
const HOUR_S = 3600;
const DAY_S = 86_400;

/** A duration in seconds as people say it: "30 min", "2 h", "1 h 30 min", "3 d". */
export function durationWords(seconds: number): string {
  const days = Math.floor(seconds / DAY_S);
  const hours = Math.floor((seconds % DAY_S) / HOUR_S);
  const minutes = Math.floor((seconds % HOUR_S) / MINUTE_S);
  const parts = [
    days > 0 ? `${days} d` : '',
    hours > 0 ? `${hours} h` : '',
    minutes > 0 ? `${minutes} min` : '',
  ].filter((part) => part !== '');
  return parts.length === 0 ? `${seconds} s` : parts.join(' ');
}

/**
 * Time left until `at`, to the second under an hour, so a countdown visibly moves: "1 h 05 min",
 * "4 min 09 s", "12 s".
 */
export function countdown(at: string, now: number): string {
  const s = Math.floor((Date.parse(at) - now) / 1000);
  if (s <= 0) return 'ended';
  if (s >= DAY_S) return `${Math.floor(s / DAY_S)} d ${Math.floor((s % DAY_S) / HOUR_S)} h`;
  const minutes = Math.floor((s % HOUR_S) / MINUTE_S);
  if (s >= HOUR_S) return `${Math.floor(s / HOUR_S)} h ${pad(minutes)} min`;
  if (s >= MINUTE_S) return `${minutes} min ${pad(s % MINUTE_S)} s`;
  return `${s} s`;
}

/** How long ago `at` was: "just now", "12 min", "3 h 10 min", "2 d 4 h". */
export function waited(at: string, now: number): string {
  const s = Math.max(0, Math.floor((now - Date.parse(at)) / 1000));
  if (s < MINUTE_S) return 'under a minute';
  if (s >= DAY_S) return `${Math.floor(s / DAY_S)} d ${Math.floor((s % DAY_S) / HOUR_S)} h`;
  return durationWords(s - (s % MINUTE_S));
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
