/**
 * Killing and watching a session that another node runs, through the API and the command line
 * of a real server on SQLite. The other node is its rows alone (one that died looks the same);
 * test/gateway/gateway-kill-nodes.test.ts kills a real session across two real nodes.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.ts';
import { sessionRow } from '../support/rows.ts';
import { createUserWithToken, startTestServer, type TestServer } from '../support/test-server.ts';

type Row = Record<string, unknown>;
type ErrorReply = { error: { code: string; message: string } };

describe('killing and watching a session another node runs, on sqlite', () => {
  let server: TestServer;
  const OTHER_NODE = randomUUID();

  before(async () => {
    server = await startTestServer({ store: 'sqlite' });
  });
  after(() => server.stop());

  /** A session row as the gateway of another node writes it. */
  const sessionOn = async (node: string, state: 'live' | 'ended' = 'live') => {
    const row = sessionRow(node, Date.now(), state);
    await server.services.store.db.insertInto('sessions').values(row).execute();
    return row.id;
  };
  const kill = (id: string, body: unknown, token?: string) =>
    server.api<Row & ErrorReply>('POST', `/v1/sessions/${id}/kill`, {
      body,
      ...(token === undefined ? {} : { token }),
    });
  const requestOf = (id: string) =>
    server.services.store.db
      .selectFrom('session_kill_requests')
      .selectAll()
      .where('session_id', '=', id)
      .executeTakeFirst();
  const killEvents = (id: string) =>
    server.services.store.db
      .selectFrom('audit_events')
      .selectAll()
      .where('action', '=', 'session.kill')
      .where('object_id', '=', id)
      .execute();

  it('passes the kill to the node that runs the session, audited once with the node', async () => {
    const id = await sessionOn(OTHER_NODE);
    const passed = await kill(id, { reason: 'unapproved change' });
    assert.equal(passed.status, 202, JSON.stringify(passed.body));
    assert.deepEqual(passed.body, { killed: false, requested: true, node: OTHER_NODE });

    const stored = await requestOf(id);
    assert.equal(stored?.node_id, OTHER_NODE);
    assert.equal(stored?.reason, 'unapproved change');
    assert.equal(stored?.requested_by, 'admin');
    assert.equal(stored?.done_at, null);
    const events = await killEvents(id);
    assert.equal(events.length, 1);
    assert.equal(events[0]?.reason, 'unapproved change');
    assert.equal(events[0]?.actor_name, 'admin');
    const details = JSON.parse(events[0]?.details ?? '{}') as Row;
    assert.equal(details.node, OTHER_NODE);
    assert.equal(details.passed, true);

    const shown = await server.api<Row>('GET', `/v1/sessions/${id}`);
    assert.equal(shown.body.node, OTHER_NODE);
    assert.equal(shown.body.watchable, false);
    assert.equal(shown.body.state, 'live', 'live until that node ends it');
  });

  it('answers CONFLICT for a session that is over, and stores nothing', async () => {
    const id = await sessionOn(OTHER_NODE, 'ended');
    const refused = await kill(id, { reason: 'too late' });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, 'CONFLICT');
    assert.equal(refused.body.error.message, 'the session is not live');
    assert.equal(await requestOf(id), undefined);
    assert.deepEqual(await killEvents(id), []);
  });

  it('refuses bad input, unknown sessions and non-admins, and changes nothing', async () => {
    const id = await sessionOn(OTHER_NODE);
    const cases: Array<[unknown, number, string]> = [
      [{ reason: '   ' }, 400, 'VALIDATION_FAILED'],
      [{ reason: 'x'.repeat(501) }, 400, 'VALIDATION_FAILED'],
      [{}, 400, 'VALIDATION_FAILED'],
      [{ reason: 'why', node: OTHER_NODE }, 400, 'VALIDATION_FAILED'],
    ];
    for (const [body, status, code] of cases) {
      const answer = await kill(id, body);
      assert.equal(answer.status, status, JSON.stringify(body));
      assert.equal(answer.body.error.code, code, JSON.stringify(answer.body));
    }
    const auditor = await createUserWithToken(server, `aud-${id.slice(0, 8)}`, 'auditor');
    assert.equal((await kill(id, { reason: 'auditors watch' }, auditor)).status, 403);
    assert.equal((await kill(randomUUID(), { reason: 'nobody' })).status, 404);
    assert.equal((await kill('not-a-uuid', { reason: 'bad id' })).status, 400);
    assert.equal(await requestOf(id), undefined);
    assert.deepEqual(await killEvents(id), []);
  });

  it('refuses to watch a session another node runs, naming that node', async () => {
    // A node that never said where its API is: nothing to pass the watch on to.
    const elsewhere = await watchClose(server, await sessionOn(OTHER_NODE));
    assert.equal(elsewhere.code, 4409);
    assert.equal(
      elsewhere.reason,
      `the session runs on node ${OTHER_NODE}, which other nodes cannot reach: watch it there`,
    );
    // Live by its row on this very node, but not in its memory: it is ending.
    const here = readFileSync(path.join(server.dataDir, 'node-id'), 'utf8').trim();
    // Listening on loopback, it gave other nodes no address: theirs would lead to themselves.
    assert.equal(await server.services.gateway.nodes.apiUrlOf(here), null);
    const ending = await watchClose(server, await sessionOn(here));
    assert.deepEqual(ending, { code: 4404, reason: 'the session is not live' });
    const over = await watchClose(server, await sessionOn(OTHER_NODE, 'ended'));
    assert.deepEqual(over, { code: 4404, reason: 'the session is not live' });
    const unknown = await watchClose(server, randomUUID());
    assert.deepEqual(unknown, { code: 4404, reason: 'the session is not live' });
  });

  it('the command line says the kill was passed to the node, and lists each node', async () => {
    const id = await sessionOn(OTHER_NODE);
    const passed = await runCli(server, ['session', 'kill', id, '--reason', 'off hours']);
    assert.equal(passed.code, 0, passed.stderr);
    assert.match(
      passed.stdout,
      new RegExp(`^Passed the kill of session ${id} to node ${OTHER_NODE}, which runs it; `),
    );
    assert.match(passed.stdout, /its user will be told: off hours$/m);
    assert.match(passed.stderr, /within seconds/);

    const listed = await runCli(server, ['session', 'list', '--live']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^ID\s+USER\s+ACCOUNT\s+.*\s+STATE\s+IN \/ OUT\s+NODE$/m);
    const row = listed.stdout.split('\n').find((line) => line.startsWith(id)) ?? '';
    assert.match(row, new RegExp(`\\s${OTHER_NODE}$`));

    const watched = await runCli(server, ['session', 'watch', id]);
    assert.equal(watched.code, 1);
    assert.match(
      watched.stderr,
      new RegExp(`^error: SESSION_ELSEWHERE: the session runs on Tessera node ${OTHER_NODE}`, 'm'),
    );

    const over = await sessionOn(OTHER_NODE, 'ended');
    const late = await runCli(server, ['session', 'kill', over, '--reason', 'late']);
    assert.equal(late.code, 1);
    assert.match(late.stderr, /^error: CONFLICT: the session is not live/m);
  });
});

/** Opens the watch socket as the root token and returns how the server closed it. */
function watchClose(server: TestServer, id: string): Promise<{ code: number; reason: string }> {
  const url = `${server.url.replace('http', 'ws')}/v1/sessions/${id}/watch`;
  const socket = new WebSocket(url, { headers: { authorization: `Bearer ${server.rootToken}` } });
  return new Promise((resolve, reject) => {
    socket.addEventListener('close', (event) =>
      resolve({ code: event.code, reason: event.reason }),
    );
    socket.addEventListener('error', () => undefined);
    setTimeout(() => reject(new Error('the watch was not closed')), 5_000).unref();
  });
}

/** Runs the tessera command line in this process against the server, as its root. */
async function runCli(server: TestServer, args: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { out: '', err: '' };
  stdout.setEncoding('utf8').on('data', (c: string) => (chunks.out += c));
  stderr.setEncoding('utf8').on('data', (c: string) => (chunks.err += c));
  const code = await main(args, {
    stdout,
    stderr,
    stdin: Readable.from([]),
    env: { TESSERA_ADDR: server.url, TESSERA_TOKEN: server.rootToken },
    now: () => Date.now(),
    cwd: process.cwd(),
  });
  return { code, stdout: chunks.out, stderr: chunks.err };
}
