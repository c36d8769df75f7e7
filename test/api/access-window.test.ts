/**
 * An account's access window over the API with a clock the test controls: standing use opens
 * and closes with Berlin's office hours, summer and winter, a grant does not widen them, and
 * break-glass does, for its own short window only.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { STORE_KINDS } from '../support/stores.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

interface Reply {
  readonly error?: { readonly code: string };
  readonly value?: string;
  readonly id?: string;
  readonly status?: string;
  readonly grantId?: string | null;
  readonly active?: boolean;
  readonly endsAt?: string;
}

const MINUTE_MS = 60_000;
const BREAKGLASS_S = 1800;
const OFFICE_BERLIN = {
  days: ['mon', 'tue', 'wed', 'thu', 'fri'],
  start: '08:00',
  end: '19:00',
  timeZone: 'Europe/Berlin',
};

for (const store of STORE_KINDS) {
  describe(`access window on ${store}`, () => {
    let server: TestServer;
    let deadTarget: DeadTarget;
    // Monday 2026-06-01, 07:59 in Berlin (CEST, UTC+2).
    let now = Date.parse('2026-06-01T05:59:00Z');
    const tokens: Record<string, string> = {};
    const users = ['alice', 'bob', 'dave'];

    before(async () => {
      deadTarget = await startDeadTarget();
      server = await startTestServer({ store, clock: { now: () => now } });
      for (const name of users) {
        await server.api('POST', '/v1/users', { body: { name, role: 'user', password: pw(name) } });
      }
      await relogin();
      await server.api('POST', '/v1/safes', { body: { name: 'prod' } });
      const members: Record<string, string[]> = {
        alice: ['list', 'use', 'retrieve', 'checkout'],
        bob: ['list', 'approve'],
        dave: ['list'],
      };
      for (const [user, permissions] of Object.entries(members)) {
        await server.api('PUT', `/v1/safes/prod/members/${user}`, { body: { permissions } });
      }
      const target = {
        name: 'db01',
        platform: 'postgresql',
        host: '127.0.0.1',
        port: deadTarget.port,
      };
      await server.api('POST', '/v1/targets', { body: target });
      await server.api('PUT', '/v1/policies/keep', {
        body: { rotateOnCheckin: false, rotateOnCheckoutExpiry: false },
      });
      for (const username of ['postgres', 'app']) {
        const body = { username, safe: 'prod', policy: 'keep', secret: `pw-${username}` };
        assert.equal((await server.api('POST', '/v1/targets/db01/accounts', { body })).status, 201);
      }
      const policy = await server.api('PUT', '/v1/targets/db01/accounts/postgres/access-policy', {
        body: { approvalFor: [], window: OFFICE_BERLIN, breakglassWindowS: BREAKGLASS_S },
      });
      assert.equal(policy.status, 200, JSON.stringify(policy.body));
    });
    after(async () => {
      await server.stop();
      await deadTarget.close();
    });

    const pw = (name: string) => `pw-${name}-long-enough`;
    /** Login tokens live an hour by the same clock: every move of it logs in again. */
    const relogin = async () => {
      for (const name of users) {
        const login = await server.api<{ token: string }>('POST', '/v1/auth/login', {
          token: null,
          body: { user: name, password: pw(name) },
        });
        assert.equal(login.status, 200);
        tokens[name] = login.body.token;
      }
    };
    const setClock = async (utc: string) => {
      const next = Date.parse(utc);
      assert.ok(next >= now, 'the clock only moves forward');
      now = next;
      await relogin();
    };
    const as = (user: string) => tokens[user] as string;
    const reveal = (user: string, account = 'postgres') =>
      server.api<Reply>('POST', `/v1/targets/db01/accounts/${account}/reveal`, {
        token: as(user),
        body: { reason: 'looking' },
      });
    /** `open` true: the reveal works; false: OUTSIDE_ACCESS_WINDOW; a string: that refusal. */
    const expectReveal = async (
      user: string,
      at: string,
      open: boolean | string,
      account = 'postgres',
    ) => {
      const reply = await reveal(user, account);
      if (open === true) {
        assert.equal(reply.status, 200, `${user} at ${at}: ${JSON.stringify(reply.body)}`);
        assert.equal(reply.body.value, `pw-${account}`);
        return;
      }
      assert.equal(reply.status, 403, `${user} at ${at}`);
      const code = open === false ? 'OUTSIDE_ACCESS_WINDOW' : open;
      assert.equal(reply.body.error?.code, code, `${user} at ${at}`);
    };

    it('opens standing use at 08:00 on Monday in Berlin and closes it at 19:00', async () => {
      await expectReveal('alice', '07:59 CEST', false);
      await setClock('2026-06-01T06:00:00Z');
      await expectReveal('alice', '08:00 CEST', true);
      await setClock('2026-06-01T16:59:00Z');
      await expectReveal('alice', '18:59 CEST', true);
      await setClock('2026-06-01T17:00:00Z');
      await expectReveal('alice', '19:00 CEST', false);

      const checkout = await server.api<Reply>(
        'POST',
        '/v1/targets/db01/accounts/postgres/checkout',
        {
          token: as('alice'),
          body: { reason: 'after hours' },
        },
      );
      assert.equal(checkout.body.error?.code, 'OUTSIDE_ACCESS_WINDOW', 'check-out closes too');
      // The window is the postgres account's own: the safe's other account keeps its hours.
      await expectReveal('alice', '19:00 CEST', true, 'app');
    });

    it('keeps the wall-clock hours in winter and is shut at the weekend', async () => {
      // Monday 2026-12-07, CET (UTC+1): the same local hours are an hour later in UTC.
      await setClock('2026-12-07T06:00:00Z');
      await expectReveal('alice', '07:00 CET', false);
      await setClock('2026-12-07T06:59:00Z');
      await expectReveal('alice', '07:59 CET', false);
      await setClock('2026-12-07T07:00:00Z');
      await expectReveal('alice', '08:00 CET', true);
      await setClock('2026-12-07T17:59:00Z');
      await expectReveal('alice', '18:59 CET', true);
      await setClock('2026-12-07T18:00:00Z');
      await expectReveal('alice', '19:00 CET', false);
      await setClock('2026-12-12T10:00:00Z');
      await expectReveal('alice', 'Saturday 11:00 CET', false);
    });

    it('does not open the window for a grant, which still works inside it', async () => {
      // Tuesday 2026-12-15, 17:30 CET: dave, who may only list, asks for two hours.
      await setClock('2026-12-15T16:30:00Z');
      const asked = await server.api<Reply>('POST', '/v1/requests', {
        token: as('dave'),
        body: {
          account: 'db01/postgres',
          permissions: ['retrieve'],
          durationS: 2 * 3600,
          reason: 'month-end report',
        },
      });
      assert.equal(asked.status, 201, JSON.stringify(asked.body));
      const approved = await server.api<Reply>(`POST`, `/v1/requests/${asked.body.id}/approve`, {
        token: as('bob'),
        body: { comment: 'ok' },
      });
      assert.equal(approved.body.status, 'approved', JSON.stringify(approved.body));
      const grantId = approved.body.grantId as string;
      await expectReveal('dave', '17:30 CET with a grant', true);

      await setClock('2026-12-15T18:00:00Z');
      const grant = await server.api<Reply>('GET', `/v1/grants/${grantId}`);
      assert.equal(grant.body.active, true, 'the grant still runs another half hour');
      await expectReveal('dave', '19:00 CET with a live grant', false);
      await expectReveal('alice', '19:00 CET', false);
    });

    it('opens for break-glass outside the window, for the break-glass window only', async () => {
      // Tuesday 2026-12-15, 19:30 CET.
      await setClock('2026-12-15T18:30:00Z');
      const marked = await server.api('PUT', '/v1/targets/db01/accounts/postgres/breakglass', {
        body: { enabled: true },
      });
      assert.equal(marked.status, 200, JSON.stringify(marked.body));
      await expectReveal('alice', '19:30 CET before break-glass', false);

      const opened = await server.api<Reply>(
        'POST',
        '/v1/targets/db01/accounts/postgres/breakglass',
        {
          token: as('alice'),
          body: { reason: 'primary down after hours' },
        },
      );
      assert.equal(opened.status, 201, JSON.stringify(opened.body));
      assert.equal(opened.body.endsAt, new Date(now + BREAKGLASS_S * 1000).toISOString());
      await expectReveal('alice', '19:30 CET under break-glass', true);
      const checkout = await server.api<Reply>(
        'POST',
        '/v1/targets/db01/accounts/postgres/checkout',
        {
          token: as('alice'),
          body: { reason: 'repair' },
        },
      );
      assert.equal(checkout.status, 200, JSON.stringify(checkout.body));
      await server.api('POST', '/v1/targets/db01/accounts/postgres/checkin', {
        token: as('alice'),
      });
      // Break-glass is the opener's alone: dave's grant ended at 19:30, and with it his right.
      await expectReveal('dave', '19:30 CET, not his break-glass', 'FORBIDDEN');

      now += BREAKGLASS_S * 1000 - MINUTE_MS;
      await relogin();
      await expectReveal('alice', 'a minute before the break-glass ends', true);
      now += MINUTE_MS;
      await relogin();
      await expectReveal('alice', 'when the break-glass ends', false);
    });
  });
}

interface DeadTarget {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A loopback port of the test's own that hangs up on every connection: the database target
 * that is down. Ending break-glass rotates the account, and that rotation must fail here rather
 * than reach any server the test did not start.
 */
async function startDeadTarget(): Promise<DeadTarget> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.destroy();
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
