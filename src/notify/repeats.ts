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
  /**
   * Services told one by one per event and runbook within a window (default 10);
   * the decisions for further services are counted into one summary for the runbook.
   */
  servicesPerWindow?: number;
  /** Distinct (event, runbook, service) counted at once at most; past it, decisions are told one by one. */
  maxKeys?: number;
}

interface Window {
  startedAt: number;
  /** Decisions counted, not told. */
  repeats: number;
  latest: NotificationEvent | null;
}

interface RunbookWindow extends Window {
  /** Services told one by one in this window. */
  told: number;
  /** Services whose decisions were only counted. */
  counted: Set<string>;
}

/**
 * Alert storms, told once: a decision that needs a person but will repeat (the
 * same event for the same runbook and service: a storm's rate-limited alerts, its
 * unmatched ones) is told at once, and its repeats within the window are counted,
 * then told as one summary (`repeated`: how many it stands for; its incident is
 * the latest). A storm over many services is bounded too: per event and runbook,
 * the first `servicesPerWindow` services are told one by one and the rest summed
 * up in one message (`repeated_services`: how many services). Without this a
 * storm sends a message per alert, each audited. The messages that matter (an
 * approval request, a breaker trip, an execution's outcome) are never held back:
 * only `blocked` and `manual` decisions are counted (and the queue drops those
 * first when it is full).
 */
export function createRepeatFilter(next: Notify, opts: RepeatFilterOptions): { notify: Notify; flush(all?: boolean): void; pending(): number } {
  const maxKeys = opts.maxKeys ?? 10_000;
  const perRunbook = opts.servicesPerWindow ?? 10;
  const windows = new Map<string, Window>();
  const runbooks = new Map<string, RunbookWindow>();

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

  function runbookSummary(w: RunbookWindow): void {
    const latest = w.latest!;
    const since = new Date(w.startedAt).toISOString();
    const services = w.counted.size;
    next({
      ...latest,
      service: null,
      reason: `${w.repeats} ${latest.event} decision(s) for ${latest.runbook ?? 'no runbook'} on ${services} more service(s) than the ${w.told} told since ${since}; the latest, on ${latest.service ?? 'no service'}: ${latest.reason}`,
      repeated: w.repeats,
      repeated_services: services,
    });
  }

  // A clock stepped back (an NTP correction, a restored VM) ends the window too: timed
  // from its start alone, the repeats would stay untold for the whole step.
  const ended = (w: Window, now: number): boolean => now < w.startedAt || now - w.startedAt >= opts.windowMs;

  /** Ends a window: its summary is told if it counted anything, and it is forgotten. */
  function close<W extends Window>(windowsOf: Map<string, W>, key: string, w: W, tell: (w: W) => void): void {
    if (w.repeats > 0) tell(w);
    windowsOf.delete(key);
  }

  /** Whether a service's first decision in a window may be told, or is counted for its runbook. */
  function mayTell(e: NotificationEvent, now: number): boolean {
    const key = `${e.event}\u0000${e.runbook ?? ''}`;
    let w = runbooks.get(key);
    if (w && ended(w, now)) {
      close(runbooks, key, w, runbookSummary);
      w = undefined;
    }
    if (!w) {
      if (runbooks.size >= maxKeys) return true;
      w = { startedAt: now, repeats: 0, latest: null, told: 0, counted: new Set() };
      runbooks.set(key, w);
    }
    if (w.told < perRunbook && !w.counted.has(e.service ?? '')) {
      w.told++;
      return true;
    }
    w.repeats++;
    w.latest = e;
    if (w.counted.size < maxKeys) w.counted.add(e.service ?? '');
    return false;
  }

  return {
    notify(e) {
      if (opts.windowMs <= 0 || !isRepeatable(e)) return next(e);
      const key = `${e.event}\u0000${e.runbook ?? ''}\u0000${e.service ?? ''}`;
      const now = opts.now();
      const w = windows.get(key);
      if (w && !ended(w, now)) {
        w.repeats++;
        w.latest = e;
        return;
      }
      if (w) close(windows, key, w, summary);
      if (!mayTell(e, now)) return;
      if (windows.size < maxKeys) windows.set(key, { startedAt: now, repeats: 0, latest: null });
      next(e);
    },
    /** Tells the summaries of windows that have ended (all of them with `all`, at shutdown) and forgets those windows. */
    flush(all = false) {
      const now = opts.now();
      for (const [key, w] of windows) if (all || ended(w, now)) close(windows, key, w, summary);
      for (const [key, w] of runbooks) if (all || ended(w, now)) close(runbooks, key, w, runbookSummary);
    },
    pending: () => windows.size + runbooks.size,
  };
}
