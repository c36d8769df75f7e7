/**
 * The /v1 replies the accounts screens read, as the server's response schemas define them
 * (src/http/routes/account-routes.ts, safe-routes.ts, policy-routes.ts, target-routes.ts,
 * access-policy-routes.ts, request-routes.ts). Only the fields these screens use are listed.
 */

export type AccountState = 'unverified' | 'ok' | 'verify_failed' | 'rotation_failed';
export type SecretType = 'password' | 'ssh-key';
export type SafePermission = 'list' | 'use' | 'retrieve' | 'checkout' | 'manage' | 'approve';
/** The permissions an access policy can put behind an approval. */
export type GrantablePermission = 'use' | 'retrieve' | 'checkout';

export interface Checkout {
  readonly holder: string;
  readonly since: string;
  readonly expiresAt: string;
}

/** GET /v1/accounts, GET /v1/targets/:target/accounts/:username */
export interface AccountView {
  readonly id: string;
  readonly ref: string;
  readonly target: string;
  readonly username: string;
  readonly safe: string;
  readonly policy: string;
  readonly currentVersion: number | null;
  readonly secretType: SecretType;
  readonly reconcileAccountId: string | null;
  /** One of AccountState; typed loosely so a state added later still shows. */
  readonly state: string;
  readonly lastVerifiedAt: string | null;
  readonly lastVerifyResult: string | null;
  readonly lastRotatedAt: string | null;
  readonly lastRotationError: string | null;
  readonly nextRotationAt: string | null;
  readonly rotationFailures: number;
  readonly needsRotation: boolean;
  readonly rotating: boolean;
  readonly checkout: Checkout | null;
  readonly createdAt: string;
}

/** GET .../versions: the history of the secret, never its values. */
export interface SecretVersion {
  readonly version: number;
  readonly status: string;
  readonly origin: string;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly promotedAt: string | null;
}

/** GET /v1/safes */
export interface Safe {
  readonly id: string;
  readonly name: string;
  readonly description: string;
}

/** GET /v1/safes/:safe */
export interface SafeDetail extends Safe {
  readonly members: readonly {
    readonly user: string;
    readonly permissions: readonly SafePermission[];
  }[];
}

/** GET /v1/targets, GET /v1/targets/:target */
export interface Target {
  readonly name: string;
  readonly platform: string;
  readonly host: string;
  readonly port: number;
}

/** GET /v1/policies, GET /v1/policies/:policy */
export interface Policy {
  readonly name: string;
  readonly rotationIntervalS: number | null;
  readonly secret: {
    readonly length: number;
    readonly minLowercase: number;
    readonly minUppercase: number;
    readonly minDigits: number;
    readonly minSymbols: number;
  };
  readonly exclusiveCheckout: boolean;
  readonly rotateOnCheckin: boolean;
  readonly maxCheckoutS: number;
  readonly rotateAt: string | null;
  readonly timeZone: string | null;
  readonly rotateOnCheckoutExpiry: boolean;
}

/** GET .../access-policy: the access policy in force for an account. */
export interface AccessPolicy {
  readonly scope: 'safe' | 'account' | 'default';
  readonly approvalFor: readonly GrantablePermission[];
  readonly approvalsRequired: number;
  readonly approverGroup: string | null;
  readonly requireReason: boolean;
  readonly requireTicket: boolean;
  readonly maxDurationS: number;
  readonly window: {
    readonly days: readonly string[];
    readonly start: string;
    readonly end: string;
    readonly timeZone: string;
  } | null;
  readonly updatedAt: string | null;
  readonly updatedBy: string | null;
}

/** GET /v1/grants */
export interface GrantView {
  readonly safe: string;
  /** The account's ref, or null for the whole safe. */
  readonly account: string | null;
  readonly permissions: readonly GrantablePermission[];
  readonly endsAt: string;
  readonly active: boolean;
}

/** POST .../reveal; POST .../checkout adds the check-out's fields. */
export interface RevealedSecret {
  readonly value: string;
  readonly version: number;
}

export interface CheckoutReply extends RevealedSecret {
  readonly checkoutId: string | null;
  readonly expiresAt: string;
  readonly exclusive: boolean;
}

export interface CheckinReply {
  readonly rotated: boolean;
  readonly rotationError: string | null;
}

export interface VerifyReply {
  readonly valid: boolean;
  readonly detail: string;
}

export interface RotateReply {
  readonly version: number;
  readonly attempts: number;
}
