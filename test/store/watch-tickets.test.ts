/**
 * Watches passed between nodes, on both stores: where each node says its API is, and the
 * one-time tickets that name a watcher to the node that runs the session.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { createNodeDirectory } from '../../src/gateway/node-directory.ts';
import {
  createWatchTickets,
  ticketNode,
  WATCH_TICKET_TTL_MS,
  type WatchTicketHolder,
} from '../../src/gateway/watch-tickets.ts';
import { digestOf } from '../../src/identity/tokens.ts';
import { sessionRow, userRow } from '../support/rows.ts';
import { openTestStore, STORE_KINDS } from '../support/stores.ts';

for (const kind of STORE_KINDS) {
  describe(`watch tickets and node addresses on ${kind}`, async () => {
    const { store, drop } = await openTestStore(kind);
    after(drop);
    let now = Date.parse('2026-05-01T10:00:00Z');
    const clock = { now: () => now };
    const tickets = createWatchTickets({ store, clock });
    const nodes = createNodeDirectory({ store, clock });

    /** A user with a sign-in, as the identity service stores them. */
    const signedIn = async (name: string, role: string) => {
      const user = userRow(name, role, now);
      const tokenId = randomUUID();
      await store.db.insertInto('users').values(user).execute();
      await store.db
        .insertInto('tokens')
        .values({
          id: tokenId,
          token_hash: randomUUID(),
          user_id: user.id,
          kind: 'login',
          created_at: now,
          expires_at: null,
          revoked_at: null,
        })
        .execute();
      return { userId: user.id, tokenId };
    };
    const holder: WatchTicketHolder = {
      ...(await signedIn('auditor-1', 'auditor')),
      name: 'auditor-1',
      role: 'auditor',
      source: '192.0.2.7',
      requestId: randomUUID(),
      viaNode: 'node-b',
    };

    /** Tickets for node A, which runs the sessions here. */
    const WATCH = { purpose: 'watch', node: 'node-a' } as const;
    const RECORDING = { purpose: 'recording', node: 'node-a' } as const;

    const liveSession = async () => {
      const row = sessionRow('node-a', now);
      await store.db.insertInto('sessions').values(row).execute();
      return row.id;
    };

    it('names the watcher once, for that session only', async () => {
      const id = await liveSession();
      const ticket = await tickets.issue(id, holder, WATCH);
      assert.match(ticket, /^tsr-watch-node-a\.[A-Za-z0-9_-]{43}$/);
      assert.deepEqual(await tickets.redeem(ticket, id, WATCH), holder);
      assert.equal(await tickets.redeem(ticket, id, WATCH), null, 'a second use');

      const other = await liveSession();
      const forOther = await tickets.issue(other, holder, WATCH);
      assert.equal(await tickets.redeem(forOther, id, WATCH), null, 'made for another session');
      assert.equal(await tickets.redeem(forOther, other, WATCH), null, 'spent by the wrong try');
    });

    it('serves its purpose and node only; a wrong try leaves it unspent', async () => {
      const id = await liveSession();
      const recording = await tickets.issue(id, holder, RECORDING);
      assert.match(recording, /^tsr-rec-node-a\.[A-Za-z0-9_-]{43}$/);
      assert.equal(ticketNode(recording, 'recording'), 'node-a');
      assert.equal(ticketNode(recording, 'watch'), null);
      assert.equal(await tickets.valid(recording, id, WATCH), false);
      assert.equal(await tickets.redeem(recording, id, WATCH), null, 'no watch with it');
      const elsewhere = { purpose: 'recording', node: 'node-c' } as const;
      assert.equal(await tickets.redeem(recording, id, elsewhere), null, 'no use on another node');
      const watch = await tickets.issue(id, holder, WATCH);
      assert.equal(await tickets.redeem(watch, id, RECORDING), null, 'no recording with it');
      // The purpose or node changed by hand changes the digest: no stored ticket is found.
      const random = recording.slice(recording.indexOf('.') + 1);
      assert.equal(await tickets.redeem(`tsr-watch-node-a.${random}`, id, WATCH), null);
      assert.equal(await tickets.redeem(`tsr-rec-node-c.${random}`, id, elsewhere), null);
      assert.deepEqual(await tickets.redeem(recording, id, RECORDING), holder);
      assert.deepEqual(await tickets.redeem(watch, id, WATCH), holder);
    });

    it('says whether a ticket holds without spending it', async () => {
      const id = await liveSession();
      const ticket = await tickets.issue(id, holder, WATCH);
      assert.equal(await tickets.valid(ticket, id, WATCH), true);
      assert.equal(await tickets.valid(ticket, id, WATCH), true, 'still there');
      assert.equal(
        await tickets.valid(ticket, await liveSession(), WATCH),
        false,
        'another session',
      );
      assert.equal(await tickets.valid('tsr-watch-nope', id, WATCH), false);
      assert.deepEqual(await tickets.redeem(ticket, id, WATCH), holder);
      assert.equal(await tickets.valid(ticket, id, WATCH), false, 'spent');
    });

    it('names the user as they are now, through a sign-in that is theirs alone', async () => {
      const id = await liveSession();
      const ticket = await tickets.issue(id, holder, WATCH);
      await store.db
        .updateTable('users')
        .set({ name: 'auditor-1b', role: 'user' })
        .where('id', '=', holder.userId)
        .execute();
      const redeemed = await tickets.redeem(ticket, id, WATCH);
      assert.equal(redeemed?.name, 'auditor-1b');
      assert.equal(redeemed?.role, 'user', 'as the user is now, not as when asked');
      await store.db
        .updateTable('users')
        .set({ name: holder.name, role: holder.role })
        .where('id', '=', holder.userId)
        .execute();
      const other = await signedIn('user-2', 'user');
      const borrowed = await tickets.issue(id, { ...holder, tokenId: other.tokenId }, WATCH);
      assert.equal(await tickets.redeem(borrowed, id, WATCH), null, "another user's sign-in");
    });

    it('stores only a digest of the ticket', async () => {
      const id = await liveSession();
      const ticket = await tickets.issue(id, holder, WATCH);
      const rows = await store.db.selectFrom('session_watch_tickets').selectAll().execute();
      assert.ok(rows.every((row) => !Object.values(row).includes(ticket)));
      assert.ok(rows.some((row) => row.digest === digestOf(ticket)));
      await tickets.redeem(ticket, id, WATCH);
    });

    it('refuses a ticket past its time, and one that is not a ticket', async () => {
      const id = await liveSession();
      const ticket = await tickets.issue(id, holder, WATCH);
      now += WATCH_TICKET_TTL_MS;
      assert.equal(await tickets.redeem(ticket, id, WATCH), null);
      for (const bad of ['', 'tsr-watch-', `${ticket}x`, 'tsr_notawatchticket', ticket.slice(1)]) {
        assert.equal(await tickets.redeem(bad, id, WATCH), null, bad);
      }
    });

    it('clears tickets nobody used once their time is over', async () => {
      const id = await liveSession();
      await tickets.issue(id, holder, WATCH);
      now += WATCH_TICKET_TTL_MS + 1;
      const fresh = await tickets.issue(id, holder, WATCH);
      const left = await store.db.selectFrom('session_watch_tickets').select('digest').execute();
      assert.deepEqual(
        left.map((row) => row.digest),
        [digestOf(fresh)],
      );
      assert.deepEqual(await tickets.redeem(fresh, id, WATCH), holder);
    });

    it('keeps the address each node gave at its last start', async () => {
      assert.equal(await nodes.apiUrlOf('node-x'), null, 'never started');
      await nodes.announce('node-x', 'http://10.0.0.5:7200');
      assert.equal(await nodes.apiUrlOf('node-x'), 'http://10.0.0.5:7200');
      await nodes.announce('node-x', null);
      assert.equal(await nodes.apiUrlOf('node-x'), null, 'restarted on every address');
      await nodes.announce('node-x', 'https://tessera-2.internal:7200');
      assert.equal(await nodes.apiUrlOf('node-x'), 'https://tessera-2.internal:7200');
    });

    it('lists the nodes, the latest started first, with the sessions live on each', async () => {
      await nodes.announce('node-a', 'http://10.0.0.4:7200');
      now += 1_000;
      await nodes.announce('node-y', null);
      const listed = await nodes.list();
      const [first] = listed;
      // No process here claimed node-y: PostgreSQL says it is not running, SQLite cannot tell.
      const running = kind === 'postgres' ? false : null;
      assert.deepEqual(first, {
        id: 'node-y',
        apiUrl: null,
        startedAt: now,
        liveSessions: 0,
        running,
      });
      if (kind === 'postgres') {
        assert.deepEqual(await store.claimNode('node-y'), { claimed: true });
        const claimed = (await nodes.list()).find((n) => n.id === 'node-y');
        assert.equal(claimed?.running, true, 'claimed by this process');
      }
      const nodeA = listed.find((n) => n.id === 'node-a');
      const live = await store.db
        .selectFrom('sessions')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('node_id', '=', 'node-a')
        .where('state', '=', 'live')
        .executeTakeFirstOrThrow();
      assert.ok(Number(live.n) > 0, 'this file made live sessions on node A');
      assert.equal(nodeA?.liveSessions, Number(live.n));
      assert.equal(nodeA?.apiUrl, 'http://10.0.0.4:7200');
    });
  });
}
