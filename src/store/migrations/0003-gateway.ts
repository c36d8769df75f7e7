import type { Kysely } from 'kysely';
import type { ColumnTypes } from '../column-types.ts';

/**
 * The SSH gateway: users' registered public keys, session policies, recorded sessions and the
 * commands run in them.
 */
export async function up(db: Kysely<unknown>, t: ColumnTypes): Promise<void> {
  await db.schema
    .createTable('user_ssh_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('fingerprint', 'text', (c) => c.notNull().unique()) // SHA256:base64, no padding
    .addColumn('key_type', 'text', (c) => c.notNull())
    .addColumn('public_key', 'text', (c) => c.notNull()) // "TYPE BASE64", without the comment
    .addColumn('comment', 'text', (c) => c.notNull())
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addColumn('last_used_at', t.time)
    .execute();
  await db.schema.createIndex('user_ssh_keys_user').on('user_ssh_keys').column('user_id').execute();

  await db.schema
    .createTable('session_policies')
    .addColumn('policy_id', 'text', (c) => c.primaryKey().references('policies.id'))
    .addColumn('record_input', 'integer', (c) => c.notNull())
    .addColumn('recording_required', 'integer', (c) => c.notNull())
    .addColumn('allow_sftp', 'integer', (c) => c.notNull())
    .addColumn('allow_port_forwarding', 'integer', (c) => c.notNull())
    .addColumn('allow_agent_forwarding', 'integer', (c) => c.notNull())
    .addColumn('allow_x11', 'integer', (c) => c.notNull())
    .addColumn('idle_timeout_s', 'integer')
    .addColumn('max_session_s', 'integer')
    .addColumn('end_on_recording_drop', 'integer', (c) => c.notNull())
    .addColumn('updated_at', t.time, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('user_name', 'text', (c) => c.notNull())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('account_username', 'text', (c) => c.notNull())
    .addColumn('target_id', 'text', (c) => c.notNull())
    .addColumn('target_name', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull()) // shell, exec, sftp
    .addColumn('command', 'text')
    .addColumn('client_address', 'text')
    .addColumn('width', 'integer', (c) => c.notNull())
    .addColumn('height', 'integer', (c) => c.notNull())
    .addColumn('started_at', t.time, (c) => c.notNull())
    .addColumn('ended_at', t.time)
    .addColumn('end_reason', 'text')
    .addColumn('bytes_in', t.time, (c) => c.notNull().defaultTo(0))
    .addColumn('bytes_out', t.time, (c) => c.notNull().defaultTo(0))
    .addColumn('recording_path', 'text')
    .addColumn('wrapped_key', t.binary)
    .addColumn('recording_sha256', 'text')
    .addColumn('recording_dropped_bytes', t.time, (c) => c.notNull().defaultTo(0))
    .addColumn('node_id', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull()) // live, ended, ended_abnormally
    .execute();
  await db.schema.createIndex('sessions_started').on('sessions').column('started_at').execute();
  await db.schema
    .createIndex('sessions_state_node')
    .on('sessions')
    .columns(['state', 'node_id'])
    .execute();

  await db.schema
    .createTable('session_commands')
    .addColumn('session_id', 'text', (c) => c.notNull().references('sessions.id'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('offset_ms', t.time, (c) => c.notNull())
    .addColumn('at', t.time, (c) => c.notNull())
    .addColumn('command', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('session_commands_pk', ['session_id', 'seq'])
    .execute();
  await db.schema.createIndex('session_commands_at').on('session_commands').column('at').execute();
}
