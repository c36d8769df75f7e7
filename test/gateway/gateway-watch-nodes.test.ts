/**
 * Two Tessera nodes on one PostgreSQL database. A real OpenSSH session runs through node A; an
 * auditor behind a load balancer reaches node B and watches it there: node B passes the watch on
 * to node A with a one-time ticket and forwards the stream, read-only, until the session or the
 * auditor's sign-in ends.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import websocket from '@fastify/websocket';
import Fastify from 'fastify';
import { main } from '../../src/cli/main.ts';
import { RECORDING_TICKET_HEADER } from '../../src/http/routes/recording-routes.ts';
import { WATCH_TICKET_HEADER } from '../../src/http/routes/watch-relay.ts';
import { digestOf } from '../../src/identity/tokens.ts';
import { useSshd } from '../support/sshd.ts';
import {
  auditEvents,
  eventually,
  gatewayUser,
  type Harness,
  linuxAccount,
  sshThrough,
  startHarness,
  startNodeOn,
  startSecondNode,
} from './support.ts';

type Row = Record<string, unknown>;

/** Relayed watches say they are alive this often here (15 s in a real server). */
const ALIVE_MS = 200;

interface Watch {
  readonly texts: Row[];
  screen(): string;
  /** How the server closed the watch. */
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly socket: WebSocket;
}

/** Opens a watch socket and keeps what it receives. */
function openWatch(url: string, headers: Record<string, string>): Watch {
  const socket = new WebSocket(url, { headers });
  socket.binaryType = 'arraybuffer';
  const texts: Row[] = [];
  let screen = '';
  socket.addEventListener('message', (message) => {
    if (typeof message.data === 'string') texts.push(JSON.parse(message.data) as Row);
    else screen += Buffer.from(message.data as ArrayBuffer).toString('utf8');
  });
  socket.addEventListener('error', () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve, reject) => {
    socket.addEventListener('close', (event) =>
      resolve({ code: event.code, reason: event.reason }),
    );
    setTimeout(() => reject(new Error('the watch was not closed')), 15_000).unref();
  });
  return { texts, screen: () => screen, closed, socket };
}

describe('ssh gateway: a session on node A watched through node B (one PostgreSQL)', () => {
  const sshd = useSshd();
  let a: Harness;
  let b: Awaited<ReturnType<typeof startSecondNode>>;

  before(async () => {
    a = await startHarness({ store: 'postgres', watchRelayAliveMs: ALIVE_MS });
    b = await startSecondNode(a, { watchRelayAliveMs: ALIVE_MS });
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
  });

  const nodeIdOf = (dataDir: string) => readFileSync(path.join(dataDir, 'node-id'), 'utf8').trim();
  const watchUrl = (server: { url: string }, id: string, route = 'watch') =>
    `${server.url.replace('http', 'ws')}/v1/sessions/${id}/${route}`;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  /** A session through node A that prints `mark` lines for `seconds`, once it has printed one. */
  const sessionOnA = async (command: (mark: string) => string) => {
    const password = `Pw-${randomBytes(12).toString('base64url')}`;
    const linux = await sshd().createUser('tgw', { password });
    const user = await gatewayUser(a);
    const { login } = await linuxAccount(a, sshd(), {
      user: user.name,
      secret: password,
      secretType: 'password',
      linuxUser: linux.name,
    });
    const mark = randomBytes(4).toString('hex');
    let started: () => void = () => undefined;
    const first = new Promise<void>((resolve) => {
      started = resolve;
    });
    const running = sshThrough(a, user.key.file, login, {
      command: command(mark),
      onStdout: (text) => {
        if (text.includes(`one-${mark}`)) started();
      },
    });
    await first;
    const listed = await a.api<{ sessions: Row[] }>(
      'GET',
      `/v1/sessions?live=true&user=${user.name}`,
    );
    const id = String(listed.body.sessions[0]?.id);
    return { id, mark, running };
  };

  it('streams the screen so far and live output to the end, read-only, audited once', async () => {
    const auditor = await gatewayUser(a, 'auditor');
    const { id, mark, running } = await sessionOnA(
      (m) => `echo one-${m}; sleep 2.5; echo two-${m}; sleep 0.5`,
    );
    const shown = await b.server.services.gateway.sessions.get(id);
    assert.equal(shown.nodeId, nodeIdOf(a.server.dataDir));
    const viewed = await fetch(`${b.server.url}/v1/sessions/${id}`, {
      headers: bearer(a.server.rootToken),
    });
    const view = (await viewed.json()) as Row;
    assert.equal(view.here, false);
    assert.equal(view.watchable, true, 'node B can pass the watch on');

    const watch = openWatch(watchUrl(b.server, id), bearer(auditor.token));
    await new Promise((resolve) => watch.socket.addEventListener('open', resolve));
    watch.socket.send('echo injected\n'); // a watcher cannot type: this goes nowhere

    const result = await running;
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await watch.closed, { code: 1000, reason: 'session ended' });
    assert.equal(watch.texts[0]?.type, 'hello');
    assert.equal(watch.texts[0]?.session, id);
    assert.equal(watch.texts.at(-1)?.type, 'end');
    // Node A said it was alive every 200 ms; node B kept that to itself.
    assert.deepEqual(
      watch.texts.filter((t) => t.type !== 'hello' && t.type !== 'resize' && t.type !== 'end'),
      [],
    );
    const screen = watch.screen();
    assert.ok(screen.indexOf(`one-${mark}`) >= 0, screen);
    assert.ok(screen.indexOf(`two-${mark}`) > screen.indexOf(`one-${mark}`), screen);
    assert.doesNotMatch(screen, /injected/);
    assert.doesNotMatch(result.stdout, /injected/);

    const watches = (await auditEvents(a, 'session.watch')).filter((e) => e.object_id === id);
    assert.equal(watches.length, 1, 'audited once, by the node that streams it');
    assert.equal(watches[0]?.actor_name, auditor.name);
    assert.equal(watches[0]?.details.via, nodeIdOf(b.dataDir));
    const left = await a.server.services.store.db
      .selectFrom('session_watch_tickets')
      .select('digest')
      .where('session_id', '=', id)
      .execute();
    assert.deepEqual(left, [], 'the ticket was spent');
    assert.doesNotMatch(a.logText(), /websocket upgrade failed/, 'one WebSocket server per node');

    // The recording stays in node A's folder: node B fetches it from node A (tested below).
    const viaB = await fetch(`${b.server.url}/v1/sessions/${id}/recording`, {
      headers: bearer(auditor.token),
    });
    const here = await a.api('GET', `/v1/sessions/${id}/recording`, { token: auditor.token });
    assert.equal(here.status, 200);
    assert.match(here.text, new RegExp(`two-${mark}`));
    assert.equal(await viaB.text(), here.text, 'the same recording through either node');

    // A user who may not watch is refused by node B itself: nothing is passed on.
    const user = await gatewayUser(a);
    const denied = openWatch(watchUrl(b.server, id), bearer(user.token));
    const outcome = await new Promise<string>((resolve) => {
      denied.socket.addEventListener('open', () => resolve('open'));
      denied.socket.addEventListener('error', () => resolve('refused'));
    });
    assert.equal(outcome, 'refused');
  });

  it('tessera session watch through node B follows it to its end', async () => {
    const auditor = await gatewayUser(a, 'auditor');
    const { id, mark, running } = await sessionOnA(
      (m) => `echo one-${m}; sleep 2; echo two-${m}; sleep 0.3`,
    );
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    const code = await main(['session', 'watch', id], {
      stdout,
      stderr,
      stdin: Readable.from([]),
      env: { TESSERA_ADDR: b.server.url, TESSERA_TOKEN: auditor.token },
      now: () => Date.now(),
      cwd: process.cwd(),
    });
    await running;
    assert.equal(code, 0, err);
    assert.match(out, new RegExp(`two-${mark}`));
    assert.match(err, /Session ended/);
  });

  it('tessera node list maps each node id to its address and live sessions', async () => {
    const auditor = await gatewayUser(a, 'auditor');
    const { running } = await sessionOnA((m) => `echo one-${m}; sleep 1`);
    const nodeA = nodeIdOf(a.server.dataDir);
    const nodeB = nodeIdOf(b.dataDir);
    const listed = await fetch(`${b.server.url}/v1/nodes`, { headers: bearer(auditor.token) });
    const { nodes } = (await listed.json()) as { nodes: Row[] };
    const byId = new Map(nodes.map((n) => [n.id, n]));
    assert.equal(byId.get(nodeA)?.address, a.apiUrl);
    assert.equal(byId.get(nodeA)?.here, false);
    assert.ok(Number(byId.get(nodeA)?.liveSessions) >= 1, 'the session running on node A');
    assert.equal(byId.get(nodeB)?.address, b.server.url);
    assert.equal(byId.get(nodeB)?.here, true);
    assert.equal(byId.get(nodeA)?.running, true);
    assert.equal(byId.get(nodeB)?.running, true);
    // A node that started once and is gone: its row stays, not running.
    await a.server.services.gateway.nodes.announce('node-gone', 'http://127.0.0.1:1');

    const stdout = new PassThrough();
    let out = '';
    stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    const code = await main(['node', 'list'], {
      stdout,
      stderr: new PassThrough(),
      stdin: Readable.from([]),
      env: { TESSERA_ADDR: b.server.url, TESSERA_TOKEN: auditor.token },
      now: () => Date.now(),
      cwd: process.cwd(),
    });
    assert.equal(code, 0);
    assert.match(out, /NODE\s+ADDRESS\s+RUNNING\s+STARTED\s+LIVE SESSIONS/);
    assert.match(out, /node-gone\s+http:\/\/127\.0\.0\.1:1\s+no\s/);
    assert.match(out, new RegExp(`${nodeB} \\(this one\\)\\s+${b.server.url}\\s+yes`));
    assert.match(out, new RegExp(`${nodeA}\\s+${a.apiUrl}`));
    await running;

    const user = await gatewayUser(a);
    const refused = await fetch(`${b.server.url}/v1/nodes`, { headers: bearer(user.token) });
    assert.equal(refused.status, 403, 'a plain user learns nothing of the nodes');
  });

  it("refuses to start with a running node's id, and touches nothing of that node", async () => {
    const { id, running } = await sessionOnA((m) => `echo one-${m}; sleep 2`);
    // A data dir copied whole from node A, its node-id with it, to share the gateway host key.
    const copied = await mkdtemp(path.join(tmpdir(), 'tessera-node-copy-'));
    try {
      for (const file of ['node-id', 'gateway-host-key', 'dev-unseal.key']) {
        copyFileSync(path.join(a.server.dataDir, file), path.join(copied, file));
      }
      const started = startNodeOn(a, copied);
      await assert.rejects(started, (error: Error) => {
        assert.match(error.message, /another Tessera node runs with this node's id/);
        // Which connection holds it, for an operator who must end one a dead machine left.
        assert.match(error.message, /held by PostgreSQL backend \d+, connected from 127\.0\.0\.1/);
        assert.match(error.message, /copy only gateway-host-key/);
        return true;
      });
      // Node A's session runs on, as live as before: nothing closed it as abandoned.
      const row = await a.server.services.gateway.sessions.get(id);
      assert.equal(row.state, 'live');
      assert.equal((await running).code, 0);
    } finally {
      await rm(copied, { recursive: true, force: true });
    }
  });

  it('lets go of its id when its start fails, so that it can start again at once', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'tessera-node-retry-'));
    const start = (port: number) => startNodeOn(a, dataDir, { port });
    try {
      copyFileSync(
        path.join(a.server.dataDir, 'dev-unseal.key'),
        path.join(dataDir, 'dev-unseal.key'),
      );
      // Node A's port is taken: the start fails once its node id is claimed.
      const taken = Number(new URL(a.server.url).port);
      await assert.rejects(start(taken), { code: 'EADDRINUSE' });
      const again = await start(0);
      await again.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('ends a watch passed on once the watcher signs out', async () => {
    const { id, running } = await sessionOnA(
      (m) => `echo one-${m}; for i in $(seq 1 100); do echo tick-${m}; sleep 0.1; done`,
    );
    const auditor = await gatewayUser(a, 'auditor');
    const watch = openWatch(watchUrl(b.server, id), bearer(auditor.token));
    await eventually(async () => (watch.screen().includes('tick-') ? true : undefined));
    const out = await fetch(`${b.server.url}/v1/auth/logout`, {
      method: 'POST',
      headers: bearer(auditor.token),
    });
    assert.equal(out.status, 204);
    // Node A checks the sign-in every 2 s; node B passes its close on as it was.
    assert.deepEqual(await watch.closed, { code: 4401, reason: 'your sign-in ended' });
    const killed = await a.api('POST', `/v1/sessions/${id}/kill`, { body: { reason: 'done' } });
    assert.equal(killed.status, 200);
    await running;
  });

  it('opens a relay only with a fresh ticket made for that session, once', async () => {
    const { id, running } = await sessionOnA(
      (m) => `echo one-${m}; for i in $(seq 1 100); do echo tick-${m}; sleep 0.1; done`,
    );
    const relay = watchUrl(a.server, id, 'watch-relay');
    for (const headers of [{}, { [WATCH_TICKET_HEADER]: 'tsr-watch-forged' }] as Record<
      string,
      string
    >[]) {
      const forged = openWatch(relay, headers);
      assert.deepEqual(await forged.closed, {
        code: 4401,
        reason: 'the watch ticket is not valid',
      });
      assert.equal(forged.texts.length, 0);
    }

    const admin = await a.server.services.store.db
      .selectFrom('tokens')
      .select(['id', 'user_id'])
      .where('token_hash', '=', digestOf(a.server.rootToken))
      .executeTakeFirstOrThrow();
    const holder = {
      userId: admin.user_id,
      name: 'admin',
      role: 'admin' as const,
      tokenId: admin.id,
      source: '127.0.0.1',
      requestId: 'relay-test',
      viaNode: 'node-test',
    };
    const { watchTickets } = a.server.services.gateway;
    const forA = { purpose: 'watch', node: nodeIdOf(a.server.dataDir) } as const;
    const ticket = await watchTickets.issue(id, holder, forA);
    const first = openWatch(relay, { [WATCH_TICKET_HEADER]: ticket });
    await eventually(async () => (first.texts[0]?.type === 'hello' ? true : undefined));
    // To a relaying node, node A says it is alive while the session is quiet.
    await eventually(async () => (first.texts.some((t) => t.type === 'alive') ? true : undefined));
    first.socket.close(1000, 'done');
    const again = openWatch(relay, { [WATCH_TICKET_HEADER]: ticket });
    assert.equal((await again.closed).code, 4401, 'a ticket works once');

    // A ticket for a sign-in whose user may not watch: allowed nowhere, decided again here.
    const user = await gatewayUser(a);
    const userToken = await a.server.services.store.db
      .selectFrom('tokens')
      .select(['id', 'user_id'])
      .where('token_hash', '=', digestOf(user.token))
      .executeTakeFirstOrThrow();
    const forUser = await watchTickets.issue(
      id,
      { ...holder, userId: userToken.user_id, tokenId: userToken.id },
      forA,
    );
    const refused = openWatch(relay, { [WATCH_TICKET_HEADER]: forUser });
    assert.deepEqual(await refused.closed, { code: 4403, reason: 'not allowed: session.watch' });

    const { id: otherId, running: other } = await sessionOnA((m) => `echo one-${m}; sleep 1`);
    const misdirected = await watchTickets.issue(otherId, holder, forA);
    const wrong = openWatch(relay, { [WATCH_TICKET_HEADER]: misdirected });
    assert.equal((await wrong.closed).code, 4401, 'made for another session');

    await a.api('POST', `/v1/sessions/${id}/kill`, { body: { reason: 'done' } });
    await Promise.all([running, other]);
    assert.ok(!a.logText().includes(ticket), 'a ticket never reaches the log');
    assert.ok(!a.logText().includes(misdirected));
  });

  it('leaves nothing behind for a watcher who leaves while the watch is set up', async () => {
    const { id, running } = await sessionOnA(
      (m) => `echo one-${m}; for i in $(seq 1 100); do echo tick-${m}; sleep 0.1; done`,
    );
    // Watchers node A streams to, counted as they come and go.
    const live = a.services.liveSessions.get(id);
    assert.ok(live !== undefined);
    const watching = { now: 0 };
    const watch = live.watch.bind(live);
    live.watch = (watcher) => {
      watching.now += 1;
      const stop = watch(watcher);
      return () => {
        watching.now -= 1;
        stop();
      };
    };
    const auditor = await gatewayUser(a, 'auditor');
    const slowly =
      <A extends unknown[], R>(work: (...args: A) => Promise<R>) =>
      async (...args: A) => {
        await new Promise((resolve) => setTimeout(resolve, 400)); // a slow store
        return work(...args);
      };

    // On node B: gone while the ticket is made. No relay opens.
    const tickets = b.server.services.gateway.watchTickets;
    const issue = tickets.issue;
    tickets.issue = slowly(issue);
    try {
      const early = openWatch(watchUrl(b.server, id), bearer(auditor.token));
      await new Promise((resolve) => early.socket.addEventListener('open', resolve));
      early.socket.close(1000, 'bye');
      await early.closed;
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      assert.equal(watching.now, 0, 'node A streams to nobody');
    } finally {
      tickets.issue = issue;
    }

    // On node A: the relay gone while the sign-in is checked. No watcher, no check every 2 s.
    const { tokens } = a.server.services;
    const isLive = tokens.isLive;
    let checks = 0;
    tokens.isLive = slowly(async (tokenId: string) => {
      checks += 1;
      return isLive(tokenId);
    });
    try {
      const admin = await a.server.services.store.db
        .selectFrom('tokens')
        .select(['id', 'user_id'])
        .where('token_hash', '=', digestOf(a.server.rootToken))
        .executeTakeFirstOrThrow();
      const ticket = await a.services.watchTickets.issue(
        id,
        {
          userId: admin.user_id,
          tokenId: admin.id,
          source: '127.0.0.1',
          requestId: null,
          viaNode: nodeIdOf(b.dataDir),
        },
        { purpose: 'watch', node: nodeIdOf(a.server.dataDir) },
      );
      const relay = openWatch(watchUrl(a.server, id, 'watch-relay'), {
        [WATCH_TICKET_HEADER]: ticket,
      });
      await new Promise((resolve) => relay.socket.addEventListener('open', resolve));
      relay.socket.close(1000, 'bye');
      await relay.closed;
      await new Promise((resolve) => setTimeout(resolve, 4_500));
      assert.equal(watching.now, 0, 'node A streams to nobody');
      assert.equal(checks, 1, 'the sign-in was checked once, when the relay came');
    } finally {
      tokens.isLive = isLive;
    }
    await a.api('POST', `/v1/sessions/${id}/kill`, { body: { reason: 'done' } });
    await running;
  });

  it('says why when the node that runs it cannot be reached', async () => {
    const { id, running } = await sessionOnA(
      (m) => `echo one-${m}; for i in $(seq 1 100); do echo tick-${m}; sleep 0.1; done`,
    );
    const nodeA = nodeIdOf(a.server.dataDir);
    const { nodes } = a.server.services.gateway;
    try {
      // Started on every address without --node-url: no other node knows where it is.
      await nodes.announce(nodeA, null);
      const view = await fetch(`${b.server.url}/v1/sessions/${id}`, {
        headers: bearer(a.server.rootToken),
      });
      assert.equal(((await view.json()) as Row).watchable, false);
      const unknown = openWatch(watchUrl(b.server, id), bearer(a.server.rootToken));
      assert.deepEqual(await unknown.closed, {
        code: 4409,
        reason: `the session runs on node ${nodeA}, which other nodes cannot reach: watch it there`,
      });

      // Its address leads to node B itself (a loopback address given on two machines, say):
      // node B's relay route tells so, and keeps the ticket unspent.
      await nodes.announce(nodeA, b.server.url);
      const itself = openWatch(watchUrl(b.server, id), bearer(a.server.rootToken));
      assert.deepEqual(await itself.closed, {
        code: 1011,
        reason: `the address node ${nodeA} gave leads to another node: check its --node-url`,
      });

      // Its address leads to a node that takes the watch and then hangs, its socket open.
      const hung = Fastify();
      await hung.register(websocket);
      hung.get('/v1/sessions/:id/watch-relay', { websocket: true }, () => undefined);
      await hung.listen({ host: '127.0.0.1', port: 0 });
      try {
        await nodes.announce(
          nodeA,
          `http://127.0.0.1:${(hung.server.address() as AddressInfo).port}`,
        );
        const silent = openWatch(watchUrl(b.server, id), bearer(a.server.rootToken));
        const started = performance.now();
        assert.deepEqual(await silent.closed, {
          code: 1011,
          reason: `node ${nodeA}, which runs the session, stopped answering`,
        });
        const waited = performance.now() - started;
        assert.ok(waited >= 3 * ALIVE_MS && waited < 20 * ALIVE_MS, `closed after ${waited} ms`);
      } finally {
        await hung.close();
      }

      // Its address names a port nothing listens on: node A is down, or the address is wrong.
      await nodes.announce(nodeA, 'http://127.0.0.1:1');
      const down = openWatch(watchUrl(b.server, id), bearer(a.server.rootToken));
      assert.deepEqual(await down.closed, {
        code: 1011,
        reason: `node ${nodeA}, which runs the session, cannot be reached`,
      });
    } finally {
      await nodes.announce(nodeA, a.apiUrl);
    }
    await a.api('POST', `/v1/sessions/${id}/kill`, { body: { reason: 'done' } });
    await running;
  });

  it('serves a recording node A keeps through node B, allowed and audited by node A', async () => {
    const auditor = await gatewayUser(a, 'auditor');
    const { id, mark, running } = await sessionOnA((m) => `echo one-${m}; echo two-${m}`);
    assert.equal((await running).code, 0);
    const nodeA = nodeIdOf(a.server.dataDir);
    const nodeB = nodeIdOf(b.dataDir);
    const recordingViaB = (token: string) =>
      fetch(`${b.server.url}/v1/sessions/${id}/recording`, { headers: bearer(token) });
    const refusalOf = async (response: Response) =>
      ((await response.json()) as { error: { code: string; message: string } }).error;
    const ticketsLeft = async () =>
      (
        await a.server.services.store.db
          .selectFrom('session_watch_tickets')
          .select('digest')
          .where('session_id', '=', id)
          .execute()
      ).length;

    const served = await recordingViaB(auditor.token);
    assert.equal(served.status, 200);
    assert.match(served.headers.get('content-type') ?? '', /asciicast/);
    const cast = await served.text();
    assert.match(cast, new RegExp(`two-${mark}`));
    const exports = (await auditEvents(a, 'session.recording.export')).filter(
      (e) => e.object_id === id,
    );
    assert.equal(exports.length, 1, 'audited once, by the node that keeps it');
    assert.equal(exports[0]?.actor_name, auditor.name);
    assert.equal(exports[0]?.details.via, nodeB);
    // Found by the session's id: its account's name is shared by every session of the account.
    const bySession = await a.api<{ events: Row[] }>(
      'GET',
      `/v1/audit/events?object=${id}&action=session.recording.export`,
    );
    assert.deepEqual(
      bySession.body.events.map((e) => [e.objectId, e.actor]),
      [[id, auditor.name]],
    );
    assert.equal(await ticketsLeft(), 0, 'the ticket was spent');
    assert.doesNotMatch(a.logText(), /tsr-rec-/, 'no ticket in the log');

    // A user who may not export is refused by node B itself: no ticket is made.
    const user = await gatewayUser(a);
    const forbidden = await recordingViaB(user.token);
    assert.equal(forbidden.status, 403);
    assert.equal(await ticketsLeft(), 0);

    // Node A's relay route takes only a recording ticket for this session, once.
    const relay = `${a.server.url}/v1/sessions/${id}/recording-relay`;
    const { watchTickets } = a.server.services.gateway;
    const signedIn = await a.server.services.tokens.authenticate(auditor.token);
    assert.ok(signedIn !== null);
    const holder = {
      userId: signedIn.userId,
      tokenId: signedIn.tokenId,
      source: null,
      requestId: null,
      viaNode: nodeB,
    };
    const forA = (purpose: 'watch' | 'recording') => ({ purpose, node: nodeA });
    const watchTicket = await watchTickets.issue(id, holder, forA('watch'));
    const withWatchTicket = await fetch(relay, {
      headers: { [RECORDING_TICKET_HEADER]: watchTicket },
    });
    assert.equal(withWatchTicket.status, 401, 'a watch ticket fetches no recording');
    assert.equal(await watchTickets.valid(watchTicket, id, forA('watch')), true, 'still unspent');
    await watchTickets.redeem(watchTicket, id, forA('watch'));
    const ticket = await watchTickets.issue(id, holder, forA('recording'));
    const once = await fetch(relay, { headers: { [RECORDING_TICKET_HEADER]: ticket } });
    assert.equal(once.status, 200);
    assert.equal(await once.text(), cast);
    const twice = await fetch(relay, { headers: { [RECORDING_TICKET_HEADER]: ticket } });
    assert.equal(twice.status, 401);
    assert.equal((await fetch(relay)).status, 401, 'no ticket, no recording');
    // A ticket made for node B, sent to node A (a wrong address): refused there, and unspent.
    const forB = { purpose: 'recording', node: nodeB } as const;
    const misdirected = await watchTickets.issue(id, holder, forB);
    const atA = await fetch(relay, { headers: { [RECORDING_TICKET_HEADER]: misdirected } });
    assert.equal(atA.status, 503);
    assert.match((await refusalOf(atA)).message, /leads to another node/);
    assert.equal(await watchTickets.valid(misdirected, id, forB), true);
    await watchTickets.redeem(misdirected, id, forB);

    const { nodes } = a.server.services.gateway;
    try {
      // Node A said no address for itself: node B says where the recording is.
      await nodes.announce(nodeA, null);
      const elsewhere = await recordingViaB(auditor.token);
      assert.equal(elsewhere.status, 409);
      const unknown = await refusalOf(elsewhere);
      assert.equal(unknown.code, 'RECORDING_ELSEWHERE');
      assert.match(unknown.message, new RegExp(`kept by node ${nodeA}`));

      // Node A's address leads to something else, which answers anything but the recording:
      // nothing of it reaches the auditor, and the ticket it was sent is spent.
      const other = Fastify();
      let answers = 0;
      other.get('/v1/sessions/:id/recording-relay', async (request, reply) => {
        answers += 1;
        if (answers === 1) {
          return reply.type('text/html').send('<html>sign in at http://elsewhere.invalid</html>');
        }
        if (answers === 2) {
          // A refusal in Tessera's shape, with terminal controls in its message.
          const message = '\u001b]0;owned\u0007\u001b[2Jsign in again';
          return reply.status(403).send({ error: { code: 'FORBIDDEN', message } });
        }
        // A forged recording that says all the right things, but never spent the ticket.
        const sessionId = (request.params as { id: string }).id;
        reply.header('x-tessera-recording-session', sessionId);
        const forged = '{"version": 2, "width": 80, "height": 24}\n[0.1, "o", "forged"]\n';
        return reply.type('application/x-asciicast; charset=utf-8').send(forged);
      });
      await other.listen({ host: '127.0.0.1', port: 0 });
      try {
        await nodes.announce(
          nodeA,
          `http://127.0.0.1:${(other.server.address() as AddressInfo).port}`,
        );
        const impostor = await recordingViaB(auditor.token);
        assert.equal(impostor.status, 503);
        assert.equal((await refusalOf(impostor)).code, 'RECORDING_UNAVAILABLE');
        assert.equal(await ticketsLeft(), 0, 'the ticket it was sent is spent');
        const refused = await recordingViaB(auditor.token);
        assert.equal(refused.status, 403, 'a refusal reaches the user as it was');
        const said = (await refusalOf(refused)).message;
        assert.equal(said, `node ${nodeA}:  ]0;owned  [2Jsign in again`, 'as plain text');
        const forged = await recordingViaB(auditor.token);
        assert.equal(forged.status, 503, 'an answer that did not spend the ticket is refused');
        assert.doesNotMatch(await forged.text(), /forged/);
        assert.equal(await ticketsLeft(), 0);
      } finally {
        await other.close();
      }

      // Node A is down, or its address is wrong.
      await nodes.announce(nodeA, 'http://127.0.0.1:1');
      const down = await recordingViaB(auditor.token);
      assert.equal(down.status, 503);
      assert.deepEqual(await refusalOf(down), {
        code: 'RECORDING_UNAVAILABLE',
        message: `node ${nodeA}, which keeps the recording, cannot be reached`,
        requestId: down.headers.get('x-request-id'),
        details: { node: nodeA },
      });
    } finally {
      await nodes.announce(nodeA, a.apiUrl);
    }
  });
});
