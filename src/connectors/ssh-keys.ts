/**
 * SSH keys as Tessera handles them: Ed25519 private keys in OpenSSH format for managed accounts,
 * public key lines for `authorized_keys`, and the host keys pinned on Linux targets. Fingerprints
 * are written as OpenSSH prints them (`SHA256:` and unpadded base64), so an administrator can
 * compare them with `ssh-keygen -lf` on the host.
 */
import { createHash } from 'node:crypto';
import ssh2, { type ParsedKey, type ServerHostKeyAlgorithm } from 'ssh2';

// ssh2 is CommonJS; Node sees only some of its exports by name.
const { utils } = ssh2;

/**
 * The comment that marks an `authorized_keys` line as placed by Tessera, followed by `:` and the
 * account name. Only lines ending in this comment are ever removed again.
 */
export const MANAGED_KEY_MARKER = 'tessera-managed';

/** Host and account key types Tessera accepts; DSA is gone from OpenSSH and is refused. */
export const SSH_KEY_TYPES = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
] as const;
export type SshKeyType = (typeof SSH_KEY_TYPES)[number];

/** Longer than any RSA 16384-bit public key line, far shorter than anything abusive. */
export const MAX_PUBLIC_KEY_LINE = 4096;

const PUBLIC_KEY_LINE = /^([a-z0-9-]+) ([A-Za-z0-9+/]+={0,2})(?: [^\r\n]*)?$/;

/** A public key: its type and its SSH wire encoding (what fingerprints are taken over). */
export interface SshPublicKey {
  readonly type: SshKeyType;
  readonly blob: Buffer;
}

const MAX_KEYGEN_ATTEMPTS = 16;

/**
 * Generates an Ed25519 key pair and returns the private key in OpenSSH format. ssh2 (1.17)
 * writes a key whose public half starts with a zero byte one byte short, and then cannot read it
 * back: about one key in 256, which a rotation would have put on a host as a key no one can
 * use. Such a key is made again.
 */
export function generateSshPrivateKey(comment: string): string {
  for (let attempt = 0; attempt < MAX_KEYGEN_ATTEMPTS; attempt++) {
    const key = utils.generateKeyPairSync('ed25519', { comment }).private;
    if (!(utils.parseKey(key) instanceof Error)) return key;
  }
  throw new Error('could not generate an Ed25519 key that parses');
}

/**
 * The public half of an OpenSSH private key as a line `type base64`, without comment. Throws
 * when the text is not an unencrypted private key; the message never quotes the key.
 */
export function publicKeyLine(privateKey: string): string {
  const key = parsePrivateKey(privateKey);
  if (typeof key === 'string') throw new Error(key);
  return `${key.type} ${key.getPublicSSH().toString('base64')}`;
}

/** The line Tessera appends to `authorized_keys` for `account`'s key. */
export function managedKeyLine(privateKey: string, account: string): string {
  return `${publicKeyLine(privateKey)} ${MANAGED_KEY_MARKER}:${account}`;
}

/** Parses an unencrypted private key, or says in words (never quoting it) why it cannot. */
export function parsePrivateKey(privateKey: string): ParsedKey | string {
  const key = parsedKey(privateKey);
  if (key instanceof Error) return 'the secret is not an unencrypted OpenSSH private key';
  if (!key.isPrivateKey()) return 'the secret is a public key, not a private key';
  if (!isSshKeyType(key.type)) return `key type ${key.type} is not supported`;
  return key;
}

/**
 * Parses an OpenSSH public key line (`ssh-ed25519 AAAA… comment`), checking that the declared
 * type is the one encoded in the key. Returns a reason when it is not such a line.
 */
export function parsePublicKeyLine(line: string): SshPublicKey | string {
  if (line.length > MAX_PUBLIC_KEY_LINE) return `longer than ${MAX_PUBLIC_KEY_LINE} characters`;
  if (line.includes('\u0000')) return 'a public key line holds no NUL';
  const match = PUBLIC_KEY_LINE.exec(line.trim());
  const declared = match?.[1];
  if (match === null || declared === undefined) {
    return 'an OpenSSH public key line such as "ssh-ed25519 AAAA…"';
  }
  if (!isSshKeyType(declared)) return `key type ${declared} is not supported`;
  const key = parsedKey(`${declared} ${match[2]}`);
  if (key instanceof Error || key.isPrivateKey() || key.type !== declared) {
    return 'the key data does not decode to a public key of the declared type';
  }
  return { type: declared, blob: key.getPublicSSH() };
}

/** A public key from its SSH wire encoding, as a server offers it during key exchange. */
export function publicKeyFromBlob(blob: Buffer): SshPublicKey | string {
  const nameLength = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  if (nameLength < 1 || nameLength > 64 || blob.length < 4 + nameLength) {
    return 'the offered key is malformed';
  }
  const type = blob.subarray(4, 4 + nameLength).toString('latin1');
  return parsePublicKeyLine(`${type} ${blob.toString('base64')}`);
}

/** `type base64`, the form Tessera stores a pinned key in. */
export function formatPublicKey(key: SshPublicKey): string {
  return `${key.type} ${key.blob.toString('base64')}`;
}

/** `SHA256:` and the unpadded base64 of the key's SHA-256, exactly as OpenSSH prints it. */
export function sshFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * The signature algorithms a server must use to present a key of this type, so that a server
 * holding several host keys is asked for exactly the pinned one.
 */
export function hostKeyAlgorithms(type: SshKeyType): ServerHostKeyAlgorithm[] {
  return type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type];
}

function isSshKeyType(type: string): type is SshKeyType {
  return (SSH_KEY_TYPES as readonly string[]).includes(type);
}

function parsedKey(text: string): ParsedKey | Error {
  const key = utils.parseKey(text);
  // OpenSSH's private key format could hold several keys; ssh2 then returns an array.
  return Array.isArray(key) ? (key[0] ?? new Error('no key')) : key;
}
