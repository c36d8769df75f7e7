import { dataKeyContext, type SecretLocation, safeKeyContext, secretContext } from './contexts.ts';
import { newKey, open, seal } from './envelope.ts';
import type { Keyring } from './keyring.ts';

export interface SealedSecret {
  readonly ciphertext: Buffer;
  readonly wrappedKey: Buffer;
}

/** A safe's key-encryption key as stored: wrapped by the root key. */
export interface SafeKey {
  readonly safeId: string;
  readonly wrappedKek: Buffer;
}

/**
 * Envelope encryption of secret versions. Each version gets a fresh data key; the data key is
 * wrapped by the safe's key-encryption key, which is wrapped by the root key. Both layers bind
 * the safe, account and version as additional authenticated data.
 */
export interface SecretCipher {
  newSafeKey(safeId: string): Buffer;
  encrypt(safe: SafeKey, at: SecretLocation, plaintext: Buffer): SealedSecret;
  decrypt(safe: SafeKey, at: SecretLocation, sealed: SealedSecret): Buffer;
}

export function createSecretCipher(deps: { keyring: Keyring }): SecretCipher {
  const { keyring } = deps;
  // Unwrapped safe keys live only while unsealed; sealing forgets them.
  const keks = new Map<string, { wrapped: Buffer; kek: Buffer }>();
  keyring.onSeal(() => keks.clear());

  const unwrap = (safe: SafeKey): Buffer => {
    const rootKey = keyring.keys().rootKey;
    const cached = keks.get(safe.safeId);
    if (cached?.wrapped.equals(safe.wrappedKek)) return cached.kek;
    const kek = open(rootKey, safe.wrappedKek, safeKeyContext(safe.safeId));
    keks.set(safe.safeId, { wrapped: Buffer.from(safe.wrappedKek), kek });
    return kek;
  };

  return {
    newSafeKey(safeId) {
      return seal(keyring.keys().rootKey, newKey(), safeKeyContext(safeId));
    },

    encrypt(safe, at, plaintext) {
      const kek = unwrap(safe);
      const dataKey = newKey();
      return {
        ciphertext: seal(dataKey, plaintext, secretContext(at)),
        wrappedKey: seal(kek, dataKey, dataKeyContext(at)),
      };
    },

    decrypt(safe, at, sealed) {
      const kek = unwrap(safe);
      const dataKey = open(kek, sealed.wrappedKey, dataKeyContext(at));
      return open(dataKey, sealed.ciphertext, secretContext(at));
    },
  };
}
