/**
 * The replies of the Tessera API as the CLI reads them, after src/http/routes. Only the CLI's
 * view: the server's schemas stay the contract.
 */

export interface SealStatus {
  readonly initialized: boolean;
  readonly sealed: boolean;
  readonly threshold: number;
  readonly shares: number;
  readonly progress: number;
}

export interface InitReply {
  readonly shares: readonly string[];
  readonly threshold: number;
  readonly rootToken: string;
}

export interface User {
  readonly id: string;
  readonly name: string;
  readonly role: string;
  readonly disabled: boolean;
  readonly createdAt: string;
}

/** POST /v1/auth/login: `code` only for a user with a second factor. */
export interface LoginRequest {
  readonly user: string;
  readonly password: string;
  readonly code?: string;
}

export interface LoginReply {
  readonly token: string;
  readonly tokenId: string;
  readonly expiresAt: string | null;
  readonly user: User;
}

export interface Safe {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly createdAt: string;
}

export interface SafeMember {
  readonly user: string;
  readonly permissions: readonly string[];
  readonly addedAt: string;
  readonly addedBy: string;
}

export interface Target {
  readonly id: string;
  readonly name: string;
  readonly platform: string;
  readonly host: string;
  readonly port: number;
  readonly database: string | null;
  readonly createdAt: string;
}

export interface SecretRules {
  readonly length: number;
  readonly minLowercase: number;
  readonly minUppercase: number;
  readonly minDigits: number;
  readonly minSymbols: number;
  readonly symbols: string;
  readonly exclude: string;
}

export interface PolicySettings {
  readonly rotationIntervalS: number | null;
  readonly secret: SecretRules;
  readonly exclusiveCheckout: boolean;
  readonly rotateOnCheckin: boolean;
  readonly maxCheckoutS: number;
  readonly rotateAt: string | null;
  readonly timeZone: string | null;
  readonly jitterS: number;
  readonly maxPerTarget: number;
  readonly rotateOnCheckoutExpiry: boolean;
}

export interface Policy extends PolicySettings {
  readonly id: string;
  readonly name: string;
}

export interface Account {
  readonly id: string;
  readonly ref: string;
  readonly target: string;
  readonly username: string;
  readonly safe: string;
  readonly policy: string;
  readonly currentVersion: number | null;
  readonly secretType?: string;
  readonly reconcileAccountId?: string | null;
  readonly rotationFailures?: number;
  readonly state: string;
  readonly lastVerifiedAt: string | null;
  readonly lastVerifyResult: string | null;
  readonly lastRotatedAt: string | null;
  readonly lastRotationError: string | null;
  readonly nextRotationAt: string | null;
  readonly needsRotation: boolean;
  readonly rotating: boolean;
  readonly checkout: {
    readonly holder: string;
    readonly since: string;
    readonly expiresAt: string;
  } | null;
  readonly createdAt: string;
}

export interface SecretVersion {
  readonly version: number;
  readonly status: string;
  readonly origin: string;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly promotedAt: string | null;
}

export interface RevealReply {
  readonly value: string;
  readonly version: number;
}

export interface CheckoutReply extends RevealReply {
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

export interface AuditEvent {
  readonly seq: number;
  readonly id: string;
  readonly at: string;
  readonly actor: string | null;
  readonly action: string;
  readonly objectType: string | null;
  readonly object: string | null;
  readonly objectId: string | null;
  readonly outcome: string;
  readonly source: string | null;
  readonly reason: string | null;
  readonly requestId: string | null;
  readonly details: Readonly<Record<string, unknown>> | null;
  readonly hash: string;
}

export interface AuditPage {
  readonly events: readonly AuditEvent[];
  readonly next: number | null;
}

export interface ChainReport {
  readonly ok: boolean;
  readonly events: number;
  readonly checkpoints: number;
  readonly lastSeq: number;
  readonly lastCheckpoint: { readonly seq: number; readonly hash: string } | null;
  readonly unsigned: number;
  readonly firstBad: { readonly seq: number; readonly problem: string } | null;
}

export interface RotationRunStarted {
  readonly id: string;
  readonly total: number;
}

export interface RotationRun extends RotationRunStarted {
  readonly state: 'running' | 'finished' | 'failed';
  readonly scope: { readonly target?: string; readonly safe?: string; readonly all?: true };
  readonly startedBy: string;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly succeeded: number;
  readonly failed: number;
  readonly failures: readonly {
    readonly account: string;
    readonly error: string;
    readonly finishedAt: string | null;
  }[];
}

export interface AccountRotationStatus {
  readonly ref: string;
  readonly safe: string;
  readonly policy: string;
  readonly state: string;
  readonly health: 'ok' | 'due' | 'failing';
  readonly lastRotatedAt: string | null;
  readonly nextRotationAt: string | null;
  readonly lastAttemptAt: string | null;
  readonly lastError: string | null;
  readonly failures: number;
}

export interface RotationStatusReply {
  readonly accounts: readonly AccountRotationStatus[];
  readonly totals: {
    readonly accounts: number;
    readonly ok: number;
    readonly due: number;
    readonly failing: number;
    readonly neverRotated: number;
  };
}

export interface DiscoveryFinding {
  readonly target: string;
  readonly username: string;
  readonly reasons: readonly string[];
  readonly managed: boolean;
  readonly managedBy: string | null;
  readonly suggestedReconcileAccount: string | null;
  readonly firstSeenAt: string;
  readonly lastSeenAt: string;
  readonly goneAt: string | null;
}

export interface DiscoveryRun {
  readonly id: string;
  readonly target: string;
  readonly startedBy: string;
  readonly state: 'finished' | 'failed';
  readonly error: string | null;
  readonly found: number;
  readonly appeared: number;
  readonly disappeared: number;
  readonly startedAt: string;
  readonly finishedAt: string | null;
}

export interface DiscoverySummary {
  readonly run: DiscoveryRun;
  readonly scanner: string;
  readonly appeared: readonly DiscoveryFinding[];
  readonly disappeared: readonly string[];
  readonly unmanaged: number;
}

/** A session through the SSH gateway (src/http/routes/session-routes.ts). */
export interface GatewaySession {
  readonly id: string;
  readonly user: string;
  readonly account: string;
  readonly target: string;
  readonly kind: string;
  readonly command: string | null;
  readonly clientAddress: string | null;
  readonly width: number;
  readonly height: number;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly endReason: string | null;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly recorded: boolean;
  readonly recordingSha256: string | null;
  readonly droppedBytes: number;
  readonly state: string;
  /** The Tessera node whose gateway runs (or ran) the session. */
  readonly node: string;
  /** Running on the node that answered. */
  readonly here: boolean;
  /** Live, and can be watched through the node that answered: it runs it, or passes it on. */
  readonly watchable: boolean;
}

/** What a kill answers: killed by the node asked, or passed to the node that runs the session. */
export type SessionKill =
  | { readonly killed: true }
  | { readonly killed: false; readonly requested: true; readonly node: string };

export interface SessionCommand {
  readonly offsetMs: number;
  readonly at: string;
  readonly command: string;
}

export interface GatewaySessionDetail extends GatewaySession {
  readonly commands: readonly SessionCommand[];
}

export interface SessionCommandHit extends SessionCommand {
  readonly sessionId: string;
  readonly user: string;
  readonly target: string;
  readonly account: string;
}

/** A public key a user registered for the SSH gateway. */
export interface SshKey {
  readonly id: string;
  readonly fingerprint: string;
  readonly type: string;
  readonly publicKey: string;
  readonly comment: string;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
}

/** What to sign to prove one holds a key before registering it (ssh-keygen -Y sign). */
export interface SshKeyChallenge {
  readonly challenge: string;
  readonly namespace: string;
  readonly expiresAt: string;
}

/** A request for time-bound access (src/http/routes/request-routes.ts). */
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
  readonly approvals: readonly {
    readonly approver: string;
    readonly decision: 'approve' | 'deny';
    readonly comment: string;
    readonly at: string;
  }[];
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly escalatedAt: string | null;
  readonly decidedAt: string | null;
  readonly decidedBy: string | null;
  readonly comment: string | null;
  readonly grantId: string | null;
}

/** Time-bound access given by an approved request, a break-glass opening or an ephemeral one. */
export interface Grant {
  readonly id: string;
  readonly requestId: string | null;
  readonly user: string;
  readonly kind: 'request' | 'breakglass' | 'ephemeral';
  readonly safe: string;
  readonly account: string | null;
  readonly permissions: readonly string[];
  readonly startsAt: string;
  readonly endsAt: string;
  readonly active: boolean;
  readonly remainingS: number;
  readonly revokedAt: string | null;
  readonly revokedBy: string | null;
  readonly revokeReason: string | null;
}

export interface BreakglassEvent {
  readonly id: string;
  readonly grantId: string;
  readonly account: string;
  readonly user: string;
  readonly reason: string;
  readonly secondFactor: boolean;
  readonly openedAt: string;
  readonly endsAt: string;
  readonly closedAt: string | null;
  readonly rotationRequestedAt: string | null;
  readonly reviewState: 'open' | 'closed';
  readonly outcome: 'justified' | 'unjustified' | 'follow-up' | null;
  readonly reviewNotes: string | null;
  readonly reviewedBy: string | null;
  readonly reviewedAt: string | null;
  readonly sessions: number;
}

export interface BreakglassReport {
  readonly from: string | null;
  readonly to: string | null;
  readonly total: number;
  readonly unreviewed: number;
  readonly events: readonly BreakglassEvent[];
}

/** When a safe's or an account's secrets may be used: days, times and the zone they are in. */
export interface AccessWindow {
  readonly days: readonly string[];
  readonly start: string;
  readonly end: string;
  readonly timeZone: string;
}

/** The settings of an access policy, as `PUT .../access-policy` takes them. */
export interface AccessPolicySettings {
  readonly approvalFor: readonly string[];
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
  readonly window: AccessWindow | null;
  readonly breakglassWindowS: number;
  readonly ephemeralReveal: boolean;
}

/** The access policy in force, and where it was set: on the account, its safe, or nowhere. */
export interface AccessPolicy extends AccessPolicySettings {
  readonly scope: 'safe' | 'account' | 'default';
  readonly updatedAt: string | null;
  readonly updatedBy: string | null;
}

/** A group of users, for approver groups. */
export interface Group {
  readonly name: string;
  readonly description: string;
  readonly members: readonly string[];
  readonly createdAt: string;
}

/** A Tessera node on the store, as GET /v1/nodes lists it. */
export interface TesseraNode {
  readonly id: string;
  readonly address: string | null;
  readonly startedAt: string;
  readonly liveSessions: number;
  readonly here: boolean;
  readonly running: boolean | null;
}
