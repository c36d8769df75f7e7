import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPasswordHasher } from '../../src/identity/password-hash.ts';

describe('password hashing', () => {
  const hasher = createPasswordHasher({ memoryKiB: 1024, passes: 1, parallelism: 1 });

  it('verifies the password it hashed, and nothing else', async () => {
    const stored = await hasher.hash('correct horse battery staple');
    assert.match(stored, /^\$(argon2id|scrypt)\$/);
    assert.equal(await hasher.verify('correct horse battery staple', stored), true);
    assert.equal(await hasher.verify('correct horse battery stapler', stored), false);
    assert.equal(await hasher.verify('correct horse battery staple', 'not a hash'), false);
  });

  it('takes a password typed precomposed or decomposed as the same', async () => {
    const stored = await hasher.hash('Gr\u00fc\u00dfe');
    assert.equal(await hasher.verify('Gru\u0308\u00dfe', stored), true);
  });

  it('answers every login of a burst, one hash per free core at a time', async () => {
    const passwords = Array.from({ length: 12 }, (_, i) => `burst password ${i}`);
    const stored = await Promise.all(passwords.map((p) => hasher.hash(p)));
    const checks = await Promise.all(
      passwords.map((p, i) => hasher.verify(p, stored[(i + 1) % stored.length] ?? '')),
    );
    assert.deepEqual(
      checks,
      passwords.map(() => false),
    );
    const own = await Promise.all(passwords.map((p, i) => hasher.verify(p, stored[i] ?? '')));
    assert.deepEqual(
      own,
      passwords.map(() => true),
    );
  });
});
