/**
 * Public keys a user may register for the gateway: none that anyone could sign for, and one key
 * per line. Proof of possession means nothing for a key that needs no private key to sign.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { hasSmallOrder, parsePublicKeyLine } from '../../src/gateway/user-keys.ts';

const str = (bytes: Buffer) => {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
};
const edLine = (point: Buffer) =>
  `ssh-ed25519 ${Buffer.concat([str(Buffer.from('ssh-ed25519')), str(point)]).toString('base64')}`;
const rsaLine = (exponent: Buffer, modulus: Buffer) => {
  const blob = Buffer.concat([str(Buffer.from('ssh-rsa')), str(exponent), str(modulus)]);
  return `ssh-rsa ${blob.toString('base64')}`;
};
/** 32 bytes, little-endian, as Ed25519 encodes y (and x's sign in the top bit). */
const encoded = (y: bigint, sign: boolean) => {
  const bytes = Buffer.from(y.toString(16).padStart(64, '0'), 'hex').reverse();
  if (sign) bytes[31] = (bytes[31] as number) | 0x80;
  return bytes;
};
const P = 2n ** 255n - 19n;
const ORDER_8_Y = 2707385501144840649318225287225658788936804267575313519463743609750303402022n;
const refusal = { code: 'VALIDATION_FAILED' };

describe('gateway user keys: keys that prove nothing are refused', () => {
  it('refuses every small-order Ed25519 point, however it is spelled', () => {
    const ys = [0n, 1n, P - 1n, ORDER_8_Y, P - ORDER_8_Y];
    // y + p still fits in 255 bits for y < 19: the non-canonical spellings of 0 and 1.
    const spellings = ys.flatMap((y) => (y < 19n ? [y, y + P] : [y]));
    let refused = 0;
    for (const y of spellings) {
      for (const sign of [false, true]) {
        const point = encoded(y, sign);
        assert.equal(hasSmallOrder(point), true, point.toString('hex'));
        assert.throws(() => parsePublicKeyLine(edLine(point)), refusal);
        refused += 1;
      }
    }
    assert.equal(refused, 14);
  });

  it('accepts real Ed25519 keys', () => {
    for (let i = 0; i < 200; i += 1) {
      const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
      const point = Buffer.from(jwk.x as string, 'base64url');
      assert.equal(hasSmallOrder(point), false);
      assert.equal(parsePublicKeyLine(edLine(point)).type, 'ssh-ed25519');
    }
  });

  it('refuses RSA keys with e = 1, an even e, or a size outside 2048 to 16384 bits', () => {
    const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
      format: 'jwk',
    });
    const modulus = Buffer.concat([Buffer.alloc(1), Buffer.from(jwk.n as string, 'base64url')]);
    const exponent = (e: number) => Buffer.from(e.toString(16).padStart(6, '0'), 'hex');
    for (const e of [1, 2, 4, 65536]) {
      assert.throws(() => parsePublicKeyLine(rsaLine(exponent(e), modulus)), {
        ...refusal,
        message: /exponent/,
      });
    }
    for (const e of [3, 65537]) {
      assert.equal(parsePublicKeyLine(rsaLine(exponent(e), modulus)).type, 'ssh-rsa');
    }
    const huge = randomBytes(2056);
    huge[0] = 0x7f; // positive, 16,447 bits
    huge[2055] = (huge[2055] as number) | 1;
    assert.throws(() => parsePublicKeyLine(rsaLine(exponent(65537), huge)), {
      ...refusal,
      message: /2048 to 16384 bits/,
    });
  });

  it('takes one key per line: a second one never becomes the first one’s comment', () => {
    const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
    const line = edLine(Buffer.from(jwk.x as string, 'base64url'));
    assert.equal(parsePublicKeyLine(`${line} me@laptop\n`).comment, 'me@laptop');
    for (const between of ['\n', '\r', '\v', '\f', '\u0085', '\u2028', '\u2029']) {
      assert.throws(() => parsePublicKeyLine(`${line}${between}${line}`), {
        ...refusal,
        message: /one public key line/,
      });
    }
  });
});
