import type { Logger } from 'pino';
import type { CheckoutService } from '../accounts/checkout-service.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { SYSTEM_CONTEXT } from '../audit/event.ts';
import { isRole, type Principal } from '../identity/principal.ts';
import type { Store } from '../store/store.ts';
import type { AccessDecision } from './access-decision.ts';
import type { BreakglassService } from './breakglass.ts';
import type { EndedGrant, GrantService } from './grants.ts';
import type { RequestService } from './requests.ts';

/** What ending an ephemeral grant needs: its account dropped on the target. */
export interface EphemeralEnder {
  dropForGrant(ctx: typeof SYSTEM_CONTEXT, grantId: string): Promise<unknown>;
  reap(): Promise<number>;
}

/**
 * What the end of a grant entails besides refusing new use, which the decision point does on its
 * own by the clock: check-outs taken under it are checked in (and rotated by policy), an
 * ephemeral account is dropped, a break-glass window closes with a rotation. Live gateway
 * sessions listen to the same event. Every step is safe to repeat.
 */
export function endGrantsWith(deps: {
  store: Store;
  audit: Pick<AuditLog, 'appendInTx'>;
  grants: Pick<GrantService, 'onEnded'>;
  access: Pick<AccessDecision, 'decide'>;
  checkout: Pick<CheckoutService, 'endCheckoutOf'>;
  breakglass: Pick<BreakglassService, 'closeFor'>;
  ephemeral: () => EphemeralEnder | null;
}): void {
  const { store } = deps;

  const principalOf = async (userId: string): Promise<Principal | null> => {
    const row = await store.db
      .selectFrom('users')
      .select(['id', 'name', 'role'])
      .where('id', '=', userId)
      .executeTakeFirst();
    if (row === undefined || !isRole(row.role)) return null;
    return { userId: row.id, name: row.name, role: row.role, tokenId: 'grant-end' };
  };

  const checkIn = async (grant: EndedGrant) => {
    let q = store.db
      .selectFrom('accounts')
      .select(['id', 'safe_id'])
      .where('safe_id', '=', grant.safeId)
      .where('checked_out_by', '=', grant.userName);
    if (grant.accountId !== null) q = q.where('id', '=', grant.accountId);
    const held = await q.execute();
    if (held.length === 0) return;
    const principal = await principalOf(grant.userId);
    for (const account of held) {
      // Another live grant or a standing right may still cover the check-out.
      const still =
        principal !== null &&
        (await deps.access.decide(principal, 'account.checkout', account.safe_id, account.id))
          .allowed;
      if (still) continue;
      await deps.checkout.endCheckoutOf(
        SYSTEM_CONTEXT,
        account.id,
        grant.userName,
        `grant ${grant.why}`,
      );
    }
  };

  /**
   * A value revealed under the grant is still known to its holder when the grant ends: those
   * accounts are marked for rotation (the scheduler rotates them), unless a right the holder
   * keeps still covers reading them.
   */
  const rotateRevealed = async (grant: EndedGrant) => {
    if (!grant.permissions.includes('retrieve')) return;
    let q = store.db
      .selectFrom('audit_events')
      .innerJoin('accounts', 'accounts.id', 'audit_events.object_id')
      .select(['accounts.id', 'accounts.safe_id'])
      .distinct()
      .where('audit_events.action', '=', 'secret.reveal')
      .where('audit_events.outcome', '=', 'success')
      .where('audit_events.actor_id', '=', grant.userId)
      .where('audit_events.at', '>=', grant.startsAt)
      .where('accounts.safe_id', '=', grant.safeId);
    if (grant.accountId !== null) q = q.where('accounts.id', '=', grant.accountId);
    const revealed = await q.execute();
    if (revealed.length === 0) return;
    const principal = await principalOf(grant.userId);
    for (const account of revealed) {
      const still =
        principal !== null &&
        (await deps.access.decide(principal, 'secret.retrieve', account.safe_id, account.id))
          .allowed;
      if (still) continue;
      await store.transaction(async (trx) => {
        await trx
          .updateTable('accounts')
          .set({ needs_rotation: 1 })
          .where('id', '=', account.id)
          .execute();
        await deps.audit.appendInTx(trx, [
          {
            action: 'account.rotate.request',
            outcome: 'success',
            actor: SYSTEM_CONTEXT.actor,
            object: { type: 'account', id: account.id, name: null },
            reason: 'revealed under a grant that ended',
            details: { grant: grant.id, user: grant.userName },
          },
        ]);
      });
    }
    await store.durable();
  };

  deps.grants.onEnded(async (grant) => {
    if (grant.kind === 'ephemeral') {
      const ephemeral = deps.ephemeral();
      if (ephemeral !== null) await ephemeral.dropForGrant(SYSTEM_CONTEXT, grant.id);
      return;
    }
    await checkIn(grant);
    await rotateRevealed(grant);
    await deps.breakglass.closeFor(grant);
  });
}

/**
 * The periodic work of just-in-time access: unanswered requests expire or escalate, ended
 * grants are closed, and leftover ephemeral accounts are reaped. Skipped while the vault is
 * sealed: ending a grant may rotate or drop with a stored credential.
 */
export function createAccessTicker(deps: {
  requests: Pick<RequestService, 'sweep'>;
  grants: Pick<GrantService, 'closeEnded'>;
  ephemeral: () => EphemeralEnder | null;
  isSealed: () => boolean;
  logger: Logger;
}) {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let reapedAt = 0;

  const tick = async () => {
    if (deps.isSealed()) return;
    await deps.requests.sweep();
    await deps.grants.closeEnded();
    const ephemeral = deps.ephemeral();
    if (ephemeral !== null && Date.now() - reapedAt >= REAP_INTERVAL_MS) {
      reapedAt = Date.now();
      await ephemeral.reap();
    }
  };

  const tickNow = (): Promise<void> => {
    if (running !== null) return running;
    running = tick()
      .catch((error: unknown) => deps.logger.warn({ err: error }, 'access tick failed'))
      .finally(() => {
        running = null;
      });
    return running;
  };

  return {
    tickNow,
    start(intervalMs: number) {
      timer = setInterval(() => void tickNow(), intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer !== null) clearInterval(timer);
      timer = null;
      await running;
    },
  };
}

export type AccessTicker = ReturnType<typeof createAccessTicker>;

/** Reaping asks the targets; once a minute is plenty for accounts whose grant is long over. */
const REAP_INTERVAL_MS = 60_000;
