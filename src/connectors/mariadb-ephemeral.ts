/**
 * Ephemeral accounts on MariaDB: `name`@`%` with a `mysql_native_password` hash computed here
 * (the clear password never reaches the server or its logs), one configured role granted and
 * made its default role, so it is in force at login. Dropping locks the account, ends every
 * connection it has, then drops it. MariaDB has no account end time; the reaper is what ends it.
 *
 * The admin account needs CREATE USER, SELECT and UPDATE on the `mysql` schema (SET DEFAULT
 * ROLE for another user writes there), ADMIN OPTION on each configured role, PROCESS (to see
 * the account's connections) and CONNECTION ADMIN or SUPER (to end them). Without the last two
 * a drop could leave a live session behind unnoticed, so create and drop refuse to run.
 */
import type {
  Credential,
  EphemeralAccountSpec,
  EphemeralOutcome,
  EphemeralPresence,
  EphemeralSupport,
  TargetAddress,
} from './connector.ts';
import {
  closeSession,
  failureReason,
  isLoginRefused,
  openSession,
  run,
  type Session,
  type SessionTimeouts,
  text,
} from './mariadb-session.ts';
import {
  nativePasswordHash,
  parseAccountName,
  parseCurrentUser,
  quoteIdentifier,
  quoteRow,
} from './mariadb-sql.ts';

/** Ephemeral accounts log in from anywhere the target's own network rules allow. */
const ANY_HOST = '%';
/** MariaDB allows 128 characters in a user or role name. */
const MAX_NAME_CHARACTERS = 128;
/** Words that name no role in SET DEFAULT ROLE and GRANT, quoted or not. */
const RESERVED_ROLES = new Set(['none', 'public']);
const SESSIONS_END_WAIT_MS = 5_000;
const SESSIONS_POLL_MS = 100;

export function createMariadbEphemeral(timeouts: SessionTimeouts): EphemeralSupport {
  return {
    checkRole,
    create: (target, login, account) => create(target, login, account, timeouts),
    drop: (target, login, username) => drop(target, login, username, timeouts),
    exists: (target, login, username) => exists(target, login, username, timeouts),
  };
}

function checkRole(role: string): string | null {
  const problem = checkName(role, 'role');
  if (problem) return problem;
  if (RESERVED_ROLES.has(role.toLowerCase())) return `${role} cannot be granted as a role`;
  return null;
}

function checkName(name: string, what: string): string | null {
  if (name.length === 0 || name.includes('\u0000') || !name.isWellFormed()) {
    return `the ${what} name is empty, holds NUL or is not well-formed Unicode`;
  }
  if (name.length > MAX_NAME_CHARACTERS) {
    return `the ${what} name is longer than ${MAX_NAME_CHARACTERS} characters`;
  }
  return null;
}

const failed = (reason: string): EphemeralOutcome => ({ kind: 'failed', reason });

/** Thrown inside a session for a refusal decided here rather than by the server. */
class Refused extends Error {
  override readonly name = 'Refused';
}

type AdminSession = { session: Session; secrets: string[] } | { reason: string };

async function openAdmin(
  target: TargetAddress,
  login: Credential,
  timeouts: SessionTimeouts,
): Promise<AdminSession> {
  const account = parseAccountName(login.username);
  if (typeof account === 'string') return { reason: `admin account: ${account}` };
  const secrets = [login.secret];
  try {
    const session = await openSession(
      target,
      { user: account.user, password: login.secret },
      timeouts,
    );
    return { session, secrets };
  } catch (error) {
    if (isLoginRefused(error)) return { reason: 'login: the target refused the admin account' };
    return { reason: failureReason(error, secrets) };
  }
}

/** Runs `work` as the admin; a refusal or a failed step becomes the reason of the outcome. */
async function asAdmin<T>(
  target: TargetAddress,
  login: Credential,
  timeouts: SessionTimeouts,
  work: (session: Session, secrets: string[]) => Promise<T>,
): Promise<T | { kind: 'failed'; reason: string }> {
  const admin = await openAdmin(target, login, timeouts);
  if ('reason' in admin) return { kind: 'failed', reason: admin.reason };
  try {
    await requireMariadb(admin.session);
    return await work(admin.session, admin.secrets);
  } catch (error) {
    if (error instanceof Refused) return { kind: 'failed', reason: error.message };
    return { kind: 'failed', reason: failureReason(error, admin.secrets) };
  } finally {
    await closeSession(admin.session);
  }
}

/** Roles, DEFAULT ROLE and KILL USER are spelled this way by MariaDB only. */
async function requireMariadb(session: Session): Promise<void> {
  const [row] = await run(session, 'reading the server version', 'SELECT VERSION()');
  if (!(text(row?.[0]) ?? '').includes('MariaDB')) {
    throw new Refused('ephemeral accounts need a MariaDB server; this one is MySQL');
  }
}

// ---------------------------------------------------------------------------------------------
// create

async function create(
  target: TargetAddress,
  login: Credential,
  account: EphemeralAccountSpec,
  timeouts: SessionTimeouts,
): Promise<EphemeralOutcome> {
  const problem = checkRole(account.role) ?? checkName(account.username, 'account');
  if (problem) return failed(problem);
  if (account.password.length === 0 || account.password.includes('\u0000')) {
    return failed('the password is empty or contains NUL');
  }
  const row = quoteRow({ user: account.username, host: ANY_HOST });
  const role = quoteIdentifier(account.role);
  const hash = nativePasswordHash(account.password);

  return asAdmin(target, login, timeouts, async (session, secrets) => {
    secrets.push(account.password, hash);
    await requireSessionControl(session);
    await requireRole(session, account.role);
    await run(
      session,
      `creating ${account.username}`,
      // The hash is `*` and hexadecimal digits: nothing in it needs escaping in any sql_mode.
      `CREATE USER ${row} IDENTIFIED VIA mysql_native_password USING '${hash}'`,
    );
    await run(session, `granting ${account.role}`, `GRANT ${role} TO ${row}`);
    await run(session, 'setting the default role', `SET DEFAULT ROLE ${role} FOR ${row}`);
    return { kind: 'done' } as const;
  });
}

async function requireRole(session: Session, role: string): Promise<void> {
  const [row] = await run(
    session,
    `looking up role ${role}`,
    "SELECT COUNT(*) FROM mysql.user WHERE User = ? AND is_role = 'Y'",
    [role],
  );
  if (Number(text(row?.[0])) === 0) {
    throw new Refused(`the role ${role} does not exist on the target; nothing was created`);
  }
}

/**
 * Without PROCESS the admin sees no other user's connections, and without CONNECTION ADMIN
 * (or SUPER) KILL USER ends none of them, silently: both are checked on the admin's own row.
 * Privileges that reach the admin only through a role are not followed, so it fails closed.
 */
async function requireSessionControl(session: Session): Promise<void> {
  const [me] = await run(session, 'reading the admin row', 'SELECT CURRENT_USER()');
  const row = parseCurrentUser(text(me?.[0]) ?? '');
  const grantee = row === undefined ? '' : `'${row.user}'@'${row.host}'`;
  const held = await run(
    session,
    'reading the admin privileges',
    `SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES
      WHERE GRANTEE = ? AND PRIVILEGE_TYPE IN ('PROCESS', 'CONNECTION ADMIN', 'SUPER')`,
    [grantee],
  );
  const privileges = new Set(held.map((cells) => text(cells[0])));
  if (privileges.has('PROCESS') && (privileges.has('CONNECTION ADMIN') || privileges.has('SUPER')))
    return;
  throw new Refused(
    'the admin account needs PROCESS and CONNECTION ADMIN (or SUPER) to end ephemeral sessions',
  );
}

// ---------------------------------------------------------------------------------------------
// drop

async function drop(
  target: TargetAddress,
  login: Credential,
  username: string,
  timeouts: SessionTimeouts,
): Promise<EphemeralOutcome> {
  const problem = checkName(username, 'account');
  if (problem) return failed(problem);
  const row = quoteRow({ user: username, host: ANY_HOST });

  return asAdmin(target, login, timeouts, async (session) => {
    // No new connection can start while the old ones are ended.
    await run(session, `locking ${username}`, `ALTER USER IF EXISTS ${row} ACCOUNT LOCK`);
    await requireSessionControl(session);
    await run(session, `ending the sessions of ${username}`, `KILL HARD CONNECTION USER ${row}`);
    const left = await waitForSessionsToEnd(session, username);
    if (left > 0) throw new Refused(`${left} session(s) of ${username} did not end; it was kept`);
    await run(session, `dropping ${username}`, `DROP USER IF EXISTS ${row}`);
    return { kind: 'done' } as const;
  });
}

/** KILL marks the threads; they leave at their next check. Returns how many are left. */
async function waitForSessionsToEnd(session: Session, username: string): Promise<number> {
  const deadline = Date.now() + SESSIONS_END_WAIT_MS;
  for (;;) {
    const [row] = await run(
      session,
      `counting the sessions of ${username}`,
      'SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?',
      [username],
    );
    const left = Number(text(row?.[0]) ?? '0');
    if (left === 0 || Date.now() >= deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, SESSIONS_POLL_MS));
  }
}

// ---------------------------------------------------------------------------------------------
// exists

async function exists(
  target: TargetAddress,
  login: Credential,
  username: string,
  timeouts: SessionTimeouts,
): Promise<EphemeralPresence> {
  return asAdmin(target, login, timeouts, async (session) => {
    const [row] = await run(
      session,
      `looking up ${username}`,
      'SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = ?',
      [username, ANY_HOST],
    );
    return Number(text(row?.[0])) > 0 ? { kind: 'present' } : { kind: 'absent' };
  });
}
