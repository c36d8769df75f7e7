/**
 * The arithmetic behind MariaDB's `ed25519` authentication plugin. MariaDB derives an Ed25519
 * key pair from the password itself: the SHA-512 of the password's bytes takes the place of the
 * hashed 32-byte seed of RFC 8032, whatever the password's length. The server stores the public
 * key (unpadded base64); at login it sends a 32-byte nonce and checks the client's signature.
 *
 * Node's crypto takes Ed25519 keys only as 32-byte seeds, so the curve operations are done here
 * with bigint. Known shortcoming: bigint arithmetic is not constant-time, so the work per login
 * leaks timing about the password-derived scalar to whoever can time Tessera's own process. It
 * goes when node:crypto accepts an expanded Ed25519 private key.
 */
import { createHash } from 'node:crypto';

const P = 2n ** 255n - 19n;
/** The order of the base point. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

/** A point in extended coordinates (X, Y, Z, T) with x = X/Z, y = Y/Z, xy = T/Z. */
type Point = readonly [bigint, bigint, bigint, bigint];

const D = mod(-121665n * invert(121666n));
const BASE = basePoint();
const IDENTITY: Point = [0n, 1n, 1n, 0n];

/** The value MariaDB stores for `password` under `ed25519`: the public key in unpadded base64. */
export function ed25519AuthString(password: string): string {
  const { scalar } = expandPassword(password);
  return encodePoint(multiply(scalar, BASE)).toString('base64').replace(/=+$/, '');
}

/** The client's answer to the server's nonce: the 64-byte signature R || S of the nonce. */
export function ed25519SignNonce(password: string, nonce: Uint8Array): Buffer {
  const { scalar, prefix } = expandPassword(password);
  const publicKey = encodePoint(multiply(scalar, BASE));

  const r = mod(littleEndian(sha512(prefix, nonce)), L);
  const commitment = encodePoint(multiply(r, BASE));
  const challenge = mod(littleEndian(sha512(commitment, publicKey, nonce)), L);
  const s = mod(r + challenge * scalar, L);
  return Buffer.concat([commitment, toLittleEndian(s)]);
}

function expandPassword(password: string): { scalar: bigint; prefix: Buffer } {
  const digest = sha512(Buffer.from(password, 'utf8'));
  const head = Buffer.from(digest.subarray(0, 32));
  // Clamping as in RFC 8032 section 5.1.5.
  head[0] = (head[0] ?? 0) & 248;
  head[31] = ((head[31] ?? 0) & 63) | 64;
  return { scalar: littleEndian(head), prefix: Buffer.from(digest.subarray(32)) };
}

function sha512(...parts: readonly Uint8Array[]): Buffer {
  const hash = createHash('sha512');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

function mod(value: bigint, modulus: bigint = P): bigint {
  const rest = value % modulus;
  return rest >= 0n ? rest : rest + modulus;
}

function power(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let factor = mod(base);
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = mod(result * factor);
    factor = mod(factor * factor);
  }
  return result;
}

function invert(value: bigint): bigint {
  return power(value, P - 2n);
}

function basePoint(): Point {
  const y = mod(4n * invert(5n));
  const xx = mod((y * y - 1n) * invert(D * y * y + 1n));
  let x = power(xx, (P + 3n) / 8n);
  if (mod(x * x - xx) !== 0n) x = mod(x * power(2n, (P - 1n) / 4n));
  if (x & 1n) x = P - x; // the base point's x is even
  return [x, y, 1n, mod(x * y)];
}

/** Addition on the twisted Edwards curve (a = -1), "add-2008-hwcd-3". */
function add(p: Point, q: Point): Point {
  const [x1, y1, z1, t1] = p;
  const [x2, y2, z2, t2] = q;
  const a = mod((y1 - x1) * (y2 - x2));
  const b = mod((y1 + x1) * (y2 + x2));
  const c = mod(t1 * 2n * D * t2);
  const d = mod(z1 * 2n * z2);
  const e = b - a;
  const f = d - c;
  const g = d + c;
  const h = b + a;
  return [mod(e * f), mod(g * h), mod(f * g), mod(e * h)];
}

function multiply(scalar: bigint, point: Point): Point {
  let result = IDENTITY;
  let addend = point;
  for (let s = scalar; s > 0n; s >>= 1n) {
    if (s & 1n) result = add(result, addend);
    addend = add(addend, addend);
  }
  return result;
}

function encodePoint(point: Point): Buffer {
  const zInverse = invert(point[2]);
  const x = mod(point[0] * zInverse);
  const y = mod(point[1] * zInverse);
  return toLittleEndian(y | ((x & 1n) << 255n));
}

function littleEndian(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i] ?? 0);
  return value;
}

function toLittleEndian(value: bigint): Buffer {
  const bytes = Buffer.alloc(32);
  let rest = value;
  for (let i = 0; i < 32; i++) {
    bytes[i] = Number(rest & 255n);
    rest >>= 8n;
  }
  return bytes;
}
