import { CliError, usageError } from './cli-error.ts';
import type { Session } from './context.ts';

/** More than any password, share or secret the API accepts: a bigger input is a mistake. */
const MAX_STDIN_BYTES = 64 * 1024;

/**
 * Reads all of stdin as UTF-8 and strips one trailing newline, the one `echo` or a file adds:
 * everything else, spaces and further newlines included, is part of the value.
 */
export async function readValueFromStdin(session: Session, what: string): Promise<string> {
  if (session.stdinIsTerminal) {
    throw usageError(`give the ${what} on a pipe or file, not typed into the terminal`);
  }
  const bytes = await readStdin(session, false);
  const text = decodeUtf8(bytes, what);
  const value = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (value === '') throw usageError(`no ${what} on stdin`);
  return value;
}

/** Reads the first line of stdin, without its line ending and surrounding spaces. */
export async function readLineFromStdin(session: Session, what: string): Promise<string> {
  const bytes = await readStdin(session, true);
  const line = decodeUtf8(bytes, what).split('\n', 1)[0]?.trim() ?? '';
  if (line === '') throw usageError(`no ${what} on stdin`);
  return line;
}

/** A hidden prompt on the terminal (stderr), for passwords, secrets and shares. */
export async function promptHidden(session: Session, message: string): Promise<string> {
  const { password, isCancel } = await import('@clack/prompts');
  const answer = await password({
    message,
    input: session.stdin,
    output: session.stderr,
    validate: (value) => (value === undefined || value === '' ? 'required' : undefined),
  });
  if (isCancel(answer)) throw new CliError('CANCELLED', 'cancelled');
  return answer;
}

/** A visible prompt on the terminal (stderr), for names. */
export async function promptText(session: Session, message: string): Promise<string> {
  const { text, isCancel } = await import('@clack/prompts');
  const answer = await text({
    message,
    input: session.stdin,
    output: session.stderr,
    validate: (value) => (value === undefined || value.trim() === '' ? 'required' : undefined),
  });
  if (isCancel(answer)) throw new CliError('CANCELLED', 'cancelled');
  return answer.trim();
}

/**
 * A secret from stdin when the caller said so, else from a hidden prompt when one is allowed;
 * never from an argument. `flag` names the option that reads stdin, for the error message.
 */
export async function readSecret(
  session: Session,
  input: { what: string; fromStdin: boolean; flag: string },
): Promise<string> {
  if (input.fromStdin) return readValueFromStdin(session, input.what);
  if (session.interactive) return promptHidden(session, `${capitalise(input.what)}:`);
  const otherwise = session.stdinIsTerminal ? 'prompts are off' : 'or run on a terminal';
  throw usageError(`no ${input.what}: pipe it in with ${input.flag} (${otherwise})`);
}

async function readStdin(session: Session, firstLineOnly: boolean): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Leaving the loop early (first line read) destroys stdin, so the process can end.
  for await (const chunk of session.stdin) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    chunks.push(buffer);
    size += buffer.length;
    if (size > MAX_STDIN_BYTES) throw usageError(`stdin is larger than ${MAX_STDIN_BYTES} bytes`);
    if (firstLineOnly && buffer.includes(0x0a)) break;
  }
  return Buffer.concat(chunks);
}

function decodeUtf8(bytes: Buffer, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    // Replacing bad bytes would store a value other than the one given.
    throw usageError(`the ${what} on stdin is not valid UTF-8`);
  }
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
