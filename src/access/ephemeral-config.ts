/**
 * Which account creates ephemeral accounts on a target, and the roles grants may ask for; and
 * the admin logon read from the vault for each call to the target.
 */
import type { Account } from '../accounts/account.ts';
import type { AccountService } from '../accounts/account-service.ts';
import type { SecretVersions } from '../accounts/secret-versions.ts';
import type { Target } from '../accounts/targets.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RequestContext } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import type { Connector, Credential, EphemeralSupport } from '../connectors/connector.ts';
import { isTesseraError, notFound, TesseraError } from '../errors.ts';
import type { Principal } from '../identity/principal.ts';
import type { Store } from '../store/store.ts';
import type { AccessDecision } from './access-decision.ts';
import { parseRoles } from './ephemeral-records.ts';

/** Which account creates ephemeral accounts on a target, and the roles they may be given. */
export interface EphemeralConfig {
  readonly target: string;
  readonly targetId: string;
  /** `TARGET/USERNAME`. */
  readonly adminAccount: string;
  readonly roles: readonly string[];
  readonly updatedAt: number;
}

export interface EphemeralConfigInput {
  /** `TARGET/USERNAME`, or the user name of an account on the configured target. */
  readonly adminAccount: string;
  readonly roles: readonly string[];
}

/** A target's admin logon, read from the vault for one call. */
export interface AdminLogin {
  readonly support: EphemeralSupport;
  readonly connector: Connector;
  readonly admin: Account;
  readonly login: Credential;
}

export interface EphemeralConfigs {
  configure(
    ctx: RequestContext,
    principal: Principal,
    target: Target,
    input: EphemeralConfigInput,
  ): Promise<EphemeralConfig>;
  /** NOT_FOUND when the target has no ephemeral configuration. */
  configOf(target: Target): Promise<EphemeralConfig>;
  /** The platform's ephemeral support; NOT_SUPPORTED when it has none. */
  supportOf(target: Target): { connector: Connector; support: EphemeralSupport };
  /** CONFLICT without a configuration or a secret; VAULT_SEALED while sealed. */
  adminLogin(target: Target): Promise<AdminLogin>;
}

/** At most this many roles per target. */
export const MAX_ROLES = 32;

export function createEphemeralConfigs(deps: {
  store: Store;
  audit: AuditLog;
  access: AccessDecision;
  clock: Clock;
  connectors: ReadonlyMap<string, Connector>;
  accounts: AccountService;
  versions: SecretVersions;
}): EphemeralConfigs {
  const { store, audit, access, clock, connectors, accounts } = deps;

  const supportOf = (target: Target): { connector: Connector; support: EphemeralSupport } => {
    const connector = connectors.get(target.platform);
    if (connector?.ephemeral === undefined) {
      throw new TesseraError(
        'NOT_SUPPORTED',
        `the ${target.platform} platform has no ephemeral accounts`,
      );
    }
    return { connector, support: connector.ephemeral };
  };

  const configRow = (targetId: string) =>
    store.db
      .selectFrom('ephemeral_configs')
      .selectAll()
      .where('target_id', '=', targetId)
      .executeTakeFirst();

  const configOf = async (target: Target): Promise<EphemeralConfig> => {
    const row = await configRow(target.id);
    if (row === undefined) throw notFound('ephemeral configuration');
    const admin = await accounts.reload(store.db, row.admin_account_id);
    return {
      target: target.name,
      targetId: target.id,
      adminAccount: admin.ref,
      roles: parseRoles(row.roles),
      updatedAt: row.updated_at,
    };
  };

  return {
    supportOf,
    configOf,

    async configure(ctx, principal, target, input) {
      await access.require(principal, 'ephemeral.configure');
      const { connector, support } = supportOf(target);
      const roles = checkRoles(support, target, input.roles);
      const admin = await adminAccountOn(accounts, connector, target, input.adminAccount);
      const now = clock.now();

      await store.transaction(async (trx) => {
        const values = { admin_account_id: admin.id, roles: roles.join(','), updated_at: now };
        await trx
          .insertInto('ephemeral_configs')
          .values({ target_id: target.id, ...values })
          .onConflict((conflict) => conflict.column('target_id').doUpdateSet(values))
          .execute();
        await audit.appendInTx(trx, [
          {
            action: 'ephemeral.configure',
            outcome: 'success',
            actor: ctx.actor,
            object: { type: 'target', id: target.id, name: target.name },
            source: ctx.source,
            requestId: ctx.requestId,
            details: { adminAccount: admin.ref, roles: roles.join(',') },
          },
        ]);
      });
      await store.durable();
      return configOf(target);
    },

    async adminLogin(target) {
      const { connector, support } = supportOf(target);
      const row = await configRow(target.id);
      if (row === undefined) {
        throw new TesseraError('CONFLICT', `target ${target.name} has no ephemeral configuration`);
      }
      const admin = await accounts.reload(store.db, row.admin_account_id);
      if (admin.currentVersion === null) {
        throw new TesseraError(
          'CONFLICT',
          `the ephemeral admin account ${admin.ref} has no secret`,
        );
      }
      const secret = await deps.versions.read(
        { accountId: admin.id, safeId: admin.safeId },
        admin.currentVersion,
      );
      const login: Credential = {
        username: admin.username,
        secret: secret.toString('utf8'),
        kind: admin.secretType,
      };
      secret.fill(0);
      return { support, connector, admin, login };
    },
  };
}

function checkRoles(support: EphemeralSupport, target: Target, roles: readonly string[]) {
  if (roles.length === 0 || roles.length > MAX_ROLES) {
    throw new TesseraError('VALIDATION_FAILED', `give from 1 to ${MAX_ROLES} roles`);
  }
  if (new Set(roles).size !== roles.length) {
    throw new TesseraError('VALIDATION_FAILED', 'a role is named twice');
  }
  for (const role of roles) {
    // Roles are stored comma-separated.
    if (role.includes(',')) {
      throw new TesseraError('VALIDATION_FAILED', 'a role name cannot hold a comma');
    }
    const problem = support.checkRole(role);
    if (problem !== null) {
      throw new TesseraError('VALIDATION_FAILED', `${target.platform}: ${problem}`);
    }
  }
  return [...roles];
}

/**
 * The admin account, which must be one of the target's own accounts and hold a secret the
 * platform logs in with: a password, or on Linux also an SSH key (with NOPASSWD sudo).
 */
async function adminAccountOn(
  accounts: AccountService,
  connector: Connector,
  target: Target,
  ref: string,
): Promise<Account> {
  const prefix = `${target.name}/`;
  const username = ref.startsWith(prefix) ? ref.slice(prefix.length) : ref;
  let admin: Account;
  try {
    admin = await accounts.find({ target: target.name, username });
  } catch (error) {
    if (!isTesseraError(error) || error.code !== 'NOT_FOUND') throw error;
    throw new TesseraError(
      'VALIDATION_FAILED',
      `the admin account must be an account on target ${target.name}`,
    );
  }
  if (!connector.secretKinds.includes(admin.secretType)) {
    throw new TesseraError('VALIDATION_FAILED', 'the admin account must hold a password');
  }
  return admin;
}
