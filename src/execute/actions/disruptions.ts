import { createLimiter, type Clock, type Limiter } from '../../lib/index.js';

/**
 * How long a pod this process removed counts as unavailable, at most, when the API
 * does not show it gone or terminating: an eviction or delete whose answer was lost
 * (it may have landed, or land yet), or a pod of a workload with no selector (no listing
 * tells its pods apart). Past it, the API's own view is trusted again.
 */
export const PENDING_REMOVAL_MS = 5 * 60_000;

/**
 * What the runs of one rectify process share about the disruption of each workload
 * (`Kind/namespace/name`): one run at a time reads it, judges the bound (the last ready
 * replica, `max_unavailable`) and removes its pod or scales it down, and the pods this
 * process removed count as unavailable until the API shows them so. Without it, two runs
 * each read the workload before the other's eviction landed, and both evicted.
 *
 * One per Kubernetes action executor, and one executor per process (createExecutors): a
 * serve, which alone owns its database, sees every run. Another process acting on the
 * same workloads (`rectify run --local`, a second service on another database) does not
 * share it.
 */
export interface DisruptionLedger {
  /**
   * Waits for the workload's turn; resolves with its release (given back once however
   * often called), or rejects with the signal's reason when it aborts first.
   */
  hold(workload: string, signal: AbortSignal): Promise<() => void>;
  /** The uids of the pods of the workload this process removed and the API may not show unavailable yet. */
  pending(workload: string): ReadonlySet<string>;
  /**
   * A pod about to be removed (before the write: one whose answer is lost may have landed).
   * Returns what lets go of this removal alone, once it is shown not to have landed (the API
   * server refused it, a read found the pod as before): the pod then counts as serving
   * unless another removal of it is recorded and not let go (one whose answer is lost may
   * still land).
   */
  record(workload: string, uid: string): () => void;
  /**
   * A fresh listing of the workload's pods: a pod removed that it shows gone or
   * terminating (`terminating`) is the API's to count from now on, and is let go.
   */
  settle(workload: string, listed: ReadonlyArray<{ uid: string; terminating: boolean }>): void;
  /** How many workloads have pods counted now, as kept (entries past the bound may still be among them). */
  tracked(): number;
}

export function createDisruptionLedger(clock: Clock, maxPendingMs = PENDING_REMOVAL_MS): DisruptionLedger {
  // Monotonic when the clock has it: a step of the wall clock neither ends nor stretches the bound.
  const now = (): number => clock.monotonic?.() ?? clock.now();
  const locks = new Map<string, Limiter>();
  // Per workload, per pod removed: when it was last recorded, and the removals recorded and
  // not let go (each its own token).
  const removed = new Map<string, Map<string, { at: number; by: Set<symbol> }>>();

  const live = (workload: string): Map<string, { at: number; by: Set<symbol> }> | undefined => {
    const m = removed.get(workload);
    if (!m) return undefined;
    const t = now();
    for (const [uid, e] of m) if (t - e.at >= maxPendingMs) m.delete(uid);
    if (m.size === 0) removed.delete(workload);
    return m.size > 0 ? m : undefined;
  };

  return {
    async hold(workload, signal) {
      let lock = locks.get(workload);
      if (!lock) {
        lock = createLimiter(1);
        locks.set(workload, lock);
      }
      const held = lock;
      const release = await held.acquire(signal).catch((err: unknown) => {
        if (held.active() === 0 && held.waiting() === 0 && locks.get(workload) === held) locks.delete(workload);
        throw err;
      });
      let done = false;
      return () => {
        if (done) return;
        done = true;
        release();
        // No run holds or waits for it: the workload's lock is not kept.
        if (held.active() === 0 && held.waiting() === 0 && locks.get(workload) === held) locks.delete(workload);
      };
    },
    pending: (workload) => new Set(live(workload)?.keys() ?? []),
    record(workload, uid) {
      if (!uid) return () => undefined;
      // Entries past the bound are let go here too, for every workload: one never judged
      // again (deleted, or not disrupted since) would otherwise keep its entries for the
      // life of the process.
      for (const w of [...removed.keys()]) live(w);
      let m = removed.get(workload);
      if (!m) {
        m = new Map();
        removed.set(workload, m);
      }
      const token = Symbol(uid);
      const e = m.get(uid);
      if (e) {
        e.at = now();
        e.by.add(token);
      } else m.set(uid, { at: now(), by: new Set([token]) });
      return () => {
        // Let go of this removal only: another of the same pod (another run's, a drain asking
        // again) keeps it counted. An entry settled or past its bound since is gone already.
        const cur = removed.get(workload);
        const entry = cur?.get(uid);
        if (!cur || !entry?.by.delete(token) || entry.by.size > 0) return;
        cur.delete(uid);
        if (cur.size === 0) removed.delete(workload);
      };
    },
    tracked: () => removed.size,
    settle(workload, listed) {
      const m = live(workload);
      if (!m) return;
      const serving = new Set(listed.filter((p) => !p.terminating).map((p) => p.uid));
      for (const uid of m.keys()) if (!serving.has(uid)) m.delete(uid);
      if (m.size === 0) removed.delete(workload);
    },
  };
}
