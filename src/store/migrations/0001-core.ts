import type { Kysely } from 'kysely';
import type { ColumnTypes } from '../column-types.ts';

/** The first slice: keys, identity, safes, targets, accounts, secret versions, audit. */
export async function up(db: Kysely<unknown>, t: ColumnTypes): Promise<void> {
  await db.schema
    .createTable('keyring')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('wrapped_root_key', t.binary, (c) => c.notNull())
    .addColumn('unseal_shares', 'integer', (c) => c.notNull())
    .addColumn('unseal_threshold', 'integer', (c) => c.notNull())
    .addColumn('share_digests', 'text', (c) => c.notNull())
    .addColumn('root_generation', 'integer', (c) => c.notNull())
    .addColumn('wrapped_signing_key', t.binary, (c) => c.notNull())
    .addColumn('signing_public_key', 'text', (c) => c.notNull())
    .addColumn('created_at', t.time, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text')
    .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('builtin', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addColumn('updated_at', t.time, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addColumn('expires_at', t.time)
    .addColumn('revoked_at', t.time)
    .execute();
  await db.schema.createIndex('tokens_user').on('tokens').column('user_id').execute();

  await db.schema
    .createTable('safes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('wrapped_kek', t.binary, (c) => c.notNull())
    .addColumn('root_generation', 'integer', (c) => c.notNull())
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('safe_members')
    .addColumn('safe_id', 'text', (c) => c.notNull().references('safes.id'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('permissions', 'text', (c) => c.notNull())
    .addColumn('added_at', t.time, (c) => c.notNull())
    .addColumn('added_by', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('safe_members_pk', ['safe_id', 'user_id'])
    .execute();

  await db.schema
    .createTable('policies')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('rotation_interval_s', 'integer')
    .addColumn('secret_length', 'integer', (c) => c.notNull())
    .addColumn('min_lowercase', 'integer', (c) => c.notNull())
    .addColumn('min_uppercase', 'integer', (c) => c.notNull())
    .addColumn('min_digits', 'integer', (c) => c.notNull())
    .addColumn('min_symbols', 'integer', (c) => c.notNull())
    .addColumn('symbols', 'text', (c) => c.notNull())
    .addColumn('exclude_characters', 'text', (c) => c.notNull())
    .addColumn('exclusive_checkout', 'integer', (c) => c.notNull())
    .addColumn('rotate_on_checkin', 'integer', (c) => c.notNull())
    .addColumn('max_checkout_s', 'integer', (c) => c.notNull())
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addColumn('updated_at', t.time, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('targets')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('platform', 'text', (c) => c.notNull())
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('port', 'integer', (c) => c.notNull())
    .addColumn('database_name', 'text')
    .addColumn('options', 'text', (c) => c.notNull())
    .addColumn('created_at', t.time, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('accounts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('target_id', 'text', (c) => c.notNull().references('targets.id'))
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('safe_id', 'text', (c) => c.notNull().references('safes.id'))
    .addColumn('policy_id', 'text', (c) => c.notNull().references('policies.id'))
    .addColumn('current_version', 'integer')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('last_verified_at', t.time)
    .addColumn('last_verify_result', 'text')
    .addColumn('last_rotated_at', t.time)
    .addColumn('last_rotation_error', 'text')
    .addColumn('next_rotation_at', t.time)
    .addColumn('needs_rotation', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('rotation_lease_owner', 'text')
    .addColumn('rotation_lease_until', t.time)
    .addColumn('checkout_id', 'text')
    .addColumn('checked_out_by', 'text')
    .addColumn('checked_out_at', t.time)
    .addColumn('checkout_expires_at', t.time)
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addUniqueConstraint('accounts_target_username', ['target_id', 'username'])
    .execute();
  await db.schema.createIndex('accounts_safe').on('accounts').column('safe_id').execute();
  await db.schema
    .createIndex('accounts_next_rotation')
    .on('accounts')
    .column('next_rotation_at')
    .execute();
  await db.schema
    .createIndex('accounts_checkout_expiry')
    .on('accounts')
    .column('checkout_expires_at')
    .execute();

  await db.schema
    .createTable('secret_versions')
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('ciphertext', t.binary, (c) => c.notNull())
    .addColumn('wrapped_key', t.binary, (c) => c.notNull())
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('origin', 'text', (c) => c.notNull())
    .addColumn('promoted_at', t.time)
    .addPrimaryKeyConstraint('secret_versions_pk', ['account_id', 'version'])
    .execute();

  await db.schema
    .createTable('audit_events')
    .addColumn('seq', t.time, (c) => c.primaryKey())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('at', t.time, (c) => c.notNull())
    .addColumn('actor_id', 'text')
    .addColumn('actor_name', 'text')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('object_type', 'text')
    .addColumn('object_id', 'text')
    .addColumn('object_name', 'text')
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('source', 'text')
    .addColumn('reason', 'text')
    .addColumn('request_id', 'text')
    .addColumn('details', 'text')
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_events_at').on('audit_events').column('at').execute();

  await db.schema
    .createTable('audit_checkpoints')
    .addColumn('seq', t.time, (c) => c.primaryKey())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('signed_at', t.time, (c) => c.notNull())
    .addColumn('signature', t.binary, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('leases')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('expires_at', t.time, (c) => c.notNull())
    .execute();
}
