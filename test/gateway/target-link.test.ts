/**
 * The gateway's login to a target waits for the audit event of the secret's use. Targets here
 * are ssh2 servers on loopback with the pinned host key, some of them misbehaving on purpose.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import ssh2, { type Connection } from 'ssh2';
import { TesseraError } from '../../src/errors.ts';
import { connectTarget } from '../../src/gateway/target-link.ts';

const hostKey = ssh2.utils.generateKeyPairSync('ed25519');
const pinned = hostKey.public.split(' ').slice(0, 2).join(' ');
const credential = { username: 'root', kind: 'password' as const, secret: Buffer.from('pw') };

describe('target link: the login after its audit event', () => {
  const servers: net.Server[] = [];
  after(() => {
    for (const server of servers) server.close();
  });

  /** A target that records the login requests it gets; `behave` plays it after key exchange. */
  const target = async (behave: (client: Connection) => void = () => undefined) => {
    const asked: string[] = [];
    const server = new ssh2.Server({ hostKeys: [hostKey.private] }, (client) => {
      client.on('error', () => undefined);
      client.on('authentication', (context) => {
        asked.push(context.method);
        context.reject();
      });
      client.on('handshake', () => behave(client));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    const { port } = server.address() as AddressInfo;
    return { endpoint: { host: '127.0.0.1', port, hostKey: pinned }, asked };
  };

  const outcome = (promise: Promise<ssh2.Client>) =>
    promise.then(
      (client) => {
        client.end();
        return 'linked';
      },
      (error: unknown) =>
        error instanceof TesseraError ? error.code : (error as { why?: string }).why,
    );

  it('refuses a target that says the login succeeded before it was sent', async () => {
    // A misbehaving sshd: USERAUTH_SUCCESS to a request it never got (through ssh2's internals).
    const { endpoint, asked } = await target((client) => {
      setTimeout(() => {
        const protocol = (client as unknown as { _protocol: Record<string, unknown> })._protocol;
        (protocol._authsQueue as string[]).push('none');
        (protocol.authSuccess as () => void).call(protocol);
      }, 20);
    });
    const never = new Promise<void>(() => undefined);
    const started = performance.now();
    assert.equal(
      await outcome(connectTarget(endpoint, credential, undefined, () => never)),
      'target-unreachable',
    );
    assert.ok(performance.now() - started < 4_000, 'refused when it happened');
    assert.deepEqual(asked, [], 'nothing of the login was sent');
  });

  it('fails at once, sending nothing, when the event cannot be written', async () => {
    const { endpoint, asked } = await target();
    const broken = () =>
      Promise.reject(new TesseraError('AUDIT_UNAVAILABLE', 'the audit trail cannot be written'));
    assert.equal(
      await outcome(connectTarget(endpoint, credential, undefined, broken)),
      'AUDIT_UNAVAILABLE',
    );
    assert.deepEqual(asked, []);

    // A target that accepts the connection and says nothing: refused at once, not at a timeout.
    const silent = net.createServer((socket) => socket.resume());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    servers.push(silent);
    const { port } = silent.address() as AddressInfo;
    const started = performance.now();
    const quiet = { host: '127.0.0.1', port, hostKey: pinned };
    assert.equal(
      await outcome(connectTarget(quiet, credential, undefined, broken)),
      'AUDIT_UNAVAILABLE',
    );
    assert.ok(performance.now() - started < 2_000);
  });

  it('logs in as soon as the event is written, in the usual order', async () => {
    const { endpoint, asked } = await target();
    let written: () => void = () => undefined;
    const event = new Promise<void>((resolve) => {
      written = resolve;
    });
    const linking = outcome(connectTarget(endpoint, credential, undefined, () => event));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(asked, [], 'the key exchange is done; the login waits');
    written();
    assert.equal(await linking, 'target-auth-failed', 'this target refuses every login');
    assert.deepEqual(asked, ['none', 'password', 'keyboard-interactive']);
  });
});
