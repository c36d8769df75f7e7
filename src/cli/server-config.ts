import { isIPv4, isIPv6 } from 'node:net';
import path from 'node:path';
import type { GatewayConfig } from '../gateway/gateway.ts';
import type { ServerConfig } from '../server.ts';
import { usageError } from './cli-error.ts';

/** The flags of `tessera server`, as commander hands them over. */
export interface ServerFlags {
  readonly dev?: boolean;
  readonly dataDir: string;
  readonly listen: string;
  readonly databaseUrl?: string;
  readonly devRootToken?: string;
  /** The SSH gateway's address, or `off`. */
  readonly sshListen?: string;
  readonly sshPasswordLogin?: boolean;
  /** Where other nodes reach this node's API. */
  readonly nodeUrl?: string;
}

export const DEFAULT_DATA_DIR = './.tessera';
export const DEFAULT_LISTEN = '127.0.0.1:7200';
/** Where a dev server's SSH gateway listens unless told otherwise; others need a setting. */
export const DEFAULT_SSH_LISTEN = '127.0.0.1:2222';
const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/;
const SCHEDULER_INTERVAL_MS = 15_000;
const CHECKPOINT_INTERVAL_MS = 1_000;
/** The API's bearer token alphabet; a dev root token outside it could never be sent. */
const TOKEN_PATTERN = /^[A-Za-z0-9_\-.~+/=]+$/;
const MIN_DEV_TOKEN_LENGTH = 16;
const MAX_DEV_TOKEN_LENGTH = 256;
const HOST_NAME =
  /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export interface ParsedServerConfig {
  readonly config: Readonly<ServerConfig>;
  /** Things that work but should not be done, e.g. a secret given as an argument. */
  readonly warnings: readonly string[];
  /** Values never to print, should an error from the server happen to quote them. */
  readonly secrets: readonly string[];
  /** The SSH gateway's settings; null when it stays off. */
  readonly gateway: Readonly<GatewayConfig> | null;
}

/**
 * Builds the server's configuration once, from flags and the environment, and refuses it loudly
 * when wrong. Messages name the setting and never repeat a secret value.
 */
export function parseServerConfig(
  flags: ServerFlags,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): ParsedServerConfig {
  const warnings: string[] = [];
  const databaseUrl = pick(flags.databaseUrl, env.TESSERA_DATABASE_URL, '--database-url', warnings);
  const devRootToken = pick(
    flags.devRootToken,
    env.TESSERA_DEV_ROOT_TOKEN,
    '--dev-root-token',
    warnings,
  );
  const dev = flags.dev === true;

  if (databaseUrl !== null) checkDatabaseUrl(databaseUrl.value, databaseUrl.source);
  if (devRootToken !== null) checkDevRootToken(devRootToken.value, devRootToken.source, dev);
  const { host, port } = parseListen(flags.listen);
  if (flags.dataDir.trim() === '') throw usageError('--data-dir must not be empty');
  const nodeUrlText = flags.nodeUrl ?? (env.TESSERA_NODE_URL || undefined);
  const nodeUrlSource = flags.nodeUrl !== undefined ? '--node-url' : 'TESSERA_NODE_URL';
  const nodeUrl = nodeUrlText === undefined ? null : parseNodeUrl(nodeUrlText, nodeUrlSource);
  // An IPv6 host name keeps its brackets in a URL.
  const nodeHost = nodeUrl === null ? '' : new URL(nodeUrl).hostname.replace(/^\[(.*)\]$/, '$1');
  if (nodeUrl?.startsWith('http:') === true && !LOOPBACK.test(nodeHost)) {
    warnings.push(
      `${nodeUrlSource} is plain http: watches and recordings passed between nodes, and their ` +
        'tickets, cross the network unencrypted; prefer https (a TLS proxy in front of each node)',
    );
  }

  const config: ServerConfig = {
    dataDir: path.resolve(cwd, flags.dataDir),
    host,
    port,
    databaseUrl: databaseUrl?.value ?? null,
    dev,
    devRootToken: devRootToken?.value ?? null,
    schedulerIntervalMs: SCHEDULER_INTERVAL_MS,
    checkpointIntervalMs: CHECKPOINT_INTERVAL_MS,
    ...(nodeUrl === null ? {} : { nodeUrl }),
  };
  const secrets = [databaseUrl?.value, ...passwordsOf(databaseUrl?.value), devRootToken?.value];
  const gateway = parseGatewayConfig(flags, env, dev, warnings);
  return {
    config: Object.freeze(config),
    gateway,
    warnings,
    secrets: secrets.filter((s): s is string => s !== undefined && s !== ''),
  };
}

/** `host:port` or `[ipv6]:port`; port 0 asks the system for a free port. */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  const host = match?.[1] ?? '';
  const port = Number(match?.[2] ?? Number.NaN);
  const bracketed = text.startsWith('[');
  const hostValid = bracketed ? isIPv6(host) : isIPv4(host) || HOST_NAME.test(host);
  if (match === null || !hostValid || !(port >= 0 && port <= 65_535)) {
    throw usageError(
      '--listen must be HOST:PORT or [IPv6]:PORT, e.g. 127.0.0.1:7200 or [::1]:7200',
    );
  }
  return { host, port };
}

/**
 * Where the other nodes reach this node's API: an http or https origin, nothing after it. The
 * nodes pass watches to each other there, so it names no user and carries no secret.
 */
export function parseNodeUrl(text: string, source: string): string {
  let url: URL | null = null;
  try {
    url = new URL(text);
  } catch {
    // Answered below, in words that name the setting.
  }
  const plain =
    url !== null &&
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    url.username === '' &&
    url.password === '' &&
    url.pathname === '/' &&
    url.search === '' &&
    url.hash === '';
  if (url === null || !plain) {
    throw usageError(
      `${source} must be the http:// or https:// address other nodes reach this one at, ` +
        'with nothing after the port, e.g. http://10.0.0.5:7200',
    );
  }
  return url.origin;
}

/**
 * The SSH gateway: `--ssh-listen`, else TESSERA_SSH_LISTEN, else on at 127.0.0.1:2222 in dev
 * mode and off otherwise. `off` turns it off.
 */
function parseGatewayConfig(
  flags: ServerFlags,
  env: Readonly<Record<string, string | undefined>>,
  dev: boolean,
  warnings: string[],
): Readonly<GatewayConfig> | null {
  const fromEnv = env.TESSERA_SSH_LISTEN === '' ? undefined : env.TESSERA_SSH_LISTEN;
  const source = flags.sshListen !== undefined ? '--ssh-listen' : 'TESSERA_SSH_LISTEN';
  const text = flags.sshListen ?? fromEnv ?? (dev ? DEFAULT_SSH_LISTEN : 'off');
  const passwordLogin = flags.sshPasswordLogin === true;
  if (text.trim().toLowerCase() === 'off') {
    if (passwordLogin) throw usageError('--ssh-password-login needs the gateway: add --ssh-listen');
    return null;
  }
  let address: { host: string; port: number };
  try {
    address = parseListen(text);
  } catch {
    throw usageError(`${source} must be HOST:PORT, [IPv6]:PORT or off, e.g. 127.0.0.1:2222`);
  }
  if (!LOOPBACK.test(address.host)) {
    warnings.push(`the SSH gateway listens on ${address.host}: other machines can reach it`);
  }
  return Object.freeze({ ...address, passwordLogin });
}

/** A flag wins over the environment, but a secret in a flag is visible to every local user. */
function pick(
  flag: string | undefined,
  fromEnv: string | undefined,
  name: string,
  warnings: string[],
) {
  const envName = `TESSERA_${name.slice(2).replaceAll('-', '_').toUpperCase()}`;
  if (flag !== undefined) {
    warnings.push(`${name} is visible to other users in the process list: prefer ${envName}`);
    return { value: flag, source: name };
  }
  if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: envName };
  return null;
}

function checkDatabaseUrl(value: string, source: string): void {
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {
    // The value itself is not quoted: it may hold a password.
  }
  if (url === null || (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')) {
    throw usageError(`${source} must be a postgres:// or postgresql:// URL`);
  }
}

function checkDevRootToken(value: string, source: string, dev: boolean): void {
  if (!dev) {
    throw usageError(`${source} is only for dev mode: add --dev, or unset it for a real server`);
  }
  const length = value.length;
  if (
    length < MIN_DEV_TOKEN_LENGTH ||
    length > MAX_DEV_TOKEN_LENGTH ||
    !TOKEN_PATTERN.test(value)
  ) {
    const size = `${MIN_DEV_TOKEN_LENGTH} to ${MAX_DEV_TOKEN_LENGTH}`;
    throw usageError(`${source} must be ${size} characters of A-Z a-z 0-9 _ - . ~ + / =`);
  }
}

/** The URL's password as written (percent-encoded) and decoded: either could be quoted. */
function passwordsOf(databaseUrl: string | undefined): string[] {
  if (databaseUrl === undefined) return [];
  try {
    const raw = new URL(databaseUrl).password;
    return [raw, decodeURIComponent(raw)];
  } catch {
    return [];
  }
}
