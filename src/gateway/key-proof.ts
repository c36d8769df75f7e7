import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { TesseraError } from '../errors.ts';
import { SSH_KEY_CHALLENGE_CONTEXT } from '../vault/contexts.ts';
import type { Keyring } from '../vault/keyring.ts';
import { parseSshSignature, SshSignatureError, verifySshSignature } from './sshsig.ts';

/**
 * Proof that the person registering an SSH key for themselves holds its private key. The gateway
 * knows a user by their key alone, and public keys are public: without this anyone could file
 * someone else's key under their own name and be credited with that person's logins.
 *
 * The server hands out a challenge naming the user, the key's digest, a nonce and an expiry,
 * authenticated with an HMAC under a key derived from the root key. Nothing is stored, so any
 * node sharing the keyring accepts a challenge another node issued. The user signs the challenge
 * with `ssh-keygen -Y sign -n KEY_PROOF_NAMESPACE` and sends the armored signature back.
 */
export interface KeyProofs {
  /** A challenge for this user to sign with the key of this SSH wire blob. */
  issue(userId: string, keyBlob: Buffer): KeyChallenge;
  /**
   * Returns when `proof` is the key's SSHSIG signature of a live challenge issued for this user
   * and this key, and marks the challenge used; throws KEY_PROOF_INVALID or KEY_PROOF_EXPIRED.
   * Synchronous, so two requests with one challenge cannot both pass the used check.
   */
  check(userId: string, keyBlob: Buffer, proof: KeyProof): void;
}

export interface KeyChallenge {
  /** The text to sign, exactly as given (a trailing newline is tolerated). */
  readonly challenge: string;
  readonly namespace: string;
  readonly expiresAt: number;
}

export interface KeyProof {
  readonly challenge: string;
  /** The armored SSHSIG that `ssh-keygen -Y sign` prints. */
  readonly signature: string;
}

/**
 * Signatures are made in this namespace only, so one made for git commits, files or another
 * program can never pass as a key proof here, nor a key proof elsewhere.
 */
export const KEY_PROOF_NAMESPACE = 'tessera-ssh-key@tessera';
/** Long enough to type a key's passphrase, short enough that a leaked challenge soon dies. */
export const KEY_CHALLENGE_TTL_MS = 5 * 60_000;
export const MAX_CHALLENGE_LENGTH = 512;

const PREFIX = 'tessera-ssh-key-proof';
const VERSION = 'v1';
const NONCE_BYTES = 16;
const DIGEST_BYTES = 32;
const MAC_BYTES = 32;
/** nonce, expiry (uint64 ms), key digest, then the user id. */
const FIXED_BYTES = NONCE_BYTES + 8 + DIGEST_BYTES;
const MAX_USER_ID_BYTES = 128;

interface Claims {
  readonly nonce: Buffer;
  readonly expiresAt: number;
  readonly keyDigest: Buffer;
  readonly userId: string;
}

export function createKeyProofs(deps: { keyring: Pick<Keyring, 'keys'>; clock: Clock }): KeyProofs {
  const { keyring, clock } = deps;
  // Challenges this node accepted, until they expire. Another node keeps its own list, so there
  // a challenge could serve once more within its five minutes; see docs/architecture.md.
  const used = new Map<string, number>();

  // Derived on each use: the root key exists only while unsealed (VAULT_SEALED otherwise).
  const macKey = () =>
    Buffer.from(hkdfSync('sha256', keyring.keys().rootKey, '', SSH_KEY_CHALLENGE_CONTEXT, 32));
  const mac = (payload: Buffer) => createHmac('sha256', macKey()).update(payload).digest();

  const forget = (now: number) => {
    for (const [nonce, expiresAt] of used) if (expiresAt <= now) used.delete(nonce);
  };

  return {
    issue(userId, keyBlob) {
      const expiresAt = clock.now() + KEY_CHALLENGE_TTL_MS;
      const payload = encodeClaims({
        nonce: randomBytes(NONCE_BYTES),
        expiresAt,
        keyDigest: digestOf(keyBlob),
        userId,
      });
      const challenge = [PREFIX, VERSION, b64(payload), b64(mac(payload))].join('.');
      return { challenge, namespace: KEY_PROOF_NAMESPACE, expiresAt };
    },

    check(userId, keyBlob, proof) {
      const claims = authenticClaims(proof.challenge, mac);
      // Same words for another user's or another key's challenge: neither is this one's.
      if (claims.userId !== userId || !claims.keyDigest.equals(digestOf(keyBlob))) {
        throw invalid('the challenge was issued for another user or key');
      }
      const now = clock.now();
      if (claims.expiresAt <= now) {
        throw new TesseraError('KEY_PROOF_EXPIRED', 'the challenge expired: ask for a new one');
      }
      forget(now);
      const nonce = claims.nonce.toString('hex');
      if (used.has(nonce)) throw invalid('the challenge was already used: ask for a new one');

      verifySignature(proof, keyBlob);
      used.set(nonce, claims.expiresAt);
    },
  };
}

/** The claims of a challenge this keyring issued; anything else is KEY_PROOF_INVALID. */
function authenticClaims(challenge: string, mac: (payload: Buffer) => Buffer): Claims {
  const parts = challenge.trim().split('.');
  const [prefix, version, payloadText = '', macText = ''] = parts;
  if (parts.length !== 4 || prefix !== PREFIX || version !== VERSION) {
    throw invalid('this is not a challenge from this server');
  }
  const payload = unb64(payloadText);
  const given = unb64(macText);
  const expected = mac(payload);
  if (given.length !== MAC_BYTES || !timingSafeEqual(given, expected)) {
    throw invalid('this is not a challenge from this server');
  }
  const claims = decodeClaims(payload);
  if (claims === null) throw invalid('this is not a challenge from this server');
  return claims;
}

/** The signature must be the registered key's, in our namespace, over the challenge text. */
function verifySignature(proof: KeyProof, keyBlob: Buffer): void {
  let sig: ReturnType<typeof parseSshSignature>;
  try {
    sig = parseSshSignature(proof.signature);
  } catch (error) {
    if (error instanceof SshSignatureError) throw invalid(error.message);
    throw error;
  }
  if (!sig.publicKey.equals(keyBlob)) throw invalid('the signature was made with another key');
  if (sig.namespace !== KEY_PROOF_NAMESPACE) {
    throw invalid(`sign with -n ${KEY_PROOF_NAMESPACE}`);
  }
  // ssh-keygen signs exactly what it reads; `echo` would have added a newline.
  const text = proof.challenge.trim();
  const valid =
    verifySshSignature(sig, Buffer.from(text, 'utf8'), KEY_PROOF_NAMESPACE) ||
    verifySshSignature(sig, Buffer.from(`${text}\n`, 'utf8'), KEY_PROOF_NAMESPACE);
  if (!valid) throw invalid('the signature does not verify');
}

function encodeClaims(claims: Claims): Buffer {
  const fixed = Buffer.alloc(FIXED_BYTES);
  claims.nonce.copy(fixed, 0);
  fixed.writeBigUInt64BE(BigInt(claims.expiresAt), NONCE_BYTES);
  claims.keyDigest.copy(fixed, NONCE_BYTES + 8);
  return Buffer.concat([fixed, Buffer.from(claims.userId, 'utf8')]);
}

function decodeClaims(payload: Buffer): Claims | null {
  const userBytes = payload.length - FIXED_BYTES;
  if (userBytes < 1 || userBytes > MAX_USER_ID_BYTES) return null;
  return {
    nonce: payload.subarray(0, NONCE_BYTES),
    expiresAt: Number(payload.readBigUInt64BE(NONCE_BYTES)),
    keyDigest: payload.subarray(NONCE_BYTES + 8, FIXED_BYTES),
    userId: payload.subarray(FIXED_BYTES).toString('utf8'),
  };
}

function digestOf(keyBlob: Buffer): Buffer {
  return createHash('sha256').update(keyBlob).digest();
}

function b64(bytes: Buffer): string {
  return bytes.toString('base64url');
}

/** Strict base64url: a lenient decoder would let many texts stand for one challenge. */
function unb64(text: string): Buffer {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return Buffer.alloc(0);
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : Buffer.alloc(0);
}

function invalid(message: string): TesseraError {
  return new TesseraError('KEY_PROOF_INVALID', message);
}
