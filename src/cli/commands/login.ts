import type { Command } from 'commander';
import type { LoginReply, LoginRequest } from '../api-types.ts';
import { CliError, usageError } from '../cli-error.ts';
import { type Io, type Session, sessionOf } from '../context.ts';
import { promptHidden, promptText, readSecret } from '../input.ts';
import { formatDuration, printJson, printLine, printNote } from '../output.ts';

interface LoginOptions {
  readonly user?: string;
  readonly passwordStdin?: boolean;
  readonly code?: string;
}

/** What the server accepts; an authenticator app shows six digits. */
const CODE = /^\d{6,8}$/;

const LOGIN_HELP = `
A user with a second factor (tessera user mfa) is asked for a code from the authenticator app
after the password; a script gives it with --code (it lasts 30 seconds and is taken once).

Example:
  eval "$(tessera login --user alice)"  # prompts on the terminal, then sets TESSERA_TOKEN`;

export function registerLogin(program: Command, io: Io): void {
  program
    .command('login')
    .description('log in with a user name and password and print a token for TESSERA_TOKEN')
    .option('--user <name>', 'the user to log in as (prompted for on a terminal)')
    .option('--password-stdin', 'read the password from stdin instead of a prompt')
    .option('--code <code>', 'a current code of your second factor, if you have one')
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
  const code = options.code === undefined ? undefined : checkedCode(options.code);
  const user = options.user ?? (await askUser(session));
  const password = await readSecret(session, {
    what: 'password',
    fromStdin: options.passwordStdin === true,
    flag: '--password-stdin',
  });
  const reply = await signIn(session, { user, password, ...(code === undefined ? {} : { code }) });
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

/**
 * Sends the password (and the code given, if any). When the server wants a code it did not get
 * and a person is at the terminal, asks them for it and sends both once more; otherwise says
 * how to give one.
 */
async function signIn(session: Session, request: LoginRequest): Promise<LoginReply> {
  try {
    return await sendLogin(session, request);
  } catch (error) {
    if (!(error instanceof CliError) || error.code !== 'MFA_REQUIRED') throw error;
    if (request.code !== undefined) throw error;
    if (!session.interactive) {
      throw new CliError('MFA_REQUIRED', `${error.message} (give it with --code)`, {
        ...(error.requestId === undefined ? {} : { requestId: error.requestId }),
      });
    }
    const code = checkedCode(await promptHidden(session, 'Code from your authenticator app:'));
    return sendLogin(session, { ...request, code });
  }
}

function sendLogin(session: Session, body: LoginRequest): Promise<LoginReply> {
  // Anonymous: an expired TESSERA_TOKEN in the environment must not stop a new login.
  return session.api().request<LoginReply>('POST', '/v1/auth/login', { body, anonymous: true });
}

function checkedCode(text: string): string {
  const trimmed = text.trim();
  if (!CODE.test(trimmed)) throw usageError('the code is the six digits your app shows');
  return trimmed;
}

async function askUser(session: Session): Promise<string> {
  if (session.interactive) return promptText(session, 'User:');
  throw usageError('name the user with --user');
}
