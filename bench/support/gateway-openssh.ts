/**
 * The real OpenSSH client, run the way a person runs it, against one of the hosts of the rig's
 * ssh_config: bulk transfers through `cat` over exec, and the time from starting `ssh` to the
 * first byte a command prints. Nothing secret is on any command line: keys are files.
 */
import { spawn } from 'node:child_process';

const CLIENT_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
const TRANSFER_TIMEOUT_MS = 600_000;
const SETUP_TIMEOUT_MS = 20_000;

export interface Transfer {
  readonly bytes: number;
  readonly seconds: number;
}

/**
 * Downloads: `remote` runs on the target (`cat FILE …`, `head -c N /dev/zero`) and what arrives
 * here is counted. Uploads: `local` runs here and its output goes to `wc -c` on the target.
 */
export async function transfer(
  sshConfig: string,
  host: string,
  how: { readonly download: string } | { readonly upload: string },
): Promise<Transfer> {
  const ssh = `ssh -F ${quote(sshConfig)} -T ${host}`;
  const script =
    'download' in how ? `${ssh} ${quote(how.download)} | wc -c` : `${how.upload} | ${ssh} 'wc -c'`;
  const started = performance.now();
  const { code, stdout, stderr } = await run('bash', ['-o', 'pipefail', '-c', script]);
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`a transfer through ${host} failed (${code}): ${stderr}`);
  const bytes = Number(stdout.trim());
  if (!Number.isFinite(bytes)) throw new Error(`a transfer through ${host} counted nothing`);
  return { bytes, seconds };
}

/** `cat` of the file `copies` times, as one shell command. */
export function catCommand(file: string, copies: number): string {
  return `cat ${Array.from({ length: copies }, () => quote(file)).join(' ')}`;
}

export interface FirstOutput {
  /** Milliseconds from starting `ssh` to the first byte of the command's output. */
  readonly ms: number;
  /** What `ssh` exited with: 255 when the exit status of the command never reached it. */
  readonly code: number | null;
}

/** Runs `ssh HOST 'echo ready'`; fails only when no output came. */
export function timeToFirstOutput(sshConfig: string, host: string): Promise<FirstOutput> {
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
      if (first !== null) resolve({ ms: first, code });
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
