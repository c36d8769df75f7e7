import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditDetailValue, RequestContext } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import type { Connector, TargetAddress, TargetOptions } from '../connectors/connector.ts';
import { notFound, TesseraError } from '../errors.ts';
import type { Store, Tx } from '../store/store.ts';

export interface Target extends TargetAddress {
  readonly id: string;
  readonly platform: string;
  readonly createdAt: number;
}

export interface NewTarget {
  readonly name: string;
  readonly platform: string;
  readonly host: string;
  readonly port: number;
  readonly database?: string | undefined;
  /** Checked against the platform's own options; see {@link targetOptions}. */
  readonly options?: Readonly<Record<string, unknown>> | undefined;
}

/** What `update` changes: fields left out keep their value; an option set to null is removed. */
export interface TargetChange {
  readonly host?: string | undefined;
  readonly port?: number | undefined;
  readonly database?: string | null | undefined;
  readonly options?: Readonly<Record<string, unknown>> | undefined;
}

/** A target's options as the API shows them: the platform decides what may be shown. */
export type TargetOptionsView = Readonly<Record<string, string | number | boolean | null>>;

export interface TargetService {
  create(ctx: RequestContext, input: NewTarget): Promise<Target>;
  update(ctx: RequestContext, name: string, change: TargetChange): Promise<Target>;
  list(): Promise<Target[]>;
  byName(name: string): Promise<Target>;
  byId(id: string): Promise<Target>;
  /** What of the target's options the API may show. */
  optionsView(target: Target): TargetOptionsView;
}

type OptionValues = TargetOptions;
const NO_OPTIONS = z.object({}).strict();

/** Option names are echoed in errors; a long one is cut. */
const MAX_ECHOED_NAME = 64;
/** Options travel as JSON; the platform's own schema then checks names and values. */
const MAX_OPTIONS = 32;

const optionValue = z.union([
  z.string().max(64 * 1024),
  z.number(),
  z.boolean(),
  z.array(z.string().max(1024)).max(256),
]);

/**
 * Every option any platform takes, as the HTTP API accepts it; the service then checks them
 * against the schema of the target's own platform (see each connector's `options`).
 */
export const targetOptions = z
  .record(z.string().max(MAX_ECHOED_NAME), optionValue)
  .refine(
    (options) => Object.keys(options).length <= MAX_OPTIONS,
    `at most ${MAX_OPTIONS} options`,
  );

/** The same options for an update, where null removes an option (back to its default). */
export const targetOptionsChange = z
  .record(z.string().max(MAX_ECHOED_NAME), optionValue.nullable())
  .refine(
    (options) => Object.keys(options).length <= MAX_OPTIONS,
    `at most ${MAX_OPTIONS} options`,
  );

interface TargetRow {
  readonly id: string;
  readonly name: string;
  readonly platform: string;
  readonly host: string;
  readonly port: number;
  readonly database_name: string | null;
  readonly options: string;
  readonly created_at: number;
}

export function createTargetService(deps: {
  store: Store;
  audit: AuditLog;
  clock: Clock;
  connectors: ReadonlyMap<string, Connector>;
}): TargetService {
  const { store, audit, clock, connectors } = deps;
  const platforms = new Set(connectors.keys());
  const optionsView = (target: Target): TargetOptionsView =>
    connectors.get(target.platform)?.viewOptions(target.options) ?? {};
  const checkOptions = (platform: string, options: Readonly<Record<string, unknown>>) =>
    checkPlatformOptions(connectors.get(platform), platform, options);

  const findOne = async (column: 'name' | 'id', value: string) => {
    const row = await store.db
      .selectFrom('targets')
      .selectAll()
      .where(column, '=', value)
      .executeTakeFirst();
    if (row === undefined) throw notFound('target');
    return toTarget(row);
  };

  const event = (ctx: RequestContext, action: string, target: Target, changed?: string) => ({
    action,
    outcome: 'success' as const,
    actor: ctx.actor,
    object: { type: 'target', id: target.id, name: target.name },
    source: ctx.source,
    requestId: ctx.requestId,
    details: auditDetails(target, optionsView(target), changed),
  });

  return {
    async create(ctx, input) {
      checkPlatform(input.platform, platforms);
      const options = checkOptions(input.platform, input.options ?? {});
      const row: TargetRow = {
        id: randomUUID(),
        name: input.name,
        platform: input.platform,
        host: input.host,
        port: input.port,
        database_name: input.database ?? null,
        options: JSON.stringify(
          await withPinnedHostKey(connectors.get(input.platform), input, options),
        ),
        created_at: clock.now(),
      };
      const target = toTarget(row);
      await store.transaction(async (trx) => {
        const existing = await trx
          .selectFrom('targets')
          .select('id')
          .where('name', '=', row.name)
          .executeTakeFirst();
        if (existing !== undefined)
          throw new TesseraError('ALREADY_EXISTS', `target ${row.name} already exists`);
        await trx.insertInto('targets').values(row).execute();
        await audit.appendInTx(trx, [event(ctx, 'target.create', target)]);
      });
      await store.durable();
      return target;
    },

    async update(ctx, name, change) {
      const changed = changedFields(change);
      const target = await store.transaction(async (trx) => {
        const row = await trx
          .selectFrom('targets')
          .selectAll()
          .where('name', '=', name)
          .executeTakeFirst();
        if (row === undefined) throw notFound('target');
        const next = applyChange(row, change, checkOptions);
        await writeIfUnchanged(trx, row, next);
        const result = toTarget(next);
        await audit.appendInTx(trx, [event(ctx, 'target.update', result, changed.join(','))]);
        return result;
      });
      await store.durable();
      return target;
    },

    async list() {
      const rows = await store.db.selectFrom('targets').selectAll().orderBy('name').execute();
      return rows.map(toTarget);
    },

    byName: (name) => findOne('name', name),
    byId: (id) => findOne('id', id),
    optionsView,
  };
}

/**
 * A platform reached over SSH pins the target's host key when the target is added: given by
 * the caller, or else read from the server now (trust on first use, shown and audited), so
 * that every later connection can tell the same server from an impostor.
 */
async function withPinnedHostKey(
  connector: Connector | undefined,
  input: NewTarget,
  options: OptionValues,
): Promise<OptionValues> {
  if (connector?.fetchHostKey === undefined || options.hostKey !== undefined) return options;
  const address = { name: input.name, host: input.host, port: input.port, options };
  let hostKey: string;
  try {
    hostKey = await connector.fetchHostKey(address);
  } catch (error) {
    const reason = error instanceof Error ? error.message : 'no answer';
    throw new TesseraError(
      'TARGET_UNREACHABLE',
      `could not read the host key of ${input.name} to pin it: ${reason}; ` +
        'give it as option hostKey',
    );
  }
  return checkPlatformOptions(connector, input.platform, { ...options, hostKey });
}

function checkPlatform(platform: string, platforms: ReadonlySet<string>): void {
  if (platforms.has(platform)) return;
  throw new TesseraError('VALIDATION_FAILED', `unknown platform ${platform}`, {
    supported: [...platforms].join(','),
  });
}

/** Compared with what was read, so that a concurrent change is refused rather than undone. */
async function writeIfUnchanged(trx: Tx, row: TargetRow, next: TargetRow): Promise<void> {
  const updated = await trx
    .updateTable('targets')
    .set({
      host: next.host,
      port: next.port,
      database_name: next.database_name,
      options: next.options,
    })
    .where('id', '=', row.id)
    .where('host', '=', row.host)
    .where('port', '=', row.port)
    .where('database_name', row.database_name === null ? 'is' : '=', row.database_name)
    .where('options', '=', row.options)
    .executeTakeFirst();
  if (updated.numUpdatedRows !== 1n) {
    throw new TesseraError('CONFLICT', `target ${row.name} changed meanwhile; try again`);
  }
}

function changedFields(change: TargetChange): string[] {
  const fields = (['host', 'port', 'database', 'options'] as const).filter(
    (field) => change[field] !== undefined,
  );
  if (fields.length === 0) {
    throw new TesseraError(
      'VALIDATION_FAILED',
      'nothing to change: give host, port, database or options',
    );
  }
  return fields;
}

function applyChange(
  row: TargetRow,
  change: TargetChange,
  checkOptions: (platform: string, options: Readonly<Record<string, unknown>>) => OptionValues,
): TargetRow {
  const database = change.database === undefined ? row.database_name : change.database;
  const options =
    change.options === undefined
      ? row.options
      : JSON.stringify(checkOptions(row.platform, mergeOptions(row.options, change.options)));
  return {
    ...row,
    host: change.host ?? row.host,
    port: change.port ?? row.port,
    database_name: database,
    options,
  };
}

function mergeOptions(
  stored: string,
  change: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const merged = { ...(JSON.parse(stored) as Record<string, unknown>), ...change };
  return Object.fromEntries(Object.entries(merged).filter(([, value]) => value != null));
}

/**
 * Checks options against the target's platform, whatever the caller: the HTTP schema already
 * checked their shape, but a platform takes only its own options and their combinations.
 */
function checkPlatformOptions(
  connector: Connector | undefined,
  platform: string,
  options: Readonly<Record<string, unknown>>,
): OptionValues {
  const result = (connector?.options ?? NO_OPTIONS).safeParse(options);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue?.code === 'unrecognized_keys') {
    const option = echoed(issue.keys[0] ?? '');
    const message = `unknown option ${option} for platform ${platform}`;
    throw new TesseraError('VALIDATION_FAILED', message, { option });
  }
  const option = echoed(String(issue?.path[0] ?? ''));
  const message = `option ${option}: ${issue?.message ?? 'invalid'}`;
  throw new TesseraError('VALIDATION_FAILED', message, { option });
}

function echoed(name: string): string {
  return name.length > MAX_ECHOED_NAME ? `${name.slice(0, MAX_ECHOED_NAME)}…` : name;
}

function toTarget(row: TargetRow): Target {
  return {
    id: row.id,
    name: row.name,
    platform: row.platform,
    host: row.host,
    port: row.port,
    database: row.database_name ?? undefined,
    options: JSON.parse(row.options) as OptionValues,
    createdAt: row.created_at,
  };
}

function auditDetails(
  target: Target,
  view: TargetOptionsView,
  changed?: string,
): Record<string, AuditDetailValue> {
  return {
    ...(changed === undefined ? {} : { changed }),
    platform: target.platform,
    host: target.host,
    port: target.port,
    database: target.database ?? null,
    ...view,
  };
}
