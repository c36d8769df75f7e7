import { useCallback, useEffect, useState } from 'react';
import { useApi } from './session.tsx';

export type Resource<T> =
  | { readonly status: 'loading' }
  | { readonly status: 'error'; readonly error: unknown }
  | { readonly status: 'ready'; readonly data: T };

/**
 * Reads one API path, with its loading and error states, and a way to read it again. A null
 * path reads nothing (a section the user's role does not show). A reply that arrives after the
 * path changed, or after the screen is gone, is dropped.
 */
export function useResource<T>(path: string | null): Resource<T> & { reload(): void } {
  const api = useApi();
  const [state, setState] = useState<Resource<T>>({ status: 'loading' });
  const [round, setRound] = useState(0);

  useEffect(() => {
    if (path === null) return;
    // `round` is read so that reload() runs this again.
    void round;
    const controller = new AbortController();
    setState({ status: 'loading' });
    api.get<T>(path, { signal: controller.signal }).then(
      (data) => setState({ status: 'ready', data }),
      (error: unknown) => {
        if (!controller.signal.aborted) setState({ status: 'error', error });
      },
    );
    return () => controller.abort();
  }, [api, path, round]);

  const reload = useCallback(() => setRound((n) => n + 1), []);
  return { ...state, reload };
}
