import { type Command, Option } from 'commander';
import type { User } from '../api-types.ts';
import { CliError, usageError } from '../cli-error.ts';
import { type Io, type Session, sessionOf } from '../context.ts';
import { promptHidden, readValueFromStdin } from '../input.ts';
import { formatTime, printJson, printLine, printNote, printTable, yesNo } from '../output.ts';
import { registerUserLink } from './group.ts';
import { registerUserMfa } from './user-mfa.ts';

const ROLES = ['admin', 'auditor', 'user'] as const;

interface CreateOptions {
  readonly role: string;
  readonly passwordStdin?: boolean;
}

export function registerUser(program: Command, io: Io): void {
  const user = program
    .command('user')
    .description('create, list, disable and enable users, set passwords and second factors');

  user
    .command('create')
    .description('create a user; the password comes from stdin or a prompt, never an argument')
    .argument('<name>', 'the new user name')
    .addOption(
      new Option('--role <role>', 'what the user may do').choices(ROLES).makeOptionMandatory(),
    )
    .option('--password-stdin', 'read the password from stdin')
    .action(async (name: string, options: CreateOptions, command: Command) => {
      await create(sessionOf(command, io), name, options);
    });

  user
    .command('password')
    .description(
      "set a password: an admin sets anyone's; everyone, admins too, changes their own with " +
        'the current one (unless they have none yet). Every other token of the user is revoked.',
    )
    .argument('<name>', 'the user whose password changes')
    .option(
      '--password-stdin',
      'read from stdin: the new password, or for your own the current one and the new one ' +
        'on two lines',
    )
    .action(async (name: string, options: { passwordStdin?: boolean }, command: Command) => {
      await setPassword(sessionOf(command, io), name, options.passwordStdin === true);
    });

  for (const [verb, summary] of [
    ['disable', 'offboard a user: no more logins, every token revoked (admins only)'],
    ['enable', 'let a disabled user log in again (admins only)'],
  ] as const) {
    user
      .command(verb)
      .description(summary)
      .argument('<name>', 'the user')
      .action(async (name: string, _options: unknown, command: Command) => {
        await setDisabled(sessionOf(command, io), name, verb);
      });
  }

  user
    .command('list')
    .description('list users')
    .action(async (_options: unknown, command: Command) => {
      const session = sessionOf(command, io);
      const reply = await session.api().request<{ users: User[] }>('GET', '/v1/users');
      if (session.json) return printJson(session, reply);
      const rows = reply.users.map((u) => [
        u.name,
        u.role,
        yesNo(u.disabled),
        formatTime(u.createdAt),
      ]);
      printTable(session, ['NAME', 'ROLE', 'DISABLED', 'CREATED'], rows, 'No users.');
    });

  registerUserMfa(user, io);
  registerUserLink(user, io);
}

async function create(session: Session, name: string, options: CreateOptions) {
  const password = await newPassword(session, name, options.passwordStdin === true);
  const created = await session.api().request<User>('POST', '/v1/users', {
    body: { name, role: options.role, ...(password === undefined ? {} : { password }) },
  });
  if (session.json) return printJson(session, created);
  printLine(session, `Created ${created.role} ${created.name}.`);
  if (password === undefined) {
    printNote(session, 'The user has no password, so cannot log in with one.');
  }
}

/**
 * The new user's password: from stdin when asked, else typed twice at a prompt; without a
 * terminal and without --password-stdin the user gets no password.
 */
async function newPassword(session: Session, name: string, fromStdin: boolean) {
  if (fromStdin) return readValueFromStdin(session, 'password');
  if (!session.interactive) return undefined;
  const first = await promptHidden(session, `Password for ${name}:`);
  const second = await promptHidden(session, 'The same password again:');
  if (first !== second) throw new CliError('PASSWORD_MISMATCH', 'the two passwords differ');
  return first;
}

async function setPassword(session: Session, name: string, fromStdin: boolean) {
  const self = await session
    .api()
    .request<{ user: string; passwordSet: boolean }>('GET', '/v1/auth/self');
  const needsCurrent = self.user === name && self.passwordSet;
  const { password, currentPassword } = fromStdin
    ? splitStdinPasswords(await readValueFromStdin(session, 'password'), needsCurrent)
    : await promptPasswords(session, name, needsCurrent);
  const body = { password, ...(currentPassword === undefined ? {} : { currentPassword }) };
  await session.api().request('PUT', `/v1/users/${encodeURIComponent(name)}/password`, { body });
  if (session.json) return printJson(session, {});
  printLine(session, `Password of ${name} set; the user's other tokens are revoked.`);
}

async function setDisabled(session: Session, name: string, verb: 'disable' | 'enable') {
  const path = `/v1/users/${encodeURIComponent(name)}/${verb}`;
  const changed = await session.api().request<User>('POST', path);
  if (session.json) return printJson(session, changed);
  printLine(
    session,
    changed.disabled
      ? `Disabled ${changed.name}; every token of the user is revoked.`
      : `Enabled ${changed.name}.`,
  );
}

function splitStdinPasswords(text: string, needsCurrent: boolean) {
  if (!needsCurrent) return { password: text, currentPassword: undefined };
  const newline = text.indexOf('\n');
  if (newline < 0) throw usageError('give the current and the new password on two lines');
  return { currentPassword: text.slice(0, newline), password: text.slice(newline + 1) };
}

async function promptPasswords(session: Session, name: string, needsCurrent: boolean) {
  if (!session.interactive) {
    throw usageError('no terminal to ask on: use --password-stdin');
  }
  const currentPassword = needsCurrent
    ? await promptHidden(session, 'Your current password:')
    : undefined;
  const password = await newPassword(session, name, false);
  if (password === undefined) throw usageError('no password given');
  return { password, currentPassword };
}
