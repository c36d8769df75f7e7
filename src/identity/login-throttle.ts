/**
 * Slows password guessing: after a few failures for one user name, further attempts are refused
 * for a while, whatever the password. Kept in memory per node; a restart forgets it.
 */
export interface LoginThrottle {
  allowed(name: string, now: number): boolean;
  failed(name: string, now: number): void;
  succeeded(name: string): void;
}

const MAX_FAILURES = 5;
const WINDOW_MS = 5 * 60_000;
const TRACKED_MAX = 50_000;

export function createLoginThrottle(): LoginThrottle {
  const failures = new Map<string, { count: number; since: number }>();
  return {
    allowed(name, now) {
      const entry = failures.get(name);
      if (entry === undefined || now - entry.since > WINDOW_MS) return true;
      return entry.count < MAX_FAILURES;
    },
    failed(name, now) {
      const entry = failures.get(name);
      if (entry === undefined || now - entry.since > WINDOW_MS) {
        if (failures.size >= TRACKED_MAX) failures.clear();
        failures.set(name, { count: 1, since: now });
      } else {
        entry.count += 1;
      }
    },
    succeeded(name) {
      failures.delete(name);
    },
  };
}
