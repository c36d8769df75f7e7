import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from '../../src/store/store.ts';
import { EnvelopeError, newKey, open, seal } from '../../src/vault/envelope.ts';
import { createKeyring } from '../../src/vault/keyring.ts';
import { createSecretCipher } from '../../src/vault/secret-cipher.ts';

describe('envelope', () => {
  it('opens only with the same key and the same context', () => {
    const key = newKey();
    const sealed = seal(key, Buffer.from('hunter2'), 'ctx-a');
    assert.equal(open(key, sealed, 'ctx-a').toString(), 'hunter2');
    assert.throws(() => open(key, sealed, 'ctx-b'), EnvelopeError);
    assert.throws(() => open(newKey(), sealed, 'ctx-a'), EnvelopeError);
  });

  it('refuses a flipped bit anywhere in the sealed value', () => {
    const key = newKey();
    const sealed = seal(key, Buffer.from('secret value'), 'ctx');
    for (let i = 1; i < sealed.length; i++) {
      const copy = Buffer.from(sealed);
      copy[i] = (copy[i] ?? 0) ^ 0x01;
      assert.throws(() => open(key, copy, 'ctx'), EnvelopeError, `byte ${i}`);
    }
  });

  it('never produces the same ciphertext twice for the same value', () => {
    const key = newKey();
    assert.notDeepEqual(seal(key, Buffer.from('x'), 'c'), seal(key, Buffer.from('x'), 'c'));
  });
});

describe('secret cipher', () => {
  const unsealedCipher = async () => {
    // The keyring needs a store only to read its row; these calls never reach it.
    const keyring = createKeyring({ store: {} as Store, clock: { now: () => 0 } });
    const rootKey = newKey();
    Object.assign(keyring, { keys: () => ({ rootKey }) });
    return createSecretCipher({ keyring });
  };

  it('binds each ciphertext to its safe, account and version', async () => {
    const cipher = await unsealedCipher();
    const safe = { safeId: 's1', wrappedKek: cipher.newSafeKey('s1') };
    const at = { safeId: 's1', accountId: 'a1', version: 1 };
    const sealed = cipher.encrypt(safe, at, Buffer.from('p@ss'));
    assert.equal(cipher.decrypt(safe, at, sealed).toString(), 'p@ss');

    assert.throws(() => cipher.decrypt(safe, { ...at, accountId: 'a2' }, sealed), EnvelopeError);
    assert.throws(() => cipher.decrypt(safe, { ...at, version: 2 }, sealed), EnvelopeError);
    const otherSafe = { safeId: 's2', wrappedKek: cipher.newSafeKey('s2') };
    assert.throws(() => cipher.decrypt(otherSafe, { ...at, safeId: 's2' }, sealed), EnvelopeError);
  });

  it('refuses a safe key moved to another safe', async () => {
    const cipher = await unsealedCipher();
    const moved = { safeId: 's2', wrappedKek: cipher.newSafeKey('s1') };
    assert.throws(
      () => cipher.encrypt(moved, { safeId: 's2', accountId: 'a', version: 1 }, Buffer.from('x')),
      EnvelopeError,
    );
  });
});
