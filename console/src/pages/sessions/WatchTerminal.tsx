import { useEffect, useRef } from 'react';
import { watchSocketUrl } from './paths.ts';
import { ScreenReaderToggle } from './ScreenReaderToggle.tsx';
import type { LinkState, WatchMessage } from './types.ts';
import { useXterm } from './useXterm.ts';
import { watchInto } from './watchLink.ts';

/**
 * A live session drawn at its own size, read-only: the terminal takes no input, and nothing
 * typed here goes anywhere. A session wider than the window scrolls inside its box.
 */
export function WatchTerminal({
  id,
  onState,
  onHello,
}: {
  readonly id: string;
  readonly onState: (state: LinkState) => void;
  readonly onHello: (hello: Extract<WatchMessage, { type: 'hello' }>) => void;
}) {
  const host = useRef<HTMLDivElement>(null);
  const term = useXterm(host, { disableStdin: true, cursorBlink: false, scrollback: 1000 });
  const handlers = useRef({ onState, onHello });
  handlers.current = { onState, onHello };

  useEffect(() => {
    if (term === null) return;
    // No key is the terminal's: Tab and the rest keep their usual meaning on the page.
    term.attachCustomKeyEventHandler(() => false);
    let current = true;
    handlers.current.onState({ phase: 'connecting' });
    const stop = watchInto(term, watchSocketUrl(id), {
      onState: (s) => current && handlers.current.onState(s),
      onHello: (h) => current && handlers.current.onHello(h),
    });
    return () => {
      current = false;
      stop();
    };
  }, [term, id]);

  return (
    <>
      <section className="sess-terminal-scroll" aria-label="The session's screen, read-only">
        <div ref={host} className="sess-terminal sess-terminal-watch" />
      </section>
      <ScreenReaderToggle term={term} id="watch-screen-reader" />
    </>
  );
}
