import type { Action } from '../access/rules.ts';
import { TesseraError } from '../errors.ts';
import { sourceKey } from '../identity/source-key.ts';
import { type BucketSpec, createTokenBuckets, type TokenBuckets } from './token-bucket.ts';

/**
 * The routes anyone may call that write an audit event or run a password hash, limited per
 * source address before anything else runs, so one source can neither flood the audit trail
 * nor keep the hasher busy. A refused request is answered RATE_LIMITED and audited nowhere.
 *
 * Unseal and init are typed by people, a few times per start of a server: ten in a burst, then
 * one a second, is more than any operator needs. Login allows thirty in a burst, then three a
 * second: room for people behind one shared address and for a script's retries, while the
 * password throttle (identity/login-throttle.ts) still limits guesses per user name.
 */
export const ANONYMOUS_LIMITS: Readonly<Partial<Record<Action, BucketSpec>>> = {
  'operator.unseal': { burst: 10, perSecond: 1 },
  'operator.init': { burst: 10, perSecond: 1 },
  'auth.login': { burst: 30, perSecond: 3 },
  // Nodes passing watches and exports on: many at once from one node, never a stream of guesses.
  'session.watch.relay': { burst: 100, perSecond: 10 },
  'session.recording.relay': { burst: 100, perSecond: 10 },
};

export interface AnonymousLimits {
  /** Throws RATE_LIMITED, with the seconds to wait, when the source has used its share. */
  take(action: Action | undefined, source: string, now: number): void;
}

export function createAnonymousLimits(): AnonymousLimits {
  const buckets = new Map<Action, TokenBuckets>();
  for (const [action, spec] of Object.entries(ANONYMOUS_LIMITS) as [Action, BucketSpec][]) {
    buckets.set(action, createTokenBuckets(spec));
  }

  return {
    take(action, source, now) {
      const bucket = action === undefined ? undefined : buckets.get(action);
      if (bucket === undefined) return;
      const waitMs = bucket.take(sourceKey(source), now);
      if (waitMs === 0) return;
      throw new TesseraError('RATE_LIMITED', 'too many requests from this address: slow down', {
        retryAfterS: Math.ceil(waitMs / 1000),
      });
    },
  };
}
