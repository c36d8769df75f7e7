/**
 * Key proofs: ECDSA edge values, and mutated signatures and challenges, must only
 * ever be refused with a TesseraError (never a crash, never a pass).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Clock } from '../../src/clock.ts';
import { TesseraError } from '../../src/errors.ts';
import { createKeyProofs, KEY_PROOF_NAMESPACE } from '../../src/gateway/key-proof.ts';
import { parsePublicKeyLine } from '../../src/gateway/user-keys.ts';

const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
const dir = mkdtempSync(path.join(tmpdir(), 'tessera-sshsig-edges-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function keygen(name: string, args: string[]) {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', [...args, '-q', '-N', '', '-f', file], { env: ENV });
  return { file, blob: parsePublicKeyLine(readFileSync(`${file}.pub`, 'utf8')).blob };
}
function sshSign(file: string, text: string) {
  const args = ['-Y', 'sign', '-n', KEY_PROOF_NAMESPACE, '-f', file];
  return execFileSync('ssh-keygen', args, { env: ENV, input: text, stdio: 'pipe' }).toString();
}
const str = (b: Buffer) => {
  const l = Buffer.alloc(4);
  l.writeUInt32BE(b.length);
  return Buffer.concat([l, b]);
};
function fields(buf: Buffer, from: number): { parts: Buffer[]; end: number } {
  const parts: Buffer[] = [];
  let at = from;
  while (at + 4 <= buf.length) {
    const n = buf.readUInt32BE(at);
    if (at + 4 + n > buf.length) break;
    parts.push(buf.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return { parts, end: at };
}
const dearmor = (text: string) =>
  Buffer.from(text.trim().split('\n').slice(1, -1).join(''), 'base64');
const armor = (blob: Buffer) =>
  `-----BEGIN SSH SIGNATURE-----\n${blob.toString('base64')}\n-----END SSH SIGNATURE-----\n`;
const toMpint = (n: bigint) => {
  if (n === 0n) return Buffer.alloc(0);
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const b = Buffer.from(hex, 'hex');
  return (b[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
};
const big = (b: Buffer) => (b.length === 0 ? 0n : BigInt(`0x${b.toString('hex')}`));

const ORDERS: Record<string, bigint> = {
  nistp256: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  nistp384: BigInt(
    '0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973',
  ),
  nistp521: BigInt(
    '0x01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409',
  ),
};

describe('key proof: SSHSIG edge cases and mutations', () => {
  const rootKey = randomBytes(32);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const keys = { rootKey, signingKey: privateKey, signingPublicKey: publicKey };
  const clock: Clock = { now: () => 1_800_000_000_000 };
  const outcome = (work: () => void) => {
    try {
      work();
      return 'ok';
    } catch (error) {
      if (error instanceof TesseraError) return error.code;
      return `CRASH ${(error as Error).name}: ${(error as Error).message}`;
    }
  };

  /** Rebuilds the armored signature with the ECDSA r and s replaced. */
  const withRS = (armored: string, r: Buffer, s: Buffer) => {
    const blob = dearmor(armored);
    const { parts } = fields(blob, 6 + 4);
    const [pk, ns, res, hash, sigBlob] = parts as [Buffer, Buffer, Buffer, Buffer, Buffer];
    const alg = fields(sigBlob, 0).parts[0] as Buffer;
    const inner = Buffer.concat([str(alg), str(Buffer.concat([str(r), str(s)]))]);
    const head = blob.subarray(0, 10);
    return armor(Buffer.concat([head, str(pk), str(ns), str(res), str(hash), str(inner)]));
  };

  for (const [curve, bits] of [
    ['nistp256', '256'],
    ['nistp384', '384'],
    ['nistp521', '521'],
  ] as const) {
    it(`ECDSA ${curve}: zero, out-of-range and high-S values`, () => {
      const key = keygen(`ec${bits}`, ['-t', 'ecdsa', '-b', bits]);
      const n = ORDERS[curve] as bigint;
      const results: Record<string, string> = {};
      const attempt = (label: string, mutate: (r: bigint, s: bigint) => [bigint, bigint]) => {
        const proofs = createKeyProofs({ keyring: { keys: () => keys }, clock });
        const issued = proofs.issue('u', key.blob);
        const signed = sshSign(key.file, issued.challenge);
        const blob = dearmor(signed);
        const sigBlob = fields(blob, 10).parts[4] as Buffer;
        const rs = fields(sigBlob, 0).parts[1] as Buffer;
        const [r, s] = fields(rs, 0).parts as [Buffer, Buffer];
        const [r2, s2] = mutate(big(r), big(s));
        const signature = withRS(signed, toMpint(r2), toMpint(s2));
        results[label] = outcome(() =>
          proofs.check('u', key.blob, { challenge: issued.challenge, signature }),
        );
      };
      attempt('unchanged', (r, s) => [r, s]);
      attempt('high-S', (r, s) => [r, n - s]);
      attempt('r = 0', (_r, s) => [0n, s]);
      attempt('s = 0', (r) => [r, 0n]);
      attempt('r + n', (r, s) => [r + n, s]);
      attempt('s + n', (r, s) => [r, s + n]);
      attempt('r = n', (_r, s) => [n, s]);
      assert.equal(results.unchanged, 'ok');
      for (const [label, result] of Object.entries(results)) {
        assert.ok(!result.startsWith('CRASH'), `${label}: ${result}`);
        if (label !== 'unchanged' && label !== 'high-S') {
          assert.equal(result, 'KEY_PROOF_INVALID', label);
        }
      }
    });
  }

  it('refuses every one-byte change of a signature, names included', () => {
    // Node's 'ascii' decoding drops the high bit, so "ssh-ed25519" with any letter's high bit
    // set once read as the same name and passed. Every byte, with these values, must fail.
    const changes = [(b: number) => b ^ 0x80, (b: number) => b ^ 0x01, () => 0x00, () => 0xff];
    for (const key of [
      keygen('one-ed', ['-t', 'ed25519']),
      keygen('one-rsa', ['-t', 'rsa', '-b', '2048']),
      keygen('one-ec', ['-t', 'ecdsa', '-b', '384']),
    ]) {
      const proofs = createKeyProofs({ keyring: { keys: () => keys }, clock });
      const issued = proofs.issue('u', key.blob);
      const blob = dearmor(sshSign(key.file, issued.challenge));
      const accepted: string[] = [];
      for (let at = 0; at < blob.length; at += 1) {
        for (const change of changes) {
          const copy = Buffer.from(blob);
          copy[at] = change(blob[at] as number);
          if (copy.equals(blob)) continue;
          const result = outcome(() =>
            proofs.check('u', key.blob, { challenge: issued.challenge, signature: armor(copy) }),
          );
          if (result !== 'KEY_PROOF_INVALID') accepted.push(`byte ${at} -> ${copy[at]}: ${result}`);
        }
      }
      assert.deepEqual(accepted, [], key.file);
      // The unchanged signature still passes: the refusals above were the changes' doing.
      proofs.check('u', key.blob, { challenge: issued.challenge, signature: armor(blob) });
    }
  });

  it('never crashes nor passes on mutated signatures of each key type', () => {
    const kinds = [
      keygen('fz-ed', ['-t', 'ed25519']),
      keygen('fz-rsa', ['-t', 'rsa', '-b', '2048']),
      keygen('fz-ec', ['-t', 'ecdsa', '-b', '256']),
    ];
    const crashes: string[] = [];
    let passes = 0;
    for (const key of kinds) {
      const proofs = createKeyProofs({ keyring: { keys: () => keys }, clock });
      const issued = proofs.issue('u', key.blob);
      const blob = dearmor(sshSign(key.file, issued.challenge));
      for (let i = 0; i < 1500; i += 1) {
        const copy = Buffer.from(blob);
        const flips = 1 + (i % 3);
        for (let f = 0; f < flips; f += 1) {
          const at = Math.floor(Math.random() * copy.length);
          copy[at] = i % 5 === 0 ? 0xff : Math.floor(Math.random() * 256);
        }
        const cut = i % 7 === 0 ? copy.subarray(0, Math.floor(Math.random() * copy.length)) : copy;
        const result = outcome(() =>
          proofs.check('u', key.blob, { challenge: issued.challenge, signature: armor(cut) }),
        );
        if (result.startsWith('CRASH')) crashes.push(result);
        if (result === 'ok' && !cut.equals(blob)) {
          passes += 1;
          console.log('passed', key.file, blob.toString('hex'), cut.toString('hex'));
        }
      }
    }
    assert.deepEqual([...new Set(crashes)], []);
    // A flip may land in the ignored `reserved` string's bytes only if its length stays 0, so
    // no mutation should pass.
    assert.equal(passes, 0);
  });

  it('never crashes on mutated challenges', () => {
    const key = keygen('fz-ch', ['-t', 'ed25519']);
    const proofs = createKeyProofs({ keyring: { keys: () => keys }, clock });
    const issued = proofs.issue('u', key.blob);
    const signature = sshSign(key.file, issued.challenge);
    const crashes: string[] = [];
    const alphabet = 'AZaz09-_.=+/ \n\u00e9\u0000';
    for (let i = 0; i < 3000; i += 1) {
      const chars = [...issued.challenge];
      const at = Math.floor(Math.random() * chars.length);
      chars[at] = alphabet[Math.floor(Math.random() * alphabet.length)] as string;
      const text = i % 11 === 0 ? chars.slice(0, at).join('') : chars.join('');
      const result = outcome(() => proofs.check('u', key.blob, { challenge: text, signature }));
      if (result.startsWith('CRASH')) crashes.push(result);
    }
    assert.deepEqual([...new Set(crashes)], []);
  });
});
