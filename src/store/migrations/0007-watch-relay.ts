import type { Kysely } from 'kysely';
import type { ColumnTypes } from '../column-types.ts';

/**
 * Watching a session through any node. Each node says, at every start, where the other nodes
 * reach its API (`nodes`). A node asked to watch a session that another node runs passes the
 * watch on to that node with a one-time ticket naming the watcher (`session_watch_tickets`), so
 * no sign-in token travels between nodes. Only a digest of each ticket is stored.
 */
export async function up(db: Kysely<unknown>, t: ColumnTypes): Promise<void> {
  await db.schema
    .createTable('nodes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    // Null: the node listens on every address and was not told which one the others use.
    .addColumn('api_url', 'text')
    .addColumn('started_at', t.time, (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('session_watch_tickets')
    .addColumn('digest', 'text', (c) => c.primaryKey())
    .addColumn('session_id', 'text', (c) => c.notNull().references('sessions.id'))
    // Their name and role are read again, through the sign-in, when the ticket is redeemed.
    .addColumn('user_id', 'text', (c) => c.notNull())
    // The watcher's sign-in: the watch ends with it, on whichever node streams it.
    .addColumn('token_id', 'text', (c) => c.notNull())
    .addColumn('source', 'text')
    .addColumn('request_id', 'text')
    // The node the watcher asked, which passes the stream on.
    .addColumn('via_node', 'text', (c) => c.notNull())
    .addColumn('expires_at', t.time, (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('session_watch_tickets_expiry')
    .on('session_watch_tickets')
    .column('expires_at')
    .execute();
}
