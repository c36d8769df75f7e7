import { EmptyState } from '../../components/EmptyState.tsx';
import { formatOffset } from './sessionFormat.ts';
import type { SessionCommand } from './types.ts';

/**
 * The commands run in the session, in order, each a button to its moment in the recording. The
 * last one started before the player's position is marked as the current one.
 */
export function CommandList({
  commands,
  current,
  disabled,
  onJump,
}: {
  readonly commands: readonly SessionCommand[];
  readonly current: number;
  readonly disabled: boolean;
  readonly onJump: (seconds: number) => void;
}) {
  const shown = commands.findLastIndex((c) => c.offsetMs / 1000 <= current + 0.05);

  return (
    <section className="sess-commands" aria-labelledby="commands-title">
      <h2 id="commands-title">Commands</h2>
      {commands.length === 0 ? (
        <EmptyState>
          No command was recorded in this session: nothing was submitted at a prompt.
        </EmptyState>
      ) : (
        <ol className="sess-command-list">
          {commands.map((c, index) => (
            <li key={`${c.offsetMs} ${c.command}`}>
              <button
                type="button"
                className={index === shown ? 'sess-command is-current' : 'sess-command'}
                aria-current={index === shown ? 'step' : undefined}
                disabled={disabled}
                onClick={() => onJump(c.offsetMs / 1000)}
              >
                <span className="sess-command-time">{formatOffset(c.offsetMs / 1000)}</span>
                <code>{c.command}</code>
              </button>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
