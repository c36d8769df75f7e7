/**
 * Zero standing privilege: for an approved ephemeral grant, an account of its own is created on
 * the target, shown once to the grant's user, and dropped when the grant ends. The grant
 * service calls `provision` and `dropForGrant`; a ticker calls `reap`, which also runs once at
 * every unseal (server.ts), so accounts whose grant ended while Tessera was down, or whose
 * creation a crash interrupted, are dropped.
 *
 * The row is written and flushed before the target is touched, so the target never holds an
 * account the store does not know; and an account is only ever dropped under a name Tessera
 * generated (`tsr_` and 10 characters).
 */

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AccountService } from '../accounts/account-service.ts';
import type { PolicyService } from '../accounts/policies.ts';
import type { SecretVersions } from '../accounts/secret-versions.ts';
import type { Target, TargetService } from '../accounts/targets.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { type RequestContext, SYSTEM_CONTEXT } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import type { Connector, EphemeralOutcome } from '../connectors/connector.ts';
import { isTesseraError, notFound, TesseraError } from '../errors.ts';
import type { Principal } from '../identity/principal.ts';
import { generateSecret } from '../rotation/password-generator.ts';
import type { Store } from '../store/store.ts';
import { ephemeralSecretContext } from '../vault/contexts.ts';
import type { Keyring } from '../vault/keyring.ts';
import { openWithRoot, sealWithRoot } from '../vault/root-sealed.ts';
import type { AccessDecision } from './access-decision.ts';
import type { AccessPolicyService } from './access-policies.ts';
import {
  type AdminLogin,
  createEphemeralConfigs,
  type EphemeralConfig,
  type EphemeralConfigInput,
} from './ephemeral-config.ts';
import { createEphemeralLogins, type EphemeralLogins } from './ephemeral-logins.ts';
import {
  EPHEMERAL_NAME,
  type EphemeralAccount,
  type EphemeralFilter,
  type EphemeralRow,
  type EventSubject,
  ephemeralEvent,
  ephemeralUsername,
  listRows,
  rowsQuery,
  toEphemeralAccount,
} from './ephemeral-records.ts';

export type { EphemeralConfig, EphemeralConfigInput } from './ephemeral-config.ts';
export type { EphemeralLogin, EphemeralLogins } from './ephemeral-logins.ts';
export {
  EPHEMERAL_STATES,
  type EphemeralAccount,
  type EphemeralFilter,
  type EphemeralState,
} from './ephemeral-records.ts';

/** What `provision` needs of an approved ephemeral grant. */
export interface EphemeralGrant {
  readonly id: string;
  readonly userId: string;
  readonly targetId: string;
  readonly role: string;
  readonly endsAt: number;
}

/** Shown once to the grant's user. */
export interface EphemeralCredential {
  readonly username: string;
  readonly password: string;
  readonly host: string;
  readonly port: number;
  readonly database: string | null;
}

/** The gateway's part (`EphemeralLogins`) logs in with the password without revealing it. */
export interface EphemeralService extends EphemeralLogins {
  configure(
    ctx: RequestContext,
    principal: Principal,
    targetName: string,
    input: EphemeralConfigInput,
  ): Promise<EphemeralConfig>;
  /** NOT_FOUND when the target has no ephemeral configuration. */
  config(targetName: string): Promise<EphemeralConfig>;
  /**
   * Creates the grant's account on its target. Throws EPHEMERAL_FAILED (audited, the row left
   * `failed` and whatever reached the target dropped) when it cannot.
   */
  provision(ctx: RequestContext, grant: EphemeralGrant): Promise<EphemeralAccount>;
  /**
   * The credential, to the grant's own user, while the grant holds, once. The sealed value is
   * kept (the gateway logs in with it) until the account is dropped.
   */
  reveal(ctx: RequestContext, principal: Principal, grantId: string): Promise<EphemeralCredential>;
  /**
   * Drops every account of the grant still on its target; safe to repeat. Throws
   * EPHEMERAL_FAILED when one could not be dropped (recorded; `reap` tries again).
   */
  dropForGrant(ctx: RequestContext, grantId: string): Promise<number>;
  /**
   * Drops every account whose grant ended, was revoked or is gone, every failed one, and every
   * one a crash left `creating`; returns how many it dropped. Does nothing while sealed.
   */
  reap(): Promise<number>;
  /** For admins and auditors: the route checks `ephemeral.read`. */
  list(filter: EphemeralFilter): Promise<EphemeralAccount[]>;
}

/**
 * A `creating` row older than this was left by a crash: creation is bounded by the connector's
 * timeouts (a login and a few statements), far below it. Newer ones may be another node's.
 */
export const CREATING_STALE_MS = 5 * 60_000;
/** Ephemeral passwords are never shorter than this, whatever the admin account's policy. */
const MIN_PASSWORD_LENGTH = 24;
const REAP_BATCH = 200;

interface Deps {
  store: Store;
  audit: AuditLog;
  access: AccessDecision;
  keyring: Keyring;
  clock: Clock;
  logger: Logger;
  connectors: ReadonlyMap<string, Connector>;
  accounts: AccountService;
  targets: TargetService;
  policies: PolicyService;
  versions: SecretVersions;
  accessPolicies: Pick<AccessPolicyService, 'effective'>;
}

export function createEphemeralService(deps: Deps): EphemeralService {
  const { store, audit, keyring, clock, logger, targets } = deps;
  const configs = createEphemeralConfigs(deps);
  const { configOf, adminLogin } = configs;
  /** Rows this node is creating right now: the reaper leaves them alone. */
  const creating = new Set<string>();
  /** Passes run one after another: the same row is never dropped twice at once here. */
  let reaping: Promise<unknown> = Promise.resolve();

  /** Connectors answer with verdicts; a throw is a fault in one, logged for its authors. */
  const onTarget = async (
    target: Target,
    step: string,
    call: () => Promise<EphemeralOutcome>,
  ): Promise<EphemeralOutcome> => {
    try {
      return await call();
    } catch (error) {
      logger.error({ err: error, target: target.name, step }, 'ephemeral connector threw');
      return { kind: 'failed', reason: `${step}: the connector failed` };
    }
  };

  // -------------------------------------------------------------------------------------------
  // provision

  /** A refusal before anything was written: audited, then raised. */
  const refuse = async (
    ctx: RequestContext,
    grant: EphemeralGrant,
    target: string,
    why: string,
  ) => {
    await audit.record({
      action: 'ephemeral.create',
      outcome: 'failure',
      actor: ctx.actor,
      object: { type: 'grant', id: grant.id, name: target },
      source: ctx.source,
      requestId: ctx.requestId,
      details: { grant: grant.id, target, role: grant.role, error: why },
    });
    return new TesseraError('EPHEMERAL_FAILED', `no ephemeral account on ${target}: ${why}`);
  };

  /** Every local check, before anything is written or the target is touched. */
  const prepare = async (ctx: RequestContext, grant: EphemeralGrant) => {
    const target = await targets.byId(grant.targetId);
    let admin: AdminLogin;
    try {
      admin = await adminLogin(target);
    } catch (error) {
      if (!isTesseraError(error) || error.code === 'VAULT_SEALED') throw error;
      throw await refuse(ctx, grant, target.name, error.message);
    }
    const config = await configOf(target);
    const problem = await grantProblem(grant, config);
    if (problem !== null) throw await refuse(ctx, grant, target.name, problem);
    const password = await passwordFor(admin);
    return { target, admin, password };
  };

  const grantProblem = async (grant: EphemeralGrant, config: EphemeralConfig) => {
    if (!config.roles.includes(grant.role)) {
      return `the role ${grant.role} is not one of the target's ephemeral roles`;
    }
    if (grant.endsAt <= clock.now()) return 'the grant has already ended';
    const live = await store.db
      .selectFrom('ephemeral_accounts')
      .select('id')
      .where('grant_id', '=', grant.id)
      .where('state', 'in', ['creating', 'active'])
      .executeTakeFirst();
    return live === undefined ? null : 'the grant already has an ephemeral account';
  };

  const passwordFor = async ({ connector, admin }: AdminLogin) => {
    const policy = await deps.policies.byId(admin.policyId);
    const length = Math.max(policy.secret.length, MIN_PASSWORD_LENGTH);
    return generateSecret({
      ...policy.secret,
      length: Math.min(length, connector.secretRules.maxLength),
      exclude: policy.secret.exclude + connector.secretRules.forbiddenCharacters,
    });
  };

  const provision: EphemeralService['provision'] = async (ctx, grant) => {
    const { target, admin, password } = await prepare(ctx, grant);
    const id = randomUUID();
    // Sealed first: a sealed vault stops here, before the row or the target.
    const sealed = sealWithRoot(keyring, Buffer.from(password, 'utf8'), ephemeralSecretContext(id));
    const username = ephemeralUsername();
    const subject = { id, grantId: grant.id, target: target.name, username, role: grant.role };

    await store.db
      .insertInto('ephemeral_accounts')
      .values({
        id,
        grant_id: grant.id,
        target_id: target.id,
        username,
        role: grant.role,
        state: 'creating',
        ciphertext: null,
        revealed_at: null,
        created_at: clock.now(),
        dropped_at: null,
        last_error: null,
      })
      .execute();
    // A crash from here on leaves a row the reaper finds, never an account nobody knows.
    await store.durable();

    creating.add(id);
    try {
      const spec = { username, password, role: grant.role, validUntil: new Date(grant.endsAt) };
      const created = await onTarget(target, 'create', () =>
        admin.support.create(target, admin.login, spec),
      );
      if (created.kind === 'failed') {
        throw await failCreation(ctx, subject, target, admin, created.reason);
      }
      return await activate(ctx, subject, target, admin, sealed);
    } finally {
      creating.delete(id);
    }
  };

  const activate = async (
    ctx: RequestContext,
    subject: EventSubject,
    target: Target,
    admin: AdminLogin,
    sealed: Buffer,
  ) => {
    const activated = await store.transaction(async (trx) => {
      const result = await trx
        .updateTable('ephemeral_accounts')
        .set({ state: 'active', ciphertext: sealed })
        .where('id', '=', subject.id)
        .where('state', '=', 'creating')
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) return false;
      await audit.appendInTx(trx, [ephemeralEvent(ctx, 'ephemeral.create', 'success', subject)]);
      return true;
    });
    await store.durable();
    if (!activated) {
      // The grant ended while the account was being made, and its row was dropped meanwhile.
      await onTarget(target, 'drop', () =>
        admin.support.drop(target, admin.login, subject.username),
      );
      throw new TesseraError('EPHEMERAL_FAILED', 'the grant ended while its account was created');
    }
    return toEphemeralAccount(await rowById(subject.id));
  };

  /** Drops whatever reached the target, records the failure, returns the error to raise. */
  const failCreation = async (
    ctx: RequestContext,
    subject: EventSubject,
    target: Target,
    admin: AdminLogin,
    reason: string,
  ) => {
    const cleanup = await onTarget(target, 'drop', () =>
      admin.support.drop(target, admin.login, subject.username),
    );
    const now = clock.now();
    const lastError =
      cleanup.kind === 'done' ? reason : `${reason}; then the drop failed: ${cleanup.reason}`;
    await store.transaction(async (trx) => {
      await trx
        .updateTable('ephemeral_accounts')
        .set({
          state: 'failed',
          last_error: lastError,
          dropped_at: cleanup.kind === 'done' ? now : null,
        })
        .where('id', '=', subject.id)
        .execute();
      await audit.appendInTx(trx, [
        ephemeralEvent(ctx, 'ephemeral.create', 'failure', subject, { error: lastError }),
      ]);
    });
    await store.durable();
    return new TesseraError(
      'EPHEMERAL_FAILED',
      `could not create the ephemeral account on ${target.name}: ${reason}`,
      { account: subject.id },
    );
  };

  const rowById = async (id: string): Promise<EphemeralRow> =>
    (await rowsQuery(store.db)
      .where('ephemeral_accounts.id', '=', id)
      .executeTakeFirstOrThrow()) as EphemeralRow;

  // -------------------------------------------------------------------------------------------
  // reveal

  const reveal: EphemeralService['reveal'] = async (ctx, principal, grantId) => {
    const row = await revealable(principal, grantId);
    const subject = subjectOf(row);
    if (row.revealed_at !== null || row.ciphertext === null) {
      throw await alreadyRevealed(ctx, subject);
    }
    // Opened before the one reveal is spent: a sealed vault must not use it up.
    const password = openWithRoot(keyring, row.ciphertext, ephemeralSecretContext(row.id));
    const now = clock.now();
    const won = await store.transaction(async (trx) => {
      const result = await trx
        .updateTable('ephemeral_accounts')
        .set({ revealed_at: now })
        .where('id', '=', row.id)
        .where('state', '=', 'active')
        .where('revealed_at', 'is', null)
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) return false;
      await audit.appendInTx(trx, [ephemeralEvent(ctx, 'ephemeral.reveal', 'success', subject)]);
      return true;
    });
    if (!won) throw await alreadyRevealed(ctx, subject);
    // The value leaves only once its audit event is on disk.
    await store.durable();
    const target = await targets.byId(row.target_id);
    return {
      username: row.username,
      password: password.toString('utf8'),
      host: target.host,
      port: target.port,
      database: target.database ?? null,
    };
  };

  /** The grant's active account, for its own user while the grant holds. */
  const revealable = async (principal: Principal, grantId: string): Promise<EphemeralRow> => {
    const grant = await store.db
      .selectFrom('grants')
      .select(['user_id', 'kind', 'starts_at', 'ends_at', 'revoked_at', 'safe_id', 'account_id'])
      .where('id', '=', grantId)
      .executeTakeFirst();
    // Another user's grant reads exactly like a missing one: its existence is not confirmed.
    if (grant === undefined || grant.user_id !== principal.userId) throw notFound('grant');
    const now = clock.now();
    const holds = grant.revoked_at === null && grant.starts_at <= now && now < grant.ends_at;
    if (!holds) throw new TesseraError('CONFLICT', 'the grant is not active');
    const policy = await deps.accessPolicies.effective(grant.safe_id, grant.account_id);
    if (!policy.ephemeralReveal) {
      throw new TesseraError('FORBIDDEN', 'the access policy does not reveal ephemeral passwords');
    }
    const row = await rowsQuery(store.db)
      .where('ephemeral_accounts.grant_id', '=', grantId)
      .where('ephemeral_accounts.state', '=', 'active')
      .executeTakeFirst();
    if (row === undefined) {
      throw new TesseraError('CONFLICT', 'the grant has no ephemeral account ready');
    }
    return row as EphemeralRow;
  };

  const alreadyRevealed = async (ctx: RequestContext, subject: EventSubject) => {
    await audit.record(
      ephemeralEvent(ctx, 'ephemeral.reveal', 'denied', subject, { why: 'already revealed' }),
    );
    return new TesseraError('CONFLICT', 'the credential was already revealed');
  };

  // -------------------------------------------------------------------------------------------
  // drop

  /** Drops one account on its target and records it; throws EPHEMERAL_FAILED when it cannot. */
  const dropRow = async (ctx: RequestContext, row: EphemeralRow): Promise<void> => {
    const subject = subjectOf(row);
    const target = await targets.byId(row.target_id);
    const outcome = await dropOnTarget(target, row.username);
    if (outcome.kind === 'failed') {
      await recordDropFailure(ctx, row, subject, outcome.reason);
      throw new TesseraError(
        'EPHEMERAL_FAILED',
        `could not drop ${row.username} on ${target.name}: ${outcome.reason}`,
        { account: row.id },
      );
    }
    const now = clock.now();
    await store.transaction(async (trx) => {
      const result = await trx
        .updateTable('ephemeral_accounts')
        // A failed creation stays `failed`: it now also says the target no longer holds it.
        .set({
          state: row.state === 'failed' ? 'failed' : 'dropped',
          dropped_at: now,
          ciphertext: null,
          last_error: null,
        })
        .where('id', '=', row.id)
        .where('dropped_at', 'is', null)
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) return;
      await audit.appendInTx(trx, [ephemeralEvent(ctx, 'ephemeral.drop', 'success', subject)]);
    });
    await store.durable();
  };

  const dropOnTarget = async (target: Target, username: string): Promise<EphemeralOutcome> => {
    if (!EPHEMERAL_NAME.test(username)) {
      return { kind: 'failed', reason: `${username} is not a name Tessera generates; refused` };
    }
    let admin: AdminLogin;
    try {
      admin = await adminLogin(target);
    } catch (error) {
      if (!isTesseraError(error) || error.code === 'VAULT_SEALED') throw error;
      return { kind: 'failed', reason: error.message };
    }
    return onTarget(target, 'drop', () => admin.support.drop(target, admin.login, username));
  };

  /** Kept for the next try; audited when the reason is new, not at every retry. */
  const recordDropFailure = async (
    ctx: RequestContext,
    row: EphemeralRow,
    subject: EventSubject,
    reason: string,
  ) => {
    await store.transaction(async (trx) => {
      await trx
        .updateTable('ephemeral_accounts')
        .set({ last_error: reason })
        .where('id', '=', row.id)
        .execute();
      if (row.last_error === reason) return;
      await audit.appendInTx(trx, [
        ephemeralEvent(ctx, 'ephemeral.drop', 'failure', subject, { error: reason }),
      ]);
    });
    await store.durable();
  };

  const dropForGrant: EphemeralService['dropForGrant'] = async (ctx, grantId) => {
    const rows = await rowsQuery(store.db)
      .where('ephemeral_accounts.grant_id', '=', grantId)
      .where('ephemeral_accounts.dropped_at', 'is', null)
      .execute();
    for (const row of rows) await dropRow(ctx, row as EphemeralRow);
    return rows.length;
  };

  // -------------------------------------------------------------------------------------------
  // reap

  const dueRows = async (): Promise<EphemeralRow[]> => {
    const now = clock.now();
    const rows = await rowsQuery(store.db)
      .leftJoin('grants', 'grants.id', 'ephemeral_accounts.grant_id')
      .where('ephemeral_accounts.dropped_at', 'is', null)
      .where((eb) =>
        eb.or([
          eb('grants.id', 'is', null),
          eb('grants.ends_at', '<=', now),
          eb('grants.revoked_at', 'is not', null),
          eb('ephemeral_accounts.state', '=', 'failed'),
          eb.and([
            eb('ephemeral_accounts.state', '=', 'creating'),
            eb('ephemeral_accounts.created_at', '<=', now - CREATING_STALE_MS),
          ]),
        ]),
      )
      .orderBy('ephemeral_accounts.created_at')
      .limit(REAP_BATCH)
      .execute();
    return (rows as EphemeralRow[]).filter((row) => !creating.has(row.id));
  };

  const reapOnce = async (): Promise<number> => {
    let dropped = 0;
    for (const row of await dueRows()) {
      try {
        await dropRow(SYSTEM_CONTEXT, row);
        dropped += 1;
      } catch (error) {
        if (isTesseraError(error) && error.code === 'VAULT_SEALED') break;
        const code = isTesseraError(error) ? error.code : 'INTERNAL';
        logger.warn({ err: error, code, ephemeral: row.id }, 'ephemeral drop failed; will retry');
      }
    }
    if (dropped > 0) logger.info({ dropped }, 'ephemeral accounts reaped');
    return dropped;
  };

  return {
    ...createEphemeralLogins({ store, keyring, clock }),
    async configure(ctx, principal, targetName, input) {
      return configs.configure(ctx, principal, await targets.byName(targetName), input);
    },
    async config(targetName) {
      return configOf(await targets.byName(targetName));
    },
    provision,
    reveal,
    dropForGrant,
    reap() {
      if (keyring.isSealed()) return Promise.resolve(0);
      // A call during a pass waits for it, then looks again: rows due by now are all seen.
      const pass = reaping.then(reapOnce);
      reaping = pass.catch(() => undefined);
      return pass;
    },
    async list(filter) {
      return (await listRows(store.db, filter)).map((row) =>
        toEphemeralAccount(row as EphemeralRow),
      );
    },
  };
}

function subjectOf(row: EphemeralRow): EventSubject {
  return {
    id: row.id,
    grantId: row.grant_id,
    target: row.target_name,
    username: row.username,
    role: row.role,
  };
}
