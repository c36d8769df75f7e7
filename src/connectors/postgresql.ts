/**
 * PostgreSQL connector. Verifies a login with a fresh session and changes a role's password by
 * sending a SCRAM-SHA-256 verifier computed here, so the clear value never reaches the server,
 * its statement log or its replicas.
 *
 * The verifier must be derived from the same bytes that clients feed into SCRAM at login.
 * PostgreSQL (server and libpq alike) runs the password through SASLprep first (RFC 4013: map
 * odd spaces and invisible characters, then NFKC) and falls back to the raw bytes when SASLprep
 * refuses the string (prohibited character, bidi rule). Both decisions are mirrored below, so a
 * login with exactly the vault's bytes works from psql and libpq-based drivers. pg, which this
 * connector verifies with, never falls back to raw bytes; the few values where that matters are
 * refused before the target is touched.
 */
import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Client, type ClientConfig, DatabaseError, escapeIdentifier, escapeLiteral } from 'pg';
import { z } from 'zod';
import {
  type ChangeOutcome,
  type ChangeRequest,
  CONNECT_TIMEOUT_MS,
  type Connector,
  type Credential,
  type DiscoveredAccount,
  type DiscoveryOutcome,
  type PlatformSecretRules,
  STATEMENT_TIMEOUT_MS,
  type TargetAddress,
  type TargetOptions,
  type VerifyOutcome,
} from './connector.ts';
import { createPostgresqlEphemeral, type PgAdminSession } from './postgresql-ephemeral.ts';
import { pgClientAgrees, scramInput } from './postgresql-saslprep.ts';
import {
  rootCertNeedsVerification,
  SSL_MODES,
  tlsOptionFields,
  tlsOptionsView,
  tlsSettings,
} from './tls-options.ts';

/** A PostgreSQL target's options: TLS as libpq names it, and whether MD5 logins are allowed. */
export const postgresqlOptions = z
  .object({ ...tlsOptionFields, allowMd5Auth: z.boolean().optional() })
  .strict()
  .superRefine(rootCertNeedsVerification);

/**
 * PostgreSQL sets no length limit of its own on SCRAM passwords (the server stores only the
 * verifier). The limit protects the tools around it: psql and pg_dump before version 14 read a
 * prompted password into a 100-byte buffer and cut longer ones silently. 64 characters stay
 * inside it for ASCII secrets and give a policy far more entropy than it needs.
 */
const MAX_SECRET_LENGTH = 64;
/** A hard ceiling for any value `change` accepts, generated or not. */
const MAX_SECRET_BYTES = 1024;
/** NAMEDATALEN - 1: the server silently truncates longer names, which could alter another role. */
const MAX_ROLE_NAME_BYTES = 63;
const DEFAULT_DATABASE = 'postgres';
/** RFC 7677's minimum, and PostgreSQL's default. */
const SCRAM_MIN_ITERATIONS = 4096;
const SCRAM_SALT_BYTES = 16;
/** pg, the client Tessera verifies with, refuses to log in above this count by default. */
const SCRAM_MAX_ITERATIONS = 100_000;
/** SCRAM verifiers arrived in PostgreSQL 10; an older server would store the text as a password. */
const MIN_SERVER_MAJOR = 10;
/** The server's statement_timeout gives a clear answer; the client's read timeout is a backstop. */
const CLIENT_READ_GRACE_MS = 2_000;
const CLOSE_TIMEOUT_MS = 1_000;
const MAX_REASON_MESSAGE = 200;

/** SQLSTATE classes after which the statement may or may not have taken effect. */
const AMBIGUOUS_SQLSTATE_CLASSES = new Set(['08', '53', '57', '58', 'XX']);
const AUTH_FAILURE_SQLSTATES = new Set(['28P01', '28000']);

const pbkdf2Async = promisify(pbkdf2);

/** Creates the PostgreSQL connector. */
export function createPostgresqlConnector(): Connector {
  const secretRules: PlatformSecretRules = {
    maxLength: MAX_SECRET_LENGTH,
    // Passwords travel through C strings in the server and in libpq.
    forbiddenCharacters: '\u0000',
  };
  return {
    platform: 'postgresql',
    secretRules,
    secretKinds: ['password'],
    options: postgresqlOptions,
    viewOptions: (options) => ({
      ...tlsOptionsView(options),
      allowMd5Auth: options.allowMd5Auth === true,
    }),
    verify,
    change,
    discover,
    ephemeral: createPostgresqlEphemeral({ open: openAdminSession, verifier: verifierFor }),
  };
}

export type ScramVerifierErrorCode = 'SCRAM_SECRET_UNPREPARABLE' | 'SCRAM_INVALID_PARAMETERS';

/** Raised by {@link scramSha256Verifier}; the message never quotes the password. */
export class ScramVerifierError extends Error {
  readonly code: ScramVerifierErrorCode;

  constructor(code: ScramVerifierErrorCode, message: string) {
    super(message);
    this.name = 'ScramVerifierError';
    this.code = code;
  }
}

/**
 * Computes the SCRAM-SHA-256 secret PostgreSQL itself would store for `password`
 * (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`), applying SASLprep exactly
 * where PostgreSQL does. Throws `SCRAM_SECRET_UNPREPARABLE` when the password holds characters
 * for which PostgreSQL's SASLprep outcome cannot be decided here (outside the Unicode 3.2
 * repertoire this module knows); such a value is refused rather than guessed.
 */
export async function scramSha256Verifier(
  password: string,
  salt: Uint8Array = randomBytes(SCRAM_SALT_BYTES),
  iterations: number = SCRAM_MIN_ITERATIONS,
): Promise<string> {
  checkScramParameters(password, salt, iterations);
  const input = scramInput(password);
  if (input.kind === 'undecidable') {
    throw new ScramVerifierError(
      'SCRAM_SECRET_UNPREPARABLE',
      'the secret holds characters whose SASLprep outcome in PostgreSQL is not known here',
    );
  }

  const salted = await pbkdf2Async(Buffer.from(input.text, 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}

function checkScramParameters(password: string, salt: Uint8Array, iterations: number): void {
  const inRange = iterations >= SCRAM_MIN_ITERATIONS && iterations <= SCRAM_MAX_ITERATIONS;
  if (!Number.isInteger(iterations) || !inRange) {
    throw new ScramVerifierError(
      'SCRAM_INVALID_PARAMETERS',
      `iterations must be an integer from ${SCRAM_MIN_ITERATIONS} to ${SCRAM_MAX_ITERATIONS}`,
    );
  }
  if (salt.length < SCRAM_SALT_BYTES) {
    throw new ScramVerifierError(
      'SCRAM_INVALID_PARAMETERS',
      `salt must be at least ${SCRAM_SALT_BYTES} bytes`,
    );
  }
  if (password.length === 0 || password.includes('\u0000') || !password.isWellFormed()) {
    throw new ScramVerifierError(
      'SCRAM_INVALID_PARAMETERS',
      'the secret must be non-empty, well-formed Unicode without NUL',
    );
  }
}

// ---------------------------------------------------------------------------------------------
// verify

async function verify(target: TargetAddress, credential: Credential): Promise<VerifyOutcome> {
  const credentialProblem = checkCredential(credential);
  if (credentialProblem) return { kind: 'invalid', reason: credentialProblem };
  const config = clientConfig(target, credential);
  if (typeof config === 'string') return { kind: 'unreachable', reason: config };

  const session = createSession(config, target);
  const secrets = [credential.secret];
  try {
    await session.client.connect();
    await session.client.query('SELECT 1');
    return { kind: 'valid' };
  } catch (error) {
    return verifyFailure(error, session, secrets);
  } finally {
    await closeSession(session);
  }
}

function verifyFailure(error: unknown, session: Session, secrets: string[]): VerifyOutcome {
  if (isAuthFailure(error)) {
    // The server's answer is the same for an unknown role and a wrong password; so is ours.
    return {
      kind: 'invalid',
      reason: `the target refused the credential (SQLSTATE ${error.code})`,
    };
  }
  return { kind: 'unreachable', reason: sessionFailureReason(error, session, secrets) };
}

// ---------------------------------------------------------------------------------------------
// change

async function change(target: TargetAddress, request: ChangeRequest): Promise<ChangeOutcome> {
  const problem = checkChangeRequest(request);
  if (problem) return { kind: 'rejected', reason: problem };
  const config = clientConfig(target, request.logon);
  if (typeof config === 'string') return { kind: 'rejected', reason: config };
  const verifier = await verifierFor(request.newSecret);
  if (verifier.kind === 'refused') return { kind: 'rejected', reason: verifier.reason };

  const session = createSession(config, target);
  const secrets = [request.newSecret, request.logon.secret, verifier.text];
  try {
    return await alterRolePassword(session, request.account, verifier.text, secrets);
  } finally {
    await closeSession(session);
  }
}

function checkChangeRequest(request: ChangeRequest): string | undefined {
  const account = request.account;
  if (account.length === 0 || account.includes('\u0000') || !account.isWellFormed()) {
    return 'the account name is empty or not a valid PostgreSQL identifier';
  }
  if (Buffer.byteLength(account, 'utf8') > MAX_ROLE_NAME_BYTES) {
    return `the account name is over ${MAX_ROLE_NAME_BYTES} bytes; PostgreSQL would truncate it`;
  }
  const logonProblem = checkCredential(request.logon);
  if (logonProblem) return `the logon credential is unusable: ${logonProblem}`;
  return checkNewSecret(request.newSecret);
}

function checkNewSecret(secret: string): string | undefined {
  if (secret.length === 0) return 'the new secret is empty';
  if (secret.includes('\u0000')) return 'the new secret contains NUL, which PostgreSQL cannot take';
  if (!secret.isWellFormed()) return 'the new secret is not well-formed Unicode';
  if (Buffer.byteLength(secret, 'utf8') > MAX_SECRET_BYTES) {
    return `the new secret is longer than ${MAX_SECRET_BYTES} bytes`;
  }
  return undefined;
}

type VerifierResult =
  | { readonly kind: 'ready'; readonly text: string }
  | { readonly kind: 'refused'; readonly reason: string };

async function verifierFor(secret: string): Promise<VerifierResult> {
  if (!pgClientAgrees(secret)) {
    // PostgreSQL would keep the raw bytes here while pg (our verify) prepares them: the value
    // would work in psql but fail every verification, so it is refused before the target sees it.
    return {
      kind: 'refused',
      reason: 'the new secret mixes characters PostgreSQL and the pg client prepare differently',
    };
  }
  try {
    return { kind: 'ready', text: await scramSha256Verifier(secret) };
  } catch (error) {
    if (!(error instanceof ScramVerifierError)) throw error;
    return { kind: 'refused', reason: error.message };
  }
}

async function alterRolePassword(
  session: Session,
  account: string,
  verifier: string,
  secrets: readonly string[],
): Promise<ChangeOutcome> {
  try {
    await session.client.connect();
  } catch (error) {
    return { kind: 'not-sent', reason: logonFailureReason(error, session, secrets) };
  }

  const tooOld = serverTooOld(session);
  if (tooOld) return { kind: 'rejected', reason: tooOld };

  try {
    await session.client.query(
      `ALTER ROLE ${escapeIdentifier(account)} PASSWORD ${escapeLiteral(verifier)}`,
    );
    return { kind: 'applied' };
  } catch (error) {
    return alterFailure(error, session, secrets);
  }
}

/** A session of an ephemeral admin account, opened and guarded as `change` opens its own. */
async function openAdminSession(
  target: TargetAddress,
  login: Credential,
  database?: string,
): Promise<PgAdminSession | string> {
  const problem = checkCredential(login);
  if (problem) return `the admin credential is unusable: ${problem}`;
  const config = clientConfig(database === undefined ? target : { ...target, database }, login);
  if (typeof config === 'string') return config;
  const session = createSession(config, target);
  const reason = (error: unknown, secrets: readonly string[] = []) =>
    sessionFailureReason(error, session, [login.secret, ...secrets]);
  try {
    await session.client.connect();
  } catch (error) {
    await closeSession(session);
    return isAuthFailure(error)
      ? `the admin credential was refused by the target (SQLSTATE ${error.code})`
      : reason(error);
  }
  const tooOld = serverTooOld(session);
  if (tooOld) {
    await closeSession(session);
    return tooOld;
  }
  return { client: session.client, reason, close: () => closeSession(session) };
}

function logonFailureReason(error: unknown, session: Session, secrets: readonly string[]): string {
  if (isAuthFailure(error)) {
    const refused = `the logon credential was refused by the target (SQLSTATE ${error.code})`;
    return `${refused}; nothing was changed`;
  }
  return `${sessionFailureReason(error, session, secrets)}; nothing was changed`;
}

/** Reads the version the server announced at login, so the check costs no round trip. */
function serverTooOld(session: Session): string | undefined {
  const major = Number.parseInt(session.serverVersion ?? '', 10);
  if (Number.isInteger(major) && major >= MIN_SERVER_MAJOR) return undefined;
  return 'the target is older than PostgreSQL 10 and cannot take a SCRAM verifier';
}

function alterFailure(error: unknown, session: Session, secrets: readonly string[]): ChangeOutcome {
  // A single statement in autocommit that fails with severity ERROR was rolled back; anything
  // else (dropped session, timeout, FATAL, crash, cancel) leaves the outcome open.
  if (error instanceof DatabaseError && error.severity === 'ERROR' && isDefinite(error.code)) {
    const message = scrub(error.message, secrets);
    return {
      kind: 'rejected',
      reason: `the target refused the change (SQLSTATE ${error.code}): ${message}`,
    };
  }
  const reason = sessionFailureReason(error, session, secrets);
  return { kind: 'unknown', reason: `the change was sent but its outcome is unknown: ${reason}` };
}

function isDefinite(sqlstate: string | undefined): boolean {
  return sqlstate !== undefined && !AMBIGUOUS_SQLSTATE_CLASSES.has(sqlstate.slice(0, 2));
}

// ---------------------------------------------------------------------------------------------
// sessions

interface Session {
  readonly client: Client;
  /** Set when the server asked for an authentication method that would expose the secret. */
  refusedAuth: string | undefined;
  /** `server_version` as the server reported it after authentication. */
  serverVersion: string | undefined;
}

function createSession(config: ClientConfig, target: TargetAddress): Session {
  const client = new Client(config);
  const session: Session = { client, refusedAuth: undefined, serverVersion: undefined };
  client.connection.on(
    'parameterStatus',
    (message: { parameterName: string; parameterValue: string }) => {
      if (message.parameterName === 'server_version')
        session.serverVersion = message.parameterValue;
    },
  );
  client.on('error', () => {
    // A connection error while idle; the pending call has already settled or will reject.
  });
  guardAuthentication(session, target.options.allowMd5Auth === true);
  return session;
}

/**
 * pg answers a cleartext request with the password itself and an MD5 request with a hash any
 * server can collect; only SCRAM keeps the secret off the wire. Registered before `connect()`,
 * these listeners run before pg's own and close the socket before a reply can be written.
 */
function guardAuthentication(session: Session, allowMd5: boolean): void {
  const connection = session.client.connection;
  const refuse = (method: string) => () => {
    session.refusedAuth = method;
    connection.stream.destroy();
  };
  connection.on('authenticationCleartextPassword', refuse('cleartext password'));
  if (!allowMd5) connection.on('authenticationMD5Password', refuse('MD5'));
}

async function closeSession(session: Session): Promise<void> {
  const ended = session.client.end().catch(() => {
    // Closing a broken session fails; the socket is destroyed below either way.
  });
  // An unref'd timer: a session that will not close must not keep the process alive either.
  await Promise.race([ended, delay(CLOSE_TIMEOUT_MS, undefined, { ref: false })]);
  session.client.connection.stream.destroy();
}

function clientConfig(target: TargetAddress, credential: Credential): ClientConfig | string {
  // Every field is set explicitly: pg falls back to PG* environment variables and to
  // localhost:5432 for any value left empty, which would send the secret somewhere else.
  const problem = checkTarget(target);
  if (problem) return problem;
  const ssl = sslConfig(target.options);
  if (typeof ssl === 'string') return ssl;

  return {
    host: target.host,
    port: target.port,
    database: target.database || DEFAULT_DATABASE,
    user: credential.username,
    password: credential.secret,
    ssl,
    application_name: 'tessera',
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    query_timeout: STATEMENT_TIMEOUT_MS + CLIENT_READ_GRACE_MS,
  };
}

function checkTarget(target: TargetAddress): string | undefined {
  if (target.host.length === 0 || target.host.includes('\u0000')) return 'the target has no host';
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65_535) {
    return 'the target port is not a TCP port number';
  }
  if (target.database?.includes('\u0000')) return 'the target database name contains NUL';
  return undefined;
}

function checkCredential(credential: Credential): string | undefined {
  if (credential.username.length === 0 || credential.username.includes('\u0000')) {
    return 'the user name is empty or contains NUL';
  }
  if (credential.secret.length === 0 || credential.secret.includes('\u0000')) {
    return 'the secret is empty or contains NUL';
  }
  return undefined;
}

function sslConfig(options: TargetOptions): ClientConfig['ssl'] | string {
  // Options were checked when the target was saved; a value from elsewhere is still refused.
  if (options.sslmode !== undefined && !SSL_MODES.some((mode) => mode === options.sslmode)) {
    return 'unsupported sslmode (use disable, require, verify-ca or verify-full)';
  }
  return tlsSettings(options);
}

// ---------------------------------------------------------------------------------------------
// discover

/** Role attributes that make a role privileged, with the words a finding gives for each. */
const PRIVILEGED_ATTRIBUTES = [
  ['rolsuper', 'SUPERUSER'],
  ['rolcreaterole', 'CREATEROLE'],
  ['rolreplication', 'REPLICATION'],
  ['rolbypassrls', 'BYPASSRLS'],
] as const;

interface RoleRow {
  readonly rolname: string;
  readonly rolsuper: boolean;
  readonly rolcreaterole: boolean;
  readonly rolreplication: boolean;
  readonly rolbypassrls: boolean;
}

/** Roles that can log in and hold an attribute above ordinary use; `pg_*` roles are built in. */
async function discover(target: TargetAddress, scanner: Credential): Promise<DiscoveryOutcome> {
  const credentialProblem = checkCredential(scanner);
  if (credentialProblem) return { kind: 'failed', reason: credentialProblem };
  const config = clientConfig(target, scanner);
  if (typeof config === 'string') return { kind: 'failed', reason: config };
  const session = createSession(config, target);
  const secrets = [scanner.secret];
  try {
    await session.client.connect();
    const result = await session.client.query<RoleRow>(
      `SELECT rolname, rolsuper, rolcreaterole, rolreplication, rolbypassrls
         FROM pg_catalog.pg_roles
        WHERE rolcanlogin AND rolname NOT LIKE 'pg\\_%'
          AND (rolsuper OR rolcreaterole OR rolreplication OR rolbypassrls)
        ORDER BY rolname`,
    );
    const accounts: DiscoveredAccount[] = result.rows.map((row) => ({
      username: row.rolname,
      reasons: PRIVILEGED_ATTRIBUTES.filter(([column]) => row[column]).map(([, word]) => word),
    }));
    return { kind: 'found', accounts };
  } catch (error) {
    const reason = isAuthFailure(error)
      ? `the scanning account was refused by the target (SQLSTATE ${error.code})`
      : sessionFailureReason(error, session, secrets);
    return { kind: 'failed', reason: `discovery on ${target.name}: ${reason}` };
  } finally {
    await closeSession(session);
  }
}

// ---------------------------------------------------------------------------------------------
// errors and reasons

function isAuthFailure(error: unknown): error is DatabaseError & { code: string } {
  return error instanceof DatabaseError && AUTH_FAILURE_SQLSTATES.has(error.code ?? '');
}

function sessionFailureReason(
  error: unknown,
  session: Session,
  secrets: readonly string[],
): string {
  if (session.refusedAuth) {
    return `the target asked for ${session.refusedAuth} authentication, which Tessera refuses`;
  }
  if (error instanceof DatabaseError) {
    const message = scrub(error.message, secrets);
    return `the target answered with SQLSTATE ${error.code ?? '?'}: ${message}`;
  }
  if (!(error instanceof Error)) return 'the session failed';
  const code = 'code' in error && typeof error.code === 'string' ? ` (${error.code})` : '';
  return `the session failed${code}: ${scrub(error.message, secrets)}`;
}

/** Returns `text` unless it quotes a secret in any normal form; trims long server messages. */
function scrub(text: string, secrets: readonly string[]): string {
  const quotes = secrets.some((secret) =>
    [secret, secret.normalize('NFC'), secret.normalize('NFKC')].some(
      (form) => form.length > 0 && text.includes(form),
    ),
  );
  if (quotes) return '(message withheld because it quoted a secret)';
  return text.length > MAX_REASON_MESSAGE ? `${text.slice(0, MAX_REASON_MESSAGE)}…` : text;
}
