import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditEventInput, RequestContext } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import { notFound, TesseraError } from '../errors.ts';
import type { Store } from '../store/store.ts';

export interface Group {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly members: readonly string[];
  readonly createdAt: number;
}

/**
 * Groups of users, named by access policies as approvers, and the links between two logins of
 * one person: a second account of the approver's own requester counts as the requester.
 */
export interface GroupService {
  create(ctx: RequestContext, input: { name: string; description: string }): Promise<Group>;
  list(): Promise<Group[]>;
  byName(name: string): Promise<Group>;
  addMember(ctx: RequestContext, group: string, user: string): Promise<Group>;
  removeMember(ctx: RequestContext, group: string, user: string): Promise<Group>;
  remove(ctx: RequestContext, group: string): Promise<void>;
  isMember(groupId: string, userId: string): Promise<boolean>;
  /**
   * Records that `user` is the same person as `sameAs` (null undoes the link). Links point at
   * one primary login, so a chain of links cannot hide a person behind a third login.
   */
  linkPerson(ctx: RequestContext, user: string, sameAs: string | null): Promise<PersonLink>;
  /** The person key of a user: the primary login's id. */
  personOf(userId: string): Promise<string>;
}

export interface PersonLink {
  readonly user: string;
  /** The primary login's name, or null when the user is a person alone. */
  readonly person: string | null;
}

export function createGroupService(deps: {
  store: Store;
  audit: AuditLog;
  clock: Clock;
}): GroupService {
  const { store, audit, clock } = deps;

  const event = (
    ctx: RequestContext,
    action: string,
    group: { id: string; name: string },
    details?: Record<string, string>,
  ): AuditEventInput => ({
    action,
    outcome: 'success',
    actor: ctx.actor,
    object: { type: 'group', id: group.id, name: group.name },
    source: ctx.source,
    requestId: ctx.requestId,
    details,
  });

  const groupRow = async (name: string) => {
    const row = await store.db
      .selectFrom('groups')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    if (row === undefined) throw notFound('group');
    return row;
  };

  const userRow = async (name: string) => {
    const row = await store.db
      .selectFrom('users')
      .select(['id', 'name', 'person_id'])
      .where('name', '=', name)
      .executeTakeFirst();
    if (row === undefined) throw notFound('user');
    return row;
  };

  const load = async (name: string): Promise<Group> => {
    const row = await groupRow(name);
    const members = await store.db
      .selectFrom('group_members')
      .innerJoin('users', 'users.id', 'group_members.user_id')
      .select('users.name')
      .where('group_members.group_id', '=', row.id)
      .orderBy('users.name')
      .execute();
    return {
      id: row.id,
      name: row.name,
      description: row.description,
      members: members.map((member) => member.name),
      createdAt: row.created_at,
    };
  };

  return {
    async create(ctx, { name, description }) {
      const row = { id: randomUUID(), name, description, created_at: clock.now() };
      await store.transaction(async (trx) => {
        const existing = await trx
          .selectFrom('groups')
          .select('id')
          .where('name', '=', name)
          .executeTakeFirst();
        if (existing !== undefined) {
          throw new TesseraError('ALREADY_EXISTS', `group ${name} already exists`);
        }
        await trx.insertInto('groups').values(row).execute();
        await audit.appendInTx(trx, [event(ctx, 'group.create', row)]);
      });
      await store.durable();
      return { id: row.id, name, description, members: [], createdAt: row.created_at };
    },

    async list() {
      const rows = await store.db.selectFrom('groups').select('name').orderBy('name').execute();
      return Promise.all(rows.map((row) => load(row.name)));
    },

    byName: load,

    async addMember(ctx, groupName, userName) {
      const group = await groupRow(groupName);
      const user = await userRow(userName);
      await store.transaction(async (trx) => {
        const existing = await trx
          .selectFrom('group_members')
          .select('user_id')
          .where('group_id', '=', group.id)
          .where('user_id', '=', user.id)
          .executeTakeFirst();
        if (existing !== undefined) return;
        await trx
          .insertInto('group_members')
          .values({
            group_id: group.id,
            user_id: user.id,
            added_at: clock.now(),
            added_by: ctx.actor.name ?? 'tessera',
          })
          .execute();
        await audit.appendInTx(trx, [event(ctx, 'group.member.add', group, { user: user.name })]);
      });
      await store.durable();
      return load(groupName);
    },

    async removeMember(ctx, groupName, userName) {
      const group = await groupRow(groupName);
      const user = await userRow(userName);
      await store.transaction(async (trx) => {
        const removed = await trx
          .deleteFrom('group_members')
          .where('group_id', '=', group.id)
          .where('user_id', '=', user.id)
          .executeTakeFirst();
        if (removed.numDeletedRows === 0n) throw notFound('group member');
        await audit.appendInTx(trx, [
          event(ctx, 'group.member.remove', group, { user: user.name }),
        ]);
      });
      await store.durable();
      return load(groupName);
    },

    async remove(ctx, groupName) {
      const group = await groupRow(groupName);
      await store.transaction(async (trx) => {
        const inUse = await trx
          .selectFrom('access_policies')
          .select('id')
          .where((eb) =>
            eb.or([
              eb('approver_group_id', '=', group.id),
              eb('escalation_group_id', '=', group.id),
            ]),
          )
          .executeTakeFirst();
        if (inUse !== undefined) {
          throw new TesseraError('CONFLICT', `group ${group.name} is named by an access policy`);
        }
        await trx.deleteFrom('group_members').where('group_id', '=', group.id).execute();
        await trx.deleteFrom('groups').where('id', '=', group.id).execute();
        await audit.appendInTx(trx, [event(ctx, 'group.remove', group)]);
      });
      await store.durable();
    },

    async isMember(groupId, userId) {
      const row = await store.db
        .selectFrom('group_members')
        .select('user_id')
        .where('group_id', '=', groupId)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return row !== undefined;
    },

    async linkPerson(ctx, userName, sameAsName) {
      const user = await userRow(userName);
      const primary = sameAsName === null ? null : await userRow(sameAsName);
      if (primary !== null && primary.id === user.id) {
        throw new TesseraError('VALIDATION_FAILED', 'a user is already the same person as itself');
      }
      // Always the primary login's own key: linking to a linked login joins its person.
      const personId = primary === null ? null : (primary.person_id ?? primary.id);
      await store.transaction(async (trx) => {
        // Logins already linked to this one follow it into the new person; an unlink leaves
        // them where they are, still the same person as this login.
        await trx
          .updateTable('users')
          .set({ person_id: personId })
          .where((eb) =>
            personId === null
              ? eb('id', '=', user.id)
              : eb.or([eb('id', '=', user.id), eb('person_id', '=', user.id)]),
          )
          .execute();
        await audit.appendInTx(trx, [
          {
            action: 'user.link',
            outcome: 'success',
            actor: ctx.actor,
            object: { type: 'user', id: user.id, name: user.name },
            source: ctx.source,
            requestId: ctx.requestId,
            details: { sameAs: primary?.name ?? null },
          },
        ]);
      });
      await store.durable();
      const personName =
        personId === null
          ? null
          : ((
              await store.db
                .selectFrom('users')
                .select('name')
                .where('id', '=', personId)
                .executeTakeFirst()
            )?.name ?? null);
      return { user: user.name, person: personName };
    },

    async personOf(userId) {
      const row = await store.db
        .selectFrom('users')
        .select(['id', 'person_id'])
        .where('id', '=', userId)
        .executeTakeFirst();
      if (row === undefined) throw notFound('user');
      return row.person_id ?? row.id;
    },
  };
}
