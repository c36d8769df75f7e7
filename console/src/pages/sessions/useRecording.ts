import { useCallback, useEffect, useState } from 'react';
import type { Resource } from '../../useResource.ts';
import { fetchRecording } from './fetchRecording.ts';

/** The recording's text, with loading and error states like useResource. */
export function useRecording(id: string): Resource<string> & { reload(): void } {
  const [state, setState] = useState<Resource<string>>({ status: 'loading' });
  const [round, setRound] = useState(0);

  useEffect(() => {
    // `round` is read so that reload() runs this again.
    void round;
    const controller = new AbortController();
    setState({ status: 'loading' });
    fetchRecording(id, controller.signal).then(
      (data) => setState({ status: 'ready', data }),
      (error: unknown) => {
        if (!controller.signal.aborted) setState({ status: 'error', error });
      },
    );
    return () => controller.abort();
  }, [id, round]);

  const reload = useCallback(() => setRound((n) => n + 1), []);
  return { ...state, reload };
}
