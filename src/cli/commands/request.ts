import { type Command, Option } from 'commander';
import { GRANTABLE_PERMISSIONS } from '../../access/permissions.ts';
import { parseAccountRef } from '../account-ref.ts';
import type { AccessRequest } from '../api-types.ts';
import { usageError } from '../cli-error.ts';
import { type Io, type Session, sessionOf } from '../context.ts';
import {
  clean,
  formatDuration,
  formatTime,
  formatWhen,
  printFields,
  printJson,
  printLine,
  printNote,
  printTable,
} from '../output.ts';
import { listOf, parseDuration } from '../parse.ts';

interface CreateOptions {
  readonly account?: string;
  readonly safe?: string;
  readonly for: number;
  readonly reason?: string;
  readonly ticket?: string;
  readonly permissions?: string[];
}

interface ListOptions {
  readonly mine?: boolean;
  readonly pendingForMe?: boolean;
  readonly status?: string;
}

const STATUSES = ['pending', 'approved', 'denied', 'cancelled', 'expired'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const CREATE_HELP = `
Examples:
  tessera request create --account db01/postgres --for 2h --reason "INC-4411 disk full" \\
    --ticket INC-4411 --permissions use,retrieve
  tessera request create --safe prod-linux --permissions use --for 8h --reason "patch night"
Without --permissions, you ask for what the policy puts behind an approval (else use).`;

const LIST_HELP = `
Examples:
  tessera request list --pending-for-me    # the requests you may answer now
  tessera request list --mine --status approved`;

export function registerRequest(program: Command, io: Io): void {
  const request = program
    .command('request')
    .description('just-in-time access: ask for time-bound access, answer requests');
  const byId =
    (action: (s: Session, id: string) => Promise<void>) =>
    async (id: string, _options: unknown, command: Command) =>
      action(sessionOf(command, io), entityId(id, 'request'));

  request
    .command('create')
    .description('ask for access to an account or a whole safe, for a time')
    .option('--account <account>', 'the account, as TARGET/USERNAME')
    .option('--safe <safe>', 'every account of the safe')
    .requiredOption(
      '--for <duration>',
      'how long the access lasts once given, e.g. 2h',
      parseDuration,
    )
    .option('--reason <text>', 'why you need it, for the approvers and the audit trail')
    .option('--ticket <ref>', 'the ticket the work belongs to, e.g. INC-4411')
    .option(
      '--permissions <list>',
      `what to be given, comma-separated: ${GRANTABLE_PERMISSIONS.join(', ')}`,
      listOf(GRANTABLE_PERMISSIONS),
    )
    .addHelpText('after', CREATE_HELP)
    .action(async (options: CreateOptions, command: Command) => {
      await create(sessionOf(command, io), options);
    });

  request
    .command('list')
    .description('list requests: your own, those you may answer, or (admins, auditors) all')
    .option('--mine', 'only the requests you made')
    .option('--pending-for-me', 'only the pending requests you may answer: your queue')
    .addOption(new Option('--status <status>', 'only those in this state').choices(STATUSES))
    .addHelpText('after', LIST_HELP)
    .action(async (options: ListOptions, command: Command) => {
      await list(sessionOf(command, io), options);
    });

  request
    .command('show')
    .description('show a request and its answers')
    .argument('<id>', 'the request ID')
    .action(byId(show));

  request
    .command('approve')
    .description('approve a request; it is granted once enough distinct people approved')
    .argument('<id>', 'the request ID')
    .option('--comment <text>', 'a note for the requester and the audit trail')
    .action(async (id: string, options: { comment?: string }, command: Command) => {
      const body = { comment: options.comment ?? '' };
      await answer(sessionOf(command, io), entityId(id, 'request'), 'approve', body);
    });

  request
    .command('deny')
    .description('deny a request: one denial ends it')
    .argument('<id>', 'the request ID')
    .requiredOption('--reason <text>', 'why, for the requester and the audit trail')
    .action(async (id: string, options: { reason: string }, command: Command) => {
      const body = { reason: options.reason };
      await answer(sessionOf(command, io), entityId(id, 'request'), 'deny', body);
    });

  request
    .command('cancel')
    .description('withdraw a request of yours that is still pending')
    .argument('<id>', 'the request ID')
    .action(byId((session, id) => answer(session, id, 'cancel', undefined)));
}

async function create(session: Session, options: CreateOptions): Promise<void> {
  if ((options.account === undefined) === (options.safe === undefined)) {
    throw usageError('name exactly one of --account or --safe');
  }
  if (options.account !== undefined) parseAccountRef(options.account);
  const body = {
    ...(options.account === undefined ? {} : { account: options.account }),
    ...(options.safe === undefined ? {} : { safe: options.safe }),
    ...(options.permissions === undefined ? {} : { permissions: options.permissions }),
    durationS: options.for,
    reason: options.reason ?? '',
    ...(options.ticket === undefined ? {} : { ticket: options.ticket }),
  };
  const created = await submitRequest(session, body);
  if (session.json) return printJson(session, created);
  printCreated(session, created);
}

/** Sends a new request; `access ephemeral` asks through here too. */
export function submitRequest(session: Session, body: object): Promise<AccessRequest> {
  return session.api().request<AccessRequest>('POST', '/v1/requests', { body });
}

function printCreated(session: Session, created: AccessRequest): void {
  if (created.status === 'approved') {
    printLine(session, `Request ${created.id} was approved at once: ${whatOf(created)}.`);
    if (created.grantId !== null) printNote(session, `Grant: ${created.grantId}`);
    return;
  }
  printLine(
    session,
    `Request ${created.id} is ${created.status}: ${approvalsOf(created)} approvals so far.`,
  );
  printNote(session, `Follow it with: tessera request show ${created.id}`);
}

async function list(session: Session, options: ListOptions): Promise<void> {
  if (options.mine === true && options.pendingForMe === true) {
    throw usageError('give --mine or --pending-for-me, not both');
  }
  const query = {
    mine: options.mine === true ? 'true' : undefined,
    pendingForMe: options.pendingForMe === true ? 'true' : undefined,
    status: options.status,
  };
  const reply = await session
    .api()
    .request<{ requests: AccessRequest[] }>('GET', '/v1/requests', { query });
  if (session.json) return printJson(session, reply);

  const now = session.now();
  const queue = options.pendingForMe === true;
  const rows = reply.requests.map((r) => [
    r.id,
    r.requester,
    whatOf(r),
    ...(queue ? [] : [r.status]),
    approvalsOf(r),
    formatDuration(r.durationS),
    formatDuration((now - Date.parse(r.createdAt)) / 1000),
    r.ticket ?? '-',
    r.reason === '' ? '-' : r.reason,
  ]);
  const headers = [
    'ID',
    'REQUESTER',
    'WHAT',
    ...(queue ? [] : ['STATUS']),
    'APPROVALS',
    'FOR',
    'AGE',
    'TICKET',
    'WHY',
  ];
  printTable(session, headers, rows, queue ? 'Nothing waits for you.' : 'No requests.');
}

async function show(session: Session, id: string): Promise<void> {
  const found = await session.api().request<AccessRequest>('GET', `/v1/requests/${id}`);
  if (session.json) return printJson(session, found);
  printRequest(session, found);
}

/** Approve, deny or cancel: each answers with the request as it now stands. */
async function answer(
  session: Session,
  id: string,
  verb: 'approve' | 'deny' | 'cancel',
  body: object | undefined,
): Promise<void> {
  const path = `/v1/requests/${id}/${verb}`;
  const changed = await session
    .api()
    .request<AccessRequest>('POST', path, body === undefined ? {} : { body });
  if (session.json) return printJson(session, changed);
  printLine(session, answerText(changed, verb));
}

function answerText(r: AccessRequest, verb: 'approve' | 'deny' | 'cancel'): string {
  if (verb === 'deny') return `Denied request ${r.id} of ${r.requester}.`;
  if (verb === 'cancel') return `Cancelled request ${r.id}.`;
  if (r.status === 'approved') {
    const grant = r.grantId === null ? 'access' : `grant ${r.grantId}`;
    const done = `Approved request ${r.id} (${approvalsOf(r)})`;
    return `${done}: ${grant} for ${r.requester}, ${whatOf(r)}.`;
  }
  const missing = r.approvalsRequired - approvalCount(r);
  return `Approved request ${r.id}: ${approvalsOf(r)}, waiting for ${missing} more.`;
}

/** Every field of a request, then its answers. */
export function printRequest(session: Session, r: AccessRequest): void {
  const now = session.now();
  const fields: Array<readonly [string, string]> = [
    ['ID', r.id],
    ['Status', r.status === 'pending' ? `pending, ${approvalsOf(r)} approvals` : r.status],
    ['Requester', r.requester],
    ['Access', whatOf(r)],
    ['Safe', r.safe],
    ['Duration', formatDuration(r.durationS)],
    ['Reason', r.reason === '' ? '-' : r.reason],
    ['Ticket', r.ticket ?? '-'],
    ['Asked', formatWhen(r.createdAt, now)],
  ];
  if (r.status === 'pending') fields.push(['Expires', formatWhen(r.expiresAt, now)]);
  if (r.escalatedAt !== null) fields.push(['Escalated', formatTime(r.escalatedAt)]);
  if (r.decidedAt !== null) {
    const by = r.decidedBy === null ? '' : ` by ${r.decidedBy}`;
    fields.push(['Decided', `${formatTime(r.decidedAt)}${by}`]);
  }
  if (r.comment !== null && r.comment !== '') fields.push(['Comment', r.comment]);
  if (r.grantId !== null) fields.push(['Grant', r.grantId]);
  printFields(session, fields);
  if (r.approvals.length === 0) return;
  printLine(session, '');
  const rows = r.approvals.map((a) => [
    a.approver,
    a.decision,
    formatTime(a.at),
    a.comment === '' ? '-' : a.comment,
  ]);
  printTable(session, ['APPROVER', 'ANSWER', 'AT', 'COMMENT'], rows);
}

/** What a request asks for, in a few words: `db01/postgres: use,retrieve`. */
export function whatOf(r: AccessRequest): string {
  if (r.scope === 'ephemeral') return `ephemeral account on ${r.target ?? '?'} as ${r.role ?? '?'}`;
  const where = r.scope === 'safe' ? `safe ${r.safe}` : (r.account ?? '?');
  return `${where}: ${r.permissions.join(',')}`;
}

/** `1/2`: the distinct people who approved, of those needed. */
export function approvalsOf(r: AccessRequest): string {
  return `${approvalCount(r)}/${r.approvalsRequired}`;
}

function approvalCount(r: AccessRequest): number {
  return r.approvals.filter((a) => a.decision === 'approve').length;
}

/** A request, grant or break-glass ID as the API names them; anything else is a typo. */
export function entityId(text: string, what: string): string {
  const trimmed = text.trim();
  if (!UUID.test(trimmed)) throw usageError(`"${clean(text)}" is not a ${what} ID`);
  return trimmed.toLowerCase();
}
