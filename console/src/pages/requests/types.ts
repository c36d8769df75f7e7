/**
 * The shapes of the /v1 replies the request screens read, as the server's response schemas in
 * src/http/routes/request-routes.ts, access-policy-routes.ts and ephemeral-routes.ts define
 * them. Only the fields these screens use are listed.
 */

export const PERMISSIONS = ['use', 'retrieve', 'checkout'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const REQUEST_STATUSES = ['pending', 'approved', 'denied', 'cancelled', 'expired'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

export type GrantKind = 'request' | 'breakglass' | 'ephemeral';

/** GET /v1/requests, GET /v1/requests/:id, and the reply of every answer to one. */
export interface AccessRequest {
  readonly id: string;
  readonly requester: string;
  readonly scope: 'account' | 'safe' | 'ephemeral';
  readonly safe: string;
  readonly account: string | null;
  readonly target: string | null;
  readonly role: string | null;
  readonly permissions: readonly Permission[];
  readonly durationS: number;
  readonly reason: string;
  readonly ticket: string | null;
  readonly status: RequestStatus;
  readonly approvalsRequired: number;
  readonly approvals: readonly Decision[];
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly escalatedAt: string | null;
  readonly decidedAt: string | null;
  readonly decidedBy: string | null;
  /** The reason of a denial. */
  readonly comment: string | null;
  readonly grantId: string | null;
}

export interface Decision {
  readonly approver: string;
  readonly decision: 'approve' | 'deny';
  readonly comment: string;
  readonly at: string;
}

/** GET /v1/grants, GET /v1/grants/:id, POST /v1/grants/:id/revoke */
export interface Grant {
  readonly id: string;
  readonly requestId: string | null;
  readonly user: string;
  readonly kind: GrantKind;
  readonly safe: string;
  readonly account: string | null;
  readonly permissions: readonly Permission[];
  readonly startsAt: string;
  readonly endsAt: string;
  readonly active: boolean;
  readonly remainingS: number;
  readonly revokedAt: string | null;
  readonly revokedBy: string | null;
  readonly revokeReason: string | null;
}

/** GET /v1/safes/:safe/access-policy and GET /v1/targets/:t/accounts/:u/access-policy */
export interface AccessPolicy {
  readonly scope: 'safe' | 'account' | 'default';
  readonly approvalFor: readonly Permission[];
  readonly approvalsRequired: number;
  readonly approverGroup: string | null;
  readonly escalateAfterS: number | null;
  readonly escalationGroup: string | null;
  readonly requestTtlS: number;
  readonly requireReason: boolean;
  readonly requireTicket: boolean;
  readonly ticketPattern: string | null;
  readonly ticketValidatorUrl: string | null;
  readonly maxDurationS: number;
  readonly window: {
    readonly days: readonly string[];
    readonly start: string;
    readonly end: string;
    readonly timeZone: string;
  } | null;
}

/** POST /v1/grants/:id/credential: an ephemeral account's login, given once. */
export interface EphemeralCredential {
  readonly username: string;
  readonly password: string;
  readonly host: string;
  readonly port: number;
  readonly database: string | null;
}

/** GET /v1/safes */
export interface Safe {
  readonly name: string;
  readonly description: string;
}

/** GET /v1/accounts (only what the form's suggestions need) */
export interface AccountRef {
  readonly id: string;
  readonly ref: string;
  readonly safe: string;
}

/** POST /v1/requests */
export interface NewRequest {
  readonly account?: string;
  readonly safe?: string;
  readonly permissions: readonly Permission[];
  readonly durationS: number;
  readonly reason: string;
  readonly ticket?: string;
}

/** The server's limits on what a request carries (request-routes.ts). */
export const LIMITS = {
  minDurationS: 60,
  maxDurationS: 30 * 86_400,
  reason: 500,
  ticket: 64,
  comment: 500,
} as const;
