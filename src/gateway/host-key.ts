import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import { generateSshPrivateKey } from '../connectors/ssh-keys.ts';
import { TesseraError } from '../errors.ts';

const { utils } = ssh2;

/**
 * The gateway's own host key: Ed25519, made on the first start and kept in the data directory
 * (owner only), so users' `known_hosts` entries stay valid across restarts.
 */
export function loadOrCreateHostKey(file: string): Buffer {
  if (!existsSync(file)) {
    const key = generateSshPrivateKey('tessera-gateway');
    writeFileSync(file, key, { mode: 0o600, flag: 'wx' });
  }
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

/** The host key's public half as an OpenSSH line, for users to pin. */
export function publicKeyLine(privateKey: Buffer): string {
  const parsed = utils.parseKey(privateKey);
  if (parsed instanceof Error) throw parsed;
  return `${parsed.type} ${parsed.getPublicSSH().toString('base64')}`;
}
