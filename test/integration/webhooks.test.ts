/**
 * Outgoing webhooks against a real Tessera server and real HTTP receivers on loopback: signed
 * deliveries, retries with back-off driven by a clock the test controls, giving up with an audit
 * event, subscriptions, critical alerts, redirects refused, keys that never leak, a durable
 * outbox that survives a restart, and the CLI.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.ts';
import type { Clock } from '../../src/clock.ts';
import { verifyWebhookSignature } from '../../src/integrations/webhooks.ts';
import { createLogger } from '../../src/logger.ts';
import { type RunningServer, startServer } from '../../src/server.ts';
import { createTestStoreLocation, STORE_KINDS, type StoreKind } from '../support/stores.ts';
import { createUserWithToken, startTestServer, type TestServer } from '../support/test-server.ts';

const SECOND_MS = 1_000;
const HOUR_MS = 3_600_000;

interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** What the receiver does with the n-th request (from 1) to a path. */
type Handler = (
  n: number,
  respond: (status: number, headers?: Record<string, string>) => void,
) => void;

interface Receiver {
  readonly received: Received[];
  url(path: string): string;
  on(path: string, handler: Handler): void;
  at(path: string): Received[];
  close(): Promise<void>;
}

/** A receiver on 127.0.0.1: answers 204 unless a path was given its own handler. */
async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const handlers = new Map<string, Handler>();
  const server: Server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const requestPath = request.url ?? '/';
      received.push({
        path: requestPath,
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const n = received.filter((r) => r.path === requestPath).length;
      const handler = handlers.get(requestPath) ?? ((_n, respond) => respond(204));
      handler(n, (status, headers = {}) => {
        response.writeHead(status, headers);
        response.end(status >= 400 ? 'receiver says no' : '');
      });
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    received,
    url: (p) => `http://127.0.0.1:${port}${p}`,
    on: (p, handler) => handlers.set(p, handler),
    at: (p) => received.filter((r) => r.path === p),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

interface ErrorReply {
  readonly error: { readonly code: string; readonly message: string };
}
interface Created {
  readonly webhook: { name: string; url: string; events: string[] };
  readonly key: string;
}
interface Delivery {
  readonly id: string;
  readonly event: string;
  readonly state: string;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly nextAttemptAt: string | null;
}
interface AuditEvents {
  readonly events: readonly {
    action: string;
    object: string | null;
    outcome: string;
    reason: string | null;
    details: Record<string, unknown> | null;
  }[];
}

describe('outgoing webhooks', () => {
  for (const store of STORE_KINDS) describeWebhooks(store);
  describeRestart('sqlite');
});

function describeWebhooks(store: StoreKind): void {
  describe(`on ${store}`, () => {
    let now = Date.now();
    const clock: Clock = { now: () => now };
    let server: TestServer;
    let receiver: Receiver;
    const keys: string[] = [];

    before(async () => {
      server = await startTestServer({ store, clock });
      receiver = await startReceiver();
    });
    after(async () => {
      await server.stop();
      await receiver.close();
    });
    afterEach(async () => {
      const listed = await server.api<{ webhooks: { name: string }[] }>('GET', '/v1/webhooks');
      for (const w of listed.body.webhooks) {
        await server.api('DELETE', `/v1/webhooks/${w.name}`);
      }
    });

    const add = async (name: string, receiverPath: string, events: string[]) => {
      const created = await server.api<Created>('POST', '/v1/webhooks', {
        body: { name, url: receiver.url(receiverPath), events },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      keys.push(created.body.key);
      return created.body;
    };
    const deliveries = async (name: string) =>
      (await server.api<{ deliveries: Delivery[] }>('GET', `/v1/webhooks/${name}/deliveries`)).body
        .deliveries;
    const tick = () => server.services.webhookDispatcher.tickNow();

    it('signs with the key shown once, and with the new key after a rotation', async () => {
      const created = await add('signed', '/signed', ['request.']);
      assert.match(created.key, /^[A-Za-z0-9_-]{43}$/);
      const listed = await server.api('GET', '/v1/webhooks');
      assert.ok(!JSON.stringify(listed.body).includes(created.key), 'the list shows no key');

      await server.services.notifier.notify('request.created', { request: 'r-1', safe: 'ops' });
      await tick();
      const [first] = receiver.at('/signed');
      assert.ok(first);
      const timestamp = String(first.headers['x-tessera-timestamp']);
      const signature = String(first.headers['x-tessera-signature']);
      assert.equal(timestamp, String(Math.floor(now / 1000)));
      assert.equal(first.headers['content-type'], 'application/json');
      assert.equal(first.headers['x-tessera-event'], 'request.created');
      assert.ok(verifyWebhookSignature(created.key, timestamp, first.body, signature));
      // The scheme as documented, computed here without Tessera's helper.
      const expected = createHmac('sha256', created.key)
        .update(`${timestamp}.${first.body}`)
        .digest('hex');
      assert.equal(signature, `sha256=${expected}`);
      assert.ok(!verifyWebhookSignature(created.key, timestamp, `${first.body} `, signature));
      assert.ok(
        !verifyWebhookSignature(created.key, String(Number(timestamp) + 1), first.body, signature),
      );
      const body = JSON.parse(first.body) as Record<string, unknown>;
      assert.deepEqual(Object.keys(body).sort(), ['data', 'event', 'id', 'occurredAt', 'severity']);
      assert.equal(body.event, 'request.created');
      assert.equal(body.severity, 'info');
      assert.equal(body.occurredAt, new Date(now).toISOString());
      assert.deepEqual(body.data, { request: 'r-1', safe: 'ops' });
      const [delivery] = await deliveries('signed');
      assert.equal(first.headers['x-tessera-delivery'], delivery?.id);
      assert.deepEqual([delivery?.state, delivery?.attempts], ['delivered', 1]);

      const rotated = await server.api<Created>('POST', '/v1/webhooks/signed/rotate-key');
      assert.equal(rotated.status, 200);
      keys.push(rotated.body.key);
      assert.notEqual(rotated.body.key, created.key);
      const queued = await server.api<{ delivery: Delivery }>('POST', '/v1/webhooks/signed/test');
      assert.equal(queued.status, 202);
      await tick();
      const second = receiver.at('/signed')[1];
      assert.ok(second);
      assert.equal(second.headers['x-tessera-event'], 'webhook.test');
      assert.equal(second.headers['x-tessera-delivery'], queued.body.delivery.id);
      const ts = String(second.headers['x-tessera-timestamp']);
      const sig = String(second.headers['x-tessera-signature']);
      assert.ok(verifyWebhookSignature(rotated.body.key, ts, second.body, sig));
      assert.ok(!verifyWebhookSignature(created.key, ts, second.body, sig), 'the old key is void');
    });

    it('retries with back-off: a receiver failing twice gets the event at attempt 3', async () => {
      await add('flaky', '/flaky', ['request.']);
      receiver.on('/flaky', (n, respond) => respond(n < 3 ? 500 : 200));

      await server.services.notifier.notify('request.created', { request: 'r-2' });
      await tick();
      let [d] = await deliveries('flaky');
      assert.deepEqual([d?.state, d?.attempts, d?.lastError], ['pending', 1, 'HTTP 500']);
      assert.equal(d?.nextAttemptAt, new Date(now + 5 * SECOND_MS).toISOString());

      now += 4 * SECOND_MS;
      await tick();
      assert.equal(receiver.at('/flaky').length, 1, 'nothing before the back-off is over');

      now += 1 * SECOND_MS;
      await tick();
      [d] = await deliveries('flaky');
      assert.deepEqual([d?.state, d?.attempts], ['pending', 2]);
      assert.equal(d?.nextAttemptAt, new Date(now + 10 * SECOND_MS).toISOString());

      now += 10 * SECOND_MS;
      await tick();
      [d] = await deliveries('flaky');
      assert.deepEqual([d?.state, d?.attempts, d?.lastError], ['delivered', 3, null]);
      const attempts = receiver.at('/flaky');
      assert.equal(attempts.length, 3);
      assert.equal(new Set(attempts.map((a) => a.headers['x-tessera-delivery'])).size, 1);
      assert.equal(new Set(attempts.map((a) => a.body)).size, 1, 'the same body every time');
    });

    it('gives a failing delivery up after 10 attempts, with an audit event', async () => {
      await add('down', '/down', ['*']);
      receiver.on('/down', (_n, respond) => respond(503));
      const marker = `payload-${randomBytes(6).toString('hex')}`;
      await server.services.notifier.notify('session.killed', { note: marker });
      await tick();
      for (let i = 0; i < 12; i++) {
        now += HOUR_MS;
        await tick();
      }
      const [d] = await deliveries('down');
      assert.deepEqual([d?.state, d?.attempts, d?.lastError], ['failed', 10, 'HTTP 503']);
      assert.equal(d?.nextAttemptAt, null);
      assert.equal(receiver.at('/down').length, 10);

      const audit = await server.api<AuditEvents>(
        'GET',
        '/v1/audit/events?action=webhook.delivery.failed&limit=1000',
      );
      const failed = audit.body.events.filter((e) => e.object === 'down');
      assert.equal(failed.length, 1);
      assert.equal(failed[0]?.outcome, 'failure');
      assert.equal(failed[0]?.details?.delivery, d?.id);
      assert.equal(failed[0]?.details?.attempts, 10);
      assert.ok(!JSON.stringify(failed).includes(marker), 'no payload in the audit event');
    });

    it('keeps serving other receivers while one hangs', async () => {
      await add('slow', '/slow', ['request.']);
      await add('fast', '/fast', ['request.']);
      let release: () => void = () => {};
      receiver.on('/slow', (_n, respond) => {
        release = () => respond(200);
      });
      await server.services.notifier.notify('request.created', { request: 'r-3' });
      const done = tick();
      const deadline = Date.now() + 5_000;
      const arrived = () => receiver.at('/fast').length + receiver.at('/slow').length === 2;
      while (!arrived() && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(receiver.at('/fast').length, 1, 'the fast receiver got its event');
      assert.equal((await deliveries('fast'))[0]?.state, 'delivered');
      assert.equal(
        (await deliveries('slow'))[0]?.state,
        'pending',
        'still waiting on the slow one',
      );
      release();
      await done;
      assert.equal((await deliveries('slow'))[0]?.state, 'delivered');
    });

    it('sends an event to its subscribers, and an alert to every webhook', async () => {
      await add('requests', '/requests', ['request.']);
      await add('opened', '/opened', ['breakglass.opened']);
      await add('all', '/all', ['*']);
      const n = server.services.notifier;
      await n.notify('request.created', { request: 'r-4' });
      await n.notify('breakglass.opened', { account: 'root@db01' });
      await n.notify('breakglass.closed', { account: 'root@db01' });
      await n.notify('requests.odd', { note: 'not under the request. prefix' });
      await tick();
      const events = (p: string) => receiver.at(p).map((r) => r.headers['x-tessera-event']);
      assert.deepEqual(events('/requests'), ['request.created']);
      assert.deepEqual(events('/opened'), ['breakglass.opened']);
      assert.deepEqual(events('/all').sort(), [
        'breakglass.closed',
        'breakglass.opened',
        'request.created',
        'requests.odd',
      ]);

      await n.alert('breakglass.used', { account: 'root@db01', user: 'alice' });
      await tick();
      for (const p of ['/requests', '/opened', '/all']) {
        const alert = receiver
          .at(p)
          .find((r) => r.headers['x-tessera-event'] === 'breakglass.used');
        assert.ok(alert, `${p} got the alert`);
        const body = JSON.parse(alert.body) as { severity: string; data: unknown };
        assert.equal(body.severity, 'critical');
        assert.deepEqual(body.data, { account: 'root@db01', user: 'alice' });
      }
      const logged = server
        .logText()
        .split('\n')
        .filter((line) => line.includes('"critical alert"'))
        .map((line) => JSON.parse(line) as { level: number; event: string });
      assert.deepEqual(
        logged.map((l) => [l.level, l.event]),
        [[50, 'breakglass.used']],
      );
    });

    it('never follows a redirect', async () => {
      await add('moved', '/moved', ['request.']);
      receiver.on('/moved', (_n, respond) =>
        respond(302, { location: receiver.url('/elsewhere') }),
      );
      await server.services.notifier.notify('request.created', { request: 'r-5' });
      await tick();
      assert.equal(receiver.at('/moved').length, 1);
      assert.equal(receiver.at('/elsewhere').length, 0, 'the redirect was not followed');
      const [d] = await deliveries('moved');
      assert.equal(d?.state, 'pending');
      assert.match(d?.lastError ?? '', /^HTTP 302: redirects are not followed$/);
    });

    it('refuses URLs with credentials or another scheme, and malformed subscriptions', async () => {
      const bad: ReadonlyArray<readonly [string, string[]]> = [
        ['http://user:hunter2@127.0.0.1:9/hook', ['*']],
        ['http://user@127.0.0.1:9/hook', ['*']],
        ['ftp://127.0.0.1/hook', ['*']],
        ['file:///etc/passwd', ['*']],
        ['not a url', ['*']],
        [receiver.url('/x'), ['Request.']],
        [receiver.url('/x'), ['request..']],
        [receiver.url('/x'), ['a,b']],
      ];
      for (const [url, events] of bad) {
        const r = await server.api<ErrorReply>('POST', '/v1/webhooks', {
          body: { name: 'bad', url, events },
        });
        assert.equal(r.status, 400, url);
        assert.equal(r.body.error.code, 'VALIDATION_FAILED');
        assert.ok(!r.body.error.message.includes('hunter2'), 'the password is not echoed');
      }
      const listed = await server.api<{ webhooks: unknown[] }>('GET', '/v1/webhooks');
      assert.equal(listed.body.webhooks.length, 0);
    });

    it('lets auditors read webhooks and deliveries, and only admins change them', async () => {
      await add('visible', '/visible', ['*']);
      const auditor = await createUserWithToken(
        server,
        `aud-${randomBytes(3).toString('hex')}`,
        'auditor',
      );
      const user = await createUserWithToken(
        server,
        `usr-${randomBytes(3).toString('hex')}`,
        'user',
      );
      assert.equal((await server.api('GET', '/v1/webhooks', { token: auditor })).status, 200);
      const read = await server.api('GET', '/v1/webhooks/visible/deliveries', { token: auditor });
      assert.equal(read.status, 200);
      const body = { name: 'nope', url: receiver.url('/nope'), events: ['*'] };
      for (const token of [auditor, user]) {
        assert.equal((await server.api('POST', '/v1/webhooks', { token, body })).status, 403);
        assert.equal((await server.api('DELETE', '/v1/webhooks/visible', { token })).status, 403);
        const rotate = await server.api('POST', '/v1/webhooks/visible/rotate-key', { token });
        assert.equal(rotate.status, 403);
      }
      assert.equal((await server.api('GET', '/v1/webhooks', { token: user })).status, 403);
      const missing = await server.api<ErrorReply>('DELETE', '/v1/webhooks/missing');
      assert.equal(missing.body.error.code, 'NOT_FOUND');
    });

    it('holds deliveries while the vault is sealed and sends them once unsealed', async () => {
      await add('sealed', '/sealed', ['request.']);
      const { keyring } = server.services;
      keyring.seal();
      try {
        await server.services.notifier.notify('request.created', { request: 'r-6' });
        await tick();
        assert.equal(receiver.at('/sealed').length, 0);
      } finally {
        const key = readFileSync(path.join(server.dataDir, 'dev-unseal.key'), 'utf8').trim();
        await keyring.unsealWithKey(Buffer.from(key, 'base64'));
      }
      await tick();
      assert.equal(receiver.at('/sealed').length, 1);
    });

    it('audits changes; no key in the log, the audit trail or the store', async () => {
      await add('audited', '/audited', ['*']);
      await server.api('POST', '/v1/webhooks/audited/rotate-key').then((r) => {
        keys.push((r.body as unknown as Created).key);
      });
      await server.api('DELETE', '/v1/webhooks/audited');
      const audit = await server.api<AuditEvents>(
        'GET',
        '/v1/audit/events?action=webhook.&limit=1000',
      );
      const actions = audit.body.events.filter((e) => e.object === 'audited').map((e) => e.action);
      assert.deepEqual(actions, ['webhook.create', 'webhook.rotate-key', 'webhook.remove']);

      const all = await server.api('GET', '/v1/audit/events?limit=1000');
      const haystacks = [server.logText(), JSON.stringify(all.body)];
      if (store === 'sqlite') {
        for (const file of readdirSync(server.dataDir)) {
          if (file.startsWith('tessera.db')) {
            haystacks.push(readFileSync(path.join(server.dataDir, file)).toString('latin1'));
          }
        }
      }
      assert.ok(keys.length >= 5, 'keys from the earlier tests are searched too');
      for (const haystack of haystacks) {
        for (const key of keys) assert.ok(!haystack.includes(key), 'a webhook key leaked');
      }
    });

    it('works from the CLI: add prints the key once, list, test, deliveries, remove', async () => {
      const cli = async (...args: string[]) => {
        const stdout = new PassThrough();
        const stderr = new PassThrough();
        const out: string[] = [];
        const err: string[] = [];
        stdout.on('data', (c: Buffer) => out.push(c.toString()));
        stderr.on('data', (c: Buffer) => err.push(c.toString()));
        const code = await main(args, {
          stdout,
          stderr,
          stdin: new PassThrough(),
          env: { TESSERA_ADDR: server.url, TESSERA_TOKEN: server.rootToken },
          now: () => now,
          cwd: process.cwd(),
        });
        return { code, stdout: out.join(''), stderr: err.join('') };
      };
      const url = receiver.url('/cli');
      const added = await cli(
        'webhook',
        'add',
        'cli',
        '--url',
        url,
        '--events',
        'request.,breakglass.',
      );
      assert.equal(added.code, 0, added.stderr);
      const key = /Signing key:\s+(\S+)/.exec(added.stdout)?.[1];
      assert.ok(key !== undefined && /^[A-Za-z0-9_-]{43}$/.test(key));
      keys.push(key);
      assert.match(added.stderr, /shown only now/);

      const listed = await cli('webhook', 'list');
      assert.match(listed.stdout, /cli\s+request\.,breakglass\.\s+yes/);
      assert.ok(!listed.stdout.includes(key));

      assert.equal((await cli('webhook', 'test', 'cli')).code, 0);
      await tick();
      const [got] = receiver.at('/cli');
      assert.ok(got);
      const ts = String(got.headers['x-tessera-timestamp']);
      assert.ok(
        verifyWebhookSignature(key, ts, got.body, String(got.headers['x-tessera-signature'])),
      );
      const shown = await cli('webhook', 'deliveries', 'cli');
      assert.match(shown.stdout, /webhook\.test\s+delivered\s+1/);

      const refused = await cli(
        'webhook',
        'add',
        'x',
        '--url',
        'http://a:b@127.0.0.1/',
        '--events',
        '*',
      );
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /VALIDATION_FAILED/);
      assert.equal((await cli('webhook', 'remove', 'cli')).code, 0);
      assert.equal((await cli('webhook', 'deliveries', 'cli')).code, 1);
    });
  });
}

/** A pending delivery is in the store, not in memory: a restarted server sends it. */
function describeRestart(store: StoreKind): void {
  describe(`a restart on ${store}`, () => {
    let now = Date.now();
    const clock: Clock = { now: () => now };
    let receiver: Receiver;
    let drop: () => Promise<void> = async () => {};
    let running: RunningServer | null = null;

    before(async () => {
      receiver = await startReceiver();
    });
    after(async () => {
      await running?.close();
      await receiver.close();
      await drop();
    });

    it('sends a delivery queued before the restart', async () => {
      const place = await createTestStoreLocation(store);
      drop = place.drop;
      const rootToken = `tsr_${randomBytes(24).toString('base64url')}`;
      const boot = () =>
        startServer(
          {
            dataDir: place.dataDir,
            host: '127.0.0.1',
            port: 0,
            databaseUrl: place.databaseUrl,
            dev: true,
            devRootToken: rootToken,
            schedulerIntervalMs: HOUR_MS,
            checkpointIntervalMs: 60_000,
          },
          {
            clock,
            banner: () => {},
            logger: createLogger({ level: 'error', destination: { write: () => {} } }),
          },
        );
      const api = (server: RunningServer, method: string, p: string, body?: unknown) =>
        fetch(server.url + p, {
          method,
          headers: {
            authorization: `Bearer ${rootToken}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        }).then(async (r) => ({
          status: r.status,
          body: (await r.json()) as Record<string, unknown>,
        }));

      let up = true;
      receiver.on('/restart', (_n, respond) => respond(up ? 200 : 503));
      running = await boot();
      const created = await api(running, 'POST', '/v1/webhooks', {
        name: 'survivor',
        url: receiver.url('/restart'),
        events: ['request.'],
      });
      assert.equal(created.status, 201);
      const key = String(created.body.key);

      up = false;
      await running.services.notifier.notify('request.created', { request: 'r-7' });
      await running.services.webhookDispatcher.tickNow();
      assert.equal(receiver.at('/restart').length, 1, 'the first attempt failed');
      await running.close();
      running = null;

      up = true;
      running = await boot();
      now += 5 * SECOND_MS;
      await running.services.webhookDispatcher.tickNow();
      const attempts = receiver.at('/restart');
      assert.equal(attempts.length, 2, 'sent again after the restart');
      const [before, last] = attempts;
      assert.equal(before?.headers['x-tessera-delivery'], last?.headers['x-tessera-delivery']);
      assert.ok(last);
      const ts = String(last.headers['x-tessera-timestamp']);
      assert.ok(
        verifyWebhookSignature(key, ts, last.body, String(last.headers['x-tessera-signature'])),
      );
      const listed = await api(running, 'GET', '/v1/webhooks/survivor/deliveries');
      const [d] = listed.body.deliveries as Delivery[];
      assert.deepEqual([d?.state, d?.attempts], ['delivered', 2]);
    });
  });
}
