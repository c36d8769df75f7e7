import type { Command } from 'commander';
import type { AuditEvent, AuditPage, ChainReport } from '../api-types.ts';
import { CliError, usageError } from '../cli-error.ts';
import { type Io, type Session, sessionOf } from '../context.ts';
import { formatTime, printJson, printLine, printNote, printTable } from '../output.ts';
import { integerBetween, parseTimeBack } from '../parse.ts';

interface ListOptions {
  readonly since?: string;
  readonly until?: string;
  readonly actor?: string;
  readonly action?: string;
  readonly object?: string;
  readonly limit: number;
  readonly all?: boolean;
}

/** Stops `--all` from paging forever if a server keeps answering with a `next`. */
const MAX_PAGES = 10_000;

export function registerAudit(program: Command, io: Io): void {
  const audit = program.command('audit').description('read and verify the audit trail');
  const time = parseTimeBack(io.now());

  audit
    .command('list')
    .description('list audit events, oldest first')
    .option('--since <time>', 'from this time: a duration back from now (1h, 7d) or ISO 8601', time)
    .option('--until <time>', 'before this time: a duration back from now or ISO 8601', time)
    .option('--actor <user>', 'only events by this user')
    .option(
      '--action <prefix>',
      'only actions starting with this, e.g. secret. or account.checkout',
    )
    .option('--object <name>', 'only events about this object, by name (db1/app) or id (a session)')
    .option('--limit <n>', 'events per page (1-1000)', integerBetween(1, 1000), 100)
    .option('--all', 'follow the pages to the last event')
    .action(async (options: ListOptions, command: Command) => {
      await list(sessionOf(command, io), options);
    });

  audit
    .command('verify')
    .description('check the hash chain and signed checkpoints; exits 1 naming the first bad event')
    .option(
      '--anchor <seq:hash>',
      'a checkpoint recorded outside Tessera (the server logs each one): proves nothing up to ' +
        'it was cut or rewritten; repeatable',
      collectAnchor,
      [],
    )
    .action(async (options: { anchor: Anchor[] }, command: Command) => {
      await verify(sessionOf(command, io), options.anchor);
    });
}

async function list(session: Session, options: ListOptions) {
  const events: AuditEvent[] = [];
  let after: number | undefined;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const reply = await session.api().request<AuditPage>('GET', '/v1/audit/events', {
      query: { ...filterOf(options), after },
    });
    events.push(...reply.events);
    if (options.all !== true || reply.next === null) {
      return printEvents(session, { events, next: options.all === true ? null : reply.next });
    }
    after = reply.next;
  }
  throw new CliError('TOO_MANY_PAGES', `stopped after ${MAX_PAGES} pages: narrow the query`);
}

function filterOf(options: ListOptions) {
  const { since, until, actor, action, object, limit } = options;
  return { since, until, actor, action, object, limit };
}

function printEvents(session: Session, page: AuditPage) {
  if (session.json) return printJson(session, page);
  const rows = page.events.map((e) => [
    String(e.seq),
    formatTime(e.at),
    e.actor ?? '-',
    e.action,
    e.object ?? '-',
    e.outcome,
    e.reason ?? '',
  ]);
  const headers = ['SEQ', 'TIME', 'ACTOR', 'ACTION', 'OBJECT', 'OUTCOME', 'REASON'];
  printTable(session, headers, rows, 'No events.');
  if (page.next !== null) printNote(session, '(more events: add --all, or narrow with --since)');
}

interface Anchor {
  readonly seq: number;
  readonly hash: string;
}

function collectAnchor(value: string, previous: Anchor[]): Anchor[] {
  const match = /^(\d{1,15}):([0-9a-f]{64})$/.exec(value.trim());
  if (match === null) throw usageError('--anchor takes SEQ:HASH, e.g. 1200:3f9a… (64 hex digits)');
  return [...previous, { seq: Number(match[1]), hash: match[2] ?? '' }];
}

async function verify(session: Session, anchors: readonly Anchor[]) {
  const report = await session
    .api()
    .request<ChainReport>('POST', '/v1/audit/verify', { body: { anchors } });
  if (session.json) printJson(session, report);
  else if (report.ok) {
    const summary = `${report.events} events, ${report.checkpoints} signed checkpoints`;
    printLine(session, `Audit trail intact: ${summary}, last seq ${report.lastSeq}.`);
    const last = report.lastCheckpoint;
    if (last !== null) {
      printNote(
        session,
        `Newest checkpoint ${last.seq}:${last.hash}; compare it with the server log.`,
      );
    }
    if (report.unsigned > 0)
      printNote(session, `${report.unsigned} newest events are not signed yet.`);
  }
  if (report.ok) return;
  const bad = report.firstBad;
  const where = bad === null ? 'an unnamed event' : `event seq ${bad.seq}: ${bad.problem}`;
  throw new CliError('AUDIT_CHAIN_BROKEN', `the audit trail fails verification at ${where}`);
}
