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
  /** Arrival order across all targets. */
  readonly order: number;
  readonly start: () => void;
}

export function createRotationSlots(options: { overall?: number } = {}): RotationSlots {
  const overall = Math.max(1, options.overall ?? DEFAULT_ROTATION_CONCURRENCY);
  const running = new Map<string, number>();
  /** One first-in first-out queue per target: a bulk run queues thousands on a few targets. */
  const waiting = new Map<string, Waiter[]>();
  let arrivals = 0;
  let total = 0;

  const fits = (targetId: string, perTarget: number) =>
    total < overall && (running.get(targetId) ?? 0) < perTarget;

  const take = (targetId: string) => {
    total += 1;
    running.set(targetId, (running.get(targetId) ?? 0) + 1);
  };

  // First come, first served, except that a waiter whose target is full lets later ones pass:
  // the earliest head among the queues whose target has room goes next.
  const wake = () => {
    while (total < overall) {
      let next: Waiter | undefined;
      for (const [targetId, queue] of waiting) {
        const head = queue[0];
        if (head === undefined || (running.get(targetId) ?? 0) >= head.perTarget) continue;
        if (next === undefined || head.order < next.order) next = head;
      }
      if (next === undefined) return;
      const queue = waiting.get(next.targetId) ?? [];
      queue.shift();
      if (queue.length === 0) waiting.delete(next.targetId);
      take(next.targetId);
      next.start();
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
          const waiter = { targetId, perTarget: limit, order: arrivals++, start };
          const queue = waiting.get(targetId);
          if (queue === undefined) waiting.set(targetId, [waiter]);
          else queue.push(waiter);
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
