/**
 * The shell command that signs a key challenge, and what the console can tell about a pasted
 * key line before the server judges it. The server checks everything again: these only help the
 * person in front of the page.
 */

/** ssh-keygen's default private key file for each key type the gateway accepts. */
const KEY_FILES: Readonly<Record<string, string>> = {
  'ssh-ed25519': 'id_ed25519',
  'ssh-rsa': 'id_rsa',
  'ecdsa-sha2-nistp256': 'id_ecdsa',
  'ecdsa-sha2-nistp384': 'id_ecdsa',
  'ecdsa-sha2-nistp521': 'id_ecdsa',
};

/** A key line's parts as pasted: `TYPE BASE64 [COMMENT]`. */
export interface KeyLine {
  readonly line: string;
  readonly type: string;
  readonly comment: string;
}

/** Why a pasted text is not sent to the server at all. */
export type PasteRefusal = 'empty' | 'private' | 'several';

/**
 * The one key line in `text`, or why it cannot be sent. A private key is never sent: it must
 * not leave the user's computer, and the server has no use for it. Several lines are refused
 * here as the server refuses them: one key is registered at a time.
 */
export function keyLineOf(text: string): KeyLine | PasteRefusal {
  if (holdsPrivateKey(text)) return 'private';
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const [line, ...more] = lines;
  if (line === undefined) return 'empty';
  if (more.length > 0) return 'several';
  const [type = '', , ...comment] = line.split(/\s+/);
  return { line, type, comment: comment.join(' ') };
}

/** Whether a paste holds a private key (OpenSSH's, PEM's RSA, EC and PKCS#8 forms, PuTTY's). */
export function holdsPrivateKey(text: string): boolean {
  return /PRIVATE KEY-----|PuTTY-User-Key-File-|Private-Lines:/.test(text);
}

/** `~/.ssh/id_ed25519` and the like: where ssh-keygen puts a key of this type by default. */
export function defaultKeyFile(type: string): string {
  return `~/.ssh/${Object.hasOwn(KEY_FILES, type) ? KEY_FILES[type] : 'id_ed25519'}`;
}

/**
 * `printf '%s' 'CHALLENGE' | ssh-keygen -Y sign -n NAMESPACE -f KEYFILE`. printf adds no
 * newline, so ssh-keygen signs the text exactly. The key file stays unquoted so that the shell
 * expands its `~`; the server's words are quoted where needed, so the command runs as shown
 * whatever they hold.
 */
export function signCommand(challenge: string, namespace: string, keyFile: string): string {
  return [
    `printf '%s' ${quoted(challenge)}`,
    `ssh-keygen -Y sign -n ${shellWord(namespace)} -f ${keyFile}`,
  ].join(' | ');
}

/** A word the shell reads back unchanged: bare when it is plain, in single quotes otherwise. */
function shellWord(text: string): string {
  return /^[A-Za-z0-9@%+=:,./_-]+$/.test(text) ? text : quoted(text);
}

function quoted(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
