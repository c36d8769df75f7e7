import { useCallback, useEffect, useState } from 'react';
import { useApi } from '../../session.tsx';
import type { Resource } from '../../useResource.ts';

/**
 * Like useResource, but a reload after a change keeps showing the data it has until the new
 * reply arrives: the forms below it, and the server's answer they show, stay on screen.
 */
export function useKeptResource<T>(path: string): Resource<T> & { reload(): void } {
  const api = useApi();
  const [state, setState] = useState<Resource<T>>({ status: 'loading' });
  const [round, setRound] = useState(0);
  const [shownPath, setShownPath] = useState(path);

  // A new path is another resource: its first load shows as loading.
  if (shownPath !== path) {
    setShownPath(path);
    setState({ status: 'loading' });
  }

  useEffect(() => {
    // `round` is read so that reload() runs this again.
    void round;
    const controller = new AbortController();
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
