import { ErrorNotice } from '../../components/ErrorNotice.tsx';
import type { ActionState } from './useAction.ts';

/**
 * The server's answer to the last change: what it did, with its reply to open, or its refusal
 * with the code and request id. Announced to screen readers as it arrives.
 */
export function ActionAnswer({ state }: { readonly state: ActionState }) {
  switch (state.status) {
    case 'idle':
      return null;
    case 'busy':
      return (
        <p className="hint" role="status">
          Asking Tessera to {state.doing}…
        </p>
      );
    case 'failed':
      return <ErrorNotice doing={state.doing} error={state.error} />;
    case 'done':
      return (
        <div className="answer" role="status">
          <p>{state.said}</p>
          {state.reply !== null && state.reply !== undefined && (
            <details>
              <summary>The server's reply</summary>
              <pre>{JSON.stringify(state.reply, null, 2)}</pre>
            </details>
          )}
        </div>
      );
  }
}
