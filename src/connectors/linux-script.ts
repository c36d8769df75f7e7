/**
 * Runs one of the connector's fixed scripts and feeds it its standard input in two guarded
 * steps. sudo's password is written only in answer to sudo's own prompt, and only once; the
 * payload is written only after the script has printed its ready marker, which it does once sudo
 * has handed over. So sudo never reads the payload and the script never reads sudo's password,
 * whether or not sudo asks.
 */
import type { Credential, TargetOptions } from './connector.ts';
import { hasLineBreakOrNul, READY_MARKER, SUDO_PROMPT } from './linux-commands.ts';
import { type CommandEnd, runCommand, type SshSession, scrub } from './linux-ssh.ts';

/** Output kept from a script; discovery of a large directory stays well inside it. */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;
const READY_LINE = `${READY_MARKER}\n`;

export interface ScriptRun {
  /** A command from `linux-commands.ts`. */
  readonly command: string;
  /** Answered once to sudo's prompt; null when the logon has none (key login). */
  readonly sudoPassword: string | null;
  /** Written after the ready marker, then standard input is closed. */
  readonly input: string;
  readonly timeoutMs: number;
  /** Every secret of the call, so that no reason quotes one. */
  readonly secrets: readonly (string | null)[];
}

export type ScriptResult =
  /** The script never started: sudo refused, or the session failed first. Nothing was fed. */
  | { readonly kind: 'not-started'; readonly reason: string }
  | {
      readonly kind: 'finished';
      readonly code: number;
      readonly stdout: string;
      readonly stderr: string;
    }
  /** The payload may have been read: the session ended or timed out without an exit status. */
  | { readonly kind: 'interrupted'; readonly reason: string };

interface Progress {
  pre: string;
  handledUpTo: number;
  answers: number;
  refusal: 'wrong-password' | 'no-password' | undefined;
  ready: boolean;
  readonly stdout: Buffer[];
  readonly stderr: Buffer[];
  size: number;
}

/** Runs `run.command` on the session and reports how far it got. */
export async function runScript(session: SshSession, run: ScriptRun): Promise<ScriptResult> {
  const progress: Progress = {
    pre: '',
    handledUpTo: 0,
    answers: 0,
    refusal: undefined,
    ready: false,
    stdout: [],
    stderr: [],
    size: 0,
  };
  const keep = (into: Buffer[], chunk: Buffer) => {
    progress.size += chunk.length;
    if (progress.size <= MAX_OUTPUT_BYTES) into.push(chunk);
  };

  const end = await runCommand(
    session,
    run.command,
    { timeoutMs: run.timeoutMs },
    {
      onStdout: (chunk) => keep(progress.stdout, chunk),
      onStderr: (chunk, channel) => {
        if (progress.ready) return keep(progress.stderr, chunk);
        const step = onEarlyStderr(progress, chunk, run.sudoPassword !== null);
        if (step === 'answer') channel.write(`${run.sudoPassword}\n`);
        if (step === 'refuse') channel.end();
        if (step === 'ready') channel.end(run.input);
      },
    },
  );
  return scriptResult(session, run, progress, end);
}

/** What sudo is answered for this logon: null for a key, or a password sudo could not read. */
export function sudoPasswordOf(logon: Credential): string | null {
  // sudo reads one line: a password with a line end could not be typed to it.
  if (logon.kind === 'ssh-key' || hasLineBreakOrNul(logon.secret)) return null;
  return logon.secret;
}

/** Whether the target's privileged steps go through sudo (off only for a root logon). */
export function usesSudo(options: TargetOptions): boolean {
  return options.sudo !== false;
}

type EarlyStep = 'wait' | 'answer' | 'refuse' | 'ready';

/** Reads standard error before the ready marker: sudo's prompts, lecture and refusals. */
function onEarlyStderr(progress: Progress, chunk: Buffer, havePassword: boolean): EarlyStep {
  progress.pre += chunk.toString('latin1');
  const readyAt = progress.pre.indexOf(READY_LINE, progress.handledUpTo);
  if (readyAt >= 0) {
    progress.ready = true;
    const rest = progress.pre.slice(readyAt + READY_LINE.length);
    if (rest.length > 0) progress.stderr.push(Buffer.from(rest, 'latin1'));
    progress.pre = progress.pre.slice(0, readyAt);
    return 'ready';
  }

  const promptEnd = findPrompt(progress.pre, progress.handledUpTo);
  if (promptEnd < 0) return 'wait';
  progress.handledUpTo = promptEnd;
  progress.answers += 1;
  // A second prompt means the password was refused; it is never sent twice.
  if (progress.answers > 1) progress.refusal = 'wrong-password';
  else if (!havePassword) progress.refusal = 'no-password';
  return progress.refusal === undefined ? 'answer' : 'refuse';
}

/**
 * Only sudo's own prompt counts. A PAM module with a prompt of its own (sudo shows it instead of
 * ours unless `Defaults passprompt_override` is set) is not answered: guessing at prompts could
 * send the password to whatever printed one, so such a host times out as not-sent instead.
 */
function findPrompt(text: string, from: number): number {
  const ours = text.indexOf(SUDO_PROMPT, from);
  return ours >= 0 ? ours + SUDO_PROMPT.length : -1;
}

function scriptResult(
  session: SshSession,
  run: ScriptRun,
  progress: Progress,
  end: CommandEnd,
): ScriptResult {
  const name = session.target.name;
  if (!progress.ready) {
    return { kind: 'not-started', reason: notStartedReason(name, run, progress, end) };
  }
  switch (end.kind) {
    case 'exit':
      return {
        kind: 'finished',
        code: end.code,
        stdout: Buffer.concat(progress.stdout).toString('utf8'),
        stderr: Buffer.concat(progress.stderr).toString('utf8'),
      };
    case 'signal':
      return {
        kind: 'interrupted',
        reason: `the command on ${name} ended by signal ${end.signal}`,
      };
    case 'timeout':
      return {
        kind: 'interrupted',
        reason: `the command on ${name} did not finish within ${run.timeoutMs} ms`,
      };
    default:
      return {
        kind: 'interrupted',
        reason: `the command on ${name} lost its session: ${scrub(end.reason, run.secrets)}`,
      };
  }
}

function notStartedReason(
  name: string,
  run: ScriptRun,
  progress: Progress,
  end: CommandEnd,
): string {
  if (progress.refusal === 'wrong-password') return `sudo on ${name} refused the logon's password`;
  if (progress.refusal === 'no-password') {
    return `sudo on ${name} asks for a password and the logon has none (it logs in with a key)`;
  }
  const said = scrub(progress.pre.replaceAll(SUDO_PROMPT, ' '), run.secrets);
  if (/incorrect password|try again/i.test(said)) {
    return `sudo on ${name} refused the logon's password`;
  }
  if (/not in the sudoers|not allowed to (execute|run)|may not run sudo/i.test(said)) {
    return `sudo on ${name} does not allow the logon to run the command: ${said}`;
  }
  if (/must have a tty|no tty present/i.test(said)) {
    return `sudo on ${name} requires a terminal (requiretty), which Tessera does not use`;
  }
  const told = said.length > 0 ? `: ${said}` : '';
  switch (end.kind) {
    case 'exit':
      return `the command on ${name} stopped before it started (exit ${end.code})${told}`;
    case 'timeout':
      return `the command on ${name} did not start within ${run.timeoutMs} ms${told}`;
    case 'not-started':
      return `${name}: ${scrub(end.reason, run.secrets)}`;
    case 'signal':
      return `the command on ${name} ended by signal ${end.signal} before it started`;
    default:
      return `the session to ${name} ended before the command started: ${scrub(end.reason, run.secrets)}`;
  }
}
