/**
 * Every command the Linux connector sends over SSH, built here from fixed scripts and from user
 * names checked against a strict pattern. No function in this file takes a secret: secrets and
 * key lines travel on the standard input of these commands, after they have started, so they
 * never reach a command line, a shell string or a process argument on the target.
 *
 * Privileged steps run `sudo -S -k -p <prompt> … /bin/sh -c <script>`. The script's first act
 * is to print a ready marker on standard error. The connector writes the sudo password only after
 * it has seen sudo's prompt, and the payload only after it has seen the marker: whether or not
 * sudo asks (NOPASSWD, cached credentials, a changed policy), the password can never be read by
 * the command, nor the payload by sudo.
 */

/** Linux user names Tessera acts on: what `useradd` accepts by default, at most 32 bytes. */
export const LINUX_USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/** sudo's `-p` prompt, unique enough to be recognised on standard error. No `%`: sudo expands it. */
export const SUDO_PROMPT = '[tessera-sudo-password]';
/** Printed on standard error by every script before it reads its standard input. */
export const READY_MARKER = '[tessera-ready]';

/** Exit codes of the scripts below for steps that fail before anything was changed. */
export const SCRIPT_EXIT = {
  noHome: 71,
  noSshDir: 72,
  noInput: 73,
  appendFailed: 74,
  chmodFailed: 75,
  noUser: 76,
  tempFailed: 77,
  replaceFailed: 78,
  badName: 79,
  noGroup: 80,
  useraddFailed: 81,
  lockFailed: 82,
  processesLeft: 83,
  userdelFailed: 84,
} as const;

/** How a privileged script runs: through sudo, or directly when the logon is root. */
export interface PrivilegedRun {
  readonly sudo: boolean;
  /** Run as this user instead of root (key files are written by their owner). */
  readonly asUser?: string | undefined;
  /**
   * The script's positional parameters (`$1`, `$2`…), each one argument: only names checked
   * against {@link LINUX_USER_NAME} and other plain values, never a secret.
   */
  readonly args?: readonly string[] | undefined;
}

const SAFE_PATH = 'PATH=/usr/sbin:/usr/bin:/sbin:/bin; export PATH';
const C_LOCALE = 'LC_ALL=C; export LC_ALL';

/**
 * Reads a user name, then hands the rest of standard input (`user:password`) to chpasswd. The
 * shell's `read` stops at the first line end, so the password line reaches chpasswd untouched;
 * the name is checked first because chpasswd under PAM reports a missing user like any failure.
 */
export const CHPASSWD_SCRIPT = [
  SAFE_PATH,
  C_LOCALE,
  `IFS= read -r user || exit ${SCRIPT_EXIT.noInput}`,
  // Only a plain name goes on to getent's command line, whatever arrived.
  `case $user in ''|[!a-z_]*|*[!a-z0-9_-]*) exit ${SCRIPT_EXIT.noUser} ;; esac`,
  `getent passwd "$user" > /dev/null || exit ${SCRIPT_EXIT.noUser}`,
  'exec chpasswd',
].join('\n');

/**
 * Appends the key line read on standard input to the user's `authorized_keys`, creating
 * `~/.ssh` (0700) and the file (0600) when missing, unless the same line is already there.
 */
export const APPEND_KEY_SCRIPT = [
  'umask 077',
  SAFE_PATH,
  C_LOCALE,
  `cd || exit ${SCRIPT_EXIT.noHome}`,
  `[ -d .ssh ] || mkdir -m 700 .ssh || exit ${SCRIPT_EXIT.noSshDir}`,
  `IFS= read -r line || exit ${SCRIPT_EXIT.noInput}`,
  'f=.ssh/authorized_keys',
  `[ -e "$f" ] || : > "$f" || exit ${SCRIPT_EXIT.appendFailed}`,
  'if grep -qxF -e "$line" "$f"; then exit 0; fi',
  // A last line without its newline would be joined to ours.
  `if [ -s "$f" ] && [ -n "$(tail -c 1 "$f")" ]; then printf '\\n' >> "$f" || exit ${SCRIPT_EXIT.appendFailed}; fi`,
  `printf '%s\\n' "$line" >> "$f" || exit ${SCRIPT_EXIT.appendFailed}`,
  `chmod 600 "$f" || exit ${SCRIPT_EXIT.chmodFailed}`,
].join('\n');

/**
 * Rewrites `authorized_keys` keeping the key on the first line of standard input (appended when
 * no line holds it) and every line that is neither marked `tessera-managed:` nor holds one of the
 * superseded keys named on the following lines of standard input.
 * The new file is written next to the old one and moved over it, so a reader never sees half.
 */
export const RETIRE_KEYS_SCRIPT = [
  'umask 077',
  SAFE_PATH,
  C_LOCALE,
  `cd || exit ${SCRIPT_EXIT.noHome}`,
  `[ -d .ssh ] || mkdir -m 700 .ssh || exit ${SCRIPT_EXIT.noSshDir}`,
  'f=.ssh/authorized_keys',
  `[ -e "$f" ] || : > "$f" || exit ${SCRIPT_EXIT.appendFailed}`,
  `t=$(mktemp .ssh/authorized_keys.tessera-XXXXXX) || exit ${SCRIPT_EXIT.tempFailed}`,
  // Standard input always holds the kept line, so awk's first file is never empty.
  `awk '
NR == FNR {
  split($0, k, " ")
  if (FNR == 1) { blob = k[2]; keep = $0 } else if (k[2] != "") drop[k[2]] = 1
  next
}
{
  for (i = 1; i <= NF; i++) if ($i == blob) { found = 1; print; next }
  for (i = 1; i <= NF; i++) if ($i in drop) next
  if ($0 !~ /^#/ && NF >= 3 && index($NF, "tessera-managed:") == 1) next
  print
}
END { if (blob == "") exit ${SCRIPT_EXIT.noInput}; if (!found) print keep }
' - "$f" > "$t" || { rm -f "$t"; exit ${SCRIPT_EXIT.replaceFailed}; }`,
  `chmod 600 "$t" && mv -f "$t" "$f" || { rm -f "$t"; exit ${SCRIPT_EXIT.replaceFailed}; }`,
].join('\n');

/** Section markers of the discovery script's output. */
export const DISCOVERY_SECTIONS = {
  passwd: '@@tessera:passwd',
  group: '@@tessera:group',
  sudoers: '@@tessera:sudoers',
  keys: '@@tessera:keys',
  end: '@@tessera:end',
} as const;

/**
 * Prints the user and group databases, the sudoers files sudo reads by default (files in
 * `/etc/sudoers.d` whose names hold a dot or end in `~` are skipped, as sudo does) and the
 * users whose `authorized_keys` is not empty.
 */
export const DISCOVERY_SCRIPT = [
  SAFE_PATH,
  C_LOCALE,
  `echo '${DISCOVERY_SECTIONS.passwd}'`,
  'getent passwd',
  `echo '${DISCOVERY_SECTIONS.group}'`,
  'getent group',
  `echo '${DISCOVERY_SECTIONS.sudoers}'`,
  'for f in /etc/sudoers /etc/sudoers.d/*; do',
  '  case $f in /etc/sudoers.d/*.*|*~) continue ;; esac',
  '  if [ -f "$f" ] && [ -r "$f" ]; then cat "$f"; echo; fi',
  'done',
  `echo '${DISCOVERY_SECTIONS.keys}'`,
  'getent passwd | while IFS=: read -r name pw uid gid gecos home shell; do',
  '  for k in "$home/.ssh/authorized_keys" "$home/.ssh/authorized_keys2"; do',
  `    if [ -s "$k" ]; then printf '%s\\n' "$name"; break; fi`,
  '  done',
  'done',
  `echo '${DISCOVERY_SECTIONS.end}'`,
].join('\n');

/**
 * Creates the ephemeral user `$1` with a home directory, /bin/bash, the existing group `$2` as
 * its supplementary group and the account expiry date `$3` (YYYY-MM-DD). The user is made with
 * a locked password; CHPASSWD_SCRIPT sets one next.
 */
export const CREATE_EPHEMERAL_SCRIPT = [
  SAFE_PATH,
  C_LOCALE,
  // useradd reads the date as local midnight: in UTC it is the day the connector meant.
  'TZ=UTC; export TZ',
  'user=$1 group=$2 expires=$3',
  requirePlainName('user'),
  requirePlainName('group'),
  'case $expires in',
  '  [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]) ;;',
  `  *) exit ${SCRIPT_EXIT.badName} ;;`,
  'esac',
  `getent group "$group" > /dev/null || exit ${SCRIPT_EXIT.noGroup}`,
  'useradd -m -s /bin/bash -G "$group" -e "$expires" -c \'Tessera ephemeral account\' \\',
  `  -- "$user" || exit ${SCRIPT_EXIT.useraddFailed}`,
].join('\n');

/**
 * Removes the ephemeral user `$1`. Its password is locked and the account expired first, so no
 * new login starts by password or by key; its logind sessions are ended where systemd runs;
 * every process whose real or effective user it is gets SIGKILL until none is left (for at
 * most `$2` tenths of a second, else it stops with the user kept); then the user and its home
 * directory are deleted. A user that does not exist is success.
 */
export const DROP_EPHEMERAL_SCRIPT = [
  SAFE_PATH,
  C_LOCALE,
  'user=$1 tenths=$2',
  requirePlainName('user'),
  `case $tenths in ''|*[!0-9]*) exit ${SCRIPT_EXIT.badName} ;; esac`,
  'getent passwd "$user" > /dev/null || exit 0',
  `usermod -L -e 1 -- "$user" || exit ${SCRIPT_EXIT.lockFailed}`,
  'if [ -d /run/systemd/system ] && command -v loginctl > /dev/null; then',
  '  loginctl terminate-user "$user" > /dev/null 2>&1 || :',
  'fi',
  'n=0',
  'while pgrep -u "$user" > /dev/null || pgrep -U "$user" > /dev/null; do',
  `  [ "$n" -lt "$tenths" ] || exit ${SCRIPT_EXIT.processesLeft}`,
  '  pkill -KILL -u "$user"; pkill -KILL -U "$user"',
  '  sleep 0.1',
  '  n=$((n + 1))',
  'done',
  `userdel -r -- "$user" || exit ${SCRIPT_EXIT.userdelFailed}`,
].join('\n');

/** Exits 0 when the user `$1` exists, 2 when it does not (getent's own codes). */
export const USER_EXISTS_SCRIPT = [
  SAFE_PATH,
  C_LOCALE,
  'user=$1',
  requirePlainName('user'),
  'exec getent passwd "$user" > /dev/null',
].join('\n');

/** `passwd` for the logged-in user, with messages in the C locale; it asks on its terminal. */
export const PASSWD_COMMAND = quoteArgs(['env', 'LC_ALL=C', 'passwd']);

/** The command that runs `script` with root rights (or as `asUser`), announcing when ready. */
export function privilegedCommand(script: string, run: PrivilegedRun): string {
  const user = run.asUser;
  if (user !== undefined) checkUserName(user);
  const args = run.args ?? [];
  const shell = ['/bin/sh', '-c', withReadyMarker(script)];
  // After `sh -c SCRIPT` the next argument is `$0`: a fixed name, so the first given is `$1`.
  if (args.length > 0) shell.push('tessera', ...args);
  if (run.sudo) {
    const target = user === undefined ? [] : ['-u', user];
    return quoteArgs(['sudo', '-S', '-k', '-p', SUDO_PROMPT, '-H', ...target, '--', ...shell]);
  }
  if (user === undefined) return quoteArgs(shell);
  if (args.length > 0) throw new Error('a script run through su takes no arguments');
  return quoteArgs(['su', '-s', '/bin/sh', '-c', withReadyMarker(script), '--', user]);
}

/** The command that runs `script` as the logged-in user, announcing when ready. */
export function ownCommand(script: string): string {
  return quoteArgs(['/bin/sh', '-c', withReadyMarker(script)]);
}

/** Throws unless `name` matches {@link LINUX_USER_NAME}; the name is then safe in a command. */
export function checkUserName(name: string): void {
  if (!LINUX_USER_NAME.test(name)) {
    throw new Error('the account name is not a plain Linux user name');
  }
}

/** True when `text` holds a C0 control character or DEL (line ends and NUL included). */
export function hasControlCharacter(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** True when `text` holds a line end or NUL: what a line-based reader cannot take. */
export function hasLineBreakOrNul(text: string): boolean {
  return text.includes('\n') || text.includes('\r') || text.includes('\u0000');
}

/** POSIX shell quoting: each argument in single quotes, a quote inside written as `'\''`. */
export function quoteArgs(args: readonly string[]): string {
  return args.map((arg) => `'${arg.replaceAll("'", "'\\''")}'`).join(' ');
}

/** A script line that stops unless the variable holds a plain name, as LINUX_USER_NAME says. */
function requirePlainName(variable: string): string {
  const exit = `exit ${SCRIPT_EXIT.badName}`;
  return [
    `case $${variable} in ''|[!a-z_]*|*[!a-z0-9_-]*) ${exit} ;; esac`,
    `[ \${#${variable}} -le 32 ] || ${exit}`,
  ].join('\n');
}

function withReadyMarker(script: string): string {
  return `printf '%s\\n' '${READY_MARKER}' >&2\n${script}`;
}
