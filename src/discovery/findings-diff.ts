/**
 * What a scan changes in the list of privileged accounts known for a target: pure functions, so
 * the rules read in one place and the service only stores their result.
 */
import type { DiscoveredAccount } from '../connectors/connector.ts';

/** A reason is a few words; a connector that sends more is cut here, before it is stored. */
const MAX_REASON_LENGTH = 200;
const MAX_REASONS = 32;

/** A finding as the previous scans left it. */
export interface KnownFinding {
  readonly username: string;
  readonly goneAt: number | null;
}

export interface FindingsDiff {
  /** New, or back after a scan had found them gone. */
  readonly appeared: readonly DiscoveredAccount[];
  /** Found by the previous scan and by this one. */
  readonly still: readonly DiscoveredAccount[];
  /** Found by an earlier scan and not by this one; their user names. */
  readonly disappeared: readonly string[];
}

/**
 * One entry per user name, its reasons merged, trimmed, without repeats and sorted: a connector
 * that lists an account twice (a Linux user in two groups) still makes one finding.
 */
export function normaliseFindings(accounts: readonly DiscoveredAccount[]): DiscoveredAccount[] {
  const merged = new Map<string, Set<string>>();
  for (const account of accounts) {
    const reasons = merged.get(account.username) ?? new Set<string>();
    for (const reason of account.reasons) {
      const text = reason.trim().slice(0, MAX_REASON_LENGTH);
      if (text !== '') reasons.add(text);
    }
    merged.set(account.username, reasons);
  }
  return [...merged]
    .map(([username, reasons]) => ({
      username,
      reasons: [...reasons].sort().slice(0, MAX_REASONS),
    }))
    .sort((a, b) => compareText(a.username, b.username));
}

export function diffFindings(
  known: readonly KnownFinding[],
  found: readonly DiscoveredAccount[],
): FindingsDiff {
  const present = new Set(known.filter((k) => k.goneAt === null).map((k) => k.username));
  const foundNames = new Set(found.map((f) => f.username));
  return {
    appeared: found.filter((f) => !present.has(f.username)),
    still: found.filter((f) => present.has(f.username)),
    disappeared: [...present].filter((name) => !foundNames.has(name)).sort(compareText),
  };
}

/**
 * The account that makes a finding managed: one with the same user name on the target. On
 * MariaDB an account named `name` covers every `name`@`host` row, so a finding `name@host` is
 * managed by it as well (F07). Returns the managing account's user name, or null.
 */
export function managingAccount(
  platform: string,
  username: string,
  accountNames: ReadonlySet<string>,
): string | null {
  if (accountNames.has(username)) return username;
  if (platform !== 'mariadb') return null;
  const at = username.lastIndexOf('@');
  if (at <= 0) return null;
  const name = username.slice(0, at);
  return accountNames.has(name) ? name : null;
}

/** Code-point order, the same on every machine and store. */
function compareText(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}
