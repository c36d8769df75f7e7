import type { Command } from 'commander';
import type { GatewayConfig } from '../../gateway/gateway.ts';
import type { RunningServer, ServerConfig } from '../../server.ts';
import { CliError } from '../cli-error.ts';
import { type Io, sessionOf } from '../context.ts';
import { printNote, printWarning } from '../output.ts';
import {
  DEFAULT_DATA_DIR,
  DEFAULT_LISTEN,
  DEFAULT_SSH_LISTEN,
  parseServerConfig,
  type ServerFlags,
} from '../server-config.ts';

/** How long open requests get to finish after SIGINT or SIGTERM. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

const SERVER_HELP = `
Environment (better than the flags: arguments are visible to every local user):
  TESSERA_DATABASE_URL    postgres://... for a PostgreSQL store
  TESSERA_NODE_SETTINGS   off: keep Node's own heap and malloc settings, not the server's
                          (half the CPU while relaying; see src/node-settings.ts)
  TESSERA_DEV_ROOT_TOKEN  with --dev: a fixed root token
  TESSERA_SSH_LISTEN      the SSH gateway's HOST:PORT, or off (as --ssh-listen)
  TESSERA_NODE_URL        where other nodes reach this node's API (as --node-url)

The API is plain HTTP in this version: listen on loopback behind a TLS-terminating reverse
proxy (the audit trail then records the proxy's address as the source of every request).

Examples:
  tessera server --dev --data-dir ./.tessera-dev
  TESSERA_DATABASE_URL=postgres://tessera@db.internal/tessera \\
    tessera server --listen 127.0.0.1:7200 --ssh-listen 0.0.0.0:2222`;

export function registerServer(program: Command, io: Io): void {
  program
    .command('server')
    .description('run the Tessera server until SIGINT or SIGTERM')
    .option('--dev', 'dev mode: the unseal key is kept in the data directory (never in production)')
    .option(
      '--data-dir <dir>',
      'where the SQLite store (and in dev mode the unseal key) live',
      DEFAULT_DATA_DIR,
    )
    .option(
      '--listen <host:port>',
      'the address to serve the API on; [v6]:port for IPv6',
      DEFAULT_LISTEN,
    )
    .option(
      '--database-url <url>',
      'a PostgreSQL store instead of SQLite (prefer TESSERA_DATABASE_URL)',
    )
    .option(
      '--dev-root-token <token>',
      'with --dev: a fixed root token (prefer TESSERA_DEV_ROOT_TOKEN)',
    )
    .option(
      '--ssh-listen <host:port>',
      `the SSH gateway's address, or off (default: ${DEFAULT_SSH_LISTEN} with --dev, else off)`,
    )
    .option('--ssh-password-login', 'let gateway users log in with their Tessera password too')
    .option(
      '--node-url <url>',
      "where other nodes reach this node's API, to watch its sessions through them " +
        '(default: the --listen address, unless that is loopback, 0.0.0.0 or ::)',
    )
    .addHelpText('after', SERVER_HELP)
    .action(async (options: ServerFlags, command: Command) => {
      const session = sessionOf(command, io);
      const { config, warnings, secrets, gateway } = parseServerConfig(options, io.env, io.cwd);
      for (const warning of warnings) printWarning(session, warning);

      const note = (line: string) => printNote(session, line);
      const running = await start(config, secrets, note, gateway);
      announceGateway(running, note);
      if (config.databaseUrl !== null && running.nodeUrl === null) {
        note(
          'tessera: other nodes cannot pass watches or recordings on from this one: give it ' +
            '--node-url, its own address as they reach it',
        );
      }
      if (!config.dev) {
        await hintAtSealState(running, (line) => printNote(session, line)).catch(() => {
          // A hint is not worth stopping a server that is already serving; the log has the rest.
        });
      }
      const signal = await nextSignal();
      printNote(session, `tessera: ${signal} received, shutting down (again to stop at once)`);
      await stop(running);
    });
}

/** The server is loaded only here, so that client commands stay quick to start. */
async function start(
  config: Readonly<ServerConfig>,
  secrets: readonly string[],
  banner: (line: string) => void,
  gateway: Readonly<GatewayConfig> | null,
): Promise<RunningServer> {
  try {
    const { startServer } = await import('../../server.ts');
    return await startServer(config, { banner, ...(gateway === null ? {} : { gateway }) });
  } catch (error) {
    const message = error instanceof Error ? error.message : 'unknown failure';
    throw new CliError(
      'SERVER_START_FAILED',
      redact(message, secrets) + gatewayHint(error, gateway),
    );
  }
}

/** Where users point ssh, and the host key to expect there (for their known_hosts). */
function announceGateway(running: RunningServer, note: (line: string) => void): void {
  const gateway = running.gateway;
  if (gateway === null) return;
  const address = `[${gateway.host}]:${gateway.port}`;
  note(`tessera: SSH gateway on ${address}; for known_hosts: ${address} ${gateway.hostKey}`);
}

/** A dev server's gateway takes port 2222 unasked: say how to move it when that port is taken. */
function gatewayHint(error: unknown, gateway: Readonly<GatewayConfig> | null): string {
  const code = (error as { code?: unknown } | null)?.code;
  const port = (error as { port?: unknown } | null)?.port;
  if (gateway === null || code !== 'EADDRINUSE' || port !== gateway.port) return '';
  return ' (the SSH gateway: choose another port with --ssh-listen HOST:PORT, or --ssh-listen off)';
}

/**
 * A real server starts sealed and serves no secret until operators act; the JSON log says so to
 * machines, this says what to do next to the person who started it.
 */
async function hintAtSealState(
  running: RunningServer,
  note: (line: string) => void,
): Promise<void> {
  const status = await running.services.keyring.status();
  const at = `TESSERA_ADDR=${running.url}`;
  if (!status.initialized) {
    note(`tessera: the vault is not initialised: run tessera operator init (${at})`);
  } else if (status.sealed) {
    const needed = `${status.threshold} share${status.threshold === 1 ? '' : 's'} needed`;
    note(`tessera: the vault is sealed: run tessera operator unseal (${needed}; ${at})`);
  }
}

/**
 * Resolves at the first SIGINT or SIGTERM, then gives the signals back to Node's default
 * handling, so that a second one ends a shutdown that hangs.
 */
function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

async function stop(running: RunningServer): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new CliError(
          'SHUTDOWN_TIMEOUT',
          `the server did not close within ${SHUTDOWN_TIMEOUT_MS / 1000}s`,
        ),
      );
    }, SHUTDOWN_TIMEOUT_MS);
  });
  try {
    await Promise.race([running.close(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A start error could quote a connection string; secrets are cut out before it is shown. */
function redact(message: string, secrets: readonly string[]): string {
  return secrets.reduce((text, secret) => text.replaceAll(secret, '[redacted]'), message);
}
