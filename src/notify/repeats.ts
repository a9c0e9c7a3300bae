import { createHash } from 'node:crypto';
import type { NotificationEvent, Notify } from './types.js';

/** Decision outcomes that can repeat by the thousand in an alert storm: an alert rectify will not fix on its own. */
const REPEATABLE = new Set(['blocked', 'manual']);

/** A blocked or manual decision: what a storm repeats, summed up here and dropped first from a full queue. */
export function isRepeatable(e: NotificationEvent): boolean {
  return REPEATABLE.has(e.outcome);
}

/** A window's latest decision keeps at most this much of its reason in a snapshot. */
export const REPEAT_REASON_MAX = 500;

/** Longest service name a window's `counted` keeps as it is (see countedKey). */
export const COUNTED_NAME_MAX = 64;

/**
 * How a runbook window's `counted` keeps a service: its name, or one longer than
 * COUNTED_NAME_MAX as a fixed-size digest of it (51 characters, itself kept as it is,
 * so a checkpoint's key read back is the same key). Up to `maxKeys` services are kept
 * per window and written whole to every checkpoint: long names made it megabytes.
 * Only whether a service was counted, and how many were, is read from it.
 */
export function countedKey(service: string): string {
  if (service.length <= COUNTED_NAME_MAX) return service;
  return `\u0000sha256:${createHash('sha256').update(service).digest('base64url')}`;
}

/** A checkpoint's `counted`, each name kept as countedKey keeps it (anything but a name as it was: a damaged checkpoint does not fail a start). */
function restoredCounted(counted: unknown): Set<string> {
  if (!Array.isArray(counted)) return new Set(counted as Iterable<string>);
  return new Set(counted.map((c: unknown) => (typeof c === 'string' ? countedKey(c) : (c as string))));
}

/** What a snapshot keeps of a window's latest decision: what its summary tells. */
function kept(e: NotificationEvent | null): NotificationEvent | null {
  if (!e) return null;
  const reason = e.reason.length > REPEAT_REASON_MAX ? `${e.reason.slice(0, REPEAT_REASON_MAX - 1)}\u2026` : e.reason;
  return { event: e.event, incident_id: e.incident_id, runbook: e.runbook, service: e.service, execution_id: e.execution_id, approval_id: e.approval_id, outcome: e.outcome, reason, at: e.at };
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
  /**
   * A summary is held back (see `takeHeld`) until the checkpoint that records its window
   * closed is written, then told (`release`). Told before it, a crash would leave the window
   * open in the last checkpoint, and the next start would tell the summary again.
   */
  holdSummaries?: boolean;
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
  /** Services whose decisions were only counted (a long name as its digest: countedKey). */
  counted: Set<string>;
}

/**
 * The filter's state as data (JSON): its windows, what each has counted and its latest
 * decision. What a start reads back from the audit log is counted on top of it (see
 * engine/repeats-readback.ts), so a crash does not lose the repeats counted in memory.
 */
export interface RepeatState {
  windows: Array<[string, Window]>;
  runbooks: Array<[string, Omit<RunbookWindow, 'counted'> & { counted: string[] }]>;
}

export interface RepeatFilter {
  notify: Notify;
  /** Tells the summaries of windows that have ended (all of them with `all`: at shutdown, and after a read-back at start) and forgets those windows. `note` ends each summary's reason. */
  flush(all?: boolean, note?: string): void;
  /** Windows open. */
  pending(): number;
  /** How many times the state has changed so far: a checkpoint is taken and written only when that moved. */
  changes(): number;
  /** Summaries owed: windows that counted a repeat, and those a restore found closed after the checkpoint (see `restore`). */
  owed(): number;
  /**
   * With `holdSummaries`: the summaries of the windows closed since the last call, taken
   * out of the filter in the same synchronous step as the `snapshot` of a checkpoint; told
   * by `release` once that checkpoint is written.
   */
  takeHeld(): NotificationEvent[];
  /** Tells summaries taken by `takeHeld`, in order. */
  release(summaries: readonly NotificationEvent[]): void;
  /**
   * The state as data, and `changes()` as of it: what a restore needs, no more (of a
   * window's latest decision, the fields a summary tells, its reason cut to
   * REPEAT_REASON_MAX characters), so a storm's checkpoint stays small.
   */
  snapshot(): { state: RepeatState; changes: number };
  /**
   * Takes `state` (a snapshot) as its own, then counts `decisions` (in the order they were
   * decided, each at its own time) as they were counted before: telling none of them.
   * What it holds after is what the filter held when the last of them was counted. A window
   * one of them closed had its summary told then, without `holdSummaries`; with it, its
   * summary waited for a checkpoint after that decision, and `state` is the last one
   * written: never told, it is owed, told by the next `flush`. Without `state` (none, or too
   * old to be taken), such a window is taken as told.
   */
  restore(state: RepeatState | undefined, decisions: Iterable<NotificationEvent>): void;
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
 * first when it is full). The counts live in memory: see `snapshot` and `restore`
 * for how a start gets back those a crash cut off.
 */
export function createRepeatFilter(next: Notify, opts: RepeatFilterOptions): RepeatFilter {
  const maxKeys = opts.maxKeys ?? 10_000;
  const perRunbook = opts.servicesPerWindow ?? 10;
  let windows = new Map<string, Window>();
  let runbooks = new Map<string, RunbookWindow>();
  let changes = 0;
  /** Counting decisions told before a restart again: nothing is told. */
  let replaying = false;
  /** Whether a window closed while replaying is owed (see `restore`). */
  let closedOwed = false;
  /** Windows closed while replaying whose summary is owed: told by the next flush, with its note. */
  let closedInReplay: Array<(note: string | undefined) => NotificationEvent> = [];
  /** With `holdSummaries`: summaries waiting for the checkpoint that records their windows closed. */
  let held: NotificationEvent[] = [];

  /** A summary: told at once, or held back for its checkpoint. */
  function send(e: NotificationEvent): void {
    if (opts.holdSummaries) held.push(e);
    else next(e);
  }

  function summary(w: Window, note = ''): NotificationEvent {
    const latest = w.latest!;
    const since = new Date(w.startedAt).toISOString();
    const subject = `${latest.runbook ?? 'no runbook'} on ${latest.service ?? 'no service'}`;
    return {
      ...latest,
      reason: `${w.repeats} more ${latest.event} decision(s) for ${subject} since ${since}; the latest: ${latest.reason}${note}`,
      repeated: w.repeats,
    };
  }

  function runbookSummary(w: RunbookWindow, note = ''): NotificationEvent {
    const latest = w.latest!;
    const since = new Date(w.startedAt).toISOString();
    const services = w.counted.size;
    return {
      ...latest,
      service: null,
      reason: `${w.repeats} ${latest.event} decision(s) for ${latest.runbook ?? 'no runbook'} on ${services} more service(s) than the ${w.told} told since ${since}; the latest, on ${latest.service ?? 'no service'}: ${latest.reason}${note}`,
      repeated: w.repeats,
      repeated_services: services,
    };
  }

  // A clock stepped back (an NTP correction, a restored VM) ends the window too: timed
  // from its start alone, the repeats would stay untold for the whole step.
  const ended = (w: Window, now: number): boolean => now < w.startedAt || now - w.startedAt >= opts.windowMs;

  /** Ends a window: its summary is told if it counted anything (see `restore` while replaying), and it is forgotten. */
  function close<W extends Window>(windowsOf: Map<string, W>, key: string, w: W, build: (w: W, note?: string) => NotificationEvent, note?: string): void {
    windowsOf.delete(key);
    if (w.repeats === 0) return;
    if (!replaying) send(build(w, note));
    else if (closedOwed) closedInReplay.push((n) => build(w, n));
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
    const service = countedKey(e.service ?? '');
    if (w.told < perRunbook && !w.counted.has(service)) {
      w.told++;
      return true;
    }
    w.repeats++;
    w.latest = e;
    if (w.counted.size < maxKeys) w.counted.add(service);
    return false;
  }

  /** One repeatable decision at `now`: told, or counted. */
  function count(e: NotificationEvent, now: number): void {
    changes++;
    const key = `${e.event}\u0000${e.runbook ?? ''}\u0000${e.service ?? ''}`;
    const w = windows.get(key);
    if (w && !ended(w, now)) {
      w.repeats++;
      w.latest = e;
      return;
    }
    if (w) close(windows, key, w, summary);
    if (!mayTell(e, now)) return;
    if (windows.size < maxKeys) windows.set(key, { startedAt: now, repeats: 0, latest: null });
    if (!replaying) next(e);
  }

  return {
    notify(e) {
      if (opts.windowMs <= 0 || !isRepeatable(e)) return next(e);
      count(e, opts.now());
    },
    flush(all = false, note?: string) {
      const now = opts.now();
      if (closedInReplay.length > 0) {
        changes++;
        for (const build of closedInReplay) send(build(note));
        closedInReplay = [];
      }
      for (const [key, w] of windows) {
        if (!all && !ended(w, now)) continue;
        changes++;
        close(windows, key, w, summary, note);
      }
      for (const [key, w] of runbooks) {
        if (!all && !ended(w, now)) continue;
        changes++;
        close(runbooks, key, w, runbookSummary, note);
      }
    },
    pending: () => windows.size + runbooks.size,
    changes: () => changes,
    owed: () => closedInReplay.length + [...windows.values(), ...runbooks.values()].filter((w) => w.repeats > 0).length,
    takeHeld() {
      const taken = held;
      held = [];
      return taken;
    },
    release(summaries) {
      for (const e of summaries) next(e);
    },
    snapshot: () => ({
      state: {
        windows: [...windows].map(([k, w]) => [k, { startedAt: w.startedAt, repeats: w.repeats, latest: kept(w.latest) }]),
        runbooks: [...runbooks].map(([k, w]) => [k, { startedAt: w.startedAt, repeats: w.repeats, latest: kept(w.latest), told: w.told, counted: [...w.counted] }]),
      },
      changes,
    }),
    restore(state, decisions) {
      windows = new Map(state?.windows.map(([k, w]) => [k, { ...w }]));
      // A checkpoint of an earlier version kept long names whole: kept as they are kept now.
      runbooks = new Map(state?.runbooks.map(([k, w]) => [k, { ...w, counted: restoredCounted(w.counted) }]));
      closedInReplay = [];
      changes++;
      if (opts.windowMs <= 0) return;
      // Told before the restart one by one: not told again. A summary, see above.
      replaying = true;
      closedOwed = opts.holdSummaries === true && state !== undefined;
      try {
        for (const e of decisions) if (isRepeatable(e)) count(e, e.at);
      } finally {
        replaying = false;
      }
    },
  };
}
