/**
 * Ephemeral accounts on Linux: a local user with a home directory, /bin/bash and the configured
 * group (the role) as a supplementary group, whose account expires at the end of the grant's
 * last day (UTC), so the host itself refuses logins after that whatever Tessera does. The user
 * is made with a locked password; the password is then set by chpasswd from standard input.
 * Dropping locks and expires the account, kills every process of the user until none is left,
 * then deletes the user and its home directory.
 *
 * The admin account logs in over SSH (pinned host key, its password or key) and runs each step
 * through sudo as a reconcile account does: it needs sudo to run /bin/sh as root (with a key,
 * NOPASSWD). User and group names are checked against a strict pattern here and again by each
 * script, and reach the target only as separate arguments of fixed scripts (linux-commands.ts);
 * the password travels only on chpasswd's standard input.
 */
import {
  type Credential,
  type EphemeralAccountSpec,
  type EphemeralOutcome,
  type EphemeralPresence,
  type EphemeralSupport,
  STATEMENT_TIMEOUT_MS,
  type TargetAddress,
} from './connector.ts';
import {
  CHPASSWD_SCRIPT,
  CREATE_EPHEMERAL_SCRIPT,
  DROP_EPHEMERAL_SCRIPT,
  hasControlCharacter,
  LINUX_USER_NAME,
  privilegedCommand,
  SCRIPT_EXIT,
  USER_EXISTS_SCRIPT,
} from './linux-commands.ts';
import { runScript, type ScriptResult, sudoPasswordOf, usesSudo } from './linux-script.ts';
import { connectSsh, type SshSession, scrub } from './linux-ssh.ts';

/**
 * The names Tessera gives ephemeral accounts (`ephemeral-records.ts`): checked again here, so
 * the connector never creates nor deletes any other user, whatever a caller passes.
 */
const EPHEMERAL_USER_NAME = /^tsr_[a-z0-9]{10}$/;
/** How long the drop keeps killing the user's processes before it gives up, in tenths of a s. */
const PROCESSES_END_WAIT_TENTHS = 50;
/** Deleting a home directory a session filled can take a while. */
const DROP_TIMEOUT_MS = 60_000;
const DAY_MS = 86_400_000;
/** chpasswd and the shell's `read` take the password as one line of bytes. */
const MAX_PASSWORD_BYTES = 1024;

export function createLinuxEphemeral(): EphemeralSupport {
  return { checkRole, create, drop, exists };
}

function checkRole(role: string): string | null {
  return LINUX_USER_NAME.test(role)
    ? null
    : 'the role is not a plain Linux group name ([a-z_][a-z0-9_-]*, at most 32)';
}

function checkUsername(username: string): string | null {
  return EPHEMERAL_USER_NAME.test(username)
    ? null
    : 'the account name is not one Tessera generates (tsr_ and 10 letters or digits); refused';
}

function checkPassword(password: string): string | null {
  if (password.length === 0 || hasControlCharacter(password) || !password.isWellFormed()) {
    return 'the password is empty, holds a control character or is not well-formed Unicode';
  }
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
    return `the password is longer than ${MAX_PASSWORD_BYTES} bytes`;
  }
  return null;
}

/**
 * The account expiry date for a grant ending at `end`: the day after the grant's last day, as
 * shadow counts an account expired from the first moment of its expiry day (UTC).
 */
export function expiryDate(end: Date): string | null {
  const time = end.getTime();
  if (!Number.isFinite(time)) return null;
  const day = new Date((Math.floor(time / DAY_MS) + 1) * DAY_MS);
  return Number.isNaN(day.getTime()) ? null : day.toISOString().slice(0, 10);
}

type Failed = { readonly kind: 'failed'; readonly reason: string };
const failed = (reason: string): Failed => ({ kind: 'failed', reason });

// ---------------------------------------------------------------------------------------------
// create

async function create(
  target: TargetAddress,
  login: Credential,
  account: EphemeralAccountSpec,
): Promise<EphemeralOutcome> {
  const problem =
    checkUsername(account.username) ?? checkRole(account.role) ?? checkPassword(account.password);
  if (problem !== null) return failed(problem);
  const expires = expiryDate(account.validUntil);
  if (expires === null) return failed('the end time is not a date');
  const { username, role, password } = account;

  return asAdmin(target, login, [password], async (admin) => {
    const made = await admin.run(CREATE_EPHEMERAL_SCRIPT, [username, role, expires], '');
    const madeProblem = scriptProblem(made, `creating ${username}`, admin.secrets, {
      [SCRIPT_EXIT.noGroup]: `the group ${role} does not exist on the target; nothing was created`,
      [SCRIPT_EXIT.useraddFailed]: `useradd could not create ${username}`,
    });
    if (madeProblem !== null) return failed(madeProblem);

    // The user exists with a locked password; only now does the password travel, on stdin.
    const set = await admin.run(CHPASSWD_SCRIPT, [], `${username}\n${username}:${password}\n`);
    const setProblem = scriptProblem(set, `setting the password of ${username}`, admin.secrets, {
      [SCRIPT_EXIT.noUser]: `${username} vanished before its password was set`,
    });
    return setProblem === null ? { kind: 'done' } : failed(setProblem);
  });
}

// ---------------------------------------------------------------------------------------------
// drop

async function drop(
  target: TargetAddress,
  login: Credential,
  username: string,
): Promise<EphemeralOutcome> {
  const problem = checkUsername(username);
  if (problem !== null) return failed(problem);
  const waitTenths = String(PROCESSES_END_WAIT_TENTHS);

  return asAdmin(target, login, [], async (admin) => {
    const result = await admin.run(DROP_EPHEMERAL_SCRIPT, [username, waitTenths], '', {
      timeoutMs: DROP_TIMEOUT_MS,
    });
    const dropProblem = scriptProblem(result, `dropping ${username}`, admin.secrets, {
      [SCRIPT_EXIT.lockFailed]: `usermod could not lock ${username}; nothing else was done`,
      [SCRIPT_EXIT.processesLeft]:
        `processes of ${username} were still running after ` +
        `${PROCESSES_END_WAIT_TENTHS / 10} s; the user was kept, locked`,
      [SCRIPT_EXIT.userdelFailed]: `userdel could not delete ${username}`,
    });
    return dropProblem === null ? { kind: 'done' } : failed(dropProblem);
  });
}

// ---------------------------------------------------------------------------------------------
// exists

/** getent's exit code for a name it does not know. */
const GETENT_NOT_FOUND = 2;

async function exists(
  target: TargetAddress,
  login: Credential,
  username: string,
): Promise<EphemeralPresence> {
  const problem = checkUsername(username);
  if (problem !== null) return failed(problem);

  return asAdmin(target, login, [], async (admin): Promise<EphemeralPresence> => {
    const result = await admin.run(USER_EXISTS_SCRIPT, [username], '');
    if (result.kind === 'finished' && result.code === 0) return { kind: 'present' };
    if (result.kind === 'finished' && result.code === GETENT_NOT_FOUND) return { kind: 'absent' };
    const reason = scriptProblem(result, `looking up ${username}`, admin.secrets, {});
    return failed(reason ?? `looking up ${username} failed`);
  });
}

// ---------------------------------------------------------------------------------------------
// helpers

interface AdminSession {
  /** Every secret of the call, so that no reason quotes one. */
  readonly secrets: readonly string[];
  /** Runs a fixed script as root with `args` as `$1`…, then feeds it `input`. */
  run(
    script: string,
    args: readonly string[],
    input: string,
    options?: { timeoutMs: number },
  ): Promise<ScriptResult>;
}

/** Logs in as the admin account, runs `work`, and closes the session whatever happens. */
async function asAdmin<T extends EphemeralOutcome | EphemeralPresence>(
  target: TargetAddress,
  login: Credential,
  secrets: readonly string[],
  work: (admin: AdminSession) => Promise<T>,
): Promise<T | Failed> {
  const connected = await connectSsh(target, login);
  if (connected.kind === 'refused') {
    return failed(`the admin account could not log in: ${connected.reason}`);
  }
  if (connected.kind === 'unreachable') return failed(connected.reason);
  const session: SshSession = connected.session;
  const all = [login.secret, ...secrets];
  const admin: AdminSession = {
    secrets: all,
    run: (script, args, input, options = { timeoutMs: STATEMENT_TIMEOUT_MS }) =>
      runScript(session, {
        command: privilegedCommand(script, { sudo: usesSudo(target.options), args }),
        sudoPassword: sudoPasswordOf(login),
        input,
        timeoutMs: options.timeoutMs,
        secrets: all,
      }),
  };
  try {
    return await work(admin);
  } finally {
    session.close();
  }
}

/** Why a script did not succeed, in words that quote no secret; null when it exited 0. */
function scriptProblem(
  result: ScriptResult,
  step: string,
  secrets: readonly string[],
  known: Readonly<Record<number, string>>,
): string | null {
  if (result.kind !== 'finished') return `${step}: ${result.reason}`;
  if (result.code === 0) return null;
  if (result.code === SCRIPT_EXIT.badName) {
    return `${step}: the target refused a name as not plain; nothing was done`;
  }
  const said = scrub(result.stderr, secrets);
  const detail = said.length > 0 ? `: ${said}` : '';
  return `${step}: ${known[result.code] ?? `exit ${result.code}`}${detail}`;
}
