import { setTimeout as sleep } from 'node:timers/promises';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import type { RotationRun, RotationRunStarted, RotationStatusReply } from '../api-types.ts';
import { CliError, usageError } from '../cli-error.ts';
import { type Io, type Session, sessionOf } from '../context.ts';
import {
  clean,
  formatTime,
  printFields,
  printJson,
  printLine,
  printNote,
  printTable,
  relativeTime,
} from '../output.ts';

interface RunOptions {
  readonly target?: string;
  readonly safe?: string;
  readonly all?: boolean;
}

interface StatusOptions {
  readonly safe?: string;
  readonly target?: string;
  readonly failing?: boolean;
}

/** How often `rotation run` asks how far the run got. */
const POLL_MS = 1_000;
const HEALTH_BAR_WIDTH = 40;

const RUN_HELP = `
Examples:
  tessera rotation run --safe prod        # needs manage in the safe
  tessera rotation run --target db1       # admins
  tessera rotation run --all -o json      # admins; the run's final state as JSON
The run goes on on the server if this command is interrupted: tessera rotation show RUN_ID`;

export function registerRotation(program: Command, io: Io): void {
  const rotation = program
    .command('rotation')
    .description('rotation: bulk runs over many accounts, and rotation health');

  rotation
    .command('run')
    .description('rotate every account of a target, of a safe, or all; exits 1 when any failed')
    .option('--target <target>', 'the accounts on this target')
    .option('--safe <safe>', 'the accounts in this safe')
    .option('--all', 'every account')
    .addHelpText('after', RUN_HELP)
    .action(async (options: RunOptions, command: Command) => {
      await run(sessionOf(command, io), options);
    });

  rotation
    .command('show')
    .description('show a bulk run: its progress and the accounts that failed')
    .argument('<run>', 'the run id printed by rotation run')
    .action(async (id: string, _options: unknown, command: Command) => {
      const session = sessionOf(command, io);
      const found = await session.api().request<RotationRun>('GET', runPath(id));
      if (session.json) return printJson(session, found);
      printRun(session, found);
    });

  rotation
    .command('status')
    .description('rotation health of the accounts you may see')
    .option('--safe <safe>', 'only those in this safe')
    .option('--target <target>', 'only those on this target')
    .option('--failing', 'only those whose rotation or verify is failing')
    .action(async (options: StatusOptions, command: Command) => {
      await status(sessionOf(command, io), options);
    });
}

async function run(session: Session, options: RunOptions) {
  const body = scopeOf(options);
  const api = session.api();
  const started = await api.request<RotationRunStarted>('POST', '/v1/rotation/runs', { body });
  if (!session.json) printNote(session, `Run ${started.id}: ${started.total} accounts.`);

  const bar = progressBar(session, started.total);
  let current: RotationRun;
  try {
    for (;;) {
      current = await api.request<RotationRun>('GET', runPath(started.id));
      bar?.update(current.succeeded + current.failed);
      if (current.state !== 'running') break;
      await sleep(POLL_MS);
    }
  } finally {
    bar?.stop();
  }

  if (session.json) printJson(session, current);
  else printRun(session, current);
  if (current.failed > 0) {
    throw new CliError('ROTATION_FAILED', `${current.failed} of ${current.total} rotations failed`);
  }
  if (current.state === 'failed') throw new CliError('ROTATION_FAILED', 'the run did not finish');
}

function scopeOf(options: RunOptions) {
  const given = [options.target, options.safe, options.all].filter((v) => v !== undefined);
  if (given.length !== 1) throw usageError('name exactly one of --target, --safe or --all');
  if (options.target !== undefined) return { target: options.target };
  if (options.safe !== undefined) return { safe: options.safe };
  return { all: true };
}

/** A bar on stderr for people watching a terminal; nothing under `-o json` or in a pipe. */
function progressBar(session: Session, total: number): cliProgress.SingleBar | null {
  const terminal = (session.stderr as { isTTY?: boolean }).isTTY === true;
  if (session.json || !terminal || total === 0) return null;
  const bar = new cliProgress.SingleBar(
    {
      stream: session.stderr,
      format: 'Rotating {bar} {value}/{total} accounts | {duration_formatted}',
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return bar;
}

function printRun(session: Session, r: RotationRun) {
  const done = r.succeeded + r.failed;
  printFields(session, [
    ['Run', r.id],
    ['Scope', scopeText(r.scope)],
    ['State', r.state],
    ['Started', `${formatTime(r.startedAt)} by ${r.startedBy}`],
    ['Finished', formatTime(r.finishedAt)],
    ['Progress', `${done} of ${r.total}`],
    ['Succeeded', String(r.succeeded)],
    ['Failed', String(r.failed)],
  ]);
  if (r.failures.length === 0) return;
  printLine(session, '');
  const rows = r.failures.map((f) => [f.account, f.error]);
  printTable(session, ['FAILED ACCOUNT', 'ERROR'], rows);
}

function scopeText(scope: RotationRun['scope']): string {
  if (scope.target !== undefined) return `target ${scope.target}`;
  if (scope.safe !== undefined) return `safe ${scope.safe}`;
  return 'all accounts';
}

async function status(session: Session, options: StatusOptions) {
  const query = {
    safe: options.safe,
    target: options.target,
    health: options.failing === true ? 'failing' : undefined,
  };
  const reply = await session
    .api()
    .request<RotationStatusReply>('GET', '/v1/rotation/status', { query });
  if (session.json) return printJson(session, reply);

  const now = session.now();
  const rows = reply.accounts.map((a) => [
    a.ref,
    a.state,
    a.health,
    a.lastRotatedAt === null ? 'never' : relativeTime(a.lastRotatedAt, now),
    a.nextRotationAt === null ? '-' : relativeTime(a.nextRotationAt, now),
    String(a.failures),
    a.lastError ?? '-',
  ]);
  const headers = ['ACCOUNT', 'STATE', 'HEALTH', 'ROTATED', 'NEXT', 'FAILURES', 'LAST ERROR'];
  printTable(session, headers, rows, 'No accounts.');

  const t = reply.totals;
  printLine(session, '');
  printLine(
    session,
    `${t.accounts} accounts: ${t.ok} ok, ${t.due} due, ${t.failing} failing; ` +
      `${t.neverRotated} never rotated.`,
  );
  const terminal = (session.stdout as { isTTY?: boolean }).isTTY === true;
  if (terminal && t.accounts > 0) printHealth(session, t);
}

/** A bar of the ok, due and failing shares, in colour unless NO_COLOR is set. */
function printHealth(session: Session, t: RotationStatusReply['totals']) {
  const colour = session.env.NO_COLOR === undefined || session.env.NO_COLOR === '';
  const parts = [
    { label: 'ok', count: t.ok, plain: '#', ansi: 32 },
    { label: 'due', count: t.due, plain: '~', ansi: 33 },
    { label: 'failing', count: t.failing, plain: '!', ansi: 31 },
  ];
  const paint = (part: (typeof parts)[number], cells: number) =>
    cells === 0
      ? ''
      : colour
        ? `\u001b[${part.ansi}m${'█'.repeat(cells)}\u001b[0m`
        : part.plain.repeat(cells);
  const cells = shares(
    parts.map((p) => p.count),
    HEALTH_BAR_WIDTH,
  );
  const bar = parts.map((p, i) => paint(p, cells[i] ?? 0)).join('');
  const legend = parts.map((p) => `${paint(p, 1)} ${p.label} ${p.count}`).join('  ');
  // The escapes are Tessera's own and the counts are numbers: nothing here needs cleaning.
  printLine(session, `[${bar}]  ${legend}`);
}

/**
 * Splits `width` cells in proportion to `counts` (largest remainder), giving every non-zero
 * count at least one cell, so a single failing account still shows.
 */
function shares(counts: readonly number[], width: number): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return counts.map(() => 0);
  const exact = counts.map((c) => (c / total) * width);
  const cells = exact.map((e, i) => ((counts[i] ?? 0) > 0 ? Math.max(1, Math.floor(e)) : 0));
  const order = exact
    .map((e, i) => ({ i, rest: e - Math.floor(e) }))
    .sort((a, b) => b.rest - a.rest);
  for (let k = 0; cells.reduce((a, b) => a + b, 0) < width && k < order.length; k++) {
    const i = order[k]?.i ?? 0;
    cells[i] = (cells[i] ?? 0) + 1;
  }
  while (cells.reduce((a, b) => a + b, 0) > width) {
    const largest = cells.indexOf(Math.max(...cells));
    cells[largest] = (cells[largest] ?? 0) - 1;
  }
  return cells;
}

function runPath(id: string): string {
  return `/v1/rotation/runs/${encodeURIComponent(clean(id))}`;
}
