/**
 * A counting semaphore for outside I/O: at most `concurrency` tasks run at once,
 * the rest wait their turn in arrival order, and at most `maxWaiting` may wait
 * (unbounded by default). Intake asks `admits` before it queues a request's tasks,
 * and refuses the request whole when they would pass that bound while others wait
 * (one alone past it is let in: see the engine's runPrepared), before any of them
 * starts, so a storm queues a bounded amount of work instead of an unbounded one.
 * The HTTP action holds one per origin, through `acquire`, so that a request whose
 * deadline passes while it waits gives up its place and is never sent.
 */
export interface Limiter {
  /** Whether `n` more tasks may queue now. */
  admits(n: number): boolean;
  /** Runs `task` once a slot is free; the slot is given back when it settles. */
  run<T>(task: () => Promise<T>): Promise<T>;
  /**
   * Resolves with the release of a slot once one is free (calling it more than once
   * gives the slot back once), or rejects with the signal's reason when `signal`
   * aborts first, giving up its place in line.
   */
  acquire(signal?: AbortSignal): Promise<() => void>;
  /** Tasks running now, and waiting. */
  active(): number;
  waiting(): number;
}

export function createLimiter(concurrency: number, maxWaiting = Infinity): Limiter {
  if (!(concurrency >= 1)) throw new Error(`a limiter needs a concurrency of at least 1, got ${concurrency}`);
  let running = 0;
  const queue: Array<() => void> = [];

  // The slot passes straight from the task that releases it to the next in line.
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
      return new Promise<T>((resolve, reject) => queue.push(() => void go().then(resolve, reject)));
    },
    acquire(signal?: AbortSignal): Promise<() => void> {
      let released = false;
      const once = (): void => {
        if (released) return;
        released = true;
        release();
      };
      if (running < concurrency) {
        running++;
        return Promise.resolve(once);
      }
      return new Promise((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const onAbort = (): void => {
          const i = queue.indexOf(turn);
          if (i >= 0) queue.splice(i, 1);
          reject(signal!.reason);
        };
        const turn = (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve(once);
        };
        queue.push(turn);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    active: () => running,
    waiting: () => queue.length,
  };
}
