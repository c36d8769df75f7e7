import type { Kysely } from 'kysely';
import type { ColumnTypes } from '../column-types.ts';

/**
 * Kill requests for sessions that run on another node. A live session lives in the memory of the
 * node whose gateway runs it, so a kill asked of any other node is stored here until that node
 * carries it out. One row per session: asking again replaces the reason.
 */
export async function up(db: Kysely<unknown>, t: ColumnTypes): Promise<void> {
  await db.schema
    .createTable('session_kill_requests')
    .addColumn('session_id', 'text', (c) => c.primaryKey().references('sessions.id'))
    // The node that ran the session when the kill was asked: the one that carries it out.
    .addColumn('node_id', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('requested_at', t.time, (c) => c.notNull())
    // When that node killed the session, or found it already over; null while it waits.
    .addColumn('done_at', t.time)
    .execute();
  // Each node asks every second for the requests it still has to carry out.
  await db.schema
    .createIndex('session_kill_requests_node')
    .on('session_kill_requests')
    .columns(['node_id', 'done_at'])
    .execute();
}
