import type { Clock } from '../clock.ts';
import { notFound, TesseraError } from '../errors.ts';
import type { Principal } from '../identity/principal.ts';
import type { Store } from '../store/store.ts';
import type { AccessPolicyService } from './access-policies.ts';
import { withinWindow } from './access-window.ts';
import type { GrantService } from './grants.ts';
import { isGrantablePermission, parsePermissions, type SafePermission } from './permissions.ts';
import { ACCESS_RULES, type AccessRule, type Action } from './rules.ts';

export interface Decision {
  readonly allowed: boolean;
  /** Whether the caller may know the safe exists; when not, a refusal reads as "not found". */
  readonly visible: boolean;
  /**
   * Why a caller who could have had it does not: the permission waits for an approved request,
   * or the access window is closed now.
   */
  readonly refusal?: 'approval-required' | 'outside-window';
}

/**
 * The one access decision point. Every API route and every service entry that acts for a person
 * asks it; the default answer is no.
 *
 * A safe permission counts when it is held as a standing membership and no access policy puts it
 * behind an approval, or when a live grant gives it. Either way, an access window closes use,
 * retrieve and checkout outside its hours, except under a break-glass grant.
 */
export interface AccessDecision {
  decide(
    principal: Principal | null,
    action: Action,
    safeId?: string | null,
    accountId?: string | null,
  ): Promise<Decision>;
  /** Like decide, but throws UNAUTHENTICATED, NOT_FOUND, APPROVAL_REQUIRED, ... or FORBIDDEN. */
  require(
    principal: Principal | null,
    action: Action,
    safeId?: string | null,
    accountId?: string | null,
  ): Promise<void>;
  /** The safe permissions a user holds as a member, for filtering lists. */
  permissionsIn(userId: string, safeId: string): Promise<SafePermission[]>;
}

export function createAccessDecision(deps: {
  store: Store;
  clock: Clock;
  policies: Pick<AccessPolicyService, 'effective'>;
  grants: Pick<GrantService, 'held'>;
}): AccessDecision {
  const { store, clock } = deps;

  const permissionsIn = async (userId: string, safeId: string) => {
    const row = await store.db
      .selectFrom('safe_members')
      .select('permissions')
      .where('safe_id', '=', safeId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row === undefined ? [] : parsePermissions(row.permissions);
  };

  /** The rule's safe permissions, weighed against policy, grants and the window. */
  const bySafe = async (
    principal: Principal,
    wanted: readonly SafePermission[],
    held: readonly SafePermission[],
    safeId: string,
    accountId: string | null,
  ): Promise<{ allowed: boolean; anyGrant: boolean; refusal?: Decision['refusal'] }> => {
    const [policy, grants] = await Promise.all([
      deps.policies.effective(safeId, accountId),
      deps.grants.held(principal.userId, safeId, accountId),
    ]);
    const windowOpen = policy.window === null || withinWindow(policy.window, clock.now());
    // An account with its own policy is opened only by grants asked for it, under that policy.
    const granting = policy.accountId !== null ? grants.onAccount : grants.permissions;
    let gated = false;
    let closed = false;
    for (const permission of wanted) {
      const grantable = isGrantablePermission(permission);
      const needsApproval = grantable && policy.approvalFor.includes(permission);
      const standing = held.includes(permission) && !needsApproval;
      const granted = grantable && granting.has(permission);
      if (needsApproval && !granted) gated = true;
      if (!standing && !granted) continue;
      if (grantable && !windowOpen && !grants.breakglass.has(permission)) {
        closed = true;
        continue;
      }
      return { allowed: true, anyGrant: grants.any };
    }
    // A hint only for someone who could ask: a member of the safe, or a holder of a grant.
    const member = held.length > 0 || grants.any;
    const refusal = closed ? 'outside-window' : gated && member ? 'approval-required' : undefined;
    return { allowed: false, anyGrant: grants.any, ...(refusal ? { refusal } : {}) };
  };

  const decide = async (
    principal: Principal | null,
    action: Action,
    safeId?: string | null,
    accountId?: string | null,
  ): Promise<Decision> => {
    const rule: AccessRule | undefined = ACCESS_RULES[action];
    if (rule === undefined) return { allowed: false, visible: false };
    if (rule.anonymous === true) return { allowed: true, visible: true };
    if (principal === null) return { allowed: false, visible: false };
    if (rule.anyUser === true) return { allowed: true, visible: true };

    const refused = rule.never?.includes(principal.role) ?? false;
    const byRole = !refused && (rule.roles?.includes(principal.role) ?? false);
    if (safeId === undefined || safeId === null) return { allowed: byRole, visible: byRole };
    // The role alone allows it: the membership would change nothing, so it is not read.
    if (byRole) return { allowed: true, visible: true };

    const held = await permissionsIn(principal.userId, safeId);
    const seesAll = principal.role === 'admin' || principal.role === 'auditor';
    if (refused || rule.safe === undefined) {
      return { allowed: false, visible: held.length > 0 || seesAll };
    }
    const verdict =
      rule.gated === true
        ? await bySafe(principal, rule.safe, held, safeId, accountId ?? null)
        : { allowed: rule.safe.some((permission) => held.includes(permission)), anyGrant: false };
    const visible = held.length > 0 || verdict.anyGrant || seesAll;
    return {
      allowed: verdict.allowed,
      visible,
      ...(verdict.refusal === undefined ? {} : { refusal: verdict.refusal }),
    };
  };

  return {
    decide,
    permissionsIn,
    async require(principal, action, safeId, accountId) {
      const decision = await decide(principal, action, safeId, accountId);
      if (decision.allowed) return;
      if (principal === null) throw new TesseraError('UNAUTHENTICATED', 'log in first');
      // Another safe's objects are "not found", word for word as a missing one, so a refusal
      // does not confirm they exist.
      const rule: AccessRule = ACCESS_RULES[action];
      const hides = rule.hides;
      if (!decision.visible && hides !== undefined && safeId !== undefined && safeId !== null) {
        throw notFound(hides);
      }
      if (decision.refusal === 'approval-required') {
        throw new TesseraError(
          'APPROVAL_REQUIRED',
          `${action} needs an approved access request: ask with "tessera request create"`,
        );
      }
      if (decision.refusal === 'outside-window') {
        throw new TesseraError('OUTSIDE_ACCESS_WINDOW', `${action} is outside the access window`);
      }
      throw new TesseraError('FORBIDDEN', `not allowed: ${action}`);
    },
  };
}
