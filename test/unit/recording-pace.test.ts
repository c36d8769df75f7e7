/**
 * The gateway holds a target's output while the recording catches up, never for long: a bulk
 * transfer gets a whole recording, a stalled disk still cannot stop the session.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRecordingPace, type PaceLimits } from '../../src/gateway/recording-pace.ts';

const LIMITS: PaceLimits = {
  holdAboveBytes: 2000,
  resumeBelowBytes: 1000,
  maxHoldMs: 60,
  pollMs: 1,
};

/** Resolves with the milliseconds until the hold let go. */
function held(hold: (resume: () => void) => void): Promise<number> {
  const started = performance.now();
  return new Promise((resolve) => hold(() => resolve(performance.now() - started)));
}

describe('recording pace', () => {
  it('holds nothing while the recording keeps up', () => {
    const pace = createRecordingPace({ bufferedBytes: 1999 }, LIMITS);
    assert.equal(pace.check(), undefined);
  });

  it('holds output until the recording has caught up, then lets it flow', async () => {
    const recorder = { bufferedBytes: 5000 };
    const pace = createRecordingPace(recorder, LIMITS);
    const hold = pace.check();
    assert.ok(hold !== undefined);
    const released = held(hold);
    await sleep(10);
    recorder.bufferedBytes = 999;
    const ms = await released;
    assert.ok(ms >= 10 && ms < LIMITS.maxHoldMs, `${ms} ms`);
    assert.equal(pace.check(), undefined);
  });

  it('lets output go after the longest hold, then leaves the recorder to drop until it catches up', async () => {
    const recorder = { bufferedBytes: 5000 };
    const pace = createRecordingPace(recorder, LIMITS);
    const hold = pace.check();
    assert.ok(hold !== undefined);
    const ms = await held(hold);
    assert.ok(ms >= LIMITS.maxHoldMs, `${ms} ms`);
    // A stalled disk: no more holds, however full, so the session goes on (the recorder drops).
    assert.equal(pace.check(), undefined);
    recorder.bufferedBytes = 1500;
    assert.equal(pace.check(), undefined);
    // Caught up on its own: pacing is back.
    recorder.bufferedBytes = 500;
    assert.equal(pace.check(), undefined);
    recorder.bufferedBytes = 3000;
    assert.ok(pace.check() !== undefined);
  });
});
