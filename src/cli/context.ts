import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import { type ApiClient, createApiClient, DEFAULT_ADDR } from './client.ts';
import type { Output } from './output.ts';

/** The process around the CLI: its streams, environment and clock. */
export interface Io extends Output {
  readonly stdin: Readable & { readonly isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly now: () => number;
  readonly cwd: string;
}

/** The options every command takes, declared once on the program. */
interface GlobalOptions {
  readonly output: 'text' | 'json';
  readonly addr?: string;
  readonly input: boolean;
}

/** What a command's action works with, resolved from the global options and the environment. */
export interface Session extends Io {
  /** `-o json`: the API's reply on stdout and nothing else. */
  readonly json: boolean;
  /** Prompts are allowed: stdin and stderr are terminals and `--no-input` was not given. */
  readonly interactive: boolean;
  /** Whether stdin is a terminal (typing there would echo a secret). */
  readonly stdinIsTerminal: boolean;
  /** The API client; made on first use, so a bad address fails only commands that need it. */
  api(): ApiClient;
}

export function processIo(): Io {
  ignoreClosedPipe(process.stdout);
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    now: () => Date.now(),
    cwd: process.cwd(),
  };
}

export function sessionOf(command: Command, io: Io): Session {
  const options = command.optsWithGlobals<GlobalOptions>();
  const stdinIsTerminal = io.stdin.isTTY === true;
  const stderrIsTerminal = (io.stderr as Writable & { isTTY?: boolean }).isTTY === true;
  let client: ApiClient | undefined;
  return {
    ...io,
    json: options.output === 'json',
    interactive: options.input && stdinIsTerminal && stderrIsTerminal,
    stdinIsTerminal,
    api() {
      client ??= createApiClient({
        addr: options.addr ?? io.env.TESSERA_ADDR ?? DEFAULT_ADDR,
        // The token comes from the environment only: a flag would show in the process list.
        token: io.env.TESSERA_TOKEN,
      });
      return client;
    },
  };
}

/**
 * When the reader of stdout goes away (`tessera audit list | head`), there is nobody left to
 * tell: the process ends without a stack trace. Any other write error still surfaces.
 */
function ignoreClosedPipe(stream: Writable): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}
