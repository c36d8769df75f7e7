/**
 * A Tessera server with its SSH gateway in a process of its own, for bench/gateway.ts: the load
 * generators and the probes never share its event loop, and its resident memory is its own. The
 * parent (gateway-rig.ts) sends the configuration over IPC and waits for `ready`; it may ask for
 * the memory in use (after a full collection, so garbage does not count) and ends it with `stop`.
 * Run with `--expose-gc`.
 */
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import pino from 'pino';
import { DEFAULT_GATEWAY_CONFIG } from '../../src/gateway/gateway.ts';
import { createLogger } from '../../src/logger.ts';
import { type RunningServer, startServer } from '../../src/server.ts';

export interface GatewayChildConfig {
  readonly dataDir: string;
  readonly rootToken: string;
}

export interface ChildMemory {
  readonly rss: number;
  readonly heapTotal: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
  /**
   * V8's young generation (new space), which V8 sizes by the rate of allocation, not by what is
   * kept: it grows to its maximum under any steady load, however few sessions carry it.
   */
  readonly youngGeneration: number;
}

/**
 * How much later than due the gateway's event loop ran a 1 ms timer, in milliseconds, while it
 * was watched (the timer's own 1 ms taken off). Percentiles count one sample per turn, so a single
 * long stall shows only in `max`.
 */
export interface LoopDelay {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export type GatewayParentMessage =
  | { readonly type: 'start'; readonly config: GatewayChildConfig }
  | { readonly type: 'memory' }
  | { readonly type: 'loop-delay' }
  | { readonly type: 'stop' };

export type GatewayChildMessage =
  | {
      readonly type: 'ready';
      readonly url: string;
      readonly gatewayPort: number;
      readonly hostKey: string;
    }
  | { readonly type: 'memory'; readonly memory: ChildMemory }
  | { readonly type: 'loop-delay'; readonly delay: LoopDelay | null }
  | { readonly type: 'failed'; readonly message: string };

/** The intervals the `server` command uses, so background work runs as it would in production. */
const SCHEDULER_INTERVAL_MS = 15_000;
const CHECKPOINT_INTERVAL_MS = 1_000;

let running: RunningServer | null = null;
// Every keystroke through the gateway waits for its event loop: a late loop is a late echo.
const LOOP_RESOLUTION_MS = 1;
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
let watchingLoop = false;

/** Starts watching the loop (null), or stops and says how late it ran. */
function toggleLoopDelay(): LoopDelay | null {
  watchingLoop = !watchingLoop;
  if (watchingLoop) {
    loopDelay.reset();
    loopDelay.enable();
    return null;
  }
  loopDelay.disable();
  const late = (nanoseconds: number) => Math.max(0, nanoseconds / 1e6 - LOOP_RESOLUTION_MS);
  return {
    p50: late(loopDelay.percentile(50)),
    p99: late(loopDelay.percentile(99)),
    max: late(loopDelay.max),
  };
}

async function start(config: GatewayChildConfig): Promise<void> {
  // Logged at info, as in production, to a file rather than a pipe the parent must drain.
  const destination = pino.destination({ dest: path.join(config.dataDir, 'server.log') });
  running = await startServer(
    {
      dataDir: config.dataDir,
      host: '127.0.0.1',
      port: 0,
      databaseUrl: null,
      dev: true,
      devRootToken: config.rootToken,
      schedulerIntervalMs: SCHEDULER_INTERVAL_MS,
      checkpointIntervalMs: CHECKPOINT_INTERVAL_MS,
    },
    {
      logger: createLogger({ level: 'info', destination }),
      banner: () => undefined,
      gateway: { ...DEFAULT_GATEWAY_CONFIG, port: 0 },
    },
  );
  const gateway = running.gateway;
  if (gateway === null) throw new Error('the gateway did not start');
  send({ type: 'ready', url: running.url, gatewayPort: gateway.port, hostKey: gateway.hostKey });
}

/**
 * V8 frees the Buffers a full collection found dead on another thread, after the collection
 * returns; read at once, their memory still counted (tens of MiB under a relay's load).
 */
const SWEEP_WAIT_MS = 100;

async function memory(): Promise<ChildMemory> {
  const collect = (globalThis as { gc?: () => void }).gc;
  collect?.();
  await sleep(SWEEP_WAIT_MS);
  const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
  const spaces = Object.fromEntries(
    v8.getHeapSpaceStatistics().map((space) => [space.space_name, space.space_size]),
  );
  const youngGeneration = (spaces.new_space ?? 0) + (spaces.new_large_object_space ?? 0);
  return { rss, heapTotal, heapUsed, external, arrayBuffers, youngGeneration };
}

async function stop(): Promise<void> {
  await running?.close();
  process.exit(0);
}

function send(message: GatewayChildMessage): void {
  process.send?.(message);
}

process.on('message', (message: GatewayParentMessage) => {
  if (message.type === 'start') {
    start(message.config).catch((error: unknown) => {
      send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
      process.exit(1);
    });
  } else if (message.type === 'memory') {
    memory().then(
      (measured) => send({ type: 'memory', memory: measured }),
      (error: unknown) => send({ type: 'failed', message: String(error) }),
    );
  } else if (message.type === 'loop-delay') {
    send({ type: 'loop-delay', delay: toggleLoopDelay() });
  } else {
    void stop();
  }
});

// An orchestrator that dies must not leave a gateway running behind it.
process.on('disconnect', () => process.exit(1));
