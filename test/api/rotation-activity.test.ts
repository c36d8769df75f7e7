import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../support/test-server.ts';

type Activity = { days?: Array<{ day: string; rotated: number; failed: number }> };

/** The console's rotation chart: failed rotations land on the UTC day they happened. */
describe('rotation activity per day', () => {
  let server: TestServer;
  let now = Date.parse('2026-12-02T23:30:00Z');

  before(async () => {
    server = await startTestServer({ clock: { now: () => now } });
    await server.api('POST', '/v1/safes', { body: { name: 'ops' } });
    // Nothing listens on port 9: every rotation fails, and says so in the trail.
    const target = { name: 'gone', platform: 'postgresql', host: '127.0.0.1', port: 9 };
    await server.api('POST', '/v1/targets', { body: target });
    const body = { username: 'app', safe: 'ops', secret: 'initial' };
    assert.equal((await server.api('POST', '/v1/targets/gone/accounts', { body })).status, 201);
  });
  after(() => server.stop());

  const rotate = () => server.api('POST', '/v1/targets/gone/accounts/app/rotate', { body: {} });

  it('counts failures per day, an empty day included', async () => {
    await rotate();
    now += 3600_000; // past midnight UTC: 2026-12-03
    await rotate();
    await rotate();
    now += 2 * 86_400_000; // 2026-12-05
    const reply = await server.api<Activity>('GET', '/v1/rotation/activity?days=4');
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body.days, [
      { day: '2026-12-02', rotated: 0, failed: 1 },
      { day: '2026-12-03', rotated: 0, failed: 2 },
      { day: '2026-12-04', rotated: 0, failed: 0 },
      { day: '2026-12-05', rotated: 0, failed: 0 },
    ]);
  });

  it('refuses a period it will not count', async () => {
    const reply = await server.api('GET', '/v1/rotation/activity?days=0');
    assert.equal(reply.status, 400);
  });
});
