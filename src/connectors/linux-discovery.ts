/**
 * Reads a Linux host's privileged accounts from the output of the discovery script: uid 0,
 * members of the administrative groups, users named in sudoers (directly, through `%group`,
 * `#uid` or a `User_Alias`), and users with a non-empty `authorized_keys`.
 */
import type { DiscoveredAccount } from './connector.ts';
import { DISCOVERY_SECTIONS } from './linux-commands.ts';

/** Groups whose members administer the host on the common distributions. */
export const ADMIN_GROUPS = ['sudo', 'wheel', 'admin'] as const;

interface PasswdEntry {
  readonly name: string;
  readonly uid: string;
  readonly gid: string;
}

interface GroupEntry {
  readonly name: string;
  readonly gid: string;
  readonly members: readonly string[];
}

interface Sections {
  readonly passwd: string[];
  readonly group: string[];
  readonly sudoers: string[];
  readonly keys: string[];
}

/**
 * Turns the script's output into accounts with their reasons, sorted by name. Returns a reason
 * instead when the output is cut short (the end marker is missing).
 */
export function parseDiscovery(output: string): DiscoveredAccount[] | string {
  const sections = splitSections(output);
  if (typeof sections === 'string') return sections;
  const users = sections.passwd.map(parsePasswd).filter((entry) => entry !== undefined);
  const groups = sections.group.map(parseGroup).filter((entry) => entry !== undefined);
  const found = new Map<string, Set<string>>();
  const mark = (name: string, reason: string) => {
    if (name.length === 0) return;
    const reasons = found.get(name) ?? new Set<string>();
    reasons.add(reason);
    found.set(name, reasons);
  };

  for (const user of users) if (user.uid === '0') mark(user.name, 'uid 0');
  for (const group of groups) {
    if (!(ADMIN_GROUPS as readonly string[]).includes(group.name)) continue;
    for (const member of groupMembers(group, users)) mark(member, `member of ${group.name}`);
  }
  for (const [name, via] of sudoersUsers(sections.sudoers.join('\n'), users, groups)) {
    mark(name, via === undefined ? 'sudoers entry' : `sudoers entry (${via})`);
  }
  for (const name of sections.keys) mark(name.trim(), 'has authorized_keys');

  return [...found.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([username, reasons]) => ({ username, reasons: [...reasons] }));
}

/**
 * The users a sudoers text grants rights to, each with the `%group`, `#uid` or alias it came
 * through (undefined when named directly). `ALL` and negated entries name nobody in particular
 * and are skipped.
 */
export function sudoersUsers(
  text: string,
  users: readonly PasswdEntry[],
  groups: readonly GroupEntry[],
): Map<string, string | undefined> {
  const lines = logicalLines(text);
  const aliases = userAliases(lines);
  const result = new Map<string, string | undefined>();
  const add = (name: string, via: string | undefined) => {
    if (!result.has(name) || via === undefined) result.set(name, via);
  };

  for (const line of lines) {
    const spec = userSpecification(line);
    if (spec === undefined) continue;
    for (const item of expandAliases(spec, aliases)) {
      for (const [name, via] of resolveUserItem(item, users, groups)) add(name, via);
    }
  }
  return result;
}

function splitSections(output: string): Sections | string {
  const sections: Sections = { passwd: [], group: [], sudoers: [], keys: [] };
  let current: string[] | undefined;
  let ended = false;
  for (const line of output.split('\n')) {
    if (line === DISCOVERY_SECTIONS.passwd) current = sections.passwd;
    else if (line === DISCOVERY_SECTIONS.group) current = sections.group;
    else if (line === DISCOVERY_SECTIONS.sudoers) current = sections.sudoers;
    else if (line === DISCOVERY_SECTIONS.keys) current = sections.keys;
    else if (line === DISCOVERY_SECTIONS.end) ended = true;
    else if (line.length > 0) current?.push(line);
  }
  return ended ? sections : 'the scan output ended early';
}

function parsePasswd(line: string): PasswdEntry | undefined {
  const [name, , uid, gid] = line.split(':');
  if (name === undefined || uid === undefined || gid === undefined) return undefined;
  return { name, uid, gid };
}

function parseGroup(line: string): GroupEntry | undefined {
  const [name, , gid, members] = line.split(':');
  if (name === undefined || gid === undefined) return undefined;
  const list = (members ?? '').split(',').filter((member) => member.length > 0);
  return { name, gid, members: list };
}

/** Listed members plus the users whose primary group it is. */
function groupMembers(group: GroupEntry, users: readonly PasswdEntry[]): string[] {
  const primary = users.filter((user) => user.gid === group.gid).map((user) => user.name);
  return [...new Set([...group.members, ...primary])];
}

/** Joins continued lines and drops comments, keeping `#include` and `#123` user ids. */
function logicalLines(text: string): string[] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  return joined
    .split(/\r?\n/)
    .map((line) => stripComment(line).trim())
    .filter((line) => line.length > 0);
}

function stripComment(line: string): string {
  // `#` starts a comment except in `#include`/`#includedir` and in a `#uid` user item.
  return line.replace(/(^|[\s,=:!])#(?!include|\d)[^\n]*$/, '$1');
}

function userAliases(lines: readonly string[]): Map<string, string[]> {
  const aliases = new Map<string, string[]>();
  for (const line of lines) {
    const match = /^User_Alias\s+(.*)$/.exec(line);
    if (!match?.[1]) continue;
    for (const definition of match[1].split(':')) {
      const [name, list] = definition.split('=', 2);
      if (name === undefined || list === undefined) continue;
      aliases.set(name.trim(), splitList(list));
    }
  }
  return aliases;
}

const NOT_USER_SPECS =
  /^(Defaults|User_Alias|Runas_Alias|Host_Alias|Cmnd_Alias|Cmd_Alias)\b|^[@#]include/;

/** The user list of a user specification line (`users hosts = commands`), if it is one. */
function userSpecification(line: string): string[] | undefined {
  if (NOT_USER_SPECS.test(line) || !line.includes('=')) return undefined;
  const match = /^(\S+(?:\s*,\s*\S+)*)\s+[^=]+=/.exec(line);
  if (!match?.[1]) return undefined;
  return splitList(match[1]);
}

function expandAliases(items: readonly string[], aliases: Map<string, string[]>): string[] {
  const out: string[] = [];
  const visit = (item: string, depth: number) => {
    const members = aliases.get(item);
    if (members === undefined || depth > 8) out.push(item);
    else for (const member of members) visit(member, depth + 1);
  };
  for (const item of items) visit(item, 0);
  return out;
}

function resolveUserItem(
  item: string,
  users: readonly PasswdEntry[],
  groups: readonly GroupEntry[],
): [string, string | undefined][] {
  if (item === 'ALL' || item.startsWith('!') || item.startsWith('+')) return [];
  if (item.startsWith('%')) {
    const name = item.replace(/^%:?/, '');
    const group = name.startsWith('#')
      ? groups.find((entry) => entry.gid === name.slice(1))
      : groups.find((entry) => entry.name === name);
    if (group === undefined) return [];
    return groupMembers(group, users).map((member) => [member, item]);
  }
  if (item.startsWith('#')) {
    return users.filter((user) => user.uid === item.slice(1)).map((user) => [user.name, item]);
  }
  return [[item.replace(/^"|"$/g, ''), undefined]];
}

function splitList(list: string): string[] {
  return list
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}
