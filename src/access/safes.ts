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
  /**
   * Grants a user permissions in a safe and answers the membership as stored. Separation of
   * duties: only an admin changes their own membership, and an auditor holds `list` at most.
   */
  setMember(
    ctx: RequestContext,
    principal: Principal,
    safe: Safe,
    input: { user: string; permissions: SafePermission[] },
  ): Promise<SafeMember>;
  removeMember(ctx: RequestContext, principal: Principal, safe: Safe, user: string): Promise<void>;
  /**
   * Calls `listener` once a membership was changed or removed, after the change is stored: the
   * SSH gateway checks that user's connections again at once.
   */
  onMembershipChange(listener: (change: { safeId: string; userId: string }) => void): void;
}

/** What an auditor may hold in a safe: seeing that accounts exist, never using them. */
const AUDITOR_PERMISSIONS: readonly SafePermission[] = ['list'];

export function createSafeService(deps: {
  store: Store;
  audit: AuditLog;
  cipher: SecretCipher;
  clock: Clock;
}): SafeService {
  const { store, audit, cipher, clock } = deps;
  const membershipListeners: Array<(change: { safeId: string; userId: string }) => void> = [];
  const membershipChanged = (safeId: string, userId: string) => {
    for (const listener of membershipListeners) listener({ safeId, userId });
  };

  const event = (ctx: RequestContext, action: string, safe: { id: string; name: string }) => ({
    action,
    outcome: 'success' as const,
    actor: ctx.actor,
    object: { type: 'safe', id: safe.id, name: safe.name },
    source: ctx.source,
    requestId: ctx.requestId,
  });

  const memberUser = async (name: string) => {
    const row = await store.db
      .selectFrom('users')
      .select(['id', 'role'])
      .where('name', '=', name)
      .executeTakeFirst();
    if (row === undefined) throw notFound('user');
    return row;
  };

  /**
   * Who approves is the admins' choice: a safe manager who could name approvers would choose
   * who answers the requests for the accounts they manage.
   */
  const refuseApproverChange = async (
    principal: Principal,
    safeId: string,
    memberId: string,
    wanted: readonly SafePermission[],
  ) => {
    if (principal.role === 'admin') return;
    const current = await store.db
      .selectFrom('safe_members')
      .select('permissions')
      .where('safe_id', '=', safeId)
      .where('user_id', '=', memberId)
      .executeTakeFirst();
    const held = current === undefined ? [] : parsePermissions(current.permissions);
    if (held.includes('approve') !== wanted.includes('approve')) {
      throw new TesseraError('FORBIDDEN', 'only an admin gives or takes the approve permission');
    }
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

    async setMember(ctx, principal, safe, { user, permissions }) {
      const member = await memberUser(user);
      refuseOwnMembership(principal, member.id);
      const unique = [...new Set(permissions)];
      refuseAuditorBeyondList(member.role, unique);
      await refuseApproverChange(principal, safe.id, member.id, unique);
      const row = {
        safe_id: safe.id,
        user_id: member.id,
        permissions: unique.join(','),
        added_at: clock.now(),
        added_by: ctx.actor.name ?? 'tessera',
      };
      const stored = await store.transaction(async (trx) => {
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
            details: { user, permissions: row.permissions, self: member.id === principal.userId },
          },
        ]);
        // An existing member keeps who added them and when: the answer shows what is stored.
        return trx
          .selectFrom('safe_members')
          .select(['added_at', 'added_by'])
          .where('safe_id', '=', safe.id)
          .where('user_id', '=', member.id)
          .executeTakeFirstOrThrow();
      });
      await store.durable();
      membershipChanged(safe.id, member.id);
      return { user, permissions: unique, addedAt: stored.added_at, addedBy: stored.added_by };
    },

    async removeMember(ctx, principal, safe, user) {
      const member = await memberUser(user);
      refuseOwnMembership(principal, member.id);
      await store.transaction(async (trx) => {
        const result = await trx
          .deleteFrom('safe_members')
          .where('safe_id', '=', safe.id)
          .where('user_id', '=', member.id)
          .executeTakeFirst();
        if (result.numDeletedRows === 0n) throw notFound('member');
        await audit.appendInTx(trx, [
          {
            ...event(ctx, 'safe.member.remove', safe),
            details: { user, self: member.id === principal.userId },
          },
        ]);
      });
      await store.durable();
      membershipChanged(safe.id, member.id);
    },

    onMembershipChange(listener) {
      membershipListeners.push(listener);
    },
  };
}

/**
 * A manager who could change their own membership could grant themselves `retrieve`: one's own
 * membership is changed by someone else. Admins may (they hold every role-based right already),
 * and the audit event says it was their own.
 */
function refuseOwnMembership(principal: Principal, memberId: string): void {
  if (principal.userId === memberId && principal.role !== 'admin') {
    throw new TesseraError('FORBIDDEN', 'your own membership is changed by an admin');
  }
}

function refuseAuditorBeyondList(role: string, permissions: readonly SafePermission[]): void {
  if (role !== 'auditor') return;
  if (permissions.every((permission) => AUDITOR_PERMISSIONS.includes(permission))) return;
  throw new TesseraError(
    'VALIDATION_FAILED',
    'an auditor may hold only the list permission in a safe',
  );
}
