import { useCallback, useEffect, useState } from 'react';
import { useApi } from '../../session.tsx';

export type Fetched<T> =
  | { readonly status: 'loading' }
  | { readonly status: 'error'; readonly error: unknown }
  | { readonly status: 'ready'; readonly data: T; readonly refreshing: boolean };

/**
 * Reads one API path, like useResource, but a refresh keeps showing what was read until the new
 * reply arrives: after a rotation the account page updates in place instead of flashing a
 * loading line. A null path reads nothing. A reply for an older path, or after the screen is
 * gone, is dropped.
 */
export function useFetched<T>(path: string | null): Fetched<T> & { refresh(): void } {
  const api = useApi();
  const [state, setState] = useState<Fetched<T>>({ status: 'loading' });
  const [round, setRound] = useState(0);
  const [loadedPath, setLoadedPath] = useState(path);

  // Another path is another resource: what was shown for the old one must not stay.
  if (loadedPath !== path) {
    setLoadedPath(path);
    setState({ status: 'loading' });
  }

  useEffect(() => {
    if (path === null) return;
    // `round` is read so that refresh() runs this again.
    void round;
    const controller = new AbortController();
    setState((old) => (old.status === 'ready' ? { ...old, refreshing: true } : old));
    api.get<T>(path, { signal: controller.signal }).then(
      (data) => setState({ status: 'ready', data, refreshing: false }),
      (error: unknown) => {
        if (!controller.signal.aborted) setState({ status: 'error', error });
      },
    );
    return () => controller.abort();
  }, [api, path, round]);

  const refresh = useCallback(() => setRound((n) => n + 1), []);
  return { ...state, refresh };
}
