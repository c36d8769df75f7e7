import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RequestContext } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import type { TargetAddress } from '../connectors/connector.ts';
import { notFound, TesseraError } from '../errors.ts';
import type { Store } from '../store/store.ts';

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
  readonly options?: Readonly<Record<string, string>> | undefined;
}

export interface TargetService {
  create(ctx: RequestContext, input: NewTarget): Promise<Target>;
  list(): Promise<Target[]>;
  byName(name: string): Promise<Target>;
  byId(id: string): Promise<Target>;
}

export function createTargetService(deps: {
  store: Store;
  audit: AuditLog;
  clock: Clock;
  platforms: ReadonlySet<string>;
}): TargetService {
  const { store, audit, clock, platforms } = deps;

  const toTarget = (row: {
    id: string;
    name: string;
    platform: string;
    host: string;
    port: number;
    database_name: string | null;
    options: string;
    created_at: number;
  }): Target => ({
    id: row.id,
    name: row.name,
    platform: row.platform,
    host: row.host,
    port: row.port,
    database: row.database_name ?? undefined,
    options: JSON.parse(row.options) as Record<string, string>,
    createdAt: row.created_at,
  });

  const findOne = async (column: 'name' | 'id', value: string) => {
    const row = await store.db
      .selectFrom('targets')
      .selectAll()
      .where(column, '=', value)
      .executeTakeFirst();
    if (row === undefined) throw notFound('target');
    return toTarget(row);
  };

  return {
    async create(ctx, input) {
      if (!platforms.has(input.platform)) {
        throw new TesseraError('VALIDATION_FAILED', `unknown platform ${input.platform}`, {
          supported: [...platforms].join(','),
        });
      }
      const row = {
        id: randomUUID(),
        name: input.name,
        platform: input.platform,
        host: input.host,
        port: input.port,
        database_name: input.database ?? null,
        options: JSON.stringify(input.options ?? {}),
        created_at: clock.now(),
      };
      await store.transaction(async (trx) => {
        const existing = await trx
          .selectFrom('targets')
          .select('id')
          .where('name', '=', row.name)
          .executeTakeFirst();
        if (existing !== undefined)
          throw new TesseraError('ALREADY_EXISTS', `target ${row.name} already exists`);
        await trx.insertInto('targets').values(row).execute();
        await audit.appendInTx(trx, [
          {
            action: 'target.create',
            outcome: 'success',
            actor: ctx.actor,
            object: { type: 'target', id: row.id, name: row.name },
            source: ctx.source,
            requestId: ctx.requestId,
            details: { platform: row.platform, host: row.host, port: row.port },
          },
        ]);
      });
      await store.durable();
      return toTarget(row);
    },

    async list() {
      const rows = await store.db.selectFrom('targets').selectAll().orderBy('name').execute();
      return rows.map(toTarget);
    },

    byName: (name) => findOne('name', name),
    byId: (id) => findOne('id', id),
  };
}
