import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { AccessDecision } from '../access/access-decision.ts';
import { type Account, parseAccountRef } from '../accounts/account.ts';
import type { AccountService } from '../accounts/account-service.ts';
import type { SecretVersions } from '../accounts/secret-versions.ts';
import type { Target, TargetService } from '../accounts/targets.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditDetailValue, RequestContext } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import type { Connector, DiscoveredAccount, DiscoveryOutcome } from '../connectors/connector.ts';
import { TesseraError } from '../errors.ts';
import type { Principal } from '../identity/principal.ts';
import type { Store, Tx } from '../store/store.ts';
import {
  type DiscoveryRun,
  type Finding,
  type FindingFilter,
  listFindings,
  listRuns,
  serialiseReasons,
} from './discovery-queries.ts';
import { diffFindings, type FindingsDiff, normaliseFindings } from './findings-diff.ts';

export type { DiscoveryRun, Finding, FindingFilter } from './discovery-queries.ts';

export interface DiscoveryRequest {
  readonly target: string;
  /** `TARGET/USERNAME` of the scanning account; see {@link DiscoveryService.run}. */
  readonly scanner?: string | undefined;
}

/** A finished scan: the run, the scanner it used, and what changed since the previous scan. */
export interface DiscoverySummary {
  readonly run: DiscoveryRun;
  readonly scanner: string;
  readonly appeared: readonly Finding[];
  readonly disappeared: readonly string[];
  /** Findings on the target, still there, that no account manages. */
  readonly unmanaged: number;
}

/**
 * Scans targets for privileged accounts and keeps what each scan found. Running a scan shows
 * account names, never a secret, but it uses a stored credential on the caller's behalf and
 * maps a whole target: admins only. Admins and auditors read the findings.
 */
export interface DiscoveryService {
  /**
   * Scans one target as its scanning account: `scanner` when given, else the one account that
   * the target's other accounts name as their reconcile account. A scan the target refuses or
   * never answers is recorded and audited as a failed run and raised as DISCOVERY_FAILED.
   */
  run(
    ctx: RequestContext,
    principal: Principal,
    request: DiscoveryRequest,
  ): Promise<DiscoverySummary>;
  findings(principal: Principal, filter: FindingFilter): Promise<Finding[]>;
  runs(
    principal: Principal,
    filter: { target?: string | undefined; limit?: number | undefined },
  ): Promise<DiscoveryRun[]>;
}

export const DEFAULT_RUNS_LIMIT = 50;

interface Scan {
  readonly id: string;
  readonly target: Target;
  readonly scanner: Account;
  readonly startedBy: string;
  readonly startedAt: number;
}

export function createDiscoveryService(deps: {
  store: Store;
  audit: AuditLog;
  access: AccessDecision;
  accounts: AccountService;
  targets: TargetService;
  versions: SecretVersions;
  connectors: ReadonlyMap<string, Connector>;
  clock: Clock;
  logger: Logger;
}): DiscoveryService {
  const { store, audit, access, accounts, targets, versions, connectors, clock, logger } = deps;

  const connectorFor = (target: Target): Connector => {
    const connector = connectors.get(target.platform);
    if (connector === undefined) {
      throw new TesseraError('NOT_SUPPORTED', `no connector for platform ${target.platform}`);
    }
    return connector;
  };

  /** The scanner named by the caller, or the target's one reconcile account. */
  const scannerFor = async (target: Target, ref: string | undefined): Promise<Account> => {
    if (ref !== undefined) return namedScanner(target, ref);
    const named = await store.db
      .selectFrom('accounts')
      .select('reconcile_account_id')
      .distinct()
      .where('target_id', '=', target.id)
      .where('reconcile_account_id', 'is not', null)
      .execute();
    const [only] = named;
    if (named.length !== 1 || only?.reconcile_account_id == null) {
      const why = named.length === 0 ? 'names no reconcile account' : 'names several';
      throw new TesseraError(
        'VALIDATION_FAILED',
        `choose the scanning account with --scanner: target ${target.name} ${why}`,
        { scanner: named.length === 0 ? 'missing' : 'ambiguous' },
      );
    }
    return accounts.reload(store.db, only.reconcile_account_id);
  };

  const namedScanner = async (target: Target, ref: string): Promise<Account> => {
    const parsed = parseAccountRef(ref);
    if (parsed === null) {
      throw new TesseraError('VALIDATION_FAILED', 'the scanner is not TARGET/USERNAME');
    }
    if (parsed.target !== target.name) {
      throw new TesseraError(
        'VALIDATION_FAILED',
        `the scanner must be an account on target ${target.name}`,
      );
    }
    return accounts.find(parsed);
  };

  const scan = async (
    connector: Connector,
    target: Target,
    scanner: Account,
  ): Promise<DiscoveryOutcome> => {
    if (scanner.currentVersion === null) {
      throw new TesseraError('CONFLICT', `the scanner ${scanner.ref} has no secret yet`);
    }
    const at = { accountId: scanner.id, safeId: scanner.safeId };
    const secret = await versions.read(at, scanner.currentVersion);
    const credential = {
      username: scanner.username,
      secret: secret.toString('utf8'),
      kind: scanner.secretType,
    };
    secret.fill(0);
    try {
      return await connector.discover(target, credential);
    } catch (error) {
      // Connectors answer with a verdict; a throw is a fault in one, logged for its authors.
      logger.error({ err: error, target: target.name }, 'connector threw during discovery');
      return { kind: 'failed', reason: `discovery on ${target.name}: the connector failed` };
    }
  };

  const recordFailure = async (ctx: RequestContext, run: Scan, reason: string) => {
    const finishedAt = clock.now();
    await store.transaction(async (trx) => {
      await insertRun(trx, run, { state: 'failed', error: reason, finishedAt });
      await audit.appendInTx(trx, [runEvent(ctx, run, 'failure', { error: reason })]);
    });
    await store.durable();
    return new TesseraError('DISCOVERY_FAILED', reason, { run: run.id });
  };

  const recordSuccess = async (
    ctx: RequestContext,
    run: Scan,
    found: readonly DiscoveredAccount[],
  ) => {
    const now = clock.now();
    const diff = await store.transaction(async (trx) => {
      await lockTarget(store, trx, run.target.id);
      const known = await trx
        .selectFrom('discovered_accounts')
        .select(['username', 'gone_at as goneAt'])
        .where('target_id', '=', run.target.id)
        .execute();
      const changes = diffFindings(known, found);
      await storeFindings(trx, run, changes, known, now);
      const counts = countsOf(found, changes);
      await insertRun(trx, run, { state: 'finished', error: null, finishedAt: now, ...counts });
      await audit.appendInTx(trx, [runEvent(ctx, run, 'success', counts)]);
      return changes;
    });
    await store.durable();
    return { diff, finishedAt: now };
  };

  /** Read back after the commit, so the summary shows the findings exactly as stored. */
  const summaryOf = async (
    run: Scan,
    found: readonly DiscoveredAccount[],
    result: { diff: FindingsDiff; finishedAt: number },
  ): Promise<DiscoverySummary> => {
    const { diff, finishedAt } = result;
    const present = await listFindings(store.db, { target: run.target.name, gone: false });
    const appeared = new Set(diff.appeared.map((a) => a.username));
    return {
      run: {
        id: run.id,
        target: run.target.name,
        startedBy: run.startedBy,
        state: 'finished',
        error: null,
        ...countsOf(found, diff),
        startedAt: run.startedAt,
        finishedAt,
      },
      scanner: run.scanner.ref,
      appeared: present.filter((f) => appeared.has(f.username)),
      disappeared: diff.disappeared,
      unmanaged: present.filter((f) => !f.managed).length,
    };
  };

  return {
    async run(ctx, principal, request) {
      await access.require(principal, 'discovery.run');
      const target = await targets.byName(request.target);
      const connector = connectorFor(target);
      const scanner = await scannerFor(target, request.scanner);
      const run: Scan = {
        id: randomUUID(),
        target,
        scanner,
        startedBy: principal.name,
        startedAt: clock.now(),
      };

      // No transaction is open while the target is contacted.
      const outcome: DiscoveryOutcome = await scan(connector, target, scanner);
      if (outcome.kind === 'failed') throw await recordFailure(ctx, run, outcome.reason);
      const found = normaliseFindings(outcome.accounts);
      return summaryOf(run, found, await recordSuccess(ctx, run, found));
    },

    async findings(principal, filter) {
      await access.require(principal, 'discovery.read');
      if (filter.target !== undefined) await targets.byName(filter.target);
      return listFindings(store.db, filter);
    },

    async runs(principal, filter) {
      await access.require(principal, 'discovery.read');
      if (filter.target !== undefined) await targets.byName(filter.target);
      return listRuns(store.db, {
        target: filter.target,
        limit: filter.limit ?? DEFAULT_RUNS_LIMIT,
      });
    },
  };
}

/**
 * Two scans of one target finishing together would each compute appeared and disappeared from
 * the same old state; on PostgreSQL the target's row is locked for the update (SQLite has one
 * writer at a time already).
 */
async function lockTarget(store: Store, trx: Tx, targetId: string): Promise<void> {
  if (store.dialect !== 'postgres') return;
  await sql`SELECT id FROM targets WHERE id = ${targetId} FOR UPDATE`.execute(trx);
}

async function storeFindings(
  trx: Tx,
  run: Scan,
  diff: FindingsDiff,
  known: readonly { username: string }[],
  now: number,
): Promise<void> {
  const knownNames = new Set(known.map((k) => k.username));
  for (const account of [...diff.appeared, ...diff.still]) {
    const reasons = serialiseReasons(account);
    if (!knownNames.has(account.username)) {
      await trx
        .insertInto('discovered_accounts')
        .values({
          target_id: run.target.id,
          username: account.username,
          reasons,
          first_seen_at: now,
          last_seen_at: now,
          gone_at: null,
          last_run_id: run.id,
        })
        .execute();
      continue;
    }
    // Back after being gone keeps its first sighting: the history of the name on the target.
    await trx
      .updateTable('discovered_accounts')
      .set({ reasons, last_seen_at: now, gone_at: null, last_run_id: run.id })
      .where('target_id', '=', run.target.id)
      .where('username', '=', account.username)
      .execute();
  }
  for (const username of diff.disappeared) {
    await trx
      .updateTable('discovered_accounts')
      .set({ gone_at: now, last_run_id: run.id })
      .where('target_id', '=', run.target.id)
      .where('username', '=', username)
      .execute();
  }
}

function countsOf(found: readonly DiscoveredAccount[], diff: FindingsDiff) {
  return {
    found: found.length,
    appeared: diff.appeared.length,
    disappeared: diff.disappeared.length,
  };
}

async function insertRun(
  trx: Tx,
  run: Scan,
  result: {
    state: 'finished' | 'failed';
    error: string | null;
    finishedAt: number;
    found?: number;
    appeared?: number;
    disappeared?: number;
  },
): Promise<void> {
  await trx
    .insertInto('discovery_runs')
    .values({
      id: run.id,
      target_id: run.target.id,
      started_by: run.startedBy,
      state: result.state,
      error: result.error,
      found: result.found ?? 0,
      appeared: result.appeared ?? 0,
      disappeared: result.disappeared ?? 0,
      started_at: run.startedAt,
      finished_at: result.finishedAt,
    })
    .execute();
}

/** Built field by field: counts and names, never a credential. */
function runEvent(
  ctx: RequestContext,
  run: Scan,
  outcome: 'success' | 'failure',
  facts: Readonly<Record<string, AuditDetailValue>>,
) {
  return {
    action: 'discovery.run',
    outcome,
    actor: ctx.actor,
    object: { type: 'target', id: run.target.id, name: run.target.name },
    source: ctx.source,
    requestId: ctx.requestId,
    details: { run: run.id, scanner: run.scanner.ref, ...facts },
  };
}
