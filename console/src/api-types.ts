/**
 * The shapes of the /v1 replies the console reads, as the server's response schemas define
 * them (src/http/routes/*.ts). Only the fields a screen uses are listed.
 */

export type Role = 'admin' | 'auditor' | 'user';

/** GET/POST /v1/auth/session */
export interface SessionReply {
  readonly user: { readonly name: string; readonly role: Role };
  readonly csrfToken: string;
  readonly expiresAt: string | null;
}

/** GET /v1/requests */
export interface AccessRequest {
  readonly id: string;
  readonly requester: string;
  readonly scope: 'account' | 'safe' | 'ephemeral';
  readonly safe: string;
  readonly account: string | null;
  readonly target: string | null;
  readonly role: string | null;
  readonly permissions: readonly string[];
  readonly durationS: number;
  readonly reason: string;
  readonly ticket: string | null;
  readonly status: 'pending' | 'approved' | 'denied' | 'cancelled' | 'expired';
  readonly approvalsRequired: number;
  readonly approvals: readonly { readonly approver: string; readonly decision: string }[];
  readonly createdAt: string;
  readonly expiresAt: string;
}

/** GET /v1/grants */
export interface Grant {
  readonly id: string;
  readonly user: string;
  readonly kind: 'request' | 'breakglass' | 'ephemeral';
  readonly safe: string;
  readonly account: string | null;
  readonly permissions: readonly string[];
  readonly endsAt: string;
  readonly active: boolean;
}

/** GET /v1/accounts */
export interface Account {
  readonly id: string;
  readonly ref: string;
  readonly target: string;
  readonly username: string;
  readonly safe: string;
  readonly state: string;
  readonly checkout: {
    readonly holder: string;
    readonly since: string;
    readonly expiresAt: string;
  } | null;
}

export type RotationHealth = 'ok' | 'due' | 'failing';

/** GET /v1/rotation/status */
export interface RotationStatus {
  readonly accounts: readonly {
    readonly ref: string;
    readonly safe: string;
    readonly health: RotationHealth;
    readonly lastError: string | null;
    readonly failures: number;
    readonly lastAttemptAt: string | null;
  }[];
  readonly totals: {
    readonly accounts: number;
    readonly ok: number;
    readonly due: number;
    readonly failing: number;
    readonly neverRotated: number;
  };
}

/** GET /v1/sessions */
export interface SessionSummary {
  readonly id: string;
  readonly user: string;
  readonly account: string;
  readonly target: string;
  readonly startedAt: string;
  readonly state: string;
}

/** GET /v1/users/me/ssh-keys: a public key the user registered for the SSH gateway. */
export interface SshKey {
  readonly id: string;
  readonly fingerprint: string;
  readonly type: string;
  readonly publicKey: string;
  readonly comment: string;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
}

/** POST /v1/users/me/ssh-keys/challenge: the text to sign with `ssh-keygen -Y sign`. */
export interface SshKeyChallenge {
  readonly challenge: string;
  readonly namespace: string;
  readonly expiresAt: string;
}
