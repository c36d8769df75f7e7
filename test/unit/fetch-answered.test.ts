import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fetchAnswered } from '../../src/fetch-answered.ts';

/**
 * A recording is fetched with a bound on the wait for its answer only: a download that answered
 * in time and keeps flowing is not cut however long it takes (a timeout signal given to fetch
 * cut play and export of long recordings at 60 s), and a server that never answers is given up.
 */
describe('fetchAnswered', () => {
  let server: Server;
  let url = '';
  before(async () => {
    server = createServer((request, response) => {
      if (request.url === '/silent') return; // takes the request, never answers
      response.writeHead(200, { 'content-type': 'text/plain' });
      let line = 0;
      const next = () => {
        if (line === 6) return response.end();
        response.write(`line ${line++}\n`);
        setTimeout(next, 100);
      };
      next();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('lets a body flow for longer than the wait for its answer', async () => {
    const response = await fetchAnswered(`${url}/slow`, {}, 250);
    const text = await response.text(); // about 600 ms of lines
    assert.equal(text.split('\n').filter(Boolean).length, 6, text);
  });

  it('gives up on a server that does not answer in time, with a TimeoutError', async () => {
    const started = performance.now();
    await assert.rejects(fetchAnswered(`${url}/silent`, {}, 200), { name: 'TimeoutError' });
    assert.ok(performance.now() - started < 5_000);
  });

  it('leaves nothing pending once answered', async () => {
    const response = await fetchAnswered(`${url}/slow`, {}, 100);
    await sleep(300); // past the wait: an abort left armed would now fail the body
    assert.match(await response.text(), /line 5/);
  });
});
