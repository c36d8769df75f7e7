import type { Terminal } from '@xterm/xterm';
import { useState } from 'react';

/** xterm's screen reader mode: the terminal's lines in an accessible tree, read as they come. */
export function ScreenReaderToggle({
  term,
  id,
}: {
  readonly term: Terminal | null;
  readonly id: string;
}) {
  const [on, setOn] = useState(false);
  const toggle = (checked: boolean) => {
    setOn(checked);
    if (term !== null) term.options.screenReaderMode = checked;
  };
  return (
    <div className="sess-check">
      <input
        id={id}
        type="checkbox"
        checked={on}
        disabled={term === null}
        onChange={(e) => toggle(e.target.checked)}
      />
      <label htmlFor={id}>Screen reader mode</label>
    </div>
  );
}
