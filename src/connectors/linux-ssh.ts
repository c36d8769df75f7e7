/**
 * SSH sessions for the Linux connector, on the ssh2 client: every connection checks the server's
 * host key against the key pinned on the target, logs in with exactly the method the credential
 * names (no agent, no stray key, keyboard-interactive only when the server offers nothing else
 * for a password), and runs each command under its own timeout.
 */
import {
  type AuthenticationType,
  type AuthHandlerMiddleware,
  Client,
  type ClientChannel,
  type ConnectConfig,
  type KeyboardInteractiveCallback,
  type NextAuthHandler,
  type Prompt,
  type PseudoTtyOptions,
} from 'ssh2';
import { CONNECT_TIMEOUT_MS, type Credential, type TargetAddress } from './connector.ts';
import { hasControlCharacter } from './linux-commands.ts';
import {
  formatPublicKey,
  hostKeyAlgorithms,
  parsePrivateKey,
  parsePublicKeyLine,
  publicKeyFromBlob,
  type SshPublicKey,
  sshFingerprint,
} from './ssh-keys.ts';

const MAX_REASON_MESSAGE = 200;
/** ssh2 ends authentication when the handler answers `false`; its type definitions omit that. */
const NO_MORE_METHODS = false as unknown as AuthenticationType;

export interface SshSession {
  readonly client: Client;
  readonly target: TargetAddress;
  /** Set once the connection is gone, whoever closed it. */
  lost: string | undefined;
  close(): void;
}

export type Connected =
  | { readonly kind: 'ready'; readonly session: SshSession }
  /** The server refused the credential, or the credential cannot be used at all. */
  | { readonly kind: 'refused'; readonly reason: string }
  /** No SSH session: network, timeout, host key, handshake. Nothing was sent. */
  | { readonly kind: 'unreachable'; readonly reason: string };

/** Opens a session for `credential`, with the target's pinned host key required. */
export function connectSsh(target: TargetAddress, credential: Credential): Promise<Connected> {
  const pinned = pinnedHostKey(target);
  if (typeof pinned === 'string') return Promise.resolve({ kind: 'unreachable', reason: pinned });
  const auth = authMethods(credential);
  if (typeof auth === 'string') return Promise.resolve({ kind: 'refused', reason: auth });

  const client = new Client();
  let offered: SshPublicKey | string | undefined;
  const config: ConnectConfig = {
    host: target.host,
    port: target.port,
    username: credential.username,
    readyTimeout: CONNECT_TIMEOUT_MS,
    algorithms: { serverHostKey: hostKeyAlgorithms(pinned.type) },
    hostVerifier: (key: Buffer) => {
      offered = publicKeyFromBlob(Buffer.from(key));
      return typeof offered !== 'string' && offered.blob.equals(pinned.blob);
    },
    authHandler: auth,
  };
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: Connected) => {
      if (settled) return;
      settled = true;
      if (result.kind !== 'ready') client.destroy();
      resolve(result);
    };
    client.once('ready', () => settle({ kind: 'ready', session: openSession(client, target) }));
    client.on('error', (error: Error & { level?: string }) => {
      settle(connectFailure(target, credential, error, pinned, offered));
    });
    client.once('close', () => {
      settle({ kind: 'unreachable', reason: `${target.name} closed the connection during login` });
    });
    try {
      client.connect(config);
    } catch (error) {
      const message = error instanceof Error ? error.message : 'invalid settings';
      settle({ kind: 'unreachable', reason: `cannot connect to ${target.name}: ${message}` });
    }
  });
}

/**
 * Connects without credentials and returns the host key the server offers, as an OpenSSH public
 * key line. The handshake is abandoned as soon as the key is seen; nothing is sent after it.
 */
export function readHostKey(target: TargetAddress): Promise<string> {
  const client = new Client();
  let offered: SshPublicKey | string | undefined;
  return new Promise((resolve, reject) => {
    const done = () => {
      client.destroy();
      if (offered === undefined) {
        reject(new Error(`${target.name} closed the connection before offering a host key`));
      } else if (typeof offered === 'string') {
        reject(new Error(`the host key of ${target.name} is unusable: ${offered}`));
      } else {
        resolve(formatPublicKey(offered));
      }
    };
    client.on('error', (error: Error & { level?: string }) => {
      if (offered === undefined) {
        client.destroy();
        reject(new Error(networkReason(target, error)));
        return;
      }
      done();
    });
    client.once('close', done);
    client.connect({
      host: target.host,
      port: target.port,
      username: 'tessera-host-key',
      readyTimeout: CONNECT_TIMEOUT_MS,
      hostVerifier: (key: Buffer) => {
        offered = publicKeyFromBlob(Buffer.from(key));
        return false;
      },
      authHandler: (_left, _partial, next) => next(NO_MORE_METHODS),
    });
  });
}

export type CommandEnd =
  | { readonly kind: 'exit'; readonly code: number }
  | { readonly kind: 'signal'; readonly signal: string }
  /** The server refused to start the command: nothing ran. */
  | { readonly kind: 'not-started'; readonly reason: string }
  | { readonly kind: 'lost'; readonly reason: string }
  | { readonly kind: 'timeout' };

export interface CommandIo {
  /** Called with the open channel before any output arrives. */
  readonly onStart?: (channel: ClientChannel) => void;
  readonly onStdout?: (chunk: Buffer, channel: ClientChannel) => void;
  readonly onStderr?: (chunk: Buffer, channel: ClientChannel) => void;
}

/**
 * Runs one command. A command still running after `timeoutMs` ends the whole session (a half
 * fed privileged command must not linger) and reports `timeout`.
 */
export function runCommand(
  session: SshSession,
  command: string,
  options: { readonly timeoutMs: number; readonly pty?: PseudoTtyOptions },
  io: CommandIo,
): Promise<CommandEnd> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (end: CommandEnd) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.client.off('close', onLost);
      resolve(end);
    };
    const timer = setTimeout(() => {
      finish({ kind: 'timeout' });
      session.client.destroy();
    }, options.timeoutMs);
    const onLost = () => finish({ kind: 'lost', reason: session.lost ?? 'the connection closed' });
    session.client.once('close', onLost);

    const execOptions = options.pty === undefined ? {} : { pty: options.pty };
    session.client.exec(command, execOptions, (error, channel) => {
      if (error) {
        finish({ kind: 'not-started', reason: `the server refused the command: ${error.message}` });
        return;
      }
      let exit: CommandEnd | undefined;
      channel.on('exit', (code: number | null, signal?: string) => {
        exit =
          code === null ? { kind: 'signal', signal: signal ?? 'unknown' } : { kind: 'exit', code };
      });
      channel.on('close', () => finish(exit ?? { kind: 'lost', reason: 'no exit status' }));
      channel.on('data', (chunk: Buffer) => io.onStdout?.(chunk, channel));
      channel.stderr.on('data', (chunk: Buffer) => io.onStderr?.(chunk, channel));
      io.onStart?.(channel);
    });
  });
}

/** Returns `text` unless it quotes a secret in any normal form; trims long server messages. */
export function scrub(text: string, secrets: readonly (string | null)[]): string {
  const quotes = secrets.some(
    (secret) =>
      secret !== null &&
      [secret, secret.normalize('NFC'), secret.normalize('NFD')].some(
        (form) => form.length > 0 && text.includes(form),
      ),
  );
  if (quotes) return '(message withheld because it quoted a secret)';
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_REASON_MESSAGE ? `${flat.slice(0, MAX_REASON_MESSAGE)}…` : flat;
}

function openSession(client: Client, target: TargetAddress): SshSession {
  const session: SshSession = {
    client,
    target,
    lost: undefined,
    close: () => {
      client.end();
      // An unref'd timer: a peer that never answers the disconnect must not hold the process.
      setTimeout(() => client.destroy(), 1_000).unref();
    },
  };
  client.on('error', (error: Error) => {
    session.lost = `the connection to ${target.name} failed: ${error.message}`;
  });
  client.once('close', () => {
    session.lost ??= `${target.name} closed the connection`;
  });
  return session;
}

function pinnedHostKey(target: TargetAddress): SshPublicKey | string {
  const line = target.options.hostKey;
  if (typeof line !== 'string' || line.length === 0) {
    return `no host key is pinned for ${target.name}; refusing to connect to an unidentified server`;
  }
  const key = parsePublicKeyLine(line);
  if (typeof key === 'string') return `the host key pinned for ${target.name} is unusable: ${key}`;
  return key;
}

function authMethods(credential: Credential): AuthHandlerMiddleware | string {
  const username = credential.username;
  if (username.length === 0 || hasControlCharacter(username)) {
    return 'the user name is empty or contains control characters';
  }
  if (credential.secret.length === 0) return 'the secret is empty';
  if (credential.kind === 'ssh-key') {
    const key = parsePrivateKey(credential.secret);
    if (typeof key === 'string') return key;
    let tried = false;
    return (_left, _partial, next) => {
      if (tried) return next(NO_MORE_METHODS);
      tried = true;
      next({ type: 'publickey', username, key });
    };
  }
  return passwordAuth(username, credential.secret);
}

/**
 * Password first; keyboard-interactive only when the server does not take passwords at all, so
 * a wrong password is tried once, not twice. Its prompt gets the password only in the first
 * round and only when it is a single hidden question; anything else gets empty answers.
 */
function passwordAuth(username: string, password: string): AuthHandlerMiddleware {
  const tried = new Set<AuthenticationType>();
  let rounds = 0;
  const prompt = (
    _name: string,
    _instructions: string,
    _lang: string,
    prompts: Prompt[],
    finish: KeyboardInteractiveCallback,
  ) => {
    if (prompts.length === 0) return finish([]);
    rounds += 1;
    const single = prompts.length === 1 && prompts[0]?.echo !== true;
    finish(single && rounds === 1 ? [password] : prompts.map(() => ''));
  };
  return (left: AuthenticationType[] | null, _partial: boolean, next: NextAuthHandler) => {
    if (!tried.has('password') && (left === null || left.includes('password'))) {
      tried.add('password');
      return next({ type: 'password', username, password });
    }
    const offersPassword = left?.includes('password') ?? false;
    if (
      !offersPassword &&
      !tried.has('keyboard-interactive') &&
      left?.includes('keyboard-interactive')
    ) {
      tried.add('keyboard-interactive');
      return next({ type: 'keyboard-interactive', username, prompt });
    }
    next(NO_MORE_METHODS);
  };
}

function connectFailure(
  target: TargetAddress,
  credential: Credential,
  error: Error & { level?: string },
  pinned: SshPublicKey,
  offered: SshPublicKey | string | undefined,
): Connected {
  if (offered !== undefined && (typeof offered === 'string' || !offered.blob.equals(pinned.blob))) {
    const seen = typeof offered === 'string' ? 'an unusable key' : sshFingerprint(offered.blob);
    return {
      kind: 'unreachable',
      reason:
        `host key of ${target.name} (${seen}) does not match the pinned key ` +
        `(${sshFingerprint(pinned.blob)}): the target may have been replaced`,
    };
  }
  if (error.level === 'client-authentication') {
    // The same words for an unknown user and a wrong secret, as the server gives.
    const method = credential.kind === 'ssh-key' ? 'key' : 'password';
    return {
      kind: 'refused',
      reason: `${target.name} refused the ${method} login of ${credential.username}`,
    };
  }
  if (error.level === 'handshake' && /no matching host key/i.test(error.message)) {
    return {
      kind: 'unreachable',
      reason:
        `${target.name} offers no host key of the pinned type ${pinned.type}` +
        ': the target may have been replaced',
    };
  }
  return { kind: 'unreachable', reason: networkReason(target, error) };
}

function networkReason(target: TargetAddress, error: Error & { level?: string }): string {
  if (error.level === 'client-timeout') {
    return `no SSH handshake with ${target.name} within ${CONNECT_TIMEOUT_MS} ms`;
  }
  const code = 'code' in error && typeof error.code === 'string' ? ` (${error.code})` : '';
  return `could not connect to ${target.name}${code}: ${scrub(error.message, [])}`;
}
