import type { NotificationEvent, Notify } from './types.js';

/** Decision outcomes that can repeat by the thousand in an alert storm: an alert rectify will not fix on its own. */
const REPEATABLE = new Set(['blocked', 'manual']);

/** A blocked or manual decision: what a storm repeats, summed up here and dropped first from a full queue. */
export function isRepeatable(e: NotificationEvent): boolean {
  return REPEATABLE.has(e.outcome);
}

export interface RepeatFilterOptions {
  /** How long after telling a decision its repeats are only counted (0: every decision is told). */
  windowMs: number;
  now: () => number;
  /** Distinct (event, runbook, service) counted at once at most; past it, decisions are told one by one. */
  maxKeys?: number;
}

interface Window {
  startedAt: number;
  repeats: number;
  latest: NotificationEvent | null;
}

/**
 * Alert storms, told once: a decision that needs a person but will repeat (the
 * same event for the same runbook and service: a storm's rate-limited alerts, its
 * unmatched ones) is told at once, and its repeats within the window are counted,
 * then told as one summary (`repeated`: how many it stands for; its incident is
 * the latest). Without this a storm sends a message per alert, each audited. The
 * messages that matter (an approval request, a breaker trip, an execution's
 * outcome) are never held back: only `blocked` and `manual` decisions are counted
 * (and the queue drops those first when it is full).
 */
export function createRepeatFilter(next: Notify, opts: RepeatFilterOptions): { notify: Notify; flush(all?: boolean): void; pending(): number } {
  const maxKeys = opts.maxKeys ?? 10_000;
  const windows = new Map<string, Window>();

  function summary(w: Window): void {
    const latest = w.latest!;
    const since = new Date(w.startedAt).toISOString();
    const subject = `${latest.runbook ?? 'no runbook'} on ${latest.service ?? 'no service'}`;
    next({
      ...latest,
      reason: `${w.repeats} more ${latest.event} decision(s) for ${subject} since ${since}; the latest: ${latest.reason}`,
      repeated: w.repeats,
    });
  }

  return {
    notify(e) {
      if (opts.windowMs <= 0 || !isRepeatable(e)) return next(e);
      const key = `${e.event}\u0000${e.runbook ?? ''}\u0000${e.service ?? ''}`;
      const now = opts.now();
      const w = windows.get(key);
      if (w && now - w.startedAt < opts.windowMs) {
        w.repeats++;
        w.latest = e;
        return;
      }
      if (w) {
        if (w.repeats > 0) summary(w);
        windows.delete(key);
      }
      if (windows.size < maxKeys) windows.set(key, { startedAt: now, repeats: 0, latest: null });
      next(e);
    },
    /** Tells the summaries of windows that have ended (all of them with `all`, at shutdown) and forgets those windows. */
    flush(all = false) {
      const now = opts.now();
      for (const [key, w] of windows) {
        if (!all && now - w.startedAt < opts.windowMs) continue;
        if (w.repeats > 0) summary(w);
        windows.delete(key);
      }
    },
    pending: () => windows.size,
  };
}
