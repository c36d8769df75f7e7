import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RequestContext } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import { notFound, TesseraError } from '../errors.ts';
import { type SecretRules, validateSecretRules } from '../rotation/password-generator.ts';
import { canonicalTimeZone, isRotateAt, nextRotationAt } from '../rotation/schedule.ts';
import type { PolicyTable } from '../store/schema.ts';
import type { Store, Tx } from '../store/store.ts';

export interface Policy {
  readonly id: string;
  readonly name: string;
  /** Seconds between scheduled rotations; null for no schedule. */
  readonly rotationIntervalS: number | null;
  readonly secret: SecretRules;
  readonly exclusiveCheckout: boolean;
  readonly rotateOnCheckin: boolean;
  readonly maxCheckoutS: number;
  /**
   * `HH:MM`: scheduled rotations run at this wall-clock time in `timeZone`, every whole number
   * of days the interval names; null: `rotationIntervalS` after the last one.
   */
  readonly rotateAt: string | null;
  /** The zone of `rotateAt`, by its IANA name (never an offset); null is UTC. */
  readonly timeZone: string | null;
  /** Scheduled rotations spread over this many seconds after their time, per account. */
  readonly jitterS: number;
  /** At most this many rotations at once on one target, per node. */
  readonly maxPerTarget: number;
  /** A check-out that reaches its maximum duration is checked in and its secret rotated. */
  readonly rotateOnCheckoutExpiry: boolean;
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
  rotateAt: null,
  timeZone: null,
  jitterS: 0,
  maxPerTarget: 4,
  rotateOnCheckoutExpiry: true,
};

export const MAX_PER_TARGET_LIMIT = 64;

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

  /**
   * A new schedule applies to the policy's accounts at once: each one's next run is computed again
   * from its last rotation. Accounts waiting out a failure keep their retry time.
   */
  const reschedule = async (trx: Tx, policy: Policy) => {
    const accounts = await trx
      .selectFrom('accounts')
      .select(['id', 'last_rotated_at', 'created_at'])
      .where('policy_id', '=', policy.id)
      .where('rotation_failures', '=', 0)
      .execute();
    for (const account of accounts) {
      const from = account.last_rotated_at ?? account.created_at;
      await trx
        .updateTable('accounts')
        .set({ next_rotation_at: nextRotationAt(policy, account.id, from) })
        .where('id', '=', account.id)
        .execute();
    }
    return accounts.length;
  };

  const set = async (ctx: RequestContext, name: string, asked: PolicySettings) => {
    // A policy that could never generate a secret or name a run is refused now, not at the next
    // rotation.
    validateSecretRules(asked.secret);
    const settings = validateSchedule(asked);
    const now = clock.now();
    const columns = toColumns(settings);
    const policy = await store.transaction(async (trx) => {
      const existing = await trx
        .selectFrom('policies')
        .selectAll()
        .where('name', '=', name)
        .executeTakeFirst();
      const id = existing?.id ?? randomUUID();
      const rescheduled =
        existing !== undefined && scheduleChanged(toPolicy(existing), settings)
          ? await reschedule(trx, { id, name, ...settings })
          : 0;
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
          details: { ...policyDetails(settings), rescheduled },
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
    rotate_at: s.rotateAt,
    time_zone: s.timeZone,
    jitter_s: s.jitterS,
    max_per_target: s.maxPerTarget,
    rotate_on_checkout_expiry: s.rotateOnCheckoutExpiry ? 1 : 0,
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
    rotateAt: row.rotate_at,
    timeZone: row.time_zone,
    jitterS: row.jitter_s,
    maxPerTarget: row.max_per_target,
    rotateOnCheckoutExpiry: row.rotate_on_checkout_expiry !== 0,
  };
}

function policyDetails(s: PolicySettings) {
  return {
    rotationIntervalS: s.rotationIntervalS,
    length: s.secret.length,
    exclusiveCheckout: s.exclusiveCheckout,
    rotateOnCheckin: s.rotateOnCheckin,
    maxCheckoutS: s.maxCheckoutS,
    rotateAt: s.rotateAt,
    timeZone: s.timeZone,
    jitterS: s.jitterS,
    maxPerTarget: s.maxPerTarget,
    rotateOnCheckoutExpiry: s.rotateOnCheckoutExpiry,
  };
}

function invalid(field: string, message: string): TesseraError {
  return new TesseraError('VALIDATION_FAILED', message, { field });
}

/**
 * Checks the schedule settings together and answers them with the zone's canonical name. Every
 * refusal names the setting, so the API, the CLI and the console can point at it.
 */
export function validateSchedule(s: PolicySettings): PolicySettings {
  const interval = s.rotationIntervalS;
  const perTarget = s.maxPerTarget;
  if (!Number.isInteger(perTarget) || perTarget < 1 || perTarget > MAX_PER_TARGET_LIMIT) {
    throw invalid('maxPerTarget', `maxPerTarget must be from 1 to ${MAX_PER_TARGET_LIMIT}`);
  }
  if (!Number.isInteger(s.jitterS) || s.jitterS < 0) {
    throw invalid('jitterS', 'jitterS must be a whole number of seconds, 0 or more');
  }
  // Jitter of half an interval or more would let one account's runs overtake each other.
  if (interval !== null && s.jitterS * 2 >= interval) {
    throw invalid('jitterS', 'the jitter must be less than half the rotation interval');
  }
  if (s.timeZone !== null && s.rotateAt === null) {
    throw invalid('timeZone', 'timeZone applies to rotateAt: give rotateAt as well');
  }
  if (s.rotateAt === null) return s;
  if (!isRotateAt(s.rotateAt)) throw invalid('rotateAt', 'rotateAt must be HH:MM, 00:00 to 23:59');
  if (interval === null || interval % 86_400 !== 0) {
    throw invalid('rotateAt', 'rotateAt needs a rotation interval of whole days');
  }
  if (s.timeZone === null) return s;
  const zone = canonicalTimeZone(s.timeZone);
  if (zone === null) throw invalid('timeZone', `unknown time zone ${JSON.stringify(s.timeZone)}`);
  return { ...s, timeZone: zone };
}

function scheduleChanged(before: PolicySettings, after: PolicySettings): boolean {
  return (
    before.rotationIntervalS !== after.rotationIntervalS ||
    before.rotateAt !== after.rotateAt ||
    before.timeZone !== after.timeZone ||
    before.jitterS !== after.jitterS
  );
}
