/**
 * Tables for people. Scripts use --json: these columns may change, the JSON does not.
 */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

/** RFC 3339 to the second: what a person compares with their own clock. */
export function time(iso: string | null | undefined): string {
  if (!iso) return '-';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** One line, at most `max` characters: control characters from alert labels cannot break a table. */
export function cell(value: unknown, max = 80): string {
  if (value === null || value === undefined || value === '') return '-';
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  const s = (typeof value === 'string' ? value : JSON.stringify(value)).replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** The last value of a repeatable string flag. */
export function lastFlag(flags: Readonly<Record<string, readonly string[] | boolean>>, name: string): string | undefined {
  const v = flags[name];
  return Array.isArray(v) ? v[v.length - 1] : undefined;
}
