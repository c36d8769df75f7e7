/**
 * Token buckets in memory, one per key: each holds up to `burst` tokens and gains `perSecond`
 * tokens a second; a request takes one or is refused. Per node; a restart refills them all.
 */
export interface TokenBuckets {
  /** Takes a token for the key: answers 0, or the milliseconds until one will be there. */
  take(key: string, now: number): number;
}

export interface BucketSpec {
  readonly burst: number;
  readonly perSecond: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Beyond this many keys, full buckets are forgotten first: a full bucket equals a new one. */
const TRACKED_MAX = 10_000;

export function createTokenBuckets(spec: BucketSpec): TokenBuckets {
  const buckets = new Map<string, Bucket>();

  const refill = (bucket: Bucket, now: number) => {
    const gained = (Math.max(0, now - bucket.at) * spec.perSecond) / 1000;
    bucket.tokens = Math.min(spec.burst, bucket.tokens + gained);
    bucket.at = now;
  };

  const makeRoom = (now: number) => {
    if (buckets.size < TRACKED_MAX) return;
    for (const [key, bucket] of buckets) {
      refill(bucket, now);
      if (bucket.tokens >= spec.burst) buckets.delete(key);
    }
    // Still full of busy keys: the oldest go, which only ever lets someone in early.
    for (const key of buckets.keys()) {
      if (buckets.size < TRACKED_MAX * 0.9) break;
      buckets.delete(key);
    }
  };

  return {
    take(key, now) {
      let bucket = buckets.get(key);
      if (bucket === undefined) {
        makeRoom(now);
        bucket = { tokens: spec.burst, at: now };
        buckets.set(key, bucket);
      }
      refill(bucket, now);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return Math.ceil(((1 - bucket.tokens) * 1000) / spec.perSecond);
    },
  };
}
