import { printable, readable, readableCut } from '../../lib/index.js';

/**
 * Control characters (C0, DEL, C1) and the Unicode line and paragraph separators: in a
 * value the service got from outside (alert labels, who acted), a newline forges a row and
 * an escape sequence rewrites the terminal. `readable` (lib/text.ts, shared with the
 * notifications) puts a value on one line (its line breaks one space) and shows every
 * other control character, and every character a terminal draws as nothing (U+200B
 * zero-width space, U+FEFF, U+00AD soft hyphen, the bidirectional controls…), as its
 * escape: "shop\u0000" or "shop\u200b" cannot pass for "shop". runCli writes every line
 * it prints through `printable` (the same escapes, line feeds kept); a table does it to
 * its cells first, so the columns stay aligned.
 */
export { printable, readable };

/**
 * Tables for people. Scripts use --json: these columns may change, the JSON does not.
 * Every cell is put on one line here, whatever the caller passed: a cell forgotten by
 * cell() cannot forge a row.
 */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const clean = rows.map((r) => r.map((c) => readable(c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...clean.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...clean.map(line)];
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
  return readableCut(typeof value === 'string' ? value : JSON.stringify(value), max);
}

/**
 * A name (a service): one left blank ("" or spaces, as a service stored before intake
 * refused it) is quoted, so it reads as a name neither invisible nor "-" (none).
 */
export function name(value: string, max = 80): string {
  return value.trim() === '' ? JSON.stringify(value) : cell(value, max);
}

/** The last value of a repeatable string flag. */
export function lastFlag(flags: Readonly<Record<string, readonly string[] | boolean>>, name: string): string | undefined {
  const v = flags[name];
  return Array.isArray(v) ? v[v.length - 1] : undefined;
}

/** Who turned a kill switch on, why and since when. */
export interface PauseState {
  by: string;
  reason: string | null;
  since: string;
}

/** "by alice since 2026-…Z: deploy freeze": who and why are people's text, put on one line. */
export const pausedBy = (p: PauseState) => `by ${cell(p.by, 60)} since ${time(p.since)}${p.reason ? `: ${cell(p.reason, 200)}` : ''}`;
