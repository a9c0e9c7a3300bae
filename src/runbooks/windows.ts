import type { TimeWindow } from '../domain/runbook.js';
import { checkKeys, expectMap, has, readString } from './fields.js';
import { describe, type Reporter, type YamlPath } from './problems.js';

/**
 * `windows:` — when a runbook may act on its own. `{days: [mon, tue] | "mon-fri",
 * start: "22:00", end: "06:00", timezone: "Europe/Paris"}`. A window whose end is
 * before its start wraps midnight (one equal to it is refused); `days` names the day
 * the window STARTS on (Friday 22:00–06:00 runs into Saturday morning). `end: "24:00"`
 * means midnight.
 */
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const LONG_DAY_NAMES = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;
const TIME_RE = /^([01]\d|2[0-3]):([0-5]\d)$/;
const ALL_DAYS = [0, 1, 2, 3, 4, 5, 6];

export function compileWindows(r: Reporter, v: unknown, path: YamlPath): TimeWindow[] | undefined {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    r.report(path, `expected a list of windows, got ${r.got(path, v)}`);
    return undefined;
  }
  const before = r.count();
  const out: TimeWindow[] = [];
  v.forEach((item, i) => {
    const w = compileWindow(r, item, [...path, i]);
    if (w) out.push(w);
  });
  return r.count() === before ? out : undefined;
}

function compileWindow(r: Reporter, v: unknown, path: YamlPath): TimeWindow | undefined {
  const m = expectMap(r, v, path);
  if (!m) return undefined;
  const before = r.count();
  checkKeys(r, m, ['days', 'start', 'end', 'timezone'], path);
  const days = has(m, 'days') ? readDays(r, m.days, [...path, 'days']) : { days: ALL_DAYS, text: 'every day' };
  const start = has(m, 'start') ? readTime(r, m.start, [...path, 'start'], false) : missing(r, path, 'start');
  const end = has(m, 'end') ? readTime(r, m.end, [...path, 'end'], true) : missing(r, path, 'end');
  let timezone = 'UTC';
  if (has(m, 'timezone')) {
    const tz = readString(r, m.timezone, [...path, 'timezone']);
    if (tz !== undefined) {
      if (validTimezone(tz)) timezone = tz;
      else r.report([...path, 'timezone'], `unknown time zone ${describe(tz)} (use an IANA name such as "UTC" or "Europe/Paris")`);
    }
  }
  if (start !== undefined && end !== undefined && start === end) {
    r.report(path, 'start and end are the same time; use start: "00:00", end: "24:00" for a whole day');
  }
  if (r.count() !== before || !days || start === undefined || end === undefined) return undefined;
  return { days: days.days, daysText: days.text, startMinute: start, endMinute: end, timezone };
}

function missing(r: Reporter, path: YamlPath, key: string): undefined {
  r.report(path, `missing "${key}"`);
  return undefined;
}

function validTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function readTime(r: Reporter, v: unknown, path: YamlPath, allow24: boolean): number | undefined {
  if (typeof v === 'string') {
    if (allow24 && v === '24:00') return 1440;
    const m = TIME_RE.exec(v);
    if (m) return Number(m[1]) * 60 + Number(m[2]);
  }
  r.report(path, `expected a time "HH:MM" (00:00-23:59${allow24 ? ' or 24:00' : ''}), got ${r.got(path, v)}`);
  return undefined;
}

function dayIndex(name: string): number | undefined {
  const n = name.trim().toLowerCase();
  const short = (DAY_NAMES as readonly string[]).indexOf(n);
  if (short >= 0) return short;
  const long = (LONG_DAY_NAMES as readonly string[]).indexOf(n);
  return long >= 0 ? long : undefined;
}

/**
 * `[mon, wed]`, `"mon-fri"`, `[mon-wed, sat]`; a range may wrap (`fri-mon`). Also
 * answers the days as written (`mon–fri`, `sat, sun`): a reason that named the hours
 * alone would read "22:00–06:00" to someone paged at 23:00 on a Saturday.
 */
function readDays(r: Reporter, v: unknown, path: YamlPath): { days: number[]; text: string } | undefined {
  const items = typeof v === 'string' ? [v] : Array.isArray(v) ? v : undefined;
  if (!items || items.length === 0) {
    r.report(path, `expected day names (mon, tue, …) or a range such as "mon-fri", got ${r.got(path, v)}`);
    return undefined;
  }
  const set = new Set<number>();
  const written: string[] = [];
  for (const [i, item] of items.entries()) {
    const at = typeof v === 'string' ? path : [...path, i];
    if (typeof item !== 'string') {
      r.report(at, `expected a day name, got ${r.got(at, item)}`);
      return undefined;
    }
    const [a, b, ...more] = item.split('-');
    const from = a === undefined ? undefined : dayIndex(a);
    const to = b === undefined ? from : dayIndex(b);
    if (from === undefined || to === undefined || more.length > 0) {
      r.report(at, `expected a day name (${DAY_NAMES.join(', ')}) or a range such as "mon-fri", got ${r.got(at, item)}`);
      return undefined;
    }
    for (let d = from; ; d = (d + 1) % 7) {
      set.add(d);
      if (d === to) break;
    }
    written.push(b === undefined ? item.trim() : `${a!.trim()}–${b.trim()}`);
  }
  return { days: [...set].sort((x, y) => x - y), text: written.join(', ') };
}
