import {
  type BrotliOptions,
  brotliCompress,
  brotliDecompress,
  constants,
  inflateRaw,
} from 'node:zlib';

/**
 * Each frame of a recording is one whole compressed stream of its plaintext: brotli from version
 * 3, raw deflate in version 2. Nothing of the compressor stays alive between frames: a persistent
 * stream held about 120 KiB per live session, which a recording that writes once a second does
 * not need. Compression runs on libuv's pool, off the event loop.
 */
export function compressFrame(text: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    brotliCompress(text, brotliOptions(text.length), (error, compressed) => {
      if (error === null) resolve(compressed);
      else reject(error);
    });
  });
}

/**
 * The text of one frame of a file of `version`; `maxBytes` bounds it, so a frame that
 * expands to more than any writer puts in one fails instead of filling memory.
 */
export function expandFrame(version: 2 | 3, compressed: Buffer, maxBytes: number): Promise<Buffer> {
  const options = { maxOutputLength: maxBytes };
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, text: Buffer) => {
      if (error === null) resolve(text);
      else reject(error);
    };
    if (version === 2) inflateRaw(compressed, options, done);
    else brotliDecompress(compressed, options, done);
  });
}

/**
 * Brotli's two fastest qualities, against zlib's level 1 that version 2 used, on this project's
 * machines (2 cores; bench/recording.ts):
 * - bulk terminal text in 1 MiB frames: quality 0 compresses in a third of the time (2.7 against
 *   7.6 CPU-seconds per GiB), to 19 % of the text against 18 %;
 * - random bytes: quality 0 copies them at about 1.3 s/GiB, where deflate spent 39 s/GiB and
 *   version 2 had to test a sample first;
 * - frames under 64 KiB, an interactive session's second of output: quality 1 is still faster
 *   than deflate and about as small, where quality 0 leaves them a third larger.
 * The 256 KiB window keeps a decoder's memory small; these qualities look back less than that.
 */
function brotliOptions(bytes: number): BrotliOptions {
  return {
    // Every output chunk is a round trip from libuv's pool to the event loop and back; Node's
    // 16 KiB made a 1 MiB frame of random bytes 64 of them, and took three times as long.
    chunkSize: Math.min(Math.max(bytes, DEFAULT_CHUNK_BYTES), MAX_CHUNK_BYTES),
    params: {
      [constants.BROTLI_PARAM_QUALITY]: bytes < SMALL_FRAME_BYTES ? 1 : 0,
      [constants.BROTLI_PARAM_LGWIN]: 18,
      [constants.BROTLI_PARAM_SIZE_HINT]: bytes,
    },
  };
}

const SMALL_FRAME_BYTES = 64 * 1024;
const DEFAULT_CHUNK_BYTES = constants.Z_DEFAULT_CHUNK;
const MAX_CHUNK_BYTES = 256 * 1024;
