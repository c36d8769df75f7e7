import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import type { DiscoveryFinding, DiscoverySummary, Target } from '../api-types.ts';
import { CliError, usageError } from '../cli-error.ts';
import { ROTATE_TIMEOUT_MS } from '../client.ts';
import { type Io, type Session, sessionOf } from '../context.ts';
import { formatCsv } from '../csv.ts';
import {
  clean,
  formatTime,
  printJson,
  printLine,
  printNote,
  printTable,
  printWarning,
} from '../output.ts';

interface RunOptions {
  readonly scanner?: string;
  readonly all?: boolean;
}

interface ListOptions {
  readonly target?: string;
  readonly unmanaged?: boolean;
  readonly gone?: boolean;
}

/** What one target's scan came to, in `discover run --all`. */
type TargetResult =
  | { readonly target: string; readonly result: 'scanned'; readonly summary: DiscoverySummary }
  | { readonly target: string; readonly result: 'skipped'; readonly reason: string }
  | { readonly target: string; readonly result: 'failed'; readonly code: string; reason: string };

/** Past this many, the names that appeared are left to `discover list`. */
const MAX_NAMES_SHOWN = 20;

/**
 * The columns `discover list -o csv` writes: those `account import` reads, with the target's
 * reconcile account filled in where there is one, plus the reasons for the reviewer (ignored
 * by the import).
 */
export const EXPORT_COLUMNS = [
  'target',
  'username',
  'secret_type',
  'reconcile_account',
  'policy',
  'reasons',
] as const;

const RUN_HELP = `
Examples:
  tessera discover run db01                       # scans as db01's reconcile account
  tessera discover run db01 --scanner db01/audit  # or as the account named
  tessera discover run --all                      # every target that has a reconcile account
Then review and onboard what nobody manages yet:
  tessera discover list --unmanaged -o csv > found.csv
  tessera account import found.csv --safe prod --rotate-now`;

export function registerDiscover(program: Command, io: Io): void {
  const discover = program
    .command('discover')
    .description('discovery: scan targets for privileged accounts, and list what was found');

  discover
    .command('run')
    .description('scan one target, or every target, and report what appeared and disappeared')
    .argument('[target]', 'the target to scan')
    .option('--scanner <account>', 'TARGET/USERNAME that scans (default: the reconcile account)')
    .option('--all', 'scan every target; targets without a reconcile account are skipped')
    .addHelpText('after', RUN_HELP)
    .action(async (target: string | undefined, options: RunOptions, command: Command) => {
      await run(sessionOf(command, io), target, options);
    });

  discover
    .command('list')
    .description('list the privileged accounts found, and whether Tessera manages them')
    .option('--target <target>', 'only those on this target')
    .option('--unmanaged', 'only those no account manages yet')
    .option('--gone', 'only those a later scan no longer found')
    .addHelpText('after', '\nWith -o csv, the list is written as a file `account import` reads.')
    .action(async (options: ListOptions, command: Command) => {
      const csv = command.optsWithGlobals<{ output?: string }>().output === 'csv';
      await list(sessionOf(command, io), options, csv);
    });
}

async function run(session: Session, target: string | undefined, options: RunOptions) {
  if (options.all === true) {
    if (target !== undefined) throw usageError('name a target or give --all, not both');
    if (options.scanner !== undefined) {
      throw usageError('--scanner names one account on one target: it cannot go with --all');
    }
    return runAll(session);
  }
  if (target === undefined) throw usageError('name the target to scan, or give --all');
  const progress = startProgress(session, 1, 'Scanning');
  let summary: DiscoverySummary;
  try {
    summary = await scanTarget(session, target, options.scanner);
  } finally {
    progress.done();
  }
  if (session.json) return printJson(session, summary);
  printSummary(session, summary);
  printNextSteps(session, summary.unmanaged);
}

function scanTarget(session: Session, target: string, scanner: string | undefined) {
  const path = `/v1/targets/${encodeURIComponent(target)}/discovery`;
  return session.api().request<DiscoverySummary>('POST', path, {
    body: scanner === undefined ? {} : { scanner },
    timeoutMs: ROTATE_TIMEOUT_MS,
  });
}

async function runAll(session: Session) {
  const { targets } = await session.api().request<{ targets: Target[] }>('GET', '/v1/targets');
  const results: TargetResult[] = [];
  const progress = startProgress(session, targets.length, 'Scanning');
  try {
    for (const target of targets) {
      results.push(await scanOne(session, target.name));
      progress.tick(target.name);
    }
  } finally {
    progress.done();
  }

  if (session.json) printJson(session, { results });
  else printAll(session, results);
  const failed = results.filter((r) => r.result === 'failed').length;
  if (failed > 0) {
    throw new CliError('DISCOVERY_FAILED', `${failed} of ${targets.length} targets failed`);
  }
}

/** A target without a scanner to pick is skipped, not failed: it was never set up for it. */
async function scanOne(session: Session, target: string): Promise<TargetResult> {
  try {
    return { target, result: 'scanned', summary: await scanTarget(session, target, undefined) };
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    const scanner = error.details?.scanner;
    if (error.code === 'VALIDATION_FAILED' && (scanner === 'missing' || scanner === 'ambiguous')) {
      return { target, result: 'skipped', reason: error.message };
    }
    // The network or the server itself failing ends the whole run; a target's refusal does not.
    if (error.code === 'UNREACHABLE' || error.code === 'UNAUTHENTICATED') throw error;
    return { target, result: 'failed', code: error.code, reason: error.message };
  }
}

function printAll(session: Session, results: readonly TargetResult[]) {
  if (results.length === 0) {
    printLine(session, 'No targets.');
    return;
  }
  for (const r of results) {
    if (r.result === 'scanned') printSummary(session, r.summary);
    else if (r.result === 'skipped')
      printNote(session, `${clean(r.target)}: skipped: ${clean(r.reason)}`);
    else printWarning(session, `${clean(r.target)}: failed: ${clean(r.code)}: ${clean(r.reason)}`);
  }
  const unmanaged = results.reduce(
    (sum, r) => sum + (r.result === 'scanned' ? r.summary.unmanaged : 0),
    0,
  );
  printNextSteps(session, unmanaged);
}

function printSummary(session: Session, s: DiscoverySummary) {
  const target = clean(s.run.target);
  printLine(
    session,
    `${target}: ${plural(s.run.found, 'privileged account')}, ${s.unmanaged} not managed ` +
      `(scanned as ${clean(s.scanner)})`,
  );
  const shown = s.appeared.slice(0, MAX_NAMES_SHOWN);
  for (const f of shown) {
    const managed = f.managed ? 'managed' : 'not managed';
    printLine(session, `  + ${clean(f.username)}  (${clean(f.reasons.join(', '))}; ${managed})`);
  }
  if (s.appeared.length > shown.length) {
    const more = s.appeared.length - shown.length;
    printLine(session, `  + ${more} more: tessera discover list --target ${target}`);
  }
  for (const name of s.disappeared) printLine(session, `  - ${clean(name)}  (gone)`);
  if (s.appeared.length === 0 && s.disappeared.length === 0) {
    printLine(session, '  nothing appeared or disappeared since the last scan');
  }
}

function printNextSteps(session: Session, unmanaged: number) {
  if (unmanaged === 0) return;
  printNote(session, 'Review and onboard the accounts not managed yet:');
  printNote(session, '  tessera discover list --unmanaged -o csv > found.csv');
  printNote(session, '  tessera account import found.csv --safe SAFE --rotate-now');
}

async function list(session: Session, options: ListOptions, csv: boolean) {
  const query = {
    target: options.target,
    unmanaged: options.unmanaged === true ? 'true' : undefined,
    gone: options.gone === true ? 'true' : 'false',
  };
  const reply = await session
    .api()
    .request<{ findings: DiscoveryFinding[] }>('GET', '/v1/discovery', { query });
  if (session.json) return printJson(session, reply);
  if (csv) {
    // Values as stored, unescaped: the file goes back to Tessera, not to a terminal.
    session.stdout.write(formatCsv([[...EXPORT_COLUMNS], ...reply.findings.map(exportRow)]));
    return;
  }
  const rows = reply.findings.map((f) => [
    f.target,
    f.username,
    managedText(f),
    f.reasons.join(', '),
    formatTime(f.firstSeenAt),
    options.gone === true ? formatTime(f.goneAt) : formatTime(f.lastSeenAt),
  ]);
  const last = options.gone === true ? 'GONE' : 'LAST SEEN';
  const headers = ['TARGET', 'USERNAME', 'MANAGED', 'REASONS', 'FIRST SEEN', last];
  printTable(session, headers, rows, 'Nothing found.');
}

function exportRow(f: DiscoveryFinding): string[] {
  return [
    f.target,
    f.username,
    'password',
    f.suggestedReconcileAccount ?? '',
    '',
    f.reasons.join('; '),
  ];
}

function managedText(f: DiscoveryFinding): string {
  if (!f.managed) return 'no';
  return f.managedBy === null || f.managedBy === f.username ? 'yes' : `yes, as ${f.managedBy}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

export interface Progress {
  /** One more item done; `label` names it (cleaned before it is shown). */
  tick(label: string): void;
  done(): void;
}

/**
 * A bar on stderr for people watching a terminal: nothing under `-o json`, in a pipe or for an
 * empty list, so that scripts and logs see only the results.
 */
export function startProgress(session: Session, total: number, verb: string): Progress {
  const terminal = (session.stderr as { isTTY?: boolean }).isTTY === true;
  if (session.json || !terminal || total === 0)
    return { tick: () => undefined, done: () => undefined };
  const bar = new cliProgress.SingleBar(
    {
      stream: session.stderr,
      format: `${verb} {bar} {value}/{total} {item}`,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { item: '' });
  return {
    tick: (label) => bar.increment(1, { item: clean(label).slice(0, 60) }),
    done: () => bar.stop(),
  };
}
