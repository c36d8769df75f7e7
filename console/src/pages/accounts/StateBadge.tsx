import type { Tone } from './rotationState.ts';

const MARK: Readonly<Record<Tone, string>> = {
  ok: '✓',
  warn: '!',
  bad: '✕',
  info: '↻',
  neutral: '–',
};

/**
 * A state shown three ways at once: a colour, a mark that survives without colour, and words,
 * which are what a screen reader says.
 */
export function StateBadge({ tone, label }: { readonly tone: Tone; readonly label: string }) {
  return (
    <span className={`acct-badge acct-badge-${tone}`}>
      <span className="acct-badge-mark" aria-hidden="true">
        {MARK[tone]}
      </span>
      {label}
    </span>
  );
}
