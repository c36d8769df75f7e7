/**
 * A grant's end does not depend on Tessera running when it comes: a grant that ends while the
 * server is down refuses use from the first request after the restart, by the clock alone, and
 * the first tick after it closes the grant and checks in what was checked out under it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { Clock } from '../../src/clock.ts';
import { createLogger } from '../../src/logger.ts';
import { type RunningServer, startServer } from '../../src/server.ts';
import {
  createTestStoreLocation,
  STORE_KINDS,
  type StoreKind,
  type TestStoreLocation,
} from '../support/stores.ts';

type Reply = {
  error?: { code: string; message: string };
  token?: string;
  id?: string;
  status?: string;
  grantId?: string | null;
  value?: string;
  active?: boolean;
  checkout?: { holder: string } | null;
};
type Api = (
  method: string,
  route: string,
  token?: string | null,
  body?: unknown,
) => Promise<{ status: number; body: Reply }>;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const GRANT_S = 600;
const ROUTE = '/v1/targets/db01/accounts/postgres';
/** A check-out meant to outlast the grant by hours: only the grant's end may check it in. */
const CHECKOUT = { reason: 'vacuum', durationS: 4 * 3600 };

for (const store of STORE_KINDS) describeRestart(store);

function describeRestart(store: StoreKind): void {
  describe(`a grant ending while the server is down, on ${store}`, () => {
    let now = Date.parse('2026-12-02T10:00:00Z');
    const clock: Clock = { now: () => now };
    let place: TestStoreLocation | null = null;
    let running: RunningServer | null = null;
    const rootToken = `tsr_${randomBytes(24).toString('base64url')}`;

    after(async () => {
      await running?.close();
      await place?.drop();
    });

    const boot = (at: TestStoreLocation) =>
      startServer(
        {
          dataDir: at.dataDir,
          host: '127.0.0.1',
          port: 0,
          databaseUrl: at.databaseUrl,
          dev: true,
          devRootToken: rootToken,
          schedulerIntervalMs: HOUR,
          checkpointIntervalMs: 60_000,
        },
        {
          clock,
          banner: () => {},
          logger: createLogger({ level: 'error', destination: { write: () => {} } }),
        },
      );

    /** Calls whichever server is running now. */
    const api: Api = async (method, route, token = rootToken, body) => {
      const response = await fetch((running as RunningServer).url + route, {
        method,
        headers: {
          ...(token === null ? {} : { authorization: `Bearer ${token}` }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      return { status: response.status, body: (text === '' ? {} : JSON.parse(text)) as Reply };
    };

    it('is refused at once after the restart, and closed at the first tick', async () => {
      place = await createTestStoreLocation(store);
      running = await boot(place);
      const tokens = await setUp(api, rootToken);
      const alice = tokens.alice as string;
      const reveal = () => api('POST', `${ROUTE}/reveal`, alice, { reason: 'vacuum' });
      assert.equal((await reveal()).body.error?.code, 'APPROVAL_REQUIRED');
      const grantId = await grantFor(api, alice, tokens.bob as string);
      assert.equal((await ok('reveal', reveal())).value, 'pw-postgres');
      await ok('checkout', api('POST', `${ROUTE}/checkout`, alice, CHECKOUT));
      assert.equal((await ok('account', api('GET', ROUTE))).checkout?.holder, 'alice');

      await running.close();
      running = null;
      now += GRANT_S * 1000 + MINUTE;
      running = await boot(place);
      // The test ticks from here on. The ticker's first interval would come 1 s after it
      // started, well after the boot; the unclosed grant row below proves none ran.
      await running.services.accessTicker.stop();
      const { db } = running.services.store;
      const closedAt = async () =>
        (
          await db
            .selectFrom('grants')
            .select('closed_at')
            .where('id', '=', grantId)
            .executeTakeFirstOrThrow()
        ).closed_at;
      assert.equal(await closedAt(), null, 'no tick has closed the grant yet');

      const refused = await reveal();
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      assert.equal(refused.body.error?.code, 'APPROVAL_REQUIRED');
      const again = await api('POST', `${ROUTE}/checkout`, alice, CHECKOUT);
      assert.equal(again.body.error?.code, 'APPROVAL_REQUIRED');
      assert.equal((await ok('grant', api('GET', `/v1/grants/${grantId}`))).active, false);
      assert.equal(await closedAt(), null, 'refused by the clock, not by a tick');
      assert.equal((await ok('account', api('GET', ROUTE))).checkout?.holder, 'alice');

      await running.services.accessTicker.tickNow();
      assert.equal(await closedAt(), now);
      assert.equal((await ok('account', api('GET', ROUTE))).checkout, null, 'checked in');
      const events = await db
        .selectFrom('audit_events')
        .select(['action', 'object_id', 'reason', 'details'])
        .where('action', 'in', ['grant.expire', 'account.checkin'])
        .orderBy('seq')
        .execute();
      assert.deepEqual(
        events.map((e) => [e.action, e.object_id === grantId, e.reason]),
        [
          ['account.checkin', false, 'grant expired'],
          ['grant.expire', true, null],
        ],
      );
      const checkin = JSON.parse(String(events[0]?.details));
      assert.deepEqual(checkin, { holder: 'alice', automatic: true });

      // Closed once: another tick finds nothing more to do.
      await running.services.accessTicker.tickNow();
      const expiries = await db
        .selectFrom('audit_events')
        .select('seq')
        .where('action', '=', 'grant.expire')
        .execute();
      assert.equal(expiries.length, 1);
      assert.equal((await reveal()).body.error?.code, 'APPROVAL_REQUIRED');
    });
  });
}

async function ok(what: string, reply: ReturnType<Api>): Promise<Reply> {
  const { status, body } = await reply;
  assert.ok(status >= 200 && status < 300, `${what}: ${status} ${JSON.stringify(body)}`);
  return body;
}

/**
 * Alice may retrieve and check out db01/postgres once one approval is given; Bob approves.
 * Returns their login tokens.
 */
async function setUp(api: Api, root: string): Promise<Record<string, string>> {
  const tokens: Record<string, string> = {};
  for (const name of ['alice', 'bob']) {
    const password = `pw-${name}-${randomBytes(9).toString('base64url')}`;
    await ok('user', api('POST', '/v1/users', root, { name, role: 'user', password }));
    const login = await ok('login', api('POST', '/v1/auth/login', null, { user: name, password }));
    tokens[name] = String(login.token);
  }
  await ok('safe', api('POST', '/v1/safes', root, { name: 'prod' }));
  const members = { alice: ['list', 'retrieve', 'checkout'], bob: ['list', 'approve'] };
  for (const [user, permissions] of Object.entries(members)) {
    await ok('member', api('PUT', `/v1/safes/prod/members/${user}`, root, { permissions }));
  }
  const target = { name: 'db01', platform: 'postgresql', host: '127.0.0.1', port: 9 };
  await ok('target', api('POST', '/v1/targets', root, target));
  // No rotation on check-in or expiry: the target is never asked for anything.
  const keep = { rotateOnCheckin: false, rotateOnCheckoutExpiry: false, maxCheckoutS: 8 * 3600 };
  await ok('policy', api('PUT', '/v1/policies/keep', root, keep));
  const account = { username: 'postgres', safe: 'prod', policy: 'keep', secret: 'pw-postgres' };
  await ok('account', api('POST', '/v1/targets/db01/accounts', root, account));
  const gate = { approvalFor: ['retrieve', 'checkout'], approvalsRequired: 1 };
  await ok('access policy', api('PUT', '/v1/safes/prod/access-policy', root, gate));
  return tokens;
}

/** Alice asks for the account for GRANT_S, Bob approves: returns the grant's id. */
async function grantFor(api: Api, alice: string, bob: string): Promise<string> {
  const asked = await ok(
    'request',
    api('POST', '/v1/requests', alice, {
      account: 'db01/postgres',
      durationS: GRANT_S,
      reason: 'vacuum the big table',
    }),
  );
  const approved = await ok(
    'approve',
    api('POST', `/v1/requests/${asked.id}/approve`, bob, { comment: 'ok' }),
  );
  assert.equal(approved.status, 'approved');
  return String(approved.grantId);
}
