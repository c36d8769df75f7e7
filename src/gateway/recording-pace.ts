import type { Recorder } from '../sessions/recorder.ts';
import { FRAME_TEXT_BYTES } from '../sessions/recording-format.ts';
import type { SessionPolicy } from './session-policy.ts';

/**
 * Holds a target's output back, briefly, while the session's recording catches up. A bulk
 * transfer can outrun compression on a busy machine; dropping part of its recording (with a
 * marker) is the recorder's last resort, not the first. The hold is bounded: if the recording
 * has not caught up within `maxHoldMs`, output flows again and the recorder drops what it cannot
 * take, so a stalled disk never stops a session. Pacing then waits until the recording has
 * caught up on its own.
 */
export interface RecordingPace {
  /**
   * After output went to the recorder: nothing when it keeps up, else a function that holds
   * the target's output and calls `resume` once the recording has caught up (or the hold ran
   * out).
   */
  check(): ((resume: () => void) => void) | undefined;
}

export interface PaceLimits {
  /** Recorded bytes waiting past which output is held. */
  readonly holdAboveBytes: number;
  /** Waiting bytes below which held output flows again. */
  readonly resumeBelowBytes: number;
  /** Longest single hold before the recorder is left to drop instead. */
  readonly maxHoldMs: number;
}

type PacedRecorder = Pick<Recorder, 'bufferedBytes' | 'written'>;

/**
 * In frames of the recording (1 MiB each), well inside the gateway recorder's 8 MiB buffer, past
 * which it drops. The recorder compresses two frames at once: a hold begins once a third is
 * full behind them, and ends as soon as one of them is written. The first version held at two
 * frames, looked again every 2 ms and let go only below one; a bulk transfer's output then
 * waited with a core idle, and ran at 0.6 of its speed unrecorded, against 0.7 now
 * (bench/gateway.ts).
 */
export const DEFAULT_PACE: PaceLimits = {
  holdAboveBytes: 3 * FRAME_TEXT_BYTES,
  resumeBelowBytes: 2 * FRAME_TEXT_BYTES,
  maxHoldMs: 250,
};

/**
 * The pace of a session's output: none without a recording, or where the session policy says
 * output never waits for it (the recorder then drops what it cannot take, and says so).
 */
export function recordingPaceFor(
  recorder: PacedRecorder | null,
  policy: Pick<SessionPolicy, 'holdForRecording'>,
  limits: PaceLimits = DEFAULT_PACE,
): RecordingPace | null {
  if (recorder === null || !policy.holdForRecording) return null;
  return createRecordingPace(recorder, limits);
}

export function createRecordingPace(
  recorder: PacedRecorder,
  limits: PaceLimits = DEFAULT_PACE,
): RecordingPace {
  let gaveUp = false;
  return {
    check() {
      const waiting = recorder.bufferedBytes;
      if (gaveUp) {
        if (waiting >= limits.resumeBelowBytes) return undefined;
        gaveUp = false;
      }
      if (waiting < limits.holdAboveBytes) return undefined;
      return (resume) => {
        let held = true;
        const letGo = () => {
          if (!held) return;
          held = false;
          clearTimeout(timer);
          resume();
        };
        const timer = setTimeout(() => {
          gaveUp = true;
          letGo();
        }, limits.maxHoldMs);
        const caughtUp = async () => {
          while (held && recorder.bufferedBytes >= limits.resumeBelowBytes) {
            await recorder.written();
          }
        };
        // Woken by each frame the recorder writes, not by a timer: output flows again at once.
        caughtUp().then(letGo, letGo);
      };
    },
  };
}
