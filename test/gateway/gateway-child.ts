/**
 * A Tessera with its SSH gateway in a process of its own, for the test that kills it outright.
 * It goes through `startServer` in dev mode, and prints `{"url", "gatewayPort"}` as one JSON
 * line once both listen. Settings: TESSERA_CHILD_DATA_DIR and TESSERA_CHILD_ROOT_TOKEN.
 */
import { DEFAULT_GATEWAY_CONFIG } from '../../src/gateway/gateway.ts';
import { createLogger } from '../../src/logger.ts';
import { startServer } from '../../src/server.ts';

const dataDir = process.env.TESSERA_CHILD_DATA_DIR ?? '';
const rootToken = process.env.TESSERA_CHILD_ROOT_TOKEN ?? '';
if (dataDir === '' || rootToken === '') {
  process.stderr.write('gateway-child: TESSERA_CHILD_DATA_DIR and TESSERA_CHILD_ROOT_TOKEN\n');
  process.exit(2);
}
const server = await startServer(
  {
    dataDir,
    host: '127.0.0.1',
    port: 0,
    databaseUrl: null,
    dev: true,
    devRootToken: rootToken,
    schedulerIntervalMs: 3_600_000,
    checkpointIntervalMs: 60_000,
  },
  {
    logger: createLogger({ level: 'info', destination: process.stderr }),
    banner: () => undefined,
    gateway: { ...DEFAULT_GATEWAY_CONFIG, port: 0 },
  },
);
process.stdout.write(`${JSON.stringify({ url: server.url, gatewayPort: server.gateway?.port })}\n`);
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
