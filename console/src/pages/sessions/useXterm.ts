import { type ITerminalOptions, Terminal } from '@xterm/xterm';
import { type RefObject, useEffect, useState } from 'react';
import '@xterm/xterm/css/xterm.css';
import { adoptXtermStyles } from './xtermStyles.ts';

/** The console's terminal look: light text on a dark ground, in the system's monospace font. */
export const TERMINAL_OPTIONS: ITerminalOptions = {
  fontFamily: 'ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace',
  fontSize: 14,
  scrollback: 5000,
  theme: {
    background: '#10151c',
    foreground: '#e4e8ee',
    cursor: '#f0b429',
    cursorAccent: '#10151c',
    selectionBackground: '#3d5a80',
  },
};

/**
 * An xterm terminal opened in `host` for as long as the component is shown; null until then.
 * `options` are read once, when the terminal is made.
 */
export function useXterm(
  host: RefObject<HTMLDivElement | null>,
  options: ITerminalOptions,
): Terminal | null {
  const [terminal, setTerminal] = useState<Terminal | null>(null);

  // biome-ignore lint/correctness/useExhaustiveDependencies: options are read once, at creation.
  useEffect(() => {
    const element = host.current;
    if (element === null) return;
    const term = new Terminal({ ...TERMINAL_OPTIONS, ...options });
    term.open(element);
    const screen = element.querySelector<HTMLElement>('.xterm-screen');
    const release = screen === null ? () => undefined : adoptXtermStyles(screen);
    setTerminal(term);
    return () => {
      setTerminal(null);
      release();
      term.dispose();
    };
  }, [host]);

  return terminal;
}
