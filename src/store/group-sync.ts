/**
 * Group commit: many callers wait for one flush. A caller that arrives while a flush runs waits
 * for the next one, because its own commit may have landed after the running flush began.
 */
export function createGroupSync(flush: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  let next: Promise<void> | null = null;

  const start = (): Promise<void> => {
    const run = flush().finally(() => {
      running = null;
    });
    running = run;
    return run;
  };

  return function durable(): Promise<void> {
    if (running === null) return start();
    if (next === null) {
      const settled = running.catch(() => undefined);
      next = settled.then(() => {
        next = null;
        return running ?? start();
      });
    }
    return next;
  };
}
