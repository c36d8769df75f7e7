import type { Command } from 'commander';
import type { LoginReply } from '../api-types.ts';
import { usageError } from '../cli-error.ts';
import { type Io, type Session, sessionOf } from '../context.ts';
import { promptText, readSecret } from '../input.ts';
import { formatDuration, printJson, printLine, printNote } from '../output.ts';

interface LoginOptions {
  readonly user?: string;
  readonly passwordStdin?: boolean;
}

const LOGIN_HELP = `
Example:
  eval "$(tessera login --user alice)"  # prompts on the terminal, then sets TESSERA_TOKEN`;

export function registerLogin(program: Command, io: Io): void {
  program
    .command('login')
    .description('log in with a user name and password and print a token for TESSERA_TOKEN')
    .option('--user <name>', 'the user to log in as (prompted for on a terminal)')
    .option('--password-stdin', 'read the password from stdin instead of a prompt')
    .addHelpText('after', LOGIN_HELP)
    .action(async (options: LoginOptions, command: Command) => {
      await login(sessionOf(command, io), options);
    });

  program
    .command('logout')
    .description('revoke the token in TESSERA_TOKEN')
    .action(async (_options: unknown, command: Command) => {
      const session = sessionOf(command, io);
      await session.api().request<null>('POST', '/v1/auth/logout');
      if (session.json) return printJson(session, {});
      printLine(session, 'Logged out: the token is revoked. Clear it with: unset TESSERA_TOKEN');
    });
}

async function login(session: Session, options: LoginOptions) {
  const user = options.user ?? (await askUser(session));
  const password = await readSecret(session, {
    what: 'password',
    fromStdin: options.passwordStdin === true,
    flag: '--password-stdin',
  });
  // Anonymous: an expired TESSERA_TOKEN in the environment must not stop a new login.
  const reply = await session.api().request<LoginReply>('POST', '/v1/auth/login', {
    body: { user, password },
    anonymous: true,
  });
  if (session.json) return printJson(session, reply);

  const lifetime =
    reply.expiresAt === null
      ? 'does not expire'
      : `expires in ${formatDuration((Date.parse(reply.expiresAt) - session.now()) / 1000)}`;
  printNote(
    session,
    `Logged in as ${reply.user.name} (${reply.user.role}); the token ${lifetime}.`,
  );
  printNote(session, 'Set it for the next commands (or eval this output):');
  printLine(session, `export TESSERA_TOKEN=${reply.token}`);
}

async function askUser(session: Session): Promise<string> {
  if (session.interactive) return promptText(session, 'User:');
  throw usageError('name the user with --user');
}
