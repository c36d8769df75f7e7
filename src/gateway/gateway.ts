import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import ssh2 from 'ssh2';
import type { GrantService } from '../access/grants.ts';
import type { SafeService } from '../access/safes.ts';
import type { PolicyService } from '../accounts/policies.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { SYSTEM_CONTEXT } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import type { MfaService } from '../identity/mfa.ts';
import { sourceKey } from '../identity/source-key.ts';
import type { UserService } from '../identity/users.ts';
import type { Store } from '../store/store.ts';
import type { Keyring } from '../vault/keyring.ts';
import { lostAccessEnding } from './connect-check.ts';
import { type ConnectionDeps, handleConnection } from './connection.ts';
import { type ConsoleTickets, createConsoleTickets } from './console-tickets.ts';
import { shareReads } from './fair-reads.ts';
import { loadOrCreateHostKey, publicKeyLine } from './host-key.ts';
import { watchKillRequests } from './kill-requests.ts';
import { createLiveConnections, type LiveConnections } from './live-connections.ts';
import { createLiveSessions, type LiveSessions } from './live-sessions.ts';
import { createNodeDirectory, type NodeDirectory } from './node-directory.ts';
import { createRecordings, type Recordings } from './recording.ts';
import { createSessionPolicyService, type SessionPolicyService } from './session-policy.ts';
import { createSessionStore, type SessionStore } from './session-store.ts';
import { createSshKeyService, type SshKeyService } from './user-keys.ts';
import { createWatchTickets, type WatchTickets } from './watch-tickets.ts';

export interface GatewayConfig {
  /** Loopback by default: reaching the gateway from elsewhere is a deliberate setting. */
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** Keyboard-interactive login with the Tessera user name and password, besides keys. */
  readonly passwordLogin: boolean;
  /**
   * How often every live connection's access is checked again (user enabled, key registered,
   * permission, check-out); DEFAULT_RECHECK_INTERVAL_MS when left out.
   */
  readonly recheckIntervalMs?: number;
  /**
   * How long a connection may stay open without any channel when its policy sets no idle
   * timeout; DEFAULT_CONNECTION_IDLE_MS when left out.
   */
  readonly connectionIdleMs?: number;
}

export const DEFAULT_GATEWAY_CONFIG: GatewayConfig = {
  host: '127.0.0.1',
  port: 2222,
  passwordLogin: false,
};
/** Changes made on another node (or straight in the database) reach live connections by then. */
export const DEFAULT_RECHECK_INTERVAL_MS = 10_000;
export const DEFAULT_CONNECTION_IDLE_MS = 15 * 60_000;
export const HOST_KEY_FILE = 'gateway-host-key';
/** How long a stopping gateway waits for its sessions' last records to be written. */
const DRAIN_TIMEOUT_MS = 5_000;
const MAX_CONNECTIONS = 10_000;

/** The gateway's services, which the HTTP routes use as well. */
export interface GatewayServices {
  readonly sshKeys: SshKeyService;
  readonly sessionPolicies: SessionPolicyService;
  readonly sessions: SessionStore;
  readonly liveSessions: LiveSessions;
  /** Authenticated connections, with or without sessions: listed, re-checked, ended. */
  readonly connections: LiveConnections;
  readonly recordings: Recordings;
  /** One-time tickets for the web console's terminal, redeemed by this node's gateway. */
  readonly consoleTickets: ConsoleTickets;
  /** Where this node's gateway listens, once started: the console's terminal connects there. */
  readonly endpoint: { current: GatewayEndpoint | null };
  /** Watches passed on to the node that runs the session, and where each node is reached. */
  readonly watchTickets: WatchTickets;
  readonly nodes: NodeDirectory;
}

export interface GatewayEndpoint {
  readonly host: string;
  readonly port: number;
  /** The gateway's host key as an OpenSSH public key line. */
  readonly hostKey: string;
}

export function createGatewayServices(deps: {
  store: Store;
  audit: AuditLog;
  clock: Clock;
  policies: Pick<PolicyService, 'byName'>;
  keyring: Pick<Keyring, 'keys'>;
  dataDir: string;
  logger: Logger;
}): GatewayServices {
  return {
    sshKeys: createSshKeyService(deps),
    sessionPolicies: createSessionPolicyService(deps),
    sessions: createSessionStore(deps),
    liveSessions: createLiveSessions(),
    consoleTickets: createConsoleTickets(deps),
    endpoint: { current: null },
    watchTickets: createWatchTickets(deps),
    nodes: createNodeDirectory(deps),
    connections: createLiveConnections({
      onRecheckError: (error) =>
        deps.logger.error({ err: error }, 'could not re-check a gateway connection'),
    }),
    recordings: createRecordings(deps),
  };
}

export interface RunningGateway {
  readonly host: string;
  readonly port: number;
  /** The gateway's host key as an OpenSSH public key line, for users' known_hosts. */
  readonly hostKey: string;
  close(): Promise<void>;
}

export type GatewayDeps = Omit<
  ConnectionDeps,
  | 'sessions'
  | 'live'
  | 'recordings'
  | 'keys'
  | 'sessionPolicies'
  | 'passwordLogin'
  | 'connections'
  | 'limits'
  | 'users'
  | 'keyring'
> & {
  readonly gateway: GatewayServices;
  readonly dataDir: string;
  readonly users: Pick<
    UserService,
    'authenticate' | 'findById' | 'onDisabled' | 'onPasswordSet' | 'passwordStamp'
  >;
  readonly safes: Pick<SafeService, 'onMembershipChange'>;
  readonly keyring: Pick<Keyring, 'isSealed' | 'onSeal'>;
  /** A grant that ends (expiry, revocation) ends the sessions it alone allowed, at once. */
  readonly grants: Pick<GrantService, 'onEnded'>;
  /** A confirmed factor ends the password logins made without a code, at once. */
  readonly mfa?: Pick<MfaService, 'hasFactor' | 'verify' | 'onConfirmed'>;
};

/**
 * Starts the SSH gateway: closes sessions a crash left open on this node, then listens. Every
 * error of a connection is that connection's alone; none reaches the process.
 */
export async function startGateway(
  deps: GatewayDeps,
  config: GatewayConfig,
): Promise<RunningGateway> {
  await closeOrphans(deps);
  const hostKey = loadOrCreateHostKey(path.join(deps.dataDir, HOST_KEY_FILE));
  // Sessions ending: a stopping gateway waits for their rows and events before the store closes.
  const pending = new Set<Promise<unknown>>();
  const ending = (work: Promise<unknown>) => {
    pending.add(work);
    void work.finally(() => pending.delete(work)).catch(() => undefined);
  };
  const { connections } = deps.gateway;
  const connectionDeps: ConnectionDeps = {
    ...deps,
    ending,
    sessions: deps.gateway.sessions,
    live: deps.gateway.liveSessions,
    recordings: deps.gateway.recordings,
    keys: deps.gateway.sshKeys,
    sessionPolicies: deps.gateway.sessionPolicies,
    passwordLogin: config.passwordLogin,
    tickets: deps.gateway.consoleTickets,
    connections,
    limits: { idleMs: config.connectionIdleMs ?? DEFAULT_CONNECTION_IDLE_MS },
  };
  const sockets = new Set<() => void>();
  const stopWatching = watchAccess(deps, config.recheckIntervalMs ?? DEFAULT_RECHECK_INTERVAL_MS);
  const accepted = createAcceptedSockets();
  const server = new ssh2.Server({ hostKeys: [hostKey], ident: 'Tessera' }, (client, info) => {
    try {
      const signedIn = () => accepted.signedIn(info.ip, info.port);
      handleConnection(connectionDeps, client, info, sockets, signedIn);
    } catch (error) {
      deps.logger.error({ err: error }, 'gateway connection failed');
      client.end();
    }
  });
  server.maxConnections = MAX_CONNECTIONS;
  // The gateway accepts connections itself and hands them to ssh2: so that a user uploading
  // flat out takes turns with the others (`shareReads`), and so that a socket that never gets
  // as far as signing in is dropped however little it says.
  const listener = net.createServer((socket) => {
    if (!accepted.admit(socket)) return;
    shareReads(socket);
    server.injectSocket(socket);
  });
  listener.maxConnections = MAX_CONNECTIONS;
  listener.on('error', (error: Error) => deps.logger.error({ err: error }, 'gateway server error'));
  listener.listen(config.port, config.host);
  await once(listener, 'listening');
  // Kills asked through other nodes reach this node's sessions until its last connection ends.
  listener.once('close', watchKillRequests(deps));
  const address = listener.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  deps.logger.info({ host: config.host, port }, 'ssh gateway listening');
  if (!nativeCryptoLoaded()) {
    deps.logger.warn(
      "ssh2's native crypto binding is not loaded, so the gateway encrypts in slower " +
        'JavaScript: rebuild it against this Node ' +
        '(npm_config_nodedir="$(scripts/node-headers.sh)" npm rebuild ssh2)',
    );
  }
  deps.gateway.endpoint.current = { host: config.host, port, hostKey: publicKeyLine(hostKey) };

  return {
    host: config.host,
    port,
    hostKey: publicKeyLine(hostKey),
    async close() {
      deps.gateway.endpoint.current = null;
      const closed = new Promise((resolve) => listener.close(resolve));
      stopWatching();
      // Each session tells its user why and closes its connection once they have read it;
      // its ending starts at once. Connections still open after the endings are closed here.
      deps.gateway.liveSessions.killAll('the server is stopping');
      await Promise.race([Promise.allSettled([...pending]), drained()]);
      for (const end of [...sockets]) end();
      // Sockets ssh2 never reported (silent, or still before the version line) end here.
      accepted.destroyUnsigned();
      await Promise.race([Promise.allSettled([closed, ...pending]), drained()]);
      accepted.destroyAll();
      await Promise.allSettled([...pending]);
    },
  };
}

/**
 * Ends connections whose access is gone: every connection on a timer, a user's at once when a
 * change to them, their keys or their safes is made on this node, all of them when the vault is
 * sealed. Returns the function that stops it.
 */
function watchAccess(deps: GatewayDeps, intervalMs: number): () => void {
  const { connections } = deps.gateway;
  let stopped = false;
  let sweeping = false;
  const recheckUser = (userId: string) => {
    if (!stopped) void connections.recheck(userId);
  };
  deps.users.onDisabled(recheckUser);
  deps.users.onPasswordSet(recheckUser);
  deps.safes.onMembershipChange(({ userId }) => recheckUser(userId));
  deps.gateway.sshKeys.onRemoved(({ userId }) => recheckUser(userId));
  deps.mfa?.onConfirmed(recheckUser);
  // First, and awaited: the sessions end with their message before the grant's other endings
  // (an ephemeral account dropped on the target) cut them from the other side.
  deps.grants.onEnded(
    async ({ userId }) => {
      if (!stopped) await connections.recheck(userId);
    },
    { first: true },
  );
  // Recorders and links hold keys of their own: a sealed vault leaves no session running.
  deps.keyring.onSeal(() => {
    if (!stopped) connections.endAll(lostAccessEnding('vault-sealed'));
  });

  const timer = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    void connections.recheck().finally(() => {
      sweeping = false;
    });
  }, intervalMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

/** The longest a stopping gateway waits for one step of its stop. */
const drained = () => delay(DRAIN_TIMEOUT_MS, undefined, { ref: false });

/**
 * Sessions this node left live were cut short by a crash: each is closed as ended abnormally,
 * with the digest of the recording as far as it was written, which still plays.
 */
async function closeOrphans(deps: GatewayDeps): Promise<void> {
  const orphans = await deps.gateway.sessions.orphans(deps.nodeId);
  for (const orphan of orphans) {
    const file =
      orphan.recordingPath === null ? null : deps.gateway.recordings.file(orphan.recordingPath);
    const sha256 =
      file !== null && existsSync(file)
        ? createHash('sha256').update(readFileSync(file)).digest('hex')
        : null;
    const reason = 'tessera stopped during the session';
    await deps.gateway.sessions.end(
      orphan.id,
      {
        endedAt: deps.clock.now(),
        reason,
        state: 'ended_abnormally',
        bytesIn: orphan.bytesIn,
        bytesOut: orphan.bytesOut,
        sha256,
        droppedBytes: orphan.droppedBytes,
      },
      {
        action: 'session.end',
        outcome: 'failure',
        actor: SYSTEM_CONTEXT.actor,
        object: { type: 'session', id: orphan.id, name: `${orphan.target}/${orphan.account}` },
        details: { reason, state: 'ended_abnormally', user: orphan.user, recordingSha256: sha256 },
      },
    );
  }
  if (orphans.length > 0)
    deps.logger.warn({ sessions: orphans.length }, 'closed sessions left live by a crash');
}

/**
 * A socket that has not signed in this long after it was accepted is closed, as OpenSSH's
 * LoginGraceTime: whether or not it ever said a word.
 */
export const LOGIN_GRACE_MS = 30_000;
/** Connections of one source that may be signing in at once, as OpenSSH's MaxStartups. */
export const MAX_SIGNING_IN_PER_SOURCE = 10;

/**
 * The sockets the gateway accepted. One that has not signed in within LOGIN_GRACE_MS of its
 * accept is destroyed, whether or not ssh2 ever heard from it (ssh2 reports a connection only
 * after its version line, so a silent socket would otherwise stay forever). Each source (an
 * IPv4 address, an IPv6 /64) may have MAX_SIGNING_IN_PER_SOURCE sockets signing in at once:
 * every password check takes a turn of the one hashing slot all sign-ins share.
 */
function createAcceptedSockets() {
  const all = new Set<net.Socket>();
  // By the remote address and port ssh2 reports the connection with.
  const signingIn = new Map<string, { socket: net.Socket; settle: () => void }>();
  const perSource = new Map<string, number>();

  return {
    admit(socket: net.Socket): boolean {
      const source = sourceKey(socket.remoteAddress);
      const count = perSource.get(source) ?? 0;
      if (count >= MAX_SIGNING_IN_PER_SOURCE) {
        socket.destroy();
        return false;
      }
      perSource.set(source, count + 1);
      all.add(socket);
      const key = `${socket.remoteAddress}:${socket.remotePort}`;
      const grace = setTimeout(() => socket.destroy(), LOGIN_GRACE_MS);
      grace.unref();
      let settled = false;
      const settle = () => {
        if (settled) return;
        settled = true;
        clearTimeout(grace);
        signingIn.delete(key);
        const left = (perSource.get(source) ?? 1) - 1;
        if (left > 0) perSource.set(source, left);
        else perSource.delete(source);
      };
      signingIn.set(key, { socket, settle });
      socket.once('close', () => {
        settle();
        all.delete(socket);
      });
      return true;
    },
    /** The connection from `ip`:`port` has signed in: its grace and its place are given up. */
    signedIn(ip: string, port: number) {
      signingIn.get(`${ip}:${port}`)?.settle();
    },
    destroyUnsigned() {
      for (const { socket } of signingIn.values()) socket.destroy();
    },
    destroyAll() {
      for (const socket of all) socket.destroy();
    },
  };
}

/**
 * Whether ssh2 found its optional add-on (OpenSSL's AES-GCM and ChaCha20-Poly1305 in C). Without
 * it every packet creates a new cipher in JavaScript, and throughput halves (bench/gateway.ts).
 */
function nativeCryptoLoaded(): boolean {
  const crypto = createRequire(import.meta.url)('ssh2/lib/protocol/crypto.js') as {
    bindingAvailable?: boolean;
  };
  return crypto.bindingAvailable === true;
}
