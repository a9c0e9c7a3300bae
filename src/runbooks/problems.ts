import type { LoadProblem } from '../domain/errors.js';

/** A YAML path as segments: map keys and list indexes. */
export type YamlPath = readonly (string | number)[];

/** `runbooks.restart-pod.pre_checks[1]`: the form every load problem names. */
export function formatPath(path: YamlPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}

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
}

export function createReporter(
  file: string,
  lineOf: (path: YamlPath, at: 'key' | 'value') => number | undefined,
  into: LoadProblem[],
  writtenAt: (path: YamlPath) => string | undefined,
  keyOf: (path: YamlPath) => { written: string; value: unknown } | undefined = () => undefined,
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
  };
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
