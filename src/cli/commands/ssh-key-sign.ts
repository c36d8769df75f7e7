import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CliError } from '../cli-error.ts';
import type { Io } from '../context.ts';
import { clean } from '../output.ts';

/**
 * Signs the server's key challenge with the real `ssh-keygen -Y sign`, so the private key never
 * passes through Tessera: ssh-keygen reads it from its file (asking for a passphrase on the
 * terminal) or has ssh-agent sign. The challenge goes on stdin, never on the command line.
 */
export interface ChallengeSigner {
  sign(challenge: string, namespace: string): Promise<string>;
  /** Removes any file the signer wrote. */
  close(): Promise<void>;
}

/**
 * The namespace and shape of Tessera's key challenges (src/gateway/key-proof.ts). Anything else
 * is refused unsigned: a server that is not Tessera could otherwise have the user sign, say, a
 * git commit (namespace "git") with their key.
 */
const NAMESPACE = 'tessera-ssh-key@tessera';
const CHALLENGE = /^tessera-ssh-key-proof\.v1\.[A-Za-z0-9_-]{1,400}\.[A-Za-z0-9_-]{43}$/;

/** Long enough to type a passphrase; the challenge itself lives five minutes. */
const SIGN_TIMEOUT_MS = 120_000;
const MAX_OUTPUT_BYTES = 64 * 1024;

/**
 * The signer for the key of `line`, read from `file`. A .pub file with its private key beside it
 * signs with that private key; otherwise (stdin, a file of several keys, no private key) the
 * public key is handed to ssh-keygen, which then asks ssh-agent (SSH_AUTH_SOCK) to sign.
 */
export async function signerFor(
  io: Pick<Io, 'env' | 'cwd'>,
  file: string,
  line: string,
  lineCount: number,
): Promise<ChallengeSigner> {
  if (file !== '-' && lineCount === 1) {
    const full = path.resolve(io.cwd, file);
    const privateFile = full.endsWith('.pub') ? full.slice(0, -'.pub'.length) : null;
    const beside = privateFile === null ? null : await stat(privateFile).catch(() => null);
    const keyFile = beside?.isFile() === true && privateFile !== null ? privateFile : full;
    return { sign: (c, ns) => sshKeygenSign(io, keyFile, c, ns), close: async () => undefined };
  }
  // ssh-keygen needs the public key in a file to find it in the agent.
  const dir = await mkdtemp(path.join(tmpdir(), 'tessera-key-'));
  const keyFile = path.join(dir, 'key.pub');
  await writeFile(keyFile, `${line}\n`, { mode: 0o600 });
  return {
    sign: (c, ns) => sshKeygenSign(io, keyFile, c, ns, 'the key from ssh-agent'),
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

async function sshKeygenSign(
  io: Pick<Io, 'env'>,
  keyFile: string,
  challenge: string,
  namespace: string,
  shown = keyFile,
): Promise<string> {
  if (namespace !== NAMESPACE || !CHALLENGE.test(challenge)) {
    throw new CliError(
      'KEY_CHALLENGE_UNEXPECTED',
      'the server asked for a signature that is not a Tessera key challenge: nothing was signed',
    );
  }
  return runSshKeygen(io, keyFile, challenge, namespace, shown);
}

function runSshKeygen(
  io: Pick<Io, 'env'>,
  keyFile: string,
  challenge: string,
  namespace: string,
  shown: string,
): Promise<string> {
  // The token is of no use to ssh-keygen; SSH_AUTH_SOCK and the rest pass on.
  const { TESSERA_TOKEN: _token, ...env } = io.env;
  const args = ['-Y', 'sign', '-n', namespace, '-f', keyFile];
  return new Promise((resolve, reject) => {
    const child = spawn('ssh-keygen', args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out = collect(child.stdout);
    const err = collect(child.stderr);
    const timer = setTimeout(() => child.kill('SIGKILL'), SIGN_TIMEOUT_MS);
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        error.code === 'ENOENT'
          ? new CliError('SSH_KEYGEN_NOT_FOUND', 'no ssh-keygen on the PATH: install OpenSSH')
          : new CliError('KEY_SIGN_FAILED', `cannot run ssh-keygen: ${clean(error.message)}`),
      );
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const signature = out();
      if (code === 0 && signature.includes('-----BEGIN SSH SIGNATURE-----')) {
        resolve(signature);
      } else {
        reject(signFailed(shown, err()));
      }
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(challenge);
  });
}

/** What ssh-keygen said last (a path or a reason, never key material), and what to try. */
function signFailed(shown: string, stderr: string): CliError {
  const said = stderr
    .split('\n')
    .map((line) => line.replace(/^Enter passphrase[^:]*:/, '').trim())
    .filter((line) => line !== '' && line !== 'Signing data on standard input')
    .at(-1);
  const reason = said === undefined ? '' : ` (${clean(said).slice(0, 200)})`;
  return new CliError(
    'KEY_SIGN_FAILED',
    `ssh-keygen could not sign with ${clean(shown)}${reason}: to prove you hold the key, keep ` +
      'its private key beside the .pub and give its passphrase, or load it with ssh-add',
  );
}

function collect(stream: NodeJS.ReadableStream): () => string {
  const chunks: Buffer[] = [];
  let size = 0;
  stream.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_OUTPUT_BYTES) chunks.push(chunk);
  });
  return () => Buffer.concat(chunks).toString('utf8');
}
