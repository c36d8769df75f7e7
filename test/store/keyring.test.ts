import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { TesseraError } from '../../src/errors.ts';
import { createKeyring } from '../../src/vault/keyring.ts';
import { openTestStore, STORE_KINDS } from '../support/stores.ts';

const code = (c: string) => (error: unknown) => error instanceof TesseraError && error.code === c;

for (const kind of STORE_KINDS) {
  describe(`keyring on ${kind}`, async () => {
    const { store, drop } = await openTestStore(kind);
    after(drop);
    const clock = { now: () => Date.now() };

    it('starts not initialised and sealed, refusing keys', async () => {
      const keyring = createKeyring({ store, clock });
      assert.deepEqual(await keyring.status(), {
        initialized: false,
        sealed: true,
        threshold: 0,
        shares: 0,
        progress: 0,
      });
      assert.throws(() => keyring.keys(), code('VAULT_SEALED'));
    });

    it('unseals with threshold shares; wrong and repeated shares do not count', async () => {
      const keyring = createKeyring({ store, clock });
      const { shares } = await keyring.initialize({ shares: 5, threshold: 3 });
      assert.equal(shares.length, 5);
      await assert.rejects(
        keyring.initialize({ shares: 5, threshold: 3 }),
        code('ALREADY_INITIALIZED'),
      );

      const [a, b, c, d] = shares as [string, string, string, string, string];
      assert.equal((await keyring.submitShare(a)).progress, 1);
      await assert.rejects(keyring.submitShare(a), code('UNSEAL_SHARE_REPEATED'));
      const forged = Buffer.from(b, 'base64');
      forged[0] = (forged[0] ?? 0) ^ 0xff;
      await assert.rejects(
        keyring.submitShare(forged.toString('base64')),
        code('UNSEAL_SHARE_INVALID'),
      );
      await assert.rejects(keyring.submitShare('not a share'), code('UNSEAL_SHARE_INVALID'));
      assert.equal((await keyring.status()).progress, 1);

      assert.equal((await keyring.submitShare(c)).sealed, true);
      const status = await keyring.submitShare(d);
      assert.equal(status.sealed, false);
      assert.equal(keyring.keys().rootKey.length, 32);
      // Unsealed, a valid share changes nothing and a wrong one is still refused.
      assert.equal((await keyring.submitShare(b)).sealed, false);
      await assert.rejects(
        keyring.submitShare(forged.toString('base64')),
        code('UNSEAL_SHARE_INVALID'),
      );

      // Another node (a fresh keyring on the same store) rebuilds the root key from other shares.
      const rootKey = Buffer.from(keyring.keys().rootKey);
      keyring.seal();
      assert.throws(() => keyring.keys(), code('VAULT_SEALED'));
      const second = createKeyring({ store, clock });
      await second.submitShare(shares[4] as string);
      await second.submitShare(b);
      await second.submitShare(a);
      assert.deepEqual(second.keys().rootKey, rootKey);
    });

    it('refuses to unseal when the stored audit public key was replaced', async () => {
      const keyring = createKeyring({ store, clock });
      await store.db.deleteFrom('keyring').execute();
      const { shares } = await keyring.initialize({ shares: 2, threshold: 2 });
      const foreign = generateKeyPairSync('ed25519').publicKey.export({
        format: 'der',
        type: 'spki',
      });
      await store.db
        .updateTable('keyring')
        .set({ signing_public_key: foreign.toString('base64') })
        .execute();
      const fresh = createKeyring({ store, clock });
      await fresh.submitShare(shares[0] as string);
      await assert.rejects(fresh.submitShare(shares[1] as string), code('INTEGRITY_FAILURE'));
      assert.equal(fresh.isSealed(), true);
    });
  });
}
