import type { Command } from 'commander';
import type { InitReply, SealStatus } from '../api-types.ts';
import { usageError } from '../cli-error.ts';
import { type Io, type Session, sessionOf } from '../context.ts';
import { promptHidden, readLineFromStdin } from '../input.ts';
import { printFields, printJson, printLine, printNote, printWarning } from '../output.ts';
import { integerBetween } from '../parse.ts';

const MAX_SHARES = 16;

const UNSEAL_HELP = `
Examples:
  tessera operator unseal              # a hidden prompt
  tessera operator unseal < share.txt  # one share per run`;

export function registerOperator(program: Command, io: Io): void {
  const operator = program
    .command('operator')
    .description('initialise, unseal and seal the vault; see its seal status');

  operator
    .command('init')
    .description('create the root key and split the unseal key into shares (once per vault)')
    .option('--shares <n>', 'how many shares to make', integerBetween(1, MAX_SHARES), 5)
    .option('--threshold <n>', 'how many shares unseal the vault', integerBetween(1, MAX_SHARES), 3)
    .action(async (options: { shares: number; threshold: number }, command: Command) => {
      await init(sessionOf(command, io), options);
    });

  operator
    .command('unseal')
    .description('submit one unseal share; prompts for it, or reads one line from stdin')
    .argument('[share]', 'discouraged: an argument is visible to other users; leave it out')
    .addHelpText('after', UNSEAL_HELP)
    .action(async (share: string | undefined, _options: unknown, command: Command) => {
      await unseal(sessionOf(command, io), share);
    });

  operator
    .command('seal')
    .description('seal the vault: forget the root key until shares are submitted again')
    .action(async (_options: unknown, command: Command) => {
      const session = sessionOf(command, io);
      const status = await session.api().request<SealStatus>('POST', '/v1/operator/seal');
      if (session.json) return printJson(session, status);
      printLine(session, 'Vault sealed: nothing secret is served until it is unsealed again.');
    });

  operator
    .command('status')
    .description('show whether the vault is initialised and sealed, and the unseal progress')
    .action(async (_options: unknown, command: Command) => {
      const session = sessionOf(command, io);
      const status = await sealStatus(session);
      if (session.json) return printJson(session, status);
      printStatus(session, status);
    });
}

async function init(session: Session, options: { shares: number; threshold: number }) {
  if (options.threshold > options.shares) {
    throw usageError('--threshold cannot be more than --shares');
  }
  const reply = await session.api().request<InitReply>('POST', '/v1/operator/init', {
    body: { shares: options.shares, threshold: options.threshold },
    anonymous: true,
  });
  printWarning(session, 'the shares and the root token are shown only now and never again.');
  printNote(session, 'Give each share to a different person and store them apart, never together');
  printNote(session, 'with the root token. Use the root token to create users, then revoke it.');
  if (session.json) return printJson(session, reply);

  printLine(session, `Unseal shares (any ${reply.threshold} of ${reply.shares.length} unseal):`);
  reply.shares.forEach((share, index) => {
    printLine(session, `  share ${index + 1}: ${share}`);
  });
  printLine(session, `Root token: ${reply.rootToken}`);
}

async function unseal(session: Session, shareArgument: string | undefined) {
  if (shareArgument !== undefined) {
    printWarning(
      session,
      'a share given as an argument is visible to other users of this machine;',
    );
    printNote(session, 'leave it out to be prompted, or pipe it on stdin.');
  }
  const before = await sealStatus(session);
  // An unsealed vault takes any share without looking at it: say so rather than "unsealed".
  if (before.initialized && !before.sealed) {
    if (session.json) return printJson(session, before);
    return printLine(session, 'The vault is already unsealed.');
  }
  const share = shareArgument ?? (await readShare(session));
  const status = await session.api().request<SealStatus>('POST', '/v1/operator/unseal', {
    body: { share },
    anonymous: true,
  });
  if (session.json) return printJson(session, status);
  if (!status.sealed) return printLine(session, 'Vault unsealed.');
  printLine(session, `Unseal progress: ${status.progress}/${status.threshold}`);
}

function sealStatus(session: Session): Promise<SealStatus> {
  return session.api().request<SealStatus>('GET', '/v1/operator/status', { anonymous: true });
}

/** One share: from stdin when it is a pipe, else from a hidden prompt. */
async function readShare(session: Session): Promise<string> {
  if (!session.stdinIsTerminal) return readLineFromStdin(session, 'unseal share');
  if (session.interactive) return promptHidden(session, 'Unseal share:');
  throw usageError('no unseal share: pipe one on stdin, or allow the prompt (drop --no-input)');
}

function printStatus(session: Session, status: SealStatus) {
  if (!status.initialized) {
    printLine(session, 'Tessera is not initialised: run tessera operator init.');
    return;
  }
  const sealed = status.sealed
    ? `yes (unseal progress ${status.progress}/${status.threshold})`
    : 'no';
  printFields(session, [
    ['Initialised', 'yes'],
    ['Sealed', sealed],
    ['Shares', `${status.shares}, of which ${status.threshold} unseal`],
  ]);
}
