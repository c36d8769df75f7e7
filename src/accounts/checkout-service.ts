import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AccessDecision } from '../access/access-decision.ts';
import { holdsBreakglass } from '../access/grants.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { type AuditEventInput, type RequestContext, SYSTEM_CONTEXT } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import { TesseraError } from '../errors.ts';
import type { Principal } from '../identity/principal.ts';
import type { RotationEngine } from '../rotation/rotation-engine.ts';
import type { Store, Tx } from '../store/store.ts';
import type { Account } from './account.ts';
import { accountEvent, checkedInColumns } from './account-event.ts';
import type { AccountService } from './account-service.ts';
import type { PolicyService } from './policies.ts';
import type { SecretVersions } from './secret-versions.ts';

export interface RevealedSecret {
  readonly value: string;
  readonly version: number;
}

export interface CheckoutResult extends RevealedSecret {
  readonly checkoutId: string | null;
  readonly expiresAt: number;
  readonly exclusive: boolean;
}

export interface CheckinResult {
  readonly rotated: boolean;
  readonly rotationError: string | null;
}

type AccountRef = { target: string; username: string };

/**
 * Reveal, check-out and check-in. Exclusive check-out is one conditional UPDATE, so of many
 * concurrent callers exactly one wins on either store. When policy rotates on check-in, the
 * account is marked before the rotation runs and nobody can check it out until a rotation has
 * been verified.
 */
export interface CheckoutService {
  reveal(
    ctx: RequestContext,
    principal: Principal,
    ref: AccountRef,
    reason: string,
  ): Promise<RevealedSecret>;
  checkout(
    ctx: RequestContext,
    principal: Principal,
    ref: AccountRef,
    input: { reason: string; durationS?: number | undefined },
  ): Promise<CheckoutResult>;
  checkin(ctx: RequestContext, principal: Principal, ref: AccountRef): Promise<CheckinResult>;
  /** Checks in every check-out past its end; returns how many. */
  expireDue(): Promise<number>;
  /**
   * Checks in `holder`'s check-out of an account because the right it was taken under ended (a
   * grant expired or was revoked), and rotates by policy as an expiry would. False when that
   * holder held no check-out of it.
   */
  endCheckoutOf(
    ctx: RequestContext,
    accountId: string,
    holder: string,
    reason: string,
  ): Promise<boolean>;
}

export function createCheckoutService(deps: {
  store: Store;
  audit: AuditLog;
  access: AccessDecision;
  accounts: AccountService;
  policies: PolicyService;
  versions: SecretVersions;
  rotation: RotationEngine;
  clock: Clock;
  logger: Logger;
}): CheckoutService {
  const { store, audit, access, accounts, policies, versions, rotation, clock, logger } = deps;

  const event = (
    ctx: RequestContext,
    account: Account,
    action: string,
    outcome: AuditEventInput['outcome'],
    reason: string | null,
    details?: AuditEventInput['details'],
  ) => accountEvent(ctx, account, action, outcome, { reason, details });

  const refuse = async (
    ctx: RequestContext,
    account: Account,
    action: string,
    reason: string,
    error: TesseraError,
  ) => {
    await audit.record(event(ctx, account, action, 'denied', reason, { code: error.code }));
    return error;
  };

  const heldByOther = (account: Account, principal: Principal): TesseraError | null => {
    const holder = account.checkout;
    if (holder === null || holder.expiresAt <= clock.now() || holder.holder === principal.name)
      return null;
    return new TesseraError(
      'ACCOUNT_CHECKED_OUT',
      `${account.ref} is checked out by ${holder.holder}`,
      {
        holder: holder.holder,
        expiresAt: new Date(holder.expiresAt).toISOString(),
      },
    );
  };

  const rotationPending = (account: Account) =>
    new TesseraError(
      'ACCOUNT_ROTATION_PENDING',
      `${account.ref} waits for a verified rotation after its last check-in`,
    );

  const underBreakglass = (principal: Principal, account: Account) =>
    holdsBreakglass(store.db, principal.userId, account.id, clock.now());

  const readCurrent = (account: Account) => {
    if (account.currentVersion === null)
      throw new TesseraError('CONFLICT', `${account.ref} has no secret`);
    return versions.read({ accountId: account.id, safeId: account.safeId }, account.currentVersion);
  };

  /** Checks in a check-out that ran out, inside the caller's transaction. */
  const expireInTx = async (trx: Tx, account: Account, rotateOnCheckin: boolean) => {
    const result = await trx
      .updateTable('accounts')
      .set(checkedInColumns(rotateOnCheckin))
      .where('id', '=', account.id)
      .where('checkout_id', '=', account.checkout?.id ?? '')
      .where('checkout_expires_at', '<=', clock.now())
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) return false;
    await audit.appendInTx(trx, [
      event(SYSTEM_CONTEXT, account, 'account.checkin', 'success', 'check-out expired', {
        holder: account.checkout?.holder ?? null,
        automatic: true,
      }),
    ]);
    return true;
  };

  const rotateAfterCheckin = async (
    ctx: RequestContext,
    account: Account,
  ): Promise<CheckinResult> => {
    try {
      await rotation.rotate(ctx, account, 'checkin');
      return { rotated: true, rotationError: null };
    } catch (error) {
      const message = error instanceof TesseraError ? error.message : 'unexpected error';
      logger.warn(
        { account: account.ref, code: (error as TesseraError).code },
        'rotation after check-in failed',
      );
      return { rotated: false, rotationError: message };
    }
  };

  return {
    async reveal(ctx, principal, ref, reason) {
      const account = await accounts.get(principal, ref, 'secret.retrieve');
      const policy = await policies.byId(account.policyId);
      if (policy.exclusiveCheckout) {
        const held = heldByOther(account, principal);
        if (held !== null) throw await refuse(ctx, account, 'secret.reveal', reason, held);
        // Emergency access is not held up by a rotation still to come: the window closes with
        // one anyway.
        if (account.needsRotation && !(await underBreakglass(principal, account)))
          throw await refuse(ctx, account, 'secret.reveal', reason, rotationPending(account));
      }
      const value = await readCurrent(account);
      // The value leaves only once its audit event is on disk.
      await audit.record(
        event(ctx, account, 'secret.reveal', 'success', reason, {
          version: account.currentVersion,
        }),
      );
      return { value: value.toString('utf8'), version: account.currentVersion ?? 0 };
    },

    async checkout(ctx, principal, ref, { reason, durationS }) {
      const account = await accounts.get(principal, ref, 'account.checkout');
      const policy = await policies.byId(account.policyId);
      const seconds = Math.min(durationS ?? policy.maxCheckoutS, policy.maxCheckoutS);
      const now = clock.now();
      const expiresAt = now + seconds * 1000;
      const value = await readCurrent(account);

      if (!policy.exclusiveCheckout) {
        await audit.record(
          event(ctx, account, 'account.checkout', 'success', reason, { exclusive: false, seconds }),
        );
        return {
          value: value.toString('utf8'),
          version: account.currentVersion ?? 0,
          checkoutId: null,
          expiresAt,
          exclusive: false,
        };
      }

      const checkoutId = randomUUID();
      // Emergency access is not held up by a rotation still owed, as for a reveal.
      const emergency = await underBreakglass(principal, account);
      const refusal = await store.transaction(async (trx) => {
        if (account.checkout !== null && account.checkout.expiresAt <= now) {
          await expireInTx(trx, account, policy.rotateOnCheckoutExpiry);
        }
        let claim = trx
          .updateTable('accounts')
          .set({
            checkout_id: checkoutId,
            checked_out_by: principal.name,
            checked_out_at: now,
            checkout_expires_at: expiresAt,
          })
          .where('id', '=', account.id)
          .where('checkout_id', 'is', null)
          .where('current_version', '=', account.currentVersion);
        if (!emergency) claim = claim.where('needs_rotation', '=', 0);
        const won = await claim.executeTakeFirst();
        if (won.numUpdatedRows === 0n) return accounts.reload(trx, account.id);
        await audit.appendInTx(trx, [
          event(ctx, account, 'account.checkout', 'success', reason, {
            checkoutId,
            seconds,
            version: account.currentVersion,
          }),
        ]);
        return null;
      });
      if (refusal !== null) {
        const error =
          heldByOther(refusal, principal) ??
          (refusal.needsRotation && !emergency ? rotationPending(refusal) : null) ??
          (refusal.checkout !== null
            ? new TesseraError(
                'ACCOUNT_CHECKED_OUT',
                `${account.ref} is already checked out by you`,
                {
                  holder: principal.name,
                  expiresAt: new Date(refusal.checkout.expiresAt).toISOString(),
                },
              )
            : new TesseraError('CONFLICT', `${account.ref} changed while checking out: try again`));
        throw await refuse(ctx, account, 'account.checkout', reason, error);
      }
      await store.durable();
      return {
        value: value.toString('utf8'),
        version: account.currentVersion ?? 0,
        checkoutId,
        expiresAt,
        exclusive: true,
      };
    },

    async checkin(ctx, principal, ref) {
      const account = await accounts.find(ref);
      const holder = account.checkout;
      // Giving back one's own check-out is always allowed, even after losing the permission.
      if (holder?.holder !== principal.name) {
        await access.require(principal, 'account.checkin', account.safeId, account.id);
        if (holder === null) {
          throw new TesseraError('ACCOUNT_NOT_CHECKED_OUT', `${account.ref} is not checked out`);
        }
        // Ending someone else's check-out takes an admin or a safe manager.
        await access.require(principal, 'account.checkin.other', account.safeId, account.id);
      }
      if (holder === null) {
        throw new TesseraError('ACCOUNT_NOT_CHECKED_OUT', `${account.ref} is not checked out`);
      }
      const policy = await policies.byId(account.policyId);

      await store.transaction(async (trx) => {
        const done = await trx
          .updateTable('accounts')
          .set(checkedInColumns(policy.rotateOnCheckin))
          .where('id', '=', account.id)
          .where('checkout_id', '=', holder.id)
          .executeTakeFirst();
        if (done.numUpdatedRows === 0n)
          throw new TesseraError('ACCOUNT_NOT_CHECKED_OUT', `${account.ref} is not checked out`);
        await audit.appendInTx(trx, [
          event(ctx, account, 'account.checkin', 'success', null, {
            holder: holder.holder,
            checkoutId: holder.id,
          }),
        ]);
      });
      await store.durable();
      if (!policy.rotateOnCheckin) return { rotated: false, rotationError: null };
      return rotateAfterCheckin(ctx, await accounts.reload(store.db, account.id));
    },

    async endCheckoutOf(ctx, accountId, holder, reason) {
      const account = await accounts.reload(store.db, accountId);
      const checkout = account.checkout;
      if (checkout === null || checkout.holder !== holder) return false;
      const policy = await policies.byId(account.policyId);
      const rotate = policy.rotateOnCheckoutExpiry;
      const done = await store.transaction(async (trx) => {
        const result = await trx
          .updateTable('accounts')
          .set(checkedInColumns(rotate))
          .where('id', '=', account.id)
          .where('checkout_id', '=', checkout.id)
          .executeTakeFirst();
        if (result.numUpdatedRows === 0n) return false;
        await audit.appendInTx(trx, [
          event(ctx, account, 'account.checkin', 'success', reason, {
            holder,
            automatic: true,
          }),
        ]);
        return true;
      });
      await store.durable();
      if (done && rotate) {
        await rotateAfterCheckin(ctx, await accounts.reload(store.db, account.id));
      }
      return done;
    },

    async expireDue() {
      const rows = await store.db
        .selectFrom('accounts')
        .select('id')
        .where('checkout_expires_at', '<=', clock.now())
        .execute();
      let expired = 0;
      for (const row of rows) {
        const account = await accounts.reload(store.db, row.id);
        const policy = await policies.byId(account.policyId);
        // The holder may still know the value: rotating after an expiry is a policy of its own.
        const rotate = policy.rotateOnCheckoutExpiry;
        const done = await store.transaction((trx) => expireInTx(trx, account, rotate));
        await store.durable();
        if (!done) continue;
        expired += 1;
        if (rotate) {
          await rotateAfterCheckin(SYSTEM_CONTEXT, await accounts.reload(store.db, account.id));
        }
      }
      return expired;
    },
  };
}
