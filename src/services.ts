import type { AccessDecision } from './access/access-decision.ts';
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
import type { TokenService } from './identity/tokens.ts';
import type { UserService } from './identity/users.ts';
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
  readonly tokens: TokenService;
  readonly users: UserService;
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
}
