/**
 * A TCP relay on 127.0.0.1 that can stop a client's bytes at a chosen moment: when a chunk from
 * the client matches, it waits for the test's `gate` before passing that chunk (and everything
 * after it) on. The test acts on the server meanwhile, so a race becomes a fixed order.
 */
import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';

const HOST = '127.0.0.1';

export interface GateProxy {
  readonly port: number;
  close(): Promise<void>;
}

export interface Gate {
  /** True for the client chunk that must wait. */
  readonly matches: (chunk: Buffer) => boolean;
  /** Resolves when the chunk may pass; a promise that never resolves holds it for good. */
  readonly open: () => Promise<void>;
  /** Replaces the matching chunk on its way, e.g. to alter bytes a client sent. */
  readonly rewrite?: (chunk: Buffer) => Buffer;
}

export async function startGateProxy(
  upstream: { readonly host: string; readonly port: number },
  gate: Gate,
): Promise<GateProxy> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const target = createConnection({ host: upstream.host, port: upstream.port });
    sockets.add(client);
    sockets.add(target);
    let queue = Promise.resolve();
    client.on('data', (chunk: Buffer) => {
      queue = queue.then(async () => {
        if (!gate.matches(chunk)) return void target.write(chunk);
        await gate.open();
        target.write(gate.rewrite ? gate.rewrite(chunk) : chunk);
      });
    });
    target.on('data', (chunk: Buffer) => client.write(chunk));
    const closeBoth = () => {
      client.destroy();
      target.destroy();
      sockets.delete(client);
      sockets.delete(target);
    };
    for (const socket of [client, target]) {
      socket.on('close', closeBoth);
      socket.on('error', () => {
        // Reset by one side; 'close' follows and closes the other.
      });
    }
  });
  server.listen(0, HOST);
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('gate proxy: no port');

  return {
    port: address.port,
    async close() {
      for (const socket of sockets) socket.destroy();
      const closed = once(server, 'close');
      server.close();
      await closed;
    },
  };
}
