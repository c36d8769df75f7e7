import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AsciicastEvent } from '../../src/sessions/asciicast.ts';
import { type PlaybackTimer, play, screenSizeAt } from '../../src/sessions/player.ts';

/** Virtual time: sleeping moves it on and is logged; nothing waits for real. */
function virtualTimer(): PlaybackTimer & { sleeps: number[]; at: () => number } {
  let now = 1_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    at: () => now,
    now: () => now,
    sleep: async (ms, signal) => {
      signal?.throwIfAborted();
      sleeps.push(Math.round(ms));
      now += ms;
    },
  };
}

const o = (time: number, data: string): AsciicastEvent => ({ time, code: 'o', data });
const r = (time: number, data: string): AsciicastEvent => ({ time, code: 'r', data });

/** F13: opens at 120x40, resizes to 80x24 at 5.0 s and runs top. */
const header = { width: 120, height: 40 };
const session: AsciicastEvent[] = [
  o(0.5, '$ '),
  o(1, 'top\r\n'),
  r(5, '80x24'),
  o(5.2, 'top - 10:00:00'),
  { time: 6, code: 'i', data: 'q' },
  o(16, '$ '),
];

describe('player', () => {
  it('writes output with its timing scaled by speed, idles capped', async () => {
    const timer = virtualTimer();
    const written: [number, string][] = [];
    const result = await play(session, (data) => void written.push([timer.at() - 1_000, data]), {
      speed: 2,
      maxIdleMs: 2_000,
      timer,
    });
    assert.deepEqual(result, { completed: true, events: 6 });
    // Gaps 0.5, 0.5, 4 (capped to 2), 0.2, 0.8 and 10 s (capped to 2), all halved.
    assert.deepEqual(
      written.map(([at]) => Math.round(at)),
      [250, 500, 1_600, 3_000],
    );
    assert.deepEqual(
      written.map(([, data]) => data),
      ['$ ', 'top\r\n', 'top - 10:00:00', '$ '],
    );
  });

  it('does not drift when writing is slow: waits count from the start', async () => {
    const timer = virtualTimer();
    const slowWrite = () => {
      timer.sleeps.push(-1);
      return timer.sleep(300); // each write takes 300 ms
    };
    await play([o(1, 'a'), o(2, 'b'), o(3, 'c')], slowWrite, { timer });
    // a at 1 s, then b due at 2 s (0.7 s left after a 0.3 s write), c at 3 s.
    assert.deepEqual(
      timer.sleeps.filter((ms) => ms !== 300),
      [1_000, -1, 700, -1, 700, -1],
    );
  });

  it('stops when the signal aborts', async () => {
    const controller = new AbortController();
    const written: string[] = [];
    const result = await play(
      session,
      (data) => {
        written.push(data);
        if (written.length === 2) controller.abort();
      },
      { signal: controller.signal, timer: virtualTimer() },
    );
    assert.equal(result.completed, false);
    assert.deepEqual(written, ['$ ', 'top\r\n']);
  });

  it('seeks forward past a resize: earlier output at once, the size in force reported', async () => {
    const timer = virtualTimer();
    const sizes: string[] = [];
    const written: string[] = [];
    await play(session, (data) => void written.push(data), {
      from: 5.1,
      timer,
      onResize: ({ cols, rows }) => sizes.push(`${cols}x${rows}`),
    });
    assert.deepEqual(sizes, ['80x24']);
    assert.deepEqual(written, ['$ ', 'top\r\n', 'top - 10:00:00', '$ ']);
    assert.deepEqual(timer.sleeps, [100, 800, 2_000]);
  });

  it('refuses a speed that is not above zero', async () => {
    for (const speed of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await assert.rejects(
        play(session, () => undefined, { speed }),
        RangeError,
        `${speed}`,
      );
    }
  });
});

describe('screenSizeAt (F13)', () => {
  it('gives the size in force at each moment, seeking forward and back', () => {
    assert.deepEqual(screenSizeAt(header, session, 0), { cols: 120, rows: 40 });
    assert.deepEqual(screenSizeAt(header, session, 4.999), { cols: 120, rows: 40 });
    assert.deepEqual(screenSizeAt(header, session, 5), { cols: 80, rows: 24 });
    assert.deepEqual(screenSizeAt(header, session, 7), { cols: 80, rows: 24 });
    assert.deepEqual(screenSizeAt(header, session, 3), { cols: 120, rows: 40 });
  });

  it('ignores resize data that is not COLSxROWS', () => {
    const events = [r(1, '100x30'), r(2, 'abc'), r(3, '0x10'), r(4, '99999999x1')];
    assert.deepEqual(screenSizeAt(header, events, 10), { cols: 100, rows: 30 });
  });
});
