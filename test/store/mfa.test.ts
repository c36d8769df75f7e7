import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { createAuditLog } from '../../src/audit/audit-log.ts';
import type { RequestContext } from '../../src/audit/event.ts';
import { TesseraError } from '../../src/errors.ts';
import { createMfaService, matchStep } from '../../src/identity/mfa.ts';
import { createLogger } from '../../src/logger.ts';
import { createKeyring } from '../../src/vault/keyring.ts';
import { userRow } from '../support/rows.ts';
import { openTestStore, STORE_KINDS } from '../support/stores.ts';

const quiet = createLogger({ level: 'silent' });
const codeAt = (secret: string, at: number) =>
  TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: at });
const codeOf = (error: unknown) => (error instanceof TesseraError ? error.code : String(error));

/** The service over a real store and a real, unsealed keyring; the users exist as rows. */
for (const kind of STORE_KINDS) {
  describe(`second factor service on ${kind}`, async () => {
    const { store, drop } = await openTestStore(kind);
    after(drop);
    let now = Date.parse('2026-12-01T09:00:00Z');
    const clock = { now: () => now };
    const keyring = createKeyring({ store, clock });
    const unsealKey = await keyring.initializeWithKey();
    await keyring.unsealWithKey(Buffer.from(unsealKey));
    const audit = createAuditLog({ store, clock, logger: quiet });
    const mfa = createMfaService({ store, audit, keyring, clock });

    /** A user with a confirmed factor, and the secret their app holds. */
    const enrolledUser = async (name: string) => {
      const { id } = await store.db
        .insertInto('users')
        .values(userRow(name, 'user', now))
        .returning('id')
        .executeTakeFirstOrThrow();
      const principal = { userId: id, name };
      const ctx: RequestContext = { actor: { id, name }, source: null, requestId: null };
      const { secret } = await mfa.enroll(ctx, principal);
      await mfa.confirm(ctx, principal, codeAt(secret, now));
      now += 30_000;
      return { id, ctx, secret };
    };

    it('lets exactly one of two concurrent uses of the same code pass', async () => {
      const { id, ctx, secret } = await enrolledUser('racer');
      for (let round = 0; round < 3; round += 1) {
        const code = codeAt(secret, now);
        const results = await Promise.allSettled([
          mfa.verify(ctx, id, code),
          mfa.verify(ctx, id, code),
        ]);
        const passed = results.filter((r) => r.status === 'fulfilled');
        const refused = results.flatMap((r) => (r.status === 'rejected' ? [codeOf(r.reason)] : []));
        assert.equal(passed.length, 1, `round ${round}: ${JSON.stringify(refused)}`);
        assert.deepEqual(refused, ['MFA_INVALID']);
        now += 30_000;
      }
    });

    it('lets one of many concurrent uses of the same code pass', async () => {
      const { id, ctx, secret } = await enrolledUser('crowd');
      const code = codeAt(secret, now);
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, () => mfa.verify(ctx, id, code)),
      );
      const outcomes = results.map((r) => (r.status === 'fulfilled' ? 'ok' : codeOf(r.reason)));
      assert.equal(outcomes.filter((o) => o === 'ok').length, 1, outcomes.join());
      // The losers are replays, or refused by the throttle once five were checked at once.
      const losers = outcomes.filter((o) => o !== 'ok');
      assert.ok(
        losers.every((o) => o === 'MFA_INVALID' || o === 'RATE_LIMITED'),
        outcomes.join(),
      );
    });

    it('checks at most five guesses sent at once', async () => {
      const { id, ctx } = await enrolledUser('burst');
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => mfa.verify(ctx, id, String(100000 + i))),
      );
      const outcomes = results.map((r) => (r.status === 'fulfilled' ? 'ok' : codeOf(r.reason)));
      assert.equal(outcomes.filter((o) => o === 'MFA_INVALID').length, 5, outcomes.join());
      assert.equal(outcomes.filter((o) => o === 'RATE_LIMITED').length, 15, outcomes.join());
    });

    it('does not count an attempt the sealed vault could not check', async () => {
      const { id, ctx, secret } = await enrolledUser('sealed');
      keyring.seal();
      try {
        for (let i = 0; i < 6; i += 1) {
          await assert.rejects(mfa.verify(ctx, id, codeAt(secret, now)), (e) => {
            return codeOf(e) === 'VAULT_SEALED';
          });
        }
      } finally {
        await keyring.unsealWithKey(Buffer.from(unsealKey));
      }
      await mfa.verify(ctx, id, codeAt(secret, now));
    });
  });
}

describe('matching a code to a time step', () => {
  const secret = new Secret({ size: 20 });
  const bytes = Buffer.from(secret.bytes);
  const at = Date.parse('2026-12-01T09:00:10Z');
  const step = Math.floor(at / 30_000);
  const code = (offset: number) => TOTP.generate({ secret, timestamp: at + offset * 30_000 });

  it('accepts the current step and one either side, and says which', () => {
    assert.equal(matchStep(bytes, code(0), at), step);
    assert.equal(matchStep(bytes, code(-1), at), step - 1);
    assert.equal(matchStep(bytes, code(1), at), step + 1);
    assert.equal(matchStep(bytes, code(-2), at), code(-2) === code(-1) ? step - 1 : null);
    assert.equal(matchStep(bytes, code(2), at), code(2) === code(1) ? step + 1 : null);
  });

  // Hostile input: each refused quietly (null), none throws, whatever its bytes.
  const hostile = [
    '',
    '12345',
    '1234567',
    ' 123456',
    '12345\n',
    '１２３４５６',
    '12345é',
    '٣٣٣٣٣٣',
    '12a456',
    '+12345',
    '-12345',
    '1e5000',
  ];
  for (const input of hostile) {
    it(`refuses ${JSON.stringify(input)}`, () => {
      assert.equal(matchStep(bytes, input, at), null);
    });
  }
});
