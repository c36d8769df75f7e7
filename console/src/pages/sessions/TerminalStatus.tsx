import type { LinkState } from './types.ts';

/**
 * The one line that says where a terminal stands: connecting, connected (or watching), or
 * ended and why. A live region, so a screen reader hears the change without moving focus.
 */
export function TerminalStatus({
  state,
  connecting,
  open,
}: {
  readonly state: LinkState;
  /** "Connecting to root@web01…" */
  readonly connecting: string;
  /** "Connected to root@web01." */
  readonly open: string;
}) {
  return (
    <p className={`sess-status sess-status-${state.phase}`} role="status">
      {state.phase === 'connecting' && <span className="spinner" aria-hidden="true" />}
      <span className="sess-status-dot" aria-hidden="true" />
      {state.phase === 'connecting' && connecting}
      {state.phase === 'open' && open}
      {state.phase === 'ended' && (
        <>
          <strong>Ended:</strong> {state.reason}
        </>
      )}
    </p>
  );
}
