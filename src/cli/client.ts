import { CliError, usageError } from './cli-error.ts';

export const DEFAULT_ADDR = 'http://127.0.0.1:7200';
/** Every call gets an answer or an error within this time... */
export const REQUEST_TIMEOUT_MS = 15_000;
/** ...except a rotation, which changes and verifies a password on a remote system. */
export const ROTATE_TIMEOUT_MS = 60_000;

/** The characters the server accepts in a bearer token; anything else never leaves the CLI. */
const TOKEN_PATTERN = /^[A-Za-z0-9_\-.~+/=]{1,256}$/;

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
type Query = Readonly<Record<string, string | number | undefined>>;

export interface RequestOptions {
  readonly body?: unknown;
  readonly query?: Query;
  readonly timeoutMs?: number;
  /** Sends no token: for routes anyone may call, so a stale token cannot get in the way. */
  readonly anonymous?: boolean;
}

/** A thin JSON client of the Tessera API. Errors come back as CliError with the API's code. */
export interface ApiClient {
  readonly addr: string;
  /** Resolves with the parsed JSON reply, or null for a reply without a body (204). */
  request<T>(method: Method, path: string, options?: RequestOptions): Promise<T>;
}

interface ErrorBody {
  readonly error?: {
    readonly code?: unknown;
    readonly message?: unknown;
    readonly requestId?: unknown;
    readonly details?: unknown;
  };
}

export function createApiClient(input: { addr: string; token: string | undefined }): ApiClient {
  const addr = parseAddress(input.addr);
  const token = input.token === undefined || input.token === '' ? undefined : input.token;
  // Checked before any request: fetch would quote a malformed header value, token and all.
  if (token !== undefined && !TOKEN_PATTERN.test(token)) {
    throw usageError('TESSERA_TOKEN is malformed: set it to the token printed by tessera login');
  }

  return {
    addr,
    async request<T>(method: Method, path: string, options: RequestOptions = {}): Promise<T> {
      const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
      const headers: Record<string, string> = { accept: 'application/json' };
      if (options.body !== undefined) headers['content-type'] = 'application/json';
      if (token !== undefined && options.anonymous !== true) {
        headers.authorization = `Bearer ${token}`;
      }

      const response = await send(addr, urlOf(addr, path, options.query), timeoutMs, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
      const text = await readBody(addr, response, timeoutMs);
      const parsed = parseJson(text, addr, response.status);
      if (!response.ok) throw apiError(parsed, response.status, token === undefined);
      return parsed as T;
    },
  };
}

/** Accepts `http(s)://host[:port][/prefix]`; refuses user info, which fetch would refuse anyway. */
export function parseAddress(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usageError('the Tessera address must be a URL such as http://127.0.0.1:7200');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw usageError('the Tessera address must start with http:// or https://');
  }
  if (url.username !== '' || url.password !== '') {
    throw usageError('the Tessera address must not carry a user name or password');
  }
  if (url.search !== '' || url.hash !== '') {
    throw usageError('the Tessera address must not carry a query or fragment');
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function urlOf(addr: string, path: string, query: Query | undefined): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined) params.set(key, String(value));
  }
  const search = params.size === 0 ? '' : `?${params.toString()}`;
  return `${addr}${path}${search}`;
}

async function send(addr: string, url: string, timeoutMs: number, init: RequestInit) {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  } catch (error) {
    throw transportError(addr, timeoutMs, error);
  }
}

async function readBody(addr: string, response: Response, timeoutMs: number): Promise<string> {
  try {
    return await response.text();
  } catch (error) {
    throw transportError(addr, timeoutMs, error);
  }
}

function parseJson(text: string, addr: string, status: number): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CliError(
      'BAD_RESPONSE',
      `${addr} answered HTTP ${status} without JSON: is it Tessera?`,
    );
  }
}

/** Turns the API's error body into a CliError with the same code, message and details. */
function apiError(parsed: unknown, status: number, tokenMissing: boolean): CliError {
  const body = (parsed ?? {}) as ErrorBody;
  const code = typeof body.error?.code === 'string' ? body.error.code : `HTTP_${status}`;
  let message = typeof body.error?.message === 'string' ? body.error.message : `HTTP ${status}`;
  if (code === 'UNAUTHENTICATED' && tokenMissing) {
    message += ' (TESSERA_TOKEN is not set: run tessera login)';
  }
  const details = isRecord(body.error?.details) ? body.error.details : undefined;
  const requestId = typeof body.error?.requestId === 'string' ? body.error.requestId : undefined;
  return new CliError(code, message, {
    ...(details === undefined ? {} : { details }),
    ...(requestId === undefined ? {} : { requestId }),
  });
}

/** Network failures name the address and the system's error code, never the request. */
function transportError(addr: string, timeoutMs: number, error: unknown): CliError {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return new CliError('TIMEOUT', `no answer from Tessera at ${addr} within ${timeoutMs / 1000}s`);
  }
  const code = systemCode(error);
  const suffix = code === undefined ? '' : ` (${code})`;
  return new CliError('UNREACHABLE', `cannot reach Tessera at ${addr}${suffix}`);
}

/** Digs the errno code (ECONNREFUSED, ENOTFOUND...) out of fetch's nested causes. */
function systemCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; isRecord(current) && depth < 4; depth += 1) {
    if (typeof current.code === 'string' && /^E[A-Z]+$/.test(current.code)) return current.code;
    const nested = Array.isArray(current.errors) ? (current.errors[0] as unknown) : undefined;
    current = current.cause ?? nested;
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
