/**
 * The additional authenticated data of every ciphertext, in one place. Each names what the
 * ciphertext belongs to, so a value copied to another row, safe, account or version fails to open.
 */
export const ROOT_KEY_CONTEXT = 'tessera/root-key/v1';
export const SIGNING_KEY_CONTEXT = 'tessera/audit-signing-key/v1';
/**
 * Not an AAD but the HKDF `info` of a key derived from the root key: the HMAC key of SSH key
 * proof challenges (gateway/key-proof.ts). Every node holding the root key derives the same one.
 */
export const SSH_KEY_CHALLENGE_CONTEXT = 'tessera/ssh-key-challenge/v1';

export function safeKeyContext(safeId: string): string {
  return `tessera/safe-kek/v1|safe=${safeId}`;
}

export interface SecretLocation {
  readonly safeId: string;
  readonly accountId: string;
  readonly version: number;
}

export function dataKeyContext(at: SecretLocation): string {
  return `tessera/data-key/v1|safe=${at.safeId}|account=${at.accountId}|version=${at.version}`;
}

export function secretContext(at: SecretLocation): string {
  return `tessera/secret/v1|safe=${at.safeId}|account=${at.accountId}|version=${at.version}`;
}

/** Binds a session recording's wrapped data key to its session. */
export function recordingKeyContext(sessionId: string): string {
  return `tessera/recording-key/v1|session=${sessionId}`;
}

/** A webhook's HMAC key, sealed under the root key. */
export function webhookKeyContext(webhookId: string): string {
  return `tessera/webhook-key/v1|webhook=${webhookId}`;
}

/** A user's TOTP secret, sealed under the root key. */
export function mfaSecretContext(userId: string): string {
  return `tessera/mfa-secret/v1|user=${userId}`;
}

/** An ephemeral account's password, sealed under the root key until it is revealed or dropped. */
export function ephemeralSecretContext(ephemeralId: string): string {
  return `tessera/ephemeral-secret/v1|ephemeral=${ephemeralId}`;
}
