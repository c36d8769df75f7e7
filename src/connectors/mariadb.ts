/**
 * MariaDB (and MySQL) connector. An account is a user name (every `name`@`host` row on the
 * server) or one row (`name@host`); a change alters every row it names and reads them back.
 * How the value travels is in `mariadb-change.ts`; discovery lists each privileged row.
 *
 * The logon of a reconcile account needs CREATE USER and SELECT on the `mysql` schema (to list
 * rows, read their plugins and check them afterwards); a scanning account needs the SELECT.
 */
import { z } from 'zod';
import {
  CONNECT_TIMEOUT_MS,
  type Connector,
  type Credential,
  type DiscoveredAccount,
  type DiscoveryOutcome,
  type PlatformSecretRules,
  STATEMENT_TIMEOUT_MS,
  type TargetAddress,
  type VerifyOutcome,
} from './connector.ts';
import { changePassword, type Flavour, listRows } from './mariadb-change.ts';
import { createMariadbEphemeral } from './mariadb-ephemeral.ts';
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
  type AccountRow,
  parseAccountName,
  parseCurrentUser,
  quoteRow,
  rowName,
  sameRow,
} from './mariadb-sql.ts';
import { rootCertNeedsVerification, tlsOptionFields, tlsOptionsView } from './tls-options.ts';

/**
 * The server keeps only a hash, whatever the length; the limit is for the tools around it (client
 * prompts, option files, connection strings of applications), and 64 characters are far more
 * entropy than any policy needs.
 */
const MAX_SECRET_LENGTH = 64;

const optionsSchema = z.strictObject({ ...tlsOptionFields }).superRefine(rootCertNeedsVerification);

export interface MariadbConnectorSettings {
  /** Limits for the TCP and login handshake and for each statement; connector.ts's by default. */
  readonly connectTimeoutMs?: number;
  readonly statementTimeoutMs?: number;
}

/** Creates the MariaDB connector. */
export function createMariadbConnector(settings: MariadbConnectorSettings = {}): Connector {
  const timeouts: SessionTimeouts = {
    connectMs: settings.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    statementMs: settings.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS,
  };
  const secretRules: PlatformSecretRules = {
    maxLength: MAX_SECRET_LENGTH,
    // The server and its clients pass passwords through C strings.
    forbiddenCharacters: '\u0000',
  };
  return {
    platform: 'mariadb',
    secretRules,
    secretKinds: ['password'],
    options: optionsSchema,
    viewOptions: (options) => tlsOptionsView(options),
    sameAccount: (_target, a, b) => overlappingNames(a, b),
    checkUsername: (username) => {
      const parsed = parseAccountName(username);
      return typeof parsed === 'string' ? parsed : null;
    },
    verify: (target, credential) => verify(target, credential, timeouts),
    change: (target, request) => changePassword(target, request, timeouts),
    discover: (target, scanner) => discover(target, scanner, timeouts),
    ephemeral: createMariadbEphemeral(timeouts),
  };
}

// ---------------------------------------------------------------------------------------------
// verify

async function verify(
  target: TargetAddress,
  credential: Credential,
  timeouts: SessionTimeouts,
): Promise<VerifyOutcome> {
  const account = parseAccountName(credential.username);
  if (typeof account === 'string') return { kind: 'invalid', reason: account };
  if (credential.secret.length === 0 || credential.secret.includes('\u0000')) {
    return { kind: 'invalid', reason: 'the secret is empty or contains NUL' };
  }
  const secrets = [credential.secret];

  let session: Session;
  try {
    session = await openSession(
      target,
      { user: account.user, password: credential.secret },
      timeouts,
    );
  } catch (error) {
    return verifyFailure(error, secrets);
  }
  try {
    const [row] = await run(session, 'SELECT 1', 'SELECT 1, CURRENT_USER()');
    const landed = parseCurrentUser(text(row?.[1]) ?? '');
    if (account.host === null || (landed && sameRow(landed, { ...account, host: account.host }))) {
      return { kind: 'valid' };
    }
    // The login worked, but for another row than the account's: that row was not verified.
    const named = rowName({ user: account.user, host: account.host });
    const reason = `the login landed on row ${landed ? rowName(landed) : '?'}, not on ${named}`;
    return { kind: 'invalid', reason };
  } catch (error) {
    return verifyFailure(error, secrets);
  } finally {
    await closeSession(session);
  }
}

function verifyFailure(error: unknown, secrets: readonly string[]): VerifyOutcome {
  // The server's error number differs at times between an unknown user and a wrong password
  // (1045, 1698); the verdict carries neither, so it cannot tell the two apart.
  if (isLoginRefused(error))
    return { kind: 'invalid', reason: 'the target refused the credential' };
  return { kind: 'unreachable', reason: failureReason(error, secrets) };
}

// ---------------------------------------------------------------------------------------------
// discover

async function discover(
  target: TargetAddress,
  scanner: Credential,
  timeouts: SessionTimeouts,
): Promise<DiscoveryOutcome> {
  const account = parseAccountName(scanner.username);
  if (typeof account === 'string') return { kind: 'failed', reason: `scanner: ${account}` };
  const secrets = [scanner.secret];

  let session: Session;
  try {
    session = await openSession(target, { user: account.user, password: scanner.secret }, timeouts);
  } catch (error) {
    return { kind: 'failed', reason: failureReason(error, secrets) };
  }
  try {
    const accounts: DiscoveredAccount[] = [];
    for (const row of await allRows(session)) {
      const reasons = await privilegeReasons(session, row);
      if (reasons.length > 0) accounts.push({ username: rowName(row), reasons });
    }
    return { kind: 'found', accounts };
  } catch (error) {
    return { kind: 'failed', reason: failureReason(error, secrets) };
  } finally {
    await closeSession(session);
  }
}

/** Every user row (not roles), anonymous rows left out: they cannot be onboarded by name. */
async function allRows(session: Session): Promise<AccountRow[]> {
  const [version] = await run(session, 'reading the server version', 'SELECT VERSION()');
  const flavour: Flavour = (text(version?.[0]) ?? '').includes('MariaDB') ? 'mariadb' : 'mysql';
  const roles = flavour === 'mariadb' ? " AND is_role = 'N'" : '';
  const users = await run(
    session,
    'listing the user names',
    `SELECT DISTINCT User FROM mysql.user WHERE User <> ''${roles} ORDER BY User`,
  );
  const rows: AccountRow[] = [];
  for (const user of users.map((row) => text(row[0]) ?? '')) {
    rows.push(...(await listRows(session, user, flavour)));
  }
  return rows;
}

/**
 * Why a row is privileged, read from `SHOW GRANTS`: each global privilege as the server names
 * it (`ALL PRIVILEGES`, `SUPER`, `CREATE USER`), PROXY grants, and `GRANT OPTION` wherever it is
 * held. Privileges that reach a row only through a role are not followed.
 */
async function privilegeReasons(session: Session, row: AccountRow): Promise<string[]> {
  const lines = await run(
    session,
    `reading the grants of ${rowName(row)}`,
    `SHOW GRANTS FOR ${quoteRow(row)}`,
  );
  const reasons = new Set<string>();
  for (const line of lines.map((cells) => text(cells[0]) ?? '')) {
    const grant = parseGrant(line, row);
    if (grant === undefined) continue;
    if (grant.object === '*.*') {
      for (const privilege of grant.privileges) if (privilege !== 'USAGE') reasons.add(privilege);
    }
    // PROXY lets the row act as the users it names (``@`%`: every user).
    if (grant.privileges.includes('PROXY')) reasons.add(`PROXY ON ${grant.object}`);
    if (grant.grantOption) {
      reasons.add(grant.object === '*.*' ? 'GRANT OPTION' : `GRANT OPTION ON ${grant.object}`);
    }
  }
  return [...reasons];
}

interface Grant {
  readonly privileges: readonly string[];
  readonly object: string;
  readonly grantOption: boolean;
}

/** `GRANT <privileges> ON <object> TO <row> … [WITH GRANT OPTION]`; role grants have no ON. */
function parseGrant(line: string, row: AccountRow): Grant | undefined {
  if (!line.startsWith('GRANT ')) return undefined;
  const on = line.indexOf(' ON ');
  const grantee = line.indexOf(` TO ${quoteRow(row)}`, on);
  const to = grantee >= 0 ? grantee : line.lastIndexOf(' TO ');
  if (on < 0 || to < on) return undefined;
  const privileges = line
    .slice('GRANT '.length, on)
    .split(/,\s*/)
    .map((privilege) => privilege.trim().toUpperCase());
  const object = line.slice(on + ' ON '.length, to).trim();
  // After the grantee come IDENTIFIED … (hashes hold no spaces) and the WITH options.
  const tail = line.slice(grantee >= 0 ? grantee + ` TO ${quoteRow(row)}`.length : to);
  return { privileges, object, grantOption: /\bWITH\b.*\bGRANT OPTION\b/.test(tail) };
}

/** `app` covers every `app@host` row, so it overlaps each of them; two rows overlap when equal. */
function overlappingNames(a: string, b: string): boolean {
  const first = parseAccountName(a);
  const second = parseAccountName(b);
  if (typeof first === 'string' || typeof second === 'string') return a === b;
  if (first.user !== second.user) return false;
  if (first.host === null || second.host === null) return true;
  return first.host.toLowerCase() === second.host.toLowerCase();
}
