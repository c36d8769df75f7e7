import { open, seal } from './envelope.ts';
import type { Keyring } from './keyring.ts';

/**
 * Small secrets Tessera itself holds (a webhook's HMAC key, a TOTP seed, an ephemeral account's
 * password), sealed under the root key with a context naming their row. Both throw VAULT_SEALED
 * while the vault is sealed.
 */
export function sealWithRoot(
  keyring: Pick<Keyring, 'keys'>,
  plaintext: Buffer,
  context: string,
): Buffer {
  return seal(keyring.keys().rootKey, plaintext, context);
}

export function openWithRoot(
  keyring: Pick<Keyring, 'keys'>,
  sealed: Buffer,
  context: string,
): Buffer {
  return open(keyring.keys().rootKey, sealed, context);
}
