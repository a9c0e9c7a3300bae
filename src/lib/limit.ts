/**
 * A counting semaphore for outside I/O started by intake: at most `concurrency`
 * tasks run at once, the rest wait their turn in arrival order, and at most
 * `maxWaiting` may wait. A request that would pass that bound is refused whole,
 * before any of its tasks starts (`admit`), so a storm queues a bounded amount
 * of work instead of an unbounded one.
 */
export interface Limiter {
  /** Whether `n` more tasks may queue now. */
  admits(n: number): boolean;
  /** Runs `task` once a slot is free; the slot is given back when it settles. */
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Tasks running now, and waiting. */
  active(): number;
  waiting(): number;
}

export function createLimiter(concurrency: number, maxWaiting: number): Limiter {
  if (!(concurrency >= 1)) throw new Error(`a limiter needs a concurrency of at least 1, got ${concurrency}`);
  let running = 0;
  const queue: Array<() => void> = [];

  function release(): void {
    const next = queue.shift();
    if (next) next();
    else running--;
  }

  return {
    admits: (n) => queue.length + Math.max(0, n - (concurrency - running)) <= maxWaiting,
    run<T>(task: () => Promise<T>): Promise<T> {
      const go = (): Promise<T> => {
        let p: Promise<T>;
        try {
          p = task();
        } catch (err) {
          release();
          return Promise.reject(err);
        }
        return p.finally(release);
      };
      if (running < concurrency) {
        running++;
        return go();
      }
      // The slot passes straight from the task that releases it to the next in line.
      return new Promise<T>((resolve, reject) => queue.push(() => void go().then(resolve, reject)));
    },
    active: () => running,
    waiting: () => queue.length,
  };
}
