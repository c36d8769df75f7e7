import { randomUUID, X509Certificate } from 'node:crypto';
import { z } from 'zod';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditDetailValue, RequestContext } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import type { TargetAddress } from '../connectors/connector.ts';
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

/** A target's options as the API shows them: the root certificate is reduced to "set or not". */
export interface TargetOptionsView {
  readonly sslmode?: SslMode;
  readonly sslrootcertSet?: boolean;
  readonly allowMd5Auth?: boolean;
}

export interface TargetService {
  create(ctx: RequestContext, input: NewTarget): Promise<Target>;
  update(ctx: RequestContext, name: string, change: TargetChange): Promise<Target>;
  list(): Promise<Target[]>;
  byName(name: string): Promise<Target>;
  byId(id: string): Promise<Target>;
}

/** How a session with a target is protected; libpq's names, and the connector's meanings. */
export const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];
/**
 * A target made without options is reached without TLS, because many servers (and the tests'
 * throw-away clusters) serve none. The README tells every production target to set verify-full.
 */
export const DEFAULT_SSL_MODE: SslMode = 'disable';
/**
 * A target's trust anchors are a few certificates, never a whole public trust store; the limit
 * also keeps a request well inside the API's 64 KiB body limit.
 */
export const MAX_ROOT_CERT_LENGTH = 32 * 1024;
/** Option names are echoed in errors; a long one is cut. */
const MAX_ECHOED_NAME = 64;

const PEM_CERTIFICATE =
  /-----BEGIN CERTIFICATE-----\r?\n(?:[A-Za-z0-9+/=]{1,76}\r?\n)+-----END CERTIFICATE-----/g;

const sslMode = z.enum(SSL_MODES);
const rootCertificates = z
  .string()
  .max(MAX_ROOT_CERT_LENGTH, `at most ${MAX_ROOT_CERT_LENGTH} characters`)
  .refine(isCertificateBundle, 'PEM certificates (BEGIN CERTIFICATE blocks) and nothing else');

const postgresqlOptions = z
  .object({
    sslmode: sslMode.optional(),
    sslrootcert: rootCertificates.optional(),
    allowMd5Auth: z.boolean().optional(),
  })
  .strict();

/**
 * Every option any platform takes, as the HTTP API accepts it at creation; the service then
 * checks the options of the target's own platform. Only PostgreSQL has options today; another
 * platform's schema joins this one as a union.
 */
export const targetOptions = postgresqlOptions;

/** The same options for an update, where null removes an option (back to its default). */
export const targetOptionsChange = z
  .object({
    sslmode: sslMode.nullable().optional(),
    sslrootcert: rootCertificates.nullable().optional(),
    allowMd5Auth: z.boolean().nullable().optional(),
  })
  .strict();

type OptionValues = Readonly<Record<string, string | boolean | undefined>>;

const PLATFORM_OPTIONS: ReadonlyMap<string, z.ZodType<OptionValues>> = new Map([
  ['postgresql', postgresqlOptions.superRefine(rootCertNeedsVerification)],
]);
const NO_OPTIONS = z.object({}).strict();

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
  platforms: ReadonlySet<string>;
}): TargetService {
  const { store, audit, clock, platforms } = deps;

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
    details: auditDetails(target, changed),
  });

  return {
    async create(ctx, input) {
      checkPlatform(input.platform, platforms);
      const row: TargetRow = {
        id: randomUUID(),
        name: input.name,
        platform: input.platform,
        host: input.host,
        port: input.port,
        database_name: input.database ?? null,
        options: JSON.stringify(checkOptions(input.platform, input.options ?? {})),
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
        const next = applyChange(row, change);
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
  };
}

/** The options the API may show: never the certificate text, only whether there is one. */
export function optionsView(target: Target): TargetOptionsView {
  if (target.platform !== 'postgresql') return {};
  const { sslmode, sslrootcert, allowMd5Auth } = target.options;
  return {
    sslmode: SSL_MODES.find((mode) => mode === sslmode) ?? DEFAULT_SSL_MODE,
    sslrootcertSet: sslrootcert !== undefined,
    allowMd5Auth: allowMd5Auth === 'true',
  };
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

function applyChange(row: TargetRow, change: TargetChange): TargetRow {
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
function checkOptions(platform: string, options: Readonly<Record<string, unknown>>): OptionValues {
  const result = (PLATFORM_OPTIONS.get(platform) ?? NO_OPTIONS).safeParse(options);
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

function rootCertNeedsVerification(
  options: z.infer<typeof postgresqlOptions>,
  context: z.RefinementCtx,
): void {
  // With disable or require no certificate is checked; keeping one there would only look safe.
  const verifies = options.sslmode === 'verify-ca' || options.sslmode === 'verify-full';
  if (options.sslrootcert === undefined || verifies) return;
  context.addIssue({
    code: 'custom',
    path: ['sslrootcert'],
    message: 'is used only with sslmode verify-ca or verify-full',
  });
}

function isCertificateBundle(text: string): boolean {
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  const rest = text.replace(PEM_CERTIFICATE, '').trim();
  return blocks.length > 0 && rest === '' && blocks.every(parsesAsCertificate);
}

function parsesAsCertificate(pem: string): boolean {
  try {
    return new X509Certificate(pem).raw.length > 0;
  } catch {
    return false; // a block of the right shape whose content is not a certificate
  }
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
    options: connectorOptions(row.options),
    createdAt: row.created_at,
  };
}

/** Connectors read options as text, e.g. `allowMd5Auth: 'true'`. */
function connectorOptions(stored: string): Readonly<Record<string, string>> {
  const values = JSON.parse(stored) as Record<string, string | boolean>;
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, String(value)]));
}

function auditDetails(target: Target, changed?: string): Record<string, AuditDetailValue> {
  const view = optionsView(target);
  return {
    ...(changed === undefined ? {} : { changed }),
    platform: target.platform,
    host: target.host,
    port: target.port,
    database: target.database ?? null,
    sslmode: view.sslmode ?? null,
    sslrootcertSet: view.sslrootcertSet ?? null,
    allowMd5Auth: view.allowMd5Auth ?? null,
  };
}
