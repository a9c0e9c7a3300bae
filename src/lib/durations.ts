/** Parses "30s", "5m", "1h", "1h30m", "250ms" (Prometheus-style) into milliseconds. */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_RE = /^(?:(\d+)(ms|s|m|h|d))+$/;
const PART_RE = /(\d+)(ms|s|m|h|d)/g;

/**
 * The longest duration taken anywhere (config, runbooks, `--since`): ten years.
 * `approval_ttl: 100000000000h` was accepted, and every approval it would have opened
 * ended past the last date JavaScript can hold: each such alert was answered 500 and
 * nobody was asked; `--since 999999999d` was a time before it, and the CLI crashed.
 */
export const MAX_DURATION = { ms: 3650 * 86_400_000, said: '3650d (ten years)' } as const;

export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!DURATION_RE.test(trimmed)) return undefined;
  let total = 0;
  for (const m of trimmed.matchAll(PART_RE)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return total;
}

/**
 * "250ms", "59.6s", "1m30s", "2h15m". Never rounded up: a check that held 59.6 s of a
 * required minute read "held only 1m of the required 1m". Below an hour a part of a
 * second is written out (to the millisecond); from an hour on, the minutes are floored.
 */
export function formatDuration(ms: number): string {
  const whole = Math.floor(ms);
  if (whole < 1000) return `${whole}ms`;
  const h = Math.floor(whole / 3_600_000);
  if (h > 0) {
    const rm = Math.floor((whole % 3_600_000) / 60_000);
    return rm ? `${h}h${rm}m` : `${h}h`;
  }
  const m = Math.floor(whole / 60_000);
  const rest = whole % 60_000;
  // Whole milliseconds, so three decimals are exact; trailing zeros dropped (1.5s, not 1.500s).
  const s = rest % 1000 === 0 ? String(rest / 1000) : (rest / 1000).toFixed(3).replace(/0+$/, '');
  if (m === 0) return `${s}s`;
  return rest ? `${m}m${s}s` : `${m}m`;
}
