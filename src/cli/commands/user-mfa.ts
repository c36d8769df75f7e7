import type { Command } from 'commander';
import { usageError } from '../cli-error.ts';
import { type Io, type Session, sessionOf } from '../context.ts';
import { readSecret } from '../input.ts';
import { formatTime, printFields, printJson, printLine, printNote } from '../output.ts';

interface MfaStatus {
  readonly enrolled: boolean;
  readonly confirmed: boolean;
  readonly createdAt: string | null;
  readonly confirmedAt: string | null;
}

interface CodeOptions {
  readonly codeStdin?: boolean;
}

const CODE = /^\d{6}$/;
const CODE_HELP = `
A code lasts 30 seconds and is accepted once, so giving it as an argument is acceptable;
--code-stdin reads it from stdin instead, and without either you are asked for it.`;

/** Adds `mfa enroll/confirm/status/remove/reset` under the `user` command. */
export function registerUserMfa(user: Command, io: Io): void {
  const mfa = user
    .command('mfa')
    .description("your TOTP second factor (an authenticator app), or (admins) reset anyone's");

  mfa
    .command('enroll')
    .description('start enrolling an authenticator app: prints its secret once')
    .action(async (_options: unknown, command: Command) => {
      await enroll(sessionOf(command, io));
    });

  mfa
    .command('confirm')
    .description('confirm the enrolment with a code from the app')
    .argument('[code]', 'the six-digit code the app shows')
    .option('--code-stdin', 'read the code from stdin')
    .addHelpText('after', CODE_HELP)
    .action(async (code: string | undefined, options: CodeOptions, command: Command) => {
      const session = sessionOf(command, io);
      const body = { code: await codeOf(session, code, options) };
      const status = await session.api().request<MfaStatus>('POST', '/v1/auth/mfa/confirm', {
        body,
      });
      if (session.json) return printJson(session, status);
      printLine(session, 'Second factor confirmed.');
    });

  mfa
    .command('status')
    .description('whether you have a second factor, and whether it is confirmed')
    .action(async (_options: unknown, command: Command) => {
      await showStatus(sessionOf(command, io));
    });

  mfa
    .command('remove')
    .description('remove your second factor, with a valid code from it')
    .argument('[code]', 'the six-digit code the app shows')
    .option('--code-stdin', 'read the code from stdin')
    .addHelpText('after', CODE_HELP)
    .action(async (code: string | undefined, options: CodeOptions, command: Command) => {
      const session = sessionOf(command, io);
      const body = { code: await codeOf(session, code, options) };
      await session.api().request('DELETE', '/v1/auth/mfa', { body });
      if (session.json) return printJson(session, {});
      printLine(session, 'Second factor removed.');
    });

  mfa
    .command('reset')
    .description("remove another user's second factor, e.g. after a lost phone (admins only)")
    .argument('<name>', 'the user')
    .action(async (name: string, _options: unknown, command: Command) => {
      const session = sessionOf(command, io);
      await session.api().request('DELETE', `/v1/users/${encodeURIComponent(name)}/mfa`);
      if (session.json) return printJson(session, {});
      printLine(session, `Second factor of ${name} removed; the user can enroll again.`);
    });
}

async function enroll(session: Session): Promise<void> {
  const reply = await session
    .api()
    .request<{ secret: string; uri: string }>('POST', '/v1/auth/mfa/enroll');
  if (session.json) return printJson(session, reply);
  printFields(session, [
    ['URI', reply.uri],
    ['Secret', reply.secret],
  ]);
  printNote(session, 'Add it to your authenticator app (the URI as a QR code, or the secret).');
  printNote(session, 'Both are shown only now. Then confirm: tessera user mfa confirm CODE');
}

async function showStatus(session: Session): Promise<void> {
  const status = await session.api().request<MfaStatus>('GET', '/v1/auth/mfa');
  if (session.json) return printJson(session, status);
  if (!status.enrolled) {
    printLine(session, 'No second factor: enroll one with tessera user mfa enroll');
    return;
  }
  printFields(session, [
    ['Second factor', status.confirmed ? 'TOTP, confirmed' : 'TOTP, not confirmed yet'],
    ['Enrolled', formatTime(status.createdAt)],
    ['Confirmed', formatTime(status.confirmedAt)],
  ]);
  if (!status.confirmed) printNote(session, 'Confirm it with: tessera user mfa confirm CODE');
}

/** The code from the argument, stdin or a prompt; checked here, so a typo sends nothing. */
async function codeOf(session: Session, argument: string | undefined, options: CodeOptions) {
  const fromStdin = options.codeStdin === true;
  if (argument !== undefined && fromStdin) {
    throw usageError('give the code as an argument or with --code-stdin, not both');
  }
  const code =
    argument ?? (await readSecret(session, { what: 'code', fromStdin, flag: '--code-stdin' }));
  const trimmed = code.trim();
  if (!CODE.test(trimmed)) throw usageError('the code is the six digits the app shows');
  return trimmed;
}
