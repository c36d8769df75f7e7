import type { Recorder } from '../sessions/recorder.ts';
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
  readonly pollMs: number;
}

/** Well inside the gateway recorder's 8 MiB buffer, past which it drops. */
export const DEFAULT_PACE: PaceLimits = {
  holdAboveBytes: 2 * 1024 * 1024,
  resumeBelowBytes: 1024 * 1024,
  maxHoldMs: 250,
  pollMs: 2,
};

/**
 * The pace of a session's output: none without a recording, or where the session policy says
 * output never waits for it (the recorder then drops what it cannot take, and says so).
 */
export function recordingPaceFor(
  recorder: Pick<Recorder, 'bufferedBytes'> | null,
  policy: Pick<SessionPolicy, 'holdForRecording'>,
  limits: PaceLimits = DEFAULT_PACE,
): RecordingPace | null {
  if (recorder === null || !policy.holdForRecording) return null;
  return createRecordingPace(recorder, limits);
}

export function createRecordingPace(
  recorder: Pick<Recorder, 'bufferedBytes'>,
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
        const started = performance.now();
        const poll = () => {
          if (recorder.bufferedBytes < limits.resumeBelowBytes) return resume();
          if (performance.now() - started >= limits.maxHoldMs) {
            gaveUp = true;
            return resume();
          }
          setTimeout(poll, limits.pollMs);
        };
        setTimeout(poll, limits.pollMs);
      };
    },
  };
}
