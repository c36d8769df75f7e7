/**
 * The administration API's replies and bodies, as the route files in src/http/routes/ declare
 * them (identity, safe, target, policy, session and access-policy routes).
 */
import type { Role } from '../../api-types.ts';

export const ROLES: readonly Role[] = ['user', 'auditor', 'admin'];

/** src/access/permissions.ts: what a safe member may do there. */
export const SAFE_PERMISSIONS = [
  'list',
  'use',
  'retrieve',
  'checkout',
  'manage',
  'approve',
] as const;
export type SafePermission = (typeof SAFE_PERMISSIONS)[number];

/** The permissions an access policy can put behind an approval. */
export const GRANTABLE_PERMISSIONS = ['use', 'retrieve', 'checkout'] as const;
export type GrantablePermission = (typeof GRANTABLE_PERMISSIONS)[number];

/** src/access/access-window.ts */
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** src/connectors/platforms.ts, with the port each usually listens on. */
export const PLATFORMS = [
  { name: 'postgresql', label: 'PostgreSQL', port: 5432, database: true },
  { name: 'mariadb', label: 'MariaDB / MySQL', port: 3306, database: false },
  { name: 'ldap', label: 'LDAP directory', port: 636, database: false },
  { name: 'linux', label: 'Linux over SSH', port: 22, database: false },
] as const;

/** GET /v1/users */
export interface User {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly disabled: boolean;
  readonly createdAt: string;
}

/** GET /v1/safes */
export interface Safe {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly createdAt: string;
}

/** PUT /v1/safes/:safe/members/:user */
export interface Member {
  readonly user: string;
  readonly permissions: readonly SafePermission[];
  readonly addedAt: string;
  readonly addedBy: string;
}

/** GET /v1/safes/:safe */
export interface SafeDetail extends Safe {
  readonly members: readonly Member[];
}

/** GET /v1/targets: options as the platform lets the API show them. */
export interface Target {
  readonly id: string;
  readonly name: string;
  readonly platform: string;
  readonly host: string;
  readonly port: number;
  readonly database: string | null;
  readonly options: Readonly<Record<string, string | number | boolean | null>>;
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

/** PUT /v1/policies/:policy takes every field but id and name; left out means default. */
export interface RotationPolicySettings {
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

/** GET /v1/policies */
export interface RotationPolicy extends RotationPolicySettings {
  readonly id: string;
  readonly name: string;
}

/** GET/PUT /v1/policies/:policy/session */
export interface SessionPolicy {
  readonly recordInput: boolean;
  readonly recordingRequired: boolean;
  readonly allowSftp: boolean;
  readonly allowPortForwarding: boolean;
  readonly allowAgentForwarding: boolean;
  readonly allowX11: boolean;
  readonly idleTimeoutS: number | null;
  readonly maxSessionS: number | null;
  readonly endOnRecordingDrop: boolean;
  readonly holdForRecording: boolean;
}

/** GET /v1/groups */
export interface Group {
  readonly name: string;
  readonly description: string;
  readonly members: readonly string[];
  readonly createdAt: string;
}

export interface AccessWindow {
  readonly days: readonly Weekday[];
  readonly start: string;
  readonly end: string;
  readonly timeZone: string;
}

/** PUT /v1/safes/:safe/access-policy; a field left out takes its default. */
export interface AccessPolicySettings {
  readonly approvalFor: readonly GrantablePermission[];
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

/** GET /v1/safes/:safe/access-policy: the policy in force, and where it comes from. */
export interface AccessPolicy extends AccessPolicySettings {
  readonly scope: 'safe' | 'account' | 'default';
  readonly updatedAt: string | null;
  readonly updatedBy: string | null;
}

/** GET /v1/rotation/activity */
export interface RotationActivity {
  readonly days: readonly {
    readonly day: string;
    readonly rotated: number;
    readonly failed: number;
  }[];
}
