import { Command, CommanderError, Option } from 'commander';
import packageJson from '../../package.json' with { type: 'json' };
import { CliError, EXIT_FAILURE, EXIT_USAGE } from './cli-error.ts';
import { registerAccess } from './commands/access.ts';
import { registerAccount } from './commands/account.ts';
import { registerAccountImport } from './commands/account-import.ts';
import { registerAudit } from './commands/audit.ts';
import { registerBreakglass, registerReport } from './commands/breakglass.ts';
import { registerDiscover } from './commands/discover.ts';
import { registerEphemeral } from './commands/ephemeral.ts';
import { registerGrant } from './commands/grant.ts';
import { registerGroup } from './commands/group.ts';
import { registerLogin } from './commands/login.ts';
import { registerNode } from './commands/node.ts';
import { registerOperator } from './commands/operator.ts';
import { registerPolicy } from './commands/policy.ts';
import { registerRequest } from './commands/request.ts';
import { registerRotation } from './commands/rotation.ts';
import { registerSafe } from './commands/safe.ts';
import { registerSecret } from './commands/secret.ts';
import { registerServer } from './commands/server.ts';
import { registerSession } from './commands/session.ts';
import { ExitStatus, registerSsh } from './commands/ssh.ts';
import { registerUserKey } from './commands/ssh-key.ts';
import { registerTarget } from './commands/target.ts';
import { registerUser } from './commands/user.ts';
import { registerWebhook } from './commands/webhook.ts';
import { type Io, processIo } from './context.ts';
import { clean } from './output.ts';

const ENVIRONMENT_HELP = `
Environment:
  TESSERA_ADDR    the server to talk to (default http://127.0.0.1:7200)
  TESSERA_TOKEN   the token from "tessera login"; never given as a flag, so it stays out of
                  the process list
Exit status: 0 on success, 1 when the server or the network refuses, 2 for a usage error.`;

const REGISTRARS = [
  registerServer,
  registerOperator,
  registerLogin,
  registerUser,
  registerUserKey,
  registerSafe,
  registerTarget,
  registerPolicy,
  registerAccount,
  registerAccountImport,
  registerRotation,
  registerSecret,
  registerAudit,
  registerDiscover,
  registerGroup,
  registerAccess,
  registerRequest,
  registerGrant,
  registerBreakglass,
  registerReport,
  registerEphemeral,
  registerSsh,
  registerSession,
  registerNode,
  registerWebhook,
] as const;

/**
 * Runs the tessera command line and resolves with the exit status instead of exiting, so that
 * the caller (bin/tessera) decides when the process ends.
 */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    return report(io, error);
  }
}

function buildProgram(io: Io): Command {
  // Settings made before the sub-commands are added are inherited by each of them.
  const program = new Command('tessera')
    .description('Tessera privileged access management: the server and its command line')
    .version(packageJson.version, '-V, --version')
    .addOption(
      new Option(
        '-o, --output <format>',
        'text for people, json for programs (the API reply), csv where a list offers it',
      )
        .choices(['text', 'json', 'csv'])
        .default('text'),
    )
    .option(
      '--addr <url>',
      'the Tessera server (default: $TESSERA_ADDR, else http://127.0.0.1:7200)',
    )
    .option('--no-input', 'never prompt: fail when something is missing')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // Errors are written once, in our own format, by report().
      outputError: () => undefined,
    })
    .exitOverride()
    .addHelpText('after', ENVIRONMENT_HELP);
  for (const register of REGISTRARS) register(program, io);
  return program;
}

function report(io: Io, error: unknown): number {
  // `tessera ssh` leaves with the status of ssh, which already said what went wrong.
  if (error instanceof ExitStatus) return error.status;
  if (error instanceof CommanderError) return reportUsage(io, error);
  if (error instanceof CliError) {
    // The message is the server's: it may quote what someone else stored, or another node said.
    io.stderr.write(`error: ${clean(error.code)}: ${clean(error.message)}\n`);
    for (const [key, value] of Object.entries(error.details ?? {})) {
      io.stderr.write(`  ${clean(key)}: ${clean(String(value))}\n`);
    }
    if (error.requestId !== undefined) io.stderr.write(`  request id: ${clean(error.requestId)}\n`);
    return error.exitCode;
  }
  // A fault in the CLI itself: the name and message help a bug report; no stack, no values.
  const message = error instanceof Error ? `${error.name}: ${error.message}` : 'unknown failure';
  io.stderr.write(`error: INTERNAL: ${clean(message)}\n`);
  return EXIT_FAILURE;
}

/** Commander's own exits: help and version are successes, anything else a usage error. */
function reportUsage(io: Io, error: CommanderError): number {
  if (error.exitCode === 0) return 0;
  // The help text was already written to stderr (a group called without a sub-command).
  if (error.code === 'commander.help') return EXIT_USAGE;
  const message = error.message.replace(/^error: /, '');
  io.stderr.write(`error: USAGE: ${clean(withoutInlineValues(message))}\n`);
  return EXIT_USAGE;
}

/**
 * Commander quotes an unknown option as typed; `--password=hunter2` must not come back on the
 * screen, so the value after `=` is cut.
 */
function withoutInlineValues(message: string): string {
  return message.replace(/'(-{1,2}[^'=\s]+)=[^']*'/g, "'$1=...'");
}
