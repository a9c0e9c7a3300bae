import { formatDuration, sleep, timerMs } from '../lib/index.js';
import type { CheckOutcome } from '../execute/ports.js';

/**
 * The poll loop every polling check shares (promql, http, kubernetes and the named
 * checks), so "what counts as a pass" and "when a check gives up" are decided in
 * one place:
 *
 * - only an evaluation that returns `pass: true` is a pass; one that throws, hangs
 *   past its own deadline, or returns after the check was aborted is a failed
 *   attempt. A check that cannot tell is a check that failed.
 * - with `forMs > 0` the condition must hold on consecutive polls for that long
 *   (Prometheus' `for:` semantics: a single good sample after a bad one is noise),
 *   counted between the attempts' starts: from the first passing attempt's start to
 *   the latest one's. Each evaluation is told its start (`at`), and a PromQL one asks
 *   Prometheus for that instant, so what is counted is what was seen. (Regression: counted
 *   up to when an answer arrived, an answer 3.2 s late made an 8 s hold of 5 s of
 *   evidence, while the metric had gone bad.)
 * - attempts start every `intervalMs` until the timeout, and when the next one would
 *   fall past it, one last attempt starts at the timeout: a check never gives up
 *   before its timeout while it still could pass. (Regression: a 4 s timeout with a
 *   5 s interval tried once, at 0 s, and failed a fix that was healthy at 1 s; an 8 s
 *   timeout gave up at 5 s.)
 * - an attempt that starts before the timeout is cut off at it, so the last one
 *   starts on time; the last one has its own attempt time (the attempt cap), so a
 *   check ends at most one attempt's time after its timeout, and never past
 *   `limitMs` when one is set.
 * - the loop ends by its own deadlines, not by the evaluation's good will: every
 *   attempt runs under a signal that fires when its time is up, and the loop races
 *   the evaluation against that signal, so an evaluation that ignores its signal
 *   still cannot hang the execution.
 */

/** What one evaluation saw. `detail` says why it failed (or what it saw when it passed). */
export interface Attempt {
  pass: boolean;
  detail: string;
  /** The value observed (a sample, a status code), for the outcome's `observed`. */
  observed?: string;
  /** A failure that measured nothing (no data, NaN, an error, no answer): it cannot tell. */
  unknown?: boolean;
}

/**
 * One evaluation. `budgetMs` is the time this attempt has (its signal fires then), for
 * an evaluation that can tell the far end to stop too (Prometheus' `timeout`). `at` is the
 * attempt's start, in ms since the epoch: the instant a `for` hold counts this attempt at,
 * and the one a query should be evaluated at (Prometheus' `time`).
 */
export type Evaluate = (signal: AbortSignal, budgetMs: number, at: number) => Promise<Attempt>;

export interface PollOptions {
  /** Time between the starts of two attempts. */
  intervalMs: number;
  /**
   * The check's timeout: no attempt starts after it, and the last one starts at it
   * (when the next interval would fall past it). An attempt that starts before it is
   * cut off at it; the last one has its own attempt time.
   */
  timeoutMs: number;
  /**
   * The most the whole check may take, last attempt included, when something waits
   * on it (a MEDIUM runbook's guardrail, checked while Alertmanager waits): the last
   * attempt gets only what is left of it, and is not started with too little.
   * Absent: the last attempt has its whole attempt cap.
   */
  limitMs?: number | undefined;
  /** At most this many attempts; 1 for a snapshot, asked once. Default: no limit. */
  maxAttempts?: number;
  /** How long the condition must keep holding on consecutive polls; 0 = the first pass wins. */
  forMs?: number;
  /**
   * A cap on one attempt; default max(intervalMs, 5s). An attempt that starts before
   * the timeout is also cut off at it; the last is capped by `limitMs` instead.
   */
  attemptTimeoutMs?: number;
  /**
   * An attempt that throws or gets no answer in time measured nothing: marked `unknown`,
   * so a check ending on it is inconclusive (the Prometheus and Kubernetes checks, named
   * or not, where it decides whether `on_no_data` holds a rollback back). The http check
   * leaves it unset.
   */
  noAnswerIsUnknown?: boolean;
  signal: AbortSignal;
  /**
   * Monotonic milliseconds. Deadlines here are for I/O, not decisions, so the default
   * is performance.now(): a wall-clock step (NTP, DST-less but still) must not end or
   * stretch a check.
   */
  now?: () => number;
  /**
   * Milliseconds since the epoch, read once when the check begins; an attempt's `at` is
   * that plus the attempt's (monotonic) start. Default Date.now.
   */
  wallNow?: () => number;
}

const DEFAULT_ATTEMPT_CAP_MS = 5_000;
/** Below this, an attempt is not started: it could not produce an answer worth reporting. */
const MIN_USEFUL_ATTEMPT_MS = 100;

export async function poll(evaluate: Evaluate, opts: PollOptions): Promise<CheckOutcome> {
  const now = opts.now ?? (() => performance.now());
  const intervalMs = Math.max(0, opts.intervalMs);
  const forMs = Math.max(0, opts.forMs ?? 0);
  const maxAttempts = Math.max(1, opts.maxAttempts ?? Infinity);
  const attemptCap = opts.attemptTimeoutMs ?? Math.max(intervalMs, DEFAULT_ATTEMPT_CAP_MS);
  // Scaled to the interval so fast test polls (50 ms) are not cut short.
  const minUseful = Math.min(attemptCap, MIN_USEFUL_ATTEMPT_MS, intervalMs / 2);
  // Every time below is milliseconds since the check began, so the first attempt's
  // budget is exactly the durations given. (Regression: with absolute times,
  // (start + 2000) - start is 2000.0000000002 for some starts, and the first attempt
  // of a 2 s check told Prometheus `timeout=2001ms`.)
  const origin = now();
  const wallOrigin = (opts.wallNow ?? Date.now)();
  const elapsed = () => now() - origin;
  const start = 0;
  const limit = opts.limitMs === undefined ? Infinity : Math.max(0, opts.limitMs);
  const deadline = Math.min(Math.max(0, opts.timeoutMs), limit);

  let attempts = 0;
  let last: Attempt | undefined;
  /** When the current run of consecutive passes began (the first passing attempt's start). */
  let passingSince: number | null = null;
  /** The latest passing attempt's start: how far the run has been seen to hold. */
  let passingUntil = 0;
  /** The next attempt is the last one, planned at the deadline. */
  let lastPlanned = false;

  if (opts.signal.aborted) return failed('aborted before the first attempt', 0);

  for (;;) {
    // The first attempt starts with the check: a tiny timeout must not make it the last
    // or not, depending on how long the line above took.
    let attemptStart = attempts === 0 ? start : elapsed();
    if (attempts > 0 && !lastPlanned && deadline - attemptStart < minUseful) {
      // A timer that fired late (a loaded machine) left this attempt next to no time
      // before the deadline: the last attempt is made at the deadline instead, where a
      // `for` hold may need it (unless the limit leaves it nothing).
      if (limit - deadline < minUseful) break;
      lastPlanned = true;
      try {
        await sleep(Math.ceil(deadline - attemptStart), opts.signal);
      } catch {
        return abortedOutcome(attempts, last);
      }
      attemptStart = elapsed();
    }
    // The last attempt: planned at the deadline (setTimeout fires up to a millisecond
    // early against performance.now(), hence the flag rather than comparing the start
    // with the deadline), or a first one with next to no time before it.
    // The first starts at 0, so `left` is the durations given, exactly.
    const left = deadline - attemptStart;
    const isLast = lastPlanned || left < minUseful;
    // Cut off at the deadline, so that the last attempt starts on time; the last one
    // runs on its own time, within the limit.
    const room = Math.min(attemptCap, (isLast ? limit : deadline) - attemptStart);
    // What the limit left may be too little for an attempt worth reporting: its "no
    // answer within 1ms" would replace the last real observation in the detail.
    // At least one attempt always runs, even with a tiny budget: "no attempt" would
    // otherwise read as a check that never failed.
    if (attempts > 0 && room < minUseful) break;
    // Whole milliseconds: performance.now() is fractional, and the attempt's deadline
    // is a timer's delay.
    const budget = Math.max(1, Math.ceil(room));
    const answered = await attemptOnce(evaluate, opts.signal, budget, Math.round(wallOrigin + attemptStart));
    const attempt = answered.noAnswer && opts.noAnswerIsUnknown && !opts.signal.aborted ? { ...answered, unknown: true } : answered;
    attempts++;
    if (opts.signal.aborted) return abortedOutcome(attempts, last);
    last = attempt;

    if (attempt.pass) {
      passingSince ??= attemptStart;
      passingUntil = attemptStart;
      // Between the attempts' starts, not up to when this answer came: a slow answer
      // says nothing about the time it spent on the way.
      const held = attemptStart - passingSince;
      if (held >= forMs) {
        const detail = forMs > 0 ? `${attempt.detail}, held for ${formatDuration(forMs)}` : attempt.detail;
        return outcome(true, detail, attempts, attempt.observed);
      }
      // The condition cannot be held long enough by the last attempt: stop now
      // rather than burn the remaining budget on a foregone failure.
      if (passingSince + forMs > deadline) break;
    } else {
      passingSince = null;
    }
    if (isLast || attempts >= maxAttempts) break;

    // The next attempt starts one interval after this one started, or now when this
    // one took longer than the interval (a hung Prometheus answered at its deadline).
    let nextStart = Math.max(attemptStart + intervalMs, elapsed());
    // When that falls past the deadline, or so close before it that the attempt
    // would be cut off with next to no time, the last attempt is made at the deadline
    // instead, with its own time. Measured from when it would really start, not the
    // planned start: an attempt that hung until the deadline leaves the next one no
    // time before it (regression: "no answer within 1ms after 2 attempts" for a
    // Prometheus that hung for seconds), so that one is the last.
    if (deadline - nextStart < minUseful) {
      nextStart = Math.max(deadline, elapsed());
      lastPlanned = true;
    }
    if (limit - nextStart < minUseful) break;
    const wait = Math.ceil(nextStart - elapsed());
    if (wait > 0) {
      try {
        await sleep(wait, opts.signal);
      } catch {
        return abortedOutcome(attempts, last);
      }
    }
  }

  if (last?.pass && passingSince !== null) {
    // Floored, as formatDuration is: the time held is never shown as the time required.
    const held = formatDuration(Math.max(0, Math.floor(passingUntil - passingSince)));
    return failed(`${last.detail}, but held only ${held} of the required ${formatDuration(forMs)}`, attempts, last);
  }
  return failed(last?.detail ?? 'no attempt ran', attempts, last);
}

function outcome(ok: boolean, detail: string, attempts: number, observed?: string): CheckOutcome {
  const out: CheckOutcome = { ok, detail, attempts };
  if (observed !== undefined) out.observed = observed;
  return out;
}

function failed(why: string, attempts: number, last?: Attempt): CheckOutcome {
  const detail = attempts > 0 ? `${why} after ${attempts} attempt${attempts === 1 ? '' : 's'}` : why;
  const out = outcome(false, detail, attempts, last?.observed);
  // Judged by the last try: the latest word on what is there now.
  if (last?.unknown === true) out.inconclusive = true;
  return out;
}

/**
 * Stopped by the execution's signal (rectify shutting down): the last reading it had
 * is kept, as a timeout keeps it, so a person checking what the run left sees what the
 * check last measured. An attempt the stop cut short is counted but is no reading.
 */
function abortedOutcome(attempts: number, last?: Attempt): CheckOutcome {
  const out = failed('aborted', attempts, last);
  if (last !== undefined) out.detail = `${out.detail}; last: ${last.detail}`;
  return out;
}

/**
 * One attempt under its own deadline. The race against the attempt signal is the
 * guard against an evaluation that ignores its signal (a hung socket, a buggy
 * named check): the loop moves on, and the attempt counts as failed.
 */
async function attemptOnce(evaluate: Evaluate, parent: AbortSignal, budgetMs: number, at: number): Promise<Attempt & { noAnswer?: true }> {
  // Not withTimeout(): its timer is unref'd, so an evaluation
  // that hangs on nothing (no socket holding the event loop) would let the process
  // exit mid-check instead of failing the attempt. This timer is ref'd and cleared.
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new DOMException('attempt timed out', 'TimeoutError')), timerMs(budgetMs));
  const signal = AbortSignal.any([parent, deadline.signal]);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<Attempt>((resolve) => {
    onAbort = () => resolve(abortedAttempt(parent, budgetMs));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  // Started inside .then so a synchronous throw is a failed attempt, not a crash;
  // the no-op catch keeps a late rejection (after the race was lost) from becoming
  // an unhandled rejection that takes the process down.
  const evaluation = Promise.resolve().then(() => evaluate(signal, budgetMs, at));
  evaluation.catch(() => undefined);
  try {
    const result = await Promise.race([evaluation, aborted]);
    // An evaluation that answers "pass" after its deadline has passed is not
    // trusted: the answer may describe a state older than the deadline allows.
    if (signal.aborted) return abortedAttempt(parent, budgetMs);
    return result;
  } catch (err) {
    if (signal.aborted) return abortedAttempt(parent, budgetMs);
    return { pass: false, detail: describeError(err), noAnswer: true };
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

function abortedAttempt(parent: AbortSignal, budgetMs: number): Attempt & { noAnswer?: true } {
  if (parent.aborted) return { pass: false, detail: 'aborted' };
  return { pass: false, detail: `no answer within ${formatDuration(budgetMs)}`, noAnswer: true };
}

/**
 * A one-line reason for a failed I/O. Node's fetch reports every network failure
 * as `TypeError: fetch failed` and hides the useful part in `cause`; an operator
 * reading the audit log needs "connection refused", not "fetch failed".
 */
export function describeError(err: unknown): string {
  const code = errorCode(err) ?? errorCode((err as { cause?: unknown } | null)?.cause);
  if (code) {
    const known = NETWORK_ERRORS[code];
    if (known) return known;
  }
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return 'timed out';
    if (err.name === 'AbortError') return 'aborted';
    const cause = (err as { cause?: unknown }).cause;
    if (err.message === 'fetch failed' && cause instanceof Error) return cause.message;
    return err.message;
  }
  return String(err);
}

const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host lookup failed (try again)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_HEADERS_TIMEOUT: 'timed out waiting for response headers',
  UND_ERR_BODY_TIMEOUT: 'timed out reading the response body',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
};

function errorCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}
