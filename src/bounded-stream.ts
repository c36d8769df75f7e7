import { Transform } from 'node:stream';

/**
 * Passes bytes on up to `limit`, and while they keep coming: past either, fails the stream. A
 * pause while the reader has not taken what was passed on is the reader's, and not counted.
 */
export function bounded(limit: number, stallMs: number): Transform {
  let seen = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      stalled.refresh();
      if (seen > limit) done(new Error(`more than ${limit} bytes`));
      else done(null, chunk);
    },
    flush(done) {
      clearTimeout(stalled);
      done();
    },
    destroy(error, done) {
      clearTimeout(stalled);
      done(error);
    },
  });
  const stalled = setTimeout(() => {
    if (stream.readableLength >= stream.readableHighWaterMark) stalled.refresh();
    else stream.destroy(new Error(`nothing for ${stallMs} ms`));
  }, stallMs);
  return stream;
}
