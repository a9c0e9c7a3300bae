/** Parses "30s", "5m", "1h", "1h30m", "250ms" (Prometheus-style) into milliseconds. */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/**
 * Each unit at most once, largest first, as Prometheus takes them: "1m1m" (two minutes)
 * or "30m1h" (ninety) is a slip, more likely meant as something else, and is refused
 * (durationHint says how to write it) rather than summed.
 */
const DURATION_RE = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
/** Any sequence of number-unit parts: what durationHint recognises as a duration written out of order. */
const LOOSE_RE = /^(?:\d+(?:ms|s|m|h|d))+$/;
const PART_RE = /(\d+)(ms|s|m|h|d)/g;
const UNITS_LARGEST_FIRST = ['d', 'h', 'm', 's', 'ms'] as const;

export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '' || !DURATION_RE.test(trimmed)) return undefined;
  return sumParts(trimmed);
}

function sumParts(text: string): number {
  let total = 0;
  for (const m of text.matchAll(PART_RE)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return total;
}

/**
 * Said after a refusal of `text` as a duration when it is one written with a unit twice
 * or out of order ("30m1h"): how to write what it adds up to (" (each unit at most once,
 * largest first; this adds up to 1h30m)"); the empty string otherwise.
 */
export function durationHint(text: unknown): string {
  if (typeof text !== 'string') return '';
  const trimmed = text.trim();
  if (!LOOSE_RE.test(trimmed) || DURATION_RE.test(trimmed)) return '';
  let rest = sumParts(trimmed);
  let written = '';
  for (const unit of UNITS_LARGEST_FIRST) {
    const n = Math.floor(rest / UNIT_MS[unit]!);
    if (n > 0) written += `${n}${unit}`;
    rest -= n * UNIT_MS[unit]!;
  }
  return ` (each unit at most once, largest first; this adds up to ${written || '0s'})`;
}

/**
 * The longest duration taken anywhere (config, runbooks, `--since`): ten years.
 * `approval_ttl: 100000000000h` was accepted, and every approval it would have opened
 * ended past the last date JavaScript can hold: each such alert was answered 500 and
 * nobody was asked; `--since 999999999d` was a time before it, and the CLI crashed.
 */
export const MAX_DURATION = { ms: 3650 * 86_400_000, said: '3650d (ten years)' } as const;

/**
 * "250ms", "59.6s", "1m30s", "2h15m", "1h0m29.6s". Never rounded up nor cut short: a
 * check that held 59.6 s of a required minute read "held only 1m of the required 1m",
 * and one that held 3629.6 s of 3630 "held only 1h of the required 1h". Whatever is left
 * under the largest unit is written out, a part of a second to the millisecond (minutes
 * as 0m between hours and seconds, as Go writes durations); exact values stay short
 * ("1h", "2h30m").
 */
export function formatDuration(ms: number): string {
  const whole = Math.floor(ms);
  if (whole < 1000) return `${whole}ms`;
  const h = Math.floor(whole / 3_600_000);
  const underHour = whole % 3_600_000;
  const m = Math.floor(underHour / 60_000);
  const rest = underHour % 60_000;
  // Whole milliseconds, so three decimals are exact; trailing zeros dropped (1.5s, not 1.500s).
  const s = rest % 1000 === 0 ? String(rest / 1000) : (rest / 1000).toFixed(3).replace(/0+$/, '');
  const hours = h > 0 ? `${h}h` : '';
  if (rest === 0) return m > 0 ? `${hours}${m}m` : hours;
  return h > 0 || m > 0 ? `${hours}${m}m${s}s` : `${s}s`;
}
