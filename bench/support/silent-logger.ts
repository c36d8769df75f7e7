import type { Logger } from 'pino';
import { createLogger } from '../../src/logger.ts';

/** For services built in-process: Tessera's own logger, writing nowhere below `error`. */
export function quietLogger(): Logger {
  return createLogger({ level: 'error', destination: { write: () => {} } });
}
