/**
 * SSHSIG parsing and verification, and the stateless key-proof challenges, against signatures
 * the real `ssh-keygen -Y sign` makes (and one it cannot: rsa-sha2-256, built here by hand).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { CliError } from '../../src/cli/cli-error.ts';
import { signerFor } from '../../src/cli/commands/ssh-key-sign.ts';
import type { Clock } from '../../src/clock.ts';
import { TesseraError } from '../../src/errors.ts';
import {
  createKeyProofs,
  KEY_CHALLENGE_TTL_MS,
  KEY_PROOF_NAMESPACE,
} from '../../src/gateway/key-proof.ts';
import {
  parseSshSignature,
  SshSignatureError,
  verifySshSignature,
} from '../../src/gateway/sshsig.ts';
import { parsePublicKeyLine } from '../../src/gateway/user-keys.ts';

const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
const dir = mkdtempSync(path.join(tmpdir(), 'tessera-sshsig-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function keygen(name: string, args: string[]): { file: string; blob: Buffer } {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', [...args, '-q', '-N', '', '-f', file], { env: ENV });
  return { file, blob: parsePublicKeyLine(readFileSync(`${file}.pub`, 'utf8')).blob };
}

function sshSign(file: string, text: string, namespace = KEY_PROOF_NAMESPACE, hash = 'sha512') {
  const args = ['-Y', 'sign', '-n', namespace, '-O', `hashalg=${hash}`, '-f', file];
  return execFileSync('ssh-keygen', args, { env: ENV, input: text, stdio: 'pipe' }).toString();
}

const wire = (...parts: Array<Buffer | string | number>) =>
  Buffer.concat(
    parts.map((part) => {
      if (typeof part === 'number') return Buffer.from([0, 0, 0, part]);
      const bytes = typeof part === 'string' ? Buffer.from(part) : part;
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      return Buffer.concat([length, bytes]);
    }),
  );
const armor = (blob: Buffer) =>
  `-----BEGIN SSH SIGNATURE-----\n${blob.toString('base64')}\n-----END SSH SIGNATURE-----\n`;
const dearmor = (text: string) => Buffer.from(text.split('\n').slice(1, -2).join(''), 'base64');

describe('SSHSIG', () => {
  const ed = keygen('ed', ['-t', 'ed25519']);

  it('verifies what ssh-keygen signs, with either hash, and nothing else', () => {
    for (const hash of ['sha512', 'sha256']) {
      const sig = parseSshSignature(sshSign(ed.file, 'hello', 'ns@x', hash));
      assert.ok(sig.publicKey.equals(ed.blob));
      assert.equal(sig.hashAlgorithm, hash);
      assert.equal(verifySshSignature(sig, Buffer.from('hello'), 'ns@x'), true);
      assert.equal(verifySshSignature(sig, Buffer.from('hellO'), 'ns@x'), false);
      assert.equal(verifySshSignature(sig, Buffer.from('hello'), 'ns@y'), false);
    }
  });

  it('verifies rsa-sha2-256 and refuses SHA-1 ssh-rsa signatures', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' });
    const mpint = (b64: string | undefined) => {
      const bytes = Buffer.from(b64 ?? '', 'base64url');
      return (bytes[0] ?? 0) >= 0x80 ? Buffer.concat([Buffer.of(0), bytes]) : bytes;
    };
    const keyBlob = wire('ssh-rsa', mpint(jwk.e), mpint(jwk.n));
    const signedData = (hash: string, message: string) => {
      const digest = createHash(hash).update(message).digest();
      return Buffer.concat([Buffer.from('SSHSIG'), wire('ns@x', '', hash, digest)]);
    };
    const blob = (algorithm: string, digestName: string) => {
      const raw = sign(digestName, signedData('sha512', 'hi'), privateKey);
      const header = Buffer.concat([Buffer.from('SSHSIG'), Buffer.from([0, 0, 0, 1])]);
      return Buffer.concat([header, wire(keyBlob, 'ns@x', '', 'sha512', wire(algorithm, raw))]);
    };
    const good = parseSshSignature(armor(blob('rsa-sha2-256', 'sha256')));
    assert.equal(verifySshSignature(good, Buffer.from('hi'), 'ns@x'), true);
    const sha1 = parseSshSignature(armor(blob('ssh-rsa', 'sha1')));
    assert.equal(verifySshSignature(sha1, Buffer.from('hi'), 'ns@x'), false);
    const mislabelled = parseSshSignature(armor(blob('rsa-sha2-512', 'sha256')));
    assert.equal(verifySshSignature(mislabelled, Buffer.from('hi'), 'ns@x'), false);
  });

  it('refuses malformed armor and blobs with SshSignatureError', () => {
    const good = dearmor(sshSign(ed.file, 'x'));
    const withVersion = (v: number) => {
      const copy = Buffer.from(good);
      copy.writeUInt32BE(v, 6);
      return copy;
    };
    const hashAt = good.indexOf('sha512');
    const md5 = Buffer.from(good);
    md5.write('md5512', hashAt);
    const hostile: Array<[string, string]> = [
      ['no armor', good.toString('base64')],
      ['no end line', armor(good).replace('-----END SSH SIGNATURE-----', '')],
      ['not base64', '-----BEGIN SSH SIGNATURE-----\n!!!!\n-----END SSH SIGNATURE-----'],
      ['another magic', armor(Buffer.concat([Buffer.from('SSHSIH'), good.subarray(6)]))],
      ['version 2', armor(withVersion(2))],
      ['an unknown hash', armor(md5)],
      ['a byte after the last field', armor(Buffer.concat([good, Buffer.of(0)]))],
      ['cut short', armor(good.subarray(0, good.length - 10))],
      [
        'a length past the end',
        armor(Buffer.concat([good.subarray(0, 10), Buffer.alloc(4, 0xff)])),
      ],
    ];
    for (const [what, text] of hostile) {
      assert.throws(() => parseSshSignature(text), SshSignatureError, what);
    }
  });
});

describe('key proof challenges', () => {
  const ed = keygen('proof', ['-t', 'ed25519']);
  const other = keygen('proof-other', ['-t', 'ed25519']);
  const rootKey = randomBytes(32);
  let now = 1_800_000_000_000;
  const clock: Clock = { now: () => now };
  const node = (key = rootKey) => {
    const keys = keyOf(key);
    return createKeyProofs({ keyring: { keys: () => keys }, clock });
  };
  const code = (work: () => void) => {
    try {
      work();
      return 'ok';
    } catch (error) {
      if (error instanceof TesseraError) return error.code;
      throw error;
    }
  };

  it('is accepted by any node holding the root key, once per node, and by no other', () => {
    const [a, b] = [node(), node()];
    const issued = a.issue('user-1', ed.blob);
    const proof = { challenge: issued.challenge, signature: sshSign(ed.file, issued.challenge) };
    assert.equal(
      code(() => node(randomBytes(32)).check('user-1', ed.blob, proof)),
      'KEY_PROOF_INVALID',
    );
    assert.equal(
      code(() => b.check('user-1', ed.blob, proof)),
      'ok',
    );
    assert.equal(
      code(() => b.check('user-1', ed.blob, proof)),
      'KEY_PROOF_INVALID',
    );
    assert.equal(
      code(() => a.check('user-1', ed.blob, proof)),
      'ok',
    );
  });

  it('binds the user and the key, and tolerates the newline echo adds', () => {
    const proofs = node();
    const issued = proofs.issue('user-1', ed.blob);
    const signature = sshSign(ed.file, `${issued.challenge}\n`);
    const proof = { challenge: issued.challenge, signature };
    assert.equal(
      code(() => proofs.check('user-2', ed.blob, proof)),
      'KEY_PROOF_INVALID',
    );
    assert.equal(
      code(() => proofs.check('user-1', other.blob, proof)),
      'KEY_PROOF_INVALID',
    );
    assert.equal(
      code(() => proofs.check('user-1', ed.blob, proof)),
      'ok',
    );
  });

  it('expires by the injected clock', () => {
    const proofs = node();
    const issued = proofs.issue('user-1', ed.blob);
    assert.equal(issued.expiresAt, now + KEY_CHALLENGE_TTL_MS);
    const proof = { challenge: issued.challenge, signature: sshSign(ed.file, issued.challenge) };
    now += KEY_CHALLENGE_TTL_MS;
    assert.equal(
      code(() => proofs.check('user-1', ed.blob, proof)),
      'KEY_PROOF_EXPIRED',
    );
    now -= 1;
    assert.equal(
      code(() => proofs.check('user-1', ed.blob, proof)),
      'ok',
    );
  });
});

describe("the CLI's signer", () => {
  const key = keygen('cli', ['-t', 'ed25519']);
  const line = readFileSync(`${key.file}.pub`, 'utf8');
  const keys = keyOf(randomBytes(32));
  const proofs = createKeyProofs({
    keyring: { keys: () => keys },
    clock: { now: () => Date.now() },
  });

  it("signs the server's challenge with the private key beside the .pub", async () => {
    const signer = await signerFor({ env: ENV, cwd: dir }, `${key.file}.pub`, line, 1);
    const issued = proofs.issue('user-1', key.blob);
    const signature = await signer.sign(issued.challenge, issued.namespace);
    assert.doesNotThrow(() =>
      proofs.check('user-1', key.blob, { challenge: issued.challenge, signature }),
    );
  });

  it('signs nothing but a Tessera key challenge in its namespace', async () => {
    const signer = await signerFor({ env: ENV, cwd: dir }, '-', line, 1);
    const { challenge } = proofs.issue('user-1', key.blob);
    const asked: Array<[string, string]> = [
      [challenge, 'git'],
      ['tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904', KEY_PROOF_NAMESPACE],
      [`${challenge}\nmore`, KEY_PROOF_NAMESPACE],
    ];
    try {
      for (const [text, namespace] of asked) {
        await assert.rejects(
          signer.sign(text, namespace),
          (error) => error instanceof CliError && error.code === 'KEY_CHALLENGE_UNEXPECTED',
        );
      }
    } finally {
      await signer.close();
    }
  });
});

function keyOf(rootKey: Buffer) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { rootKey, signingKey: privateKey, signingPublicKey: publicKey };
}
