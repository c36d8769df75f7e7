/**
 * A client that answers the password prompt and goes away before the hash is done: ssh2 still
 * says `ready` for the dead connection, and the gateway must open nothing for it (no target
 * login, no live connection left behind).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { useSshd } from '../support/sshd.ts';
import { type Harness, passwordUser, startHarness } from './support.ts';

describe('ssh gateway: a login that completes after its client left', () => {
  const sshd = useSshd();
  let h: Harness;
  before(async () => {
    h = await startHarness({ passwordLogin: true, connectionIdleMs: 4_000 });
  });
  after(() => h?.stop());

  const leaveEarly = (login: string, name: string, password: string) =>
    new Promise<void>((resolve) => {
      const client = new ssh2.Client();
      client.on('error', () => undefined);
      client.on('close', () => resolve());
      client.connect({
        host: '127.0.0.1',
        port: h.gateway.port,
        username: login,
        hostVerifier: () => true,
        authHandler: (_l, _p, next) =>
          next({
            type: 'keyboard-interactive',
            username: login,
            prompt: (
              _n: string,
              _i: string,
              _la: string,
              _prompts: ssh2.Prompt[],
              finish: (answers: string[]) => void,
            ) => {
              finish([name, password]);
              // Gone before the password hash (about 30 ms here) is done.
              setTimeout(
                () => (client as unknown as { _sock: { destroy(): void } })._sock.destroy(),
                5,
              );
            },
          } as unknown as ssh2.AuthenticationType),
      });
    });

  it('opens no target link for a client that is already gone', async () => {
    const { name, password, login } = await passwordUser(h, sshd(), {
      linux: 'tll',
      user: 'late-',
    });
    const tcp = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    const before = tcp();
    for (let i = 0; i < 5; i += 1) await leaveEarly(login, name, password);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const live = h.services.connections.list().filter((c) => c.info.user === name);
    assert.equal(live.length, 0, 'connections of clients that left are still live');
    assert.ok(tcp() <= before, `sockets open before ${before}, after ${tcp()}`);
    const connects = await h.server.services.store.db
      .selectFrom('audit_events')
      .select('id')
      .where('actor_name', '=', name)
      .where('action', '=', 'account.connect')
      .execute();
    assert.equal(connects.length, 0, 'the target was logged in to for a client that had left');
  });
});
