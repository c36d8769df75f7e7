/**
 * LDAP connector (OpenLDAP and other RFC 4511 directories). Verifies a password with a fresh
 * simple bind and changes it with the Password Modify extended operation (RFC 3062), so the
 * server hashes the value with its own scheme and never stores it in clear. A user name is a
 * DN, or becomes one through `userDnTemplate` or a search under `baseDn`; discovery lists the
 * members of the groups named in `privilegedGroups`.
 */
import { BerWriter } from 'ldapts';
import type {
  ChangeOutcome,
  ChangeRequest,
  Connector,
  Credential,
  PlatformSecretRules,
  TargetAddress,
  TargetOptions,
  VerifyOutcome,
} from './connector.ts';
import { discoverPrivileged } from './ldap-discovery.ts';
import { parseDn } from './ldap-dn.ts';
import { ldapOptionsSchema, ldapOptionsView, ldapSettings } from './ldap-options.ts';
import {
  closeSession,
  describeFailure,
  type LdapSession,
  logOn,
  openSession,
  RESULT_INVALID_CREDENTIALS,
  resolveDn,
  resultCode,
} from './ldap-session.ts';

/**
 * OpenLDAP takes passwords of any length, but clients around it do not all: 64 characters fit
 * the prompts of common tools and give a policy far more entropy than it needs.
 */
const MAX_SECRET_LENGTH = 64;
/** A hard ceiling for any value `change` accepts, generated or not. */
const MAX_SECRET_BYTES = 1024;
export const PASSWORD_MODIFY_OID = '1.3.6.1.4.1.4203.1.11.1';
/** The context tags of PasswdModifyRequestValue's fields (RFC 3062 section 2). */
const TAG_USER_IDENTITY = 0x80;
const TAG_OLD_PASSWORD = 0x81;
const TAG_NEW_PASSWORD = 0x82;

/** Result codes by which a server refuses a value: a password policy, a quality check. */
const VALUE_REFUSED = new Set([19, 21, 53]);
/** Results that prove the operation did nothing, whatever the value. */
const NOT_PERFORMED = new Set([8, 13, 32, 34, 48, 49, 50, 51, 52]);
/** The server does not know the operation: protocolError, unavailableCriticalExtension. */
const NOT_SUPPORTED = new Set([2, 12]);

/** Creates the LDAP connector. */
export function createLdapConnector(): Connector {
  const secretRules: PlatformSecretRules = {
    maxLength: MAX_SECRET_LENGTH,
    // Servers and their client libraries handle passwords as C strings.
    forbiddenCharacters: '\u0000',
  };
  return {
    platform: 'ldap',
    secretRules,
    secretKinds: ['password'],
    options: ldapOptionsSchema,
    viewOptions: ldapOptionsView,
    sameAccount: (target, a, b) => sameEntry(a, b, userAttributeOf(target.options)),
    verify,
    change,
    discover: discoverPrivileged,
  };
}

/**
 * The BER value of a Password Modify request. Under NODE_DEBUG=ldapts the library logs each
 * request as JSON; the value serialises as a placeholder so those logs never hold a password.
 */
export function passwordModifyValue(fields: {
  readonly userIdentity: string;
  readonly oldPassword?: string | undefined;
  readonly newPassword: string;
}): Buffer {
  const writer = new BerWriter();
  writer.startSequence();
  writer.writeString(fields.userIdentity, TAG_USER_IDENTITY);
  if (fields.oldPassword !== undefined) writer.writeString(fields.oldPassword, TAG_OLD_PASSWORD);
  writer.writeString(fields.newPassword, TAG_NEW_PASSWORD);
  writer.endSequence();
  const value = Buffer.from(writer.buffer);
  Object.defineProperty(value, 'toJSON', { value: () => '(withheld)' });
  return value;
}

// ---------------------------------------------------------------------------------------------
// verify

async function verify(target: TargetAddress, credential: Credential): Promise<VerifyOutcome> {
  const settings = ldapSettings(target.options);
  if (typeof settings === 'string') {
    return { kind: 'unreachable', reason: `${target.name}: ${settings}` };
  }
  const problem = secretProblem(credential.secret, 'secret');
  if ((credential.kind ?? 'password') !== 'password' || problem) {
    return {
      kind: 'invalid',
      reason: `${target.name}: ${problem ?? 'LDAP accounts use passwords'}`,
    };
  }

  const opened = await openSession(target, settings, [credential.secret]);
  if (opened.kind === 'failed') return { kind: 'unreachable', reason: opened.reason };
  try {
    return await bindOutcome(opened.session, credential);
  } finally {
    await closeSession(opened.session);
  }
}

async function bindOutcome(session: LdapSession, credential: Credential): Promise<VerifyOutcome> {
  const resolved = await resolveDn(session, credential.username, undefined);
  if (resolved.kind === 'absent') return { kind: 'invalid', reason: resolved.reason };
  if (resolved.kind === 'failed') return { kind: 'unreachable', reason: resolved.reason };
  try {
    await session.client.bind(resolved.dn, credential.secret);
    return { kind: 'valid' };
  } catch (error) {
    const reason = describeFailure(session, `bind as ${resolved.dn}`, error);
    const refused = resultCode(error) === RESULT_INVALID_CREDENTIALS;
    return refused ? { kind: 'invalid', reason } : { kind: 'unreachable', reason };
  }
}

// ---------------------------------------------------------------------------------------------
// change

async function change(target: TargetAddress, request: ChangeRequest): Promise<ChangeOutcome> {
  const settings = ldapSettings(target.options);
  if (typeof settings === 'string') return notSent(`${target.name}: ${settings}`);
  const refused = secretProblem(request.newSecret, 'new secret');
  if (refused) return { kind: 'rejected', reason: `${target.name}: ${refused}` };
  const problem = requestProblem(request);
  if (problem) return notSent(`${target.name}: ${problem}`);

  const secrets = [request.newSecret, request.logon.secret, request.currentSecret ?? ''];
  const opened = await openSession(target, settings, secrets);
  if (opened.kind === 'failed') return notSent(opened.reason);
  try {
    return await changeOnSession(opened.session, request);
  } finally {
    await closeSession(opened.session);
  }
}

function requestProblem(request: ChangeRequest): string | undefined {
  if (request.secretKind !== 'password') return 'LDAP accounts rotate passwords only';
  const logonProblem = secretProblem(request.logon.secret, 'logon secret');
  if (logonProblem) return logonProblem;
  if (request.via === 'self' && request.account !== request.logon.username) {
    return 'a self change must log on as the account itself';
  }
  return undefined;
}

async function changeOnSession(
  session: LdapSession,
  request: ChangeRequest,
): Promise<ChangeOutcome> {
  const logon = await logOn(session, request.logon);
  if (logon.kind === 'failed') return notSent(logon.reason);

  const account =
    request.via === 'self'
      ? ({ kind: 'dn', dn: logon.dn } as const)
      : await resolveDn(session, request.account, logon.dn);
  if (account.kind !== 'dn') return notSent(account.reason);

  // ldapts reconnects silently, unauthenticated, when the socket dropped; nothing may go out so.
  if (!session.client.isBound) {
    return notSent(`${session.label}: the connection was lost after the logon`);
  }
  const value = passwordModifyValue({
    userIdentity: account.dn,
    oldPassword: request.via === 'self' ? request.logon.secret : undefined,
    newPassword: request.newSecret,
  });
  try {
    await session.client.exop(PASSWORD_MODIFY_OID, value);
    return { kind: 'applied' };
  } catch (error) {
    return modifyFailure(session, account.dn, error);
  } finally {
    value.fill(0);
  }
}

function modifyFailure(session: LdapSession, dn: string, error: unknown): ChangeOutcome {
  const step = `Password Modify for ${dn}`;
  const reason = describeFailure(session, step, error);
  const code = resultCode(error);
  if (code !== undefined && VALUE_REFUSED.has(code)) {
    return { kind: 'rejected', reason: `the target refused the new value: ${reason}` };
  }
  if (code !== undefined && NOT_SUPPORTED.has(code)) {
    // Writing userPassword directly instead would store the clear value on servers that do
    // not hash on write, so such a target is refused rather than served less safely.
    return notSent(`${reason} (the server may not offer Password Modify, RFC 3062)`);
  }
  if (code !== undefined && NOT_PERFORMED.has(code)) return notSent(reason);
  return { kind: 'unknown', reason: `the change was sent but its outcome is unknown: ${reason}` };
}

function notSent(reason: string): ChangeOutcome {
  return { kind: 'not-sent', reason: `${reason}; nothing was changed` };
}

function secretProblem(secret: string, what: string): string | undefined {
  if (secret.length === 0) return `the ${what} is empty`;
  if (secret.includes('\u0000')) return `the ${what} contains NUL, which LDAP servers cannot take`;
  if (!secret.isWellFormed()) return `the ${what} is not well-formed Unicode`;
  if (Buffer.byteLength(secret, 'utf8') > MAX_SECRET_BYTES) {
    return `the ${what} is longer than ${MAX_SECRET_BYTES} bytes`;
  }
  return undefined;
}

/**
 * Whether two account names may name one entry: DNs compare without case or spacing, and a
 * plain name matches a DN whose first pair is the user attribute with that value.
 */
function sameEntry(a: string, b: string, userAttribute: string): boolean {
  const key = (name: string): string => {
    const dn = parseDn(name);
    if (dn === undefined || dn.length === 0) return `${userAttribute}=${name}`.toLowerCase();
    return dn
      .map((rdn) => rdn.map((pair) => `${pair.type}=${pair.value}`.toLowerCase()).join('+'))
      .join(',');
  };
  const [first, second] = [key(a), key(b)];
  if (first === second) return true;
  // A plain name is only known by its first pair; a DN's place in the tree is not.
  const leading = (text: string) => text.split(',')[0] ?? text;
  const plain = (name: string) => (parseDn(name)?.length ?? 0) === 0;
  return (plain(a) || plain(b)) && leading(first) === leading(second);
}

function userAttributeOf(options: TargetOptions): string {
  const settings = ldapSettings(options);
  return typeof settings === 'string' ? 'uid' : settings.userAttribute;
}
