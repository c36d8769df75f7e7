/**
 * Changes the password of every row an account names and then reads each row back, so that a
 * result where only some rows took the new value is reported, never taken for success.
 *
 * Where the row's plugin allows it (`mysql_native_password`, MariaDB's `ed25519`), the stored
 * value is computed here and sent instead of the password: the clear value then never reaches the
 * server's general log, slow log or binary log. The clear value is sent, as a literal escaped for
 * the session's sql_mode, only where the server needs it: MySQL's salted plugins, and MariaDB with
 * a password-validation plugin under strict_password_validation (which refuses hashes).
 */
import type { ChangeOutcome, ChangeRequest, TargetAddress } from './connector.ts';
import {
  closeSession,
  driverError,
  failureReason,
  isLoginRefused,
  isServerAnswer,
  openSession,
  run,
  type Session,
  type SessionTimeouts,
  scrub,
  text,
} from './mariadb-session.ts';
import {
  type AccountName,
  type AccountRow,
  type AuthMethod,
  authStringFor,
  isHashedPlugin,
  parseAccountName,
  parseAuthMethod,
  parseCurrentUser,
  quoteLiteral,
  quoteRow,
  rowName,
  sameRow,
} from './mariadb-sql.ts';

/** A hard ceiling for any value `change` accepts, generated or not. */
const MAX_SECRET_BYTES = 1024;
/** ER_NOT_VALID_PASSWORD: a password-validation plugin refused the value (MariaDB and MySQL). */
const ER_NOT_VALID_PASSWORD = 1819;
/** The plugins each server flavour can rotate: those with a password and one stored value. */
const ROTATABLE_PLUGINS: Record<Flavour, readonly string[]> = {
  mariadb: ['mysql_native_password', 'ed25519'],
  mysql: ['mysql_native_password', 'caching_sha2_password', 'sha256_password'],
};

export type Flavour = 'mariadb' | 'mysql';

/** What the session found out about the server before changing anything. */
interface ServerFacts {
  readonly flavour: Flavour;
  readonly sqlMode: string;
  readonly clientCharset: string;
  readonly loggedInAs: AccountRow;
  /** MariaDB refuses hashed values while a validation plugin is active under strict validation. */
  readonly literalRequired: boolean;
}

/** One row to change: how it authenticates now and what it must store afterwards. */
interface RowPlan {
  readonly row: AccountRow;
  readonly before: AuthMethod;
  /** The stored value the row must hold afterwards; null for salted plugins (compared unequal). */
  readonly expected: string | null;
}

/** Ends a change before anything was sent; the reason becomes the not-sent outcome's. */
class ChangeStopped extends Error {
  readonly outcome: ChangeOutcome;

  constructor(reason: string) {
    super(reason);
    this.name = 'ChangeStopped';
    this.outcome = { kind: 'not-sent', reason };
  }
}

export async function changePassword(
  target: TargetAddress,
  request: ChangeRequest,
  timeouts: SessionTimeouts,
): Promise<ChangeOutcome> {
  const checked = checkRequest(request);
  if ('kind' in checked) return checked;
  const secrets = secretsOf(request);

  let session: Session;
  try {
    session = await openSession(target, checked.logon, timeouts);
  } catch (error) {
    return { kind: 'not-sent', reason: `${logonFailure(error, secrets)}; nothing was changed` };
  }
  try {
    return await changeInSession(session, checked.account, request, secrets);
  } finally {
    await closeSession(session);
  }
}

async function changeInSession(
  session: Session,
  account: AccountName,
  request: ChangeRequest,
  secrets: string[],
): Promise<ChangeOutcome> {
  let prepared: { facts: ServerFacts; plans: RowPlan[]; statement: string };
  try {
    const facts = await readServerFacts(session);
    const rows = await rowsToChange(session, account, request.via, facts);
    const plans = await planRows(session, rows, request, facts);
    prepared = { facts, plans, statement: changeStatement(plans, request, facts) };
  } catch (error) {
    if (error instanceof ChangeStopped) return error.outcome;
    // Only reads ran so far: whatever failed, the target was not changed.
    return { kind: 'not-sent', reason: `${failureReason(error, secrets)}; nothing was changed` };
  }
  const { facts, plans, statement } = prepared;
  secrets.push(...plans.flatMap((plan) => (plan.expected ? [plan.expected] : [])));
  return applyAndCheck(session, statement, plans, request, facts, secrets);
}

// ---------------------------------------------------------------------------------------------
// checks before the target is touched

interface CheckedRequest {
  readonly account: AccountName;
  readonly logon: { readonly user: string; readonly password: string };
}

function checkRequest(request: ChangeRequest): CheckedRequest | ChangeOutcome {
  if (request.secretKind !== 'password') {
    return { kind: 'not-sent', reason: 'MariaDB accounts take passwords only' };
  }
  const account = parseAccountName(request.account);
  if (typeof account === 'string') return { kind: 'not-sent', reason: account };
  const logon = parseAccountName(request.logon.username);
  if (typeof logon === 'string') return { kind: 'not-sent', reason: `logon: ${logon}` };
  if (request.logon.secret.length === 0 || request.logon.secret.includes('\u0000')) {
    return { kind: 'not-sent', reason: 'the logon secret is empty or contains NUL' };
  }
  if (request.via === 'self' && logon.user !== account.user) {
    return { kind: 'not-sent', reason: 'via self, the logon must be the account itself' };
  }
  const problem = checkNewSecret(request.newSecret);
  if (problem) return { kind: 'rejected', reason: problem };
  return { account, logon: { user: logon.user, password: request.logon.secret } };
}

function checkNewSecret(secret: string): string | undefined {
  if (secret.length === 0) return 'the new secret is empty';
  if (secret.includes('\u0000')) return 'the new secret contains NUL, which MariaDB cannot take';
  if (!secret.isWellFormed()) return 'the new secret is not well-formed Unicode';
  if (Buffer.byteLength(secret, 'utf8') > MAX_SECRET_BYTES) {
    return `the new secret is longer than ${MAX_SECRET_BYTES} bytes`;
  }
  return undefined;
}

function secretsOf(request: ChangeRequest): string[] {
  const secrets = [request.newSecret, request.logon.secret];
  if (request.currentSecret) secrets.push(request.currentSecret);
  return secrets;
}

function logonFailure(error: unknown, secrets: readonly string[]): string {
  if (isLoginRefused(error)) return 'login: the target refused the logon credential';
  return failureReason(error, secrets);
}

// ---------------------------------------------------------------------------------------------
// reading the server and the rows

async function readServerFacts(session: Session): Promise<ServerFacts> {
  const [row] = await run(
    session,
    'reading the server settings',
    'SELECT VERSION(), @@SESSION.sql_mode, @@SESSION.character_set_client, CURRENT_USER()',
  );
  const loggedInAs = parseCurrentUser(text(row?.[3]) ?? '');
  if (loggedInAs === undefined) {
    throw new ChangeStopped('the server did not say which row the logon is');
  }
  const flavour: Flavour = (text(row?.[0]) ?? '').includes('MariaDB') ? 'mariadb' : 'mysql';
  const facts = {
    flavour,
    sqlMode: text(row?.[1]) ?? '',
    clientCharset: text(row?.[2]) ?? '',
    loggedInAs,
  };
  return { ...facts, literalRequired: flavour === 'mariadb' && (await hashesRefused(session)) };
}

async function hashesRefused(session: Session): Promise<boolean> {
  // The count sits in a subquery: beside an aggregate over information_schema, MariaDB 10.11
  // reports the system variable as 0 whatever its value.
  const [row] = await run(
    session,
    'reading the password validation settings',
    `SELECT IF(@@GLOBAL.strict_password_validation, 'on', 'off'),
      (SELECT COUNT(*) FROM information_schema.PLUGINS
        WHERE PLUGIN_TYPE = 'PASSWORD VALIDATION' AND PLUGIN_STATUS = 'ACTIVE')`,
  );
  return text(row?.[0]) === 'on' && Number(text(row?.[1])) > 0;
}

/**
 * The rows the account names. Via self only the row the logon landed on can change (SET PASSWORD
 * alters the session's own row), so a bare name with any other row is refused rather than half
 * rotated.
 */
async function rowsToChange(
  session: Session,
  account: AccountName,
  via: ChangeRequest['via'],
  facts: ServerFacts,
): Promise<AccountRow[]> {
  if (via === 'self') return selfRows(session, account, facts);
  if (account.host !== null) return [{ user: account.user, host: account.host }];

  const rows = await listRows(session, account.user, facts.flavour);
  if (rows.length > 0) return rows;
  throw new ChangeStopped(`the target has no row for user ${account.user}`);
}

async function selfRows(
  session: Session,
  account: AccountName,
  facts: ServerFacts,
): Promise<AccountRow[]> {
  const own = facts.loggedInAs;
  if (account.host !== null) {
    if (sameRow(own, { user: account.user, host: account.host })) return [own];
    const named = rowName({ user: account.user, host: account.host });
    const reason = `the logon landed on row ${rowName(own)}, not on the account's row ${named}`;
    throw new ChangeStopped(`${reason}; nothing was changed`);
  }
  let rows: AccountRow[];
  try {
    rows = await listRows(session, account.user, facts.flavour);
  } catch (error) {
    if (!isServerAnswer(error)) throw error;
    const reason = `via self, ${account.user} cannot list its rows on the target`;
    throw new ChangeStopped(`${reason}; ${advice(own)}`);
  }
  if (rows.length === 1 && rows[0] && sameRow(rows[0], own)) return [own];
  const names = rows.map(rowName).join(', ');
  throw new ChangeStopped(`the user has the rows ${names}; ${advice(own)}`);
}

function advice(own: AccountRow): string {
  return `name the row (${rowName(own)}) or rotate via a reconcile account; nothing was changed`;
}

/** Every row of a user name; roles (MariaDB keeps them in the same table) excluded. */
export async function listRows(
  session: Session,
  user: string,
  flavour: Flavour,
): Promise<AccountRow[]> {
  const roles = flavour === 'mariadb' ? " AND is_role = 'N'" : '';
  const rows = await run(
    session,
    `listing the rows of user ${user}`,
    `SELECT Host FROM mysql.user WHERE User = ?${roles} ORDER BY Host`,
    [user],
  );
  return rows.map((row) => ({ user, host: text(row[0]) ?? '' }));
}

async function planRows(
  session: Session,
  rows: readonly AccountRow[],
  request: ChangeRequest,
  facts: ServerFacts,
): Promise<RowPlan[]> {
  const plans: RowPlan[] = [];
  for (const row of rows) {
    const before = await readAuthMethod(session, row, request.via);
    const problem = unrotatable(row, before, facts.flavour);
    if (problem || before === undefined) {
      throw new ChangeStopped(`${problem}; nothing was changed`);
    }
    const method = before;
    const expected = isHashedPlugin(method.plugin)
      ? authStringFor(method.plugin, request.newSecret)
      : null;
    plans.push({ row, before: method, expected });
  }
  return plans;
}

function unrotatable(row: AccountRow, method: AuthMethod | undefined, flavour: Flavour) {
  const name = rowName(row);
  if (method === undefined) return `the authentication of row ${name} could not be read`;
  if (method.alternatives) {
    return `row ${name} accepts several authentication methods; Tessera rotates rows with one`;
  }
  if (!ROTATABLE_PLUGINS[flavour].includes(method.plugin)) {
    return `row ${name} authenticates with ${method.plugin}, which has no password to rotate`;
  }
  return undefined;
}

async function readAuthMethod(
  session: Session,
  row: AccountRow,
  via: ChangeRequest['via'],
): Promise<AuthMethod | undefined> {
  // The session's own row is always readable; other rows need SELECT on the mysql schema.
  const who = via === 'self' ? 'CURRENT_USER()' : quoteRow(row);
  const [line] = await run(session, `reading row ${rowName(row)}`, `SHOW CREATE USER ${who}`);
  return parseAuthMethod(text(line?.[0]) ?? '');
}

// ---------------------------------------------------------------------------------------------
// the change and the check

function changeStatement(
  plans: readonly RowPlan[],
  request: ChangeRequest,
  facts: ServerFacts,
): string {
  const sendsLiteral = facts.literalRequired || plans.some((plan) => plan.expected === null);
  if (sendsLiteral && facts.clientCharset.toLowerCase() !== 'utf8mb4') {
    // In other character sets the server would store other bytes than the vault holds.
    const reason = `the session's character set is ${facts.clientCharset}, not utf8mb4`;
    throw new ChangeStopped(`${reason}; nothing was changed`);
  }
  const clauses = plans.map((plan) => authClause(plan, request.newSecret, facts));
  if (request.via === 'self') {
    const [clause] = clauses;
    return facts.flavour === 'mariadb'
      ? `SET PASSWORD = ${clause?.value}`
      : `ALTER USER CURRENT_USER() IDENTIFIED WITH ${clause?.plugin} ${clause?.mysql}`;
  }
  const parts = plans.map((plan, i) => {
    const clause = clauses[i];
    return facts.flavour === 'mariadb'
      ? `${quoteRow(plan.row)} IDENTIFIED VIA ${clause?.plugin} USING ${clause?.value}`
      : `${quoteRow(plan.row)} IDENTIFIED WITH ${clause?.plugin} ${clause?.mysql}`;
  });
  return `ALTER USER ${parts.join(', ')}`;
}

/** The value for a row, as MariaDB (`value`) and MySQL (`mysql`) take it. */
function authClause(plan: RowPlan, secret: string, facts: ServerFacts) {
  const plugin = plan.before.plugin;
  if (plan.expected !== null && !facts.literalRequired) {
    const hash = quoteLiteral(plan.expected, facts.sqlMode);
    return { plugin, value: hash, mysql: `AS ${hash}` };
  }
  const literal = quoteLiteral(secret, facts.sqlMode);
  return { plugin, value: `PASSWORD(${literal})`, mysql: `BY ${literal}` };
}

async function applyAndCheck(
  session: Session,
  statement: string,
  plans: readonly RowPlan[],
  request: ChangeRequest,
  facts: ServerFacts,
  secrets: readonly string[],
): Promise<ChangeOutcome> {
  let failure: unknown;
  try {
    await run(session, 'changing the password', statement);
  } catch (error) {
    if (!isServerAnswer(error)) {
      const reason = failureReason(error, secrets);
      return {
        kind: 'unknown',
        reason: `the change was sent but its outcome is unknown: ${reason}`,
      };
    }
    failure = error;
  }
  const warnings = failure === undefined ? [] : await readWarnings(session);
  return settleRows(session, plans, request, facts, { failure, warnings, secrets });
}

interface Answer {
  readonly failure: unknown;
  readonly warnings: readonly number[];
  readonly secrets: readonly string[];
}

/** Reads every row back; the rows decide the outcome, the server's answer only explains it. */
async function settleRows(
  session: Session,
  plans: readonly RowPlan[],
  request: ChangeRequest,
  facts: ServerFacts,
  answer: Answer,
): Promise<ChangeOutcome> {
  let state: RowState;
  try {
    state = await rowState(session, plans, request, facts);
  } catch (error) {
    const reason = failureReason(error, answer.secrets);
    return { kind: 'unknown', reason: `the change was sent but could not be checked: ${reason}` };
  }
  const cause = answer.failure === undefined ? '' : `; ${serverRefusal(answer)}`;
  const { took, untouched, other } = state;
  if (took.length > 0 && untouched.length === 0 && other.length === 0) return { kind: 'applied' };
  if (took.length === 0 && other.length === 0) {
    const errors = [driverError(answer.failure)?.errno, ...answer.warnings];
    const reason = `no row took the new password${cause}`;
    return errors.includes(ER_NOT_VALID_PASSWORD)
      ? { kind: 'rejected', reason }
      : { kind: 'not-sent', reason };
  }
  const parts = [
    ['changed', took],
    ['not changed', untouched],
    ['holding neither the old nor the new value', other],
  ] as const;
  const rows = parts
    .filter(([, list]) => list.length > 0)
    .map(([label, list]) => `${label} ${list.map(rowName).join(', ')}`);
  return {
    kind: 'partial',
    reason: `the rows do not all hold the new password: ${rows.join('; ')}${cause}`,
  };
}

type RowVerdict = 'took' | 'untouched' | 'other';
type RowState = Record<RowVerdict, AccountRow[]>;

async function rowState(
  session: Session,
  plans: readonly RowPlan[],
  request: ChangeRequest,
  facts: ServerFacts,
): Promise<RowState> {
  const account = parseAccountName(request.account);
  // A bare name is listed again: a row added meanwhile must carry the new value too.
  const bare = request.via === 'reconcile' && typeof account !== 'string' && account.host === null;
  const rows = bare
    ? await listRows(session, plans[0]?.row.user ?? '', facts.flavour)
    : plans.map((plan) => plan.row);

  const state: RowState = { took: [], untouched: [], other: [] };
  for (const row of rows) {
    const plan = plans.find((candidate) => sameRow(candidate.row, row));
    const now = await readAuthMethod(session, row, request.via);
    state[now === undefined ? 'other' : verdict(plan, now, request.newSecret)].push(row);
  }
  return state;
}

function verdict(plan: RowPlan | undefined, now: AuthMethod, secret: string): RowVerdict {
  if (plan === undefined) {
    // A row that appeared after planning: it counts only if it holds the new value already.
    const took = isHashedPlugin(now.plugin) && now.authString === authStringFor(now.plugin, secret);
    return took ? 'took' : 'untouched';
  }
  if (now.plugin !== plan.before.plugin || now.alternatives) return 'other';
  if (plan.expected !== null && now.authString === plan.expected) return 'took';
  if (now.authString === plan.before.authString) return 'untouched';
  // Salted plugins store a new value at every change: any other value means it changed. With a
  // known hash, another value means the password was mangled on the way: nobody knows it.
  return plan.expected === null ? 'took' : 'other';
}

async function readWarnings(session: Session): Promise<number[]> {
  try {
    const rows = await run(session, 'reading the warnings', 'SHOW WARNINGS');
    return rows.map((row) => Number(text(row[1]))).filter(Number.isInteger);
  } catch {
    return []; // the warnings only explain a refusal; the rows, read next, decide the outcome
  }
}

function serverRefusal(answer: Answer): string {
  const error = driverError(answer.failure);
  const message = scrub(error?.message ?? '', answer.secrets);
  const warnings = answer.warnings.length > 0 ? ` (warnings ${answer.warnings.join(', ')})` : '';
  return `the target answered ${error?.code} ${error?.errno}: ${message}${warnings}`;
}
