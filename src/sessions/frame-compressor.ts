import { constants, createDeflateRaw } from 'node:zlib';

/**
 * One raw deflate stream for a whole recording, cut into frames. Each `flush` ends with a sync
 * flush, so the bytes handed out so far inflate to every byte given so far: a reader can stop at
 * any frame boundary. Compression runs on libuv's pool, off the event loop.
 */
export interface FrameCompressor {
  flush(text: Buffer): Promise<Buffer>;
  /** Compresses the last text and ends the stream. */
  finish(text: Buffer): Promise<Buffer>;
  destroy(): void;
}

/** Every sync flush ends with an empty stored block: these four bytes. */
const SYNC_FLUSH_TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** Output reaches us before the flush callback; a few turns of the loop cover any lag. */
const TRAILER_WAIT_TURNS = 8;

/**
 * zlib's memory is (1 << (windowBits + 2)) + (1 << (memLevel + 9)) bytes per stream, and every
 * live session keeps one: 64 KiB here against 256 KiB by default, for terminal text about 2 %
 * larger. Readers inflate with the default 32 KiB window, which takes any smaller one.
 */
const WINDOW_BITS = 13;
const MEM_LEVEL = 6;
const CHUNK_BYTES = 8 * 1024;

export function createFrameCompressor(level: number): FrameCompressor {
  const deflate = createDeflateRaw({
    level,
    windowBits: WINDOW_BITS,
    memLevel: MEM_LEVEL,
    chunkSize: CHUNK_BYTES,
  });
  let output: Buffer[] = [];
  let failure: Error | null = null;
  deflate.on('data', (chunk: Buffer) => output.push(chunk));
  deflate.on('error', (error) => {
    failure = error;
  });

  const take = (): Buffer => {
    const bytes = Buffer.concat(output);
    output = [];
    return bytes;
  };

  const settled = (run: (done: (error?: Error | null) => void) => void): Promise<void> =>
    new Promise((resolve, reject) => {
      if (failure !== null) return reject(failure);
      const onError = (error: Error) => reject(error);
      deflate.once('error', onError);
      run((error) => {
        deflate.off('error', onError);
        if (error) reject(error);
        else if (failure !== null) reject(failure);
        else resolve();
      });
    });

  return {
    async flush(text) {
      if (text.length > 0) deflate.write(text);
      await settled((done) => deflate.flush(constants.Z_SYNC_FLUSH, () => done()));
      for (let turn = 0; turn < TRAILER_WAIT_TURNS && !endsWithTrailer(output); turn++) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (!endsWithTrailer(output)) throw new Error('deflate flush did not complete');
      return take();
    },

    async finish(text) {
      await settled((done) => {
        deflate.once('end', () => done());
        deflate.end(text);
      });
      return take();
    },

    destroy() {
      deflate.destroy();
    },
  };
}

function endsWithTrailer(chunks: readonly Buffer[]): boolean {
  const last = chunks.at(-1);
  if (last === undefined) return false;
  const tail =
    last.length >= SYNC_FLUSH_TRAILER.length
      ? last.subarray(-SYNC_FLUSH_TRAILER.length)
      : Buffer.concat(chunks.slice(-SYNC_FLUSH_TRAILER.length)).subarray(-4);
  return tail.equals(SYNC_FLUSH_TRAILER);
}
