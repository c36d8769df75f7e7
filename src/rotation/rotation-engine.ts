import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Account } from '../accounts/account.ts';
import { accountEvent } from '../accounts/account-event.ts';
import type { AccountService } from '../accounts/account-service.ts';
import type { Policy, PolicyService } from '../accounts/policies.ts';
import type { SecretVersions } from '../accounts/secret-versions.ts';
import type { Target, TargetService } from '../accounts/targets.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditEventInput, RequestContext } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import type {
  ChangeRequest,
  Connector,
  Credential,
  SecretKind,
  VerifyOutcome,
} from '../connectors/connector.ts';
import { generateSshPrivateKey } from '../connectors/ssh-keys.ts';
import { TesseraError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import { generateSecret, type SecretRules } from './password-generator.ts';
import { nextRotationAt, retryDelayMs } from './schedule.ts';

export type RotationOrigin =
  | 'manual'
  | 'schedule'
  | 'checkin'
  | 'checkout-expiry'
  | 'reconcile'
  | 'breakglass';

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
  /**
   * Sets a new secret through the account's reconcile account, whatever the vault's value is
   * worth: the repair for an account whose password was changed behind Tessera's back.
   */
  reconcile(ctx: RequestContext, account: Account): Promise<RotationResult>;
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
/** How often a rotation waiting on its reconcile account's own rotation looks again. */
const RECONCILE_WAIT_MS = 100;
/** How long it waits at most: well inside its own lease, which must not run out meanwhile. */
const RECONCILE_WAIT_LIMIT_MS = 30_000;
/** Candidates the target refused are discarded; after this many, the rotation fails. */
export const MAX_CANDIDATES = 3;

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

  const login = async (target: Target, account: Account, secret: Buffer) =>
    connectorFor(target.platform).verify(target, credentialOf(account, secret));

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
          rotation_failures: 0,
          last_rotation_attempt_at: now,
          next_rotation_at: nextRotationAt(policy, account.id, now),
        })
        .where('id', '=', account.id)
        .execute();
      await audit.appendInTx(trx, [event(ctx, account, 'account.rotate', 'success', details)]);
    });
    await store.durable();
    if (account.secretType === 'ssh-key') {
      await retireOldKeys(ctx, account, version, account.currentVersion);
    }
  };

  /**
   * Once a new key is the current version, the older keys Tessera placed leave the target's
   * `authorized_keys`. A failure leaves an extra key behind, never a missing one: it is audited,
   * and the next rotation's retire removes it.
   */
  const retireOldKeys = async (
    ctx: RequestContext,
    account: Account,
    version: number,
    supersededVersion: number | null,
  ) => {
    const target = await targets.byId(account.targetId);
    const connector = connectorFor(target.platform);
    if (connector.retire === undefined) return;
    const at = { accountId: account.id, safeId: account.safeId };
    const keep = (await versions.read(at, version)).toString('utf8');
    // The key the vault held until now goes, the onboarded one included: a rotated key that
    // still logs in would make rotation, and the end of a check-out, a pretence.
    const superseded =
      supersededVersion === null || supersededVersion === version
        ? []
        : [(await versions.read(at, supersededVersion)).toString('utf8')];
    const { via, logon } = await logonFor(account, keep, 'either');
    const outcome = await connector.retire(target, {
      account: account.username,
      keep,
      superseded,
      via,
      logon,
    });
    if (outcome.kind === 'applied') return;
    logger.warn({ account: account.ref, reason: outcome.reason }, 'old keys were not removed');
    await audit.record(
      event(ctx, account, 'account.rotate.retire', 'failure', { version, error: outcome.reason }),
    );
  };

  /**
   * Who logs in to change the account: its reconcile account when it has one (the sure path:
   * it needs no knowledge of the old value), else the account itself with `current`.
   */
  const logonFor = async (
    account: Account,
    current: string | null,
    mode: 'either' | 'reconcile',
  ): Promise<{ via: ChangeRequest['via']; logon: Credential; logonVersion: number | null }> => {
    if (account.reconcileAccountId !== null) {
      const reconcile = await accounts.reload(store.db, account.reconcileAccountId);
      const secret = await readCurrent(reconcile);
      return {
        via: 'reconcile',
        logon: credentialOf(reconcile, secret),
        logonVersion: reconcile.currentVersion,
      };
    }
    if (mode === 'reconcile') {
      throw new TesseraError('CONFLICT', `${account.ref} has no reconcile account`);
    }
    if (current === null) throw new TesseraError('CONFLICT', `${account.ref} has no secret`);
    return {
      via: 'self',
      logon: { username: account.username, secret: current, kind: account.secretType },
      logonVersion: null,
    };
  };

  /**
   * Whether the reconcile account's secret moved on since `version` was read: its own rotation
   * ran meanwhile (a bulk run rotates it alongside the accounts it changes). Waits for one in
   * flight to finish, so the caller can log on again with the value that now works.
   */
  const reconcileMoved = async (account: Account, version: number | null): Promise<boolean> => {
    if (account.reconcileAccountId === null) return false;
    // Counted in real waits, not by the clock, which a test may hold still.
    for (let waits = 0; ; waits++) {
      const reconcile = await accounts.reload(store.db, account.reconcileAccountId);
      if (!reconcile.rotating || waits * RECONCILE_WAIT_MS >= RECONCILE_WAIT_LIMIT_MS) {
        return reconcile.currentVersion !== version;
      }
      await delay(RECONCILE_WAIT_MS);
    }
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

  /** Failures `fail` has already written down, so that nothing is recorded twice. */
  const recorded = new WeakSet<Error>();

  /** Takes a partly applied value out of recovery, keeping it readable for whoever repairs. */
  const keepApart = async (ctx: RequestContext, account: Account, version: number, why: string) => {
    await store.transaction(async (trx) => {
      await versions.setStatus(trx, account.id, version, 'partial', clock.now());
      await audit.appendInTx(trx, [
        event(ctx, account, 'account.rotate.partial', 'failure', { version, why }),
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
    const now = clock.now();
    const failures = account.rotationFailures + 1;
    await store.transaction(async (trx) => {
      await trx
        .updateTable('accounts')
        .set({
          state: 'rotation_failed',
          last_rotation_error: message,
          rotation_failures: failures,
          last_rotation_attempt_at: now,
          next_rotation_at: now + retryDelayMs(failures),
        })
        .where('id', '=', account.id)
        .execute();
      await audit.appendInTx(trx, [
        event(ctx, account, 'account.rotate', 'failure', { ...details, error: message, failures }),
      ]);
    });
    await store.durable();
    const error = new TesseraError(
      'ROTATION_FAILED',
      `rotation of ${account.ref} failed: ${message}`,
    );
    recorded.add(error);
    return error;
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
    const pendingWorks = await login(target, account, pending);
    if (pendingWorks.kind === 'valid') {
      await promote(ctx, account, policy, pendingVersion, {
        version: pendingVersion,
        recovered: true,
      });
      return true;
    }
    if (account.currentVersion === null) {
      // A first value set through the reconcile account: with nothing to fall back on, a value
      // the target refuses was never applied, and the next pass reconciles afresh.
      if (pendingWorks.kind === 'invalid') {
        await discard(ctx, account, pendingVersion, 'the target does not hold it');
        return false;
      }
      throw await fail(ctx, account, describeDrift(pendingWorks, pendingWorks), {
        version: pendingVersion,
      });
    }
    const currentWorks = await login(target, account, await readCurrent(account));
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
    const mode = origin === 'reconcile' ? 'reconcile' : 'either';

    for (let attempts = 1; attempts <= MAX_CANDIDATES; attempts++) {
      const current =
        account.currentVersion === null ? null : (await readCurrent(account)).toString('utf8');
      const { via, logon, logonVersion } = await logonFor(account, current, mode);
      const candidate = generateCandidate(account.secretType, rules, account.ref);
      const version = await storePending(ctx, account, candidate, origin);

      const outcome = await connector.change(target, {
        account: account.username,
        secretKind: account.secretType,
        newSecret: candidate,
        currentSecret: current,
        via,
        logon,
      });
      if (outcome.kind === 'not-sent') {
        await discard(ctx, account, version, 'the change never reached the target');
        if (via === 'reconcile' && (await reconcileMoved(account, logonVersion))) continue;
        throw await fail(ctx, account, outcome.reason, { version, via });
      }
      if (outcome.kind === 'rejected') {
        await discard(ctx, account, version, `target refused the value: ${outcome.reason}`);
        continue;
      }
      if (outcome.kind === 'partial') {
        await keepApart(ctx, account, version, outcome.reason);
        throw await fail(ctx, account, `${outcome.reason}; reconcile the account`, { version });
      }
      const verified = await connector.verify(
        target,
        credentialOf(account, Buffer.from(candidate, 'utf8')),
      );
      if (verified.kind === 'valid') {
        await promote(ctx, account, policy, version, { version, origin, attempts, via });
        return { version, attempts };
      }
      // Applied but the new value does not log in, or the outcome is unknown: ask the target.
      if (await settle(ctx, account, version)) return { version, attempts };
      if (outcome.kind === 'unknown') throw await fail(ctx, account, outcome.reason, { version });
    }
    throw await fail(ctx, account, `the target refused ${MAX_CANDIDATES} generated values`, {
      origin,
      alert: 'candidates-exhausted',
    });
  };

  /** Holds the account's lease for `work`, turning unexpected errors into a recorded failure. */
  const underLease = async <T>(
    ctx: RequestContext,
    account: Account,
    origin: RotationOrigin,
    work: () => Promise<T>,
  ): Promise<T> => {
    const owner = await acquireLease(account);
    try {
      return await work();
    } catch (error) {
      if (error instanceof Error && recorded.has(error)) throw error;
      // Any other way out is a failed rotation too: recorded, and retried after the back-off
      // instead of at every scheduler pass.
      if (error instanceof TesseraError) {
        await fail(ctx, account, error.message, { origin });
        throw error;
      }
      logger.error({ err: error, account: account.ref }, 'rotation failed unexpectedly');
      throw await fail(ctx, account, 'unexpected error (see server log)', { origin });
    } finally {
      await releaseLease(account.id, owner);
    }
  };

  return {
    rotate: (ctx, account, origin) =>
      underLease(ctx, account, origin, async () => {
        // A pending version left by an interrupted rotation is settled before a new one starts.
        const pending = await versions.pending(store.db, account.id);
        if (pending !== null)
          await settle(ctx, await accounts.reload(store.db, account.id), pending);
        return attempt(ctx, await accounts.reload(store.db, account.id), origin);
      }),

    async reconcile(ctx, account) {
      // Asked of an account without one, nothing was tried: not a failed rotation to record.
      if (account.reconcileAccountId === null) {
        throw new TesseraError('CONFLICT', `${account.ref} has no reconcile account`);
      }
      return underLease(ctx, account, 'reconcile', async () => {
        const pending = await versions.pending(store.db, account.id);
        if (pending !== null) {
          // Neither value may log in any more: that is why one reconciles. The pending value is
          // then only a candidate the target never kept.
          const fresh = await accounts.reload(store.db, account.id);
          await settle(ctx, fresh, pending).catch(async (error: unknown) => {
            if (!(error instanceof TesseraError)) throw error;
            await discard(ctx, fresh, pending, 'superseded by a reconcile');
          });
        }
        return attempt(ctx, await accounts.reload(store.db, account.id), 'reconcile');
      });
    },

    async verify(ctx, account) {
      const target = await targets.byId(account.targetId);
      const outcome = await login(target, account, await readCurrent(account));
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
        // One that could not be settled waits out the back-off like any failed rotation,
        // instead of two failed logins on the target at every pass.
        .where((eb) =>
          eb.or([
            eb('accounts.rotation_failures', '=', 0),
            eb('accounts.next_rotation_at', 'is', null),
            eb('accounts.next_rotation_at', '<=', now),
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

function credentialOf(account: Account, secret: Buffer): Credential {
  return { username: account.username, secret: secret.toString('utf8'), kind: account.secretType };
}

/** A new password from the policy's rules, or a new key pair named after the account. */
function generateCandidate(kind: SecretKind, rules: SecretRules, ref: string): string {
  return kind === 'ssh-key'
    ? generateSshPrivateKey(`tessera-managed:${ref}`)
    : generateSecret(rules);
}

function describeDrift(pending: VerifyOutcome, current: VerifyOutcome): string {
  const unreachable = [pending, current].find((outcome) => outcome.kind === 'unreachable');
  if (unreachable?.kind === 'unreachable') return `target unreachable: ${unreachable.reason}`;
  return 'neither the pending nor the current value logs in: reconcile the account';
}
