/**
 * Kill requests between nodes, on both stores: a kill stored for the node that runs a session,
 * and that node's watcher carrying it out on its live-session registry.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { createAuditLog } from '../../src/audit/audit-log.ts';
import type { AuditEventInput } from '../../src/audit/event.ts';
import { watchKillRequests } from '../../src/gateway/kill-requests.ts';
import { createLiveSessions } from '../../src/gateway/live-sessions.ts';
import { createSessionStore } from '../../src/gateway/session-store.ts';
import { createLogger } from '../../src/logger.ts';
import { sessionRow } from '../support/rows.ts';
import { openTestStore, STORE_KINDS } from '../support/stores.ts';

const noBytes = () => ({ bytesIn: 0, bytesOut: 0 });

const quiet = createLogger({ level: 'silent' });
const TICK_MS = 20;

for (const kind of STORE_KINDS) {
  describe(`session kill requests on ${kind}`, async () => {
    const { store, drop } = await openTestStore(kind);
    after(drop);
    const now = Date.parse('2026-05-01T10:00:00Z');
    const clock = { now: () => now };
    const audit = createAuditLog({ store, clock, logger: quiet });
    const sessions = createSessionStore({ store, audit });

    /** A session row as the gateway of `node` writes it. */
    const sessionOn = async (node: string, state: 'live' | 'ended' = 'live') => {
      const row = sessionRow(node, now, state);
      await store.db.insertInto('sessions').values(row).execute();
      return row.id;
    };
    const event = (id: string, reason: string): AuditEventInput => ({
      action: 'session.kill',
      outcome: 'success',
      actor: { id: null, name: 'admin' },
      object: { type: 'session', id, name: 'web01/root' },
      reason,
    });
    const ask = (id: string, reason: string) =>
      sessions.requestKill(
        id,
        { reason, requestedBy: 'admin', requestedAt: now },
        event(id, reason),
      );
    const requestRow = (id: string) =>
      store.db
        .selectFrom('session_kill_requests')
        .selectAll()
        .where('session_id', '=', id)
        .executeTakeFirst();
    const killEvents = async (id: string) =>
      store.db
        .selectFrom('audit_events')
        .select(['reason'])
        .where('action', '=', 'session.kill')
        .where('object_id', '=', id)
        .execute();

    it('stores a kill for the node that runs a live session, audited with it', async () => {
      const id = await sessionOn('node-b');
      assert.equal(await ask(id, 'first'), 'node-b');
      assert.equal(await ask(id, 'second thoughts'), 'node-b');

      const row = await requestRow(id);
      assert.equal(row?.node_id, 'node-b');
      assert.equal(row?.reason, 'second thoughts', 'asking again replaces the reason');
      assert.equal(row?.requested_by, 'admin');
      assert.equal(row?.done_at, null);
      assert.deepEqual(
        (await killEvents(id)).map((e) => e.reason),
        ['first', 'second thoughts'],
      );
      assert.deepEqual(await sessions.pendingKills('node-b'), [
        { sessionId: id, reason: 'second thoughts', live: true },
      ]);
      await sessions.killsDone([id], now);
    });

    it('stores nothing and audits nothing for a session that is over or unknown', async () => {
      const ended = await sessionOn('node-b', 'ended');
      assert.equal(await ask(ended, 'too late'), null);
      assert.equal(await requestRow(ended), undefined);
      assert.deepEqual(await killEvents(ended), []);

      const unknown = randomUUID();
      assert.equal(await ask(unknown, 'who?'), null);
      assert.deepEqual(await killEvents(unknown), []);
    });

    it('kills its sessions as asked, once, and settles requests for ended ones', async (t) => {
      const node = `node-${randomUUID()}`;
      const live = createLiveSessions();
      const kills: Array<{ id: string; reason: string }> = [];
      /** A session in this node's registry, ending as the gateway's does when killed. */
      const running = async () => {
        const id = await sessionOn(node);
        const feed = live.add(
          {
            id,
            user: 'alice',
            account: 'root',
            target: 'web01',
            kind: 'shell',
            command: null,
            startedAt: now,
          },
          { cols: 80, rows: 24 },
          {
            bytes: noBytes,
            kill(reason) {
              kills.push({ id, reason });
              // The end is written a moment later: the registry lets go first.
              feed.ended(`killed: ${reason}`);
              setTimeout(() => {
                void store.db
                  .updateTable('sessions')
                  .set({ state: 'ended', end_reason: `killed: ${reason}`, ended_at: now })
                  .where('id', '=', id)
                  .execute();
              }, TICK_MS);
            },
          },
        );
        return id;
      };
      const stop = watchKillRequests(
        { gateway: { sessions, liveSessions: live }, clock, logger: quiet, nodeId: node },
        TICK_MS,
      );
      t.after(stop);

      const target = await running();
      const bystander = await running();
      const opening = await sessionOn(node); // its row is written, it is not in the registry yet
      const over = await sessionOn(node);
      await ask(over, 'ended meanwhile');
      await store.db
        .updateTable('sessions')
        .set({ state: 'ended' })
        .where('id', '=', over)
        .execute();
      await ask(target, 'unapproved change');
      await ask(opening, 'before it opened');

      await waitFor(async () => (await requestRow(target))?.done_at !== null);
      await waitFor(async () => (await requestRow(over))?.done_at !== null);
      await new Promise((resolve) => setTimeout(resolve, 5 * TICK_MS));
      assert.deepEqual(kills, [{ id: target, reason: 'unapproved change' }]);
      assert.ok(live.get(bystander) !== undefined, 'a session nobody asked about runs on');
      assert.equal((await requestRow(opening))?.done_at, null, 'waits until it is in the registry');

      // Once it is, the next tick kills it.
      const feed = live.add(
        {
          id: opening,
          user: 'alice',
          account: 'root',
          target: 'web01',
          kind: 'shell',
          command: null,
          startedAt: now,
        },
        { cols: 80, rows: 24 },
        { kill: (reason) => kills.push({ id: opening, reason }), bytes: noBytes },
      );
      await waitFor(() => kills.length === 2);
      assert.deepEqual(kills[1], { id: opening, reason: 'before it opened' });
      await new Promise((resolve) => setTimeout(resolve, 5 * TICK_MS));
      assert.equal(kills.length, 2, 'a session still closing is not killed twice');
      feed.ended('killed');
    });

    it('leaves the kills of other nodes alone', async () => {
      const live = createLiveSessions();
      const id = await sessionOn('node-c');
      let killed = false;
      const feed = live.add(
        {
          id,
          user: 'alice',
          account: 'root',
          target: 'web01',
          kind: 'shell',
          command: null,
          startedAt: now,
        },
        { cols: 80, rows: 24 },
        { kill: () => (killed = true), bytes: noBytes },
      );
      await ask(id, 'for node-c');
      const stop = watchKillRequests(
        { gateway: { sessions, liveSessions: live }, clock, logger: quiet, nodeId: 'node-d' },
        TICK_MS,
      );
      await new Promise((resolve) => setTimeout(resolve, 5 * TICK_MS));
      stop();
      feed.ended('test over');
      assert.equal(killed, false);
      assert.equal((await requestRow(id))?.done_at, null);
    });
  });
}

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
