import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { DEFAULT_POLICY_SETTINGS, type Policy } from '../../src/accounts/policies.ts';
import {
  canonicalTimeZone,
  jitterMs,
  nextRotationAt,
  RETRY_CAP_MS,
  retryDelayMs,
} from '../../src/rotation/schedule.ts';

const DAY = 86_400;
const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
const ACCOUNT = '6f1c1f0e-4a8e-4a55-9a51-3c1f4f1c0b7e';

function policy(settings: Partial<Policy>): Policy {
  return { id: 'p', name: 'p', ...DEFAULT_POLICY_SETTINGS, ...settings };
}

/** The local calendar date of an instant in a zone, as YYYY-MM-DD. */
function localDay(at: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, dateStyle: 'short' }).format(at);
}

function localTime(at: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone, timeStyle: 'short' }).format(at);
}

/**
 * Rotates by the schedule from `start` to `end`, as the scheduler would with a controlled clock:
 * each run takes `delayMs` (or fails, per `fails`, and is retried after the back-off), and the
 * next run is computed from the moment the last one succeeded. Returns the successful runs.
 */
function simulate(
  p: Policy,
  options: {
    start: string;
    end: string;
    accountId?: string;
    delayMs?: number;
    fails?: (at: number, attempt: number) => boolean;
  },
): number[] {
  const accountId = options.accountId ?? ACCOUNT;
  const end = Date.parse(options.end);
  const runs: number[] = [];
  let due = nextRotationAt(p, accountId, Date.parse(options.start));
  let failures = 0;
  while (due !== null && due < end) {
    const finished = due + (options.delayMs ?? 7_000);
    if (options.fails?.(due, failures + 1) === true) {
      failures += 1;
      due = finished + retryDelayMs(failures);
      continue;
    }
    failures = 0;
    runs.push(due);
    due = nextRotationAt(p, accountId, finished);
  }
  return runs;
}

function runsPerDay(runs: readonly number[], timeZone: string): Map<string, number> {
  const days = new Map<string, number>();
  for (const at of runs) {
    const day = localDay(at, timeZone);
    days.set(day, (days.get(day) ?? 0) + 1);
  }
  return days;
}

/** Every local date from `first` to `last`, inclusive. */
function datesBetween(first: string, last: string): string[] {
  const dates: string[] = [];
  for (let at = Date.parse(`${first}T12:00:00Z`); ; at += DAY * 1000) {
    const day = new Date(at).toISOString().slice(0, 10);
    dates.push(day);
    if (day === last) return dates;
  }
}

describe('nextRotationAt: interval only', () => {
  it('is null when the policy has no interval', () => {
    assert.equal(nextRotationAt(policy({}), ACCOUNT, Date.now()), null);
  });

  it('is the interval after the last run, without jitter', () => {
    const from = Date.parse('2026-01-10T10:00:00Z');
    const p = policy({ rotationIntervalS: 30 * DAY });
    assert.equal(nextRotationAt(p, ACCOUNT, from), Date.parse('2026-02-09T10:00:00Z'));
  });

  it('adds a jitter inside the window', () => {
    const from = Date.parse('2026-01-10T10:00:00Z');
    const p = policy({ rotationIntervalS: DAY, jitterS: 3_600 });
    const next = nextRotationAt(p, ACCOUNT, from) ?? 0;
    const earliest = from + DAY * 1000;
    assert.ok(next >= earliest && next < earliest + HOUR_MS, new Date(next).toISOString());
  });
});

describe('F11: daily rotation across daylight-saving changes', () => {
  const berlin = policy({ rotationIntervalS: DAY, rotateAt: '02:30', timeZone: 'Europe/Berlin' });
  const newYork = policy({
    rotationIntervalS: DAY,
    rotateAt: '01:30',
    timeZone: 'America/New_York',
  });

  it('02:30 Europe/Berlin: one run each day of a month, 2025-03-30 included', () => {
    const runs = simulate(berlin, { start: '2025-03-15T12:00:00Z', end: '2025-04-15T12:00:00Z' });
    const days = runsPerDay(runs, 'Europe/Berlin');
    for (const day of datesBetween('2025-03-16', '2025-04-15')) {
      assert.equal(days.get(day), 1, `runs on ${day}`);
    }
    assert.equal(days.size, 31);
  });

  it('02:30 does not exist on 2025-03-30 in Berlin: it runs at the first instant after', () => {
    const runs = simulate(berlin, { start: '2025-03-28T12:00:00Z', end: '2025-04-01T12:00:00Z' });
    assert.deepEqual(
      runs.map((at) => new Date(at).toISOString()),
      [
        '2025-03-29T01:30:00.000Z', // 02:30 CET
        '2025-03-30T01:00:00.000Z', // 03:00 CEST: the clocks jumped from 02:00 to 03:00
        '2025-03-31T00:30:00.000Z', // 02:30 CEST
        '2025-04-01T00:30:00.000Z',
      ],
    );
  });

  it('01:30 America/New_York: one run each day of a month, 2025-11-02 included', () => {
    const runs = simulate(newYork, { start: '2025-10-18T12:00:00Z', end: '2025-11-18T12:00:00Z' });
    const days = runsPerDay(runs, 'America/New_York');
    for (const day of datesBetween('2025-10-19', '2025-11-17')) {
      assert.equal(days.get(day), 1, `runs on ${day}`);
    }
  });

  it('01:30 happens twice on 2025-11-02 in New York: it runs at the first only', () => {
    const runs = simulate(newYork, { start: '2025-11-01T12:00:00Z', end: '2025-11-04T12:00:00Z' });
    assert.deepEqual(
      runs.map((at) => new Date(at).toISOString()),
      [
        '2025-11-02T05:30:00.000Z', // 01:30 EDT; 01:30 EST an hour later is not a second run
        '2025-11-03T06:30:00.000Z', // 01:30 EST
        '2025-11-04T06:30:00.000Z',
      ],
    );
  });

  it('keeps one run a day with jitter, slow rotations and failures retried', () => {
    const jittered = { ...newYork, jitterS: 3_600 };
    const fails = (at: number, attempt: number) =>
      localDay(at, 'America/New_York').endsWith('-02') && attempt <= 3;
    const runs = simulate(jittered, {
      start: '2025-10-18T12:00:00Z',
      end: '2025-11-18T12:00:00Z',
      delayMs: 40 * MINUTE_MS,
      fails,
    });
    const days = runsPerDay(runs, 'America/New_York');
    for (const day of datesBetween('2025-10-19', '2025-11-17')) {
      assert.equal(days.get(day), 1, `runs on ${day}`);
    }
    // On the days without failures, each run starts within the hour after 01:30.
    for (const at of runs.filter((run) => !localDay(run, 'America/New_York').endsWith('-02'))) {
      const hour = localTime(at, 'America/New_York');
      assert.ok(hour >= '01:30' && hour < '02:30', `${new Date(at).toISOString()} at ${hour}`);
    }
  });

  it('a run that ends hours late does not push the next day off', () => {
    const late = Date.parse('2025-03-30T09:00:00Z'); // the 03:00 run, retried until 11:00
    const next = nextRotationAt(berlin, ACCOUNT, late);
    assert.equal(next, Date.parse('2025-03-31T00:30:00Z'));
  });

  it('rotates every 7 local days at the chosen time across a change', () => {
    // Started on Monday 03-10 after 02:30: the week counts from that morning's 02:30.
    const weekly = { ...berlin, rotationIntervalS: 7 * DAY };
    const runs = simulate(weekly, { start: '2025-03-10T12:00:00Z', end: '2025-04-10T12:00:00Z' });
    assert.deepEqual(
      runs.map((at) => localDay(at, 'Europe/Berlin')),
      ['2025-03-17', '2025-03-24', '2025-03-31', '2025-04-07'],
    );
    for (const at of runs) assert.equal(localTime(at, 'Europe/Berlin'), '02:30');
  });

  it('computes in UTC when no zone is named', () => {
    const utc = policy({ rotationIntervalS: DAY, rotateAt: '23:45' });
    const next = nextRotationAt(utc, ACCOUNT, Date.parse('2026-06-01T23:50:00Z'));
    assert.equal(next, Date.parse('2026-06-02T23:45:00Z'));
  });
});

describe('jitter', () => {
  const window = HOUR_MS;
  const accounts = Array.from({ length: 500 }, () => randomUUID());

  it('spreads 500 accounts over the whole window', () => {
    const offsets = accounts.map((id) => jitterMs(id, '2026-03-01', window));
    const buckets = new Array<number>(10).fill(0);
    for (const offset of offsets) {
      assert.ok(offset >= 0 && offset < window);
      const bucket = Math.floor((offset / window) * 10);
      buckets[bucket] = (buckets[bucket] ?? 0) + 1;
    }
    // 50 expected per tenth; a uniform spread stays well inside these bounds.
    for (const count of buckets) assert.ok(count >= 20 && count <= 85, `buckets ${buckets}`);
  });

  it('is the same after a restart, and differs from day to day', () => {
    const p = policy({ rotationIntervalS: DAY, rotateAt: '02:00', timeZone: 'Europe/Paris' });
    const from = Date.parse('2026-03-01T10:00:00Z');
    const first = accounts.map((id) => nextRotationAt({ ...p, jitterS: 3_600 }, id, from));
    const again = accounts.map((id) => nextRotationAt({ ...p, jitterS: 3_600 }, id, from));
    assert.deepEqual(first, again);
    const sameOnAnotherDay = accounts.filter(
      (id) => jitterMs(id, '2026-03-01', window) === jitterMs(id, '2026-03-02', window),
    );
    assert.ok(sameOnAnotherDay.length < 5);
  });

  it('is zero without a window', () => {
    assert.equal(jitterMs(ACCOUNT, '2026-03-01', 0), 0);
  });
});

describe('retryDelayMs', () => {
  const cases: ReadonlyArray<readonly [number, number]> = [
    [0, 0],
    [1, 5 * MINUTE_MS],
    [2, 10 * MINUTE_MS],
    [3, 20 * MINUTE_MS],
    [9, 1_280 * MINUTE_MS],
    [10, RETRY_CAP_MS],
    [1_000, RETRY_CAP_MS],
  ];
  for (const [failures, delay] of cases) {
    it(`waits ${delay / MINUTE_MS} min after ${failures} consecutive failures`, () => {
      assert.equal(retryDelayMs(failures), delay);
    });
  }
});

describe('canonicalTimeZone', () => {
  const cases: ReadonlyArray<readonly [string, string | null]> = [
    ['Europe/Paris', 'Europe/Paris'],
    ['europe/paris', 'Europe/Paris'],
    ['UTC', 'UTC'],
    ['Mars/Olympus_Mons', null],
    ['+02:00', null],
    ['', null],
  ];
  for (const [name, canonical] of cases) {
    it(`${JSON.stringify(name)} is ${canonical ?? 'refused'}`, () => {
      assert.equal(canonicalTimeZone(name), canonical);
    });
  }
});
