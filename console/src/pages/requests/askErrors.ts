import { ApiError } from '../../api.ts';

export type AskField = 'subject' | 'permissions' | 'duration' | 'reason' | 'ticket';

/** A problem with one field: what to do about it, and the server's code when it said so. */
export interface FieldProblem {
  readonly message: string;
  readonly code: string | null;
}

export type FieldProblems = Partial<Record<AskField, FieldProblem>>;

/** Which field each refusal of POST /v1/requests concerns (codes from src/errors.ts). */
const FIELD_OF: Readonly<Record<string, AskField>> = {
  TICKET_INVALID: 'ticket',
  TICKET_REQUIRED: 'ticket',
  TICKET_SYSTEM_UNAVAILABLE: 'ticket',
  DURATION_TOO_LONG: 'duration',
  REASON_REQUIRED: 'reason',
  NOT_FOUND: 'subject',
};

/** What the reader can do about it, before the server's own words. */
const ADVICE: Readonly<Record<string, string>> = {
  TICKET_INVALID: 'Tessera did not accept this ticket.',
  TICKET_REQUIRED: 'This policy needs a ticket reference.',
  TICKET_SYSTEM_UNAVAILABLE: 'The ticketing system did not answer; try again in a moment.',
  DURATION_TOO_LONG: 'That is longer than this policy allows.',
  REASON_REQUIRED: 'This policy needs a reason.',
  NOT_FOUND: 'No such account or safe that you may ask for.',
};

/** The field a server refusal belongs next to, or null when it concerns the whole form. */
export function fieldProblemOf(error: unknown): [AskField, FieldProblem] | null {
  if (!(error instanceof ApiError)) return null;
  const field = FIELD_OF[error.code];
  if (field === undefined) return null;
  const advice = ADVICE[error.code] ?? '';
  const said = error.message.charAt(0).toUpperCase() + error.message.slice(1);
  return [field, { message: `${advice} ${said}.`.trim(), code: error.code }];
}

export const FIELD_ORDER: readonly AskField[] = [
  'subject',
  'permissions',
  'duration',
  'reason',
  'ticket',
];
