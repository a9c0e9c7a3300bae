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

/** The blanks that are letters (the Hangul fillers U+115F, U+1160, U+3164, U+FFA0), as the inside of a regular expression's character class. */
export const BLANK_LETTERS = '\\u115f\\u1160\\u3164\\uffa0';
/**
 * The blanks that are marks (U+034F, U+17B4, U+17B5, U+180B–U+180D, U+180F), as a regular
 * expression's alternatives: they stand alone, for in a class after a letter they would
 * read as combined with it.
 */
export const BLANK_MARKS = '\\u034f|\\u17b4|\\u17b5|[\\u180b-\\u180d]|\\u180f';

/**
 * Characters a terminal draws as nothing: the format characters (Unicode category Cf:
 * zero-width space, joiners and non-joiner U+200B–U+200D, the marks U+200E–U+200F,
 * U+2060–U+2064 word joiner and invisible operators, U+FEFF, the soft hyphen U+00AD,
 * the bidirectional controls, the tag characters U+E0000–U+E007F…) and the blanks that
 * are letters or marks (U+034F, the Hangul fillers U+115F, U+1160, U+3164, U+FFA0, the
 * Khmer vowels U+17B4, U+17B5, the Mongolian selectors U+180B–U+180F).
 */
const INVISIBLE = new RegExp(`[\\p{Cf}\\u180e${BLANK_LETTERS}]|${BLANK_MARKS}`, 'gu');

/**
 * The value with every invisible character written as its escape (`shop\u200b`), so
 * "shop\u200b" cannot pass for "shop" on a terminal. The escape is JSON's: applied to
 * a JSON document (where such a character can only stand inside a string) it leaves the
 * same document, each character outside the BMP written as its two UTF-16 escapes.
 */
export function visible(s: string): string {
  return s.replace(INVISIBLE, escaped);
}

/** A matched character as JSON's escapes, one `\uXXXX` per UTF-16 code unit. */
function escaped(c: string): string {
  let out = '';
  for (let i = 0; i < c.length; i++) out += `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return out;
}

const LINE_BREAKS = /[\t\n\v\f\r\u0085\u2028\u2029]+/g;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * A value from an alert as a person is shown it in a message (Slack, a notification's
 * text): on one line (its line breaks and tabs one space, so it cannot start a line of
 * its own), and every character a screen draws as nothing written as its escape: the
 * other control characters (NUL, BEL, ESC, DEL, C1) and the invisible ones (visible,
 * the bidirectional controls among them). So "shop\u200b" or "shop\u0000" cannot pass
 * for "shop" in a message asking someone to approve a fix for it.
 */
export function readable(s: string): string {
  return readableCut(s, Infinity);
}

/** `readable(s)`, at most `max` characters before the escapes are written (a table's cell). */
export function readableCut(s: string, max: number): string {
  const flat = s.replace(LINE_BREAKS, ' ');
  return visible(cut(flat, max).replace(CONTROL_CHARS, escaped));
}

/**
 * `readable(s)` in at most `max` characters, for a field with a length limit (Slack's
 * text): cut after the escapes are written, so it fits, but never inside one (a
 * `\u00` left of `\u0000`) nor inside a surrogate pair.
 */
export function readableWithin(s: string, max: number): string {
  const r = readable(s);
  if (r.length <= max) return r;
  let end = max;
  const escape = r.lastIndexOf('\\u', end - 1);
  if (escape !== -1 && escape > end - 6 && /^\\(?:u[0-9a-f]{0,3})?$/.test(r.slice(escape, end))) end = escape;
  const last = r.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return r.slice(0, end);
}

/**
 * At most `max` characters, the last one `…` when cut; a surrogate pair is not split.
 * `readableCut` cuts before the escapes are written: a hidden character costs one of
 * `max`, not six, and an escape is never cut in half.
 */
function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max - 1;
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${s.slice(0, end)}…`;
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_BUT_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;

/**
 * A line about to be printed on a terminal, however it was built: every control
 * character but the line feed and the tab (an escape sequence, a carriage return, a
 * backspace, NUL, C1), the line and paragraph separators (U+2028, U+2029) and every
 * invisible character written as its escape. A value that
 * missed `readable` still cannot rewrite the terminal. The escapes are JSON's, so a
 * JSON document printed through it is the same document.
 */
export function printable(s: string): string {
  return visible(s.replace(CONTROL_BUT_LINES, escaped));
}

/** Characters that are not visible text: control, format, separator and unassigned ones, and the blanks that are letters or marks. */
const UNSEEN = `[\\p{C}\\p{Z}${BLANK_LETTERS}]|${BLANK_MARKS}`;
const UNSEEN_ALL = new RegExp(UNSEEN, 'gu');
const UNSEEN_ONE = new RegExp(UNSEEN, 'u');

/** A JSON string, with every character that is not visible text as \uXXXX (the space aside). */
export function quotedEscaped(s: string): string {
  return JSON.stringify(s).replace(UNSEEN_ALL, (c) => (c === ' ' ? c : escaped(c)));
}

/**
 * A name (a file's, a key's) as a line may print it: as it is when every character is
 * visible text or a space, else `quotedEscaped`, so a line break in it cannot start a
 * line of its own, nor an invisible character hide in it.
 */
export function nameOnOneLine(s: string): string {
  return UNSEEN_ONE.test(s.replaceAll(' ', '')) ? quotedEscaped(s) : s;
}

// Characters that make a key ambiguous or unreadable in a dotted path printed raw: path
// punctuation, quotes, whitespace, and the control, format and invisible characters.
const QUOTED_KEY_RE = new RegExp(`[.[\\]"'\`\\s\\p{C}\\p{Z}${BLANK_LETTERS}]|${BLANK_MARKS}`, 'u');

/**
 * Whether a key can stand in a dotted path as it is (`runbooks.restart-pod`,
 * `body.alerts.0.labels.namespace`): not empty, and no character that would read as
 * path punctuation (`.`, a bracket, a quote), a space, or that a screen draws as
 * something else (a line feed, which would start a line of its own; an invisible
 * character). Any other key is written quoted with escapes, `["a.b"]`.
 */
export function plainPathKey(key: string): boolean {
  return key !== '' && !QUOTED_KEY_RE.test(key);
}
