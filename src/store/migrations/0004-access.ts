import type { Kysely } from 'kysely';
import type { ColumnTypes } from '../column-types.ts';

/**
 * Just-in-time access: groups and linked persons, access policies, requests and approvals,
 * time-bound grants, ephemeral accounts on targets, break-glass, second factors and webhooks.
 */
export async function up(db: Kysely<unknown>, t: ColumnTypes): Promise<void> {
  // Two users of one person (a directory link) count as one for self-approval and quorums.
  await db.schema.alterTable('users').addColumn('person_id', 'text').execute();
  await db.schema
    .alterTable('accounts')
    .addColumn('breakglass', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();

  await db.schema
    .createTable('groups')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('created_at', t.time, (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('group_members')
    .addColumn('group_id', 'text', (c) => c.notNull().references('groups.id'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('added_at', t.time, (c) => c.notNull())
    .addColumn('added_by', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('group_members_pk', ['group_id', 'user_id'])
    .execute();

  // One policy per safe and at most one per account; an account's own policy wins.
  await db.schema
    .createTable('access_policies')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('safe_id', 'text', (c) => c.unique().references('safes.id'))
    .addColumn('account_id', 'text', (c) => c.unique().references('accounts.id'))
    .addColumn('approval_for', 'text', (c) => c.notNull()) // "use,retrieve,checkout" or ""
    .addColumn('approvals_required', 'integer', (c) => c.notNull())
    .addColumn('approver_group_id', 'text')
    .addColumn('escalate_after_s', 'integer')
    .addColumn('escalation_group_id', 'text')
    .addColumn('request_ttl_s', 'integer', (c) => c.notNull())
    .addColumn('require_reason', 'integer', (c) => c.notNull())
    .addColumn('require_ticket', 'integer', (c) => c.notNull())
    .addColumn('ticket_pattern', 'text')
    .addColumn('ticket_validator_url', 'text')
    .addColumn('max_duration_s', 'integer', (c) => c.notNull())
    .addColumn('window_days', 'text') // "mon,tue,wed,thu,fri", or null: no window
    .addColumn('window_start', 'text') // "HH:MM" local
    .addColumn('window_end', 'text')
    .addColumn('window_time_zone', 'text')
    .addColumn('breakglass_window_s', 'integer', (c) => c.notNull())
    .addColumn('ephemeral_reveal', 'integer', (c) => c.notNull())
    .addColumn('updated_at', t.time, (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('access_requests')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('requester_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('requester_person', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull()) // account, safe, ephemeral
    .addColumn('safe_id', 'text', (c) => c.notNull())
    .addColumn('account_id', 'text')
    .addColumn('target_id', 'text')
    .addColumn('role', 'text') // the ephemeral account's role or group
    .addColumn('permissions', 'text', (c) => c.notNull())
    .addColumn('duration_s', 'integer', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('ticket', 'text')
    // pending, approved, denied, cancelled, expired
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('approvals_required', 'integer', (c) => c.notNull())
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addColumn('expires_at', t.time, (c) => c.notNull())
    .addColumn('escalate_at', t.time)
    .addColumn('escalated_at', t.time)
    .addColumn('decided_at', t.time)
    .addColumn('decided_by', 'text')
    .addColumn('decision_comment', 'text')
    .addColumn('grant_id', 'text')
    .execute();
  await db.schema
    .createIndex('access_requests_status')
    .on('access_requests')
    .columns(['status', 'expires_at'])
    .execute();

  await db.schema
    .createTable('request_approvals')
    .addColumn('request_id', 'text', (c) => c.notNull().references('access_requests.id'))
    .addColumn('approver_person', 'text', (c) => c.notNull())
    .addColumn('approver_id', 'text', (c) => c.notNull())
    .addColumn('decision', 'text', (c) => c.notNull()) // approve, deny
    .addColumn('comment', 'text', (c) => c.notNull())
    .addColumn('at', t.time, (c) => c.notNull())
    .addPrimaryKeyConstraint('request_approvals_pk', ['request_id', 'approver_person'])
    .execute();

  await db.schema
    .createTable('grants')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('request_id', 'text')
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('kind', 'text', (c) => c.notNull()) // request, breakglass, ephemeral
    .addColumn('safe_id', 'text', (c) => c.notNull())
    .addColumn('account_id', 'text')
    .addColumn('permissions', 'text', (c) => c.notNull())
    .addColumn('starts_at', t.time, (c) => c.notNull())
    .addColumn('ends_at', t.time, (c) => c.notNull())
    .addColumn('revoked_at', t.time)
    .addColumn('revoked_by', 'text')
    .addColumn('revoke_reason', 'text')
    // Set once what the end of the grant entails (check-in, session end, drop) is done.
    .addColumn('closed_at', t.time)
    .addColumn('created_at', t.time, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('grants_user').on('grants').columns(['user_id', 'ends_at']).execute();
  await db.schema
    .createIndex('grants_open')
    .on('grants')
    .columns(['closed_at', 'ends_at'])
    .execute();

  // Which account creates ephemeral accounts on a target, and with which roles.
  await db.schema
    .createTable('ephemeral_configs')
    .addColumn('target_id', 'text', (c) => c.primaryKey().references('targets.id'))
    .addColumn('admin_account_id', 'text', (c) => c.notNull().references('accounts.id'))
    .addColumn('roles', 'text', (c) => c.notNull()) // comma-separated
    .addColumn('updated_at', t.time, (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('ephemeral_accounts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('grant_id', 'text', (c) => c.notNull())
    .addColumn('target_id', 'text', (c) => c.notNull())
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    // creating (written before the target is touched), active, dropped, failed
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('ciphertext', t.binary)
    .addColumn('revealed_at', t.time)
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addColumn('dropped_at', t.time)
    .addColumn('last_error', 'text')
    .execute();

  await db.schema
    .createTable('breakglass_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('grant_id', 'text', (c) => c.notNull())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('second_factor', 'integer', (c) => c.notNull())
    .addColumn('opened_at', t.time, (c) => c.notNull())
    .addColumn('ends_at', t.time, (c) => c.notNull())
    .addColumn('closed_at', t.time)
    .addColumn('rotation_requested_at', t.time)
    .addColumn('review_state', 'text', (c) => c.notNull()) // open, closed
    .addColumn('outcome', 'text')
    .addColumn('review_notes', 'text')
    .addColumn('reviewed_by', 'text')
    .addColumn('reviewed_at', t.time)
    .execute();

  await db.schema
    .createTable('user_mfa')
    .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id'))
    .addColumn('kind', 'text', (c) => c.notNull()) // totp
    .addColumn('ciphertext', t.binary, (c) => c.notNull())
    .addColumn('confirmed_at', t.time)
    .addColumn('last_step', t.time) // the last TOTP time step accepted: no replay
    .addColumn('created_at', t.time, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('webhooks')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('ciphertext', t.binary, (c) => c.notNull()) // the HMAC key
    .addColumn('events', 'text', (c) => c.notNull()) // comma-separated prefixes, or "*"
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('webhook_id', 'text', (c) => c.notNull())
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('next_attempt_at', t.time, (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull()) // pending, delivered, failed
    .addColumn('last_error', 'text')
    .addColumn('created_at', t.time, (c) => c.notNull())
    .addColumn('delivered_at', t.time)
    .execute();
  await db.schema
    .createIndex('webhook_deliveries_due')
    .on('webhook_deliveries')
    .columns(['state', 'next_attempt_at'])
    .execute();
}
