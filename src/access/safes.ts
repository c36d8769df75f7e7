import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RequestContext } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import { notFound, TesseraError } from '../errors.ts';
import type { Principal } from '../identity/principal.ts';
import type { Store } from '../store/store.ts';
import type { SecretCipher } from '../vault/secret-cipher.ts';
import { parsePermissions, type SafePermission } from './permissions.ts';

export interface Safe {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly createdAt: number;
}

export interface SafeMember {
  readonly user: string;
  readonly permissions: SafePermission[];
  readonly addedAt: number;
  readonly addedBy: string;
}

export interface SafeService {
  create(ctx: RequestContext, input: { name: string; description: string }): Promise<Safe>;
  /** Safes the principal may see: all for admins and auditors, else those they are a member of. */
  list(principal: Principal): Promise<Safe[]>;
  byName(name: string): Promise<Safe>;
  members(safeId: string): Promise<SafeMember[]>;
  setMember(
    ctx: RequestContext,
    safe: Safe,
    input: { user: string; permissions: SafePermission[] },
  ): Promise<SafeMember>;
  removeMember(ctx: RequestContext, safe: Safe, user: string): Promise<void>;
}

export function createSafeService(deps: {
  store: Store;
  audit: AuditLog;
  cipher: SecretCipher;
  clock: Clock;
}): SafeService {
  const { store, audit, cipher, clock } = deps;

  const event = (ctx: RequestContext, action: string, safe: { id: string; name: string }) => ({
    action,
    outcome: 'success' as const,
    actor: ctx.actor,
    object: { type: 'safe', id: safe.id, name: safe.name },
    source: ctx.source,
    requestId: ctx.requestId,
  });

  const userId = async (name: string) => {
    const row = await store.db
      .selectFrom('users')
      .select('id')
      .where('name', '=', name)
      .executeTakeFirst();
    if (row === undefined) throw notFound('user');
    return row.id;
  };

  return {
    async create(ctx, { name, description }) {
      const id = randomUUID();
      const row = {
        id,
        name,
        description,
        // Needs the root key: creating a safe while sealed fails here with VAULT_SEALED.
        wrapped_kek: cipher.newSafeKey(id),
        root_generation: 1,
        created_at: clock.now(),
        created_by: ctx.actor.name ?? 'tessera',
      };
      await store.transaction(async (trx) => {
        const existing = await trx
          .selectFrom('safes')
          .select('id')
          .where('name', '=', name)
          .executeTakeFirst();
        if (existing !== undefined)
          throw new TesseraError('ALREADY_EXISTS', `safe ${name} already exists`);
        await trx.insertInto('safes').values(row).execute();
        await audit.appendInTx(trx, [event(ctx, 'safe.create', row)]);
      });
      await store.durable();
      return { id, name, description, createdAt: row.created_at };
    },

    async list(principal) {
      let query = store.db
        .selectFrom('safes')
        .select(['safes.id', 'safes.name', 'safes.description', 'safes.created_at'])
        .orderBy('safes.name');
      if (principal.role === 'user') {
        query = query
          .innerJoin('safe_members', 'safe_members.safe_id', 'safes.id')
          .where('safe_members.user_id', '=', principal.userId);
      }
      const rows = await query.execute();
      return rows.map((r) => ({
        id: r.id,
        name: r.name,
        description: r.description,
        createdAt: r.created_at,
      }));
    },

    async byName(name) {
      const row = await store.db
        .selectFrom('safes')
        .selectAll()
        .where('name', '=', name)
        .executeTakeFirst();
      if (row === undefined) throw notFound('safe');
      return {
        id: row.id,
        name: row.name,
        description: row.description,
        createdAt: row.created_at,
      };
    },

    async members(safeId) {
      const rows = await store.db
        .selectFrom('safe_members')
        .innerJoin('users', 'users.id', 'safe_members.user_id')
        .select([
          'users.name',
          'safe_members.permissions',
          'safe_members.added_at',
          'safe_members.added_by',
        ])
        .where('safe_members.safe_id', '=', safeId)
        .orderBy('users.name')
        .execute();
      return rows.map((r) => ({
        user: r.name,
        permissions: parsePermissions(r.permissions),
        addedAt: r.added_at,
        addedBy: r.added_by,
      }));
    },

    async setMember(ctx, safe, { user, permissions }) {
      const id = await userId(user);
      const unique = [...new Set(permissions)];
      const row = {
        safe_id: safe.id,
        user_id: id,
        permissions: unique.join(','),
        added_at: clock.now(),
        added_by: ctx.actor.name ?? 'tessera',
      };
      await store.transaction(async (trx) => {
        await trx
          .insertInto('safe_members')
          .values(row)
          .onConflict((oc) =>
            oc.columns(['safe_id', 'user_id']).doUpdateSet({ permissions: row.permissions }),
          )
          .execute();
        await audit.appendInTx(trx, [
          {
            ...event(ctx, 'safe.member.set', safe),
            details: { user, permissions: row.permissions },
          },
        ]);
      });
      await store.durable();
      return { user, permissions: unique, addedAt: row.added_at, addedBy: row.added_by };
    },

    async removeMember(ctx, safe, user) {
      const id = await userId(user);
      await store.transaction(async (trx) => {
        const result = await trx
          .deleteFrom('safe_members')
          .where('safe_id', '=', safe.id)
          .where('user_id', '=', id)
          .executeTakeFirst();
        if (result.numDeletedRows === 0n) throw notFound('member');
        await audit.appendInTx(trx, [
          { ...event(ctx, 'safe.member.remove', safe), details: { user } },
        ]);
      });
      await store.durable();
    },
  };
}
