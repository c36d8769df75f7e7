import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { createLogger } from '../../src/logger.ts';
import { startServer } from '../../src/server.ts';

/**
 * The same SQLite data dir started twice (a service, and a second start by hand on another
 * port): the second would close the first's live sessions as abandoned and free its rotation
 * leases. It is refused while the first runs, and starts once the first has stopped.
 */
it('refuses a second node on a SQLite data dir in use; starts once it is free', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'tessera-claim-'));
  const start = () =>
    startServer(
      {
        dataDir,
        host: '127.0.0.1',
        port: 0,
        databaseUrl: null,
        dev: true,
        devRootToken: null,
        schedulerIntervalMs: 3_600_000,
        checkpointIntervalMs: 60_000,
      },
      { logger: createLogger({ level: 'silent' }), banner: () => undefined },
    );
  try {
    const first = await start();
    try {
      await assert.rejects(start(), (error: Error) => {
        assert.match(error.message, /another Tessera node runs with this node's id/);
        return true;
      });
      const health = await fetch(`${first.url}/v1/health`);
      assert.equal(health.status, 200, 'the first node runs on, untouched');
    } finally {
      await first.close();
    }
    const second = await start();
    await second.close();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
