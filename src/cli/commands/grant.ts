import type { Command } from 'commander';
import type { Grant } from '../api-types.ts';
import { type Io, type Session, sessionOf } from '../context.ts';
import {
  formatDuration,
  formatTime,
  printFields,
  printJson,
  printLine,
  printTable,
} from '../output.ts';
import { entityId } from './request.ts';

interface ListOptions {
  readonly active?: boolean;
  readonly user?: string;
}

const LIST_HELP = `
Examples:
  tessera grant list --active               # who holds access now, and for how long
  tessera grant revoke ID --reason "incident over"`;

export function registerGrant(program: Command, io: Io): void {
  const grant = program
    .command('grant')
    .description('time-bound access given by requests, break-glass and ephemeral accounts');

  grant
    .command('list')
    .description('list grants: your own, or (admins, auditors, approvers) others too')
    .option('--active', 'only those that hold now')
    .option('--user <name>', 'only those of this user')
    .addHelpText('after', LIST_HELP)
    .action(async (options: ListOptions, command: Command) => {
      await list(sessionOf(command, io), options);
    });

  grant
    .command('show')
    .description('show a grant')
    .argument('<id>', 'the grant ID')
    .action(async (id: string, _options: unknown, command: Command) => {
      const session = sessionOf(command, io);
      const path = `/v1/grants/${entityId(id, 'grant')}`;
      const found = await session.api().request<Grant>('GET', path);
      if (session.json) return printJson(session, found);
      printGrant(session, found);
    });

  grant
    .command('revoke')
    .description('end a grant now (its holder may give it back early); check-outs are checked in')
    .argument('<id>', 'the grant ID')
    .requiredOption('--reason <text>', 'why, for the holder and the audit trail')
    .action(async (id: string, options: { reason: string }, command: Command) => {
      const session = sessionOf(command, io);
      const path = `/v1/grants/${entityId(id, 'grant')}/revoke`;
      const body = { reason: options.reason };
      const revoked = await session.api().request<Grant>('POST', path, { body });
      if (session.json) return printJson(session, revoked);
      printLine(session, `Revoked grant ${revoked.id} of ${revoked.user} (${accessOf(revoked)}).`);
    });
}

async function list(session: Session, options: ListOptions): Promise<void> {
  const query = { active: options.active === true ? 'true' : undefined, user: options.user };
  const reply = await session.api().request<{ grants: Grant[] }>('GET', '/v1/grants', { query });
  if (session.json) return printJson(session, reply);
  const rows = reply.grants.map((g) => [
    g.id,
    g.user,
    g.kind,
    accessOf(g),
    g.permissions.join(','),
    formatTime(g.endsAt),
    stateOf(g),
  ]);
  const headers = ['ID', 'USER', 'KIND', 'ACCESS', 'PERMISSIONS', 'ENDS', 'LEFT'];
  printTable(session, headers, rows, options.active === true ? 'No active grants.' : 'No grants.');
}

function printGrant(session: Session, g: Grant): void {
  const fields: Array<readonly [string, string]> = [
    ['ID', g.id],
    ['User', g.user],
    ['Kind', g.kind],
    ['Access', accessOf(g)],
    ['Safe', g.safe],
    ['Permissions', g.permissions.join(', ')],
    ['Starts', formatTime(g.startsAt)],
    ['Ends', formatTime(g.endsAt)],
    ['State', stateOf(g)],
  ];
  if (g.requestId !== null) fields.push(['Request', g.requestId]);
  if (g.revokedAt !== null) {
    fields.push(['Revoked', `${formatTime(g.revokedAt)} by ${g.revokedBy ?? '-'}`]);
    fields.push(['Revoke reason', g.revokeReason ?? '-']);
  }
  printFields(session, fields);
}

function accessOf(g: Grant): string {
  return g.account ?? `safe ${g.safe}`;
}

/** `1h 12m left` while it holds; else how it ended. */
function stateOf(g: Grant): string {
  if (g.active) return `${formatDuration(g.remainingS)} left`;
  return g.revokedAt === null ? 'ended' : 'revoked';
}
