import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import { READ_BURST_BYTES, shareReads } from '../../src/gateway/fair-reads.ts';

/** A loopback server that sends `payload` to the first client as fast as the kernel takes it. */
async function flooding(payload: Buffer): Promise<{ port: number; close: () => void }> {
  const server = net.createServer((socket) => socket.end(payload));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as net.AddressInfo;
  return { port: address.port, close: () => server.close() };
}

describe('paced reads', () => {
  it('lets the event loop turn after each burst, and delivers every byte in order', async () => {
    const payload = randomBytes(16 * 1024 * 1024);
    const server = await flooding(payload);
    try {
      const socket = net.connect(server.port, '127.0.0.1');
      shareReads(socket);
      const chunks: Buffer[] = [];
      // How much arrived between two turns of the loop, at most: one burst and the read past it.
      let sinceTurn = 0;
      let mostInOneTurn = 0;
      let turning = true;
      const turn = () => {
        sinceTurn = 0;
        if (turning) setImmediate(turn);
      };
      setImmediate(turn);
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        sinceTurn += chunk.length;
        mostInOneTurn = Math.max(mostInOneTurn, sinceTurn);
      });
      await once(socket, 'end');
      turning = false;
      const received = Buffer.concat(chunks);
      assert.equal(received.length, payload.length);
      const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');
      assert.equal(digest(received), digest(payload));
      // libuv alone reads a busy socket up to 32 times (2 MiB) before the loop turns.
      assert.ok(
        mostInOneTurn <= READ_BURST_BYTES + 64 * 1024,
        `${mostInOneTurn} bytes were read in one turn of the loop`,
      );
    } finally {
      server.close();
    }
  });
});
