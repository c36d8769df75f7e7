/**
 * An account changing its own password with `passwd`, which reads from a terminal: the command
 * runs on a pseudo-terminal, and each answer is typed only after its prompt has appeared (the
 * terminal has echo off by then). Prompts and messages are those of PAM in the C locale.
 */
import type { ChangeOutcome } from './connector.ts';
import { hasControlCharacter, PASSWD_COMMAND } from './linux-commands.ts';
import { runCommand, type SshSession, scrub } from './linux-ssh.ts';

const RETYPE_PROMPT = /(retype|re-enter|repeat|again)[^\n]{0,40}password[^\n]{0,20}: ?$/i;
const NEW_PROMPT = /new[^\n]{0,20}password[^\n]{0,20}: ?$/i;
const CURRENT_PROMPT = /(current|old|\(current\))[^\n]{0,30}password[^\n]{0,20}: ?$/i;

type Stage = 'current' | 'new' | 'retype' | 'sent';

interface Dialogue {
  text: string;
  handledUpTo: number;
  stage: Stage;
  /** Set when passwd asked again: the value (or the current password) was refused. */
  refused: 'current' | 'new' | undefined;
}

/** Changes the logged-in account's password from `current` to `next`. */
export async function changeOwnPassword(
  session: SshSession,
  current: string,
  next: string,
  timeoutMs: number,
): Promise<ChangeOutcome> {
  const name = session.target.name;
  // A terminal takes control characters as editing keys (erase, kill, interrupt).
  if (hasControlCharacter(next)) {
    return { kind: 'rejected', reason: 'passwd cannot take control characters from a terminal' };
  }
  if (hasControlCharacter(current)) {
    return { kind: 'not-sent', reason: 'the current password cannot be typed on a terminal' };
  }

  const dialogue: Dialogue = { text: '', handledUpTo: 0, stage: 'current', refused: undefined };
  const end = await runCommand(
    session,
    PASSWD_COMMAND,
    { timeoutMs, pty: { term: 'dumb', rows: 24, cols: 200 } },
    {
      onStdout: (chunk, channel) => {
        const answer = step(dialogue, chunk.toString('utf8'), current, next);
        if (answer === 'hang-up') channel.close();
        else if (answer !== undefined) channel.write(`${answer}\n`);
      },
    },
  );

  const said = scrub(messages(dialogue.text), [current, next]);
  const sent = dialogue.stage === 'sent';
  if (dialogue.refused === 'current') {
    return { kind: 'not-sent', reason: `passwd on ${name} refused the current password: ${said}` };
  }
  if (dialogue.refused === 'new') {
    return { kind: 'rejected', reason: `passwd on ${name} refused the new password: ${said}` };
  }
  if (end.kind === 'exit' && end.code === 0 && sent) return { kind: 'applied' };
  if (end.kind === 'exit') {
    const outcome = sent ? 'rejected' : 'not-sent';
    return { kind: outcome, reason: `passwd on ${name} failed (exit ${end.code}): ${said}` };
  }
  const how = end.kind === 'timeout' ? `did not finish within ${timeoutMs} ms` : 'was cut off';
  if (sent) {
    return { kind: 'unknown', reason: `passwd on ${name} ${how} after the new password was typed` };
  }
  return { kind: 'not-sent', reason: `passwd on ${name} ${how} before the new password was typed` };
}

/** Advances the dialogue with new terminal output; returns what to type, if anything. */
function step(
  dialogue: Dialogue,
  output: string,
  current: string,
  next: string,
): string | 'hang-up' | undefined {
  dialogue.text += output;
  const fresh = dialogue.text.slice(dialogue.handledUpTo);
  const asked = promptIn(fresh);
  if (asked === undefined) return undefined;
  dialogue.handledUpTo = dialogue.text.length;

  if (asked === 'current') {
    if (dialogue.stage !== 'current') return refuse(dialogue, 'current');
    dialogue.stage = 'new';
    return current;
  }
  if (asked === 'new') {
    if (dialogue.stage === 'retype' || dialogue.stage === 'sent') return refuse(dialogue, 'new');
    dialogue.stage = 'retype';
    return next;
  }
  if (dialogue.stage !== 'retype') return refuse(dialogue, 'new');
  dialogue.stage = 'sent';
  return next;
}

function refuse(dialogue: Dialogue, what: 'current' | 'new'): 'hang-up' {
  dialogue.refused = what;
  return 'hang-up';
}

/** What passwd said besides its prompts, e.g. `You must choose a longer password.` */
function messages(text: string): string {
  return text
    .split(/\r?\n|\r/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && promptIn(line) === undefined)
    .filter((line) => !/^changing password for /i.test(line))
    .join(' ')
    .slice(-400);
}

function promptIn(text: string): 'current' | 'new' | 'retype' | undefined {
  const line = text.replace(/\r/g, '');
  if (RETYPE_PROMPT.test(line)) return 'retype';
  if (NEW_PROMPT.test(line)) return 'new';
  if (CURRENT_PROMPT.test(line)) return 'current';
  return undefined;
}
