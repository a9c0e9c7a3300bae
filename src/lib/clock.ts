import { parseDuration } from './durations.js';

/**
 * Time comes from an injected clock, never `Date.now()` inside decision logic,
 * so guardrail windows (rate limits, cooldowns, breaker recovery, approval
 * expiry) can be tested exactly and replayed on a simulated clock.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = Object.freeze({ now: () => Date.now() });

/** A clock that only moves when told to: for tests and replay. */
export interface ManualClock extends Clock {
  set(ms: number): void;
  advance(ms: number): void;
}

export function createManualClock(startMs = Date.UTC(2026, 0, 1)): ManualClock {
  let t = startMs;
  return {
    now: () => t,
    set: (ms) => {
      t = ms;
    },
    advance: (ms) => {
      t += ms;
    },
  };
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * An RFC 3339 time (2026-11-24T03:00:00Z, with an offset or fractions), as epoch
 * milliseconds; undefined for anything else. Date.parse alone takes "1", "Nov 24"
 * or a local time without an offset, each read some other way than meant.
 */
export function parseRfc3339(text: string): number | undefined {
  if (!RFC3339.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** What a `--since` takes, as every command's message says it. */
export const SINCE_FORMS = 'an RFC 3339 time (2026-11-24T03:00:00Z) or a duration back from now (1h, 30m)';

/**
 * A `--since` value: an RFC 3339 time, or a duration back from `now` ("1h": the last
 * hour), as epoch milliseconds; undefined for anything else. `rectify audit` and
 * `rectify audit export` read it the same way.
 */
export function parseSince(text: string, now: number): number | undefined {
  const back = parseDuration(text);
  return back !== undefined ? now - back : parseRfc3339(text);
}
