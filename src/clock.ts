/** Time is injected so that expiry and schedules are tested with a clock the test controls. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
