import net from 'node:net';
import ssh2, {
  type AuthenticationType,
  type BaseAgent,
  type Client,
  type ConnectConfig,
} from 'ssh2';
import { CONNECT_TIMEOUT_MS } from '../connectors/connector.ts';
import { shareReads } from './fair-reads.ts';
import { GatewayRefusal } from './refusal.ts';

/** What the gateway logs in to the target with; the secret never leaves this process. */
export interface TargetCredential {
  readonly username: string;
  readonly kind: 'password' | 'ssh-key';
  readonly secret: Buffer;
}

export interface TargetEndpoint {
  readonly host: string;
  readonly port: number;
  /** The pinned host key, an OpenSSH public key line. */
  readonly hostKey: string;
}

/** Keepalives find a target that vanished without closing the connection. */
const KEEPALIVE_INTERVAL_MS = 15_000;
const KEEPALIVE_COUNT_MAX = 4;

/**
 * Connects and logs in to the target's sshd, accepting only the pinned host key: another key
 * refuses the session before the credential is sent. Nagle's algorithm is off, since
 * keystrokes and echoes are small writes, and reads are paced (`shareReads`). `agent` is where
 * the target's agent connections go when a session asks for agent forwarding; it is never used
 * to log in.
 *
 * `auditUse` writes the audit event of this use of the secret; it is called once the connection
 * is under way, and the login (even its user name) waits until the event is on disk, while the
 * key exchange goes ahead. An event that cannot be written fails the link with its error, with
 * nothing sent; a target that says the login succeeded before it was sent is refused.
 */
export function connectTarget(
  endpoint: TargetEndpoint,
  credential: TargetCredential,
  agent: BaseAgent | undefined,
  auditUse: () => Promise<unknown>,
): Promise<Client> {
  const pinned = parsePinnedKey(endpoint.hostKey);
  if (pinned === null) return Promise.reject(new GatewayRefusal('host-key-missing'));

  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let hostKeyChanged = false;
    let settled = false;
    const fail = (refusal: unknown) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(refusal);
    };
    const methods = loginMethods(credential.kind);
    let tried = 0;
    const nextMethod = (): AuthenticationType | false =>
      tried < methods.length ? (methods[tried++] ?? false) : false;
    // The login goes once both are true: the event is on disk, the key exchange is done.
    let audited = false;
    let sendFirst: ((method: AuthenticationType) => void) | null = null;
    let keysExchanged = false;
    const login = () => {
      if (!audited || sendFirst === null || settled) return;
      const first = nextMethod();
      const send = sendFirst;
      sendFirst = null;
      if (first !== false) send(first);
    };

    client.on('ready', () => {
      if (!audited) {
        fail(new GatewayRefusal('target-unreachable', 'a login accepted before it was sent'));
        return;
      }
      settled = true;
      resolve(client);
    });
    client.on('error', (error: Error & { level?: string }) => {
      if (hostKeyChanged) fail(new GatewayRefusal('host-key-changed'));
      else if (error.level === 'client-authentication')
        fail(new GatewayRefusal('target-auth-failed'));
      else if (keysExchanged && !audited) {
        // The target waited for the event past the time it is given to log in.
        fail(new GatewayRefusal('audit-unavailable', 'the audit event was not written in time'));
      } else fail(new GatewayRefusal('target-unreachable', shortReason(error)));
    });
    client.on('close', () => fail(new GatewayRefusal('target-unreachable', 'connection closed')));
    client.on('keyboard-interactive', (_name, _instructions, _lang, prompts, finish) => {
      // A target that asks for the password by keyboard-interactive gets it for one hidden
      // prompt, and nothing for anything else it might ask.
      const one = prompts.length === 1 && prompts[0]?.echo !== true;
      finish(one && credential.kind === 'password' ? [credential.secret.toString('utf8')] : []);
    });

    // The gateway opens the TCP connection itself, so that a flooding target takes its turn.
    const sock = net.connect({ host: endpoint.host, port: endpoint.port, noDelay: true });
    shareReads(sock);
    const config: ConnectConfig = {
      sock,
      host: endpoint.host,
      port: endpoint.port,
      username: credential.username,
      readyTimeout: CONNECT_TIMEOUT_MS,
      keepaliveInterval: KEEPALIVE_INTERVAL_MS,
      keepaliveCountMax: KEEPALIVE_COUNT_MAX,
      algorithms: { serverHostKey: hostKeyAlgorithms(pinned.type) },
      authHandler: (_left, _partial, send) => {
        if (keysExchanged) return nextMethod();
        keysExchanged = true;
        sendFirst = send;
        login();
        return undefined;
      },
      ...(agent === undefined ? {} : { agent }),
      hostVerifier: (key: Buffer) => {
        hostKeyChanged = !key.equals(pinned.blob);
        return !hostKeyChanged;
      },
      ...(credential.kind === 'password'
        ? { password: credential.secret.toString('utf8'), tryKeyboard: true }
        : { privateKey: credential.secret }),
    };
    try {
      client.connect(config);
      client.setNoDelay(true);
    } catch {
      // ssh2 throws at once for a private key it cannot parse; its text is not passed on.
      sock.destroy();
      fail(new GatewayRefusal('no-secret', 'the stored private key does not parse'));
      return;
    }
    auditUse().then(() => {
      audited = true;
      login();
    }, fail);
  });
}

/** The type and key blob of an OpenSSH public key line; null when there is none. */
export function parsePinnedKey(line: string): { type: string; blob: Buffer } | null {
  const [type, base64] = line.trim().split(/\s+/);
  if (type === undefined || base64 === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) {
    return null;
  }
  const blob = Buffer.from(base64, 'base64');
  return blob.length > 0 ? { type, blob } : null;
}

/**
 * The login methods tried, in ssh2's own order, for the stored credential alone: a forwarded
 * agent given to the link is never one of them.
 */
function loginMethods(kind: TargetCredential['kind']): AuthenticationType[] {
  return kind === 'password' ? ['none', 'password', 'keyboard-interactive'] : ['none', 'publickey'];
}

/** Offers only the pinned key's algorithm, so the target presents that very key. */
function hostKeyAlgorithms(
  type: string,
): NonNullable<ConnectConfig['algorithms']>['serverHostKey'] {
  const list = type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type];
  return list as NonNullable<NonNullable<ConnectConfig['algorithms']>['serverHostKey']>;
}

function shortReason(error: Error & { code?: string }): string {
  return (error.code ?? error.message).slice(0, 120);
}
