/** String methods of ES2024 that Node 20 has and the ES2023 typings lack. */
type WellFormed = string & { isWellFormed(): boolean; toWellFormed(): string };

/**
 * The string with every lone UTF-16 surrogate (a JSON `"\ud800"`, say) replaced by
 * U+FFFD, as SQLite stores it. A value hashed or compared before it is stored must be
 * this one, or what is read back differs from what was hashed.
 */
export function wellFormed(s: string): string {
  return (s as WellFormed).isWellFormed() ? s : (s as WellFormed).toWellFormed();
}

/**
 * `value` as a regular expression that matches it literally, written for a PromQL
 * regex matcher: inside a "…" or '…' string each backslash is doubled (the string
 * takes escapes), inside a `…` string it is not.
 */
export function promqlRegexLiteral(value: string, quote: 'escaping' | 'raw'): string {
  const literal = value.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
  return quote === 'escaping' ? literal.replace(/\\/g, '\\\\') : literal;
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]+/g;

/**
 * The value on one line: every run of line breaks and other control characters becomes
 * one space, so a value cannot start a line of its own (a fake "*Outcome*" line in a
 * message, a forged row in a table). The bidirectional controls (U+202E RIGHT-TO-LEFT
 * OVERRIDE, the isolates U+2066–U+2069, the marks) go too: left in, they reorder what a
 * terminal or Slack shows after them, so "shop\u202egnp.exe" reads "shopexe.png" and a
 * table row reads backwards from the cell on.
 */
export function oneLine(s: string): string {
  return s.replace(CONTROL, ' ');
}
