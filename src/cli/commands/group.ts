import type { Command } from 'commander';
import type { Group } from '../api-types.ts';
import { usageError } from '../cli-error.ts';
import { type Io, type Session, sessionOf } from '../context.ts';
import { formatTime, printFields, printJson, printLine, printTable } from '../output.ts';

interface LinkOptions {
  readonly sameAs?: string;
  readonly unlink?: boolean;
}

const GROUP_HELP = `
Groups name who may approve: tessera access policy set --safe prod --approver-group dba`;

const LINK_HELP = `
Two logins of one person count as one approver, and neither may answer the other's requests.
Examples:
  tessera user link alice-admin --same-as alice
  tessera user link alice-admin --unlink`;

export function registerGroup(program: Command, io: Io): void {
  const group = program
    .command('group')
    .description('groups of users, for approver and escalation groups (admins)')
    .addHelpText('after', GROUP_HELP);
  const onName =
    (action: (s: Session, name: string) => Promise<void>) =>
    async (name: string, _options: unknown, command: Command) =>
      action(sessionOf(command, io), name);
  const onMember =
    (verb: 'add' | 'remove') =>
    async (name: string, user: string, _options: unknown, command: Command) =>
      member(sessionOf(command, io), name, user, verb);

  group
    .command('create')
    .description('create a group')
    .argument('<name>', 'the group')
    .option('--description <text>', 'what the group is for')
    .action(async (name: string, options: { description?: string }, command: Command) => {
      const session = sessionOf(command, io);
      const body = { name, description: options.description ?? '' };
      const created = await session.api().request<Group>('POST', '/v1/groups', { body });
      if (session.json) return printJson(session, created);
      printLine(session, `Created group ${created.name}.`);
    });

  group
    .command('list')
    .description('list groups')
    .action(async (_options: unknown, command: Command) => list(sessionOf(command, io)));

  group
    .command('show')
    .description('show a group and its members')
    .argument('<name>', 'the group')
    .action(onName(show));

  group
    .command('add')
    .description('add a user to a group')
    .argument('<name>', 'the group')
    .argument('<user>', 'the user')
    .action(onMember('add'));

  group
    .command('remove')
    .description('remove a user from a group')
    .argument('<name>', 'the group')
    .argument('<user>', 'the user')
    .action(onMember('remove'));

  group
    .command('delete')
    .description('delete a group')
    .argument('<name>', 'the group')
    .action(onName(remove));
}

/** Adds `user link` under the `user` command: which logins are one person. */
export function registerUserLink(user: Command, io: Io): void {
  user
    .command('link')
    .description('mark a login as the same person as another, or undo it (admins only)')
    .argument('<name>', 'the login to link')
    .option('--same-as <user>', 'the other login of the same person')
    .option('--unlink', 'make the login a person of its own again')
    .addHelpText('after', LINK_HELP)
    .action(async (name: string, options: LinkOptions, command: Command) => {
      await link(sessionOf(command, io), name, options);
    });
}

async function list(session: Session): Promise<void> {
  const reply = await session.api().request<{ groups: Group[] }>('GET', '/v1/groups');
  if (session.json) return printJson(session, reply);
  const rows = reply.groups.map((g) => [
    g.name,
    String(g.members.length),
    g.description === '' ? '-' : g.description,
  ]);
  printTable(session, ['NAME', 'MEMBERS', 'DESCRIPTION'], rows, 'No groups.');
}

async function show(session: Session, name: string): Promise<void> {
  const found = await session.api().request<Group>('GET', groupPath(name));
  if (session.json) return printJson(session, found);
  printFields(session, [
    ['Group', found.name],
    ['Description', found.description === '' ? '-' : found.description],
    ['Created', formatTime(found.createdAt)],
    ['Members', found.members.length === 0 ? '(none)' : found.members.join(', ')],
  ]);
}

async function member(session: Session, name: string, user: string, verb: 'add' | 'remove') {
  const path = `${groupPath(name)}/members/${encodeURIComponent(user)}`;
  const changed = await session.api().request<Group>(verb === 'add' ? 'PUT' : 'DELETE', path);
  if (session.json) return printJson(session, changed);
  const done = verb === 'add' ? `Added ${user} to` : `Removed ${user} from`;
  printLine(session, `${done} group ${changed.name}; ${changed.members.length} members.`);
}

async function remove(session: Session, name: string): Promise<void> {
  await session.api().request('DELETE', groupPath(name));
  if (session.json) return printJson(session, {});
  printLine(session, `Deleted group ${name}.`);
}

async function link(session: Session, name: string, options: LinkOptions): Promise<void> {
  if ((options.sameAs === undefined) === (options.unlink !== true)) {
    throw usageError('give exactly one of --same-as USER or --unlink');
  }
  const body = { sameAs: options.sameAs ?? null };
  const path = `/v1/users/${encodeURIComponent(name)}/person`;
  const reply = await session
    .api()
    .request<{ user: string; person: string | null }>('PUT', path, { body });
  if (session.json) return printJson(session, reply);
  printLine(
    session,
    reply.person === null
      ? `${reply.user} is a person of its own.`
      : `${reply.user} is the same person as ${reply.person}.`,
  );
}

function groupPath(name: string): string {
  return `/v1/groups/${encodeURIComponent(name)}`;
}
