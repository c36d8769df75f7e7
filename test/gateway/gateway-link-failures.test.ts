/**
 * Target links that fail (refused, a private key that does not parse, a target that
 * never speaks SSH) must leave no socket open behind them on either side.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  eventually,
  gatewayUser,
  type Harness,
  keyPair,
  sshThrough,
  startHarness,
  unique,
} from './support.ts';

const ADMIN = { actor: { id: null, name: 'admin' }, source: '127.0.0.1', requestId: null };

describe('ssh gateway: failed target links leak nothing', () => {
  let h: Harness;
  let silent: net.Server;
  const held = new Set<net.Socket>();
  before(async () => {
    h = await startHarness();
    // A "target" that accepts TCP and never says a word.
    silent = net.createServer((socket) => {
      held.add(socket);
      socket.on('close', () => held.delete(socket));
      socket.on('error', () => undefined);
      // Read (and drop) what comes, so that the gateway's FIN is seen.
      socket.resume();
    });
    silent.listen(0, '127.0.0.1');
    await new Promise((resolve) => silent.once('listening', resolve));
  });
  after(async () => {
    for (const socket of held) socket.destroy();
    silent?.close();
    await h?.stop();
  });

  const tcpHandles = () =>
    process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

  const account = async (
    user: string,
    port: number,
    secretType: 'password' | 'ssh-key',
    secret: string,
  ) => {
    const target = unique('leak');
    const safe = unique('safe');
    const fakeHostKey = (await keyPair(h.dir, unique('hk-'))).publicKey;
    await h.linux.targets.create(ADMIN, {
      name: target,
      platform: 'linux',
      host: '127.0.0.1',
      port,
      options: { hostKey: fakeHostKey },
    });
    await h.server.api('POST', '/v1/safes', { body: { name: safe } });
    await h.server.api('PUT', `/v1/safes/${safe}/members/${user}`, {
      body: { permissions: ['list', 'use'] },
    });
    const admin = await h.server.services.users.findByName('admin');
    await h.linux.accounts.onboard(
      ADMIN,
      { userId: admin?.id ?? '', name: 'admin', role: 'admin', tokenId: 'x' },
      { target, username: 'root', safe, secret, secretType },
    );
    return `root@${target}`;
  };

  it('a key that does not parse: the TCP connection to the target is closed', async () => {
    const who = await gatewayUser(h);
    const port = (silent.address() as net.AddressInfo).port;
    const junk = '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n';
    const login = await account(who.name, port, 'ssh-key', junk);
    for (let i = 0; i < 5; i += 1) {
      const ran = await sshThrough(h, who.key.file, login, { command: 'true', timeoutMs: 15_000 });
      assert.notEqual(ran.code, 0);
    }
    await eventually(() => (held.size === 0 ? true : undefined), 5_000).catch(() => undefined);
    assert.equal(held.size, 0, 'connections to the target still open');
  });

  it('a refused port: nothing stays open', async () => {
    const who = await gatewayUser(h);
    const closed = net.createServer();
    closed.listen(0, '127.0.0.1');
    await new Promise((resolve) => closed.once('listening', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    closed.close();
    const login = await account(who.name, port, 'password', 'pw');
    const before = tcpHandles();
    for (let i = 0; i < 5; i += 1) {
      const ran = await sshThrough(h, who.key.file, login, { command: 'true' });
      assert.notEqual(ran.code, 0);
    }
    const settled = await eventually(
      () => (tcpHandles() <= before ? tcpHandles() : undefined),
      5_000,
    ).catch(() => tcpHandles());
    assert.ok(settled <= before, `TCP handles ${before} -> ${settled}`);
  });
  it('a silent target, and a user who gives up first: the target link is closed', async () => {
    const who = await gatewayUser(h);
    const port = (silent.address() as net.AddressInfo).port;
    const login = await account(who.name, port, 'password', 'pw');
    // The user gives up after one second, long before the 5 s handshake timeout.
    const gaveUp = await sshThrough(h, who.key.file, login, { command: 'true', timeoutMs: 1_000 });
    assert.notEqual(gaveUp.code, 0);
    assert.ok(held.size >= 1, 'the gateway should have reached the silent target');
    await eventually(() => (held.size === 0 ? true : undefined), 10_000).catch(() => undefined);
    assert.equal(held.size, 0, 'a link to a silent target outlived its user and the timeout');
  });
});
