import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createAuditLog } from '../../src/audit/audit-log.ts';
import { chainHash, GENESIS_HASH } from '../../src/audit/chain.ts';
import { createCheckpointer } from '../../src/audit/checkpointer.ts';
import { verifyChain } from '../../src/audit/verify-chain.ts';
import { TesseraError } from '../../src/errors.ts';
import { createLogger } from '../../src/logger.ts';
import { openStore } from '../../src/store/store.ts';
import type { Keyring } from '../../src/vault/keyring.ts';
import { createTestStoreLocation, STORE_KINDS } from '../support/stores.ts';

const quiet = createLogger({ level: 'silent' });
const clock = { now: () => Date.now() };

function fakeUnsealedKeyring(): Keyring {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    isSealed: () => false,
    keys: () => ({
      rootKey: Buffer.alloc(32),
      signingKey: privateKey,
      signingPublicKey: publicKey,
    }),
  } as unknown as Keyring;
}

const event = (n: number) => ({
  action: 'test.event',
  outcome: 'success' as const,
  actor: { id: null, name: `writer-${n % 7}` },
  object: { type: 'thing', id: `${n}`, name: `thing-${n}` },
  details: { n },
});

for (const kind of STORE_KINDS) {
  describe(`audit chain on ${kind}`, async () => {
    const place = await createTestStoreLocation(kind);
    const store = await openStore(place.location);
    const keyring = fakeUnsealedKeyring();
    const { signingPublicKey } = keyring.keys();
    const audit = createAuditLog({ store, clock, logger: quiet });
    // A fresh signer per test, as after a restart: a running one remembers what it signed.
    let checkpointer = createCheckpointer({ store, keyring, clock, logger: quiet });
    after(async () => {
      await store.close();
      await place.drop();
    });

    const reset = async () => {
      await store.db.deleteFrom('audit_checkpoints').execute();
      await store.db.deleteFrom('audit_events').execute();
      checkpointer = createCheckpointer({ store, keyring, clock, logger: quiet });
    };
    const checkpoints = async () =>
      (await store.db.selectFrom('audit_checkpoints').select('seq').orderBy('seq').execute()).map(
        (c) => c.seq,
      );

    /** What an attacker with write access to the store does: edit, then recompute every hash. */
    const rewriteFrom = async (seq: number, change: { actor_name: string }) => {
      const rows = await store.db
        .selectFrom('audit_events')
        .selectAll()
        .where('seq', '>=', seq)
        .orderBy('seq')
        .execute();
      const before = await store.db
        .selectFrom('audit_events')
        .select('hash')
        .where('seq', '=', seq - 1)
        .executeTakeFirst();
      let prevHash = before?.hash ?? GENESIS_HASH;
      for (const row of rows) {
        const edited = row.seq === seq ? { ...row, ...change } : row;
        const hash = chainHash(prevHash, edited);
        await store.db
          .updateTable('audit_events')
          .set({ ...edited, prev_hash: prevHash, hash })
          .where('seq', '=', row.seq)
          .execute();
        prevHash = hash;
      }
      await store.db.deleteFrom('audit_checkpoints').where('seq', '>=', seq).execute();
    };

    it('keeps one unbroken chain under concurrent writers', async () => {
      await reset();
      // On PostgreSQL a second node writes too; a SQLite data directory belongs to one process.
      const other = kind === 'postgres' ? await openStore(place.location) : store;
      const otherAudit = createAuditLog({ store: other, clock, logger: quiet });
      try {
        const writes: Promise<void>[] = [];
        for (let i = 0; i < 600; i++) {
          writes.push((i % 2 === 0 ? audit : otherAudit).record(event(i)));
          if (i % 50 === 0) {
            writes.push(
              store.transaction((trx) => audit.appendInTx(trx, [event(i), event(i + 1)])),
            );
          }
        }
        await Promise.all(writes);
      } finally {
        if (other !== store) await other.close();
      }
      await checkpointer.checkpoint();
      const report = await verifyChain(store, signingPublicKey);
      assert.equal(report.ok, true, JSON.stringify(report));
      assert.equal(report.events, 600 + 24);
    });

    it('names the first altered, removed or reordered event', async () => {
      await reset();
      for (let i = 0; i < 30; i++) await audit.record(event(i));
      await checkpointer.checkpoint();
      assert.equal((await verifyChain(store, signingPublicKey)).ok, true);

      await store.db
        .updateTable('audit_events')
        .set({ actor_name: 'mallory' })
        .where('seq', '=', 12)
        .execute();
      assert.deepEqual((await verifyChain(store, signingPublicKey)).firstBad, {
        seq: 12,
        problem: 'altered',
      });
      await store.db
        .updateTable('audit_events')
        .set({ actor_name: 'writer-4' })
        .where('seq', '=', 12)
        .execute();
      assert.equal((await verifyChain(store, signingPublicKey)).ok, true);

      const row = await store.db
        .selectFrom('audit_events')
        .selectAll()
        .where('seq', '=', 8)
        .executeTakeFirstOrThrow();
      await store.db.deleteFrom('audit_events').where('seq', '=', 8).execute();
      assert.deepEqual((await verifyChain(store, signingPublicKey)).firstBad, {
        seq: 8,
        problem: 'missing',
      });
      await store.db.insertInto('audit_events').values(row).execute();

      // Swap the contents of events 20 and 21, keeping their sequence numbers.
      const [e20, e21] = await Promise.all(
        [20, 21].map((seq) =>
          store.db
            .selectFrom('audit_events')
            .selectAll()
            .where('seq', '=', seq)
            .executeTakeFirstOrThrow(),
        ),
      );
      if (e20 === undefined || e21 === undefined) throw new Error('rows missing');
      await store.db.deleteFrom('audit_events').where('seq', 'in', [20, 21]).execute();
      await store.db
        .insertInto('audit_events')
        .values([
          { ...e21, seq: 20 },
          { ...e20, seq: 21 },
        ])
        .execute();
      const swapped = await verifyChain(store, signingPublicKey);
      assert.equal(swapped.firstBad?.seq, 20);
    });

    it('detects a rewritten chain by its checkpoint signature, and a cut tail', async () => {
      await reset();
      for (let i = 0; i < 10; i++) await audit.record(event(i));
      await checkpointer.checkpoint();

      await store.db.deleteFrom('audit_events').where('seq', '>', 7).execute();
      assert.deepEqual((await verifyChain(store, signingPublicKey)).firstBad, {
        seq: 8,
        problem: 'truncated',
      });

      // Rewriting the tail with valid hashes still leaves the signed checkpoint unmatched.
      for (let i = 0; i < 3; i++) await audit.record(event(100 + i));
      const rewritten = await verifyChain(store, signingPublicKey);
      assert.deepEqual(rewritten.firstBad, { seq: 10, problem: 'checkpoint-mismatch' });

      await reset();
      for (let i = 0; i < 5; i++) await audit.record(event(i));
      await checkpointer.checkpoint();
      await store.db
        .updateTable('audit_checkpoints')
        .set({ signature: Buffer.alloc(64) })
        .execute();
      const forged = await verifyChain(store, signingPublicKey);
      assert.deepEqual(forged.firstBad, { seq: 5, problem: 'checkpoint-signature' });
    });

    it('never signs a tail that does not link to the last checkpoint', async () => {
      await reset();
      for (let i = 0; i < 5; i++) await audit.record(event(i));
      await checkpointer.checkpoint();
      for (let i = 5; i < 9; i++) await audit.record(event(i));
      await store.db
        .updateTable('audit_events')
        .set({ actor_name: 'mallory' })
        .where('seq', '=', 7)
        .execute();
      await checkpointer.checkpoint();
      assert.deepEqual(await checkpoints(), [5], 'the altered segment got no signature');
      // Verifying signs nothing either.
      const report = await verifyChain(store, signingPublicKey);
      assert.deepEqual(report.firstBad, { seq: 7, problem: 'altered' });
      assert.deepEqual(await checkpoints(), [5]);
    });

    it('notices checkpoints deleted while it runs, and stops signing', async () => {
      await reset();
      for (let i = 0; i < 4; i++) await audit.record(event(i));
      await checkpointer.checkpoint();
      await rewriteFrom(3, { actor_name: 'mallory' });
      await audit.record(event(9));
      await checkpointer.checkpoint();
      assert.deepEqual(await checkpoints(), [], 'the forged tail was not signed');
    });

    it('catches a rewrite with fresh hashes and deleted checkpoints by an anchor', async () => {
      await reset();
      for (let i = 0; i < 6; i++) await audit.record(event(i));
      await checkpointer.checkpoint();
      const [anchor] = await store.db
        .selectFrom('audit_checkpoints')
        .select(['seq', 'hash'])
        .execute();
      assert.ok(anchor);

      await rewriteFrom(4, { actor_name: 'mallory' });
      // The store alone now looks consistent: nothing signed covers the forged events ...
      assert.equal((await verifyChain(store, signingPublicKey)).ok, true);
      // ... but the checkpoint logged before the edit does not match any more.
      const anchored = await verifyChain(store, signingPublicKey, [anchor]);
      assert.deepEqual(anchored.firstBad, { seq: 6, problem: 'anchor-mismatch' });

      await store.db.deleteFrom('audit_events').where('seq', '>', 3).execute();
      const cut = await verifyChain(store, signingPublicKey, [anchor]);
      assert.deepEqual(cut.firstBad, { seq: 4, problem: 'truncated' });
    });

    it('fails the operation when the event cannot be written', async () => {
      await reset();
      await sql`drop table audit_checkpoints`.execute(store.db);
      await sql`alter table audit_events rename to audit_events_gone`.execute(store.db);
      try {
        await assert.rejects(
          audit.record(event(1)),
          (e: unknown) => e instanceof TesseraError && e.code === 'AUDIT_UNAVAILABLE',
        );
        await assert.rejects(
          store.transaction(async (trx) => {
            await trx
              .insertInto('leases')
              .values({ name: 'x', owner: 'o', expires_at: 1 })
              .execute();
            await audit.appendInTx(trx, [event(2)]);
          }),
          (e: unknown) => e instanceof TesseraError && e.code === 'AUDIT_UNAVAILABLE',
        );
        // The state change rolled back with its event.
        assert.equal((await store.db.selectFrom('leases').selectAll().execute()).length, 0);
      } finally {
        await sql`alter table audit_events_gone rename to audit_events`.execute(store.db);
        const binary = sql.raw(kind === 'sqlite' ? 'blob' : 'bytea');
        await sql`create table audit_checkpoints (
          seq bigint primary key, hash text not null, signed_at bigint not null,
          signature ${binary} not null)`.execute(store.db);
      }
    });
  });
}
