import type { Logger } from 'pino';
import type { Clock } from '../lib/index.js';
import { UNAVAILABLE_CODES, type UnavailableCode } from '../observability/metrics.js';

export { UNAVAILABLE_CODES, type UnavailableCode };

/** A request answered 503 with an error code: what the log and the counter are told of it. */
export interface UnavailableAnswer {
  code: UnavailableCode;
  /** The route's template (`/api/v1/incidents`), never the request's URL; `*` for a request no route matched. */
  route: string;
  reqId: string;
  method: string;
  caller: string | null;
  /** The error answered (its cause says why), absent for SHUTTING_DOWN. */
  err?: unknown;
}

export interface UnavailableAnswersDeps {
  log: Logger;
  clock: Clock;
  /** Counts every 503 answered (rectify_http_unavailable_total). */
  count?: (route: string, code: UnavailableCode) => void;
  /**
   * At most one summary line per code in this long while the 503s go on (default a
   * minute); five of them with no 503 and no request answered again, and the next 503
   * is told as a new start.
   */
  windowMs?: number;
}

/** The codes told as a streak: a store fault or an overload answers every request alike while it lasts. */
const STREAK_CODES: ReadonlySet<UnavailableCode> = new Set(['STORE_UNAVAILABLE', 'OVERLOADED']);

interface Streak {
  /** When its first 503 was answered (wall clock, for the lines). */
  from: number;
  /** When its last 503 was answered (monotonic). */
  lastAt: number;
  /** Set once a request is answered again less than a window after the last line: tells the end when the window is up. */
  endTimer: ReturnType<typeof setTimeout> | null;
  /** When a request was first answered again, the end told later (wall clock): the end line's `to`. */
  againAt?: number;
  /** 503s answered in it, and those answered since its last line. */
  total: number;
  untold: number;
  cause: string;
  /** The routes answered 503: the first of them to answer a request below 400 again ends it. */
  routes: Set<string>;
}

/** Why the request was answered 503: the store's own fault (the error's cause), else the error's message. */
function causeOf(err: unknown): string {
  const e = err as { message?: unknown; cause?: unknown } | null | undefined;
  const cause = e?.cause as { message?: unknown; code?: unknown } | undefined;
  if (cause && typeof cause.message === 'string') return typeof cause.code === 'string' && !cause.message.startsWith(cause.code) ? `${cause.code}: ${cause.message}` : cause.message;
  return typeof e?.message === 'string' ? e.message : String(err);
}

/**
 * The 503s a store fault (STORE_UNAVAILABLE: a lock held elsewhere, a full disk, a
 * read-only file) or an overload (OVERLOADED: more than --max-pending writes waiting)
 * answers are told as one story, not one error line with its stack per request: in an
 * alert storm those lines would bury everything else in the log. The first 503 of a
 * code writes one line (with the error and its cause); while they go on, at most one
 * line per `windowMs` says how many more were answered and why; once a request to a
 * route that was answered 503 is answered below 400 again, one line says how many were
 * answered 503 in all. Lines of one code are at most one per `windowMs`: under an
 * overload that comes and goes with every commit (202s between 503s) the end is told
 * once no 503 has followed for the rest of the minute, and a 503 soon after an end
 * line takes the story up again without a new start. Five minutes with no 503 and no
 * such request, and the next 503 is told as a start again. Each request is at debug.
 * Every 503 with a code (SHUTTING_DOWN too) is counted.
 */
export function createUnavailableAnswers(deps: UnavailableAnswersDeps): {
  answered(a: UnavailableAnswer): void;
  settled(route: string, status: number): void;
} {
  const windowMs = deps.windowMs ?? 60_000;
  const quietMs = 5 * windowMs;
  // Keyed by code: two keys at most, whatever the senders do.
  const streaks = new Map<UnavailableCode, Streak>();
  /** When the last line of each code was written (monotonic): at most one a window. */
  const toldAt = new Map<UnavailableCode, number>();
  const iso = (ms: number): string => new Date(ms).toISOString();
  const mono = (): number => deps.clock.monotonic?.() ?? deps.clock.now();
  /** Whether a line of `code` may be written now. A wall clock stepped back (no monotonic one) ends the window too, as a refusal's does. */
  const due = (code: UnavailableCode, at: number): boolean => {
    const last = toldAt.get(code);
    return last === undefined || at < last || at - last >= windowMs;
  };

  function tellEnd(code: UnavailableCode, s: Streak, route: string): void {
    streaks.delete(code);
    if (s.endTimer) clearTimeout(s.endTimer);
    toldAt.set(code, mono());
    deps.log.warn({ code, answered_503: s.total, from: iso(s.from), to: iso(s.againAt ?? deps.clock.now()), last_cause: s.cause, route }, `requests are answered again after 503 ${code}`);
  }

  return {
    answered(a: UnavailableAnswer): void {
      deps.count?.(a.route, a.code);
      if (!STREAK_CODES.has(a.code)) return;
      const cause = causeOf(a.err);
      const request = { reqId: a.reqId, method: a.method, route: a.route, caller: a.caller };
      deps.log.debug({ code: a.code, cause, ...request }, 'request answered 503');
      const at = mono();
      let s = streaks.get(a.code);
      // Quiet for a while with no request answered again on its routes (no sender tried
      // them): whether it ended is not known, so the next 503 is told as a new start,
      // with the error and its cause, saying how many were answered before.
      const quiet = s !== undefined && (at < s.lastAt || at - s.lastAt >= quietMs);
      if (!s || quiet) {
        const earlier = s ? { earlier: { answered_503: s.total, from: iso(s.from), last_cause: s.cause } } : {};
        if (s?.endTimer) clearTimeout(s.endTimer);
        const told = due(a.code, at);
        s = { from: deps.clock.now(), lastAt: at, total: 1, untold: told ? 0 : 1, cause, routes: new Set([a.route]), endTimer: null };
        streaks.set(a.code, s);
        // Within a minute of an end line: taken up again, told in the next line.
        if (!told) return;
        toldAt.set(a.code, at);
        const fields = { err: a.err, code: a.code, cause, ...request, ...earlier };
        if (a.code === 'STORE_UNAVAILABLE') deps.log.error(fields, 'requests are answered 503 STORE_UNAVAILABLE: the database cannot commit (nothing of them is recorded; senders retry)');
        else deps.log.warn(fields, 'requests are answered 503 OVERLOADED: more writes wait to be recorded than --max-pending (nothing of them is recorded; senders retry)');
        return;
      }
      // Answered again for a moment, and 503 again: the same story goes on.
      if (s.endTimer) clearTimeout(s.endTimer);
      s.endTimer = null;
      delete s.againAt;
      s.total++;
      s.untold++;
      s.lastAt = at;
      s.cause = cause;
      s.routes.add(a.route);
      if (!due(a.code, at)) return;
      toldAt.set(a.code, at);
      deps.log.warn({ code: a.code, more: s.untold, since: iso(s.from), cause }, `more requests answered 503 ${a.code}`);
      s.untold = 0;
    },
    settled(route: string, status: number): void {
      if (streaks.size === 0 || status >= 400) return;
      for (const [code, s] of streaks) {
        if (!s.routes.has(route)) continue;
        if (due(code, mono())) {
          tellEnd(code, s, route);
          continue;
        }
        // A line of it was written less than a window ago: the end is told when the
        // window is up, unless a 503 comes first (then it goes on).
        if (s.endTimer) continue;
        s.againAt = deps.clock.now();
        const wait = windowMs - (mono() - (toldAt.get(code) ?? 0));
        s.endTimer = setTimeout(() => {
          if (streaks.get(code) === s) tellEnd(code, s, route);
        }, Math.max(0, wait));
        s.endTimer.unref();
      }
    },
  };
}
