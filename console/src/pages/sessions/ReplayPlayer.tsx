import { useRef, useState } from 'react';
import { CommandList } from './CommandList.tsx';
import { formatOffset } from './sessionFormat.ts';
import type { SessionCommand } from './types.ts';
import { useCastPlayer } from './useCastPlayer.ts';

const SPEEDS = [0.5, 1, 1.5, 2, 4, 8] as const;

/**
 * The recording in an asciinema player, with the page's own controls (play and pause, speed,
 * a seek bar, the time) and the commands run, each a button that jumps to its moment.
 */
export function ReplayPlayer({
  cast,
  commands,
}: {
  readonly cast: string;
  readonly commands: readonly SessionCommand[];
}) {
  const host = useRef<HTMLDivElement>(null);
  const [speed, setSpeed] = useState(1);
  const player = useCastPlayer(host, cast, speed);
  const position = `${formatOffset(player.current)} of ${formatOffset(player.duration)}`;

  return (
    <div className="sess-replay">
      <div className="sess-player-column">
        <div ref={host} className="sess-player" />
        {player.failure !== null && (
          <p className="state state-error" role="alert">
            {player.failure}
          </p>
        )}
        <fieldset className="sess-controls">
          <legend className="visually-hidden">Playback</legend>
          <button
            type="button"
            disabled={!player.ready}
            onClick={player.playing ? player.pause : player.play}
          >
            {player.playing ? 'Pause' : 'Play'}
          </button>
          <div className="sess-seek">
            <label htmlFor="replay-position">Position</label>
            <input
              id="replay-position"
              type="range"
              min={0}
              max={Math.max(player.duration, 0.1)}
              step={0.1}
              value={Math.min(player.current, player.duration)}
              aria-valuetext={position}
              disabled={!player.ready}
              onChange={(e) => player.seek(Number(e.target.value))}
            />
            <output htmlFor="replay-position" className="sess-time">
              {position}
            </output>
          </div>
          <div className="sess-speed">
            <label htmlFor="replay-speed">Speed</label>
            <select
              id="replay-speed"
              value={speed}
              onChange={(e) => setSpeed(Number(e.target.value))}
            >
              {SPEEDS.map((s) => (
                <option key={s} value={s}>
                  {s}×
                </option>
              ))}
            </select>
          </div>
        </fieldset>
      </div>
      <CommandList
        commands={commands}
        current={player.current}
        disabled={!player.ready}
        onJump={player.seek}
      />
    </div>
  );
}
