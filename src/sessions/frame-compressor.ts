import { deflateRaw, inflateRaw, type ZlibOptions } from 'node:zlib';

/**
 * Each frame of a recording is one whole raw deflate stream of its plaintext. Nothing of zlib
 * stays alive between frames: a persistent stream held about 120 KiB per live session (Node's zlib
 * keeps a 64 KiB hash table whatever memLevel asks), which a recording that writes once a second
 * does not need. Compression runs on libuv's pool, off the event loop.
 */
export async function compressFrame(text: Buffer): Promise<Buffer> {
  // Bytes that do not compress (random, already compressed) cost zlib ten times what text does,
  // for nothing: a sample that saves little sends the frame as stored blocks, at copying speed.
  if (text.length > SAMPLE_BYTES * 2) {
    const sample = await deflate(text.subarray(0, SAMPLE_BYTES), DEFLATE_OPTIONS);
    if (sample.length > SAMPLE_BYTES * INCOMPRESSIBLE) return deflate(text, STORE_OPTIONS);
  }
  return deflate(text, DEFLATE_OPTIONS);
}

function deflate(bytes: Buffer, options: ZlibOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    deflateRaw(bytes, options, (error, compressed) => {
      if (error === null) resolve(compressed);
      else reject(error);
    });
  });
}

/**
 * The text of one frame; `maxBytes` bounds it, so a frame that inflates to more than any writer
 * puts in one fails instead of filling memory.
 */
export function inflateFrame(compressed: Buffer, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    inflateRaw(compressed, { maxOutputLength: maxBytes }, (error, text) => {
      if (error === null) resolve(text);
      else reject(error);
    });
  });
}

/**
 * zlib level 1: terminal text still shrinks about eight times, and compression keeps up with
 * output ten times faster than level 6 on binary garbage (bench/recording.ts). The smaller
 * window and memLevel keep each compression's own memory near 120 KiB against 330 KiB; on
 * terminal text the file is about 2 % larger. Readers inflate with the default 32 KiB window,
 * which takes any smaller one.
 */
const DEFLATE_OPTIONS = { level: 1, windowBits: 13, memLevel: 6 } as const;
/** Level 0: the frame is still a raw deflate stream, of stored blocks. */
const STORE_OPTIONS = { level: 0, windowBits: 13, memLevel: 6 } as const;
const SAMPLE_BYTES = 4096;
/** A sample compressed to more than this share of itself is not worth compressing. */
const INCOMPRESSIBLE = 0.9;
