import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Command } from 'commander';
import { CliError, usageError } from '../cli-error.ts';
import { DEFAULT_ADDR, parseAddress } from '../client.ts';
import type { Io } from '../context.ts';
import { clean } from '../output.ts';

/** The gateway's port when nothing names one: the one `tessera server --dev` listens on. */
export const DEFAULT_GATEWAY_PORT = 2222;

/**
 * Leaves the CLI with this status and no message: the status of the `ssh` it ran, which already
 * said what went wrong (or of the remote command, which is the user's business).
 */
export class ExitStatus extends Error {
  readonly status: number;

  constructor(status: number) {
    super(`exit status ${status}`);
    this.name = 'ExitStatus';
    this.status = status;
  }
}

interface SshOptions {
  readonly gateway?: string;
  readonly addr?: string;
}

/** An account at a target, as the gateway reads its login name: no spaces, no leading dash. */
const LOGIN = /^[^\s@-][^\s@]*@[^\s@]+$/;
const HOST_PORT = /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$|^([^\s:[\]@/]+)(?::(\d{1,5}))?$/;

const SSH_HELP = `
Runs the OpenSSH client as: ssh [SSH-OPTIONS] -p PORT ACCOUNT@TARGET@HOST [COMMAND]
Without a command the session is interactive. Arguments after -- go to ssh itself; quote a
remote command that contains options or a "--" of its own.

The gateway is --gateway, else $TESSERA_GATEWAY, else the host of the Tessera address
(--addr, $TESSERA_ADDR) on port ${DEFAULT_GATEWAY_PORT}. Log in with a key registered with
tessera user key add; the target's credential never reaches this machine.
Examples:
  tessera ssh root@web01
  tessera ssh root@web01 'uptime'
  tessera ssh root@web01 -- -i ~/.ssh/id_ed25519 -o ServerAliveInterval=30`;

export function registerSsh(program: Command, io: Io): void {
  program
    .command('ssh')
    .description('open a session to ACCOUNT@TARGET through the Tessera SSH gateway')
    .argument('<login>', 'ACCOUNT@TARGET, e.g. root@web01')
    .argument('[command...]', 'a command to run instead of a shell')
    .option('--gateway <host:port>', 'the SSH gateway (default: $TESSERA_GATEWAY)')
    .allowUnknownOption()
    .addHelpText('after', SSH_HELP)
    .action(async (login: string, _command: string[], _options: unknown, command: Command) => {
      if (!LOGIN.test(login))
        throw usageError('name the account as ACCOUNT@TARGET, e.g. root@web01');
      const { remote, sshOptions } = splitArguments(command);
      const { host, port } = gatewayAddress(command.optsWithGlobals<SshOptions>(), io.env);
      const args = [...sshOptions, '-p', String(port), '--', `${login}@${host}`, ...remote];
      throw new ExitStatus(await runSsh(args, io.env));
    });
}

/**
 * The remote command and the options for ssh. Commander hands over every operand, the ones
 * after the first `--` included (and that `--` too when an unknown option came before it); the
 * program's raw arguments tell which operands came after it.
 */
function splitArguments(command: Command): { remote: string[]; sshOptions: string[] } {
  const operands = command.args.slice(1);
  const raw = (command.parent as { rawArgs?: unknown } | null)?.rawArgs;
  const separator = Array.isArray(raw) ? raw.indexOf('--') : -1;
  if (!Array.isArray(raw) || separator < 0) return { remote: operands, sshOptions: [] };
  const sshOptions = raw.slice(separator + 1).map(String);
  let remote = operands.slice(0, operands.length - sshOptions.length);
  if (remote.at(-1) === '--') remote = remote.slice(0, -1);
  return { remote, sshOptions };
}

/** `--gateway`, else `TESSERA_GATEWAY`, else the API's host on the default port. */
export function gatewayAddress(
  options: SshOptions,
  env: Readonly<Record<string, string | undefined>>,
): { host: string; port: number } {
  if (options.gateway !== undefined) return parseGateway(options.gateway, '--gateway');
  const fromEnv = env.TESSERA_GATEWAY;
  if (fromEnv !== undefined && fromEnv !== '') return parseGateway(fromEnv, 'TESSERA_GATEWAY');
  const addr = new URL(parseAddress(options.addr ?? env.TESSERA_ADDR ?? DEFAULT_ADDR));
  return { host: addr.hostname.replace(/^\[(.*)\]$/, '$1'), port: DEFAULT_GATEWAY_PORT };
}

/** `HOST`, `HOST:PORT` or `[IPv6]:PORT`; ssh takes an IPv6 address without brackets. */
function parseGateway(text: string, source: string): { host: string; port: number } {
  const match = HOST_PORT.exec(text.trim());
  const host = match?.[1] ?? match?.[3];
  const port = Number(match?.[2] ?? match?.[4] ?? DEFAULT_GATEWAY_PORT);
  if (host === undefined || host.startsWith('-') || !(port >= 1 && port <= 65_535)) {
    throw usageError(`${source} must be HOST, HOST:PORT or [IPv6]:PORT, e.g. gateway.example:2222`);
  }
  return { host, port };
}

/**
 * Runs ssh on this terminal and resolves with its exit status. Ctrl-C reaches ssh from the
 * terminal by itself, so this process lets it be; a SIGTERM or SIGHUP sent here is passed on.
 */
function runSsh(args: string[], env: Io['env']): Promise<number> {
  // The token is of no use to ssh, and a SendEnv in someone's ssh_config could send it on.
  const { TESSERA_TOKEN: _token, ...childEnv } = env;
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', args, { stdio: 'inherit', env: childEnv });
    const ignore = () => undefined;
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    const handlers = [
      ['SIGINT', ignore],
      ['SIGTERM', forward],
      ['SIGHUP', forward],
    ] as const;
    for (const [signal, handler] of handlers) process.on(signal, handler);
    const done = () => {
      for (const [signal, handler] of handlers) process.off(signal, handler);
    };
    child.on('error', (error: NodeJS.ErrnoException) => {
      done();
      if (error.code === 'ENOENT') {
        reject(new CliError('SSH_NOT_FOUND', 'no ssh client on the PATH: install OpenSSH'));
      } else {
        reject(new CliError('SSH_FAILED', `cannot run ssh: ${clean(error.message)}`));
      }
    });
    child.on('exit', (code, signal) => {
      done();
      resolve(code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0)));
    });
  });
}
