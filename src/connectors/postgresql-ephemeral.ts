/**
 * Ephemeral accounts on PostgreSQL: a LOGIN role made a member of one configured role, with a
 * SCRAM verifier computed here (the clear password never reaches the server or its statement
 * log) and VALID UNTIL the grant's end, so the server itself refuses it afterwards whatever
 * Tessera does. Dropping locks the role, ends its sessions, hands what it owns to the role it
 * was a member of, then drops it.
 *
 * The admin account needs CREATEROLE (and, from PostgreSQL 16, ADMIN OPTION on each configured
 * role), membership in pg_signal_backend to end sessions, and privileges of both roles where
 * an ephemeral account left objects behind (REASSIGN OWNED); a superuser has all of these.
 */
import { type Client, escapeIdentifier, escapeLiteral } from 'pg';
import type {
  Credential,
  EphemeralAccountSpec,
  EphemeralOutcome,
  EphemeralPresence,
  EphemeralSupport,
  TargetAddress,
} from './connector.ts';

/** A logged-in session of the admin account, opened by the PostgreSQL connector. */
export interface PgAdminSession {
  readonly client: Client;
  /** Why a step failed, in words that never quote the admin secret nor any of `secrets`. */
  reason(error: unknown, secrets?: readonly string[]): string;
  close(): Promise<void>;
}

/** What the PostgreSQL connector lends: its sessions and its SCRAM verifiers. */
export interface PgSessions {
  /** Logs in as `login` to `database` (the target's own when left out), or says why not. */
  open(
    target: TargetAddress,
    login: Credential,
    database?: string,
  ): Promise<PgAdminSession | string>;
  verifier(
    password: string,
  ): Promise<{ kind: 'ready'; text: string } | { kind: 'refused'; reason: string }>;
}

/** NAMEDATALEN - 1: the server silently truncates longer names, which could reach another role. */
const MAX_ROLE_NAME_BYTES = 63;
/** How long the drop waits for the sessions it ended to be gone. */
const SESSIONS_END_WAIT_MS = 5_000;
const SESSIONS_POLL_MS = 100;

export function createPostgresqlEphemeral(sessions: PgSessions): EphemeralSupport {
  return {
    checkRole: (role) => checkName(role, 'role'),
    create: (target, login, account) => create(sessions, target, login, account),
    drop: (target, login, username) => drop(sessions, target, login, username),
    exists: (target, login, username) => exists(sessions, target, login, username),
  };
}

function checkName(name: string, what: string): string | null {
  if (name.length === 0 || name.includes('\u0000') || !name.isWellFormed()) {
    return `the ${what} name is empty, holds NUL or is not well-formed Unicode`;
  }
  if (Buffer.byteLength(name, 'utf8') > MAX_ROLE_NAME_BYTES) {
    return `the ${what} name is over ${MAX_ROLE_NAME_BYTES} bytes; PostgreSQL would truncate it`;
  }
  return null;
}

const failed = (reason: string): EphemeralOutcome => ({ kind: 'failed', reason });

// ---------------------------------------------------------------------------------------------
// create

async function create(
  sessions: PgSessions,
  target: TargetAddress,
  login: Credential,
  account: EphemeralAccountSpec,
): Promise<EphemeralOutcome> {
  const problem = checkName(account.role, 'role') ?? checkName(account.username, 'account');
  if (problem) return failed(problem);
  if (!Number.isFinite(account.validUntil.getTime())) return failed('the end time is not a date');
  const verifier = await sessions.verifier(account.password);
  if (verifier.kind === 'refused') return failed(verifier.reason);

  const session = await sessions.open(target, login);
  if (typeof session === 'string') return failed(`${session}; nothing was created`);
  try {
    const role = await session.client.query(
      'SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1',
      [account.role],
    );
    if (role.rowCount === 0) {
      return failed(`the role ${account.role} does not exist on the target; nothing was created`);
    }
    await session.client.query(createRoleStatement(account, verifier.text));
    return { kind: 'done' };
  } catch (error) {
    return failed(session.reason(error, [account.password, verifier.text]));
  } finally {
    await session.close();
  }
}

/** Every attribute spelled out: the account gets its role's rights and nothing of its own. */
function createRoleStatement(account: EphemeralAccountSpec, verifier: string): string {
  const attributes = [
    'LOGIN',
    'INHERIT',
    'NOSUPERUSER',
    'NOCREATEDB',
    'NOCREATEROLE',
    'NOREPLICATION',
    'NOBYPASSRLS',
    `PASSWORD ${escapeLiteral(verifier)}`,
    `VALID UNTIL ${escapeLiteral(account.validUntil.toISOString())}`,
    `IN ROLE ${escapeIdentifier(account.role)}`,
  ];
  return `CREATE ROLE ${escapeIdentifier(account.username)} WITH ${attributes.join(' ')}`;
}

// ---------------------------------------------------------------------------------------------
// drop

async function drop(
  sessions: PgSessions,
  target: TargetAddress,
  login: Credential,
  username: string,
): Promise<EphemeralOutcome> {
  const problem = checkName(username, 'account');
  if (problem) return failed(problem);
  const session = await sessions.open(target, login);
  if (typeof session === 'string') return failed(session);
  try {
    const oid = await roleOid(session.client, username);
    if (oid === null) return { kind: 'done' };
    const role = escapeIdentifier(username);
    // No new session can start while the old ones are ended.
    await session.client.query(`ALTER ROLE ${role} NOLOGIN`);
    const lingering = await endSessions(session.client, oid);
    if (lingering > 0) {
      return failed(`${lingering} session(s) of ${username} did not end; the role was kept`);
    }
    const left = await disownEverywhere(sessions, target, login, session, oid, username);
    if (left !== null) return failed(left);
    await session.client.query(`DROP ROLE IF EXISTS ${role}`);
    return { kind: 'done' };
  } catch (error) {
    return failed(session.reason(error));
  } finally {
    await session.close();
  }
}

async function roleOid(client: Client, username: string): Promise<string | null> {
  const found = await client.query<{ oid: string }>(
    'SELECT oid::text AS oid FROM pg_catalog.pg_roles WHERE rolname = $1',
    [username],
  );
  return found.rows[0]?.oid ?? null;
}

/** Ends every session of the role and waits for them to go; returns how many are left. */
async function endSessions(client: Client, oid: string): Promise<number> {
  const others = 'usesysid = $1::oid AND pid <> pg_catalog.pg_backend_pid()';
  await client.query(
    `SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE ${others}`,
    [oid],
  );
  const deadline = Date.now() + SESSIONS_END_WAIT_MS;
  for (;;) {
    const left = await client.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM pg_catalog.pg_stat_activity WHERE ${others}`,
      [oid],
    );
    const count = Number(left.rows[0]?.n ?? '0');
    if (count === 0 || Date.now() >= deadline) return count;
    await new Promise((resolve) => setTimeout(resolve, SESSIONS_POLL_MS));
  }
}

/**
 * Where the role owns objects or holds privileges (pg_shdepend, per database), hands the objects
 * to the role it was a member of and revokes the rest, database by database: REASSIGN OWNED and
 * DROP OWNED act on the database of the session only. Nothing runs for a role that owns nothing,
 * which is the usual case. Returns why it could not finish, or null.
 */
async function disownEverywhere(
  sessions: PgSessions,
  target: TargetAddress,
  login: Credential,
  session: PgAdminSession,
  oid: string,
  username: string,
): Promise<string | null> {
  const places = await session.client.query<{ datname: string | null }>(
    `SELECT DISTINCT d.datname FROM pg_catalog.pg_shdepend s
       LEFT JOIN pg_catalog.pg_database d ON d.oid = s.dbid
      WHERE s.refclassid = 'pg_catalog.pg_authid'::regclass AND s.refobjid = $1::oid
        AND s.deptype <> 'p'`,
    [oid],
  );
  if (places.rowCount === 0) return null;
  const heir = await heirOf(session.client, oid);
  const current = await session.client.query<{ db: string }>('SELECT current_database() AS db');
  const here = current.rows[0]?.db;
  // A null name is a shared object (a database, a tablespace): any database reaches it.
  const databases = new Set(places.rows.map((row) => row.datname ?? here ?? ''));
  for (const database of databases) {
    if (database === here) {
      await disown(session.client, username, heir);
      continue;
    }
    const other = await sessions.open(target, login, database);
    if (typeof other === 'string') return `objects of ${username} in ${database}: ${other}`;
    try {
      await disown(other.client, username, heir);
    } catch (error) {
      return `objects of ${username} in ${database}: ${other.reason(error)}`;
    } finally {
      await other.close();
    }
  }
  return null;
}

/** The role the account was made a member of; null: the admin itself takes the objects. */
async function heirOf(client: Client, oid: string): Promise<string | null> {
  const found = await client.query<{ rolname: string }>(
    `SELECT r.rolname FROM pg_catalog.pg_auth_members m
       JOIN pg_catalog.pg_roles r ON r.oid = m.roleid
      WHERE m.member = $1::oid ORDER BY r.rolname LIMIT 1`,
    [oid],
  );
  return found.rows[0]?.rolname ?? null;
}

async function disown(client: Client, username: string, heir: string | null): Promise<void> {
  const role = escapeIdentifier(username);
  const to = heir === null ? 'CURRENT_USER' : escapeIdentifier(heir);
  await client.query(`REASSIGN OWNED BY ${role} TO ${to}`);
  await client.query(`DROP OWNED BY ${role}`);
}

// ---------------------------------------------------------------------------------------------
// exists

async function exists(
  sessions: PgSessions,
  target: TargetAddress,
  login: Credential,
  username: string,
): Promise<EphemeralPresence> {
  const session = await sessions.open(target, login);
  if (typeof session === 'string') return { kind: 'failed', reason: session };
  try {
    const oid = await roleOid(session.client, username);
    return oid === null ? { kind: 'absent' } : { kind: 'present' };
  } catch (error) {
    return { kind: 'failed', reason: session.reason(error) };
  } finally {
    await session.close();
  }
}
