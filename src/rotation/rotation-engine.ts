import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Account } from '../accounts/account.ts';
import { accountEvent } from '../accounts/account-event.ts';
import type { AccountService } from '../accounts/account-service.ts';
import type { Policy, PolicyService } from '../accounts/policies.ts';
import type { SecretVersions } from '../accounts/secret-versions.ts';
import type { TargetService } from '../accounts/targets.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditEventInput, RequestContext } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import type { Connector, TargetAddress, VerifyOutcome } from '../connectors/connector.ts';
import { TesseraError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import { generateSecret } from './password-generator.ts';

export type RotationOrigin = 'manual' | 'schedule' | 'checkin' | 'checkout-expiry';

export interface RotationResult {
  readonly version: number;
  readonly attempts: number;
}

export interface VerifyResult {
  readonly valid: boolean;
  readonly detail: string;
}

/**
 * Two-phase rotation: the new secret is stored encrypted as `pending` before the target is
 * touched, applied, verified by a fresh login, and only then promoted. Whatever step a crash or
 * failure interrupts, `settle` later finds out which value the target holds and makes the vault
 * agree, so the vault always knows a credential that works.
 */
export interface RotationEngine {
  rotate(ctx: RequestContext, account: Account, origin: RotationOrigin): Promise<RotationResult>;
  verify(ctx: RequestContext, account: Account): Promise<VerifyResult>;
  /** Resolves every pending version left by an interrupted rotation. */
  recoverPending(): Promise<number>;
  /**
   * Frees the leases this node held when it last stopped (a crash leaves them behind); run once
   * at start, before any rotation, so recovery need not wait for them to run out.
   */
  releaseOwnLeases(): Promise<number>;
}

/** A rotation holds its account this long at most; a crashed node's lease simply runs out. */
export const ROTATION_LEASE_MS = 2 * 60_000;
/** Candidates the target refused are discarded; after this many, the rotation fails. */
export const MAX_CANDIDATES = 3;
/** A failed rotation is tried again by the scheduler after this long (back-off: #4). */
export const RETRY_AFTER_FAILURE_MS = 5 * 60_000;

export function createRotationEngine(deps: {
  store: Store;
  audit: AuditLog;
  accounts: AccountService;
  policies: PolicyService;
  targets: TargetService;
  versions: SecretVersions;
  connectors: ReadonlyMap<string, Connector>;
  clock: Clock;
  logger: Logger;
  nodeId: string;
}): RotationEngine {
  const { store, audit, accounts, policies, targets, versions, connectors, clock, logger } = deps;

  const connectorFor = (platform: string): Connector => {
    const connector = connectors.get(platform);
    if (connector === undefined) {
      throw new TesseraError('NOT_SUPPORTED', `no connector for platform ${platform}`);
    }
    return connector;
  };

  const event = (
    ctx: RequestContext,
    account: Account,
    action: string,
    outcome: AuditEventInput['outcome'],
    details: AuditEventInput['details'],
  ) => accountEvent(ctx, account, action, outcome, { details });

  const acquireLease = async (account: Account): Promise<string> => {
    const owner = `${deps.nodeId}:${randomUUID()}`;
    const now = clock.now();
    const result = await store.db
      .updateTable('accounts')
      .set({ rotation_lease_owner: owner, rotation_lease_until: now + ROTATION_LEASE_MS })
      .where('id', '=', account.id)
      .where((eb) =>
        eb.or([eb('rotation_lease_until', 'is', null), eb('rotation_lease_until', '<', now)]),
      )
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) {
      throw new TesseraError(
        'ROTATION_IN_PROGRESS',
        `a rotation of ${account.ref} is already running`,
      );
    }
    return owner;
  };

  const releaseLease = async (accountId: string, owner: string) => {
    await store.db
      .updateTable('accounts')
      .set({ rotation_lease_owner: null, rotation_lease_until: null })
      .where('id', '=', accountId)
      .where('rotation_lease_owner', '=', owner)
      .execute();
  };

  const login = async (target: TargetAddress, platform: string, username: string, secret: Buffer) =>
    connectorFor(platform).verify(target, { username, secret: secret.toString('utf8') });

  const readCurrent = (account: Account) => {
    if (account.currentVersion === null)
      throw new TesseraError('CONFLICT', `${account.ref} has no secret`);
    return versions.read({ accountId: account.id, safeId: account.safeId }, account.currentVersion);
  };

  const promote = async (
    ctx: RequestContext,
    account: Account,
    policy: Policy,
    version: number,
    details: AuditEventInput['details'],
  ) => {
    const now = clock.now();
    await store.transaction(async (trx) => {
      if (account.currentVersion !== null) {
        await versions.setStatus(trx, account.id, account.currentVersion, 'previous', now);
      }
      await versions.setStatus(trx, account.id, version, 'current', now);
      await trx
        .updateTable('accounts')
        .set({
          current_version: version,
          state: 'ok',
          last_rotated_at: now,
          last_verified_at: now,
          last_verify_result: 'valid',
          last_rotation_error: null,
          needs_rotation: 0,
          next_rotation_at:
            policy.rotationIntervalS === null ? null : now + policy.rotationIntervalS * 1000,
        })
        .where('id', '=', account.id)
        .execute();
      await audit.appendInTx(trx, [event(ctx, account, 'account.rotate', 'success', details)]);
    });
    await store.durable();
  };

  const discard = async (ctx: RequestContext, account: Account, version: number, why: string) => {
    await store.transaction(async (trx) => {
      await versions.setStatus(trx, account.id, version, 'discarded', clock.now());
      await audit.appendInTx(trx, [
        event(ctx, account, 'account.rotate.discard', 'failure', { version, why }),
      ]);
    });
    await store.durable();
  };

  const fail = async (
    ctx: RequestContext,
    account: Account,
    message: string,
    details: AuditEventInput['details'],
  ) => {
    await store.transaction(async (trx) => {
      await trx
        .updateTable('accounts')
        .set({
          state: 'rotation_failed',
          last_rotation_error: message,
          next_rotation_at: clock.now() + RETRY_AFTER_FAILURE_MS,
        })
        .where('id', '=', account.id)
        .execute();
      await audit.appendInTx(trx, [
        event(ctx, account, 'account.rotate', 'failure', { ...details, error: message }),
      ]);
    });
    await store.durable();
    return new TesseraError('ROTATION_FAILED', `rotation of ${account.ref} failed: ${message}`);
  };

  /**
   * Finds out whether the target holds the pending or the current value, and records it.
   * Returns true when the pending value was promoted.
   */
  const settle = async (
    ctx: RequestContext,
    account: Account,
    pendingVersion: number,
  ): Promise<boolean> => {
    const target = await targets.byId(account.targetId);
    const policy = await policies.byId(account.policyId);
    const pending = await versions.read(
      { accountId: account.id, safeId: account.safeId },
      pendingVersion,
    );
    const pendingWorks = await login(target, target.platform, account.username, pending);
    if (pendingWorks.kind === 'valid') {
      await promote(ctx, account, policy, pendingVersion, {
        version: pendingVersion,
        recovered: true,
      });
      return true;
    }
    const currentWorks = await login(
      target,
      target.platform,
      account.username,
      await readCurrent(account),
    );
    if (currentWorks.kind === 'valid') {
      await discard(ctx, account, pendingVersion, 'target still holds the current value');
      return false;
    }
    throw await fail(ctx, account, describeDrift(pendingWorks, currentWorks), {
      version: pendingVersion,
    });
  };

  const storePending = async (
    ctx: RequestContext,
    account: Account,
    candidate: string,
    origin: RotationOrigin,
  ) => {
    const now = clock.now();
    const version = await store.transaction(async (trx) => {
      const next = (await versions.latestVersion(trx, account.id)) + 1;
      await versions.write(
        trx,
        { accountId: account.id, safeId: account.safeId, version: next },
        {
          value: Buffer.from(candidate, 'utf8'),
          status: 'pending',
          origin: `rotation:${origin}`,
          createdBy: ctx.actor.name ?? 'tessera',
          now,
        },
      );
      await audit.appendInTx(trx, [
        event(ctx, account, 'account.rotate.pending', 'success', { version: next, origin }),
      ]);
      return next;
    });
    await store.durable();
    return version;
  };

  const attempt = async (
    ctx: RequestContext,
    account: Account,
    origin: RotationOrigin,
  ): Promise<RotationResult> => {
    const target = await targets.byId(account.targetId);
    const policy = await policies.byId(account.policyId);
    const connector = connectorFor(target.platform);
    const rules = {
      ...policy.secret,
      length: Math.min(policy.secret.length, connector.secretRules.maxLength),
      exclude: policy.secret.exclude + connector.secretRules.forbiddenCharacters,
    };

    for (let attempts = 1; attempts <= MAX_CANDIDATES; attempts++) {
      const current = await readCurrent(account);
      const candidate = generateSecret(rules);
      const version = await storePending(ctx, account, candidate, origin);

      const outcome = await connector.change(target, {
        account: account.username,
        newSecret: candidate,
        logon: { username: account.username, secret: current.toString('utf8') },
      });
      if (outcome.kind === 'not-sent') {
        await discard(ctx, account, version, 'the change never reached the target');
        throw await fail(ctx, account, outcome.reason, { version });
      }
      if (outcome.kind === 'rejected') {
        await discard(ctx, account, version, `target refused the value: ${outcome.reason}`);
        continue;
      }
      const verified = await connector.verify(target, {
        username: account.username,
        secret: candidate,
      });
      if (verified.kind === 'valid') {
        await promote(ctx, account, policy, version, { version, origin, attempts });
        return { version, attempts };
      }
      // Applied but the new value does not log in, or the outcome is unknown: ask the target.
      if (await settle(ctx, account, version)) return { version, attempts };
      if (outcome.kind === 'unknown') throw await fail(ctx, account, outcome.reason, { version });
    }
    throw await fail(ctx, account, `the target refused ${MAX_CANDIDATES} generated values`, {
      origin,
    });
  };

  return {
    async rotate(ctx, account, origin) {
      const owner = await acquireLease(account);
      try {
        // A pending version left by an interrupted rotation is settled before a new one starts.
        const pending = await versions.pending(store.db, account.id);
        if (pending !== null)
          await settle(ctx, await accounts.reload(store.db, account.id), pending);
        return await attempt(ctx, await accounts.reload(store.db, account.id), origin);
      } catch (error) {
        if (error instanceof TesseraError) throw error;
        logger.error({ err: error, account: account.ref }, 'rotation failed unexpectedly');
        throw await fail(ctx, account, 'unexpected error (see server log)', { origin });
      } finally {
        await releaseLease(account.id, owner);
      }
    },

    async verify(ctx, account) {
      const target = await targets.byId(account.targetId);
      const outcome = await login(
        target,
        target.platform,
        account.username,
        await readCurrent(account),
      );
      const valid = outcome.kind === 'valid';
      const detail = valid ? 'valid' : `${outcome.kind}: ${outcome.reason}`;
      await store.transaction(async (trx) => {
        await trx
          .updateTable('accounts')
          .set({
            state: valid ? 'ok' : 'verify_failed',
            last_verified_at: clock.now(),
            last_verify_result: detail,
          })
          .where('id', '=', account.id)
          .execute();
        await audit.appendInTx(trx, [
          event(ctx, account, 'account.verify', valid ? 'success' : 'failure', {
            result: outcome.kind,
          }),
        ]);
      });
      await store.durable();
      return { valid, detail };
    },

    async releaseOwnLeases() {
      const prefix = `${deps.nodeId}:`;
      const result = await store.db
        .updateTable('accounts')
        .set({ rotation_lease_owner: null, rotation_lease_until: null })
        .where((eb) =>
          eb(
            eb.fn('substr', ['rotation_lease_owner', eb.val(1), eb.val(prefix.length)]),
            '=',
            prefix,
          ),
        )
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },

    async recoverPending() {
      const now = clock.now();
      const rows = await store.db
        .selectFrom('secret_versions')
        .innerJoin('accounts', 'accounts.id', 'secret_versions.account_id')
        .select(['accounts.id as accountId', 'secret_versions.version as version'])
        .where('secret_versions.status', '=', 'pending')
        .where((eb) =>
          eb.or([
            eb('accounts.rotation_lease_until', 'is', null),
            eb('accounts.rotation_lease_until', '<', now),
          ]),
        )
        .execute();
      let settled = 0;
      for (const row of rows) {
        const account = await accounts.reload(store.db, row.accountId);
        const ctx = { actor: { id: null, name: 'tessera' }, source: null, requestId: null };
        let owner: string;
        try {
          owner = await acquireLease(account);
        } catch {
          continue; // another node is on it
        }
        try {
          await settle(ctx, account, row.version);
          settled += 1;
        } catch (error) {
          logger.warn(
            { err: error, account: account.ref },
            'could not settle an interrupted rotation',
          );
        } finally {
          await releaseLease(account.id, owner);
        }
      }
      return settled;
    },
  };
}

function describeDrift(pending: VerifyOutcome, current: VerifyOutcome): string {
  const unreachable = [pending, current].find((outcome) => outcome.kind === 'unreachable');
  if (unreachable?.kind === 'unreachable') return `target unreachable: ${unreachable.reason}`;
  return 'neither the pending nor the current value logs in: reconcile the account';
}
