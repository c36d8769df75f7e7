/**
 * Two Tessera nodes on one PostgreSQL database, each with its own gateway and node id. A real
 * OpenSSH session runs through node A to a throw-away sshd; an administrator behind a load
 * balancer reaches node B and kills it: node A ends it within seconds and its user reads the
 * reason, as with a kill asked of node A itself.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { useSshd } from '../support/sshd.ts';
import {
  auditEvents,
  eventually,
  gatewayUser,
  type Harness,
  linuxAccount,
  sshThrough,
  startHarness,
  startSecondNode,
} from './support.ts';

type Row = Record<string, unknown>;

/** The kill reaches the session through the other node's poll (1 s) well within this. */
const KILL_WITHIN_MS = 5_000;

describe('ssh gateway: a session on node A killed through node B (one PostgreSQL)', () => {
  const sshd = useSshd();
  let a: Harness;
  let b: Awaited<ReturnType<typeof startSecondNode>>;

  before(async () => {
    a = await startHarness({ store: 'postgres' });
    b = await startSecondNode(a);
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
  });

  const nodeIdOf = (dataDir: string) => readFileSync(path.join(dataDir, 'node-id'), 'utf8').trim();
  const viaB = async <T = Row>(method: string, route: string, body?: unknown) => {
    const response = await fetch(b.server.url + route, {
      method,
      headers: {
        authorization: `Bearer ${a.server.rootToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as T };
  };

  it('ends it within seconds, tells the user why, audits once, keeps the reason', async () => {
    const nodeA = nodeIdOf(a.server.dataDir);
    assert.notEqual(nodeA, nodeIdOf(b.dataDir), 'two nodes, two ids');
    const password = `Pw-${randomBytes(12).toString('base64url')}`;
    const linux = await sshd().createUser('tgk', { password });
    const user = await gatewayUser(a);
    const { login } = await linuxAccount(a, sshd(), {
      user: user.name,
      secret: password,
      secretType: 'password',
      linuxUser: linux.name,
    });
    const mark = randomBytes(4).toString('hex');
    let ticking: () => void = () => undefined;
    const ticked = new Promise<void>((resolve) => {
      ticking = resolve;
    });
    const running = sshThrough(a, user.key.file, login, {
      command: `while true; do echo tick-${mark}; sleep 0.1; done`,
      onStdout: (text) => {
        if (text.includes(`tick-${mark}`)) ticking();
      },
    });
    await ticked;

    const listed = await viaB<{ sessions: Row[] }>(
      'GET',
      `/v1/sessions?live=true&user=${user.name}`,
    );
    const live = listed.body.sessions[0];
    assert.ok(live !== undefined, JSON.stringify(listed.body));
    assert.equal(live.node, nodeA);
    assert.equal(live.here, false, 'node B does not run it');
    const id = String(live.id);

    const reason = `off-hours change ${mark}`;
    const askedAt = Date.now();
    const passed = await viaB('POST', `/v1/sessions/${id}/kill`, { reason });
    assert.equal(passed.status, 202, JSON.stringify(passed.body));
    assert.deepEqual(passed.body, { killed: false, requested: true, node: nodeA });

    const result = await running;
    const tookMs = Date.now() - askedAt;
    assert.ok(tookMs < KILL_WITHIN_MS, `the ssh client ended after ${tookMs} ms`);
    assert.notEqual(result.code, 0);
    assert.match(result.stdout, new RegExp(`tick-${mark}`));
    assert.match(result.stderr, new RegExp(`ended by an administrator: ${reason}`));

    const ended = await eventually(async () => {
      const found = await viaB('GET', `/v1/sessions/${id}`);
      return found.body.state !== 'live' ? found.body : undefined;
    });
    assert.equal(ended.state, 'ended');
    assert.equal(ended.endReason, `killed: ${reason}`);

    const kills = (await auditEvents(a, 'session.kill')).filter((e) => e.object_id === id);
    assert.equal(kills.length, 1, 'audited once, when asked');
    assert.equal(kills[0]?.reason, reason);
    assert.equal(kills[0]?.actor_name, 'admin');
    assert.equal(kills[0]?.details.node, nodeA);
    assert.equal(kills[0]?.details.passed, true);
    const ends = (await auditEvents(a, 'session.end')).filter((e) => e.object_id === id);
    assert.equal(ends.length, 1);
    assert.equal(ends[0]?.details.reason, `killed: ${reason}`);
    const request = await a.server.services.store.db
      .selectFrom('session_kill_requests')
      .select(['node_id', 'done_at'])
      .where('session_id', '=', id)
      .executeTakeFirstOrThrow();
    assert.equal(request.node_id, nodeA);
    assert.notEqual(request.done_at, null, 'node A marked it carried out');

    const again = await viaB<{ error: { code: string; message: string } }>(
      'POST',
      `/v1/sessions/${id}/kill`,
      { reason: 'twice' },
    );
    assert.equal(again.status, 409);
    assert.equal(again.body.error.message, 'the session is not live');
    const here = await a.api('POST', `/v1/sessions/${id}/kill`, { body: { reason: 'twice' } });
    assert.equal(here.status, 409);
  });
});
