import { useCallback, useEffect, useRef, useState } from 'react';

export type ActionState<T> =
  | { readonly status: 'idle' }
  | { readonly status: 'running' }
  | { readonly status: 'done'; readonly result: T }
  | { readonly status: 'failed'; readonly error: unknown };

/**
 * One button's work: running, then its result or its error, until reset. A second start while
 * one runs is ignored, so a double click sends one request. A reply that comes after the screen
 * is gone is dropped.
 */
export function useAction<A extends unknown[], T>(
  run: (...args: A) => Promise<T>,
): { state: ActionState<T>; start(...args: A): void; reset(): void } {
  const [state, setState] = useState<ActionState<T>>({ status: 'idle' });
  const running = useRef(false);
  const mounted = useRef(true);
  const latest = useRef(run);
  latest.current = run;

  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  const start = useCallback((...args: A) => {
    if (running.current) return;
    running.current = true;
    setState({ status: 'running' });
    latest.current(...args).then(
      (result) => {
        running.current = false;
        if (mounted.current) setState({ status: 'done', result });
      },
      (error: unknown) => {
        running.current = false;
        if (mounted.current) setState({ status: 'failed', error });
      },
    );
  }, []);

  const reset = useCallback(() => setState({ status: 'idle' }), []);
  return { state, start, reset };
}
