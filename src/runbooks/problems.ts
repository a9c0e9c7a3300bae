import type { LoadProblem } from '../domain/errors.js';
import { plainPathKey, quotedEscaped } from '../lib/index.js';

/** A YAML path as segments: map keys and list indexes. */
export type YamlPath = readonly (string | number)[];

/**
 * `runbooks.restart-pod.pre_checks[1]`: the form every load problem names. A key that
 * holds a `.`, a bracket, a quote, a space, a control or invisible character, or is empty,
 * is written quoted with escapes (`runbooks["e.f"].action`): printed raw, `e.f` read as
 * two keys, and a key holding a newline printed a line of its own that passed for
 * another problem. A key longer than 60 characters is cut (…).
 */
export function formatPath(path: YamlPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const chars = [...seg];
      const cut = chars.length > MAX_SEGMENT ? `${chars.slice(0, MAX_SEGMENT).join('')}…` : seg;
      if (plainPathKey(seg)) out += out ? `.${cut}` : cut;
      else out += `[${quotedEscaped(cut)}]`;
    }
  }
  return out;
}

const MAX_SEGMENT = 60;

/**
 * Where compilation reports what is wrong. It never throws: rulefmt's lesson is
 * that an operator fixing a file wants every problem at once, not one per run.
 */
export interface Reporter {
  /** `at: 'key'` points the line at the key itself (unknown or misplaced keys). */
  report(path: YamlPath, message: string, at?: 'key' | 'value'): void;
  /** How many problems so far: compile steps compare before/after to know if they failed. */
  count(): number;
  /** The scalar at `path` as written in the file (`1.10`, read as the number 1.1), when known. */
  written(path: YamlPath): string | undefined;
  /** The map key at the end of `path` as written and as read (`0x1f:` is written "0x1f", read as 31), when known. */
  keyAt(path: YamlPath): { written: string; value: unknown } | undefined;
  /**
   * `value`, the value at `path`, for "got …" in a message: as describe() says it, and for
   * a map of one key and no value, how it came to be one: `{service}` unquoted is a YAML
   * flow map (quote it, where `placeholders` says the field takes them; else no placeholder
   * is filled there), and `CrashLoopBackOff:` a key with a trailing colon.
   */
  got(path: YamlPath, value: unknown, placeholders?: boolean): string;
}

/** A map of one key and no value at a path, and how it was written (YamlSource.emptyPairAt). */
export type EmptyPairAt = (path: YamlPath) => { written: 'braces' | 'colon'; key: string } | undefined;

export function createReporter(
  file: string,
  lineOf: (path: YamlPath, at: 'key' | 'value') => number | undefined,
  into: LoadProblem[],
  writtenAt: (path: YamlPath) => string | undefined,
  keyOf: (path: YamlPath) => { written: string; value: unknown } | undefined = () => undefined,
  emptyPairAt: EmptyPairAt = () => undefined,
): Reporter {
  return {
    report(path, message, at = 'value') {
      const line = lineOf(path, at);
      const problem: LoadProblem = { file, path: formatPath(path), message };
      if (line !== undefined) problem.line = line;
      into.push(problem);
    },
    count: () => into.length,
    written: writtenAt,
    keyAt: keyOf,
    got(path, value, placeholders = false) {
      const said = describe(value);
      return said === 'a map' ? said + mapNote(path, emptyPairAt(path), placeholders) : said;
    },
  };
}

/** Why a map of one key and no value is one, as written: '' when not such a map. */
function mapNote(path: YamlPath, pair: ReturnType<EmptyPairAt>, placeholders: boolean): string {
  if (!pair) return '';
  const key = [...pair.key].length > MAX_SEGMENT ? `${[...pair.key].slice(0, MAX_SEGMENT).join('')}…` : pair.key;
  if (pair.written === 'colon') return ` (the trailing ":" in ${key}: makes it a map; remove the ":")`;
  // `{a b}` or `{pod: x}` is a map meant as one, or no placeholder attempt.
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(pair.key)) return '';
  if (placeholders) return ` ({${key}} unquoted is a YAML flow map, not a placeholder: quote it, "{${key}}")`;
  const field = [...path].reverse().find((seg): seg is string => typeof seg === 'string');
  return ` ({${key}} unquoted is a YAML flow map, and no placeholder is filled in ${field === undefined ? 'this field' : formatPath([field])}: write the value out)`;
}

/** Problems in line order (those with no line last); stable: problems on the same line keep the order they were found in. */
export function sortByLine(problems: LoadProblem[]): LoadProblem[] {
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => (a.p.line ?? Infinity) - (b.p.line ?? Infinity) || a.i - b.i)
    .map((x) => x.p);
}

/** Describes a value for "got …" in messages, without dumping a whole structure. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  return String(value);
}
