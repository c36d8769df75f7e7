/**
 * The gateway holds a target's output while the recording catches up, never for long: a bulk
 * transfer gets a whole recording, a stalled disk still cannot stop the session.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createRecordingPace,
  type PaceLimits,
  recordingPaceFor,
} from '../../src/gateway/recording-pace.ts';

const LIMITS: PaceLimits = {
  holdAboveBytes: 2000,
  resumeBelowBytes: 1000,
  // Far longer than any test waits: only the test that wants the hold to run out shortens it.
  maxHoldMs: 10_000,
};

/** A recorder whose writes the test makes: `wrote(left)` writes all but `left` bytes. */
function fakeRecorder(bufferedBytes: number) {
  let next = Promise.withResolvers<void>();
  return {
    bufferedBytes,
    written: () => next.promise,
    wrote(left: number) {
      this.bufferedBytes = left;
      next.resolve();
      next = Promise.withResolvers<void>();
    },
  };
}

/** Lets every promise settle and every callback already due run, but no timer. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

/** Starts the hold; `resumed` says whether it let go yet, `released` when it does. */
function start(hold: (resume: () => void) => void) {
  const state = { resumed: false, released: Promise.resolve() };
  state.released = new Promise((resolve) =>
    hold(() => {
      state.resumed = true;
      resolve();
    }),
  );
  return state;
}

describe('recording pace', () => {
  it('holds nothing while the recording keeps up', () => {
    const pace = createRecordingPace(fakeRecorder(1999), LIMITS);
    assert.equal(pace.check(), undefined);
  });

  it('holds output until the recording has caught up, then lets it flow at once', async () => {
    const recorder = fakeRecorder(5000);
    const pace = createRecordingPace(recorder, LIMITS);
    const hold = pace.check();
    assert.ok(hold !== undefined);
    const held = start(hold);
    await sleep(10);
    assert.equal(held.resumed, false, 'output flowed while the recording was behind');
    recorder.wrote(1500);
    await turn();
    assert.equal(held.resumed, false, 'output flowed before the recording had caught up');
    // Woken by the write itself: no timer has to run before output flows again.
    recorder.wrote(999);
    await turn();
    assert.equal(held.resumed, true, 'output still waited after the recording caught up');
    // It caught up within the hold, so pacing did not give up: a new backlog is held again.
    recorder.bufferedBytes = 3000;
    assert.ok(pace.check() !== undefined);
    recorder.bufferedBytes = 999;
    assert.equal(pace.check(), undefined);
  });

  it('lets go after the longest hold, then leaves the recorder to drop', async () => {
    const recorder = fakeRecorder(5000);
    const pace = createRecordingPace(recorder, { ...LIMITS, maxHoldMs: 30 });
    const hold = pace.check();
    assert.ok(hold !== undefined);
    // Never catches up (a stalled disk): the hold still lets go.
    await start(hold).released;
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

  it('never holds where the session policy says output does not wait', () => {
    const farBehind = fakeRecorder(1_000_000);
    assert.equal(recordingPaceFor(farBehind, { holdForRecording: false }, LIMITS), null);
    assert.equal(recordingPaceFor(null, { holdForRecording: true }, LIMITS), null);
    const pace = recordingPaceFor(farBehind, { holdForRecording: true }, LIMITS);
    assert.notEqual(pace?.check(), undefined, 'the default policy holds');
  });
});
