/** Separators between the simple commands of a shell line: each may start a program. */
const COMMAND_BREAKS = /[;&|()`\n]|\$\(/;
const QUOTES = /["'\\]/g;
/** Words that run the program named after them, as `exec scp` or `sudo scp` do. */
const WRAPPERS: ReadonlySet<string> = new Set([
  'exec',
  'command',
  'builtin',
  'env',
  'sudo',
  'doas',
  'nice',
  'nohup',
  'time',
]);

/**
 * Whether an exec request's command starts scp or an SFTP server: a simple command whose program
 * is `scp` (with or without its folder, after `exec`, `sudo`, `VAR=value` and the like), or any
 * word naming a program that ends in `sftp-server`. Quotes and backslashes are ignored, so
 * `'scp' -t` counts. A guard against the standard tools only: a shell can move data in countless
 * other ways.
 */
export function runsFileTransfer(command: string): boolean {
  for (const part of command.split(COMMAND_BREAKS)) {
    const words = part.replace(QUOTES, '').trim().split(/\s+/).map(programName);
    if (words.some((word) => word.endsWith('sftp-server'))) return true;
    const program = words.find((word) => !WRAPPERS.has(word) && !word.includes('='));
    if (program === 'scp') return true;
  }
  return false;
}

function programName(word: string): string {
  return word.slice(word.lastIndexOf('/') + 1);
}

/** SSH_FXP_INIT: the first packet of every SFTP client (uint32 length, byte 1, uint32 version). */
const FXP_INIT = 1;
/** OpenSSH's sftp-server takes an INIT of any length up to its packet limit, extensions ignored. */
const MAX_INIT_LENGTH = 256 * 1024;

/**
 * Whether the first bytes a client sent on an exec channel open an SFTP conversation, as
 * `sftp -s PATH` does with a server of any name: 'more' until five bytes have come.
 */
export function opensSftp(first: Buffer): 'yes' | 'no' | 'more' {
  if (first.length > 0 && first[0] !== 0) return 'no';
  if (first.length < 5) return 'more';
  const length = first.readUInt32BE(0);
  return first[4] === FXP_INIT && length >= 5 && length <= MAX_INIT_LENGTH ? 'yes' : 'no';
}
