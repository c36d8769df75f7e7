/**
 * Every failure a client can see has a stable code and an HTTP status, listed once here.
 * The code is the contract; the message is for people and never carries a secret.
 */
export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  VALIDATION_FAILED: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  /** A browser request without the session's CSRF token, or a WebSocket from another site. */
  CSRF_FAILED: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  CONFLICT: 409,
  ACCOUNT_CHECKED_OUT: 409,
  ACCOUNT_NOT_CHECKED_OUT: 409,
  ACCOUNT_ROTATION_PENDING: 409,
  ROTATION_IN_PROGRESS: 409,
  REASON_REQUIRED: 400,
  TICKET_REQUIRED: 400,
  TICKET_INVALID: 400,
  DURATION_TOO_LONG: 400,
  APPROVAL_REQUIRED: 403,
  OUTSIDE_ACCESS_WINDOW: 403,
  SELF_APPROVAL: 403,
  ALREADY_DECIDED: 409,
  REQUEST_NOT_PENDING: 409,
  MFA_REQUIRED: 401,
  MFA_INVALID: 401,
  /** A user registering their own SSH key sent no proof of holding its private key. */
  KEY_PROOF_REQUIRED: 400,
  /** The proof does not hold: another key, user or namespace, a bad signature, a used challenge. */
  KEY_PROOF_INVALID: 400,
  /** The challenge signed is past its expiry: ask for a new one. */
  KEY_PROOF_EXPIRED: 400,
  ALREADY_INITIALIZED: 409,
  NOT_INITIALIZED: 409,
  UNSEAL_SHARE_INVALID: 400,
  UNSEAL_SHARE_REPEATED: 409,
  UNSEAL_FAILED: 400,
  RATE_LIMITED: 429,
  VAULT_SEALED: 503,
  AUDIT_UNAVAILABLE: 503,
  RECORDING_UNAVAILABLE: 503,
  /** The recording is in the recordings folder of the node that ran the session, not here. */
  RECORDING_ELSEWHERE: 409,
  TARGET_UNREACHABLE: 502,
  ROTATION_FAILED: 502,
  DISCOVERY_FAILED: 502,
  EPHEMERAL_FAILED: 502,
  TICKET_SYSTEM_UNAVAILABLE: 502,
  NOT_SUPPORTED: 501,
  INTEGRITY_FAILURE: 500,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorDetails {
  readonly [key: string]: string | number | boolean | null;
}

export class TesseraError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails | undefined;

  constructor(code: ErrorCode, message: string, details?: ErrorDetails, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TesseraError';
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export function isTesseraError(error: unknown): error is TesseraError {
  return error instanceof TesseraError;
}

/** The "not found" for anything the caller may not see: it says nothing about existence. */
export function notFound(kind: string): TesseraError {
  return new TesseraError('NOT_FOUND', `${kind} not found`);
}
