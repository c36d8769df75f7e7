import * as crypto from 'node:crypto';
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { availableParallelism } from 'node:os';

/**
 * Password hashing for Tessera's own users: argon2id where Node provides it (24.7 and newer),
 * scrypt otherwise. Both are memory-hard and run on libuv's thread pool, so a burst of logins
 * never blocks the event loop. The stored string names its algorithm and parameters, so a
 * hash made by either verifies on any supported Node.
 *
 * At most one hash per core but one runs at a time: a burst of logins then waits its turn
 * instead of taking every core from the event loop, where the gateway relays keystrokes.
 *
 * Passwords are normalised to NFC first: the same typed password may arrive as precomposed or
 * decomposed characters depending on the keyboard and platform.
 */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, stored: string): Promise<boolean>;
}

export interface Argon2Params {
  readonly memoryKiB: number;
  readonly passes: number;
  readonly parallelism: number;
}

/** OWASP's baseline for argon2id: 19 MiB, two passes, one lane. */
export const DEFAULT_ARGON2: Argon2Params = { memoryKiB: 19_456, passes: 2, parallelism: 1 };
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const SALT_BYTES = 16;
const HASH_BYTES = 32;

type Argon2Fn = (
  algorithm: 'argon2id',
  params: {
    message: Buffer;
    nonce: Buffer;
    parallelism: number;
    tagLength: number;
    memory: number;
    passes: number;
  },
  callback: (error: Error | null, key: Buffer) => void,
) => void;

const nativeArgon2 = (crypto as unknown as { argon2?: Argon2Fn }).argon2;

/** libuv's pool runs the hashes, and the recordings' files and compression too. */
const POOL_THREADS = Number(process.env.UV_THREADPOOL_SIZE) || 4;
const HASHES_AT_ONCE = Math.max(1, Math.min(availableParallelism(), POOL_THREADS) - 1);
let hashing = 0;
const waiting: Array<() => void> = [];

/**
 * Runs `work` once fewer than HASHES_AT_ONCE hashes are running. The queue has no bound of its
 * own, on purpose: refusing past one would let a flood lock every user out, where waiting only
 * slows them. What one source can queue is bounded where it comes in (the API's per-source
 * limits, the gateway's MAX_SIGNING_IN_PER_SOURCE with one check at a time per connection).
 */
async function inTurn<T>(work: () => Promise<T>): Promise<T> {
  if (hashing >= HASHES_AT_ONCE) await new Promise<void>((resolve) => waiting.push(resolve));
  hashing += 1;
  try {
    return await work();
  } finally {
    hashing -= 1;
    waiting.shift()?.();
  }
}

export function createPasswordHasher(params: Argon2Params = DEFAULT_ARGON2): PasswordHasher {
  return {
    async hash(password) {
      const salt = randomBytes(SALT_BYTES);
      const message = encode(password);
      if (nativeArgon2 !== undefined) {
        const key = await argon2(message, salt, params);
        const encoded = `m=${params.memoryKiB},t=${params.passes},p=${params.parallelism}`;
        return `$argon2id$v=19$${encoded}$${b64(salt)}$${b64(key)}`;
      }
      const key = await scryptKey(message, salt, SCRYPT.N, SCRYPT.r, SCRYPT.p);
      return `$scrypt$n=${SCRYPT.N},r=${SCRYPT.r},p=${SCRYPT.p}$${b64(salt)}$${b64(key)}`;
    },

    async verify(password, stored) {
      const parsed = parse(stored);
      if (parsed === null) return false;
      const message = encode(password);
      const key =
        parsed.algorithm === 'argon2id'
          ? await argon2(message, parsed.salt, {
              memoryKiB: parsed.params.m ?? 0,
              passes: parsed.params.t ?? 0,
              parallelism: parsed.params.p ?? 0,
            })
          : await scryptKey(
              message,
              parsed.salt,
              parsed.params.n ?? 0,
              parsed.params.r ?? 0,
              parsed.params.p ?? 0,
            );
      return key.length === parsed.hash.length && timingSafeEqual(key, parsed.hash);
    },
  };
}

function encode(password: string): Buffer {
  return Buffer.from(password.normalize('NFC'), 'utf8');
}

function argon2(message: Buffer, salt: Buffer, params: Argon2Params): Promise<Buffer> {
  const fn = nativeArgon2;
  if (fn === undefined) {
    return Promise.reject(new Error('argon2id needs Node 24.7 or newer'));
  }
  return inTurn(() => argon2Now(fn, message, salt, params));
}

function argon2Now(
  fn: Argon2Fn,
  message: Buffer,
  salt: Buffer,
  params: Argon2Params,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    fn(
      'argon2id',
      {
        message,
        nonce: salt,
        parallelism: params.parallelism,
        tagLength: HASH_BYTES,
        memory: params.memoryKiB,
        passes: params.passes,
      },
      (error, key) => (error === null ? resolve(key) : reject(error)),
    );
  });
}

function scryptKey(
  message: Buffer,
  salt: Buffer,
  N: number,
  r: number,
  p: number,
): Promise<Buffer> {
  return inTurn(
    () =>
      new Promise((resolve, reject) => {
        scrypt(message, salt, HASH_BYTES, { N, r, p, maxmem: SCRYPT.maxmem }, (error, key) =>
          error === null ? resolve(key) : reject(error),
        );
      }),
  );
}

interface ParsedHash {
  readonly algorithm: 'argon2id' | 'scrypt';
  readonly params: Readonly<Record<string, number>>;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

function parse(stored: string): ParsedHash | null {
  const argon = /^\$argon2id\$v=19\$([a-z0-9=,]+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(
    stored,
  );
  const scryptMatch = /^\$scrypt\$([a-z0-9=,]+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(stored);
  const match = argon ?? scryptMatch;
  if (match === null) return null;
  const [, paramText = '', salt = '', hash = ''] = match;
  const params = Object.fromEntries(
    paramText.split(',').map((pair) => {
      const [key = '', value = ''] = pair.split('=');
      return [key, Number(value)];
    }),
  );
  return {
    algorithm: argon === null ? 'scrypt' : 'argon2id',
    params,
    salt: Buffer.from(salt, 'base64'),
    hash: Buffer.from(hash, 'base64'),
  };
}

function b64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}
