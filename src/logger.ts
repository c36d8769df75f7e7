import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * JSON logs. Redaction is the last line of defence: services never log secrets to begin with,
 * and a test sends real secrets through the API and searches the log for them.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-tessera-watch-ticket"]',
  'req.headers["x-tessera-recording-ticket"]',
  'headers.authorization',
  '*.password',
  '*.secret',
  '*.value',
  '*.token',
  '*.rootToken',
  '*.share',
  '*.shares',
  '*.newSecret',
];

/** The parts of a Fastify request the log keeps. */
interface LoggedRequest {
  readonly method?: string;
  readonly url?: string;
  readonly ip?: string;
  readonly socket?: { readonly remotePort?: number } | null;
}

/**
 * A request in the log: method, path and remote address, never the query string. A client that
 * wrongly puts a token or password in the URL must not see it written to disk here. The request
 * id is on every line already, bound by Fastify.
 */
export function requestSummary(req: LoggedRequest) {
  return {
    method: req.method,
    path: req.url?.split('?', 1)[0],
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

export function createLogger(
  options: { level?: string; destination?: DestinationStream } = {},
): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      // Fastify takes these over its own, which log the whole URL.
      serializers: { req: requestSummary },
      base: { service: 'tessera' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
