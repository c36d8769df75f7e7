import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { type AccountRef, accountPath, refText } from '../account-ref.ts';
import type { Account, Policy, RotateReply, Target } from '../api-types.ts';
import { CliError, usageError } from '../cli-error.ts';
import { ROTATE_TIMEOUT_MS } from '../client.ts';
import { type Io, type Session, sessionOf } from '../context.ts';
import { CsvError, type CsvRecord, parseCsv } from '../csv.ts';
import { clean, printJson, printLine, printNote, printTable, printWarning } from '../output.ts';
import { startProgress } from './discover.ts';

interface ImportOptions {
  readonly safe: string;
  readonly policy?: string;
  readonly rotateNow?: boolean;
  readonly dryRun?: boolean;
}

/** A row that passed every local check, ready to send. */
interface ImportRow {
  readonly line: number;
  readonly target: string;
  readonly username: string;
  readonly secretType: 'password' | 'ssh-key';
  readonly reconcileAccount: string | undefined;
  readonly policy: string | undefined;
  readonly secret: string | undefined;
}

interface Problem {
  readonly line: number;
  readonly message: string;
}

type Outcome = 'onboarded' | 'skipped' | 'failed';

interface RowResult {
  readonly line: number;
  readonly account: string;
  outcome: Outcome;
  detail: string | null;
  /** With --rotate-now: the version now current, or why the rotation failed. */
  rotation: {
    readonly ok: boolean;
    readonly version: number | null;
    readonly detail: string | null;
  } | null;
}

const COLUMNS = ['target', 'username', 'secret_type', 'reconcile_account', 'policy', 'secret'];
/** Written by `discover list -o csv` for the reviewer; read past. */
const IGNORED_COLUMNS = ['reasons'];
const REQUIRED_COLUMNS = ['target', 'username'];
/** A CSV of accounts bigger than this is the wrong file. */
const MAX_FILE_BYTES = 8 * 1024 * 1024;
/** The API's limits (src/http/schemas.ts), checked here so a bad row is found before any. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MAX_USERNAME = 128;
const MAX_SECRET = 8192;
const MAX_REF = 300;

const IMPORT_HELP = `
The file is CSV (RFC 4180) with a header row. Columns:
  target, username          required
  secret_type               password (default) or ssh-key
  reconcile_account         TARGET/USERNAME that sets the first secret (preferred)
  policy                    overrides --policy for the row
  secret                    the current secret; better left out: use a reconcile account
Every row is checked before anything changes; one bad row and nothing is onboarded. Accounts
that already exist are skipped, so the same file can be imported again.
Example:
  tessera discover list --unmanaged -o csv > found.csv    # review, then:
  tessera account import found.csv --safe prod --rotate-now`;

/** Adds `import` to the `account` command; called once the account command is registered. */
export function registerAccountImport(program: Command, io: Io): void {
  const account = program.commands.find((c) => c.name() === 'account');
  if (account === undefined) throw new Error('register the account command before its import');
  account
    .command('import')
    .description('onboard the accounts listed in a CSV file, optionally rotating each at once')
    .argument('<file>', 'the CSV file')
    .requiredOption('--safe <safe>', 'the safe to keep them in')
    .option('--policy <name>', 'the policy for rows that name none (default: default)')
    .option('--rotate-now', 'rotate each onboarded account (reconcile those without a secret)')
    .option('--dry-run', 'check the file and show what would happen; change nothing')
    .addHelpText('after', IMPORT_HELP)
    .action(async (file: string, options: ImportOptions, command: Command) => {
      await importAccounts(sessionOf(command, io), file, options);
    });
}

async function importAccounts(session: Session, file: string, options: ImportOptions) {
  const { text, mode } = await readCsvFile(session, file);
  const rows = checkRows(records(text), options);
  warnAboutSecrets(session, file, mode, rows);
  const existing = await preflight(session, rows, options);

  const toOnboard = rows.filter((r) => !existing.has(refKey(r)));
  if (options.dryRun === true) return printPlan(session, rows, existing);

  const results = rows.map(
    (r): RowResult => ({
      line: r.line,
      account: `${r.target}/${r.username}`,
      outcome: existing.has(refKey(r)) ? 'skipped' : 'failed',
      detail: existing.has(refKey(r)) ? 'already exists' : null,
      rotation: null,
    }),
  );
  const resultOf = (row: ImportRow) => results.find((r) => r.line === row.line) as RowResult;
  await onboardAll(session, toOnboard, options, resultOf);
  if (options.rotateNow === true) await rotateAll(session, toOnboard, resultOf);
  report(session, results, rows, options);
}

// ---------------------------------------------------------------------------------------------
// the file and its rows

async function readCsvFile(session: Session, file: string) {
  const full = path.resolve(session.cwd, file);
  const info = await stat(full).catch(() => null);
  if (info === null || !info.isFile()) throw usageError(`${clean(file)} is not a readable file`);
  if (info.size > MAX_FILE_BYTES) {
    throw usageError(`${clean(file)} is larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB`);
  }
  const bytes = await readFile(full);
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), mode: info.mode };
  } catch {
    throw new CliError('INVALID_FILE', `${clean(file)} is not UTF-8 text`);
  }
}

function records(text: string): CsvRecord[] {
  try {
    // A blank line carries nothing to onboard; it is passed over rather than refused.
    return parseCsv(text).filter((r) => !(r.fields.length === 1 && r.fields[0] === ''));
  } catch (error) {
    if (error instanceof CsvError) throw new CliError('INVALID_FILE', clean(error.message));
    throw error;
  }
}

/** Every row is checked; any problem in any row stops the import before a request is sent. */
function checkRows(all: readonly CsvRecord[], options: ImportOptions): ImportRow[] {
  const [header, ...body] = all;
  if (header === undefined) throw new CliError('INVALID_FILE', 'the file is empty');
  const columns = headerColumns(header);
  if (body.length === 0) throw new CliError('INVALID_FILE', 'the file has a header but no rows');

  const problems: Problem[] = [];
  const rows: ImportRow[] = [];
  const seen = new Map<string, number>();
  for (const record of body) {
    const checked = checkRow(record, columns, options);
    if (typeof checked === 'string') {
      problems.push({ line: record.line, message: checked });
      continue;
    }
    const earlier = seen.get(refKey(checked));
    if (earlier !== undefined) {
      problems.push({ line: record.line, message: `the same account as line ${earlier}` });
      continue;
    }
    seen.set(refKey(checked), record.line);
    rows.push(checked);
  }
  refuseIfAny(problems, body.length);
  return rows;
}

/** Where each known column sits, and how many fields every row must have. */
interface Header {
  readonly index: ReadonlyMap<string, number>;
  readonly width: number;
}

function headerColumns(header: CsvRecord): Header {
  const columns = new Map<string, number>();
  header.fields.forEach((raw, index) => {
    const name = raw.trim().toLowerCase();
    if (IGNORED_COLUMNS.includes(name)) return;
    if (!COLUMNS.includes(name)) {
      throw new CliError(
        'INVALID_FILE',
        `line ${header.line}: unknown column "${clean(raw)}"; columns: ${COLUMNS.join(', ')}`,
      );
    }
    if (columns.has(name)) {
      throw new CliError('INVALID_FILE', `line ${header.line}: column ${name} appears twice`);
    }
    columns.set(name, index);
  });
  const missing = REQUIRED_COLUMNS.filter((c) => !columns.has(c));
  if (missing.length > 0) {
    throw new CliError('INVALID_FILE', `the header lacks the column ${missing.join(' and ')}`);
  }
  return { index: columns, width: header.fields.length };
}

/** The row, or what is wrong with it (never quoting a secret). */
function checkRow(record: CsvRecord, header: Header, options: ImportOptions): ImportRow | string {
  if (record.fields.length !== header.width) {
    return `${record.fields.length} fields where the header has ${header.width}`;
  }
  const value = (column: string) => {
    const index = header.index.get(column);
    const text = index === undefined ? '' : (record.fields[index] ?? '');
    return text === '' ? undefined : text;
  };
  const target = value('target') ?? '';
  const username = value('username') ?? '';
  const problem =
    checkTarget(target) ??
    checkUsername(username) ??
    checkSecretType(value('secret_type')) ??
    checkPolicy(value('policy')) ??
    checkReconcile(value('reconcile_account'), target, username) ??
    checkSecret(value('secret'), value('reconcile_account'));
  if (problem !== undefined) return problem;

  return {
    line: record.line,
    target,
    username,
    secretType: value('secret_type') === 'ssh-key' ? 'ssh-key' : 'password',
    reconcileAccount: value('reconcile_account'),
    policy: value('policy') ?? options.policy,
    secret: value('secret'),
  };
}

function checkTarget(target: string): string | undefined {
  if (target === '') return 'no target';
  if (!NAME.test(target)) return `the target "${clean(target)}" is not a valid name`;
  return undefined;
}

function checkUsername(username: string): string | undefined {
  if (username === '') return 'no username';
  if ([...username].length > MAX_USERNAME) return `the username is over ${MAX_USERNAME} characters`;
  if (/[\0\r\n]/.test(username)) return 'the username holds a control character';
  if (username === '.' || username === '..') return `the username "${username}" cannot be used`;
  return undefined;
}

function checkSecretType(secretType: string | undefined): string | undefined {
  if (secretType === undefined || secretType === 'password' || secretType === 'ssh-key') {
    return undefined;
  }
  return `secret_type "${clean(secretType)}" is neither password nor ssh-key`;
}

function checkPolicy(policy: string | undefined): string | undefined {
  if (policy === undefined || NAME.test(policy)) return undefined;
  return `the policy "${clean(policy)}" is not a valid name`;
}

function checkReconcile(
  ref: string | undefined,
  target: string,
  username: string,
): string | undefined {
  if (ref === undefined) return undefined;
  const slash = ref.indexOf('/');
  if (slash <= 0 || slash === ref.length - 1 || ref.length > MAX_REF) {
    return `reconcile_account "${clean(ref)}" is not TARGET/USERNAME`;
  }
  if (ref.slice(0, slash) !== target) return 'the reconcile account must be on the same target';
  if (ref.slice(slash + 1) === username) return 'an account cannot be its own reconcile account';
  return undefined;
}

function checkSecret(secret: string | undefined, reconcile: string | undefined) {
  if (secret === undefined) {
    return reconcile === undefined
      ? 'give a reconcile_account to set the first secret (or, less safely, the secret)'
      : undefined;
  }
  if (secret.length > MAX_SECRET) return `the secret is over ${MAX_SECRET} characters`;
  if (secret.includes('\0')) return 'the secret holds a NUL character';
  return undefined;
}

function refuseIfAny(problems: readonly Problem[], total: number): void {
  if (problems.length === 0) return;
  throw new CliError(
    'INVALID_FILE',
    `${problems.length} of ${total} rows are invalid; nothing was changed`,
    { details: Object.fromEntries(problems.map((p) => [`line ${p.line}`, p.message])) },
  );
}

/** Secrets in a file outlive the import; a file others can read is worse. */
function warnAboutSecrets(
  session: Session,
  file: string,
  mode: number,
  rows: readonly ImportRow[],
) {
  const withSecret = rows.filter((r) => r.secret !== undefined).length;
  if (withSecret === 0) return;
  if ((mode & 0o077) !== 0) {
    printWarning(
      session,
      `${clean(file)} holds ${withSecret} secrets and others on this machine can read it: ` +
        'chmod 600 it, or better, leave the secrets out and name a reconcile_account',
    );
    return;
  }
  printNote(
    session,
    `${withSecret === 1 ? '1 row carries' : `${withSecret} rows carry`} a secret; prefer a reconcile_account, and delete the file after.`,
  );
}

// ---------------------------------------------------------------------------------------------
// checks against the server: read-only, before anything is written

/** Every name the rows use must exist; returns the accounts that already do (to skip). */
async function preflight(
  session: Session,
  rows: readonly ImportRow[],
  options: ImportOptions,
): Promise<Set<string>> {
  const api = session.api();
  await api.request('GET', `/v1/safes/${encodeURIComponent(options.safe)}`).catch((error) => {
    if (error instanceof CliError && error.code === 'NOT_FOUND') {
      throw new CliError('NOT_FOUND', `safe ${clean(options.safe)} not found; nothing was changed`);
    }
    throw error;
  });
  const { targets } = await api.request<{ targets: Target[] }>('GET', '/v1/targets');
  const { policies } = await api.request<{ policies: Policy[] }>('GET', '/v1/policies');
  const targetNames = new Set(targets.map((t) => t.name));
  const policyNames = new Set(policies.map((p) => p.name));

  const existing = new Set<string>();
  for (const target of new Set(rows.map((r) => r.target))) {
    if (!targetNames.has(target)) continue;
    const reply = await api.request<{ accounts: Account[] }>('GET', '/v1/accounts', {
      query: { target },
    });
    for (const a of reply.accounts) existing.add(refKey(a));
  }

  const problems = rows.flatMap((row) => {
    const problem = serverProblem(row, rows, { targetNames, policyNames, existing });
    return problem === undefined ? [] : [{ line: row.line, message: problem }];
  });
  refuseIfAny(problems, rows.length);
  return existing;
}

function serverProblem(
  row: ImportRow,
  rows: readonly ImportRow[],
  known: { targetNames: Set<string>; policyNames: Set<string>; existing: Set<string> },
): string | undefined {
  if (!known.targetNames.has(row.target)) return `target ${clean(row.target)} not found`;
  if (row.policy !== undefined && !known.policyNames.has(row.policy)) {
    return `policy ${clean(row.policy)} not found`;
  }
  if (row.reconcileAccount === undefined || known.existing.has(row.reconcileAccount)) {
    return undefined;
  }
  const inFile = rows.find((r) => `${r.target}/${r.username}` === row.reconcileAccount);
  if (inFile === undefined) return `reconcile account ${clean(row.reconcileAccount)} not found`;
  if (inFile.line > row.line) {
    return `its reconcile account is onboarded at line ${inFile.line}: move that row up`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// onboarding and rotation, one account at a time

async function onboardAll(
  session: Session,
  rows: readonly ImportRow[],
  options: ImportOptions,
  resultOf: (row: ImportRow) => RowResult,
) {
  const progress = startProgress(session, rows.length, 'Onboarding');
  try {
    for (const row of rows) {
      const result = resultOf(row);
      try {
        await onboard(session, row, options.safe);
        result.outcome = 'onboarded';
      } catch (error) {
        if (!(error instanceof CliError)) throw error;
        // Someone added it meanwhile, or it is in a safe this caller cannot see: not ours to do.
        result.outcome = error.code === 'ALREADY_EXISTS' ? 'skipped' : 'failed';
        result.detail = error.code === 'ALREADY_EXISTS' ? 'already exists' : errorText(error);
        if (error.code === 'UNREACHABLE' || error.code === 'UNAUTHENTICATED') throw error;
      }
      progress.tick(`${row.target}/${row.username}`);
    }
  } finally {
    progress.done();
  }
}

function onboard(session: Session, row: ImportRow, safe: string) {
  const body = {
    username: row.username,
    safe,
    secretType: row.secretType,
    ...(row.secret === undefined ? {} : { secret: row.secret }),
    ...(row.policy === undefined ? {} : { policy: row.policy }),
    ...(row.reconcileAccount === undefined ? {} : { reconcileAccount: row.reconcileAccount }),
  };
  const path = `/v1/targets/${encodeURIComponent(row.target)}/accounts`;
  return session.api().request<Account>('POST', path, { body });
}

/** An account onboarded with a secret is rotated; one without gets its first through reconcile. */
async function rotateAll(
  session: Session,
  rows: readonly ImportRow[],
  resultOf: (row: ImportRow) => RowResult,
) {
  const onboarded = rows.filter((r) => resultOf(r).outcome === 'onboarded');
  const progress = startProgress(session, onboarded.length, 'Rotating');
  try {
    for (const row of onboarded) {
      const ref: AccountRef = { target: row.target, username: row.username };
      const action = row.secret === undefined ? '/reconcile' : '/rotate';
      try {
        const reply = await session.api().request<RotateReply>('POST', accountPath(ref, action), {
          timeoutMs: ROTATE_TIMEOUT_MS,
        });
        resultOf(row).rotation = { ok: true, version: reply.version, detail: null };
      } catch (error) {
        if (!(error instanceof CliError)) throw error;
        resultOf(row).rotation = { ok: false, version: null, detail: errorText(error) };
      }
      progress.tick(refText(ref));
    }
  } finally {
    progress.done();
  }
}

function errorText(error: CliError): string {
  return `${error.code}: ${error.message}`;
}

// ---------------------------------------------------------------------------------------------
// what the person sees

function printPlan(session: Session, rows: readonly ImportRow[], existing: Set<string>) {
  const plan = rows.map((r) => ({
    line: r.line,
    account: `${r.target}/${r.username}`,
    action: existing.has(refKey(r)) ? 'skip: already exists' : 'onboard',
    firstSecret: r.secret === undefined ? 'through the reconcile account' : 'from the file',
  }));
  if (session.json) return printJson(session, { dryRun: true, rows: plan });
  const table = plan.map((p) => [String(p.line), p.account, p.action, p.firstSecret]);
  printTable(session, ['LINE', 'ACCOUNT', 'ACTION', 'FIRST SECRET'], table);
  const count = plan.filter((p) => p.action === 'onboard').length;
  printLine(session, `Dry run: the file is valid; ${count} would be onboarded. Nothing changed.`);
}

interface Totals {
  readonly onboarded: number;
  readonly skipped: number;
  readonly failed: number;
  readonly rotated: number;
  readonly rotationFailed: number;
}

function report(
  session: Session,
  results: readonly RowResult[],
  rows: readonly ImportRow[],
  options: ImportOptions,
) {
  const count = (outcome: Outcome) => results.filter((r) => r.outcome === outcome).length;
  const rotated = results.filter((r) => r.rotation?.ok === true).length;
  const rotationFailed = results.filter((r) => r.rotation?.ok === false).length;
  const totals: Totals = {
    onboarded: count('onboarded'),
    skipped: count('skipped'),
    failed: count('failed'),
    rotated,
    rotationFailed,
  };
  if (session.json) printJson(session, { rows: results, ...totals });
  else printReport(session, results, totals, rows, options);

  const failures = totals.failed + totals.rotationFailed;
  if (failures > 0) {
    throw new CliError('IMPORT_INCOMPLETE', `${failures} of ${results.length} rows failed`);
  }
}

function printReport(
  session: Session,
  results: readonly RowResult[],
  totals: Totals,
  rows: readonly ImportRow[],
  options: ImportOptions,
) {
  const notable = results.filter((r) => r.outcome !== 'onboarded' || r.rotation?.ok === false);
  const table = notable.map((r) => [
    String(r.line),
    r.account,
    r.rotation?.ok === false ? 'rotation failed' : r.outcome,
    r.rotation?.detail ?? r.detail ?? '-',
  ]);
  if (table.length > 0) printTable(session, ['LINE', 'ACCOUNT', 'RESULT', 'DETAIL'], table);
  const rotatedText =
    options.rotateNow === true
      ? `; rotated ${totals.rotated}, rotation failed ${totals.rotationFailed}`
      : '';
  printLine(
    session,
    `Onboarded ${totals.onboarded}, skipped ${totals.skipped}, failed ${totals.failed}${rotatedText}.`,
  );
  const waiting = rows.filter(
    (r) =>
      r.secret === undefined && results.some((x) => x.line === r.line && x.outcome === 'onboarded'),
  ).length;
  if (options.rotateNow !== true && waiting > 0) {
    printNote(
      session,
      `${waiting === 1 ? '1 account has' : `${waiting} accounts have`} no secret yet: the scheduler sets one through their reconcile ` +
        'account, or run tessera account reconcile TARGET/USERNAME now.',
    );
  }
  if (totals.rotationFailed > 0) {
    printWarning(session, 'retry a failed rotation with tessera account rotate (or reconcile)');
  }
}

function refKey(ref: { target: string; username: string }): string {
  return `${ref.target}/${ref.username}`;
}
