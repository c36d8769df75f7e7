import type { Clock } from '../clock.ts';
import type { LoginThrottle } from './login-throttle.ts';
import type { PasswordHasher } from './password-hash.ts';

export type PasswordVerdict = 'match' | 'mismatch' | 'throttled';

/**
 * Every check of a user's password, at login or before changing it, goes through here: the
 * attempt is counted in the throttle before the hash runs and settled once it has.
 */
export interface PasswordCheck {
  /**
   * `stored` is null when there is nothing to match (unknown or disabled user, no password):
   * the check then costs the same time and always answers mismatch.
   */
  verify(
    name: string,
    source: string | null,
    stored: string | null,
    password: string,
  ): Promise<PasswordVerdict>;
}

export function createPasswordCheck(deps: {
  hasher: PasswordHasher;
  throttle: LoginThrottle;
  clock: Clock;
}): PasswordCheck {
  const { hasher, throttle, clock } = deps;
  // Hashes compared when there is nothing to match, so a missing user takes as long as a real one.
  const decoy = hasher.hash('tessera-decoy-password');

  return {
    async verify(name, source, stored, password) {
      const attempt = throttle.reserve(name, source, clock.now());
      if (attempt === null) return 'throttled';
      try {
        const matches = await hasher.verify(password, stored ?? (await decoy));
        if (stored === null || !matches) {
          attempt.failed();
          return 'mismatch';
        }
        attempt.succeeded();
        return 'match';
      } finally {
        // Settles only an attempt left open by an error: one that was counted stays counted.
        attempt.abandoned();
      }
    },
  };
}
