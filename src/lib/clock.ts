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

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** Days in a month of the proleptic Gregorian calendar RFC 3339 uses (month 1–12). */
function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * Why a text written as an RFC 3339 time names no instant (2026-02-31, T24:00:00,
 * an offset of +24:00), or undefined when it names one or is not written as one at
 * all. Date.parse moves a day or an hour that does not exist to one that does
 * (2026-02-31 is read as March 3rd, T24:00:00 as the next midnight), so the fields
 * are checked first: a mistyped date is refused, never read as another.
 */
export function impossibleTime(text: string): string | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const date = `${m[1]}-${m[2]}-${m[3]}`;
  if (month < 1 || month > 12) return `${date} does not exist: there is no month ${m[2]}`;
  if (day < 1) return `${date} does not exist: there is no day 00`;
  const days = daysIn(year, month);
  if (day > days) return `${date} does not exist: ${MONTHS[month - 1]} ${m[1]} has ${days} days`;
  if (hour > 23 || minute > 59 || second > 59) {
    const time = `${m[4]}:${m[5]}:${m[6]}`;
    return `${time} is not a time of day (00:00:00 to 23:59:59)${hour === 24 && minute === 0 && second === 0 ? ': write 00:00:00 of the next day' : ''}`;
  }
  if (m[8] !== undefined && (Number(m[8]) > 23 || Number(m[9]) > 59)) return `the offset ${text.slice(-6)} does not exist (-23:59 to +23:59)`;
  return undefined;
}

/**
 * An RFC 3339 time (2026-11-24T03:00:00Z, with an offset or fractions) that
 * exists, as epoch milliseconds; undefined for anything else (impossibleTime says
 * why, for a time that does not exist). Date.parse alone takes "1", "Nov 24" or a
 * local time without an offset, each read some other way than meant.
 */
export function parseRfc3339(text: string): number | undefined {
  if (!RFC3339.test(text) || impossibleTime(text) !== undefined) return undefined;
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

/**
 * Why a `--since` value cannot be read, for the message after the option's name;
 * undefined when it can. A time that does not exist is told as such, not as a
 * wrong form.
 */
export function sinceProblem(text: string, now: number): string | undefined {
  if (parseSince(text, now) !== undefined) return undefined;
  return impossibleTime(text) ?? `expected ${SINCE_FORMS}, got ${JSON.stringify(text)}`;
}
