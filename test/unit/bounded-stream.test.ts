import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { bounded } from '../../src/bounded-stream.ts';

/**
 * A recording passed on from another node flows through `bounded`: cut past a size no node
 * exports, or when that node goes quiet, but never because the reader at this end is slow.
 */
describe('bounded stream', () => {
  /** Takes what comes; the first write takes `firstMs` (a reader that stops for a while). */
  const sink = (firstMs = 0) => {
    const taken: Buffer[] = [];
    const writable = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _encoding, done) {
        taken.push(chunk);
        setTimeout(done, taken.length === 1 ? firstMs : 0);
      },
    });
    return { writable, text: () => Buffer.concat(taken).toString() };
  };

  it('passes everything on while it flows and stays under the limit', async () => {
    const source = new PassThrough();
    const out = sink();
    const flowing = pipeline(source, bounded(1_000, 200), out.writable);
    for (let i = 0; i < 5; i++) {
      source.write(`line ${i}\n`);
      await sleep(100); // each pause shorter than the bound, all of them longer
    }
    source.end();
    await flowing;
    assert.equal(out.text().split('\n').length, 6);
  });

  it('fails past its limit', async () => {
    const source = new PassThrough();
    const flowing = pipeline(source, bounded(10, 1_000), sink().writable);
    source.end(Buffer.alloc(11));
    await assert.rejects(flowing, /more than 10 bytes/);
  });

  it('fails when its source says nothing for too long', async () => {
    const source = new PassThrough();
    const flowing = pipeline(source, bounded(1_000, 150), sink().writable);
    source.write('one line\n');
    await assert.rejects(flowing, /nothing for 150 ms/);
  });

  it('does not count a reader that stops taking what was passed on for a while', async () => {
    const source = new PassThrough();
    const out = sink(600); // four times the bound, while everything waits to be taken
    const flowing = pipeline(source, bounded(10_000_000, 150), out.writable);
    for (let i = 0; i < 64; i++) source.write(Buffer.alloc(16 * 1024, 0x61));
    source.end();
    await flowing;
    assert.equal(out.text().length, 64 * 16 * 1024);
  });
});
