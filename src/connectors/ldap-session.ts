/**
 * One connection to an LDAP target for one connector call: opened with the target's TLS mode
 * (ldaps, StartTLS or none), bounded by timeouts at every step, and closed whatever happens.
 * Also turns a user name into the DN to bind with, and LDAP failures into reasons that name the
 * target and the step and never quote a secret.
 */
import { isIP } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { ConnectionOptions } from 'node:tls';
import { Client, EqualityFilter, ResultCodeError } from 'ldapts';
import {
  CONNECT_TIMEOUT_MS,
  type Credential,
  STATEMENT_TIMEOUT_MS,
  type TargetAddress,
} from './connector.ts';
import { escapeDnValue, isDn } from './ldap-dn.ts';
import { type LdapSettings, USERNAME_PLACEHOLDER } from './ldap-options.ts';
import { tlsSettings } from './tls-options.ts';

const CLOSE_TIMEOUT_MS = 1_000;
/** The server's own limit for a DN search, in seconds; the client timeout is the backstop. */
const SEARCH_TIME_LIMIT_S = Math.floor(STATEMENT_TIMEOUT_MS / 1000) - 1;
const MAX_REASON_MESSAGE = 200;
const MAX_NAME_LENGTH = 1024;
const ADVICE = ': set userDnTemplate, or give the user name as a DN';
const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;

/** The result codes a reason names; others appear by number only. */
const RESULT_NAMES: Readonly<Record<number, string>> = {
  1: 'operationsError',
  2: 'protocolError',
  3: 'timeLimitExceeded',
  7: 'authMethodNotSupported',
  8: 'strongerAuthRequired',
  12: 'unavailableCriticalExtension',
  13: 'confidentialityRequired',
  19: 'constraintViolation',
  21: 'invalidAttributeSyntax',
  32: 'noSuchObject',
  34: 'invalidDNSyntax',
  48: 'inappropriateAuthentication',
  49: 'invalidCredentials',
  50: 'insufficientAccessRights',
  51: 'busy',
  52: 'unavailable',
  53: 'unwillingToPerform',
  80: 'other',
};

export const RESULT_INVALID_CREDENTIALS = 49;
export const RESULT_NO_SUCH_OBJECT = 32;

export interface LdapSession {
  readonly client: Client;
  /** `<target name> (ldap://host:port)`, for reasons. */
  readonly label: string;
  readonly settings: LdapSettings;
  /** The values no reason may quote. */
  readonly secrets: readonly string[];
}

export type Opened =
  | { readonly kind: 'open'; readonly session: LdapSession }
  | { readonly kind: 'failed'; readonly reason: string };

/**
 * Connects (and with StartTLS, upgrades) a session. With plain ldap and no StartTLS the socket
 * opens on the first operation, whose failure {@link describeFailure} reports as a connection
 * failure.
 */
export async function openSession(
  target: TargetAddress,
  settings: LdapSettings,
  secrets: readonly string[],
): Promise<Opened> {
  const url = serverUrl(target, settings);
  if (url === undefined) return { kind: 'failed', reason: `${target.name}: the host is not valid` };
  const label = `${target.name} (${url})`;
  const tls = tlsOptions(target, settings);
  const client = new Client({
    url,
    timeout: STATEMENT_TIMEOUT_MS,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // ldapts treats any TLS option as "connect with TLS", so plain ldap must get none here.
    ...(settings.scheme === 'ldaps' && tls ? { tlsOptions: tls } : {}),
  });
  const session: LdapSession = { client, label, settings, secrets };
  if (settings.scheme === 'ldap' && tls) {
    try {
      await client.startTLS(tls);
    } catch (error) {
      await closeSession(session);
      return { kind: 'failed', reason: `${label}: StartTLS failed: ${describe(error, secrets)}` };
    }
  }
  return { kind: 'open', session };
}

/** Unbinds and closes; never waits longer than a second, never throws. */
export async function closeSession(session: LdapSession): Promise<void> {
  const closed = session.client.unbind().catch(() => {
    // A broken connection cannot say goodbye; the socket is gone either way.
  });
  await Promise.race([closed, delay(CLOSE_TIMEOUT_MS, undefined, { ref: false })]);
}

export type Resolved =
  | { readonly kind: 'dn'; readonly dn: string }
  /** No entry, or several: the name does not identify an account. */
  | { readonly kind: 'absent'; readonly reason: string }
  /** The search itself failed or was refused: nothing is known about the account. */
  | { readonly kind: 'failed'; readonly reason: string };

/**
 * The DN for a user name: the name itself when it is a DN, the template filled with the escaped
 * name, or the one entry under baseDn whose user attribute equals the name, searched for on the
 * session as it is bound at that moment (`boundAs`, or anonymously).
 */
export async function resolveDn(
  session: LdapSession,
  username: string,
  boundAs: string | undefined,
): Promise<Resolved> {
  const problem = checkName(username);
  if (problem) return { kind: 'absent', reason: `${session.label}: ${problem}` };
  if (username.includes('=') && isDn(username)) return { kind: 'dn', dn: username };
  const template = session.settings.userDnTemplate;
  if (template !== undefined) {
    return {
      kind: 'dn',
      dn: template.replace(USERNAME_PLACEHOLDER, () => escapeDnValue(username)),
    };
  }
  return searchDn(session, username, boundAs);
}

async function searchDn(
  session: LdapSession,
  username: string,
  boundAs: string | undefined,
): Promise<Resolved> {
  const { baseDn, userAttribute } = session.settings;
  const who = boundAs === undefined ? 'anonymously' : `as ${boundAs}`;
  const what = `the entry with ${userAttribute} "${username}" under ${baseDn}`;
  try {
    const result = await session.client.search(baseDn, {
      scope: 'sub',
      filter: new EqualityFilter({ attribute: userAttribute, value: username }),
      attributes: ['1.1'],
      sizeLimit: 2,
      timeLimit: SEARCH_TIME_LIMIT_S,
      derefAliases: 'never',
    });
    const [first, ...others] = result.searchEntries;
    if (first !== undefined && others.length === 0) return { kind: 'dn', dn: first.dn };
    const count = first === undefined ? 'no entry' : 'more than one entry';
    const hint =
      boundAs === undefined ? `; the server may hide entries from anonymous searches${ADVICE}` : '';
    return {
      kind: 'absent',
      reason: `${session.label}: searching ${who} for ${what} found ${count}${hint}`,
    };
  } catch (error) {
    const anonymous = boundAs === undefined && error instanceof ResultCodeError;
    const refused = anonymous ? ` (the server refuses anonymous searches${ADVICE})` : '';
    const detail = describe(error, session.secrets);
    return {
      kind: 'failed',
      reason: `${session.label}: searching ${who} for ${what} failed: ${detail}${refused}`,
    };
  }
}

export type LogOn =
  | { readonly kind: 'bound'; readonly dn: string }
  | { readonly kind: 'failed'; readonly reason: string };

/** Resolves the logon's DN (anonymously, if a search is needed) and binds as it. */
export async function logOn(session: LdapSession, logon: Credential): Promise<LogOn> {
  const resolved = await resolveDn(session, logon.username, undefined);
  if (resolved.kind !== 'dn') return { kind: 'failed', reason: resolved.reason };
  try {
    await session.client.bind(resolved.dn, logon.secret);
    return { kind: 'bound', dn: resolved.dn };
  } catch (error) {
    const reason = describeFailure(session, `logon bind as ${resolved.dn}`, error);
    return { kind: 'failed', reason };
  }
}

/** `<label>: <step> failed: <why>` for any error of an LDAP call. */
export function describeFailure(session: LdapSession, step: string, error: unknown): string {
  return `${session.label}: ${step} failed: ${describe(error, session.secrets)}`;
}

/** The LDAP result code of an error the server answered with; undefined for anything else. */
export function resultCode(error: unknown): number | undefined {
  return error instanceof ResultCodeError ? error.code : undefined;
}

function describe(error: unknown, secrets: readonly string[]): string {
  if (error instanceof ResultCodeError) {
    const name = RESULT_NAMES[error.code];
    const code = name === undefined ? `${error.code}` : `${error.code} ${name}`;
    const message = error.message.replace(/ Code: 0x[0-9a-f]+$/, '').trim();
    return message === ''
      ? `LDAP result ${code}`
      : `LDAP result ${code}: ${scrub(message, secrets)}`;
  }
  if (!(error instanceof Error)) return 'the connection failed';
  if (error.message === 'Connection timeout')
    return `no connection within ${CONNECT_TIMEOUT_MS} ms`;
  if (error.message.endsWith('Operation timed out')) {
    return `no answer within ${STATEMENT_TIMEOUT_MS} ms; the connection was dropped`;
  }
  const code = 'code' in error && typeof error.code === 'string' ? ` (${error.code})` : '';
  const message = error.message.replace(/\s+/g, ' ').trim();
  return `the connection failed${code}: ${scrub(message, secrets)}`;
}

/** Returns `text` unless it quotes a secret in any normal form; trims long server messages. */
export function scrub(text: string, secrets: readonly string[]): string {
  const quotes = secrets.some((secret) =>
    [secret, secret.normalize('NFC'), secret.normalize('NFD'), secret.normalize('NFKC')].some(
      (form) => form.length > 0 && text.includes(form),
    ),
  );
  if (quotes) return '(message withheld because it quoted a secret)';
  return text.length > MAX_REASON_MESSAGE ? `${text.slice(0, MAX_REASON_MESSAGE)}…` : text;
}

function checkName(username: string): string | undefined {
  if (username.length === 0 || username.length > MAX_NAME_LENGTH) {
    return `the user name is empty or longer than ${MAX_NAME_LENGTH} characters`;
  }
  if (username.includes('\u0000') || !username.isWellFormed()) {
    return 'the user name contains NUL or is not well-formed Unicode';
  }
  return undefined;
}

/** The server's URL; undefined unless the host is an IP address or a plain DNS name. */
function serverUrl(target: TargetAddress, settings: LdapSettings): string | undefined {
  const scheme = settings.scheme;
  const port = target.port;
  if (!Number.isInteger(port) || port < 1 || port > 65_535) return undefined;
  if (isIP(target.host) === 6) return `${scheme}://[${target.host}]:${port}`;
  if (isIP(target.host) === 4 || HOST_NAME.test(target.host)) {
    return `${scheme}://${target.host}:${port}`;
  }
  return undefined;
}

function tlsOptions(target: TargetAddress, settings: LdapSettings): ConnectionOptions | undefined {
  const tls = tlsSettings({ sslmode: settings.sslmode, sslrootcert: settings.sslrootcert });
  if (tls === false) return undefined;
  // A server name (SNI) must not be an IP address; the host still names the peer to check.
  const servername = isIP(target.host) === 0 ? { servername: target.host } : {};
  return { ...tls, host: target.host, ...servername, minVersion: 'TLSv1.2' };
}
