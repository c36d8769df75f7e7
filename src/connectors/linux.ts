/**
 * Linux over SSH. Verifies by logging in (password or key), sets passwords with `chpasswd` run
 * through sudo by a reconcile account or with `passwd` by the account itself, adds and retires
 * Tessera's SSH keys in `authorized_keys`, scans for privileged accounts, and makes ephemeral
 * accounts (`linux-ephemeral.ts`).
 *
 * Every connection requires the target's pinned host key. Every command is a fixed string (see
 * `linux-commands.ts`); passwords and key lines travel only on standard input, after the command
 * has started, so none reaches a command line or a process argument on the target.
 */
import { z } from 'zod';
import {
  type ChangeOutcome,
  type ChangeRequest,
  type Connector,
  type Credential,
  type DiscoveryOutcome,
  type PlatformSecretRules,
  type RetireRequest,
  STATEMENT_TIMEOUT_MS,
  type TargetAddress,
  type TargetOptions,
  type VerifyOutcome,
} from './connector.ts';
import {
  APPEND_KEY_SCRIPT,
  CHPASSWD_SCRIPT,
  DISCOVERY_SCRIPT,
  hasLineBreakOrNul,
  LINUX_USER_NAME,
  ownCommand,
  privilegedCommand,
  RETIRE_KEYS_SCRIPT,
  SCRIPT_EXIT,
} from './linux-commands.ts';
import { parseDiscovery } from './linux-discovery.ts';
import { createLinuxEphemeral } from './linux-ephemeral.ts';
import { changeOwnPassword } from './linux-passwd.ts';
import { runScript, type ScriptResult, sudoPasswordOf, usesSudo } from './linux-script.ts';
import { connectSsh, readHostKey, type SshSession, scrub } from './linux-ssh.ts';
import {
  formatPublicKey,
  MAX_PUBLIC_KEY_LINE,
  managedKeyLine,
  parsePrivateKey,
  parsePublicKeyLine,
  publicKeyLine,
  sshFingerprint,
} from './ssh-keys.ts';

/**
 * Linux itself takes long passwords; 64 characters keep clear of tools that cut at 72 bytes
 * (bcrypt-based hashes) even with a few multi-byte characters.
 */
const MAX_SECRET_LENGTH = 64;
/** A hard ceiling for any value `change` accepts, generated or not. */
const MAX_SECRET_BYTES = 1024;
/** A passwd and group listing of a large directory takes longer than one statement. */
const DISCOVERY_TIMEOUT_MS = 30_000;
/**
 * chpasswd reads one `user:password` line, so line ends and NUL can never be part of a value;
 * the other control characters would be taken as editing keys by `passwd` on a terminal.
 */
const FORBIDDEN_CHARACTERS = String.fromCharCode(
  ...Array.from({ length: 32 }, (_, code) => code),
  0x7f,
);

const optionsSchema = z
  .object({
    /** The server's host key, `type base64` (a comment is dropped). */
    hostKey: z
      .string()
      .max(MAX_PUBLIC_KEY_LINE)
      .transform((line, context) => {
        const key = parsePublicKeyLine(line);
        if (typeof key !== 'string') return formatPublicKey(key);
        context.addIssue({ code: 'custom', message: key });
        return z.NEVER;
      })
      .optional(),
    /** Whether privileged steps go through `sudo` (off only for a root logon). */
    sudo: z.boolean().default(true),
  })
  .strict();

/** Creates the Linux connector. */
export function createLinuxConnector(): Connector {
  const secretRules: PlatformSecretRules = {
    maxLength: MAX_SECRET_LENGTH,
    forbiddenCharacters: FORBIDDEN_CHARACTERS,
  };
  return {
    platform: 'linux',
    secretRules,
    secretKinds: ['password', 'ssh-key'],
    options: optionsSchema,
    viewOptions,
    checkUsername,
    verify,
    change,
    retire,
    discover,
    fetchHostKey: readHostKey,
    ephemeral: createLinuxEphemeral(),
  };
}

function viewOptions(options: TargetOptions): Record<string, string | number | boolean | null> {
  const line = options.hostKey;
  const key = typeof line === 'string' ? parsePublicKeyLine(line) : 'none';
  const pinned = typeof key === 'string' ? null : key;
  return {
    hostKeyAlgorithm: pinned?.type ?? null,
    hostKeyFingerprint: pinned === null ? null : sshFingerprint(pinned.blob),
    sudo: usesSudo(options),
  };
}

// ---------------------------------------------------------------------------------------------
// verify

async function verify(target: TargetAddress, credential: Credential): Promise<VerifyOutcome> {
  const connected = await connectSsh(target, credential);
  if (connected.kind === 'refused') return { kind: 'invalid', reason: connected.reason };
  if (connected.kind === 'unreachable') return { kind: 'unreachable', reason: connected.reason };
  connected.session.close();
  return { kind: 'valid' };
}

// ---------------------------------------------------------------------------------------------
// change

async function change(target: TargetAddress, request: ChangeRequest): Promise<ChangeOutcome> {
  // A name that can never be a Linux user fails every candidate alike: not a value's fault.
  const nameProblem = checkUsername(request.account);
  if (nameProblem !== null) return { kind: 'not-sent', reason: nameProblem };
  const problem = checkChangeRequest(request);
  if (problem) return { kind: 'rejected', reason: problem };
  if (request.secretKind === 'ssh-key') return changeKey(target, request);
  if (request.via === 'self') return changePasswordSelf(target, request);
  return changePasswordReconcile(target, request);
}

function checkUsername(username: string): string | null {
  return LINUX_USER_NAME.test(username)
    ? null
    : 'the account name is not a plain Linux user name ([a-z_][a-z0-9_-]*, at most 32)';
}

function checkChangeRequest(request: ChangeRequest): string | undefined {
  if (request.secretKind === 'ssh-key') {
    const key = parsePrivateKey(request.newSecret);
    return typeof key === 'string' ? `the new key is unusable: ${key}` : undefined;
  }
  const secret = request.newSecret;
  if (secret.length === 0) return 'the new password is empty';
  if (!secret.isWellFormed()) return 'the new password is not well-formed Unicode';
  if (hasLineBreakOrNul(secret)) return 'the new password contains a line end or NUL';
  if (Buffer.byteLength(secret, 'utf8') > MAX_SECRET_BYTES) {
    return `the new password is longer than ${MAX_SECRET_BYTES} bytes`;
  }
  return undefined;
}

async function changePasswordReconcile(
  target: TargetAddress,
  request: ChangeRequest,
): Promise<ChangeOutcome> {
  const secrets = [request.newSecret, request.logon.secret, request.currentSecret];
  return withSession(target, request.logon, async (session) => {
    const result = await runScript(session, {
      command: privilegedCommand(CHPASSWD_SCRIPT, { sudo: usesSudo(target.options) }),
      sudoPassword: sudoPasswordOf(request.logon),
      input: `${request.account}\n${request.account}:${request.newSecret}\n`,
      timeoutMs: STATEMENT_TIMEOUT_MS,
      secrets,
    });
    return chpasswdOutcome(target, request.account, result, secrets);
  });
}

function chpasswdOutcome(
  target: TargetAddress,
  account: string,
  result: ScriptResult,
  secrets: readonly (string | null)[],
): ChangeOutcome {
  if (result.kind === 'not-started') {
    return { kind: 'not-sent', reason: `${result.reason}; nothing was changed` };
  }
  if (result.kind === 'interrupted') {
    return { kind: 'unknown', reason: `the new password was sent but ${result.reason}` };
  }
  if (result.code === 0) return { kind: 'applied' };
  if (result.code === SCRIPT_EXIT.noUser) {
    return { kind: 'not-sent', reason: `there is no user ${account} on ${target.name}` };
  }
  if (result.code === SCRIPT_EXIT.noInput) {
    return { kind: 'not-sent', reason: `the account name did not reach ${target.name}` };
  }
  const said = scrub(result.stderr, secrets);
  return {
    kind: 'rejected',
    reason: `chpasswd on ${target.name} refused the change (exit ${result.code}): ${said}`,
  };
}

async function changePasswordSelf(
  target: TargetAddress,
  request: ChangeRequest,
): Promise<ChangeOutcome> {
  if (request.logon.username !== request.account || request.logon.kind === 'ssh-key') {
    return {
      kind: 'not-sent',
      reason: 'a self change needs the account itself as logon, with its password',
    };
  }
  return withSession(target, request.logon, (session) =>
    changeOwnPassword(session, request.logon.secret, request.newSecret, STATEMENT_TIMEOUT_MS),
  );
}

async function changeKey(target: TargetAddress, request: ChangeRequest): Promise<ChangeOutcome> {
  const line = managedKeyLine(request.newSecret, request.account);
  return runKeyScript(target, request, APPEND_KEY_SCRIPT, line, 'add the new key');
}

// ---------------------------------------------------------------------------------------------
// retire

async function retire(target: TargetAddress, request: RetireRequest): Promise<ChangeOutcome> {
  if (!LINUX_USER_NAME.test(request.account)) {
    return { kind: 'rejected', reason: 'the account name is not a plain Linux user name' };
  }
  const key = parsePrivateKey(request.keep);
  if (typeof key === 'string')
    return { kind: 'rejected', reason: `the kept key is unusable: ${key}` };
  const superseded: string[] = [];
  for (const old of request.superseded) {
    const parsed = parsePrivateKey(old);
    // A superseded value that is no key (never usable as one) has nothing to remove.
    if (typeof parsed !== 'string') superseded.push(publicKeyLine(old));
  }
  const lines = [managedKeyLine(request.keep, request.account), ...superseded].join('\n');
  return runKeyScript(target, request, RETIRE_KEYS_SCRIPT, lines, 'retire the older keys');
}

/** Runs a key script as the account: directly when it logs in itself, else through sudo. */
async function runKeyScript(
  target: TargetAddress,
  request: Pick<RetireRequest, 'account' | 'via' | 'logon'>,
  script: string,
  line: string,
  what: string,
): Promise<ChangeOutcome> {
  const self = request.via === 'self';
  if (self && request.logon.username !== request.account) {
    return { kind: 'not-sent', reason: 'a self change needs the account itself as logon' };
  }
  const command = self
    ? ownCommand(script)
    : privilegedCommand(script, { sudo: usesSudo(target.options), asUser: request.account });
  const secrets = [request.logon.secret];
  return withSession(target, request.logon, async (session) => {
    const result = await runScript(session, {
      command,
      sudoPassword: self ? null : sudoPasswordOf(request.logon),
      input: `${line}\n`,
      timeoutMs: STATEMENT_TIMEOUT_MS,
      secrets,
    });
    return keyScriptOutcome(target, result, what, secrets);
  });
}

const KEY_SCRIPT_FAILURES: Readonly<Record<number, string>> = {
  [SCRIPT_EXIT.noHome]: 'the account has no usable home directory',
  [SCRIPT_EXIT.noSshDir]: 'could not create ~/.ssh',
  [SCRIPT_EXIT.noInput]: 'the key line did not arrive',
  [SCRIPT_EXIT.appendFailed]: 'could not write ~/.ssh/authorized_keys',
  [SCRIPT_EXIT.chmodFailed]: 'could not set the mode of ~/.ssh/authorized_keys',
  [SCRIPT_EXIT.tempFailed]: 'could not create a temporary file in ~/.ssh',
  [SCRIPT_EXIT.replaceFailed]: 'could not replace ~/.ssh/authorized_keys',
};

function keyScriptOutcome(
  target: TargetAddress,
  result: ScriptResult,
  what: string,
  secrets: readonly (string | null)[],
): ChangeOutcome {
  if (result.kind === 'not-started') {
    return { kind: 'not-sent', reason: `${result.reason}; nothing was changed` };
  }
  if (result.kind === 'interrupted') {
    return { kind: 'unknown', reason: `the key line was sent but ${result.reason}` };
  }
  if (result.code === 0) return { kind: 'applied' };
  const said = scrub(result.stderr, secrets);
  const known = KEY_SCRIPT_FAILURES[result.code];
  const detail = said.length > 0 ? `: ${said}` : '';
  return {
    kind: 'not-sent',
    reason: `could not ${what} on ${target.name}: ${known ?? `exit ${result.code}`}${detail}`,
  };
}

// ---------------------------------------------------------------------------------------------
// discover

async function discover(target: TargetAddress, scanner: Credential): Promise<DiscoveryOutcome> {
  const connected = await connectSsh(target, scanner);
  if (connected.kind !== 'ready') {
    return { kind: 'failed', reason: `the scanner could not log in: ${connected.reason}` };
  }
  const session = connected.session;
  try {
    const result = await runScript(session, {
      command: privilegedCommand(DISCOVERY_SCRIPT, { sudo: usesSudo(target.options) }),
      sudoPassword: sudoPasswordOf(scanner),
      input: '',
      timeoutMs: DISCOVERY_TIMEOUT_MS,
      secrets: [scanner.secret],
    });
    if (result.kind !== 'finished') return { kind: 'failed', reason: result.reason };
    if (result.code !== 0) {
      const said = scrub(result.stderr, [scanner.secret]);
      return {
        kind: 'failed',
        reason: `the scan on ${target.name} failed (exit ${result.code}): ${said}`,
      };
    }
    const accounts = parseDiscovery(result.stdout);
    if (typeof accounts === 'string') return { kind: 'failed', reason: accounts };
    return { kind: 'found', accounts };
  } finally {
    session.close();
  }
}

// ---------------------------------------------------------------------------------------------
// helpers

async function withSession(
  target: TargetAddress,
  logon: Credential,
  work: (session: SshSession) => Promise<ChangeOutcome>,
): Promise<ChangeOutcome> {
  const connected = await connectSsh(target, logon);
  if (connected.kind === 'refused') {
    return { kind: 'not-sent', reason: `the logon was refused: ${connected.reason}` };
  }
  if (connected.kind === 'unreachable') {
    return { kind: 'not-sent', reason: `${connected.reason}; nothing was changed` };
  }
  try {
    return await work(connected.session);
  } finally {
    connected.session.close();
  }
}
