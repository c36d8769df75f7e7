import type { Kysely } from 'kysely';
import type { ColumnTypes } from '../column-types.ts';

/**
 * Rotation across platforms: calendar schedules with jitter and per-target limits, SSH keys
 * as secrets, reconcile accounts, failure back-off, bulk rotation runs and discovery.
 */
export async function up(db: Kysely<unknown>, t: ColumnTypes): Promise<void> {
  await db.schema
    .alterTable('policies')
    .addColumn('rotate_at', 'text') // "HH:MM" local time, or null: any time of day
    .execute();
  await db.schema.alterTable('policies').addColumn('time_zone', 'text').execute();
  await db.schema
    .alterTable('policies')
    .addColumn('jitter_s', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('policies')
    .addColumn('max_per_target', 'integer', (c) => c.notNull().defaultTo(4))
    .execute();
  await db.schema
    .alterTable('policies')
    .addColumn('rotate_on_checkout_expiry', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();

  await db.schema
    .alterTable('accounts')
    .addColumn('secret_type', 'text', (c) => c.notNull().defaultTo('password'))
    .execute();
  await db.schema.alterTable('accounts').addColumn('reconcile_account_id', 'text').execute();
  await db.schema
    .alterTable('accounts')
    .addColumn('rotation_failures', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('accounts').addColumn('last_rotation_attempt_at', t.time).execute();

  await db.schema
    .createTable('rotation_runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('started_by', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull()) // JSON: { target?, safe?, all? }
    .addColumn('state', 'text', (c) => c.notNull()) // running, finished, failed
    .addColumn('total', 'integer', (c) => c.notNull())
    .addColumn('succeeded', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('failed', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('node_id', 'text', (c) => c.notNull())
    .addColumn('started_at', t.time, (c) => c.notNull())
    .addColumn('finished_at', t.time)
    .execute();
  await db.schema
    .createTable('rotation_run_items')
    .addColumn('run_id', 'text', (c) => c.notNull().references('rotation_runs.id'))
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
    .addColumn('state', 'text', (c) => c.notNull()) // queued, succeeded, failed
    .addColumn('error', 'text')
    .addColumn('finished_at', t.time)
    .addPrimaryKeyConstraint('rotation_run_items_pk', ['run_id', 'account_id'])
    .execute();

  await db.schema
    .createTable('discovery_runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('target_id', 'text', (c) => c.notNull().references('targets.id'))
    .addColumn('started_by', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull()) // finished, failed
    .addColumn('error', 'text')
    .addColumn('found', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('appeared', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('disappeared', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('started_at', t.time, (c) => c.notNull())
    .addColumn('finished_at', t.time)
    .execute();
  await db.schema
    .createTable('discovered_accounts')
    .addColumn('target_id', 'text', (c) => c.notNull().references('targets.id'))
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('reasons', 'text', (c) => c.notNull()) // JSON array of short texts
    .addColumn('first_seen_at', t.time, (c) => c.notNull())
    .addColumn('last_seen_at', t.time, (c) => c.notNull())
    .addColumn('gone_at', t.time)
    .addColumn('last_run_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('discovered_accounts_pk', ['target_id', 'username'])
    .execute();
}
