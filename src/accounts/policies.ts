import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RequestContext } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import { notFound } from '../errors.ts';
import { type SecretRules, validateSecretRules } from '../rotation/password-generator.ts';
import type { PolicyTable } from '../store/schema.ts';
import type { Store } from '../store/store.ts';

export interface Policy {
  readonly id: string;
  readonly name: string;
  /** Seconds between scheduled rotations; null for no schedule. */
  readonly rotationIntervalS: number | null;
  readonly secret: SecretRules;
  readonly exclusiveCheckout: boolean;
  readonly rotateOnCheckin: boolean;
  readonly maxCheckoutS: number;
}

export type PolicySettings = Omit<Policy, 'id' | 'name'>;

export const DEFAULT_POLICY_NAME = 'default';
const POLICY_CACHE_MS = 2_000;

export const DEFAULT_POLICY_SETTINGS: PolicySettings = {
  rotationIntervalS: null,
  secret: {
    length: 32,
    minLowercase: 1,
    minUppercase: 1,
    minDigits: 1,
    minSymbols: 1,
    symbols: '!#$%&()*+,-./:;<=>?@[]^_{|}~\'"\\`',
    exclude: '',
  },
  exclusiveCheckout: true,
  rotateOnCheckin: true,
  maxCheckoutS: 8 * 3600,
};

export interface PolicyService {
  /** Creates or replaces the named policy. */
  set(ctx: RequestContext, name: string, settings: PolicySettings): Promise<Policy>;
  list(): Promise<Policy[]>;
  byName(name: string): Promise<Policy>;
  byId(id: string): Promise<Policy>;
  ensureDefault(): Promise<Policy>;
}

export function createPolicyService(deps: {
  store: Store;
  audit: AuditLog;
  clock: Clock;
}): PolicyService {
  const { store, audit, clock } = deps;

  const byIdCache = new Map<string, { policy: Policy; at: number }>();
  let defaultId: string | undefined;

  const findOne = async (column: 'name' | 'id', value: string) => {
    const row = await store.db
      .selectFrom('policies')
      .selectAll()
      .where(column, '=', value)
      .executeTakeFirst();
    if (row === undefined) throw notFound('policy');
    return toPolicy(row);
  };

  const set = async (ctx: RequestContext, name: string, settings: PolicySettings) => {
    // A policy that could never generate a secret is refused now, not at the next rotation.
    validateSecretRules(settings.secret);
    const now = clock.now();
    const columns = toColumns(settings);
    const policy = await store.transaction(async (trx) => {
      const existing = await trx
        .selectFrom('policies')
        .select('id')
        .where('name', '=', name)
        .executeTakeFirst();
      const id = existing?.id ?? randomUUID();
      if (existing === undefined) {
        await trx
          .insertInto('policies')
          .values({ id, name, ...columns, created_at: now, updated_at: now })
          .execute();
      } else {
        await trx
          .updateTable('policies')
          .set({ ...columns, updated_at: now })
          .where('id', '=', id)
          .execute();
      }
      await audit.appendInTx(trx, [
        {
          action: existing === undefined ? 'policy.create' : 'policy.update',
          outcome: 'success',
          actor: ctx.actor,
          object: { type: 'policy', id, name },
          source: ctx.source,
          requestId: ctx.requestId,
          details: policyDetails(settings),
        },
      ]);
      return { id, name, ...settings };
    });
    await store.durable();
    byIdCache.delete(policy.id);
    return policy;
  };

  const byId = async (id: string): Promise<Policy> => {
    // Every reveal and check-out asks for its policy; a short cache keeps that off the store.
    // A change on this node is seen at once, one on another node within POLICY_CACHE_MS.
    const cached = byIdCache.get(id);
    if (cached !== undefined && clock.now() - cached.at < POLICY_CACHE_MS) return cached.policy;
    const policy = await findOne('id', id);
    byIdCache.set(id, { policy, at: clock.now() });
    return policy;
  };

  return {
    set,
    async list() {
      const rows = await store.db.selectFrom('policies').selectAll().orderBy('name').execute();
      return rows.map(toPolicy);
    },
    byName: (name) => findOne('name', name),
    byId,
    async ensureDefault() {
      // The default policy's id never changes once it exists; its settings come through byId.
      if (defaultId !== undefined) return byId(defaultId);
      const row = await store.db
        .selectFrom('policies')
        .selectAll()
        .where('name', '=', DEFAULT_POLICY_NAME)
        .executeTakeFirst();
      const system = { actor: { id: null, name: 'tessera' }, source: null, requestId: null };
      const policy =
        row === undefined
          ? await set(system, DEFAULT_POLICY_NAME, DEFAULT_POLICY_SETTINGS)
          : toPolicy(row);
      defaultId = policy.id;
      return policy;
    },
  };
}

function toColumns(s: PolicySettings) {
  return {
    rotation_interval_s: s.rotationIntervalS,
    secret_length: s.secret.length,
    min_lowercase: s.secret.minLowercase,
    min_uppercase: s.secret.minUppercase,
    min_digits: s.secret.minDigits,
    min_symbols: s.secret.minSymbols,
    symbols: s.secret.symbols,
    exclude_characters: s.secret.exclude,
    exclusive_checkout: s.exclusiveCheckout ? 1 : 0,
    rotate_on_checkin: s.rotateOnCheckin ? 1 : 0,
    max_checkout_s: s.maxCheckoutS,
  };
}

function toPolicy(row: PolicyTable): Policy {
  return {
    id: row.id,
    name: row.name,
    rotationIntervalS: row.rotation_interval_s,
    secret: {
      length: row.secret_length,
      minLowercase: row.min_lowercase,
      minUppercase: row.min_uppercase,
      minDigits: row.min_digits,
      minSymbols: row.min_symbols,
      symbols: row.symbols,
      exclude: row.exclude_characters,
    },
    exclusiveCheckout: row.exclusive_checkout !== 0,
    rotateOnCheckin: row.rotate_on_checkin !== 0,
    maxCheckoutS: row.max_checkout_s,
  };
}

function policyDetails(s: PolicySettings) {
  return {
    rotationIntervalS: s.rotationIntervalS,
    length: s.secret.length,
    exclusiveCheckout: s.exclusiveCheckout,
    rotateOnCheckin: s.rotateOnCheckin,
    maxCheckoutS: s.maxCheckoutS,
  };
}
