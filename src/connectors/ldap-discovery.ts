/**
 * LDAP discovery: the members of each group named in the target's `privilegedGroups`, read as
 * the scanning account. Members are named as an account onboarded for them would be: by their
 * user attribute when their entry lies under baseDn, otherwise by their DN.
 */
import type { Entry } from 'ldapts';
import type { Credential, DiscoveryOutcome, TargetAddress } from './connector.ts';
import { isDnUnder, leadingValue, parseDn, type Rdn } from './ldap-dn.ts';
import { ldapSettings } from './ldap-options.ts';
import {
  closeSession,
  describeFailure,
  type LdapSession,
  logOn,
  openSession,
  RESULT_NO_SUCH_OBJECT,
  resultCode,
} from './ldap-session.ts';

/** groupOfNames, groupOfUniqueNames and posixGroup (RFC 2307) keep their members here. */
const MEMBER_DN_ATTRIBUTES = ['member', 'uniqueMember'];
const MEMBER_NAME_ATTRIBUTE = 'memberUid';
/** nameAndOptionalUID: a uniqueMember value may end in `#'<bits>'B`. */
const OPTIONAL_UID = /#'[01]*'B$/;

class DiscoveryFailure extends Error {}

/** Lists the members of the target's privileged groups, each with the groups it belongs to. */
export async function discoverPrivileged(
  target: TargetAddress,
  scanner: Credential,
): Promise<DiscoveryOutcome> {
  const settings = ldapSettings(target.options);
  if (typeof settings === 'string') {
    return { kind: 'failed', reason: `${target.name}: ${settings}` };
  }
  if (scanner.secret.length === 0) {
    return { kind: 'failed', reason: `${target.name}: the scanning account has no password` };
  }

  const opened = await openSession(target, settings, [scanner.secret]);
  if (opened.kind === 'failed') return { kind: 'failed', reason: opened.reason };
  try {
    const logon = await logOn(opened.session, scanner);
    if (logon.kind === 'failed') return { kind: 'failed', reason: logon.reason };
    return { kind: 'found', accounts: await listMembers(opened.session) };
  } catch (error) {
    if (error instanceof DiscoveryFailure) return { kind: 'failed', reason: error.message };
    throw error;
  } finally {
    await closeSession(opened.session);
  }
}

async function listMembers(session: LdapSession) {
  const base = parseDn(session.settings.baseDn) ?? [];
  const reasons = new Map<string, string[]>();
  const add = (username: string, reason: string) => {
    const known = reasons.get(username) ?? [];
    if (!known.includes(reason)) known.push(reason);
    reasons.set(username, known);
  };

  for (const groupDn of session.settings.privilegedGroups) {
    const group = await readGroup(session, groupDn);
    const reason = `member of ${groupName(group, groupDn)}`;
    for (const name of values(group, MEMBER_NAME_ATTRIBUTE)) add(name, reason);
    for (const attribute of MEMBER_DN_ATTRIBUTES) {
      for (const memberDn of values(group, attribute)) {
        add(await memberName(session, memberDn.replace(OPTIONAL_UID, ''), base), reason);
      }
    }
  }
  return [...reasons.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([username, why]) => ({ username, reasons: why }));
}

async function readGroup(session: LdapSession, groupDn: string): Promise<Entry> {
  const step = `reading the privileged group ${groupDn}`;
  try {
    const result = await session.client.search(groupDn, {
      scope: 'base',
      attributes: ['cn', MEMBER_NAME_ATTRIBUTE, ...MEMBER_DN_ATTRIBUTES],
      derefAliases: 'never',
    });
    const entry = result.searchEntries[0];
    if (entry === undefined) throw new DiscoveryFailure(`${session.label}: ${step}: not visible`);
    return entry;
  } catch (error) {
    if (error instanceof DiscoveryFailure) throw error;
    const missing = resultCode(error) === RESULT_NO_SUCH_OBJECT ? ' (no such group)' : '';
    throw new DiscoveryFailure(`${describeFailure(session, step, error)}${missing}`);
  }
}

/** The user attribute's value for entries under baseDn; the DN for any other member. */
async function memberName(
  session: LdapSession,
  memberDn: string,
  base: readonly Rdn[],
): Promise<string> {
  const parsed = parseDn(memberDn);
  if (parsed === undefined || !isDnUnder(parsed, base)) return memberDn;
  const attribute = session.settings.userAttribute;
  const named = leadingValue(parsed, attribute);
  if (named !== undefined) return named;

  try {
    const result = await session.client.search(memberDn, {
      scope: 'base',
      attributes: [attribute],
      derefAliases: 'never',
    });
    const found = result.searchEntries[0];
    const names = found === undefined ? [] : values(found, attribute);
    return names.length === 1 && names[0] !== undefined ? names[0] : memberDn;
  } catch (error) {
    // A member whose entry is gone is still listed, by the DN the group holds.
    if (resultCode(error) === RESULT_NO_SUCH_OBJECT) return memberDn;
    throw new DiscoveryFailure(describeFailure(session, `reading the member ${memberDn}`, error));
  }
}

function groupName(group: Entry, groupDn: string): string {
  const [cn] = values(group, 'cn');
  if (cn !== undefined) return cn;
  const first = parseDn(groupDn)?.[0]?.[0];
  return first?.value ?? groupDn;
}

/** The text values of an attribute, whatever case the server wrote its name in. */
function values(entry: Entry, attribute: string): string[] {
  const key = Object.keys(entry).find((name) => name.toLowerCase() === attribute.toLowerCase());
  const raw = key === undefined || key === 'dn' ? [] : entry[key];
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  return list.map((value) => (Buffer.isBuffer(value) ? value.toString('utf8') : value));
}
