import type { ExecutionRunner, RunOutcome, RunRequest } from '../execute/runner.js';

/**
 * Executions in flight in this process. Started only after the claim committed;
 * on shutdown they get a grace period, then their signal aborts and they end as
 * INTERRUPTED.
 */
export function createExecutionTracker(run: ExecutionRunner) {
  const inflight = new Map<string, { promise: Promise<RunOutcome>; abort: AbortController }>();
  return {
    start(req: RunRequest): Promise<RunOutcome> {
      const abort = new AbortController();
      const promise = run(req, abort.signal).finally(() => inflight.delete(req.id));
      inflight.set(req.id, { promise, abort });
      return promise;
    },
    get(id: string): Promise<RunOutcome> | undefined {
      return inflight.get(id)?.promise;
    },
    size: () => inflight.size,
    /** Waits up to graceMs for running executions, then aborts the rest and waits for them to record it. */
    async drain(graceMs: number): Promise<{ finished: number; interrupted: number }> {
      const all = [...inflight.values()];
      if (all.length === 0) return { finished: 0, interrupted: 0 };
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), graceMs)));
      await Promise.race([Promise.allSettled(all.map((e) => e.promise)), graceOver]);
      clearTimeout(timer);
      const left = [...inflight.values()];
      for (const e of left) e.abort.abort(new Error('shutting down'));
      await Promise.allSettled(left.map((e) => e.promise));
      return { finished: all.length - left.length, interrupted: left.length };
    },
  };
}
export type ExecutionTracker = ReturnType<typeof createExecutionTracker>;
