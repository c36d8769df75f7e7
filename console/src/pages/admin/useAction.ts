import { useCallback, useEffect, useRef, useState } from 'react';

export type ActionState =
  | { readonly status: 'idle' }
  | { readonly status: 'busy'; readonly doing: string }
  | { readonly status: 'done'; readonly said: string; readonly reply: unknown }
  | { readonly status: 'failed'; readonly doing: string; readonly error: unknown };

export interface Action {
  readonly state: ActionState;
  readonly busy: boolean;
  /**
   * Runs one change. `doing` names it for an error ("add bob to ops"); `said` turns the server's
   * reply into the sentence shown. Resolves true when the server accepted it.
   */
  run<T>(doing: string, call: () => Promise<T>, said: (reply: T) => string): Promise<boolean>;
  reset(): void;
}

/**
 * One change at a time on a form or a list, and the server's answer to the last one: what it
 * accepted (and its reply), or its refusal with the code. An answer that arrives after the
 * screen is gone is dropped.
 */
export function useAction(): Action {
  const [state, setState] = useState<ActionState>({ status: 'idle' });
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  const run = useCallback(
    async <T>(doing: string, call: () => Promise<T>, said: (reply: T) => string) => {
      setState({ status: 'busy', doing });
      try {
        const reply = await call();
        if (mounted.current) setState({ status: 'done', said: said(reply), reply });
        return true;
      } catch (error) {
        if (mounted.current) setState({ status: 'failed', doing, error });
        return false;
      }
    },
    [],
  );
  const reset = useCallback(() => setState({ status: 'idle' }), []);
  return { state, busy: state.status === 'busy', run, reset };
}
