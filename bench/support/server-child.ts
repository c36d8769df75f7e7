/**
 * A Tessera server in its own process, so that a load generator never shares its event loop.
 * The parent (server-process.ts) sends the configuration over IPC, waits for `ready`, and ends
 * the server with `stop` (a clean exit, so `--cpu-prof` can write its profile) or with SIGKILL.
 */
import path from 'node:path';
import pino from 'pino';
import type { AuditLog } from '../../src/audit/audit-log.ts';
import { createLogger } from '../../src/logger.ts';
import { type RunningServer, startServer } from '../../src/server.ts';

export interface ChildServerConfig {
  readonly dataDir: string;
  readonly databaseUrl: string | null;
  readonly rootToken: string;
  /** `off` replaces the audit trail with one that writes nothing: the cost-of-audit baseline. */
  readonly audit: 'on' | 'off';
}

export type ParentMessage =
  | { readonly type: 'start'; readonly config: ChildServerConfig }
  | { readonly type: 'stop' };

export type ChildMessage =
  | { readonly type: 'ready'; readonly url: string }
  | { readonly type: 'failed'; readonly message: string };

/** The intervals the `server` command uses, so background work runs as it would in production. */
const SCHEDULER_INTERVAL_MS = 15_000;
const CHECKPOINT_INTERVAL_MS = 1_000;

const noAudit = (): AuditLog => ({
  appendInTx: async () => {},
  record: async () => {},
});

let running: RunningServer | null = null;

async function start(config: ChildServerConfig): Promise<void> {
  // Request logging stays on at info, as in production; it goes to a file, not to a pipe the
  // parent would have to drain.
  const destination = pino.destination({ dest: path.join(config.dataDir, 'server.log') });
  running = await startServer(
    {
      dataDir: config.dataDir,
      host: '127.0.0.1',
      port: 0,
      databaseUrl: config.databaseUrl,
      dev: true,
      devRootToken: config.rootToken,
      schedulerIntervalMs: SCHEDULER_INTERVAL_MS,
      checkpointIntervalMs: CHECKPOINT_INTERVAL_MS,
    },
    {
      logger: createLogger({ level: 'info', destination }),
      banner: () => {},
      ...(config.audit === 'off' ? { auditLog: noAudit } : {}),
    },
  );
  send({ type: 'ready', url: running.url });
}

async function stop(): Promise<void> {
  await running?.close();
  process.exit(0);
}

function send(message: ChildMessage): void {
  process.send?.(message);
}

process.on('message', (message: ParentMessage) => {
  if (message.type === 'start') {
    start(message.config).catch((error: unknown) => {
      send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
      process.exit(1);
    });
  } else {
    void stop();
  }
});

// An orchestrator that dies must not leave a server running behind it.
process.on('disconnect', () => process.exit(1));
