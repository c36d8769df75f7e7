import type { AccessDecision } from './access/access-decision.ts';
import type { AccessPolicyService } from './access/access-policies.ts';
import type { BreakglassService } from './access/breakglass.ts';
import type { EphemeralService } from './access/ephemeral.ts';
import type { AccessTicker } from './access/grant-endings.ts';
import type { GrantService } from './access/grants.ts';
import type { GroupService } from './access/groups.ts';
import type { RequestService } from './access/requests.ts';
import type { SafeService } from './access/safes.ts';
import type { AccountService } from './accounts/account-service.ts';
import type { CheckoutService } from './accounts/checkout-service.ts';
import type { PolicyService } from './accounts/policies.ts';
import type { SecretVersions } from './accounts/secret-versions.ts';
import type { TargetService } from './accounts/targets.ts';
import type { AuditLog } from './audit/audit-log.ts';
import type { AuditReader } from './audit/audit-reader.ts';
import type { Checkpointer } from './audit/checkpointer.ts';
import type { Clock } from './clock.ts';
import type { DiscoveryService } from './discovery/discovery-service.ts';
import type { GatewayServices } from './gateway/gateway.ts';
import type { MfaService } from './identity/mfa.ts';
import type { TokenService } from './identity/tokens.ts';
import type { UserService } from './identity/users.ts';
import type { Notifier } from './integrations/notifier.ts';
import type { WebhookDispatcher, WebhookService } from './integrations/webhooks.ts';
import type { RotationEngine } from './rotation/rotation-engine.ts';
import type { RotationRuns } from './rotation/rotation-runs.ts';
import type { RotationSlots } from './rotation/rotation-slots.ts';
import type { RotationStatus } from './rotation/rotation-status.ts';
import type { Store } from './store/store.ts';
import type { Keyring } from './vault/keyring.ts';
import type { OperatorService } from './vault/operator-service.ts';

/** Everything the composition root builds; the HTTP layer takes what each route needs. */
export interface Services {
  readonly store: Store;
  readonly clock: Clock;
  readonly keyring: Keyring;
  readonly checkpointer: Checkpointer;
  readonly operator: OperatorService;
  readonly audit: AuditLog;
  readonly auditReader: AuditReader;
  readonly access: AccessDecision;
  /** Just-in-time access: groups and person links, policies, requests, grants, break-glass. */
  readonly groups: GroupService;
  readonly accessPolicies: AccessPolicyService;
  readonly requests: RequestService;
  readonly grants: GrantService;
  readonly breakglass: BreakglassService;
  readonly accessTicker: AccessTicker;
  /** Zero standing privilege: accounts made on targets for ephemeral grants, and their reaper. */
  readonly ephemeral: EphemeralService;
  readonly tokens: TokenService;
  readonly users: UserService;
  /** Users' TOTP second factors, checked by services that ask for step-up. */
  readonly mfa: MfaService;
  readonly safes: SafeService;
  readonly policies: PolicyService;
  readonly targets: TargetService;
  readonly accounts: AccountService;
  readonly checkout: CheckoutService;
  readonly rotation: RotationEngine;
  /** The node's rotation concurrency, shared by the scheduler and bulk runs. */
  readonly rotationSlots: RotationSlots;
  readonly rotationRuns: RotationRuns;
  readonly rotationStatus: RotationStatus;
  readonly discovery: DiscoveryService;
  /** Encrypted secret versions, read by the SSH gateway to log in to a target. */
  readonly versions: SecretVersions;
  /** SSH keys, session policies, sessions and the live ones, recordings. */
  readonly gateway: GatewayServices;
  /** Outgoing webhooks: their configuration and deliveries. */
  readonly webhooks: WebhookService;
  /** Tells approvers and the SOC, through the webhooks; the domains call only this. */
  readonly notifier: Notifier;
  /** Sends queued webhook deliveries; started and stopped by the server. */
  readonly webhookDispatcher: WebhookDispatcher;
}
