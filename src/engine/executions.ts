import { timerMs } from '../lib/index.js';
import type { ExecutionRunner, RunOutcome, RunRequest } from '../execute/runner.js';

/** How many causes of runs left unrecorded are kept: a store that refuses every end until a restart leaves one per run. */
const UNRECORDED_CAUSES_KEPT = 100;

/**
 * Executions in flight in this process. Started only after the claim committed;
 * on shutdown they get a grace period, then their signal aborts and they end as
 * INTERRUPTED, or, when the store cannot take that record in the time the stop gives it
 * (RunnerDeps.stopRecordMs), are counted unrecorded.
 */
export function createExecutionTracker(run: ExecutionRunner) {
  const inflight = new Map<string, { promise: Promise<RunOutcome>; abort: AbortController }>();
  /** Why the store refused the end of each run left unrecorded (RunOutcome.cause), the latest UNRECORDED_CAUSES_KEPT. */
  const causes = new Map<string, string>();
  /** Set once the grace period is over: a run that starts after it is aborted at once (INTERRUPTED). */
  let stopping = false;
  return {
    start(req: RunRequest): Promise<RunOutcome> {
      const abort = new AbortController();
      if (stopping) abort.abort(new Error('shutting down'));
      const promise = run(req, abort.signal)
        .then((o) => {
          if (o.unrecorded && o.cause !== undefined) {
            causes.set(req.id, o.cause);
            if (causes.size > UNRECORDED_CAUSES_KEPT) causes.delete(causes.keys().next().value!);
          }
          return o;
        })
        .finally(() => inflight.delete(req.id));
      inflight.set(req.id, { promise, abort });
      return promise;
    },
    get(id: string): Promise<RunOutcome> | undefined {
      return inflight.get(id)?.promise;
    },
    size: () => inflight.size,
    /** What the store refused the end of run `id` with, when it was left unrecorded (and is among the latest so left). */
    unrecordedCause: (id: string): string | undefined => causes.get(id),
    /**
     * Waits up to graceMs for running executions (those that start meanwhile, from a
     * decision committed as intake stopped, too), then aborts the rest, and any that
     * start later, and waits for them to record it.
     */
    async drain(graceMs: number): Promise<{ finished: number; interrupted: number; unrecorded: string[] }> {
      const seen = new Set<string>();
      /** Runs whose end the store could not take before the stop gave up on it (RunOutcome.unrecorded). */
      const unrecorded = new Set<string>();
      const settled = async (): Promise<void> => {
        while (inflight.size > 0) {
          for (const id of inflight.keys()) seen.add(id);
          await Promise.allSettled([...inflight.entries()].map(([id, e]) => e.promise.then((o) => void (o.unrecorded && unrecorded.add(id)))));
        }
      };
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timerMs(graceMs))));
      await Promise.race([settled(), graceOver]);
      clearTimeout(timer);
      stopping = true;
      const left = [...inflight.keys()];
      for (const id of left) inflight.get(id)!.abort.abort(new Error('shutting down'));
      await settled();
      return { finished: seen.size - left.length, interrupted: left.filter((id) => !unrecorded.has(id)).length, unrecorded: left.filter((id) => unrecorded.has(id)) };
    },
  };
}
export type ExecutionTracker = ReturnType<typeof createExecutionTracker>;
