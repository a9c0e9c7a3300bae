import { lstatSync, readlinkSync } from 'node:fs';
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import type { LoadProblem } from '../domain/errors.js';
import { readTextFile, unreadableFile } from '../lib/text-file.js';
// The runbook loader's YAML rules, so rectify.yaml and runbook files refuse the same things.
import { formatPath } from '../runbooks/problems.js';
import { distinct, firstSyntaxError, hiddenCharacters, notPlainYaml, syntaxErrors, yamlErrorMessage } from '../runbooks/yaml-source.js';

/**
 * Reads rectify.yaml into top-level key → value, keeping each key's line so
 * problems can point at it. Structure and syntax problems are collected, never
 * thrown: the caller reports them together with every other problem.
 */
export interface FileEntry {
  key: string;
  value: unknown;
  line: number | undefined;
}

/** `problem`: why the file could not be read, as a problem line says it, naming the file. */
export type FileRead =
  | { kind: 'missing'; problem: string }
  | { kind: 'read'; entries: FileEntry[]; problems: LoadProblem[] }
  | { kind: 'unreadable'; problem: string };

/** `label` is the path as the user gave it, used in problem lines. */
export function readConfigFile(absPath: string, label: string): FileRead {
  const read = readTextFile(absPath);
  if (!read.ok) {
    // A symlink to nothing (a ConfigMap key renamed, a volume not mounted) is a file meant to
    // be read, not one that is missing: as missing, the default ./rectify.yaml was skipped in silence.
    const target = read.code === 'ENOENT' ? danglingTarget(absPath) : undefined;
    if (target !== undefined) return { kind: 'unreadable', problem: unreadableFile(JSON.stringify(label), read, `it is a symlink to ${JSON.stringify(target)}, which does not exist`) };
    return { kind: read.code === 'ENOENT' ? 'missing' : 'unreadable', problem: unreadableFile(JSON.stringify(label), read) };
  }
  return { kind: 'read', ...parseConfigText(read.text, label) };
}

/** Where `path` points when it is a symlink (read when opening it found nothing); undefined when it is none. */
function danglingTarget(path: string): string | undefined {
  try {
    return lstatSync(path).isSymbolicLink() ? readlinkSync(path) : undefined;
  } catch {
    return undefined;
  }
}

/** Aliases a file may expand, as for runbook files. */
const MAX_ALIAS_COUNT = 1000;

export function parseConfigText(text: string, label: string): { entries: FileEntry[]; problems: LoadProblem[] } {
  const lineCounter = new LineCounter();
  // prettyErrors off: its multi-line code excerpts do not fit the one-line-per-problem output.
  // resolveKnownTags off, as for runbook files: a YAML 1.1 tag is refused by name below.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, resolveKnownTags: false });
  const lineOf = (offset: number | undefined): number | undefined =>
    offset === undefined ? undefined : lineCounter.linePos(offset).line;

  // The first syntax error only, as for runbook files: the ones after it follow from it.
  const errors = firstSyntaxError(
    text,
    distinct(syntaxErrors(doc).map((e) => ({ message: yamlErrorMessage(e.code, e.message), line: lineCounter.linePos(e.pos[0]).line, at: e.pos[0] }))),
  );
  if (errors.length > 0) {
    return { entries: [], problems: errors.map((e) => ({ file: label, path: '', message: `invalid YAML at line ${e.line}: ${e.message}`, line: e.line })) };
  }
  // A tag, a %YAML 1.1 directive or a leading-zero number: valid, but not read as written.
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;
  const notPlain = [...hiddenCharacters(text, lineAt), ...notPlainYaml(doc, text, lineAt)];
  if (notPlain.length > 0) return { entries: [], problems: notPlain.map((p) => ({ file: label, path: formatPath(p.path), message: p.message, line: p.line })) };
  // An empty file (or one holding only comments) is a valid file with nothing set.
  if (doc.contents === null) return { entries: [], problems: [] };
  if (!isMap(doc.contents)) {
    return {
      entries: [],
      problems: [{ file: label, path: '', message: 'expected a mapping of settings at the top level', line: 1 }],
    };
  }
  // toJS resolves anchors and aliases the way a reader of the file expects; a file that
  // expands too many of them ("billion laughs") is a problem named like any other.
  let plain: Record<string, unknown>;
  try {
    plain = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as Record<string, unknown>;
  } catch (err) {
    return { entries: [], problems: [{ file: label, path: '', message: `invalid YAML: ${err instanceof Error ? err.message : String(err)}`, line: 1 }] };
  }
  const entries: FileEntry[] = [];
  const problems: LoadProblem[] = [];
  for (const pair of doc.contents.items) {
    const line = lineOf(isScalar(pair.key) ? pair.key.range?.[0] : undefined);
    if (!isScalar(pair.key) || typeof pair.key.value !== 'string') {
      problems.push({ file: label, path: String(pair.key), message: 'keys must be plain strings', line });
      continue;
    }
    entries.push({ key: pair.key.value, value: plain[pair.key.value] ?? null, line });
  }
  return { entries, problems };
}
