/**
 * Slows guessing of one user's second-factor codes. A six-digit code has a million values and
 * about three are valid at any moment, so a guesser gets a handful of tries per window for the
 * user, from every source together: unlike a password, the caller already holds the user's
 * token, so there is no one else to protect from a lock-out.
 *
 * An attempt counts from the moment it is reserved, so codes sent in parallel cannot all be
 * checked before the first failure is recorded. Kept in memory per node; a restart forgets it,
 * and each node of a cluster counts on its own.
 */
export interface MfaThrottle {
  /** Reserves one attempt, or answers null while the user's limit is reached. */
  reserve(userId: string, now: number): MfaAttempt | null;
}

/** One reserved attempt. The first settling call counts; later ones do nothing. */
export interface MfaAttempt {
  /** The code was right: the user's failures are forgotten. */
  succeeded(): void;
  /** The code was wrong or already used: it counts as a failure until its window ends. */
  failed(): void;
  /** The check did not finish (sealed vault, store error): given back uncounted. */
  abandoned(): void;
}

/** Failures per user in a window: enough for a person who mistypes or races the clock. */
export const MFA_MAX_FAILURES = 5;
/** The window starts at its first failure; the user is refused until it ends. */
export const MFA_THROTTLE_WINDOW_MS = 5 * 60_000;
const TRACKED_MAX = 50_000;

interface Counter {
  failures: number;
  inFlight: number;
  since: number;
}

export function createMfaThrottle(): MfaThrottle {
  const counters = new Map<string, Counter>();

  const counterOf = (userId: string, now: number): Counter => {
    const existing = counters.get(userId);
    if (existing === undefined) {
      makeRoom(counters, now);
      const fresh = { failures: 0, inFlight: 0, since: now };
      counters.set(userId, fresh);
      return fresh;
    }
    if (existing.failures === 0 || now - existing.since > MFA_THROTTLE_WINDOW_MS) {
      existing.failures = 0;
      existing.since = now;
    }
    return existing;
  };

  const release = (userId: string, counter: Counter) => {
    if (counter.failures === 0 && counter.inFlight === 0 && counters.get(userId) === counter) {
      counters.delete(userId);
    }
  };

  return {
    reserve(userId, now) {
      const counter = counterOf(userId, now);
      // Attempts in flight count as failures until they settle: that stops a parallel burst.
      if (counter.failures + counter.inFlight >= MFA_MAX_FAILURES) {
        release(userId, counter);
        return null;
      }
      counter.inFlight += 1;

      let settled = false;
      const settle = (outcome: 'success' | 'failure' | 'abandoned') => {
        if (settled) return;
        settled = true;
        counter.inFlight -= 1;
        if (outcome === 'failure') counter.failures += 1;
        if (outcome === 'success') counter.failures = 0;
        release(userId, counter);
      };
      return {
        succeeded: () => settle('success'),
        failed: () => settle('failure'),
        abandoned: () => settle('abandoned'),
      };
    },
  };
}

/**
 * Keeps memory bounded when many users are tried: expired counters go first, then idle ones. A
 * counter with attempts in flight is kept, so its reservations stay counted.
 */
function makeRoom(counters: Map<string, Counter>, now: number): void {
  if (counters.size < TRACKED_MAX) return;
  for (const [key, counter] of counters) {
    if (counter.inFlight === 0 && now - counter.since > MFA_THROTTLE_WINDOW_MS) {
      counters.delete(key);
    }
  }
  for (const [key, counter] of counters) {
    if (counters.size < TRACKED_MAX * 0.9) break;
    if (counter.inFlight === 0) counters.delete(key);
  }
}
