/**
 * The gateway's own listener: a TCP connection that never sends its SSH identification line
 * never reaches ssh2's connection handler, and must still be closed after LOGIN_GRACE_MS and
 * when the gateway stops.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { LOGIN_GRACE_MS } from '../../src/gateway/gateway.ts';
import { type Harness, startHarness } from './support.ts';

function silent(port: number, first = ''): Promise<{ socket: net.Socket; closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let closed = false;
    socket.on('close', () => {
      closed = true;
    });
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    socket.once('connect', () => {
      if (first !== '') socket.write(first);
      resolve({ socket, closed: () => closed });
    });
    socket.once('error', reject);
  });
}

describe('ssh gateway: connections that never say who they are', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h?.stop());

  it('closes a connection silent past the login grace time', async () => {
    const quiet = await silent(h.gateway.port);
    // Part of an identification line, never ended: ssh2 waits for up to 8 KiB x 1024 lines.
    const partial = await silent(h.gateway.port, 'SSH-2.0-');
    await new Promise((resolve) => setTimeout(resolve, LOGIN_GRACE_MS + 2_000));
    const open = [quiet, partial].filter((s) => !s.closed()).length;
    quiet.socket.destroy();
    partial.socket.destroy();
    assert.equal(open, 0, `${open} connections outlived the login grace time`);
  });

  it('ends every accepted connection when the gateway closes', async () => {
    const quiet = await silent(h.gateway.port);
    const started = Date.now();
    await h.gateway.close();
    const took = Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 200));
    const stillOpen = !quiet.closed();
    quiet.socket.destroy();
    assert.equal(stillOpen, false, `a connection outlived close() (which took ${took} ms)`);
  });
});
