import { ApiError } from '../../api.ts';
import { sessionApi } from './paths.ts';

/**
 * The session's recording as asciicast v2 text. The console's API client reads JSON only, so
 * this reads the text itself, the same way: same origin, the session cookie, and the server's
 * `{error}` body turned into an ApiError with its code.
 */
export async function fetchRecording(id: string, signal: AbortSignal): Promise<string> {
  let response: Response;
  try {
    response = await fetch(sessionApi(id, '/recording'), {
      credentials: 'same-origin',
      headers: { accept: 'application/x-asciicast, application/json' },
      signal,
    });
  } catch (cause) {
    if (cause instanceof DOMException && cause.name === 'AbortError') throw cause;
    throw new ApiError(0, 'NETWORK', 'Tessera did not answer while the recording was loading.');
  }
  if (response.ok) return response.text();
  const body = (await response.json().catch(() => null)) as {
    error?: { code?: unknown; message?: unknown; requestId?: unknown };
  } | null;
  const error = body?.error;
  if (typeof error?.code === 'string' && typeof error.message === 'string') {
    const requestId = typeof error.requestId === 'string' ? error.requestId : null;
    throw new ApiError(response.status, error.code, error.message, requestId);
  }
  throw new ApiError(
    response.status,
    `HTTP_${response.status}`,
    `Tessera answered ${response.status} for the recording.`,
  );
}
