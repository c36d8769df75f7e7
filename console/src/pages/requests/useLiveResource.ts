import { useCallback, useEffect, useState } from 'react';
import { useApi } from '../../session.tsx';

export type LiveResource<T> =
  | { readonly status: 'loading' }
  | { readonly status: 'error'; readonly error: unknown }
  | { readonly status: 'ready'; readonly data: T; readonly refreshError: unknown };

/**
 * Reads one API path like useResource, but a reload keeps what is shown until the new reply
 * arrives: a list that refreshes after each approval, or every `everyMs`, does not blink back
 * to "Loading". A refresh that fails keeps the last data and says so in `refreshError`.
 */
export function useLiveResource<T>(
  path: string | null,
  everyMs: number | null = null,
): LiveResource<T> & { reload(): void } {
  const api = useApi();
  const [state, setState] = useState<LiveResource<T>>({ status: 'loading' });
  const [round, setRound] = useState(0);

  // A new path is a new list: show loading rather than the old path's rows.
  useEffect(() => {
    if (path !== null) setState({ status: 'loading' });
  }, [path]);

  useEffect(() => {
    if (path === null) return;
    // `round` is read so that reload() runs this again.
    void round;
    const controller = new AbortController();
    api.get<T>(path, { signal: controller.signal }).then(
      (data) => setState({ status: 'ready', data, refreshError: null }),
      (error: unknown) => {
        if (controller.signal.aborted) return;
        setState((before) =>
          before.status === 'ready'
            ? { ...before, refreshError: error }
            : { status: 'error', error },
        );
      },
    );
    return () => controller.abort();
  }, [api, path, round]);

  useEffect(() => {
    if (everyMs === null || path === null) return;
    const timer = window.setInterval(() => setRound((n) => n + 1), everyMs);
    return () => window.clearInterval(timer);
  }, [everyMs, path]);

  const reload = useCallback(() => setRound((n) => n + 1), []);
  return { ...state, reload };
}
