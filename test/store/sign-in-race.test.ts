import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { sql } from 'kysely';
import { Secret, TOTP } from 'otpauth';
import { createAuditLog } from '../../src/audit/audit-log.ts';
import type { RequestContext } from '../../src/audit/event.ts';
import { TesseraError } from '../../src/errors.ts';
import { createLoginThrottle } from '../../src/identity/login-throttle.ts';
import { createMfaService, type MfaService } from '../../src/identity/mfa.ts';
import { createPasswordHasher } from '../../src/identity/password-hash.ts';
import { createPasswordSignIn } from '../../src/identity/password-sign-in.ts';
import type { Principal } from '../../src/identity/principal.ts';
import { createTokenService } from '../../src/identity/tokens.ts';
import { createUserService } from '../../src/identity/users.ts';
import { createLogger } from '../../src/logger.ts';
import { createKeyring } from '../../src/vault/keyring.ts';
import { openTestStore, STORE_KINDS } from '../support/stores.ts';

const PASSWORD = 'correct horse battery staple';
const codeOf = (error: unknown) => (error instanceof TesseraError ? error.code : String(error));

/**
 * A password sign-in checks the password and the second factor, then writes its token. A change
 * that revokes the user's sign-ins (a factor confirmed, a new password, disabling) made in that
 * gap must refuse the sign-in: before, its token was written after the revocation and lived on.
 */
for (const kind of STORE_KINDS) {
  describe(`a password sign-in racing a change to the user, on ${kind}`, async () => {
    const { store, drop } = await openTestStore(kind);
    after(drop);
    const clock = { now: () => Date.now() };
    const keyring = createKeyring({ store, clock });
    await keyring.unsealWithKey(Buffer.from(await keyring.initializeWithKey()));
    const audit = createAuditLog({ store, clock, logger: createLogger({ level: 'silent' }) });
    const tokens = createTokenService({ store, clock });
    const hasher = createPasswordHasher({ memoryKiB: 1024, passes: 1, parallelism: 1 });
    const throttle = createLoginThrottle();
    const users = createUserService({ store, audit, hasher, tokens, throttle, clock });
    const mfa = createMfaService({ store, audit, keyring, clock, users, tokens });
    const admin: Principal = { userId: 'admin-id', name: 'admin', role: 'admin', tokenId: 'x' };
    const asAdmin: RequestContext = {
      actor: { id: null, name: 'admin' },
      source: null,
      requestId: null,
    };
    let serial = 0;

    const newUser = async () => {
      serial += 1;
      const name = `racer${serial}`;
      const user = await users.create(asAdmin, { name, role: 'user', password: PASSWORD });
      const ctx: RequestContext = { actor: { id: user.id, name }, source: null, requestId: null };
      return { ...user, ctx, principal: { userId: user.id, name } };
    };

    /** Enrols and confirms a factor for the user, as they would from their own sign-in. */
    const confirmFactor = async (user: Awaited<ReturnType<typeof newUser>>) => {
      const { secret } = await mfa.enroll(user.ctx, user.principal);
      const code = TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: clock.now() });
      await mfa.confirm(user.ctx, user.principal, code);
    };

    /**
     * The code a sign-in by password alone is refused with when `meanwhile` runs between its
     * first look at the factor and its token ('signed in' when it is not refused).
     */
    const refusal = (name: string, meanwhile: () => Promise<unknown>) => {
      const racing: Pick<MfaService, 'hasFactor' | 'verify'> = {
        async hasFactor(userId, db) {
          const answer = await mfa.hasFactor(userId, db);
          if (db === undefined) await meanwhile();
          return answer;
        },
        verify: mfa.verify,
      };
      return createPasswordSignIn({ users, mfa: racing, audit })
        .signIn({ source: null, requestId: null }, { user: name, password: PASSWORD })
        .then(() => 'signed in', codeOf);
    };

    const liveLogins = async (userId: string) => {
      const rows = await store.db
        .selectFrom('tokens')
        .select('id')
        .where('user_id', '=', userId)
        .where('kind', '=', 'login')
        .where('revoked_at', 'is', null)
        .execute();
      return rows.length;
    };

    const lastLogin = async (name: string) =>
      store.db
        .selectFrom('audit_events')
        .select(['outcome', 'details'])
        .where('action', '=', 'auth.login')
        .where('actor_name', '=', name)
        .orderBy('seq', 'desc')
        .executeTakeFirstOrThrow();

    it('refuses a sign-in by password alone when a factor is confirmed meanwhile', async () => {
      const user = await newUser();
      const code = await refusal(user.name, () => confirmFactor(user));
      assert.equal(code, 'MFA_REQUIRED');
      assert.equal(await liveLogins(user.id), 0, 'no token by the password alone');
      const event = await lastLogin(user.name);
      assert.equal(event.outcome, 'failure');
      assert.match(String(event.details), /code-required/);
    });

    it('refuses a sign-in whose password is changed meanwhile', async () => {
      const user = await newUser();
      const code = await refusal(user.name, () =>
        users.setPassword(asAdmin, admin, { name: user.name, password: 'a new password 2026' }),
      );
      assert.equal(code, 'UNAUTHENTICATED');
      assert.equal(await liveLogins(user.id), 0, 'no token for the old password');
      assert.match(String((await lastLogin(user.name)).details), /changed-meanwhile/);
    });

    it('refuses a sign-in whose user is disabled meanwhile', async () => {
      const user = await newUser();
      const code = await refusal(user.name, () =>
        users.setDisabled(asAdmin, admin, { name: user.name, disabled: true }),
      );
      assert.equal(code, 'UNAUTHENTICATED');
      assert.equal(await liveLogins(user.id), 0);
    });

    it('leaves no password-only sign-in beside a factor confirmed at the same time', async () => {
      for (let round = 0; round < 10; round += 1) {
        const user = await newUser();
        const signIn = createPasswordSignIn({ users, mfa, audit });
        const [signedIn] = await Promise.allSettled([
          signIn.signIn({ source: null, requestId: null }, { user: user.name, password: PASSWORD }),
          confirmFactor(user),
        ]);
        // Either order is right: refused for want of a code, or signed in and then revoked.
        if (signedIn.status === 'rejected') assert.equal(codeOf(signedIn.reason), 'MFA_REQUIRED');
        assert.equal(await liveLogins(user.id), 0, `round ${round}: ${signedIn.status}`);
      }
    });

    /**
     * A user service whose hashing of `password` runs `meanwhile` once it is done: a change of
     * password checks, hashes the new one, then writes, so `meanwhile` lands between the hashing
     * and the writing. Only that password: the service hashes a decoy of its own as it starts.
     */
    const hashingThen = (password: string, meanwhile: () => Promise<void>) => {
      let pending: (() => Promise<void>) | null = meanwhile;
      const racingHasher = {
        verify: hasher.verify,
        async hash(given: string) {
          const hashed = await hasher.hash(given);
          if (given !== password) return hashed;
          const run = pending;
          pending = null;
          await run?.();
          return hashed;
        },
      };
      return createUserService({ store, audit, hasher: racingHasher, tokens, throttle, clock });
    };

    /** Whether `password` signs the user in now. */
    const signsIn = async (name: string, password: string) => {
      const signIn = createPasswordSignIn({ users, mfa, audit });
      const ctx = { source: null, requestId: null };
      return signIn.signIn(ctx, { user: name, password }).then(
        () => true,
        () => false,
      );
    };

    it("refuses one's own password change once an administrator reset it meanwhile", async () => {
      const user = await newUser();
      const chosen = 'the thief chose this 2026';
      const reset = 'the administrator reset 2026';
      const racing = hashingThen(chosen, () =>
        users.setPassword(asAdmin, admin, { name: user.name, password: reset }),
      );
      const own: Principal = { userId: user.id, name: user.name, role: 'user', tokenId: 'old' };
      await assert.rejects(
        racing.setPassword(user.ctx, own, {
          name: user.name,
          password: chosen,
          currentPassword: PASSWORD,
        }),
        (error) => codeOf(error) === 'CONFLICT',
      );
      assert.equal(await signsIn(user.name, reset), true, "the administrator's reset stands");
    });

    it("lets an administrator's reset stand over the user's own change meanwhile", async () => {
      const user = await newUser();
      const reset = 'the administrator reset 2027';
      const own: Principal = { userId: user.id, name: user.name, role: 'user', tokenId: 'old' };
      const racing = hashingThen(reset, () =>
        users.setPassword(user.ctx, own, {
          name: user.name,
          password: 'the thief chose this 2027',
          currentPassword: PASSWORD,
        }),
      );
      await racing.setPassword(asAdmin, admin, { name: user.name, password: reset });
      assert.equal(await signsIn(user.name, reset), true, "the administrator's reset is it");
    });

    it('binds no factor through a sign-in revoked since the enrolment', async () => {
      const user = await newUser();
      const signIn = createPasswordSignIn({ users, mfa, audit });
      const signedIn = await signIn.signIn(
        { source: null, requestId: null },
        { user: user.name, password: PASSWORD },
      );
      const principal = { ...user.principal, tokenId: signedIn.tokenId };
      const { secret } = await mfa.enroll(user.ctx, principal);
      await users.setPassword(asAdmin, admin, { name: user.name, password: 'reset by admin 2026' });
      const code = TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: clock.now() });
      await assert.rejects(
        mfa.confirm(user.ctx, principal, code),
        (error) => codeOf(error) === 'UNAUTHENTICATED',
      );
      assert.equal(await mfa.hasFactor(user.id), false);
      const refused = await store.db
        .selectFrom('audit_events')
        .select(['outcome', 'details'])
        .where('action', '=', 'mfa.confirm')
        .where('object_id', '=', user.id)
        .execute();
      assert.deepEqual(
        refused.map((e) => [e.outcome, String(e.details)]),
        [['failure', JSON.stringify({ why: 'signed-out' })]],
      );
    });

    // Only PostgreSQL lets another connection read while a transaction waits (SQLite has one).
    if (kind === 'postgres') {
      it('caches no token read as live while its revocation was being written', async () => {
        const user = await newUser();
        const signIn = createPasswordSignIn({ users, mfa, audit });
        const { token } = await signIn.signIn(
          { source: null, requestId: null },
          { user: user.name, password: PASSWORD },
        );
        // The audit chain's lock, held: the disabling revokes the tokens, then waits for it.
        let release: () => void = () => undefined;
        const held = new Promise<void>((resolve) => {
          release = resolve;
        });
        let locked: () => void = () => undefined;
        const lockTaken = new Promise<void>((resolve) => {
          locked = resolve;
        });
        const holder = store.transaction(async (trx) => {
          await store.lockAuditChain(trx);
          locked();
          await held;
        });
        await lockTaken;
        const disabling = users.setDisabled(asAdmin, admin, { name: user.name, disabled: true });
        await waitForLockWaiter();
        assert.ok(await tokens.authenticate(token), 'read before the commit: still live');
        release();
        await holder;
        await disabling;
        assert.equal(await tokens.authenticate(token), null, 'revoked once the change is done');
      });
    }

    /** Until a transaction waits for an advisory lock (the audit chain's). */
    async function waitForLockWaiter() {
      for (let tries = 0; tries < 200; tries += 1) {
        const { rows } = await sql<{ waiting: number }>`
          select count(*)::int as waiting from pg_locks
          where locktype = 'advisory' and not granted`.execute(store.db);
        if ((rows[0]?.waiting ?? 0) > 0) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error('the disabling never waited for the audit lock');
    }
  });
}
