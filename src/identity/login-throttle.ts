import { sourceKey } from './source-key.ts';

/**
 * Slows password guessing against one user name. Two limits apply to every attempt: a tight one
 * per name and source address, which stops a guesser quickly without letting that guesser lock
 * the real user out from everywhere else, and a loose one per name alone, which still slows a
 * guesser spread over many addresses.
 *
 * An attempt counts from the moment it is reserved, before the slow password hash, so guesses
 * sent in parallel cannot all start before the first failure is recorded. Kept in memory per
 * node; a restart forgets it.
 */
export interface LoginThrottle {
  /** Reserves one attempt, or answers null when either limit is reached. */
  reserve(name: string, source: string | null, now: number): LoginAttempt | null;
}

/** One reserved attempt. The first settling call counts; later ones do nothing. */
export interface LoginAttempt {
  /** The password was right: this source's failures for this name are forgotten. */
  succeeded(): void;
  /** The password was wrong: the attempt counts as a failure until its window ends. */
  failed(): void;
  /** The check did not finish (a store or hashing error): the attempt is given back uncounted. */
  abandoned(): void;
}

/** Failures per name and source in a window: enough for a person who mistypes. */
export const MAX_FAILURES_PER_SOURCE = 5;
/**
 * Failures per name from all sources in a window: ten sources' worth, so one source alone can
 * never lock the name out, yet a guesser spread over many sources gets few guesses.
 */
export const MAX_FAILURES_PER_NAME = 50;
export const THROTTLE_WINDOW_MS = 5 * 60_000;
const TRACKED_MAX = 50_000;

interface Counter {
  failures: number;
  inFlight: number;
  since: number;
}

export function createLoginThrottle(): LoginThrottle {
  const perSource = createCounters();
  const perName = createCounters();

  return {
    reserve(name, source, now) {
      const pairKey = `${name}\u0000${sourceKey(source)}`;
      const pair = perSource.get(pairKey, now);
      const all = perName.get(name, now);
      if (isFull(pair, MAX_FAILURES_PER_SOURCE) || isFull(all, MAX_FAILURES_PER_NAME)) {
        perSource.release(pairKey, pair);
        perName.release(name, all);
        return null;
      }
      pair.inFlight += 1;
      all.inFlight += 1;

      let settled = false;
      const settle = (failure: boolean, forgetSource: boolean) => {
        if (settled) return;
        settled = true;
        for (const counter of [pair, all]) {
          counter.inFlight -= 1;
          if (failure) counter.failures += 1;
        }
        if (forgetSource) pair.failures = 0;
        perSource.release(pairKey, pair);
        perName.release(name, all);
      };
      return {
        succeeded: () => settle(false, true),
        failed: () => settle(true, false),
        abandoned: () => settle(false, false),
      };
    },
  };
}

/** Attempts in flight count as failures until they settle: that is what stops a parallel burst. */
function isFull(counter: Counter, max: number): boolean {
  return counter.failures + counter.inFlight >= max;
}

function createCounters() {
  const counters = new Map<string, Counter>();

  const expired = (counter: Counter, now: number) => now - counter.since > THROTTLE_WINDOW_MS;

  /**
   * Keeps memory bounded when many names are tried: expired counters go first, then the oldest
   * idle ones. A counter with attempts in flight is kept, so its reservations stay counted.
   */
  const makeRoom = (now: number) => {
    if (counters.size < TRACKED_MAX) return;
    for (const [key, counter] of counters) {
      if (counter.inFlight === 0 && expired(counter, now)) counters.delete(key);
    }
    for (const [key, counter] of counters) {
      if (counters.size < TRACKED_MAX * 0.9) break;
      if (counter.inFlight === 0) counters.delete(key);
    }
  };

  return {
    get(key: string, now: number): Counter {
      const counter = counters.get(key);
      if (counter === undefined) {
        makeRoom(now);
        const fresh = { failures: 0, inFlight: 0, since: now };
        counters.set(key, fresh);
        return fresh;
      }
      // A window starts with its first failure; a quiet one ends and is forgotten.
      if (counter.failures === 0 || expired(counter, now)) {
        counter.failures = 0;
        counter.since = now;
      }
      return counter;
    },
    /** Drops a counter that holds nothing, so the map holds only names under attack. */
    release(key: string, counter: Counter): void {
      if (counter.failures === 0 && counter.inFlight === 0 && counters.get(key) === counter) {
        counters.delete(key);
      }
    },
  };
}
