/**
 * The contract every platform connector follows. A connector talks to one kind of target
 * (PostgreSQL, MariaDB, Linux over SSH, LDAP) and knows nothing of the vault, the audit trail
 * or the rotation engine: it is handed the values it needs for one call and returns a verdict.
 * A new platform is one new file that exports a `Connector`, plus one line in `platforms.ts`.
 *
 * Connectors never put a secret into an error message, a log line or a child process argument.
 */
import type { z } from 'zod';

/** A value in a target's options: what the platform's own option schema produced. */
export type TargetOptionValue = string | number | boolean | readonly string[];
export type TargetOptions = Readonly<Record<string, TargetOptionValue>>;

/** Where a target lives, as stored on its row; platform-specific settings sit in `options`. */
export interface TargetAddress {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly database?: string | undefined;
  readonly options: TargetOptions;
}

/**
 * What an account's secret is. A `password` is text typed at a login prompt; an `ssh-key` is an
 * unencrypted private key in OpenSSH format, whose public half sits in `authorized_keys`.
 */
export const SECRET_KINDS = ['password', 'ssh-key'] as const;
export type SecretKind = (typeof SECRET_KINDS)[number];

/** A login on a target: the account's user name and the secret value to use. */
export interface Credential {
  readonly username: string;
  readonly secret: string;
  /** `password` when left out. */
  readonly kind?: SecretKind | undefined;
}

export interface ChangeRequest {
  /** The account whose secret changes, as the account names it on the target. */
  readonly account: string;
  readonly secretKind: SecretKind;
  /** The value to set. Managed secrets are applied byte for byte, never normalised. */
  readonly newSecret: string;
  /** The value the account holds now; null when unknown (a reconcile of a lost secret). */
  readonly currentSecret: string | null;
  /**
   * `self`: the account logs in with its current secret and changes it (`logon` is the account).
   * `reconcile`: a privileged reconcile account logs in and sets the value (`logon` is that one).
   */
  readonly via: 'self' | 'reconcile';
  readonly logon: Credential;
}

/**
 * After a new SSH key has been verified and promoted, the keys the vault held before it are
 * removed, as is any other key Tessera placed for the account; keys Tessera never knew stay.
 */
export interface RetireRequest {
  readonly account: string;
  /** The private key that stays; its public half is kept in `authorized_keys`. */
  readonly keep: string;
  /** Private keys the vault held before `keep` (the onboarded one among them): removed. */
  readonly superseded: readonly string[];
  readonly via: 'self' | 'reconcile';
  readonly logon: Credential;
}

/**
 * How a change ended. `rejected` means the target definitely refused this value (a password rule):
 * the candidate is discarded and a new one generated. `not-sent` means the change never reached
 * the target (no connection, the logon was refused): another value would fare no better.
 * `unknown` means the outcome is ambiguous (timeout, dropped connection after the statement was
 * sent): the caller settles it by trying to log in with both values. `partial` means the target
 * holds the account more than once (MariaDB's `user@host` rows) and only some took the value:
 * no single login can settle that, so the value is kept apart and the rotation fails.
 */
export type ChangeOutcome =
  | { readonly kind: 'applied' }
  | { readonly kind: 'partial'; readonly reason: string }
  | { readonly kind: 'rejected'; readonly reason: string }
  | { readonly kind: 'not-sent'; readonly reason: string }
  | { readonly kind: 'unknown'; readonly reason: string };

export type VerifyOutcome =
  | { readonly kind: 'valid' }
  | { readonly kind: 'invalid'; readonly reason: string }
  | { readonly kind: 'unreachable'; readonly reason: string };

/** A privileged account found on a target by a scan. */
export interface DiscoveredAccount {
  /** The name an account onboarded for it would carry (MariaDB: `user@host`). */
  readonly username: string;
  /** Why it is privileged, each in a few words: `uid 0`, `member of sudo`, `SUPERUSER`. */
  readonly reasons: readonly string[];
}

export type DiscoveryOutcome =
  | { readonly kind: 'found'; readonly accounts: readonly DiscoveredAccount[] }
  | { readonly kind: 'failed'; readonly reason: string };

/** Rules a platform imposes on generated secrets, merged into the policy by the generator. */
export interface PlatformSecretRules {
  readonly maxLength: number;
  /** Characters the platform cannot take; never generated for it. */
  readonly forbiddenCharacters: string;
}

export interface Connector {
  readonly platform: string;
  readonly secretRules: PlatformSecretRules;
  /** The kinds of secret the platform rotates; `password` at least. */
  readonly secretKinds: readonly SecretKind[];
  /**
   * The platform's target options, strict: an unknown option is refused. Checked when a target
   * is added or changed; the connector later receives what it produced.
   */
  readonly options: z.ZodType<TargetOptions>;
  /** The options as the API may show them: never a certificate or other bulky or secret text. */
  viewOptions(options: TargetOptions): Readonly<Record<string, string | number | boolean | null>>;
  /**
   * Whether two account names may reach the same login on the target (MariaDB `app` and
   * `app@%`; an LDAP DN written two ways). Tessera keeps one account per login, and never lets
   * an account be its own reconcile account under another name. Exact equality when left out.
   */
  sameAccount?(target: TargetAddress, a: string, b: string): boolean;
  /** Why a name can never be an account on this platform (checked at onboarding), or null. */
  checkUsername?(username: string): string | null;
  /** Logs in with the credential and reports whether it works. Never throws for a bad secret. */
  verify(target: TargetAddress, credential: Credential): Promise<VerifyOutcome>;
  /** Sets the account's secret on the target. */
  change(target: TargetAddress, request: ChangeRequest): Promise<ChangeOutcome>;
  /** Removes superseded Tessera-placed keys; only for platforms that rotate `ssh-key`. */
  retire?(target: TargetAddress, request: RetireRequest): Promise<ChangeOutcome>;
  /** Lists the target's privileged accounts, logged in as the scanning account. */
  discover(target: TargetAddress, scanner: Credential): Promise<DiscoveryOutcome>;
  /**
   * For platforms reached over SSH: connects once and returns the server's host key as an
   * OpenSSH public key line, so that it can be pinned on the target when the target is added.
   */
  fetchHostKey?(target: TargetAddress): Promise<string>;
  /** Accounts made for one grant and dropped when it ends; left out where the platform cannot. */
  readonly ephemeral?: EphemeralSupport;
}

/** An account made for one grant: a generated name and password, and one existing role. */
export interface EphemeralAccountSpec {
  readonly username: string;
  readonly password: string;
  /** The role (group) whose rights the account receives; it must exist on the target. */
  readonly role: string;
  /** The grant's end: where the platform can, the target itself refuses logins after it. */
  readonly validUntil: Date;
}

export type EphemeralOutcome =
  | { readonly kind: 'done' }
  | { readonly kind: 'failed'; readonly reason: string };

export type EphemeralPresence =
  | { readonly kind: 'present' }
  | { readonly kind: 'absent' }
  | { readonly kind: 'failed'; readonly reason: string };

/**
 * Zero standing privilege on a platform. `login` is the target's ephemeral admin account (each
 * platform names the rights it needs). Failures are verdicts with a reason that never quotes a
 * secret; a `failed` create may have left part of the account behind, so the caller drops it.
 */
export interface EphemeralSupport {
  /** Why a role name can never be granted on this platform (checked when configured), or null. */
  checkRole(role: string): string | null;
  create(
    target: TargetAddress,
    login: Credential,
    account: EphemeralAccountSpec,
  ): Promise<EphemeralOutcome>;
  /**
   * Ends every live session of the account, then drops it. An account that does not exist is
   * success, so a drop can be repeated after a crash or for an account never created.
   */
  drop(target: TargetAddress, login: Credential, username: string): Promise<EphemeralOutcome>;
  exists(target: TargetAddress, login: Credential, username: string): Promise<EphemeralPresence>;
}

/** Timeouts for every network step of a connector, in milliseconds. */
export const CONNECT_TIMEOUT_MS = 5_000;
export const STATEMENT_TIMEOUT_MS = 10_000;
