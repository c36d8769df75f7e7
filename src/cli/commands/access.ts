import { type Command, InvalidArgumentError } from 'commander';
import { WEEKDAYS } from '../../access/access-window.ts';
import { GRANTABLE_PERMISSIONS } from '../../access/permissions.ts';
import { accountPath, parseAccountRef, refText } from '../account-ref.ts';
import type { AccessPolicy, AccessPolicySettings, AccessWindow } from '../api-types.ts';
import { usageError } from '../cli-error.ts';
import { type Io, type Session, sessionOf } from '../context.ts';
import {
  formatDuration,
  formatTime,
  printFields,
  printJson,
  printLine,
  printNote,
} from '../output.ts';
import { integerBetween, listOf, parseDuration, parseDurationOrNone } from '../parse.ts';
import { approvalsOf, submitRequest } from './request.ts';

interface ScopeOptions {
  readonly safe?: string;
  readonly account?: string;
}

/** The flags of `access policy set`; each one given replaces that setting and nothing else. */
interface SetOptions extends ScopeOptions {
  readonly approvalFor?: string[];
  readonly approvals?: number;
  /** False for `--no-approver-group`. */
  readonly approverGroup?: string | false;
  readonly escalateAfter?: number | typeof NONE;
  readonly escalationGroup?: string;
  readonly requestTtl?: number;
  readonly requireReason?: boolean;
  readonly requireTicket?: boolean;
  readonly ticketPattern?: string | false;
  readonly ticketValidatorUrl?: string | false;
  readonly maxDuration?: number;
  readonly window?: AccessWindow | typeof NONE;
  readonly breakglassWindow?: number;
  readonly ephemeralReveal?: boolean;
}

interface EphemeralOptions {
  readonly role: string;
  readonly for: number;
  readonly reason?: string;
  readonly ticket?: string;
}

/** Where a policy is set: its API path and how to name it to people. */
interface PolicyScope {
  readonly kind: 'safe' | 'account';
  readonly path: string;
  readonly label: string;
}

/**
 * What `--escalate-after none` and `--window none` parse to: commander turns a parser's null
 * into an empty string, so "switched off" needs a value of its own until it reaches the body.
 */
const NONE = 'none';
const TIMES = /^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/;

const SET_HELP = `
Examples:
  tessera access policy set --safe prod --approval-for use,retrieve --approvals 2 \\
    --approver-group dba --escalate-after 30m --escalation-group dba-leads
  tessera access policy set --account db01/postgres --require-ticket --ticket-pattern 'INC-[0-9]+'
  tessera access policy set --safe prod --window 'mon-fri 08:00-19:00 Europe/Berlin'
  tessera access policy set --safe prod --window none --approval-for none
A new policy starts from the one in force now (for an account: its safe's, else the defaults)
and changes only what is named.`;

const EPHEMERAL_HELP = `
Example:
  tessera access ephemeral db01 --role readonly --for 1h --reason "INC-4411 check replication"
Once approved: tessera ephemeral credential GRANT_ID prints the account and its password, once.`;

export function registerAccess(program: Command, io: Io): void {
  const access = program
    .command('access')
    .description('just-in-time access: ephemeral accounts and access policies');

  access
    .command('ephemeral')
    .description('ask for an account made on a target for you alone, dropped when time is up')
    .argument('<target>', 'the target to make the account on')
    .requiredOption('--role <role>', 'the role the account gets, one the target offers')
    .requiredOption(
      '--for <duration>',
      'how long the account lives once given, e.g. 1h',
      parseDuration,
    )
    .option('--reason <text>', 'why you need it, for the approvers and the audit trail')
    .option('--ticket <ref>', 'the ticket the work belongs to')
    .addHelpText('after', EPHEMERAL_HELP)
    .action(async (target: string, options: EphemeralOptions, command: Command) => {
      await ephemeral(sessionOf(command, io), target, options);
    });

  const policy = access
    .command('policy')
    .description('what it takes to use a safe or an account: approvals, tickets, windows');
  const scoped = (name: string, summary: string) =>
    policy
      .command(name)
      .description(summary)
      .option('--safe <safe>', 'the policy of this safe')
      .option('--account <account>', 'the policy of this account, as TARGET/USERNAME');

  scoped('show', 'show the access policy in force, and where it was set').action(
    async (options: ScopeOptions, command: Command) => {
      const session = sessionOf(command, io);
      const scope = scopeOf(options);
      const found = await session.api().request<AccessPolicy>('GET', scope.path);
      if (session.json) return printJson(session, found);
      printPolicy(session, scope, found);
    },
  );

  addSetOptions(scoped('set', 'set an access policy, changing only the settings named'))
    .addHelpText('after', SET_HELP)
    .action(async (options: SetOptions, command: Command) => {
      await set(sessionOf(command, io), options);
    });

  scoped('remove', "remove an access policy: the safe's, or the defaults, apply again").action(
    async (options: ScopeOptions, command: Command) => {
      const session = sessionOf(command, io);
      const scope = scopeOf(options);
      await session.api().request('DELETE', scope.path);
      if (session.json) return printJson(session, {});
      const now = scope.kind === 'account' ? "its safe's policy applies" : 'the defaults apply';
      printLine(session, `Removed the access policy of ${scope.label}; ${now}.`);
    },
  );
}

function addSetOptions(command: Command): Command {
  return command
    .option(
      '--approval-for <list>',
      `what needs an approved request: ${GRANTABLE_PERMISSIONS.join(', ')}; none for nothing`,
      approvalFor,
    )
    .option(
      '--approvals <n>',
      'how many distinct people must approve (0-10)',
      integerBetween(0, 10),
    )
    .option('--approver-group <group>', 'only members of this group approve')
    .option('--no-approver-group', 'anyone with approve on the safe approves')
    .option(
      '--escalate-after <duration>',
      'a request unanswered this long goes to the escalation group too; none to stop',
      (text: string) => parseDurationOrNone(text) ?? NONE,
    )
    .option('--escalation-group <group>', 'who else may approve once a request escalated')
    .option(
      '--request-ttl <duration>',
      'an unanswered request expires after this long',
      parseDuration,
    )
    .option('--require-reason', 'a request must say why')
    .option('--no-require-reason', 'a request may leave the reason out')
    .option('--require-ticket', 'a request must name a ticket')
    .option('--no-require-ticket', 'a ticket is optional')
    .option('--ticket-pattern <regex>', 'a ticket must match this as a whole, e.g. INC-[0-9]+')
    .option('--no-ticket-pattern', 'any ticket reference will do')
    .option('--ticket-validator-url <url>', 'ask this ticketing endpoint whether a ticket is open')
    .option('--no-ticket-validator-url', 'ask no ticketing system')
    .option('--max-duration <duration>', 'the longest access a request may ask for', parseDuration)
    .option(
      '--window <window>',
      'when access is possible, e.g. "mon-fri 08:00-19:00 Europe/Berlin"; none for any time',
      parseWindow,
    )
    .option('--breakglass-window <duration>', 'how long a break-glass opening lasts', parseDuration)
    .option('--ephemeral-reveal', "show an ephemeral account's password to its requester")
    .option('--no-ephemeral-reveal', 'never show it: the account is used through the gateway');
}

async function ephemeral(session: Session, target: string, options: EphemeralOptions) {
  const created = await submitRequest(session, {
    ephemeral: { target, role: options.role },
    durationS: options.for,
    reason: options.reason ?? '',
    ...(options.ticket === undefined ? {} : { ticket: options.ticket }),
  });
  if (session.json) return printJson(session, created);

  if (created.status === 'approved' && created.grantId !== null) {
    printLine(session, `Request ${created.id} was approved at once: grant ${created.grantId}.`);
    printNote(session, 'The account and its password, shown once:');
    printNote(session, `  tessera ephemeral credential ${created.grantId}`);
    return;
  }
  printLine(
    session,
    `Request ${created.id} is ${created.status}: ${approvalsOf(created)} approvals so far.`,
  );
  printNote(session, `Once approved, tessera request show ${created.id} names the grant; then:`);
  printNote(session, '  tessera ephemeral credential GRANT_ID');
}

/**
 * The API replaces a whole policy, so the CLI reads the one in force and changes only what was
 * named. Two admins changing the same policy at once can still overwrite each other.
 */
async function set(session: Session, options: SetOptions): Promise<void> {
  const scope = scopeOf(options);
  const current = await session.api().request<AccessPolicy>('GET', scope.path);
  const changes = changedSettings(options);
  const ownPolicy = current.scope === scope.kind;
  if (ownPolicy && Object.keys(changes).length === 0) {
    throw usageError(`name at least one setting to change in the policy of ${scope.label}`);
  }
  const body: AccessPolicySettings = { ...settingsOf(current), ...changes };
  const saved = await session.api().request<AccessPolicy>('PUT', scope.path, { body });
  if (session.json) return printJson(session, saved);
  printLine(session, `${ownPolicy ? 'Updated' : 'Created'} the access policy of ${scope.label}:`);
  printPolicy(session, scope, saved);
}

function scopeOf(options: ScopeOptions): PolicyScope {
  if ((options.safe === undefined) === (options.account === undefined)) {
    throw usageError('name exactly one of --safe or --account');
  }
  if (options.safe !== undefined) {
    return {
      kind: 'safe',
      path: `/v1/safes/${encodeURIComponent(options.safe)}/access-policy`,
      label: `safe ${options.safe}`,
    };
  }
  const ref = parseAccountRef(options.account ?? '');
  return { kind: 'account', path: accountPath(ref, '/access-policy'), label: refText(ref) };
}

function settingsOf(p: AccessPolicy): AccessPolicySettings {
  return {
    approvalFor: p.approvalFor,
    approvalsRequired: p.approvalsRequired,
    approverGroup: p.approverGroup,
    escalateAfterS: p.escalateAfterS,
    escalationGroup: p.escalationGroup,
    requestTtlS: p.requestTtlS,
    requireReason: p.requireReason,
    requireTicket: p.requireTicket,
    ticketPattern: p.ticketPattern,
    ticketValidatorUrl: p.ticketValidatorUrl,
    maxDurationS: p.maxDurationS,
    window: p.window,
    breakglassWindowS: p.breakglassWindowS,
    ephemeralReveal: p.ephemeralReveal,
  };
}

function changedSettings(o: SetOptions): Partial<AccessPolicySettings> {
  const off = <T>(value: T | false | typeof NONE | undefined) =>
    value === false || value === NONE ? null : value;
  // Turning escalation off takes its group with it, unless a group is named too.
  const escalationGroup =
    o.escalateAfter === NONE && o.escalationGroup === undefined ? null : o.escalationGroup;
  return definedOnly({
    approvalFor: o.approvalFor,
    approvalsRequired: o.approvals,
    approverGroup: off(o.approverGroup),
    escalateAfterS: off(o.escalateAfter),
    escalationGroup,
    requestTtlS: o.requestTtl,
    requireReason: o.requireReason,
    requireTicket: o.requireTicket,
    ticketPattern: off(o.ticketPattern),
    ticketValidatorUrl: off(o.ticketValidatorUrl),
    maxDurationS: o.maxDuration,
    window: off(o.window),
    breakglassWindowS: o.breakglassWindow,
    ephemeralReveal: o.ephemeralReveal,
  });
}

/** Drops the settings not given; `null` (a setting switched off) is a value and stays. */
function definedOnly<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(values).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}

function approvalFor(text: string): string[] {
  return text.trim().toLowerCase() === 'none' ? [] : listOf(GRANTABLE_PERMISSIONS)(text);
}

/**
 * `DAYS START-END [ZONE]`: days as `mon-fri`, `sat,sun`, `fri-mon` or `daily`; times as HH:MM;
 * the zone an IANA name (UTC when none is named). `none` removes the window.
 */
export function parseWindow(text: string): AccessWindow | typeof NONE {
  const trimmed = text.trim();
  if (trimmed.toLowerCase() === NONE) return NONE;
  const [days = '', times = '', timeZone = 'UTC', ...rest] = trimmed.split(/\s+/);
  const match = TIMES.exec(times);
  if (match === null || rest.length > 0) {
    throw new InvalidArgumentError('use days, times and a zone, e.g. "mon-fri 08:00-19:00 UTC"');
  }
  // The server knows the zone database and refuses an unknown zone by name.
  return {
    days: parseDays(days),
    start: timeOfDay(match[1], match[2]),
    end: timeOfDay(match[3], match[4]),
    timeZone,
  };
}

function parseDays(text: string): string[] {
  const lower = text.toLowerCase();
  if (lower === 'daily') return [...WEEKDAYS];
  const picked = new Set<number>();
  for (const item of lower.split(',')) {
    const [from = '', to = from, extra] = item.split('-');
    const start = dayIndex(from);
    const end = dayIndex(to);
    if (extra !== undefined) throw dayError();
    // A range may run over the weekend: fri-mon is Friday to Monday.
    for (let day = start; ; day = (day + 1) % 7) {
      picked.add(day);
      if (day === end) break;
    }
  }
  return [...picked].sort((a, b) => a - b).map((day) => WEEKDAYS[day] ?? 'mon');
}

function dayIndex(name: string): number {
  const index = (WEEKDAYS as readonly string[]).indexOf(name);
  if (index < 0) throw dayError();
  return index;
}

function dayError(): InvalidArgumentError {
  return new InvalidArgumentError(
    `name days as ${WEEKDAYS.join(',')}, ranges such as mon-fri, or daily`,
  );
}

function timeOfDay(hours = '', minutes = ''): string {
  const h = Number(hours);
  const m = Number(minutes);
  if (h > 23 || m > 59) throw new InvalidArgumentError('a time of day runs from 00:00 to 23:59');
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
}

/** Days in week order, consecutive runs of three or more shortened: `mon-fri,sun`. */
function daysText(days: readonly string[]): string {
  if (days.length === WEEKDAYS.length) return 'daily';
  const indexes = days.map((d) => (WEEKDAYS as readonly string[]).indexOf(d)).sort((a, b) => a - b);
  const runs: number[][] = [];
  for (const day of indexes) {
    const last = runs.at(-1);
    if (last !== undefined && last.at(-1) === day - 1) last.push(day);
    else runs.push([day]);
  }
  const name = (day: number | undefined) => WEEKDAYS[day ?? 0] ?? '?';
  return runs
    .map((run) =>
      run.length >= 3 ? `${name(run[0])}-${name(run.at(-1))}` : run.map(name).join(','),
    )
    .join(',');
}

function printPolicy(session: Session, scope: PolicyScope, p: AccessPolicy): void {
  const escalationTo = p.escalationGroup === null ? 'nobody else' : `group ${p.escalationGroup}`;
  const escalation =
    p.escalateAfterS === null
      ? 'none'
      : `after ${formatDuration(p.escalateAfterS)} to ${escalationTo}`;
  const ticket = [
    p.requireTicket ? 'required' : 'optional',
    ...(p.ticketPattern === null ? [] : [`matching ${p.ticketPattern}`]),
    ...(p.ticketValidatorUrl === null ? [] : [`checked at ${p.ticketValidatorUrl}`]),
  ].join(', ');
  const window = p.window;
  printFields(session, [
    ['Policy', setAt(scope, p)],
    [
      'Needs approval',
      p.approvalFor.length === 0 ? 'nothing: standing access is enough' : p.approvalFor.join(', '),
    ],
    [
      'Approvals',
      `${p.approvalsRequired} distinct ${p.approvalsRequired === 1 ? 'person' : 'people'}`,
    ],
    [
      'Approvers',
      p.approverGroup === null ? 'anyone with approve on the safe' : `group ${p.approverGroup}`,
    ],
    ['Escalation', escalation],
    ['Requests expire', `after ${formatDuration(p.requestTtlS)} unanswered`],
    ['Reason', p.requireReason ? 'required' : 'optional'],
    ['Ticket', ticket],
    ['Longest access', formatDuration(p.maxDurationS)],
    [
      'Access window',
      window === null
        ? 'any time'
        : `${daysText(window.days)} ${window.start}-${window.end} ${window.timeZone}`,
    ],
    ['Break-glass window', formatDuration(p.breakglassWindowS)],
    ['Ephemeral password', p.ephemeralReveal ? 'shown once to the requester' : 'never shown'],
    ['Updated', p.updatedAt === null ? '-' : `${formatTime(p.updatedAt)} by ${p.updatedBy ?? '-'}`],
  ]);
}

function setAt(scope: PolicyScope, p: AccessPolicy): string {
  if (p.scope === scope.kind) return `set on ${scope.label}`;
  if (p.scope === 'safe') return "none on the account: its safe's policy applies";
  return 'none set: the defaults apply';
}
