import type { Command } from 'commander';
import { SAFE_PERMISSIONS } from '../../access/permissions.ts';
import type { Safe, SafeMember } from '../api-types.ts';
import { type Io, sessionOf } from '../context.ts';
import { formatTime, printFields, printJson, printLine, printTable } from '../output.ts';
import { listOf } from '../parse.ts';

interface MemberOptions {
  readonly permissions: string[];
}

const PERMISSIONS = SAFE_PERMISSIONS;

const safePath = (name: string) => `/v1/safes/${encodeURIComponent(name)}`;
const memberPath = (safe: string, user: string) =>
  `${safePath(safe)}/members/${encodeURIComponent(user)}`;

export function registerSafe(program: Command, io: Io): void {
  const safe = program.command('safe').description('safes: containers of accounts, with members');

  safe
    .command('create')
    .description('create a safe')
    .argument('<name>', 'the new safe name')
    .option('--description <text>', 'what the safe holds')
    .action(async (name: string, options: { description?: string }, command: Command) => {
      const session = sessionOf(command, io);
      const { description } = options;
      const body = { name, ...(description === undefined ? {} : { description }) };
      const created = await session.api().request<Safe>('POST', '/v1/safes', { body });
      if (session.json) return printJson(session, created);
      printLine(session, `Created safe ${created.name}.`);
    });

  safe
    .command('list')
    .description('list the safes you may see')
    .action(async (_options: unknown, command: Command) => {
      const session = sessionOf(command, io);
      const reply = await session.api().request<{ safes: Safe[] }>('GET', '/v1/safes');
      if (session.json) return printJson(session, reply);
      const rows = reply.safes.map((s) => [s.name, s.description, formatTime(s.createdAt)]);
      printTable(session, ['NAME', 'DESCRIPTION', 'CREATED'], rows, 'No safes.');
    });

  safe
    .command('show')
    .description('show a safe and its members')
    .argument('<name>', 'the safe')
    .action(async (name: string, _options: unknown, command: Command) => {
      const session = sessionOf(command, io);
      const found = await session
        .api()
        .request<Safe & { members: SafeMember[] }>('GET', safePath(name));
      if (session.json) return printJson(session, found);
      printFields(session, [
        ['Safe', found.name],
        ['Description', found.description === '' ? '-' : found.description],
        ['Created', formatTime(found.createdAt)],
      ]);
      printLine(session, '');
      const rows = found.members.map((m) => [
        m.user,
        m.permissions.join(','),
        m.addedBy,
        formatTime(m.addedAt),
      ]);
      printTable(session, ['MEMBER', 'PERMISSIONS', 'ADDED BY', 'ADDED'], rows, 'No members.');
    });

  registerMember(safe, io);
}

function registerMember(safe: Command, io: Io): void {
  const member = safe.command('member').description("manage a safe's members");

  member
    .command('add')
    .description("add a member to a safe, or replace a member's permissions")
    .argument('<safe>', 'the safe')
    .argument('<user>', 'the user to add')
    .requiredOption(
      '--permissions <list>',
      `comma-separated, from: ${PERMISSIONS.join(', ')}`,
      listOf(PERMISSIONS),
    )
    .action(async (safeName: string, user: string, options: MemberOptions, command: Command) => {
      const session = sessionOf(command, io);
      const body = { permissions: options.permissions };
      const added = await session
        .api()
        .request<SafeMember>('PUT', memberPath(safeName, user), { body });
      if (session.json) return printJson(session, added);
      printLine(session, `${added.user} may ${added.permissions.join(', ')} in ${safeName}.`);
    });

  member
    .command('remove')
    .description('remove a member from a safe')
    .argument('<safe>', 'the safe')
    .argument('<user>', 'the member to remove')
    .action(async (safeName: string, user: string, _options: unknown, command: Command) => {
      const session = sessionOf(command, io);
      await session.api().request<null>('DELETE', memberPath(safeName, user));
      if (session.json) return printJson(session, {});
      printLine(session, `Removed ${user} from ${safeName}.`);
    });
}
