/**
 * One anonymous source holding a few hundred keyboard-interactive prompts, each answering with a
 * made-up user name as soon as the last answer was refused, must not lock other users out of
 * signing in (a global bound on waiting hashes once refused them all with RATE_LIMITED).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';

/** Over the 256 waiting hashes a global bound once refused past. */
const FLOOD = 320;

import { type Harness, startHarness } from './support.ts';

/** Keeps a connection answering prompts open, reconnecting when one is closed, until `stop`. */
async function guesser(h: Harness, stop: { now: boolean }): Promise<void> {
  while (!stop.now) await guess(h, stop);
}

/** A connection that answers every password prompt with a fresh made-up user, until closed. */
function guess(h: Harness, stop: { now: boolean }): Promise<void> {
  const client = new ssh2.Client();
  return new Promise((resolve) => {
    client.on('error', () => undefined);
    client.on('close', () => resolve());
    const answer = (prompts: ssh2.Prompt[], finish: (answers: string[]) => void) => {
      if (stop.now || prompts.length !== 2) return finish([]);
      finish([`ghost-${randomBytes(6).toString('hex')}`, 'not-the-password']);
    };
    client.connect({
      host: '127.0.0.1',
      port: h.gateway.port,
      username: 'root@nowhere',
      hostVerifier: () => true,
      readyTimeout: 60_000,
      authHandler: (_left, _partial, next) => {
        if (stop.now) {
          client.end();
          return;
        }
        next({
          type: 'keyboard-interactive',
          username: 'root@nowhere',
          prompt: (_n: string, _i: string, _l: string, prompts: ssh2.Prompt[], finish: never) =>
            answer(prompts, finish),
        } as never);
      },
    });
  });
}

/** POST /v1/auth/login from another loopback address than the flood's: another source. */
function loginFrom(h: Harness, localAddress: string, body: unknown): Promise<number> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = http.request(
      `${h.apiUrl}/v1/auth/login`,
      {
        method: 'POST',
        localAddress,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', reject);
    request.end(text);
  });
}

describe('sign-in: the hash queue under an anonymous flood', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ passwordLogin: true });
  });
  after(() => h?.stop());

  it('still signs in a real user from elsewhere while one source floods the gateway', async () => {
    const name = `real-${randomBytes(4).toString('hex')}`;
    const password = `pw-${randomBytes(9).toString('base64url')}`;
    assert.equal(
      (await h.api('POST', '/v1/users', { body: { name, role: 'user', password } })).status,
      201,
    );
    const stop = { now: false };
    const flood: Array<Promise<void>> = [];
    // A little over the bound, opened in batches to spare the CPU.
    for (let batch = 0; batch < 6; batch += 1) {
      for (let i = 0; i < FLOOD / 6; i += 1) flood.push(guesser(h, stop));
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    const answers: number[] = [];
    for (let i = 0; i < 8; i += 1) {
      answers.push(await loginFrom(h, '127.0.0.2', { user: name, password }));
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    stop.now = true;
    await Promise.race([
      Promise.allSettled(flood),
      new Promise((resolve) => setTimeout(resolve, 20_000)),
    ]);
    const refused = answers.filter((status) => status === 429).length;
    assert.equal(
      refused,
      0,
      `the real user's sign-in was refused ${refused} of ${answers.length} times: ${answers}`,
    );
  });
});
