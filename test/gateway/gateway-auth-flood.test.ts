/**
 * One SSH connection may not queue password hashes by restarting keyboard-interactive while an
 * answer is being checked (RFC 4252 lets a client abandon a pending method): each would take a
 * hashing slot that every other sign-in waits for.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { MAX_AUTH_FAILURES } from '../../src/gateway/authenticate.ts';
import { auditEvents, type Harness, startHarness } from './support.ts';

interface Internals {
  _protocol: { authKeyboard(user: string): void };
  setNoDelay(on: boolean): void;
}

/** Sends `rounds` name/password answers on one connection, each in a fresh kbd-int request. */
function flood(h: Harness, rounds: number): Promise<{ sent: number; closedAfterMs: number }> {
  const client = new ssh2.Client();
  let sent = 0;
  const started = Date.now();
  return new Promise((resolve) => {
    client.on('error', () => undefined);
    // Without Nagle, the next request is not held back until the server answers the last.
    client.on('connect', () => (client as unknown as Internals).setNoDelay(true));
    client.on('close', () => resolve({ sent, closedAfterMs: Date.now() - started }));
    client.connect({
      host: '127.0.0.1',
      port: h.gateway.port,
      username: 'root@nowhere',
      hostVerifier: () => true,
      authHandler: (_left, _partial, next) => {
        if (sent > 0) return next(false as unknown as ssh2.AuthenticationType);
        next({
          type: 'keyboard-interactive',
          username: 'root@nowhere',
          prompt: (
            _n: string,
            _i: string,
            _l: string,
            prompts: ssh2.Prompt[],
            finish: (answers: string[]) => void,
          ) => {
            if (prompts.length !== 2) return finish([]);
            sent += 1;
            finish([`ghost-${randomBytes(6).toString('hex')}`, 'not-the-password']);
            // Abandon the request whose answers are being checked and start another at once.
            if (sent < rounds) {
              (client as unknown as Internals)._protocol.authKeyboard('root@nowhere');
            } else {
              setTimeout(() => client.end(), 200);
            }
          },
        } as unknown as ssh2.AuthenticationType);
      },
    });
  });
}

describe('ssh gateway: password checks one connection may start', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ passwordLogin: true });
  });
  after(() => h?.stop());

  it('checks one answer at a time, and closes the connection after a few failures', async () => {
    const rounds = 150;
    const done = await flood(h, rounds);
    assert.equal(done.sent > 1, true, 'the client could not even restart the prompt');
    // Checks still under way are recorded when they finish.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // Every password actually checked is an auth.login failure for its made-up user.
    const checked = (await auditEvents(h, 'auth.login')).filter((e) =>
      String(e.actor_name ?? '').startsWith('ghost-'),
    );
    assert.ok(
      checked.length <= MAX_AUTH_FAILURES,
      `${checked.length} passwords checked for one connection`,
    );
  });
});
