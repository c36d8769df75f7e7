/**
 * The rows behind ephemeral accounts: their shape as the service shows them, the queries that
 * read them, the names they are given, and their audit events. No secret passes through here
 * except the sealed ciphertext column, which never leaves a row read.
 */
import { randomInt } from 'node:crypto';
import type { AuditDetailValue, AuditEventInput, RequestContext } from '../audit/event.ts';
import type { EphemeralAccountTable } from '../store/schema.ts';
import type { Queryable } from '../store/store.ts';

export const EPHEMERAL_STATES = ['creating', 'active', 'dropped', 'failed'] as const;
export type EphemeralState = (typeof EPHEMERAL_STATES)[number];

/** An account made on a target for one grant. `failed` rows keep their state once dropped. */
export interface EphemeralAccount {
  readonly id: string;
  readonly grantId: string;
  readonly targetId: string;
  readonly target: string;
  readonly username: string;
  readonly role: string;
  readonly state: EphemeralState;
  readonly revealedAt: number | null;
  readonly createdAt: number;
  /** When the target was last known not to hold it; null while it may still exist there. */
  readonly droppedAt: number | null;
  readonly lastError: string | null;
}

export interface EphemeralFilter {
  readonly target?: string | undefined;
  readonly state?: EphemeralState | undefined;
  readonly grant?: string | undefined;
  readonly limit?: number | undefined;
}

export const DEFAULT_LIST_LIMIT = 200;

const NAME_PREFIX = 'tsr_';
const NAME_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const NAME_RANDOM_CHARACTERS = 10;
/**
 * The only names Tessera ever creates, and so the only ones it ever drops: a row altered to
 * name another account (`postgres`, `root`) is refused rather than dropped on the target.
 */
export const EPHEMERAL_NAME = /^tsr_[a-z0-9]{10}$/;

/** `tsr_` and 10 lowercase letters or digits, each drawn without bias. */
export function ephemeralUsername(): string {
  const draw = () => NAME_ALPHABET[randomInt(NAME_ALPHABET.length)] ?? '';
  return NAME_PREFIX + Array.from({ length: NAME_RANDOM_CHARACTERS }, draw).join('');
}

/** Roles are stored comma-separated, so a role name holding a comma is refused. */
export function parseRoles(column: string): string[] {
  return column.split(',').filter((role) => role.length > 0);
}

export type EphemeralRow = EphemeralAccountTable & { readonly target_name: string };

export function rowsQuery(db: Queryable) {
  return db
    .selectFrom('ephemeral_accounts')
    .innerJoin('targets', 'targets.id', 'ephemeral_accounts.target_id')
    .selectAll('ephemeral_accounts')
    .select('targets.name as target_name');
}

export function listRows(db: Queryable, filter: EphemeralFilter) {
  let query = rowsQuery(db)
    .orderBy('ephemeral_accounts.created_at', 'desc')
    .orderBy('ephemeral_accounts.id')
    .limit(filter.limit ?? DEFAULT_LIST_LIMIT);
  if (filter.target !== undefined) query = query.where('targets.name', '=', filter.target);
  if (filter.state !== undefined)
    query = query.where('ephemeral_accounts.state', '=', filter.state);
  if (filter.grant !== undefined) {
    query = query.where('ephemeral_accounts.grant_id', '=', filter.grant);
  }
  return query.execute();
}

/** The row as the API may show it: the ciphertext stays behind. */
export function toEphemeralAccount(row: EphemeralRow): EphemeralAccount {
  return {
    id: row.id,
    grantId: row.grant_id,
    targetId: row.target_id,
    target: row.target_name,
    username: row.username,
    role: row.role,
    state: row.state as EphemeralState,
    revealedAt: row.revealed_at,
    createdAt: row.created_at,
    droppedAt: row.dropped_at,
    lastError: row.last_error,
  };
}

/** What an event names of an ephemeral account: never its password. */
export interface EventSubject {
  readonly id: string;
  readonly grantId: string;
  readonly target: string;
  readonly username: string;
  readonly role: string;
}

export function ephemeralEvent(
  ctx: RequestContext,
  action: string,
  outcome: AuditEventInput['outcome'],
  subject: EventSubject,
  facts: Readonly<Record<string, AuditDetailValue>> = {},
): AuditEventInput {
  return {
    action,
    outcome,
    actor: ctx.actor,
    object: {
      type: 'ephemeral-account',
      id: subject.id,
      name: `${subject.target}/${subject.username}`,
    },
    source: ctx.source,
    requestId: ctx.requestId,
    details: {
      grant: subject.grantId,
      target: subject.target,
      username: subject.username,
      role: subject.role,
      ...facts,
    },
  };
}
