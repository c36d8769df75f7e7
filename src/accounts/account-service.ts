import { randomUUID } from 'node:crypto';
import type { AccessDecision } from '../access/access-decision.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RequestContext } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import type { Connector, SecretKind, TargetOptions } from '../connectors/connector.ts';
import { notFound, TesseraError } from '../errors.ts';
import type { Principal } from '../identity/principal.ts';
import { nextRotationAt } from '../rotation/schedule.ts';
import type { AccountTable } from '../store/schema.ts';
import type { Queryable, Store } from '../store/store.ts';
import { type Account, type AccountRow, parseAccountRef, toAccount } from './account.ts';
import type { PolicyService } from './policies.ts';
import type { SecretVersionInfo, SecretVersions } from './secret-versions.ts';

export interface OnboardInput {
  readonly target: string;
  readonly username: string;
  readonly safe: string;
  readonly policy?: string | undefined;
  /**
   * The account's current secret on the target, stored byte for byte. Left out only with a
   * reconcile account: the account is then given a new secret through it at the next pass.
   */
  readonly secret?: string | undefined;
  /** `password` when left out; the target's platform must rotate this kind. */
  readonly secretType?: SecretKind | undefined;
  /** `TARGET/USERNAME` of an account on the same target that changes this one's secret. */
  readonly reconcileAccount?: string | undefined;
}

export interface AccountFilter {
  readonly safe?: string | undefined;
  readonly target?: string | undefined;
}

export interface AccountService {
  onboard(ctx: RequestContext, principal: Principal, input: OnboardInput): Promise<Account>;
  list(principal: Principal, filter: AccountFilter): Promise<Account[]>;
  /** The account, for a caller allowed to do `action` on it; others get NOT_FOUND or FORBIDDEN. */
  get(
    principal: Principal,
    ref: { target: string; username: string },
    action: AccountAction,
  ): Promise<Account>;
  /**
   * The account with no access check, for a service that decides access itself (check-in,
   * where the holder may always give back). Anything else uses `get`.
   */
  find(ref: { target: string; username: string }): Promise<Account>;
  history(account: Account): Promise<SecretVersionInfo[]>;
  /** Reads the row again, inside a transaction when one is given. */
  reload(db: Queryable, accountId: string): Promise<Account>;
  /**
   * Names the account that changes this one's secret (null: the account changes its own).
   * The caller must be able to rotate both accounts: a link would otherwise let a safe manager
   * borrow a stronger account's power over the target.
   */
  setReconcileAccount(
    ctx: RequestContext,
    principal: Principal,
    account: Account,
    reconcileRef: string | null,
  ): Promise<Account>;
}

export type AccountAction =
  | 'account.read'
  | 'account.verify'
  | 'account.rotate'
  | 'secret.retrieve'
  | 'account.checkout';

export function accountQuery(db: Queryable) {
  return db
    .selectFrom('accounts')
    .innerJoin('targets', 'targets.id', 'accounts.target_id')
    .innerJoin('safes', 'safes.id', 'accounts.safe_id')
    .innerJoin('policies', 'policies.id', 'accounts.policy_id')
    .selectAll('accounts')
    .select([
      'targets.name as target_name',
      'safes.name as safe_name',
      'policies.name as policy_name',
    ]);
}

type NamedTable = 'targets' | 'safes' | 'policies';

function createNameCache() {
  const known = new Map<string, string>();
  return {
    async of(db: Queryable, table: NamedTable, id: string): Promise<string> {
      const cached = known.get(id);
      if (cached !== undefined) return cached;
      const row = await db
        .selectFrom(table)
        .select('name')
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      known.set(id, row.name);
      return row.name;
    },
  };
}

export function createAccountService(deps: {
  store: Store;
  audit: AuditLog;
  access: AccessDecision;
  policies: PolicyService;
  versions: SecretVersions;
  clock: Clock;
  /** Which kinds of secret each platform rotates. */
  connectors: ReadonlyMap<string, Connector>;
}): AccountService {
  const { store, audit, access, policies, versions, clock } = deps;

  // Names of targets, safes and policies never change, so each is read once. Looking the
  // account up alone and naming its relatives from here is several times faster on SQLite than
  // the four-table join, and this lookup runs on every reveal and check-out.
  const names = createNameCache();

  const withNames = async (db: Queryable, row: AccountTable | undefined) => {
    if (row === undefined) throw notFound('account');
    const named: AccountRow = {
      ...row,
      target_name: await names.of(db, 'targets', row.target_id),
      safe_name: await names.of(db, 'safes', row.safe_id),
      policy_name: await names.of(db, 'policies', row.policy_id),
    };
    return toAccount(named, clock.now());
  };

  const reload = async (db: Queryable, accountId: string) =>
    withNames(
      db,
      await db.selectFrom('accounts').selectAll().where('id', '=', accountId).executeTakeFirst(),
    );

  /** Checks a reconcile account named for an account of `targetId` (`self`: that account). */
  const reconcileAccountFor = async (
    principal: Principal,
    targetId: string,
    ref: string,
    self: string | null,
  ): Promise<Account> => {
    const parsed = parseAccountRef(ref);
    if (parsed === null) {
      throw new TesseraError('VALIDATION_FAILED', 'the reconcile account is not TARGET/USERNAME');
    }
    const reconcile = await findByRef(parsed);
    await access.require(principal, 'account.rotate', reconcile.safeId);
    if (reconcile.targetId !== targetId) {
      throw new TesseraError(
        'VALIDATION_FAILED',
        `the reconcile account ${reconcile.ref} is on another target`,
      );
    }
    if (reconcile.id === self) {
      throw new TesseraError('VALIDATION_FAILED', 'an account cannot be its own reconcile account');
    }
    if (self !== null) {
      const account = await reload(store.db, self);
      const target = await targetRow(targetId);
      const sameLogin = sameLoginOn(deps.connectors.get(target.platform), target);
      if (sameLogin(reconcile.username, account.username)) {
        throw new TesseraError(
          'VALIDATION_FAILED',
          `${account.ref} and its reconcile account ${reconcile.ref} are the same login`,
        );
      }
    }
    if (reconcile.secretType !== 'password') {
      throw new TesseraError('VALIDATION_FAILED', 'a reconcile account must hold a password');
    }
    return reconcile;
  };

  const targetRow = async (id: string) =>
    store.db
      .selectFrom('targets')
      .select(['id', 'name', 'platform', 'host', 'port', 'options'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();

  const findByRef = async (ref: { target: string; username: string }) => {
    const row = await store.db
      .selectFrom('accounts')
      .selectAll()
      .where('target_id', '=', (eb) =>
        eb.selectFrom('targets').select('id').where('name', '=', ref.target),
      )
      .where('username', '=', ref.username)
      .executeTakeFirst();
    return withNames(store.db, row);
  };

  return {
    reload,

    async onboard(ctx, principal, input) {
      // Every local check runs before anything is written.
      const safe = await store.db
        .selectFrom('safes')
        .select(['id', 'name'])
        .where('name', '=', input.safe)
        .executeTakeFirst();
      if (safe === undefined) throw notFound('safe');
      await access.require(principal, 'account.create', safe.id);
      const target = await store.db
        .selectFrom('targets')
        .select(['id', 'name', 'platform', 'host', 'port', 'options'])
        .where('name', '=', input.target)
        .executeTakeFirst();
      if (target === undefined) throw notFound('target');
      const secretType = input.secretType ?? 'password';
      const reconcile =
        input.reconcileAccount === undefined
          ? null
          : await reconcileAccountFor(principal, target.id, input.reconcileAccount, null);
      if (input.secret === undefined && reconcile === null) {
        throw new TesseraError(
          'VALIDATION_FAILED',
          'give the current secret, or a reconcile account to set one',
        );
      }
      const connector = deps.connectors.get(target.platform);
      checkSecretType(connector, secretType, input.secret);
      const nameProblem = connector?.checkUsername?.(input.username) ?? null;
      if (nameProblem !== null) {
        throw new TesseraError('VALIDATION_FAILED', `${target.platform}: ${nameProblem}`);
      }
      const sameLogin = sameLoginOn(connector, target);
      if (reconcile !== null && sameLogin(reconcile.username, input.username)) {
        throw new TesseraError(
          'VALIDATION_FAILED',
          `${input.username} and its reconcile account ${reconcile.ref} are the same login`,
        );
      }
      const secret = input.secret;
      const policy =
        input.policy === undefined
          ? await policies.ensureDefault()
          : await policies.byName(input.policy);

      const now = clock.now();
      const id = randomUUID();
      await store.transaction(async (trx) => {
        // One account per login: `app` and `app@%` on MariaDB, or one DN written two ways,
        // would otherwise hold two values of one password in two safes.
        const onTarget = await trx
          .selectFrom('accounts')
          .select('username')
          .where('target_id', '=', target.id)
          .execute();
        const existing = onTarget.find((other) => sameLogin(other.username, input.username));
        if (existing !== undefined) {
          const same = existing.username === input.username;
          throw new TesseraError(
            'ALREADY_EXISTS',
            same
              ? `account ${input.target}/${input.username} already exists`
              : `account ${input.target}/${existing.username} already covers ${input.username}`,
          );
        }
        await trx
          .insertInto('accounts')
          .values({
            id,
            target_id: target.id,
            username: input.username,
            safe_id: safe.id,
            policy_id: policy.id,
            current_version: secret === undefined ? null : 1,
            state: 'unverified',
            last_verified_at: null,
            last_verify_result: null,
            last_rotated_at: null,
            last_rotation_error: null,
            next_rotation_at: nextRotationAt(policy, id, now),
            needs_rotation: secret === undefined ? 1 : 0,
            secret_type: secretType,
            reconcile_account_id: reconcile?.id ?? null,
            rotation_failures: 0,
            last_rotation_attempt_at: null,
            rotation_lease_owner: null,
            rotation_lease_until: null,
            checkout_id: null,
            checked_out_by: null,
            checked_out_at: null,
            checkout_expires_at: null,
            created_at: now,
            breakglass: 0,
          })
          .execute();
        if (secret !== undefined) {
          await versions.write(
            trx,
            { accountId: id, safeId: safe.id, version: 1 },
            {
              value: Buffer.from(secret, 'utf8'),
              status: 'current',
              origin: 'onboard',
              createdBy: principal.name,
              now,
            },
          );
        }
        await audit.appendInTx(trx, [
          {
            action: 'account.onboard',
            outcome: 'success',
            actor: ctx.actor,
            object: { type: 'account', id, name: `${input.target}/${input.username}` },
            source: ctx.source,
            requestId: ctx.requestId,
            details: {
              safe: safe.name,
              policy: policy.name,
              version: secret === undefined ? null : 1,
              secretType,
              reconcileAccount: reconcile?.ref ?? null,
            },
          },
        ]);
      });
      await store.durable();
      return reload(store.db, id);
    },

    async list(principal, filter) {
      let query = accountQuery(store.db).orderBy('targets.name').orderBy('accounts.username');
      if (filter.safe !== undefined) query = query.where('safes.name', '=', filter.safe);
      if (filter.target !== undefined) query = query.where('targets.name', '=', filter.target);
      const now = clock.now();
      if (principal.role === 'user') {
        // A member of the safe sees its accounts; a live grant shows what it covers.
        query = query.where((eb) =>
          eb.or([
            eb.exists(
              eb
                .selectFrom('safe_members')
                .select('safe_members.user_id')
                .whereRef('safe_members.safe_id', '=', 'accounts.safe_id')
                .where('safe_members.user_id', '=', principal.userId),
            ),
            eb.exists(
              eb
                .selectFrom('grants')
                .select('grants.id')
                .whereRef('grants.safe_id', '=', 'accounts.safe_id')
                .where((g) =>
                  g.or([
                    g('grants.account_id', 'is', null),
                    g('grants.account_id', '=', g.ref('accounts.id')),
                  ]),
                )
                .where('grants.user_id', '=', principal.userId)
                .where('grants.kind', '!=', 'ephemeral')
                .where('grants.revoked_at', 'is', null)
                .where('grants.starts_at', '<=', now)
                .where('grants.ends_at', '>', now),
            ),
          ]),
        );
      }
      const rows = await query.execute();
      return rows.map((row) => toAccount(row, now));
    },

    async get(principal, ref, action) {
      const account = await findByRef(ref);
      await access.require(principal, action, account.safeId, account.id);
      return account;
    },

    find: (ref) => findByRef(ref),

    async setReconcileAccount(ctx, principal, account, reconcileRef) {
      const reconcile =
        reconcileRef === null
          ? null
          : await reconcileAccountFor(principal, account.targetId, reconcileRef, account.id);
      await store.transaction(async (trx) => {
        await trx
          .updateTable('accounts')
          .set({ reconcile_account_id: reconcile?.id ?? null })
          .where('id', '=', account.id)
          .execute();
        await audit.appendInTx(trx, [
          {
            action: 'account.reconcile-account.set',
            outcome: 'success',
            actor: ctx.actor,
            object: { type: 'account', id: account.id, name: account.ref },
            source: ctx.source,
            requestId: ctx.requestId,
            details: { reconcileAccount: reconcile?.ref ?? null },
          },
        ]);
      });
      await store.durable();
      return reload(store.db, account.id);
    },

    history: (account) => versions.history(account.id),
  };
}

const OPENSSH_PRIVATE_KEY =
  /^-----BEGIN OPENSSH PRIVATE KEY-----\r?\n[\s\S]+\r?\n-----END OPENSSH PRIVATE KEY-----\s*$/;

/**
 * Whether two account names reach one login on the target, as its connector tells; the
 * target's options are read once, since onboarding compares with every account there.
 */
function sameLoginOn(
  connector: Connector | undefined,
  target: { name?: string; host: string; port: number; options: string },
): (a: string, b: string) => boolean {
  const sameAccount = connector?.sameAccount;
  if (sameAccount === undefined) return (a, b) => a === b;
  const address = {
    name: target.name ?? '',
    host: target.host,
    port: target.port,
    options: JSON.parse(target.options) as TargetOptions,
  };
  return (a, b) => a === b || sameAccount(address, a, b);
}

function checkSecretType(
  connector: Connector | undefined,
  secretType: SecretKind,
  secret: string | undefined,
): void {
  if (secretType === 'password') return;
  if (connector === undefined || !connector.secretKinds.includes(secretType)) {
    const platform = connector?.platform ?? 'this platform';
    throw new TesseraError(
      'VALIDATION_FAILED',
      `${platform} does not rotate ${secretType} secrets`,
    );
  }
  if (secret !== undefined && !OPENSSH_PRIVATE_KEY.test(secret)) {
    throw new TesseraError(
      'VALIDATION_FAILED',
      'an ssh-key secret is an unencrypted private key in OpenSSH format',
    );
  }
}
