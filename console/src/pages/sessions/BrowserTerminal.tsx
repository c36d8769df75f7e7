import { FitAddon } from '@xterm/addon-fit';
import { type RefObject, useEffect, useRef } from 'react';
import { terminalSocketUrl } from './paths.ts';
import { ScreenReaderToggle } from './ScreenReaderToggle.tsx';
import { linkTerminal, type TerminalLink } from './terminalLink.ts';
import type { LinkState } from './types.ts';
import { useXterm } from './useXterm.ts';

/**
 * A terminal that fills its box, joined to the gateway through /v1/terminal as the signed-in
 * user. It follows the window's size and tells the gateway each new size. Ctrl+Shift+E hands
 * the keyboard back to the page, since every other key belongs to the remote shell.
 */
export function BrowserTerminal({
  target,
  account,
  onState,
  link,
  onLeave,
}: {
  readonly target: string;
  readonly account: string;
  readonly onState: (state: LinkState) => void;
  /** Set while the terminal is joined, so the page's buttons can end it. */
  readonly link: RefObject<TerminalLink | null>;
  /** Where the keyboard goes on Ctrl+Shift+E. */
  readonly onLeave: () => void;
}) {
  const host = useRef<HTMLDivElement>(null);
  const term = useXterm(host, { cursorBlink: true });
  // Read when called, so a new callback from the page does not reconnect the terminal.
  const report = useRef(onState);
  report.current = onState;
  const leave = useRef(onLeave);
  leave.current = onLeave;

  useEffect(() => {
    const element = host.current;
    if (term === null || element === null) return;
    const fit = new FitAddon();
    term.loadAddon(fit);
    fit.fit();

    // Once this terminal is gone, its socket's last words are no longer the page's news.
    let current = true;
    report.current({ phase: 'connecting' });
    const joined = linkTerminal(
      term,
      terminalSocketUrl(target, account, term.cols, term.rows),
      (s) => {
        if (current) report.current(s);
      },
    );
    link.current = joined;
    const resized = term.onResize(({ cols, rows }) => joined.resize(cols, rows));

    let frame = 0;
    const observer = new ResizeObserver(() => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => fit.fit());
    });
    observer.observe(element);

    term.attachCustomKeyEventHandler((event) => {
      const leaving = event.ctrlKey && event.shiftKey && event.code === 'KeyE';
      if (leaving && event.type === 'keydown') leave.current();
      return !leaving;
    });
    term.focus();

    return () => {
      current = false;
      observer.disconnect();
      cancelAnimationFrame(frame);
      resized.dispose();
      joined.close();
      link.current = null;
      fit.dispose();
    };
  }, [term, target, account, link]);

  return (
    <>
      <div ref={host} className="sess-terminal sess-terminal-fill" />
      <ScreenReaderToggle term={term} id="connect-screen-reader" />
    </>
  );
}
