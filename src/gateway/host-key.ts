import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import { TesseraError } from '../errors.ts';

const { utils } = ssh2;
const MAX_KEYGEN_ATTEMPTS = 16;

/**
 * The gateway's own host key: Ed25519, made on the first start and kept in the data directory
 * (owner only), so users' `known_hosts` entries stay valid across restarts.
 */
export function loadOrCreateHostKey(file: string): Buffer {
  if (!existsSync(file)) writeFileSync(file, newHostKey(), { mode: 0o600, flag: 'wx' });
  // A key someone else could read is no longer this gateway's alone; it is tightened, not used
  // as found.
  chmodSync(file, 0o600);
  const key = readFileSync(file);
  const parsed = utils.parseKey(key);
  if (parsed instanceof Error || parsed.type !== 'ssh-ed25519' || !parsed.isPrivateKey()) {
    throw new TesseraError('VALIDATION_FAILED', `${file} does not hold an Ed25519 private key`);
  }
  return key;
}

/**
 * ssh2 (1.17) writes an Ed25519 key whose public half starts with a zero byte one byte short,
 * and then cannot read it back: about one key in 256. Such a key is made again.
 */
function newHostKey(): string {
  for (let attempt = 0; attempt < MAX_KEYGEN_ATTEMPTS; attempt++) {
    const pair = utils.generateKeyPairSync('ed25519', { comment: 'tessera-gateway' });
    if (!(utils.parseKey(pair.private) instanceof Error)) return pair.private;
  }
  throw new TesseraError('INTERNAL', 'could not make a gateway host key');
}

/** The host key's public half as an OpenSSH line, for users to pin. */
export function publicKeyLine(privateKey: Buffer): string {
  const parsed = utils.parseKey(privateKey);
  if (parsed instanceof Error) throw parsed;
  return `${parsed.type} ${parsed.getPublicSSH().toString('base64')}`;
}
