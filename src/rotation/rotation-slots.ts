/**
 * How many rotations one node runs at once: at most `overall` in all, and on each target at most
 * what the account's policy allows (`maxPerTarget`). The scheduler and bulk runs share one
 * instance, so together they never open more sessions on a target than its policy allows. Nodes
 * sharing a store each keep their own count.
 */
export interface RotationSlots {
  /** Runs `work` once a slot is free overall and on `targetId`; settles as `work` does. */
  run<T>(targetId: string, perTarget: number, work: () => Promise<T>): Promise<T>;
  /** Rotations running now: on one target, or in all. */
  busy(targetId?: string): number;
}

/** Rotations one node runs at once, whatever the targets. */
export const DEFAULT_ROTATION_CONCURRENCY = 16;

interface Waiter {
  readonly targetId: string;
  readonly perTarget: number;
  readonly start: () => void;
}

export function createRotationSlots(options: { overall?: number } = {}): RotationSlots {
  const overall = Math.max(1, options.overall ?? DEFAULT_ROTATION_CONCURRENCY);
  const running = new Map<string, number>();
  const waiting: Waiter[] = [];
  let total = 0;

  const fits = (targetId: string, perTarget: number) =>
    total < overall && (running.get(targetId) ?? 0) < perTarget;

  const take = (targetId: string) => {
    total += 1;
    running.set(targetId, (running.get(targetId) ?? 0) + 1);
  };

  // First come, first served, except that a waiter whose target is full lets later ones pass.
  const wake = () => {
    for (let i = 0; i < waiting.length && total < overall; ) {
      const waiter = waiting[i];
      if (waiter !== undefined && fits(waiter.targetId, waiter.perTarget)) {
        waiting.splice(i, 1);
        take(waiter.targetId);
        waiter.start();
      } else {
        i += 1;
      }
    }
  };

  const give = (targetId: string) => {
    total -= 1;
    const left = (running.get(targetId) ?? 1) - 1;
    if (left === 0) running.delete(targetId);
    else running.set(targetId, left);
    wake();
  };

  return {
    async run(targetId, perTarget, work) {
      const limit = Math.max(1, perTarget);
      await new Promise<void>((start) => {
        if (fits(targetId, limit)) {
          take(targetId);
          start();
        } else {
          waiting.push({ targetId, perTarget: limit, start });
        }
      });
      try {
        return await work();
      } finally {
        give(targetId);
      }
    },
    busy(targetId) {
      return targetId === undefined ? total : (running.get(targetId) ?? 0);
    },
  };
}
