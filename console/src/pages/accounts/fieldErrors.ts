import { ApiError } from '../../api.ts';

/** A failed submission, split into what belongs next to a field and what belongs to the form. */
export interface FormErrors {
  readonly fields: Readonly<Record<string, string>>;
  readonly form: ApiError | Error | null;
}

const FIELD_ISSUE = /^\/([A-Za-z]+): (.+)$/;

/**
 * The server names a wrong field in its validation message ("invalid body: /username: not . or
 * .."; src/http/error-boundary.ts): each such issue goes next to its field, and the rest of the
 * error, with its code, above the form's buttons.
 */
export function formErrorsOf(error: unknown, known: readonly string[]): FormErrors {
  if (!(error instanceof ApiError) || error.code !== 'VALIDATION_FAILED') {
    return { fields: {}, form: error instanceof Error ? error : new Error(String(error)) };
  }
  const body = error.message.replace(/^invalid [a-z]+: /, '');
  const fields: Record<string, string> = {};
  const rest: string[] = [];
  for (const issue of body.split('; ')) {
    const match = FIELD_ISSUE.exec(issue);
    const field = match?.[1];
    if (match !== null && field !== undefined && known.includes(field)) {
      fields[field] = match[2] ?? issue;
    } else {
      rest.push(issue);
    }
  }
  const form =
    rest.length === 0
      ? null
      : new ApiError(error.status, error.code, rest.join('; '), error.requestId);
  return { fields, form };
}
