/**
 * Whether the gateway turns Nagle's algorithm off on both legs of a session: `strace` follows the
 * gateway process while one `ssh gateway` runs and counts its `setsockopt(TCP_NODELAY, 1)` calls.
 * Only the gateway process is traced, a child of this one, and only for that one connection.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { timeToFirstOutput } from './gateway-openssh.ts';

export interface NagleCheck {
  /** `setsockopt(…, TCP_NODELAY, [1], …)` calls the gateway made during one connection. */
  readonly noDelayCalls: number;
}

const ATTACH_MS = 500;

/** Null when strace is missing or may not attach (no ptrace in this container). */
export async function checkNagle(
  dir: string,
  gatewayPid: number,
  sshConfig: string,
): Promise<NagleCheck | null> {
  if (spawnSync('sh', ['-c', 'command -v strace']).status !== 0) return null;
  const out = path.join(dir, 'nagle.strace');
  const strace = spawn(
    'strace',
    ['-f', '-e', 'trace=setsockopt', '-o', out, '-p', String(gatewayPid)],
    {
      stdio: 'ignore',
    },
  );
  const exited = new Promise<number | null>((resolve) => strace.once('close', resolve));
  await sleep(ATTACH_MS);
  if (strace.exitCode !== null) return null;
  await timeToFirstOutput(sshConfig, 'gateway');
  await sleep(ATTACH_MS); // the target leg is closed after the user's
  strace.kill('SIGINT');
  await exited;
  const text = readFileSync(out, 'utf8');
  const noDelayCalls = text.split('\n').filter((line) => /TCP_NODELAY, \[1\]/.test(line)).length;
  return { noDelayCalls };
}
