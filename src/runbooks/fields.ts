import { MAX_DURATION } from '../lib/durations.js';
import { didYouMean } from '../lib/suggest.js';
import { describe, type Reporter, type YamlPath } from './problems.js';

/**
 * Small typed readers over plain YAML values. Each returns the value or
 * `undefined` after reporting exactly one problem for that path, so callers can
 * keep going and collect every problem in the file.
 */
export type YamlMap = Record<string, unknown>;

export function isMapValue(v: unknown): v is YamlMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function has(obj: YamlMap, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key) && obj[key] !== undefined;
}

export function expectMap(r: Reporter, v: unknown, path: YamlPath, what = 'a map'): YamlMap | undefined {
  if (isMapValue(v)) return v;
  r.report(path, `expected ${what}, got ${r.got(path, v)}`);
  return undefined;
}

/** Unknown keys are errors, with the nearest known key as a hint (rulefmt's strictness). */
export function checkKeys(r: Reporter, obj: YamlMap, known: readonly string[], path: YamlPath): void {
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue;
    // `<<: *base` is a merge only in YAML 1.1; no known key is near it.
    if (r.keyAt([...path, key])?.written === '<<') r.report([...path, key], 'unknown key: << is no merge in YAML 1.2, where it is a key like any other; write the keys out', 'key');
    else r.report([...path, key], `unknown key${didYouMean(key, known)}`, 'key');
  }
}

/** @param placeholders whether the field is a template (its `{name}`s are filled), for what a `{name}` read as a map is told. */
export function readString(r: Reporter, v: unknown, path: YamlPath, placeholders = false): string | undefined {
  if (typeof v === 'string') return v;
  r.report(path, `expected a string, got ${r.got(path, v, placeholders)}`);
  return undefined;
}

/**
 * A number or true/false given where text is taken (a command argument, a header value),
 * as text. YAML reads `1.10` as the number 1.1, `0x1F` as 31, `0o644` as 420, `1e3` as
 * 1000, `.inf` as Infinity and `True` as true, and a number past 2^53 loses digits: the
 * text of what was read is not what was written, and would be run or sent all the same.
 * So one that does not read back as written is refused (quote it); `5` and `true` stay.
 * @param what the field, for the message: "an argument", "a header value".
 */
export function scalarAsText(r: Reporter, v: number | boolean, path: YamlPath, what: string): string | undefined {
  const read = String(v);
  const written = r.written(path) ?? read;
  if (written === read) return read;
  r.report(path, `${written} is read as the ${typeof v === 'number' ? 'number' : 'boolean'} ${read}, not as the text written; ${what} is text: quote it (${JSON.stringify(written)})`);
  return undefined;
}

/** @param placeholders as for readString. */
export function readNonEmptyString(r: Reporter, v: unknown, path: YamlPath, placeholders = false): string | undefined {
  if (typeof v === 'string' && v.trim() !== '') return v;
  r.report(path, `expected a non-empty string, got ${r.got(path, v, placeholders)}`);
  return undefined;
}

export function readPositiveInt(r: Reporter, v: unknown, path: YamlPath): number | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return v;
  r.report(path, `expected a positive integer, got ${r.got(path, v)}`);
  return undefined;
}

export function readNonNegativeNumber(r: Reporter, v: unknown, path: YamlPath): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  r.report(path, `expected a number >= 0, got ${r.got(path, v)}`);
  return undefined;
}

export function readPositiveNumber(r: Reporter, v: unknown, path: YamlPath): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v;
  r.report(path, `expected a number > 0, got ${r.got(path, v)}`);
  return undefined;
}

export function readFraction(r: Reporter, v: unknown, path: YamlPath): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1) return v;
  r.report(path, `expected a number from 0 to 1, got ${r.got(path, v)}`);
  return undefined;
}

export function readBool(r: Reporter, v: unknown, path: YamlPath): boolean | undefined {
  if (typeof v === 'boolean') return v;
  r.report(path, `expected true or false, got ${r.got(path, v)}`);
  return undefined;
}

export function readOneOf<T extends string>(r: Reporter, v: unknown, allowed: readonly T[], path: YamlPath): T | undefined {
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
  const hint = typeof v === 'string' ? didYouMean(v, allowed) : '';
  r.report(path, `expected one of ${allowed.join(', ')}, got ${r.got(path, v)}${hint}`);
  return undefined;
}

export function readStringList(r: Reporter, v: unknown, path: YamlPath): string[] | undefined {
  if (!Array.isArray(v)) {
    r.report(path, `expected a list of strings, got ${r.got(path, v)}`);
    return undefined;
  }
  const out: string[] = [];
  let ok = true;
  v.forEach((item, i) => {
    const s = readString(r, item, [...path, i]);
    if (s === undefined) ok = false;
    else out.push(s);
  });
  return ok ? out : undefined;
}

/** A list, or null/absent as an empty list. A single item is not silently wrapped. */
export function readList(r: Reporter, v: unknown, path: YamlPath): unknown[] | undefined {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v;
  r.report(path, `expected a list, got ${r.got(path, v)}`);
  return undefined;
}

/** The longest time a runbook may give in seconds: ten years, as every duration rectify reads. */
export const MAX_SECONDS = MAX_DURATION.ms / 1000;

/**
 * Seconds as a number (`30`, `0.5`), returned in whole milliseconds. Checked after the
 * rounding: `timeout_seconds: 0.0004` is more than 0 but ran as 0 ms, and `min`
 * (an interval's) holds for what is run, not for what was written.
 */
export function readSecondsMs(r: Reporter, v: unknown, path: YamlPath, opts: { allowZero: boolean; min?: { ms: number; why: string } }): number | undefined {
  if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0 || (opts.allowZero && v === 0))) {
    r.report(path, `expected a number of seconds${opts.allowZero ? ' >= 0' : ' > 0'}, got ${r.got(path, v)}`);
    return undefined;
  }
  if (v > MAX_SECONDS) {
    r.report(path, `expected at most ${MAX_SECONDS} seconds (ten years), got ${r.got(path, v)}`);
    return undefined;
  }
  const ms = Math.round(v * 1000);
  if (v > 0 && opts.min !== undefined && ms < opts.min.ms) {
    const least = opts.min.ms / 1000;
    r.report(path, `expected at least ${least} ${least === 1 ? 'second' : 'seconds'}, got ${r.got(path, v)}: ${opts.min.why}`);
    return undefined;
  }
  if (v > 0 && ms === 0) {
    r.report(path, `${describe(v)} seconds is less than a millisecond, and rectify counts whole milliseconds, so it would be 0: write at least 0.001${opts.allowZero ? ', or 0' : ''}`);
    return undefined;
  }
  return ms;
}

/**
 * The shortest `interval_seconds` of a check: ten tries a second. One that rounded to
 * 0 ms polled back to back (3124 tries in one second), against the target being fixed.
 */
export const MIN_INTERVAL_MS = 100;

/** A check's `interval_seconds`, in milliseconds: at least MIN_INTERVAL_MS. */
export function readIntervalMs(r: Reporter, v: unknown, path: YamlPath): number | undefined {
  return readSecondsMs(r, v, path, { allowZero: false, min: { ms: MIN_INTERVAL_MS, why: 'a shorter interval tries the check back to back, thousands of times a second' } });
}

/** `200` or `[200, 299]`: an inclusive range of HTTP status codes. */
export function readStatusRange(r: Reporter, v: unknown, path: YamlPath): [number, number] | undefined {
  const isStatus = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 100 && n <= 599;
  if (isStatus(v)) return [v, v];
  if (Array.isArray(v) && v.length === 2 && isStatus(v[0]) && isStatus(v[1]) && v[0] <= v[1]) return [v[0], v[1]];
  r.report(path, `expected a status code (100-599) or a range [low, high], got ${Array.isArray(v) ? JSON.stringify(v) : r.got(path, v)}`);
  return undefined;
}

export function readNumberParam(r: Reporter, v: unknown, path: YamlPath): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  r.report(path, `expected a number, got ${r.got(path, v)}`);
  return undefined;
}
