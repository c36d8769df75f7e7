/**
 * Rows as the services write them, for tests that need one in the store without the service
 * that makes it (a session another node runs, a user with a sign-in).
 */
import { randomUUID } from 'node:crypto';
import type { Insertable } from 'kysely';
import type { SessionTable, UserTable } from '../../src/store/schema.ts';

/** A shell session on `node` for alice as root on web01, started `at`; ended then too if so. */
export function sessionRow(
  node: string,
  at: number,
  state: 'live' | 'ended' = 'live',
): Insertable<SessionTable> {
  return {
    id: randomUUID(),
    user_id: randomUUID(),
    user_name: 'alice',
    account_id: randomUUID(),
    account_username: 'root',
    target_id: randomUUID(),
    target_name: 'web01',
    kind: 'shell',
    command: null,
    client_address: '127.0.0.1',
    width: 80,
    height: 24,
    started_at: at,
    ended_at: state === 'live' ? null : at,
    end_reason: state === 'live' ? null : 'exit',
    bytes_in: 0,
    bytes_out: 0,
    recording_path: null,
    wrapped_key: null,
    recording_sha256: null,
    recording_dropped_bytes: 0,
    node_id: node,
    state,
  };
}

/** An enabled user without a password, made `at`. */
export function userRow(name: string, role: string, at: number): Insertable<UserTable> {
  return {
    id: randomUUID(),
    name,
    role,
    password_hash: null,
    disabled: 0,
    builtin: 0,
    created_at: at,
    updated_at: at,
    person_id: null,
  };
}
