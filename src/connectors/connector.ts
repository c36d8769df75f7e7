/**
 * The contract every platform connector follows. A connector talks to one kind of target
 * (PostgreSQL, MariaDB, Linux over SSH, LDAP) and knows nothing of the vault, the audit trail
 * or the rotation engine: it is handed the values it needs for one call and returns a verdict.
 *
 * Connectors never put a secret into an error message, a log line or a child process argument.
 */

/** Where a target lives, as stored on its row; platform-specific settings sit in `options`. */
export interface TargetAddress {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly database?: string | undefined;
  readonly options: Readonly<Record<string, string>>;
}

/** A login on a target: the account's user name and the secret value to use. */
export interface Credential {
  readonly username: string;
  readonly secret: string;
}

export interface ChangeRequest {
  /** The account whose secret changes. */
  readonly account: string;
  /** The value to set. Managed secrets are applied byte for byte, never normalised. */
  readonly newSecret: string;
  /** Who logs in to make the change: the account itself, or a reconcile account. */
  readonly logon: Credential;
}

/**
 * How a change ended. `rejected` means the target definitely refused this value (a password rule):
 * the candidate is discarded and a new one generated. `not-sent` means the change never reached
 * the target (no connection, the logon was refused): another value would fare no better.
 * `unknown` means the outcome is ambiguous (timeout, dropped connection after the statement was
 * sent): the caller settles it by trying to log in with both values.
 */
export type ChangeOutcome =
  | { readonly kind: 'applied' }
  | { readonly kind: 'rejected'; readonly reason: string }
  | { readonly kind: 'not-sent'; readonly reason: string }
  | { readonly kind: 'unknown'; readonly reason: string };

export type VerifyOutcome =
  | { readonly kind: 'valid' }
  | { readonly kind: 'invalid'; readonly reason: string }
  | { readonly kind: 'unreachable'; readonly reason: string };

/** Rules a platform imposes on generated secrets, merged into the policy by the generator. */
export interface PlatformSecretRules {
  readonly maxLength: number;
  /** Characters the platform cannot take; never generated for it. */
  readonly forbiddenCharacters: string;
}

export interface Connector {
  readonly platform: string;
  readonly secretRules: PlatformSecretRules;
  /** Logs in with the credential and reports whether it works. Never throws for a bad secret. */
  verify(target: TargetAddress, credential: Credential): Promise<VerifyOutcome>;
  /** Sets the account's secret on the target. */
  change(target: TargetAddress, request: ChangeRequest): Promise<ChangeOutcome>;
}

/** Timeouts for every network step of a connector, in milliseconds. */
export const CONNECT_TIMEOUT_MS = 5_000;
export const STATEMENT_TIMEOUT_MS = 10_000;
