/**
 * Reading what discovery found: findings with their managed flag, and past runs. Whether an
 * account is managed is worked out at read time from the accounts table, so onboarding an
 * account shows at once, without another scan.
 */
import type { DiscoveredAccount } from '../connectors/connector.ts';
import type { DiscoveredAccountTable } from '../store/schema.ts';
import type { Queryable } from '../store/store.ts';
import { managingAccount } from './findings-diff.ts';

export interface Finding {
  readonly target: string;
  readonly username: string;
  readonly reasons: readonly string[];
  readonly managed: boolean;
  /** The account that manages it (MariaDB: `name` for a `name@host` finding); null if none. */
  readonly managedBy: string | null;
  /**
   * The account that other accounts on the target name as their reconcile account, when there
   * is exactly one: the natural reconcile account for onboarding this finding. Null otherwise.
   */
  readonly suggestedReconcileAccount: string | null;
  readonly firstSeenAt: number;
  readonly lastSeenAt: number;
  /** When a scan stopped finding it; null while it is still there. */
  readonly goneAt: number | null;
}

export interface FindingFilter {
  readonly target?: string | undefined;
  /** Only findings no account manages. */
  readonly unmanaged?: boolean | undefined;
  /** true: only findings gone from the target; false: only those still there; left out: all. */
  readonly gone?: boolean | undefined;
}

export interface DiscoveryRun {
  readonly id: string;
  readonly target: string;
  readonly startedBy: string;
  readonly state: 'finished' | 'failed';
  readonly error: string | null;
  readonly found: number;
  readonly appeared: number;
  readonly disappeared: number;
  readonly startedAt: number;
  readonly finishedAt: number | null;
}

/** What a target's findings are checked against: its platform and its accounts. */
export interface TargetAccounts {
  readonly name: string;
  readonly platform: string;
  readonly usernames: ReadonlySet<string>;
  /** See {@link Finding.suggestedReconcileAccount}. */
  readonly reconcileAccount: string | null;
}

type TargetRef = { readonly id: string; readonly name: string; readonly platform: string };

/** The accounts of each target, for the managed flags of their findings. */
export async function targetAccounts(
  db: Queryable,
  targets: readonly TargetRef[],
): Promise<Map<string, TargetAccounts>> {
  const result = new Map<string, TargetAccounts>();
  if (targets.length === 0) return result;
  const ids = targets.map((t) => t.id);
  const accounts = await db
    .selectFrom('accounts')
    .select(['id', 'target_id', 'username', 'reconcile_account_id'])
    .where('target_id', 'in', ids)
    .execute();
  for (const target of targets) {
    const own = accounts.filter((a) => a.target_id === target.id);
    const named = new Set(own.flatMap((a) => a.reconcile_account_id ?? []));
    const [only] = named;
    const reconcile = named.size === 1 ? own.find((a) => a.id === only) : undefined;
    result.set(target.id, {
      name: target.name,
      platform: target.platform,
      usernames: new Set(own.map((a) => a.username)),
      reconcileAccount: reconcile === undefined ? null : `${target.name}/${reconcile.username}`,
    });
  }
  return result;
}

/** The finding as the API shows it, given its target's accounts. */
export function toFinding(
  row: Pick<DiscoveredAccountTable, 'username' | 'reasons' | 'first_seen_at'> &
    Pick<DiscoveredAccountTable, 'last_seen_at' | 'gone_at'>,
  target: TargetAccounts,
): Finding {
  const managedBy = managingAccount(target.platform, row.username, target.usernames);
  return {
    target: target.name,
    username: row.username,
    reasons: parseReasons(row.reasons),
    managed: managedBy !== null,
    managedBy,
    suggestedReconcileAccount: target.reconcileAccount,
    firstSeenAt: row.first_seen_at,
    lastSeenAt: row.last_seen_at,
    goneAt: row.gone_at,
  };
}

export async function listFindings(db: Queryable, filter: FindingFilter): Promise<Finding[]> {
  let query = db
    .selectFrom('discovered_accounts')
    .innerJoin('targets', 'targets.id', 'discovered_accounts.target_id')
    .selectAll('discovered_accounts')
    .select(['targets.name as target_name', 'targets.platform as target_platform'])
    .orderBy('targets.name')
    .orderBy('discovered_accounts.username');
  if (filter.target !== undefined) query = query.where('targets.name', '=', filter.target);
  if (filter.gone !== undefined) {
    query = query.where('discovered_accounts.gone_at', filter.gone ? 'is not' : 'is', null);
  }
  const rows = await query.execute();

  const targets = new Map(
    rows.map((r) => [
      r.target_id,
      { id: r.target_id, name: r.target_name, platform: r.target_platform },
    ]),
  );
  const accounts = await targetAccounts(db, [...targets.values()]);
  const findings = rows.flatMap((row) => {
    const target = accounts.get(row.target_id);
    return target === undefined ? [] : [toFinding(row, target)];
  });
  return filter.unmanaged === true ? findings.filter((f) => !f.managed) : findings;
}

export async function listRuns(
  db: Queryable,
  filter: { target?: string | undefined; limit: number },
): Promise<DiscoveryRun[]> {
  let query = db
    .selectFrom('discovery_runs')
    .innerJoin('targets', 'targets.id', 'discovery_runs.target_id')
    .selectAll('discovery_runs')
    .select('targets.name as target_name')
    .orderBy('discovery_runs.started_at', 'desc')
    .orderBy('discovery_runs.id')
    .limit(filter.limit);
  if (filter.target !== undefined) query = query.where('targets.name', '=', filter.target);
  const rows = await query.execute();
  return rows.map((row) => ({
    id: row.id,
    target: row.target_name,
    startedBy: row.started_by,
    state: row.state === 'failed' ? 'failed' : 'finished',
    error: row.error,
    found: row.found,
    appeared: row.appeared,
    disappeared: row.disappeared,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  }));
}

export function serialiseReasons(account: DiscoveredAccount): string {
  return JSON.stringify(account.reasons);
}

/** Reasons are stored as a JSON array of texts; anything else reads as none. */
function parseReasons(text: string): string[] {
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed.filter((r): r is string => typeof r === 'string') : [];
  } catch {
    return []; // written only by this module, so this is a damaged row: shown without reasons
  }
}
