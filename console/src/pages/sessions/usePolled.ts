import { useCallback, useEffect, useState } from 'react';
import { useApi } from '../../session.tsx';

export type Polled<T> =
  | { readonly status: 'loading' }
  | { readonly status: 'error'; readonly error: unknown }
  | { readonly status: 'ready'; readonly data: T; readonly refreshError: unknown };

/**
 * Reads an API path now and every `everyMs` after. A refresh keeps the rows shown until the new
 * reply comes, so a live list does not blink; a refresh that fails keeps the last rows and says
 * so in `refreshError`.
 */
export function usePolled<T>(path: string, everyMs: number): Polled<T> & { reload(): void } {
  const api = useApi();
  const [state, setState] = useState<Polled<T>>({ status: 'loading' });
  const [round, setRound] = useState(0);

  useEffect(() => {
    // `round` is read so that the timer and reload() run this again.
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
    const timer = window.setInterval(() => setRound((n) => n + 1), everyMs);
    return () => window.clearInterval(timer);
  }, [everyMs]);

  const reload = useCallback(() => setRound((n) => n + 1), []);
  return { ...state, reload };
}
