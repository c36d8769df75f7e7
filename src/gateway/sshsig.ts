import { constants, createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';

/**
 * SSHSIG, the signature format of `ssh-keygen -Y sign` (OpenSSH's PROTOCOL.sshsig): an armored
 * blob naming the signer's public key, a namespace and a hash algorithm, and a signature over a
 * structure that binds all three to the message's digest. Only what OpenSSH writes for the key
 * types the gateway accepts is read; anything else is malformed.
 */
export interface SshSignature {
  /** The signer's public key in SSH wire form. */
  readonly publicKey: Buffer;
  readonly namespace: string;
  readonly hashAlgorithm: SshsigHash;
  /** The signature algorithm named in the signature, e.g. `rsa-sha2-512`. */
  readonly algorithm: string;
  /** The signature itself, as the algorithm encodes it. */
  readonly signature: Buffer;
}

export type SshsigHash = 'sha256' | 'sha512';

/** Why an armored signature could not be read; the message names the part, never its bytes. */
export class SshSignatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SshSignatureError';
  }
}

const ARMOR_BEGIN = '-----BEGIN SSH SIGNATURE-----';
const ARMOR_END = '-----END SSH SIGNATURE-----';
const MAGIC = Buffer.from('SSHSIG', 'ascii');
const VERSION = 1;
const HASHES: readonly string[] = ['sha256', 'sha512'];
/** Far above an RSA 16384 signature; a larger blob is not one of ours. */
const MAX_BLOB_BYTES = 8 * 1024;

/** Reads the armor and the blob inside it: magic, version 1, and every field, nothing after. */
export function parseSshSignature(armored: string): SshSignature {
  const blob = dearmor(armored);
  const reader = wireReader(blob);
  if (!reader.bytes(MAGIC.length).equals(MAGIC)) throw malformed('it is not an SSHSIG blob');
  if (reader.uint32() !== VERSION) throw malformed('only SSHSIG version 1 is known');

  const publicKey = reader.string();
  const namespace = reader.string().toString('utf8');
  reader.string(); // reserved: readers ignore it, and the signed data always carries it empty
  const hashAlgorithm = reader.name();
  const signatureBlob = reader.string();
  reader.end();
  if (!HASHES.includes(hashAlgorithm)) throw malformed('the hash must be sha256 or sha512');

  const inner = wireReader(signatureBlob);
  const algorithm = inner.name();
  const signature = inner.string();
  inner.end();
  return {
    publicKey,
    namespace,
    hashAlgorithm: hashAlgorithm as SshsigHash,
    algorithm,
    signature,
  };
}

/**
 * Whether `sig` is its public key's signature of `message` in `namespace`. The signed data is
 * rebuilt from the expected namespace, as OpenSSH does, so a signature made in any other
 * namespace fails here even if the caller forgot to compare the names.
 */
export function verifySshSignature(sig: SshSignature, message: Buffer, namespace: string): boolean {
  const digest = createHash(sig.hashAlgorithm).update(message).digest();
  const signed = Buffer.concat([
    MAGIC,
    wireString(Buffer.from(namespace, 'utf8')),
    wireString(Buffer.alloc(0)),
    wireString(Buffer.from(sig.hashAlgorithm, 'ascii')),
    wireString(digest),
  ]);
  try {
    const key = publicKeyObject(sig.publicKey);
    return verifyWith(key, sig, signed);
  } catch (error) {
    // A key or signature that does not decode is simply not a valid signature.
    if (error instanceof SshSignatureError || isCryptoInputError(error)) return false;
    throw error;
  }
}

/** The SSH wire form of a public key as a node:crypto key (Ed25519, RSA, ECDSA NIST curves). */
export function publicKeyObject(keyBlob: Buffer): KeyObject {
  const reader = wireReader(keyBlob);
  const type = reader.name();
  if (type === 'ssh-ed25519') {
    const x = reader.string();
    reader.end();
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(x) }, format: 'jwk' });
  }
  if (type === 'ssh-rsa') {
    const e = unsigned(reader.string());
    const n = unsigned(reader.string());
    reader.end();
    return createPublicKey({ key: { kty: 'RSA', n: b64url(n), e: b64url(e) }, format: 'jwk' });
  }
  const curve = EC_CURVES[type];
  if (curve === undefined) throw malformed('the key type is not supported');
  if (reader.name() !== curve.sshName) throw malformed('the curve differs');
  const point = reader.string();
  reader.end();
  if (point.length !== 1 + 2 * curve.size || point[0] !== 0x04) throw malformed('bad EC point');
  const x = b64url(point.subarray(1, 1 + curve.size));
  const y = b64url(point.subarray(1 + curve.size));
  return createPublicKey({ key: { kty: 'EC', crv: curve.jwk, x, y }, format: 'jwk' });
}

interface EcCurve {
  readonly sshName: string;
  readonly jwk: string;
  /** Bytes of a coordinate, and of r and s in IEEE P1363 form. */
  readonly size: number;
  /** The hash RFC 5656 fixes for the curve. */
  readonly hash: string;
}

const EC_CURVES: Readonly<Record<string, EcCurve>> = {
  'ecdsa-sha2-nistp256': { sshName: 'nistp256', jwk: 'P-256', size: 32, hash: 'sha256' },
  'ecdsa-sha2-nistp384': { sshName: 'nistp384', jwk: 'P-384', size: 48, hash: 'sha384' },
  'ecdsa-sha2-nistp521': { sshName: 'nistp521', jwk: 'P-521', size: 66, hash: 'sha512' },
};

/** RSA signatures with SHA-2 only: `ssh-rsa` (SHA-1) is not accepted for SSHSIG. */
const RSA_HASHES: Readonly<Record<string, string>> = {
  'rsa-sha2-256': 'sha256',
  'rsa-sha2-512': 'sha512',
};

/** The signature algorithm must belong to the key's type; each has its own encoding. */
function verifyWith(key: KeyObject, sig: SshSignature, signed: Buffer): boolean {
  const keyType = wireReader(sig.publicKey).name();
  if (keyType === 'ssh-ed25519') {
    if (sig.algorithm !== keyType || sig.signature.length !== 64) return false;
    return verify(null, signed, key, sig.signature);
  }
  if (keyType === 'ssh-rsa') {
    const hash = RSA_HASHES[sig.algorithm];
    if (hash === undefined) return false;
    const bytes = Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
    if (sig.signature.length > bytes) return false;
    // OpenSSH may drop leading zero bytes; the verifier wants the modulus's full length.
    const padded = Buffer.concat([Buffer.alloc(bytes - sig.signature.length), sig.signature]);
    return verify(hash, signed, { key, padding: constants.RSA_PKCS1_PADDING }, padded);
  }
  const curve = EC_CURVES[keyType];
  if (curve === undefined || sig.algorithm !== keyType) return false;
  const parts = wireReader(sig.signature);
  const r = fixedWidth(unsigned(parts.string()), curve.size);
  const s = fixedWidth(unsigned(parts.string()), curve.size);
  parts.end();
  const p1363 = Buffer.concat([r, s]);
  return verify(curve.hash, signed, { key, dsaEncoding: 'ieee-p1363' }, p1363);
}

function dearmor(armored: string): Buffer {
  const lines = armored
    .trim()
    .split(/\r?\n/)
    .map((line) => line.trim());
  if (lines[0] !== ARMOR_BEGIN || lines.at(-1) !== ARMOR_END || lines.length < 3) {
    throw malformed(`an armored signature starts with ${ARMOR_BEGIN}`);
  }
  const body = lines.slice(1, -1).join('');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0) {
    throw malformed('the armor does not hold base64');
  }
  const blob = Buffer.from(body, 'base64');
  if (blob.length > MAX_BLOB_BYTES) throw malformed('the signature is too large');
  return blob;
}

/** Reads SSH wire types (RFC 4251) and refuses to read past the end or leave bytes behind. */
function wireReader(buffer: Buffer) {
  let at = 0;
  const take = (length: number) => {
    if (length > buffer.length - at) throw malformed('a field runs past the end');
    const part = buffer.subarray(at, at + length);
    at += length;
    return part;
  };
  const uint32 = () => take(4).readUInt32BE(0);
  const string = () => take(uint32());
  return {
    bytes: take,
    uint32,
    string,
    /**
     * An algorithm or curve name: printable ASCII only. Node's 'ascii' decoding drops each byte's
     * high bit, which would let many byte strings stand for one name.
     */
    name() {
      const bytes = string();
      const printable = bytes.every((byte) => byte > 0x20 && byte < 0x7f);
      if (!printable) throw malformed('a name is not printable ASCII');
      return bytes.toString('latin1');
    },
    end() {
      if (at !== buffer.length) throw malformed('unexpected bytes after the last field');
    },
  };
}

function wireString(value: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(value.length, 0);
  return Buffer.concat([length, value]);
}

/** An mpint's magnitude: a positive value's leading zero bytes dropped. */
function unsigned(mpint: Buffer): Buffer {
  if (mpint.length > 0 && (mpint[0] ?? 0) >= 0x80) throw malformed('a negative integer');
  let start = 0;
  while (start < mpint.length - 1 && mpint[start] === 0) start += 1;
  return mpint.subarray(start);
}

function fixedWidth(value: Buffer, size: number): Buffer {
  if (value.length > size) throw malformed('an integer is too large for the curve');
  return Buffer.concat([Buffer.alloc(size - value.length), value]);
}

function b64url(value: Buffer): string {
  return value.toString('base64url');
}

function malformed(message: string): SshSignatureError {
  return new SshSignatureError(`malformed SSH signature: ${message}`);
}

/** node:crypto's refusals of a key or signature that does not decode. */
function isCryptoInputError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('ERR_OSSL') || code.startsWith('ERR_CRYPTO'));
}
