import type { Command } from 'commander';
import { accountPath, parseAccountRef } from '../account-ref.ts';
import type { RevealReply } from '../api-types.ts';
import { type Io, sessionOf } from '../context.ts';
import { printJson } from '../output.ts';

const SHOW_HELP = `
Example:
  PGPASSWORD="$(tessera secret show db1/app --reason INC-42)" psql -h db1 -U app`;

export function registerSecret(program: Command, io: Io): void {
  const secret = program.command('secret').description('reveal secrets (every reveal is audited)');

  secret
    .command('show')
    .description("print an account's current secret, and only it, on stdout")
    .argument('<account>', 'TARGET/USERNAME')
    .requiredOption('--reason <text>', 'why you need it (audited)')
    .addHelpText('after', SHOW_HELP)
    .action(async (ref: string, options: { reason: string }, command: Command) => {
      const session = sessionOf(command, io);
      const path = accountPath(parseAccountRef(ref), '/reveal');
      const body = { reason: options.reason };
      const reply = await session.api().request<RevealReply>('POST', path, { body });
      if (session.json) return printJson(session, reply);
      // Exactly the stored value and a newline, so that `$(tessera secret show ...)` is the value.
      session.stdout.write(`${reply.value}\n`);
    });
}
