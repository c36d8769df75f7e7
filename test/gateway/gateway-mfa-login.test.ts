/**
 * Regression: the gateway asks a user with a TOTP second factor for a code at its password
 * login, but the API's login and the console's sign-in once issued a token for the password
 * alone. With that token a thief of the password registered a key of their own (the proof is of
 * their key) and opened the gateway as the victim without any code. Every sign-in that issues a
 * token now wants the code too, so the password alone reaches neither a token nor a key.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { SESSION_COOKIE } from '../../src/http/browser-session.ts';
import { useSshd } from '../support/sshd.ts';
import {
  addOwnKey,
  type Harness,
  keyPair,
  passwordUser,
  sshThrough,
  startHarness,
  unique,
} from './support.ts';

const STEP_MS = 30_000;

interface ErrorBody {
  readonly error?: { readonly code: string };
}

describe('gateway: a stolen password without the second factor', () => {
  const sshd = useSshd();
  let h: Harness;
  before(async () => {
    h = await startHarness({ passwordLogin: true });
  });
  after(() => h?.stop());

  it('gives no token, key or session for the password alone, only with the code', async () => {
    const { name, password, login, linux } = await passwordUser(h, sshd(), {
      linux: 'tmf',
      user: 'mfa-',
    });
    const totp = await enrollFactor(h, name, password);

    // The attacker has the password only: neither door issues a token for it.
    const stolen = await h.api<{ token?: string } & ErrorBody>('POST', '/v1/auth/login', {
      token: null,
      body: { user: name, password },
    });
    assert.deepEqual([stolen.status, stolen.body.error?.code], [401, 'MFA_REQUIRED']);
    assert.equal(stolen.body.token, undefined);
    const guessed = await h.api<ErrorBody>('POST', '/v1/auth/login', {
      token: null,
      body: { user: name, password, code: '000000' },
    });
    assert.deepEqual([guessed.status, guessed.body.error?.code], [401, 'MFA_INVALID']);
    const consoleSignIn = await fetch(`${h.apiUrl}/v1/auth/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: name, password }),
    });
    const consoleBody = (await consoleSignIn.json()) as ErrorBody;
    assert.deepEqual([consoleSignIn.status, consoleBody.error?.code], [401, 'MFA_REQUIRED']);
    assert.ok(!consoleSignIn.headers.getSetCookie().some((c) => c.startsWith(SESSION_COOKIE)));

    // Without a token the attacker's key cannot be registered, and the gateway refuses it.
    const attacker = await keyPair(h.dir, unique('attacker-'));
    const added = await addOwnKey(h.api, stolen.body.token ?? '', attacker);
    assert.equal(added.status, 401, added.text);
    const keys = await h.api<{ keys: unknown[] }>('GET', `/v1/users/${name}/ssh-keys`);
    assert.deepEqual(keys.body.keys, []);
    const refused = await sshThrough(h, attacker.file, login, { command: 'id -un' });
    assert.notEqual(refused.code, 0, 'the password alone opened the gateway to a 2FA user');

    // The victim, with password and code, gets the token, the key and the session.
    const signedIn = await h.api<{ token: string }>('POST', '/v1/auth/login', {
      token: null,
      body: { user: name, password, code: totp.generate() },
    });
    assert.equal(signedIn.status, 200, signedIn.text);
    const own = await keyPair(h.dir, unique('own-'));
    const registered = await addOwnKey(h.api, signedIn.body.token, own);
    assert.equal(registered.status, 201, registered.text);
    const ran = await sshThrough(h, own.file, login, { command: 'id -un' });
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout.trim(), linux.name);
  });
});

/**
 * Enrols and confirms a factor for the user with a token of their own, taken before the factor
 * existed. Confirmed with the code of the step before (still within the window), so the
 * current code stays unused for the sign-in that follows.
 */
async function enrollFactor(h: Harness, name: string, password: string): Promise<TOTP> {
  const own = await h.api<{ token: string }>('POST', '/v1/auth/login', {
    token: null,
    body: { user: name, password },
  });
  assert.equal(own.status, 200, own.text);
  const enrolled = await h.api<{ secret: string }>('POST', '/v1/auth/mfa/enroll', {
    token: own.body.token,
  });
  const totp = new TOTP({ secret: Secret.fromBase32(enrolled.body.secret), period: 30 });
  const confirmed = await h.api('POST', '/v1/auth/mfa/confirm', {
    token: own.body.token,
    body: { code: totp.generate({ timestamp: Date.now() - STEP_MS }) },
  });
  assert.equal(confirmed.status, 200, confirmed.text);
  return totp;
}
