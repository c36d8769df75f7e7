/**
 * The console's only way to the server: the public /v1 API, same origin, with the session
 * cookie the browser adds by itself. The CSRF token lives in this closure and nowhere else (no
 * storage, no URL), and goes with every request that may change something.
 */

/** A failure the server explained (`{error:{code,message}}`), or one it could not. */
export class ApiError extends Error {
  readonly status: number;
  /** The server's stable code (src/errors.ts), or NETWORK / HTTP_<status> when it sent none. */
  readonly code: string;
  readonly requestId: string | null;

  constructor(status: number, code: string, message: string, requestId: string | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

export type UnsafeMethod = 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface Api {
  get<T>(path: string, options?: { signal?: AbortSignal }): Promise<T>;
  send<T>(method: UnsafeMethod, path: string, body?: unknown): Promise<T>;
  /** Set from the session reply; cleared at sign-out. */
  setCsrfToken(token: string | null): void;
}

export interface ApiOptions {
  /** Told of every 401: the session ended (expired, revoked, or the user was disabled). */
  onUnauthenticated(error: ApiError): void;
}

const CSRF_HEADER = 'x-tessera-csrf';

export function createApi(options: ApiOptions): Api {
  let csrfToken: string | null = null;

  const request = async <T>(method: string, path: string, init: RequestInit): Promise<T> => {
    const headers = new Headers(init.headers);
    headers.set('accept', 'application/json');
    if (method !== 'GET' && csrfToken !== null) headers.set(CSRF_HEADER, csrfToken);
    let response: Response;
    try {
      response = await fetch(path, { ...init, method, headers, credentials: 'same-origin' });
    } catch (cause) {
      if (cause instanceof DOMException && cause.name === 'AbortError') throw cause;
      throw new ApiError(
        0,
        'NETWORK',
        'Tessera did not answer. Check that the server is running and that you are online.',
      );
    }
    if (response.ok) return (await readBody(response)) as T;
    const error = await errorOf(response);
    if (error.status === 401) {
      // The session is gone, and its CSRF token with it.
      csrfToken = null;
      options.onUnauthenticated(error);
    }
    throw error;
  };

  return {
    get: (path, init = {}) =>
      request('GET', path, init.signal === undefined ? {} : { signal: init.signal }),
    send: (method, path, body) =>
      request(
        method,
        path,
        body === undefined
          ? {}
          : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } },
      ),
    setCsrfToken(token) {
      csrfToken = token;
    },
  };
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  return text === '' ? null : JSON.parse(text);
}

/** The server's error body when it sent one; a plain description of the status otherwise. */
async function errorOf(response: Response): Promise<ApiError> {
  const body: unknown = await response.json().catch(() => null);
  if (isErrorBody(body)) {
    const { code, message, requestId } = body.error;
    return new ApiError(response.status, code, message, requestId ?? null);
  }
  const message =
    response.status >= 500
      ? `Tessera answered ${response.status}: the server or a proxy in front of it failed.`
      : `Tessera refused the request (${response.status}).`;
  return new ApiError(response.status, `HTTP_${response.status}`, message);
}

function isErrorBody(
  body: unknown,
): body is { error: { code: string; message: string; requestId?: string } } {
  if (typeof body !== 'object' || body === null || !('error' in body)) return false;
  const error = (body as { error: unknown }).error;
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'string' &&
    typeof (error as { message?: unknown }).message === 'string'
  );
}
