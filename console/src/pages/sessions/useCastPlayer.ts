import { create, type Player } from 'asciinema-player';
import { type RefObject, useCallback, useEffect, useRef, useState } from 'react';
import 'asciinema-player/dist/bundle/asciinema-player.css';

/** How often the position shown follows the player. */
const TICK_MS = 200;
/** A recording this page has already loaded starts in well under this. */
const START_TIMEOUT_MS = 10_000;
const NOT_STARTED =
  'The player did not start. Reload the page; if it happens again, tell an operator.';
/** The player's terminal emulator is WebAssembly, which the page's policy must allow. */
const WASM_REFUSED =
  'The browser refused to start the player: the page’s security policy allows no WebAssembly ' +
  '(script-src needs wasm-unsafe-eval).';

/**
 * Whether the page's Content-Security-Policy refused to compile WebAssembly. The player starts
 * its emulator when its module loads, before any player is made, so this listens from then on;
 * the player itself reports nothing, it only never starts.
 */
const wasm = { refused: false };
document.addEventListener('securitypolicyviolation', (event) => {
  if (event.blockedURI === 'wasm-eval') wasm.refused = true;
});

export interface CastPlayer {
  readonly ready: boolean;
  readonly playing: boolean;
  /** Seconds from the start. */
  readonly current: number;
  readonly duration: number;
  readonly failure: string | null;
  play(): void;
  pause(): void;
  seek(seconds: number): void;
}

/**
 * An asciinema player for `cast` in `host`, without its own controls (the page draws labelled
 * ones). The player takes its speed when made, so a new speed makes a new player at the same
 * moment, still playing if it was.
 */
export function useCastPlayer(
  host: RefObject<HTMLDivElement | null>,
  cast: string,
  speed: number,
): CastPlayer {
  const [player, setPlayer] = useState<Player | null>(null);
  const [playing, setPlaying] = useState(false);
  const [current, setCurrent] = useState(0);
  const [duration, setDuration] = useState<number | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const resume = useRef({ at: 0, playing: false });

  useEffect(() => {
    const element = host.current;
    if (element === null) return;
    const made = create({ data: cast }, element, {
      speed,
      startAt: resume.current.at,
      preload: true,
      controls: false,
      fit: 'width',
      terminalFontFamily: 'ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace',
    });
    let isPlaying = false;
    const playingNow = (value: boolean) => {
      isPlaying = value;
      setPlaying(value);
    };
    made.addEventListener('play', () => playingNow(true));
    made.addEventListener('playing', () => playingNow(true));
    made.addEventListener('pause', () => playingNow(false));
    made.addEventListener('ended', () => playingNow(false));
    if (resume.current.playing) void made.play();
    setPlayer(made);

    const madeAt = Date.now();
    const tick = window.setInterval(() => {
      const length = made.getDuration() ?? null;
      setCurrent(made.getCurrentTime());
      setDuration(length);
      if (length !== null) return;
      if (wasm.refused) setFailure(WASM_REFUSED);
      else if (Date.now() - madeAt > START_TIMEOUT_MS) setFailure(NOT_STARTED);
    }, TICK_MS);

    return () => {
      window.clearInterval(tick);
      resume.current = { at: made.getCurrentTime(), playing: isPlaying };
      setPlayer(null);
      made.dispose();
    };
  }, [host, cast, speed]);

  const seek = useCallback(
    (seconds: number) => {
      if (player === null) return;
      setCurrent(seconds);
      void player.seek(seconds).then(() => setCurrent(player.getCurrentTime()));
    },
    [player],
  );

  return {
    ready: player !== null && duration !== null,
    playing,
    current,
    duration: duration ?? 0,
    failure,
    play: () => void player?.play(),
    pause: () => void player?.pause(),
    seek,
  };
}
