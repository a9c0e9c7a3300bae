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

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  const rs = s % 60;
  if (m < 60) return rs ? `${m}m${rs}s` : `${m}m`;
  const h = Math.floor(m / 60);
  const rm = m % 60;
  return rm ? `${h}h${rm}m` : `${h}h`;
}
