/**
 * One MariaDB or MySQL session for the connector: opened with every setting explicit, each step
 * bounded by a timeout that destroys the socket, and every failure turned into a reason that
 * names the step and never quotes a secret.
 */
import { isIP } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { type Connection, type ConnectionOptions, createConnection } from 'mysql2';
import type { TargetAddress } from './connector.ts';
import { ed25519SignNonce } from './mariadb-ed25519.ts';
import { tlsSettings } from './tls-options.ts';

export interface SessionTimeouts {
  readonly connectMs: number;
  readonly statementMs: number;
}

export interface Session {
  readonly connection: Connection;
  readonly timeouts: SessionTimeouts;
  /** Set once the socket is gone (timeout, dropped connection); no further step can run. */
  lost: boolean;
}

/** A result row, column by column, with text columns as strings. */
export type Row = readonly unknown[];

/** Raised by every step of a session; `cause` is the driver's error, kept for classification. */
export class SessionStepError extends Error {
  readonly step: string;
  /** True when the session cannot be used any more (socket gone, timed out). */
  readonly lost: boolean;

  constructor(step: string, cause: unknown, lost: boolean) {
    super(`${step} failed`, { cause });
    this.name = 'SessionStepError';
    this.step = step;
    this.lost = lost;
  }
}

/** A MariaDB or MySQL error as mysql2 reports it. */
export interface DriverError {
  readonly code: string;
  /** The server's error number; only set for errors the server sent. */
  readonly errno: number | undefined;
  readonly message: string;
  readonly fatal: boolean;
}

const CLOSE_TIMEOUT_MS = 1_000;
const MAX_REASON_MESSAGE = 200;
/** Codes of the failures raised here rather than by the driver; their messages are Tessera's. */
const TIMEOUT_CODE = 'TESSERA_TIMEOUT';
const REFUSED_CODE = 'TESSERA_REFUSED';
/** Error numbers the server sends when it refuses a login. */
const LOGIN_REFUSED_ERRNOS = new Set([1045, 1044, 1698, 3118, 4151, 1862]);

/** Opens a session as `user`; throws {@link SessionStepError} with step `login`. */
export async function openSession(
  target: TargetAddress,
  login: { readonly user: string; readonly password: string },
  timeouts: SessionTimeouts,
): Promise<Session> {
  const problem = targetProblem(target);
  if (problem) {
    throw new SessionStepError(
      'login',
      Object.assign(new Error(problem), { code: REFUSED_CODE }),
      true,
    );
  }
  const connection = createConnection(connectionOptions(target, login, timeouts));
  const session: Session = { connection, timeouts, lost: false };
  connection.on('error', () => {
    // A connection error while idle; the pending step has settled or rejects by itself.
    session.lost = true;
  });
  const connected = new Promise<void>((resolve, reject) => {
    connection.connect((error) => (error ? reject(error) : resolve()));
  });
  await bounded(session, connected, timeouts.connectMs, 'login');
  return session;
}

/**
 * Runs one statement. With `values` it is a server-side prepared statement, so the values are
 * bound and never part of the SQL text; without, the text is sent as it is.
 */
export async function run(
  session: Session,
  step: string,
  sql: string,
  values?: readonly string[],
): Promise<Row[]> {
  if (session.lost) throw new SessionStepError(step, new Error('the session was lost'), true);
  const result = new Promise<unknown>((resolve, reject) => {
    const done = (error: unknown, rows: unknown) => (error ? reject(error) : resolve(rows));
    if (values === undefined) {
      session.connection.query({ sql, rowsAsArray: true }, done);
    } else {
      session.connection.execute({ sql, values: [...values], rowsAsArray: true }, done);
    }
  });
  return rowsOf(await bounded(session, result, session.timeouts.statementMs, step));
}

export async function closeSession(session: Session): Promise<void> {
  if (!session.lost) {
    const ended = new Promise<void>((resolve) => {
      session.connection.end(() => resolve());
    });
    // An unref'd timer: a session that will not close must not keep the process alive either.
    await Promise.race([ended, delay(CLOSE_TIMEOUT_MS, undefined, { ref: false })]);
  }
  session.connection.destroy();
}

/** The driver error behind a step's failure, when there is one. */
export function driverError(error: unknown): DriverError | undefined {
  const cause = error instanceof SessionStepError ? error.cause : error;
  if (!(cause instanceof Error)) return undefined;
  const fields = cause as Error & { code?: unknown; errno?: unknown; fatal?: unknown };
  return {
    code: typeof fields.code === 'string' ? fields.code : 'UNKNOWN',
    errno: typeof fields.errno === 'number' && fields.errno > 0 ? fields.errno : undefined,
    message: cause.message,
    fatal: fields.fatal === true,
  };
}

/** True when the server refused the login itself (wrong password, unknown user, locked). */
export function isLoginRefused(error: unknown): boolean {
  const driver = driverError(error);
  return driver?.errno !== undefined && LOGIN_REFUSED_ERRNOS.has(driver.errno);
}

/** True when the server answered the step with an error and the session is still usable. */
export function isServerAnswer(error: unknown): boolean {
  const driver = driverError(error);
  const lost = error instanceof SessionStepError && error.lost;
  return driver?.errno !== undefined && !driver.fatal && !lost;
}

/** `step: what happened`, with any secret withheld and long server text cut. */
export function failureReason(error: unknown, secrets: readonly string[]): string {
  const step = error instanceof SessionStepError ? error.step : 'the session';
  const driver = driverError(error);
  if (driver === undefined) return `${step}: failed`;
  if (driver.code === TIMEOUT_CODE || driver.code === REFUSED_CODE) {
    return `${step}: ${driver.message}`;
  }
  const number = driver.errno === undefined ? driver.code : `${driver.code} ${driver.errno}`;
  return `${step}: ${number}: ${scrub(driver.message, secrets)}`;
}

/** Returns `text` unless it quotes a secret (in any normal form); trims long server messages. */
export function scrub(text: string, secrets: readonly string[]): string {
  const forms = secrets.flatMap((secret) => [secret, secret.normalize('NFC')]);
  if (forms.some((form) => form.length > 0 && text.includes(form))) {
    return '(message withheld because it quoted a secret)';
  }
  return text.length > MAX_REASON_MESSAGE ? `${text.slice(0, MAX_REASON_MESSAGE)}…` : text;
}

/** A text column as a string: mysql2 hands binary-collated columns over as bytes. */
export function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return undefined;
}

function targetProblem(target: TargetAddress): string | undefined {
  // mysql2 would fill an empty host or port with localhost:3306 and send the secret there.
  if (target.host.length === 0 || target.host.includes('\u0000')) return 'the target has no host';
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65_535) {
    return 'the target port is not a TCP port number';
  }
  if (target.options.sslmode === 'verify-full' && isIP(target.host) !== 0) {
    // mysql2 hands Node no host name for an IP address, and Node then checks the certificate
    // against "localhost": a certificate for localhost would pass for any address.
    return 'sslmode verify-full needs a host name; for an IP address use verify-ca';
  }
  return undefined;
}

function connectionOptions(
  target: TargetAddress,
  login: { readonly user: string; readonly password: string },
  timeouts: SessionTimeouts,
): ConnectionOptions {
  const tls = tlsSettings(target.options);
  const secret = login.password;
  return {
    host: target.host,
    port: target.port,
    user: login.user,
    password: secret,
    ...(target.database ? { database: target.database } : {}),
    ssl:
      tls === false
        ? undefined
        : {
            rejectUnauthorized: tls.rejectUnauthorized,
            verifyIdentity: tls.rejectUnauthorized && tls.checkServerIdentity === undefined,
            ...(tls.ca === undefined ? {} : { ca: tls.ca }),
          },
    connectTimeout: timeouts.connectMs,
    // utf8mb4 end to end: the password bytes Tessera hashes or quotes are the bytes stored.
    charset: 'UTF8MB4_GENERAL_CI',
    multipleStatements: false,
    // Never answer a server's request for a local file; the statements here load none.
    flags: ['-LOCAL_FILES', '-MULTI_STATEMENTS'],
    supportBigNumbers: true,
    bigNumberStrings: true,
    authPlugins: {
      // mysql2 has no client for MariaDB's ed25519 plugin: sign the server's 32-byte nonce.
      client_ed25519: () => (nonce: Buffer) => ed25519SignNonce(secret, nonce.subarray(0, 32)),
    },
  };
}

async function bounded<T>(session: Session, work: Promise<T>, ms: number, step: string) {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      session.lost = true;
      session.connection.destroy();
      const error = Object.assign(new Error(`no answer within ${ms} ms`), { code: TIMEOUT_CODE });
      reject(error);
    }, ms);
  });
  try {
    return await Promise.race([work, expired]);
  } catch (error) {
    const driver = driverError(error);
    const lost = session.lost || driver?.errno === undefined || driver.fatal;
    if (lost) session.lost = true;
    throw new SessionStepError(step, error, lost);
  } finally {
    clearTimeout(timer);
  }
}

function rowsOf(result: unknown): Row[] {
  if (!Array.isArray(result)) return [];
  return result.filter((row): row is Row => Array.isArray(row));
}
