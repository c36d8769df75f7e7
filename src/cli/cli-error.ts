/** Exit status when the API, the network or the vault said no. */
export const EXIT_FAILURE = 1;
/** Exit status when the command line itself is wrong: nothing was sent. */
export const EXIT_USAGE = 2;

export type ErrorDetails = Readonly<Record<string, unknown>>;

/**
 * Every failure the CLI reports: a stable code (the API's own code when the server answered,
 * a CLI code otherwise), a message for people that never carries a token or a secret, and the
 * exit status to leave with.
 */
export class CliError extends Error {
  readonly code: string;
  readonly exitCode: number;
  readonly details: ErrorDetails | undefined;
  readonly requestId: string | undefined;

  constructor(
    code: string,
    message: string,
    options: {
      exitCode?: number;
      details?: ErrorDetails;
      requestId?: string;
      cause?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.code = code;
    this.exitCode = options.exitCode ?? EXIT_FAILURE;
    this.details = options.details;
    this.requestId = options.requestId;
  }
}

export function usageError(message: string): CliError {
  return new CliError('USAGE', message, { exitCode: EXIT_USAGE });
}
