import { notFound, TesseraError } from '../errors.ts';
import type { Principal } from '../identity/principal.ts';
import type { Store } from '../store/store.ts';
import { parsePermissions, type SafePermission } from './permissions.ts';
import { ACCESS_RULES, type AccessRule, type Action } from './rules.ts';

export interface Decision {
  readonly allowed: boolean;
  /** Whether the caller may know the safe exists; when not, a refusal reads as "not found". */
  readonly visible: boolean;
}

/**
 * The one access decision point. Every API route and every service entry that acts for a person
 * asks it; the default answer is no.
 */
export interface AccessDecision {
  decide(principal: Principal | null, action: Action, safeId?: string | null): Promise<Decision>;
  /** Like decide, but throws UNAUTHENTICATED, NOT_FOUND or FORBIDDEN. */
  require(principal: Principal | null, action: Action, safeId?: string | null): Promise<void>;
  /** The safe permissions a user holds, for filtering lists. */
  permissionsIn(userId: string, safeId: string): Promise<SafePermission[]>;
}

export function createAccessDecision(deps: { store: Store }): AccessDecision {
  const { store } = deps;

  const permissionsIn = async (userId: string, safeId: string) => {
    const row = await store.db
      .selectFrom('safe_members')
      .select('permissions')
      .where('safe_id', '=', safeId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row === undefined ? [] : parsePermissions(row.permissions);
  };

  const decide = async (
    principal: Principal | null,
    action: Action,
    safeId?: string | null,
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
    const bySafe =
      !refused && (rule.safe?.some((permission) => held.includes(permission)) ?? false);
    const visible = held.length > 0 || principal.role === 'admin' || principal.role === 'auditor';
    return { allowed: byRole || bySafe, visible };
  };

  return {
    decide,
    permissionsIn,
    async require(principal, action, safeId) {
      const decision = await decide(principal, action, safeId);
      if (decision.allowed) return;
      if (principal === null) throw new TesseraError('UNAUTHENTICATED', 'log in first');
      // Another safe's objects are "not found", word for word as a missing one, so a refusal
      // does not confirm they exist.
      const rule: AccessRule = ACCESS_RULES[action];
      const hides = rule.hides;
      if (!decision.visible && hides !== undefined && safeId !== undefined && safeId !== null) {
        throw notFound(hides);
      }
      throw new TesseraError('FORBIDDEN', `not allowed: ${action}`);
    },
  };
}
