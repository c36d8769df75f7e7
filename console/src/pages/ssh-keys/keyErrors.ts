import { ApiError } from '../../api.ts';

/** A refusal in words, with the server's code when it was the server that said it. */
export interface FieldProblem {
  readonly message: string;
  readonly code: string | null;
}

/** Where each part of a refusal is said: next to the key, next to the signature, or above all. */
export interface AddProblems {
  readonly publicKey?: FieldProblem;
  readonly signature?: FieldProblem;
  /** What concerns no field: Tessera unreachable, the vault sealed, too many keys. */
  readonly form?: unknown;
}

export const NO_PROBLEMS: AddProblems = {};

/** The proof's refusals (src/gateway/key-proof.ts, user-keys.ts): the signature is at fault. */
const PROOF_CODES: readonly string[] = [
  'KEY_PROOF_REQUIRED',
  'KEY_PROOF_INVALID',
  'KEY_PROOF_EXPIRED',
];
const BODY_ISSUE = /^\/([A-Za-z]+): (.+)$/;

/**
 * Sorts an API refusal of a challenge or a registration by the field it concerns, keeping the
 * server's own message. A VALIDATION_FAILED that names no field comes from reading the key line
 * (src/gateway/user-keys.ts), so it belongs to the key; the challenge is part of the proof, so a
 * complaint about it goes with the signature.
 */
export function problemsOf(error: unknown): AddProblems {
  if (!(error instanceof ApiError)) return { form: error };
  if (PROOF_CODES.includes(error.code)) return { signature: said(error.message, error) };
  if (error.code === 'ALREADY_EXISTS') return { publicKey: said(error.message, error) };
  if (error.code !== 'VALIDATION_FAILED') return { form: error };
  if (!error.message.startsWith('invalid body: ')) return { publicKey: said(error.message, error) };

  const key: string[] = [];
  const signature: string[] = [];
  const rest: string[] = [];
  for (const issue of error.message.slice('invalid body: '.length).split('; ')) {
    const [, field, message = issue] = BODY_ISSUE.exec(issue) ?? [];
    if (field === 'publicKey') key.push(message);
    else if (field === 'signature' || field === 'challenge') signature.push(`${field}: ${message}`);
    else rest.push(issue);
  }
  return {
    ...(key.length === 0 ? {} : { publicKey: said(key.join('; '), error) }),
    ...(signature.length === 0 ? {} : { signature: said(signature.join('; '), error) }),
    ...(rest.length === 0
      ? {}
      : { form: new ApiError(error.status, error.code, rest.join('; '), error.requestId) }),
  };
}

/** A problem the console finds itself, before anything is sent. */
export function ownProblem(message: string): FieldProblem {
  return { message, code: null };
}

function said(message: string, error: ApiError): FieldProblem {
  return { message, code: error.code };
}
