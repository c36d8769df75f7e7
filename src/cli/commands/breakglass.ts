import { type Command, Option } from 'commander';
import { type AccountRef, accountPath, parseAccountRef, refText } from '../account-ref.ts';
import type { BreakglassEvent, BreakglassReport } from '../api-types.ts';
import { CliError, usageError } from '../cli-error.ts';
import { type Io, type Session, sessionOf } from '../context.ts';
import { formatCsv } from '../csv.ts';
import { promptHidden, readValueFromStdin } from '../input.ts';
import {
  formatTime,
  formatWhen,
  printFields,
  printJson,
  printLine,
  printNote,
  printTable,
  yesNo,
} from '../output.ts';
import { parseTimeBack } from '../parse.ts';
import { entityId } from './request.ts';

interface OpenOptions {
  readonly reason: string;
  readonly code?: string;
  readonly codeStdin?: boolean;
}

interface ReportOptions {
  readonly from?: string;
  readonly to?: string;
}

const OUTCOMES = ['justified', 'unjustified', 'follow-up'];
const CODE = /^\d{6}$/;
/** What a spreadsheet reads as a formula when a cell starts with it. */
const FORMULA_START = /^[=+\-@\t\r]/;

const REPORT_COLUMNS = [
  'id',
  'opened_at',
  'ends_at',
  'closed_at',
  'account',
  'user',
  'reason',
  'second_factor',
  'sessions',
  'rotation_requested_at',
  'review_state',
  'outcome',
  'reviewed_by',
  'reviewed_at',
  'review_notes',
] as const;

const OPEN_HELP = `
Opens the account now, without an approver, for the window its access policy sets. Every alert
channel is told at once, the secret is rotated when the window closes, and an auditor reviews
the opening. With a second factor enrolled you need a code: --code, --code-stdin, or a prompt.
Example:
  tessera breakglass open db01/postgres --reason "INC-4411 primary down, on-call alone"`;

const REPORT_HELP = `
Examples:
  tessera report breakglass --from 2026-11-01 --to 2026-12-01
  tessera report breakglass --from 30d -o csv > breakglass.csv`;

export function registerBreakglass(program: Command, io: Io): void {
  const breakglass = program
    .command('breakglass')
    .description('emergency access without an approver: mark accounts, open, review');
  const byId =
    (action: (s: Session, id: string) => Promise<void>) =>
    async (id: string, _options: unknown, command: Command) =>
      action(sessionOf(command, io), entityId(id, 'break-glass'));

  breakglass
    .command('mark')
    .description('allow break-glass on an account, or (--off) no longer (admins)')
    .argument('<account>', 'TARGET/USERNAME')
    .option('--off', 'remove the mark')
    .action(async (ref: string, options: { off?: boolean }, command: Command) => {
      await mark(sessionOf(command, io), parseAccountRef(ref), options.off !== true);
    });

  breakglass
    .command('open')
    .description('open emergency access to a marked account now')
    .argument('<account>', 'TARGET/USERNAME')
    .requiredOption('--reason <text>', 'the emergency, for the alert, the audit trail and review')
    .option('--code <code>', 'the six-digit code of your second factor')
    .option('--code-stdin', 'read the code from stdin')
    .addHelpText('after', OPEN_HELP)
    .action(async (ref: string, options: OpenOptions, command: Command) => {
      await open(sessionOf(command, io), parseAccountRef(ref), options);
    });

  breakglass
    .command('list')
    .description('list break-glass openings, newest first (admins, auditors)')
    .option('--open', 'only those not reviewed yet')
    .action(async (options: { open?: boolean }, command: Command) => {
      await list(sessionOf(command, io), options.open === true);
    });

  breakglass
    .command('show')
    .description('show a break-glass opening and its review')
    .argument('<id>', 'the break-glass ID')
    .action(byId(show));

  breakglass
    .command('review')
    .description('close the review of an opening with its outcome (auditors)')
    .argument('<id>', 'the break-glass ID')
    .addOption(
      new Option('--outcome <outcome>', 'what the review found')
        .choices(OUTCOMES)
        .makeOptionMandatory(),
    )
    .requiredOption('--notes <text>', 'what was checked and found')
    .action(async (id: string, options: { outcome: string; notes: string }, command: Command) => {
      await review(sessionOf(command, io), entityId(id, 'break-glass'), options);
    });
}

/** `tessera report breakglass`: a period's openings as a table, JSON or CSV. */
export function registerReport(program: Command, io: Io): void {
  const report = program.command('report').description('reports for audits (admins, auditors)');
  const time = parseTimeBack(io.now());

  report
    .command('breakglass')
    .description('every break-glass opening in a period, with its review and sessions')
    .option(
      '--from <time>',
      'openings from this time: a date, an ISO time, or back from now (30d)',
      time,
    )
    .option('--to <time>', 'openings before this time', time)
    .addHelpText('after', REPORT_HELP)
    .action(async (options: ReportOptions, command: Command) => {
      const csv = command.optsWithGlobals<{ output?: string }>().output === 'csv';
      await breakglassReport(sessionOf(command, io), options, csv);
    });
}

async function mark(session: Session, ref: AccountRef, enabled: boolean): Promise<void> {
  const body = { enabled };
  const reply = await session
    .api()
    .request<{ account: string; enabled: boolean }>('PUT', accountPath(ref, '/breakglass'), {
      body,
    });
  if (session.json) return printJson(session, reply);
  printLine(
    session,
    reply.enabled
      ? `${refText(ref)} is marked for break-glass: its safe's members may open it in an emergency.`
      : `${refText(ref)} is no longer marked for break-glass.`,
  );
}

/**
 * Sends the code given, or none; when the server asks for one and a person is at the terminal,
 * asks them and sends again. Without a terminal (or with --no-input) it says how to give one.
 */
async function open(session: Session, ref: AccountRef, options: OpenOptions): Promise<void> {
  let code = await givenCode(session, options);
  let opened: BreakglassEvent;
  try {
    opened = await sendOpen(session, ref, options.reason, code);
  } catch (error) {
    if (!(error instanceof CliError) || error.code !== 'MFA_REQUIRED' || code !== undefined) {
      throw error;
    }
    if (!session.interactive) {
      throw new CliError('MFA_REQUIRED', `${error.message}: give it with --code or --code-stdin`, {
        ...(error.requestId === undefined ? {} : { requestId: error.requestId }),
      });
    }
    code = checkedCode(await promptHidden(session, 'Code from your second factor:'));
    opened = await sendOpen(session, ref, options.reason, code);
  }
  if (session.json) return printJson(session, opened);
  const until = formatWhen(opened.endsAt, session.now());
  printLine(session, `Break-glass ${opened.id} open on ${opened.account} until ${until}.`);
  printNote(session, 'Every alert channel was told. The secret is rotated when the window closes,');
  printNote(session, 'and an auditor reviews this opening. Use the account now, e.g.:');
  printNote(session, `  tessera secret show ${refText(ref)} --reason "..."`);
}

async function givenCode(session: Session, options: OpenOptions): Promise<string | undefined> {
  if (options.code !== undefined && options.codeStdin === true) {
    throw usageError('give the code with --code or --code-stdin, not both');
  }
  if (options.code !== undefined) return checkedCode(options.code);
  if (options.codeStdin === true) return checkedCode(await readValueFromStdin(session, 'code'));
  return undefined;
}

function checkedCode(text: string): string {
  const trimmed = text.trim();
  if (!CODE.test(trimmed)) throw usageError('the code is the six digits your app shows');
  return trimmed;
}

function sendOpen(session: Session, ref: AccountRef, reason: string, code: string | undefined) {
  const body = { reason, ...(code === undefined ? {} : { code }) };
  return session.api().request<BreakglassEvent>('POST', accountPath(ref, '/breakglass'), { body });
}

async function list(session: Session, unreviewedOnly: boolean): Promise<void> {
  const query = { open: unreviewedOnly ? 'true' : undefined };
  const reply = await session
    .api()
    .request<{ events: BreakglassEvent[] }>('GET', '/v1/breakglass', { query });
  if (session.json) return printJson(session, reply);
  printEvents(session, reply.events, unreviewedOnly ? 'Nothing to review.' : 'No openings.');
}

function printEvents(session: Session, events: readonly BreakglassEvent[], empty: string): void {
  const rows = events.map((e) => [
    e.id,
    formatTime(e.openedAt),
    e.account,
    e.user,
    windowOf(e, session.now()),
    String(e.sessions),
    reviewOf(e),
    e.reason,
  ]);
  const headers = ['ID', 'OPENED', 'ACCOUNT', 'USER', 'WINDOW', 'SESSIONS', 'REVIEW', 'REASON'];
  printTable(session, headers, rows, empty);
}

async function show(session: Session, id: string): Promise<void> {
  const found = await session.api().request<BreakglassEvent>('GET', `/v1/breakglass/${id}`);
  if (session.json) return printJson(session, found);
  printEvent(session, found);
}

async function review(session: Session, id: string, body: { outcome: string; notes: string }) {
  const path = `/v1/breakglass/${id}/review`;
  const reviewed = await session.api().request<BreakglassEvent>('POST', path, { body });
  if (session.json) return printJson(session, reviewed);
  printLine(session, `Reviewed break-glass ${reviewed.id}: ${reviewed.outcome ?? '-'}.`);
}

function printEvent(session: Session, e: BreakglassEvent): void {
  const now = session.now();
  printFields(session, [
    ['ID', e.id],
    ['Account', e.account],
    ['User', e.user],
    ['Reason', e.reason],
    ['Second factor', yesNo(e.secondFactor)],
    ['Opened', formatTime(e.openedAt)],
    ['Window', windowOf(e, now)],
    ['Rotation asked', formatTime(e.rotationRequestedAt)],
    ['Sessions', String(e.sessions)],
    ['Grant', e.grantId],
    ['Review', reviewOf(e)],
    [
      'Reviewed',
      e.reviewedAt === null ? '-' : `${formatTime(e.reviewedAt)} by ${e.reviewedBy ?? '-'}`,
    ],
    ['Review notes', e.reviewNotes ?? '-'],
  ]);
}

/** `open until ... (in 42m)` while it lasts, else when it closed. */
function windowOf(e: BreakglassEvent, now: number): string {
  if (e.closedAt !== null) return `closed ${formatTime(e.closedAt)}`;
  if (Date.parse(e.endsAt) > now) return `open until ${formatWhen(e.endsAt, now)}`;
  return `ended ${formatTime(e.endsAt)}`;
}

function reviewOf(e: BreakglassEvent): string {
  if (e.reviewState === 'open') return 'to review';
  return `${e.outcome ?? 'closed'}${e.reviewedBy === null ? '' : ` (${e.reviewedBy})`}`;
}

async function breakglassReport(session: Session, options: ReportOptions, csv: boolean) {
  const query = { from: options.from, to: options.to };
  const reply = await session
    .api()
    .request<BreakglassReport>('GET', '/v1/reports/breakglass', { query });
  if (session.json) return printJson(session, reply);
  if (csv) {
    const rows = reply.events.map(csvRow).map((row) => row.map(spreadsheetSafe));
    session.stdout.write(formatCsv([[...REPORT_COLUMNS], ...rows]));
    return;
  }
  const from = reply.from === null ? 'the start' : formatTime(reply.from);
  const to = reply.to === null ? 'now' : formatTime(reply.to);
  printLine(session, `Break-glass openings from ${from} to ${to}:`);
  printEvents(session, reply.events, 'None.');
  printLine(session, '');
  const openings = reply.total === 1 ? 'opening' : 'openings';
  printLine(session, `${reply.total} ${openings}, ${reply.unreviewed} not reviewed yet.`);
}

function csvRow(e: BreakglassEvent): string[] {
  return [
    e.id,
    e.openedAt,
    e.endsAt,
    e.closedAt ?? '',
    e.account,
    e.user,
    e.reason,
    String(e.secondFactor),
    String(e.sessions),
    e.rotationRequestedAt ?? '',
    e.reviewState,
    e.outcome ?? '',
    e.reviewedBy ?? '',
    e.reviewedAt ?? '',
    e.reviewNotes ?? '',
  ];
}

/**
 * A cell a spreadsheet would run as a formula (`=HYPERLINK(...)` typed as a reason) is prefixed
 * with a quote, so it opens as the text it is.
 */
export function spreadsheetSafe(cell: string): string {
  return FORMULA_START.test(cell) ? `'${cell}` : cell;
}
