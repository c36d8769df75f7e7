import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM with additional authenticated data. A sealed value is
 * `format (1 byte) | nonce (12) | tag (16) | ciphertext`, and opens only with the same key and the
 * same context string: a ciphertext moved to another row fails to open.
 */
const FORMAT_V1 = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + NONCE_BYTES + TAG_BYTES;
export const KEY_BYTES = 32;

export class EnvelopeError extends Error {
  constructor() {
    super('ciphertext failed authentication');
    this.name = 'EnvelopeError';
  }
}

export function seal(key: Buffer, plaintext: Buffer, context: string): Buffer {
  assertKey(key);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.of(FORMAT_V1), nonce, cipher.getAuthTag(), body]);
}

export function open(key: Buffer, sealed: Buffer, context: string): Buffer {
  assertKey(key);
  if (sealed.length < HEADER_BYTES || sealed[0] !== FORMAT_V1) throw new EnvelopeError();
  const nonce = sealed.subarray(1, 1 + NONCE_BYTES);
  const tag = sealed.subarray(1 + NONCE_BYTES, HEADER_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(sealed.subarray(HEADER_BYTES)), decipher.final()]);
  } catch {
    // GCM says only that authentication failed; the reason (key, context, bytes) stays unknown.
    throw new EnvelopeError();
  }
}

export function newKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

function assertKey(key: Buffer): void {
  if (key.length !== KEY_BYTES) throw new Error('envelope key must be 32 bytes');
}
