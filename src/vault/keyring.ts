import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  timingSafeEqual,
} from 'node:crypto';
import { combine, split } from 'shamir-secret-sharing';
import type { Clock } from '../clock.ts';
import { TesseraError } from '../errors.ts';
import type { KeyringTable } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import { ROOT_KEY_CONTEXT, SIGNING_KEY_CONTEXT } from './contexts.ts';
import { EnvelopeError, KEY_BYTES, newKey, open, seal } from './envelope.ts';

export interface SealStatus {
  readonly initialized: boolean;
  readonly sealed: boolean;
  readonly threshold: number;
  readonly shares: number;
  /** Distinct valid shares submitted toward the threshold. */
  readonly progress: number;
}

export interface InitOptions {
  readonly shares: number;
  readonly threshold: number;
}

export interface UnsealedKeys {
  readonly rootKey: Buffer;
  readonly signingKey: KeyObject;
  readonly signingPublicKey: KeyObject;
}

export interface Keyring {
  status(): Promise<SealStatus>;
  /** Creates the root key and returns the unseal key's shares; they are never stored. */
  initialize(options: InitOptions): Promise<{ readonly shares: string[] }>;
  submitShare(share: string): Promise<SealStatus>;
  /** Unseals with the whole unseal key: the dev mode path, where the key sits in the data dir. */
  unsealWithKey(unsealKey: Buffer): Promise<void>;
  /** Like initialize, but returns the whole unseal key instead of shares (dev mode only). */
  initializeWithKey(): Promise<Buffer>;
  seal(): void;
  isSealed(): boolean;
  /** The unsealed keys, or VAULT_SEALED. */
  keys(): UnsealedKeys;
  onSeal(listener: () => void): void;
  onUnseal(listener: () => void): void;
}

const KEYRING_ID = 'primary';
const SHARE_BYTES = KEY_BYTES + 1;
export const MAX_SHARES = 16;

export function createKeyring(deps: { store: Store; clock: Clock }): Keyring {
  const { store, clock } = deps;
  let unsealed: UnsealedKeys | null = null;
  let submitted = new Map<number, Uint8Array>();
  const sealListeners: Array<() => void> = [];
  const unsealListeners: Array<() => void> = [];

  // Nothing rewrites the row once it exists, so it is read until found and then kept.
  let keyringRow: KeyringTable | undefined;
  const loadRow = async () => {
    keyringRow ??= await store.db
      .selectFrom('keyring')
      .selectAll()
      .where('id', '=', KEYRING_ID)
      .executeTakeFirst();
    return keyringRow;
  };

  const requireRow = async () => {
    const row = await loadRow();
    if (row === undefined) {
      throw new TesseraError('NOT_INITIALIZED', 'the vault is not initialised: run operator init');
    }
    return row;
  };

  const status = async (): Promise<SealStatus> => {
    const row = await loadRow();
    if (row === undefined) {
      return { initialized: false, sealed: true, threshold: 0, shares: 0, progress: 0 };
    }
    return {
      initialized: true,
      sealed: unsealed === null,
      threshold: row.unseal_threshold,
      shares: row.unseal_shares,
      progress: submitted.size,
    };
  };

  const create = async (unsealKey: Buffer, shares: readonly Uint8Array[], threshold: number) => {
    const rootKey = newKey();
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const signingDer = privateKey.export({ format: 'der', type: 'pkcs8' });
    const row = {
      id: KEYRING_ID,
      wrapped_root_key: seal(unsealKey, rootKey, ROOT_KEY_CONTEXT),
      unseal_shares: Math.max(shares.length, 1),
      unseal_threshold: threshold,
      share_digests: JSON.stringify(shares.map(digest)),
      root_generation: 1,
      wrapped_signing_key: seal(rootKey, signingDer, SIGNING_KEY_CONTEXT),
      signing_public_key: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
      created_at: clock.now(),
    };
    try {
      await store.db.insertInto('keyring').values(row).execute();
    } catch (error) {
      if ((await loadRow()) !== undefined) throw alreadyInitialized();
      throw error;
    }
    await store.durable();
  };

  const unlock = async (unsealKey: Buffer): Promise<void> => {
    const row = await requireRow();
    let rootKey: Buffer;
    try {
      rootKey = open(unsealKey, row.wrapped_root_key, ROOT_KEY_CONTEXT);
    } catch (error) {
      if (!(error instanceof EnvelopeError)) throw error;
      throw new TesseraError('UNSEAL_FAILED', 'the shares did not rebuild the unseal key');
    }
    const signingDer = open(rootKey, row.wrapped_signing_key, SIGNING_KEY_CONTEXT);
    const signingKey = createPrivateKey({ key: signingDer, format: 'der', type: 'pkcs8' });
    // The public key that checks checkpoints comes from the sealed private key, never from the
    // stored copy: a replaced stored key would let forged checkpoints verify.
    const signingPublicKey = createPublicKey(signingKey);
    const stored = Buffer.from(row.signing_public_key, 'base64');
    const derived = signingPublicKey.export({ format: 'der', type: 'spki' });
    if (!derived.equals(stored)) {
      throw new TesseraError(
        'INTEGRITY_FAILURE',
        'the keyring was altered: its audit key pair does not match',
      );
    }
    unsealed = { rootKey, signingKey, signingPublicKey };
    for (const listener of unsealListeners) listener();
  };

  return {
    status,

    async initialize({ shares, threshold }) {
      validateSplit(shares, threshold);
      if ((await loadRow()) !== undefined) throw alreadyInitialized();
      const unsealKey = newKey();
      const parts =
        shares === 1
          ? [Buffer.concat([unsealKey, Buffer.of(0)])]
          : await split(new Uint8Array(unsealKey), shares, threshold);
      await create(unsealKey, parts, threshold);
      return { shares: parts.map((part) => Buffer.from(part).toString('base64')) };
    },

    async initializeWithKey() {
      if ((await loadRow()) !== undefined) throw alreadyInitialized();
      const unsealKey = newKey();
      await create(unsealKey, [], 1);
      return unsealKey;
    },

    async submitShare(encoded) {
      const row = await requireRow();
      const share = decodeShare(encoded);
      const index = matchDigest(share, JSON.parse(row.share_digests) as string[]);
      if (index < 0) {
        throw new TesseraError('UNSEAL_SHARE_INVALID', 'this is not a share of this vault');
      }
      if (unsealed !== null) return status();
      if (submitted.has(index)) {
        throw new TesseraError('UNSEAL_SHARE_REPEATED', 'this share was already submitted');
      }
      submitted.set(index, share);
      if (submitted.size < row.unseal_threshold) return status();

      const parts = [...submitted.values()];
      submitted = new Map();
      const unsealKey =
        row.unseal_threshold === 1
          ? Buffer.from(parts[0]?.subarray(0, KEY_BYTES) ?? [])
          : Buffer.from(await combine(parts.map((part) => new Uint8Array(part))));
      await unlock(unsealKey);
      return status();
    },

    async unsealWithKey(unsealKey) {
      await unlock(unsealKey);
    },

    seal() {
      unsealed = null;
      submitted = new Map();
      for (const listener of sealListeners) listener();
    },

    isSealed: () => unsealed === null,

    keys() {
      if (unsealed === null) throw new TesseraError('VAULT_SEALED', 'the vault is sealed');
      return unsealed;
    },

    onSeal(listener) {
      sealListeners.push(listener);
    },

    onUnseal(listener) {
      unsealListeners.push(listener);
    },
  };
}

function validateSplit(shares: number, threshold: number): void {
  const valid =
    Number.isInteger(shares) &&
    Number.isInteger(threshold) &&
    shares >= 1 &&
    shares <= MAX_SHARES &&
    threshold >= 1 &&
    threshold <= shares &&
    (threshold > 1 || shares === 1);
  if (!valid) {
    throw new TesseraError(
      'VALIDATION_FAILED',
      `shares must be 1 to ${MAX_SHARES} and threshold 2 to shares (or 1 of 1)`,
    );
  }
}

function decodeShare(encoded: string): Uint8Array {
  const bytes = Buffer.from(encoded.trim(), 'base64');
  if (bytes.length !== SHARE_BYTES) {
    throw new TesseraError('UNSEAL_SHARE_INVALID', 'this is not a share of this vault');
  }
  return bytes;
}

function digest(share: Uint8Array): string {
  return createHash('sha256').update(share).digest('hex');
}

/** Compares against every stored digest, in constant time per digest. */
function matchDigest(share: Uint8Array, digests: readonly string[]): number {
  const candidate = Buffer.from(digest(share), 'hex');
  let found = -1;
  digests.forEach((stored, index) => {
    if (timingSafeEqual(candidate, Buffer.from(stored, 'hex'))) found = index;
  });
  return found;
}

function alreadyInitialized(): TesseraError {
  return new TesseraError('ALREADY_INITIALIZED', 'the vault is already initialised');
}
