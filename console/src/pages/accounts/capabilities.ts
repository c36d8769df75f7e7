import type { SignedInUser } from '../../session.tsx';
import type {
  AccessPolicy,
  AccountView,
  GrantablePermission,
  GrantView,
  SafePermission,
} from './types.ts';

/** Allowed; allowed once a request is approved; or not at all. */
export type Ability = 'yes' | 'ask' | 'no';

export interface Capabilities {
  readonly reveal: Ability;
  readonly checkout: Ability;
  readonly connect: Ability;
  readonly verify: Ability;
  readonly rotate: boolean;
  /** Whether the current check-out, if any, may be ended by this user. */
  readonly checkin: boolean;
}

export interface CapabilityInputs {
  readonly user: SignedInUser;
  readonly account: AccountView;
  /** The user's permissions as a member of the account's safe. */
  readonly held: readonly SafePermission[];
  /** The user's active grants. */
  readonly grants: readonly GrantView[];
  /** The access policy in force, or null when it could not be read (approvals unknown). */
  readonly accessPolicy: AccessPolicy | null;
}

/**
 * What to offer on an account's page, worked out as the server's rules do (src/access/rules.ts
 * and the access decision): a role, a safe permission, and for the secret's uses the access
 * policy and the grants. Only a guide for which buttons to show: the server decides every call,
 * and the page says what it answered.
 */
export function capabilitiesOf(inputs: CapabilityInputs): Capabilities {
  const { user, account, held } = inputs;
  const auditor = user.role === 'auditor';
  const admin = user.role === 'admin';
  const manages = !auditor && held.includes('manage');
  const gated = (permission: GrantablePermission) => gatedAbility(inputs, permission);

  const holder = account.checkout?.holder;
  const ownCheckout = holder === user.name;
  return {
    reveal: gated('retrieve'),
    checkout: gated('checkout'),
    connect: gated('use'),
    verify: admin || manages ? 'yes' : gated('use'),
    rotate: admin || manages,
    checkin: holder !== undefined && !auditor && (ownCheckout || admin || manages),
  };
}

function gatedAbility(inputs: CapabilityInputs, permission: GrantablePermission): Ability {
  const { user, account, held, grants, accessPolicy } = inputs;
  if (user.role === 'auditor') return 'no';
  const covering = grants.filter(
    (g) => g.active && g.safe === account.safe && (g.account === null || g.account === account.ref),
  );
  if (covering.some((g) => g.permissions.includes(permission))) return 'yes';
  const needsApproval = accessPolicy?.approvalFor.includes(permission) ?? false;
  if (held.includes(permission)) return needsApproval ? 'ask' : 'yes';
  // Only a member (or a grant holder) may ask; anyone else is refused outright.
  const member = held.length > 0 || covering.length > 0;
  return member && needsApproval ? 'ask' : 'no';
}
