/**
 * PostgreSQL connector. Verifies a login with a fresh session and changes a role's password by
 * sending a SCRAM-SHA-256 verifier computed here, so the clear value never reaches the server,
 * its statement log or its replicas.
 *
 * The verifier must be derived from the same bytes that clients feed into SCRAM at login.
 * PostgreSQL (server and libpq alike) runs the password through SASLprep first (RFC 4013: map
 * odd spaces and invisible characters, then NFKC) and falls back to the raw bytes when SASLprep
 * refuses the string (prohibited character, bidi rule). Both decisions are mirrored below, so a
 * login with exactly the vault's bytes works from psql, libpq-based drivers and pg alike.
 */
import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Client, type ClientConfig, DatabaseError, escapeIdentifier, escapeLiteral } from 'pg';
import {
  type ChangeOutcome,
  type ChangeRequest,
  CONNECT_TIMEOUT_MS,
  type Connector,
  type Credential,
  type PlatformSecretRules,
  STATEMENT_TIMEOUT_MS,
  type TargetAddress,
  type VerifyOutcome,
} from './connector.ts';

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
const SCRAM_ITERATIONS = 4096;
const SCRAM_SALT_BYTES = 16;
/** pg, the client Tessera verifies with, refuses to log in above this count by default. */
const SCRAM_MAX_ITERATIONS = 100_000;
/** SCRAM verifiers arrived in PostgreSQL 10; an older server would store the text as a password. */
const MIN_SERVER_VERSION_NUM = 100_000;
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
  return { platform: 'postgresql', secretRules, verify, change };
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
  iterations: number = SCRAM_ITERATIONS,
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
  if (!Number.isInteger(iterations) || iterations < 4096 || iterations > SCRAM_MAX_ITERATIONS) {
    throw new ScramVerifierError(
      'SCRAM_INVALID_PARAMETERS',
      `iterations must be an integer from 4096 to ${SCRAM_MAX_ITERATIONS}`,
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
    return `the account name is longer than ${MAX_ROLE_NAME_BYTES} bytes; PostgreSQL would truncate it`;
  }
  return checkCredential(request.logon) ?? checkNewSecret(request.newSecret);
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
    return { kind: 'rejected', reason: logonFailureReason(error, session, secrets) };
  }

  try {
    const tooOld = await serverTooOld(session.client);
    if (tooOld) return { kind: 'rejected', reason: tooOld };
  } catch (error) {
    const reason = sessionFailureReason(error, session, secrets);
    return { kind: 'rejected', reason: `${reason}; the change was not sent` };
  }

  try {
    await session.client.query(
      `ALTER ROLE ${escapeIdentifier(account)} PASSWORD ${escapeLiteral(verifier)}`,
    );
    return { kind: 'applied' };
  } catch (error) {
    return alterFailure(error, session, secrets);
  }
}

function logonFailureReason(error: unknown, session: Session, secrets: readonly string[]): string {
  if (isAuthFailure(error)) {
    return `the logon credential was refused by the target (SQLSTATE ${error.code}); nothing was changed`;
  }
  return `${sessionFailureReason(error, session, secrets)}; nothing was changed`;
}

async function serverTooOld(client: Client): Promise<string | undefined> {
  const result = await client.query<{ server_version_num: string }>('SHOW server_version_num');
  const version = Number(result.rows[0]?.server_version_num);
  if (Number.isInteger(version) && version >= MIN_SERVER_VERSION_NUM) return undefined;
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
}

function createSession(config: ClientConfig, target: TargetAddress): Session {
  const client = new Client(config);
  const session: Session = { client, refusedAuth: undefined };
  client.on('error', () => {
    // A connection error while idle; the pending call has already settled or will reject.
  });
  guardAuthentication(session, target.options.allowMd5Auth === 'true');
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
  await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS))]);
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

function sslConfig(options: Readonly<Record<string, string>>): ClientConfig['ssl'] | string {
  const ca = options.sslrootcert || undefined;
  switch (options.sslmode ?? 'disable') {
    case 'disable':
      return false;
    case 'require':
      // As in libpq: encrypted, but any certificate is accepted.
      return { rejectUnauthorized: false };
    case 'verify-ca':
      return { rejectUnauthorized: true, ca, checkServerIdentity: () => undefined };
    case 'verify-full':
      return { rejectUnauthorized: true, ca };
    default:
      return 'unsupported sslmode (use disable, require, verify-ca or verify-full)';
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
    return `the target answered with SQLSTATE ${error.code ?? '?'}: ${scrub(error.message, secrets)}`;
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

// ---------------------------------------------------------------------------------------------
// SASLprep as PostgreSQL applies it (src/common/saslprep.c)
//
// PostgreSQL maps, then normalises (NFKC), then checks the *mapped input* (not the normalised
// output) against the prohibited and unassigned tables and the bidi rule; any failure means
// "use the raw bytes". Deciding "unassigned in Unicode 3.2" and "bidi class L" needs tables this
// module does not carry in full, so it decides only for characters it knows and reports the
// rest as undecidable.

type ScramInput =
  | { readonly kind: 'prepared'; readonly text: string }
  | { readonly kind: 'raw'; readonly text: string }
  | { readonly kind: 'undecidable' };

type Range = readonly [number, number];
type Bidi = 'L' | 'R' | 'neutral' | 'unknown';

function scramInput(password: string): ScramInput {
  // PostgreSQL skips SASLprep entirely for pure ASCII, control characters included.
  if (isAscii(password)) return { kind: 'prepared', text: password };

  const mapped = mapForSaslprep(password);
  if (mapped.length === 0 || mapped.some(isProhibited)) return { kind: 'raw', text: password };
  const bidi = bidiVerdict(mapped.map(bidiClass));
  if (bidi === 'fail') return { kind: 'raw', text: password };
  if (bidi === 'unknown') return { kind: 'undecidable' };
  return { kind: 'prepared', text: fromCodePoints(mapped).normalize('NFKC') };
}

/**
 * pg 8.x prepares every password (map, then NFKC) and never falls back to the raw bytes. Where
 * PostgreSQL does fall back, the two only agree if preparing would not change the value.
 */
function pgClientAgrees(password: string): boolean {
  const input = scramInput(password);
  if (input.kind !== 'raw') return true;
  return fromCodePoints(mapForSaslprep(password)).normalize('NFKC') === password;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

function fromCodePoints(codes: readonly number[]): string {
  return codes.map((code) => String.fromCodePoint(code)).join('');
}

/** RFC 3454 C.1.2 spaces become U+0020 (checked first, so U+200B is a space); B.1 vanishes. */
function mapForSaslprep(password: string): number[] {
  const mapped: number[] = [];
  for (const char of password) {
    const code = char.codePointAt(0) ?? 0;
    if (inRanges(code, NON_ASCII_SPACES)) mapped.push(0x20);
    else if (!inRanges(code, MAPPED_TO_NOTHING)) mapped.push(code);
  }
  return mapped;
}

function isProhibited(code: number): boolean {
  // RFC 3454 C.4 also holds the last two code points of every plane.
  return (code & 0xfffe) === 0xfffe || inRanges(code, PROHIBITED);
}

/** RFC 3454 section 6: with any R/AL character, no L anywhere and R/AL at both ends. */
function bidiVerdict(classes: readonly Bidi[]): 'pass' | 'fail' | 'unknown' {
  const first = classes[0];
  const last = classes[classes.length - 1];
  if (classes.includes('R')) {
    const endsKnownNotR = [first, last].some((end) => end === 'L' || end === 'neutral');
    if (classes.includes('L') || endsKnownNotR) return 'fail';
  }
  return classes.includes('unknown') ? 'unknown' : 'pass';
}

function bidiClass(code: number): Bidi {
  if (inRanges(code, KNOWN_L)) return 'L';
  if (inRanges(code, KNOWN_R_AL)) return 'R';
  if (inRanges(code, KNOWN_NEUTRAL)) return 'neutral';
  return 'unknown';
}

function inRanges(code: number, ranges: readonly Range[]): boolean {
  return ranges.some(([low, high]) => code >= low && code <= high);
}

/** RFC 3454 C.1.2. */
const NON_ASCII_SPACES: readonly Range[] = [
  [0x00a0, 0x00a0],
  [0x1680, 0x1680],
  [0x2000, 0x200b],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
];

/** RFC 3454 B.1. */
const MAPPED_TO_NOTHING: readonly Range[] = [
  [0x00ad, 0x00ad],
  [0x034f, 0x034f],
  [0x1806, 0x1806],
  [0x180b, 0x180d],
  [0x200b, 0x200d],
  [0x2060, 0x2060],
  [0xfe00, 0xfe0f],
  [0xfeff, 0xfeff],
];

/** SASLprep's prohibited output, RFC 4013 section 2.3 (RFC 3454 C.1.2 and C.2.1 to C.9). */
const PROHIBITED: readonly Range[] = [
  [0x0000, 0x001f], // C.2.1
  [0x007f, 0x00a0], // C.2.1, C.2.2, C.1.2
  [0x0340, 0x0341], // C.8
  [0x06dd, 0x06dd], // C.2.2
  [0x070f, 0x070f], // C.2.2
  [0x1680, 0x1680], // C.1.2
  [0x180e, 0x180e], // C.2.2
  [0x2000, 0x200f], // C.1.2, C.2.2, C.8
  [0x2028, 0x202f], // C.2.2, C.8, C.1.2
  [0x205f, 0x2063], // C.1.2, C.2.2
  [0x206a, 0x206f], // C.2.2, C.8
  [0x2ff0, 0x2ffb], // C.7
  [0x3000, 0x3000], // C.1.2
  [0xd800, 0xf8ff], // C.5, C.3
  [0xfdd0, 0xfdef], // C.4
  [0xfeff, 0xfeff], // C.2.2
  [0xfff9, 0xffff], // C.2.2, C.6, C.4
  [0x1d173, 0x1d17a], // C.2.2
  [0xe0001, 0xe0001], // C.9
  [0xe0020, 0xe007f], // C.9
  [0xf0000, 0x10ffff], // C.3, C.4
];

/**
 * Characters assigned in Unicode 3.2 with bidi class L (RFC 3454 D.2): a deliberate subset
 * covering ASCII, Latin-1 and Latin Extended-A letters, Greek, Cyrillic, kana, CJK and Hangul.
 */
const KNOWN_L: readonly Range[] = [
  [0x0041, 0x005a],
  [0x0061, 0x007a],
  [0x00c0, 0x00d6],
  [0x00d8, 0x00f6],
  [0x00f8, 0x017f],
  [0x0386, 0x0386],
  [0x0388, 0x038a],
  [0x038c, 0x038c],
  [0x038e, 0x03a1],
  [0x03a3, 0x03ce],
  [0x0400, 0x0482],
  [0x3041, 0x3096],
  [0x30a1, 0x30fa],
  [0x4e00, 0x9fa5],
  [0xac00, 0xd7a3],
];

/** Hebrew and Arabic letters: bidi class R or AL (RFC 3454 D.1), assigned in Unicode 3.2. */
const KNOWN_R_AL: readonly Range[] = [
  [0x05d0, 0x05ea],
  [0x0621, 0x063a],
  [0x0640, 0x064a],
];

/** Assigned in Unicode 3.2, neither L nor R/AL: ASCII non-letters, × and ÷, combining marks. */
const KNOWN_NEUTRAL: readonly Range[] = [
  [0x0020, 0x0040],
  [0x005b, 0x0060],
  [0x007b, 0x007e],
  [0x00d7, 0x00d7],
  [0x00f7, 0x00f7],
  [0x0300, 0x034e],
];
