/**
 * The real OpenSSH client, run the way a person runs it, against one of the hosts of the rig's
 * ssh_config: bulk transfers through `cat` over exec, and the time from starting `ssh` to the
 * first byte a command prints. Nothing secret is on any command line: keys are files.
 */
import { spawn } from 'node:child_process';

const CLIENT_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
const TRANSFER_TIMEOUT_MS = 600_000;
const SETUP_TIMEOUT_MS = 20_000;

export type Direction = 'download' | 'upload';

export interface Transfer {
  readonly bytes: number;
  readonly seconds: number;
}

/**
 * Moves `copies` times `file` through the host: `download` runs `cat` of the file on the target
 * and counts what arrives here; `upload` sends it to `wc -c` on the target, which counts it.
 */
export async function transfer(
  sshConfig: string,
  host: string,
  direction: Direction,
  file: string,
  copies: number,
): Promise<Transfer> {
  const files = Array.from({ length: copies }, () => quote(file)).join(' ');
  const ssh = `ssh -F ${quote(sshConfig)} -T ${host}`;
  const script =
    direction === 'download'
      ? `${ssh} ${quote(`cat ${files}`)} | wc -c`
      : `cat ${files} | ${ssh} 'wc -c'`;
  const started = performance.now();
  const { code, stdout, stderr } = await run('bash', ['-o', 'pipefail', '-c', script]);
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`${direction} through ${host} failed (${code}): ${stderr}`);
  const bytes = Number(stdout.trim());
  if (!Number.isFinite(bytes)) throw new Error(`${direction} through ${host}: no count`);
  return { bytes, seconds };
}

/** Milliseconds from starting `ssh HOST 'echo ready'` to the first byte of its output. */
export function timeToFirstOutput(sshConfig: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let first: number | null = null;
    let stderr = '';
    const child = spawn('ssh', ['-F', sshConfig, '-T', host, 'echo ready'], {
      env: CLIENT_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), SETUP_TIMEOUT_MS);
    child.stdout.once('data', () => {
      first = performance.now() - started;
    });
    child.stdout.resume();
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0 && first !== null) resolve(first);
      else reject(new Error(`ssh ${host} 'echo ready' failed (${code}): ${stderr.trim()}`));
    });
  });
}

/** A long-running `ssh HOST COMMAND` whose output is thrown away here; kill() ends it. */
export function background(
  sshConfig: string,
  host: string,
  command: string,
): { kill(): Promise<void> } {
  const child = spawn('ssh', ['-F', sshConfig, '-T', host, command], {
    env: CLIENT_ENV,
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    async kill() {
      child.kill('SIGTERM');
      await closed;
    },
  };
}

function run(
  program: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { env: CLIENT_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), TRANSFER_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr: stderr.trim().slice(-2000) });
    });
  });
}

/** Single quotes for a POSIX shell. */
function quote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}
