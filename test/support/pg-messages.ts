/**
 * Reads PostgreSQL protocol frames out of bytes a proxy recorded, so a test can tell which step
 * of a session a client had reached: `Q` a query, `X` the client's goodbye, `C` a command the
 * server completed. Assumes no TLS, which is how the test targets run.
 */

/** Codes of the untyped requests a client may send before its startup message. */
const PRE_STARTUP_CODES = new Set([80_877_103, 80_877_104]); // SSLRequest, GSSENCRequest

/**
 * The type of every complete message in `chunks`, in order. The client's first message has no
 * type byte and is reported as `startup`; the server's messages are all typed.
 */
export function pgMessageTypes(chunks: readonly Buffer[], side: 'client' | 'server'): string[] {
  const bytes = Buffer.concat(chunks);
  const types: string[] = [];
  let offset = 0;
  let untyped = side === 'client';

  while (untyped && offset + 8 <= bytes.length) {
    const length = bytes.readInt32BE(offset);
    const code = bytes.readInt32BE(offset + 4);
    if (offset + length > bytes.length) return types;
    offset += length;
    untyped = PRE_STARTUP_CODES.has(code);
    types.push(untyped ? 'pre-startup' : 'startup');
  }
  while (!untyped && offset + 5 <= bytes.length) {
    const length = bytes.readInt32BE(offset + 1);
    if (offset + 1 + length > bytes.length) break;
    types.push(String.fromCharCode(bytes[offset] ?? 0));
    offset += 1 + length;
  }
  return types;
}
