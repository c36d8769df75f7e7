/**
 * One Tessera server in a process of its own, for tests that kill it outright and start it
 * again on the same data directory. It goes through `startServer`, the production entry, in dev
 * mode on a free loopback port, and prints `{"url": ...}` as one JSON line on stdout once it
 * listens. Logs and the dev banner go to stderr.
 *
 * Settings come from the environment (see `server-process.ts`, which starts this script):
 * TESSERA_CHILD_DATA_DIR, TESSERA_CHILD_ROOT_TOKEN, and optionally TESSERA_CHILD_DATABASE_URL,
 * TESSERA_CHILD_SCHEDULER_MS and TESSERA_CHILD_CLOCK_OFFSET_MS (a clock running ahead of the
 * real one, as on a restart long after a crash).
 */
import type { Clock } from '../../src/clock.ts';
import { createLogger } from '../../src/logger.ts';
import { type RunningServer, startServer } from '../../src/server.ts';

const DEFAULT_SCHEDULER_MS = 1_000;
const CHECKPOINT_INTERVAL_MS = 60_000;

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    process.stderr.write(`server-child: ${name} is not set\n`);
    process.exit(2);
  }
  return value;
}

function whole(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isSafeInteger(value) || value < 0) {
    process.stderr.write(`server-child: ${name} must be a whole number\n`);
    process.exit(2);
  }
  return value;
}

function clockAhead(offsetMs: number): Clock {
  return { now: () => Date.now() + offsetMs };
}

async function main(): Promise<RunningServer> {
  const server = await startServer(
    {
      dataDir: required('TESSERA_CHILD_DATA_DIR'),
      host: '127.0.0.1',
      port: 0,
      databaseUrl: process.env.TESSERA_CHILD_DATABASE_URL || null,
      dev: true,
      devRootToken: required('TESSERA_CHILD_ROOT_TOKEN'),
      schedulerIntervalMs: whole('TESSERA_CHILD_SCHEDULER_MS', DEFAULT_SCHEDULER_MS),
      checkpointIntervalMs: CHECKPOINT_INTERVAL_MS,
    },
    {
      logger: createLogger({ level: 'debug', destination: process.stderr }),
      clock: clockAhead(whole('TESSERA_CHILD_CLOCK_OFFSET_MS', 0)),
    },
  );
  process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
  return server;
}

const server = await main();
const shutDown = () => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', shutDown);
// The parent holds our stdin open; when it goes away, so does this server.
process.stdin.once('end', shutDown);
process.stdin.resume();
