/**
 * A user registers their own SSH key only by proving they hold it: a challenge from the server,
 * signed by the real `ssh-keygen -Y sign`. Public keys are public, and the gateway knows a user
 * by their key alone, so without the proof anyone could file someone else's key under their own
 * name and be credited with that person's gateway logins (or lock them out of their own key).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Clock } from '../../src/clock.ts';
import { KEY_CHALLENGE_TTL_MS, KEY_PROOF_NAMESPACE } from '../../src/gateway/key-proof.ts';
import { fingerprintOf, parsePublicKeyLine } from '../../src/gateway/user-keys.ts';
import {
  addOwnKey,
  auditEvents,
  type Harness,
  KEY_KINDS,
  keyPair,
  linuxAccount,
  sshSign,
  sshThrough,
  startHarness,
  unique,
} from '../gateway/support.ts';
import { useSshd } from '../support/sshd.ts';

interface Person {
  readonly name: string;
  readonly token: string;
}
interface Key {
  readonly file: string;
  readonly publicKey: string;
}
interface Challenge {
  readonly challenge: string;
  readonly namespace: string;
  readonly expiresAt: string;
}
type Reply = { status: number; body: { error?: { code: string } } };

describe('ssh key registration needs proof of the private key', () => {
  const sshd = useSshd();
  let offset = 0;
  const clock: Clock = { now: () => Date.now() + offset };
  let h: Harness;
  let linuxUser: string;
  const linuxPassword = `Pw-${randomBytes(12).toString('base64url')}`;

  before(async () => {
    h = await startHarness({ clock });
    linuxUser = (await sshd().createUser('tkp', { password: linuxPassword })).name;
  });
  after(() => h?.stop());

  const person = async (): Promise<Person> => {
    const name = unique('kp-');
    const password = `pw-${randomBytes(9).toString('base64url')}`;
    const made = await h.api('POST', '/v1/users', { body: { name, role: 'user', password } });
    assert.equal(made.status, 201, made.text);
    const login = await h.api<{ token: string }>('POST', '/v1/auth/login', {
      token: null,
      body: { user: name, password },
    });
    return { name, token: login.body.token };
  };
  const challengeFor = async (who: Person, key: Key): Promise<Challenge> => {
    const issued = await h.api<Challenge>('POST', '/v1/users/me/ssh-keys/challenge', {
      token: who.token,
      body: { publicKey: key.publicKey },
    });
    assert.equal(issued.status, 200, issued.text);
    return issued.body;
  };
  const register = (who: Person, body: Record<string, unknown>) =>
    h.api('POST', '/v1/users/me/ssh-keys', { token: who.token, body }) as Promise<Reply>;
  /** Whether anyone at all holds the key: a refusal must register it for no one. */
  const registered = async (key: Key) => {
    const fingerprint = fingerprintOf(parsePublicKeyLine(key.publicKey).blob);
    const row = await h.server.services.store.db
      .selectFrom('user_ssh_keys')
      .select('id')
      .where('fingerprint', '=', fingerprint)
      .executeTakeFirst();
    return row !== undefined;
  };

  for (const kind of Object.keys(KEY_KINDS) as Array<keyof typeof KEY_KINDS>) {
    it(`registers one's own ${kind} key with a signature, then logs in with it`, async () => {
      const who = await person();
      const key = await keyPair(h.dir, unique(`${kind}-`), kind);
      const issued = await challengeFor(who, key);
      assert.equal(issued.namespace, KEY_PROOF_NAMESPACE);
      const ttl = Date.parse(issued.expiresAt) - clock.now();
      assert.ok(ttl > KEY_CHALLENGE_TTL_MS - 5_000 && ttl <= KEY_CHALLENGE_TTL_MS, String(ttl));

      const signature = await sshSign(key.file, issued.namespace, issued.challenge);
      const added = await register(who, {
        publicKey: key.publicKey,
        challenge: issued.challenge,
        signature,
      });
      assert.equal(added.status, 201, JSON.stringify(added.body));

      const events = await auditEvents(h, 'sshkey.add');
      const event = events.find((e) => e.details.user === who.name && e.outcome === 'success');
      assert.equal(event?.details.proof, 'signature');

      const { login } = await linuxAccount(h, sshd(), {
        user: who.name,
        secret: linuxPassword,
        secretType: 'password',
        linuxUser,
      });
      const ran = await sshThrough(h, key.file, login, { command: 'echo proven' });
      assert.equal(ran.code, 0, ran.stderr);
      assert.equal(ran.stdout, 'proven\n');
    });
  }

  it('refuses every proof that does not hold, registers nothing and audits why', async () => {
    const owner = await person();
    const other = await person();
    const dir = h.dir;
    const key = await keyPair(dir, unique('mine-'));
    const otherKey = await keyPair(dir, unique('theirs-'));
    const signatures: string[] = [];
    const signed = async (text: string, namespace = KEY_PROOF_NAMESPACE, file = key.file) => {
      const signature = await sshSign(file, namespace, text);
      signatures.push(signature.split('\n')[1] ?? '');
      return signature;
    };

    const cases: Array<[string, () => Promise<Reply>, string]> = [
      [
        'no proof at all',
        () => register(owner, { publicKey: key.publicKey }),
        'KEY_PROOF_REQUIRED',
      ],
      [
        'a challenge without its signature',
        async () => {
          const { challenge } = await challengeFor(owner, key);
          return register(owner, { publicKey: key.publicKey, challenge });
        },
        'KEY_PROOF_REQUIRED',
      ],
      [
        'a signature by another key',
        async () => {
          const { challenge } = await challengeFor(owner, key);
          const signature = await signed(challenge, KEY_PROOF_NAMESPACE, otherKey.file);
          return register(owner, { publicKey: key.publicKey, challenge, signature });
        },
        'KEY_PROOF_INVALID',
      ],
      [
        "another user's challenge",
        async () => {
          const { challenge } = await challengeFor(other, key);
          const signature = await signed(challenge);
          return register(owner, { publicKey: key.publicKey, challenge, signature });
        },
        'KEY_PROOF_INVALID',
      ],
      [
        "another key's challenge",
        async () => {
          const { challenge } = await challengeFor(owner, otherKey);
          const signature = await signed(challenge);
          return register(owner, { publicKey: key.publicKey, challenge, signature });
        },
        'KEY_PROOF_INVALID',
      ],
      [
        'a tampered challenge',
        async () => {
          const { challenge } = await challengeFor(owner, key);
          const parts = challenge.split('.');
          const payload = Buffer.from(parts[2] ?? '', 'base64url');
          payload[20] = (payload[20] ?? 0) ^ 0xff; // a later expiry
          parts[2] = payload.toString('base64url');
          const tampered = parts.join('.');
          const signature = await signed(tampered);
          return register(owner, { publicKey: key.publicKey, challenge: tampered, signature });
        },
        'KEY_PROOF_INVALID',
      ],
      [
        'a signature in another namespace',
        async () => {
          const { challenge } = await challengeFor(owner, key);
          const signature = await signed(challenge, 'git');
          return register(owner, { publicKey: key.publicKey, challenge, signature });
        },
        'KEY_PROOF_INVALID',
      ],
      [
        'a signature of other text',
        async () => {
          const { challenge } = await challengeFor(owner, key);
          const signature = await signed(`${challenge}.`);
          return register(owner, { publicKey: key.publicKey, challenge, signature });
        },
        'KEY_PROOF_INVALID',
      ],
      [
        'an armor with no signature inside',
        async () => {
          const { challenge } = await challengeFor(owner, key);
          const signature = '-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----';
          return register(owner, { publicKey: key.publicKey, challenge, signature });
        },
        'KEY_PROOF_INVALID',
      ],
      [
        'an expired challenge',
        async () => {
          const issued = await challengeFor(owner, key);
          const signature = await signed(issued.challenge);
          offset += KEY_CHALLENGE_TTL_MS + 1_000;
          try {
            return await register(owner, {
              publicKey: key.publicKey,
              challenge: issued.challenge,
              signature,
            });
          } finally {
            offset = 0;
          }
        },
        'KEY_PROOF_EXPIRED',
      ],
    ];

    for (const [what, attempt, code] of cases) {
      const refused = await attempt();
      assert.equal(refused.status, 400, what);
      assert.equal(refused.body.error?.code, code, what);
      assert.equal(await registered(key), false, what);
    }

    const denied = (await auditEvents(h, 'sshkey.add')).filter(
      (e) => e.details.user === owner.name && e.outcome === 'denied',
    );
    assert.deepEqual(
      denied.map((e) => e.reason),
      cases.map(([, , code]) => code),
    );
    assert.ok(denied.every((e) => e.details.proof === 'signature'));
    assert.ok(
      denied.every((e) => e.object_name === fingerprintOf(parsePublicKeyLine(key.publicKey).blob)),
    );
    const trail = JSON.stringify(denied);
    assert.doesNotMatch(trail, /SSH SIGNATURE|U1NIU0lH/, 'no signature blob in the audit trail');
    for (const signature of signatures) assert.ok(!trail.includes(signature));

    // After all that, the owner's own proof still registers the key.
    const added = await addOwnKey(h.api, owner.token, key);
    assert.equal(added.status, 201, added.text);
  });

  it('accepts a challenge once: removed and sent again, it registers nothing', async () => {
    const who = await person();
    const key = await keyPair(h.dir, unique('once-'));
    const issued = await challengeFor(who, key);
    const signature = await sshSign(key.file, issued.namespace, issued.challenge);
    const body = { publicKey: key.publicKey, challenge: issued.challenge, signature };
    const first = await register(who, body);
    assert.equal(first.status, 201);
    const id = (first.body as { id?: string }).id;
    const removed = await h.api('DELETE', `/v1/users/me/ssh-keys/${id}`, { token: who.token });
    assert.equal(removed.status, 204);

    const again = await register(who, body);
    assert.equal(again.body.error?.code, 'KEY_PROOF_INVALID');
    assert.equal(await registered(key), false);
  });

  it("cannot claim someone else's public key; its owner still registers it", async () => {
    const victim = await person();
    const attacker = await person();
    const key = await keyPair(h.dir, unique('victim-'));
    // The attacker has the public key and a challenge for it, but no private key to sign with.
    const issued = await challengeFor(attacker, key);
    const forged = await sshSign(
      (await keyPair(h.dir, unique('forger-'))).file,
      KEY_PROOF_NAMESPACE,
      issued.challenge,
    );
    const refused = await register(attacker, {
      publicKey: key.publicKey,
      challenge: issued.challenge,
      signature: forged,
    });
    assert.equal(refused.body.error?.code, 'KEY_PROOF_INVALID');
    const byVictim = await addOwnKey(h.api, victim.token, key);
    assert.equal(byVictim.status, 201, byVictim.text);
    // Once registered, nobody gets a challenge for it again.
    const taken = await h.api<Reply['body']>('POST', '/v1/users/me/ssh-keys/challenge', {
      token: attacker.token,
      body: { publicKey: key.publicKey },
    });
    assert.equal(taken.body.error?.code, 'ALREADY_EXISTS');
  });

  it("lets an admin vouch for another user's key, and says so in the audit trail", async () => {
    const who = await person();
    const key = await keyPair(h.dir, unique('vouched-'));
    const added = await h.api('POST', `/v1/users/${who.name}/ssh-keys`, {
      body: { publicKey: key.publicKey },
    });
    assert.equal(added.status, 201, added.text);
    const event = (await auditEvents(h, 'sshkey.add')).find(
      (e) => e.details.user === who.name && e.outcome === 'success',
    );
    assert.equal(event?.details.proof, 'admin');
    assert.equal(event?.actor_name, 'admin');

    // An admin's own keys are no one else's word: the admin route refuses them.
    const own = await keyPair(h.dir, unique('adminown-'));
    const self = await h.api<Reply['body']>('POST', '/v1/users/admin/ssh-keys', {
      body: { publicKey: own.publicKey },
    });
    assert.equal(self.status, 400);
    assert.equal(self.body.error?.code, 'KEY_PROOF_REQUIRED');
    assert.equal(await registered(own), false);
  });
});
