import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * JSON logs. Redaction is the last line of defence: services never log secrets to begin with,
 * and a test sends real secrets through the API and searches the log for them.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
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

export function createLogger(
  options: { level?: string; destination?: DestinationStream } = {},
): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      base: { service: 'tessera' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
