import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadProblem } from '../domain/errors.js';
import type { Runbook } from '../domain/runbook.js';
import { readTextFile, unreadableFile } from '../lib/index.js';
import { compileRunbook } from './compile.js';
import { checkKeys, isMapValue } from './fields.js';
import { createReporter, describe, formatPath, sortByLine } from './problems.js';
import { FILE_KEYS } from './schema.js';
import { parseYamlSource, RUNBOOK_LITERAL_KEYS } from './yaml-source.js';
import { checkReferences } from './references.js';
import { neverChosen } from './match.js';

export interface LoadResult {
  /** In load order: files by name, runbooks in file order. Matching depends on it. */
  runbooks: Runbook[];
  /** Every problem found, in file order then line order. Empty means safe to start. */
  problems: LoadProblem[];
  /**
   * Reference checks (references.ts): a runbook with only warnings loads and
   * startup logs them; `rectify lint` fails on them.
   */
  warnings: LoadProblem[];
}

const RUNBOOK_FILE_RE = /\.ya?ml$/;
// Runbook unit tests live next to the runbooks but are read by `rectify test`, not here.
const TEST_FILE_RE = /\.tests?\.ya?ml$/;

/** True for the file names `loadRunbooks` reads from a folder. */
export function isRunbookFileName(name: string): boolean {
  return RUNBOOK_FILE_RE.test(name) && !TEST_FILE_RE.test(name) && !name.startsWith('.');
}

/**
 * The most runbook files a folder may hold unless --max-runbook-files says otherwise. Every
 * file is read whole (up to 1 MiB) at start and at each reload: a folder with far more
 * files than anyone writes by hand is a mistake (a volume mounted in the wrong place, a
 * generator gone wrong), and reading it would hold the start, or every reload, for as long
 * as it takes.
 */
export const DEFAULT_MAX_RUNBOOK_FILES = 10_000;

export interface LoadOptions {
  /** A folder with more runbook files than this is refused before any is read (default DEFAULT_MAX_RUNBOOK_FILES). */
  maxFiles?: number;
}

/**
 * The folder's entries that are not folders and their runbook files, by name in code-unit
 * order. Names only: nothing is read or stat'ed, so a huge folder costs one listing. A FIFO,
 * a socket or a device named *.yaml is listed, so that reading it refuses it as a problem
 * (it is never opened blocking): left out, such a file was skipped without a word.
 */
function listFolder(dir: string): { files: string[]; names: string[] } {
  const files = readdirSync(dir, { withFileTypes: true })
    .filter((e) => !e.isDirectory())
    .map((e) => e.name);
  // Code-unit order, not locale order: the load order decides which runbook matches first.
  const names = files.filter(isRunbookFileName).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { files, names };
}

/**
 * The problem of a folder holding more runbook files than `maxFiles`, or undefined. Read
 * from the folder's listing alone, so it can be asked before anything else looks at the
 * files; a folder that cannot be listed is left to the load to report.
 */
export function runbookFileCountProblem(dir: string, maxFiles: number = DEFAULT_MAX_RUNBOOK_FILES): LoadProblem | undefined {
  let count: number;
  try {
    count = listFolder(dir).names.length;
  } catch {
    return undefined;
  }
  return tooManyFiles(dir, count, maxFiles);
}

function tooManyFiles(dir: string, count: number, maxFiles: number): LoadProblem | undefined {
  if (count <= maxFiles) return undefined;
  return {
    file: dir,
    path: '',
    message: `the folder holds ${count} runbook files, more than the ${maxFiles} --max-runbook-files allows: none was read; is it the runbooks folder (a volume mounted in the wrong place?), or raise --max-runbook-files (RECTIFY_MAX_RUNBOOK_FILES, max_runbook_files)`,
  };
}

/**
 * The warning for a runbooks folder or file that loads no runbook (templates not
 * rendered, a ConfigMap not mounted): rectify serve would remediate nothing. One wording
 * for `rectify lint` (which fails on it) and `rectify replay` (which prints it, as the
 * service logs it at start, and replays every alert as NO_RUNBOOK).
 */
export function noRunbookWarning(where: string, kind: 'folder' | 'file'): LoadProblem {
  return {
    file: where,
    path: '',
    message:
      kind === 'file'
        ? 'no runbook in the file: rectify serve would load nothing from it, and refuses a reload that would empty a file of its runbooks'
        : 'no runbook in the folder (no .yaml/.yml file in it holds one): rectify serve would remediate nothing, and refuses a reload onto it while runbooks are in force',
  };
}

/**
 * A folder's runbooks, and `emptyFiles`: the files that hold no YAML document at all
 * (no byte, or only blank lines and comments). Such a file loads, holding no runbook,
 * but one that held runbooks before is most likely being written in place (truncated,
 * the rest to come): a reload refuses it rather than remove its runbooks.
 */
export function loadRunbooks(dir: string, opts: LoadOptions = {}): LoadResult & { emptyFiles: string[] } {
  let names: string[];
  let miscased: string[];
  try {
    const listed = listFolder(dir);
    names = listed.names;
    // `restart.YAML` looks loaded and is not: said, so lint fails on it (backups such as x.yaml~ are skipped on purpose).
    miscased = listed.files.filter((n) => !isRunbookFileName(n) && isRunbookFileName(n.toLowerCase())).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  } catch (err) {
    return { runbooks: [], problems: [{ file: dir, path: '', message: `cannot read the runbooks folder: ${errText(err)}` }], warnings: [], emptyFiles: [] };
  }
  const tooMany = tooManyFiles(dir, names.length, opts.maxFiles ?? DEFAULT_MAX_RUNBOOK_FILES);
  if (tooMany) return { runbooks: [], problems: [tooMany], warnings: [], emptyFiles: [] };
  const runbooks: Runbook[] = [];
  const emptyFiles: string[] = [];
  const problems: LoadProblem[] = [];
  const warnings: LoadProblem[] = miscased.map((n) => ({
    file: join(dir, n),
    path: '',
    message: `not loaded: only names ending in .yaml or .yml, in lowercase, are runbook files; rename it to ${n.replace(/\.ya?ml$/i, (ext) => ext.toLowerCase())}`,
  }));
  const seen = new Map<string, Runbook>();
  for (const name of names) {
    const file = join(dir, name);
    const result = readRunbookFile(file);
    if (result.empty) emptyFiles.push(file);
    problems.push(...result.problems);
    warnings.push(...result.warnings);
    for (const rb of result.runbooks) {
      const first = seen.get(rb.id);
      if (first !== undefined) {
        problems.push(duplicateRunbookId(rb, first));
        continue;
      }
      seen.set(rb.id, rb);
      runbooks.push(rb);
    }
  }
  warnings.push(...neverChosen(runbooks));
  return { runbooks, problems, warnings, emptyFiles };
}

/**
 * A runbook whose id another loaded first already has: named at its id's line, with
 * where the first is (`file:line: path: message`, as every problem).
 */
export function duplicateRunbookId(rb: Runbook, first: Runbook): LoadProblem {
  return {
    file: rb.file,
    path: formatPath(['runbooks', rb.id]),
    message: `duplicate runbook id ${JSON.stringify(rb.id)} (first defined in ${first.file}${first.line !== undefined ? `:${first.line}` : ''})`,
    ...(rb.line !== undefined ? { line: rb.line } : {}),
  };
}

export function loadRunbookFile(path: string): LoadResult {
  const { empty: _empty, ...result } = readRunbookFile(path);
  return { ...result, warnings: [...result.warnings, ...neverChosen(result.runbooks)] };
}

/** What a YAML document is, without any of its content. */
function shapeOf(doc: unknown): string {
  if (Array.isArray(doc)) return doc.length === 0 ? 'an empty list' : 'a list';
  if (typeof doc === 'string') return 'text';
  if (typeof doc === 'number') return 'a number';
  if (typeof doc === 'boolean') return 'true or false';
  return 'a value that is not a map';
}

function readRunbookFile(path: string): LoadResult & { empty: boolean } {
  const read = readTextFile(path);
  if (!read.ok) {
    const message = unreadableFile('the file', read, read.code === 'TOO_LARGE' ? 'split its runbooks into several files' : undefined);
    return { runbooks: [], problems: [{ file: path, path: '', message }], warnings: [], empty: false };
  }
  return parseText(read.text, path);
}

/** Parses one file's text; `fileLabel` is what problems and `Runbook.file` name. */
export function parseRunbooksText(text: string, fileLabel: string): LoadResult {
  const { empty: _empty, ...result } = parseText(text, fileLabel);
  return result;
}

/** parseRunbooksText, and whether the text holds no YAML document (nothing, or only blank lines and comments). */
function parseText(text: string, fileLabel: string): LoadResult & { empty: boolean } {
  const source = parseYamlSource(text, { literalKeys: RUNBOOK_LITERAL_KEYS });
  if (source.errors.length > 0) {
    // After a syntax error the tree is unreliable; report only what the parser said.
    return {
      runbooks: [],
      problems: source.errors.map((e) => ({ file: fileLabel, path: '', message: `YAML syntax error at line ${e.line}: ${e.message}`, line: e.line })),
      warnings: [],
      empty: false,
    };
  }
  if (source.notPlain.length > 0) {
    return { runbooks: [], problems: source.notPlain.map((p) => ({ file: fileLabel, path: formatPath(p.path), message: p.message, line: p.line })), warnings: [], empty: false };
  }
  const problems: LoadProblem[] = [];
  const warnings: LoadProblem[] = [];
  const r = createReporter(fileLabel, source.lineOf, problems, source.writtenAt, source.keyOf, source.emptyPairAt);
  const w = createReporter(fileLabel, source.lineOf, warnings, source.writtenAt, source.keyOf, source.emptyPairAt);
  const runbooks: Runbook[] = [];
  const doc = source.value;
  if (doc === null || doc === undefined) return { runbooks, problems, warnings, empty: true }; // an empty file holds no runbooks
  if (!isMapValue(doc)) {
    // Said by its shape only: a file named where a runbook file was expected (a secret,
    // a config file) is not shown, not even its first characters.
    r.report([], `expected a map with a top-level "runbooks:" key, got ${shapeOf(doc)}: not a runbook file`);
    return { runbooks, problems, warnings, empty: false };
  }
  checkKeys(r, doc, FILE_KEYS, []);
  const all = doc.runbooks;
  if (all !== undefined && all !== null) {
    if (!isMapValue(all)) r.report(['runbooks'], `expected a map of runbook id to runbook, got ${r.got(['runbooks'], all)}`);
    else {
      for (const [id, body] of Object.entries(all)) {
        // `1.10:` is read as the number 1.1 and `0x1f:` as 31: the id would not be the one written.
        const key = source.keyOf(['runbooks', id]);
        if (key && typeof key.value !== 'string') {
          // Named as written: the path of the id as read ("runbooks.31") is nowhere in the file.
          problems.push({
            file: fileLabel,
            path: formatPath(['runbooks', key.written]),
            message: `runbook id ${key.written} is read as ${describeKey(key.value)}, not as the text written; a runbook id is text: ${/^[0-9]+$/.test(key.written) ? 'add a letter' : `quote it ("${key.written}") if it is meant, or give a name with a letter`}`,
            line: key.line,
          });
          continue;
        }
        const rb = compileRunbook(r, id, body, ['runbooks', id], fileLabel, key?.line);
        if (!rb) continue;
        runbooks.push(rb);
        checkReferences(rb, ['runbooks', id], w);
      }
    }
  }
  return { runbooks, problems: sortByLine(problems), warnings: sortByLine(warnings), empty: false };
}

function describeKey(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'bigint') return `the number ${String(value)}`;
  if (typeof value === 'boolean') return `the boolean ${String(value)}`;
  return describe(value);
}

function errText(err: unknown): string {
  const code = (err as { code?: string }).code;
  return code ?? (err instanceof Error ? err.message : String(err));
}
