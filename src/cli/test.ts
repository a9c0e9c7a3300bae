import { dashWords, flagName, typographicDash } from '../config/index.js';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { formatProblem } from '../domain/index.js';
import { readTextFile, unreadableFile } from '../lib/index.js';
import { isTestFileName, loadSuiteRunbooks, parseTestFile, runSuite, type Mismatch, type TestOutcome } from '../runbook-tests/index.js';
import { commandHelp } from './help.js';
import { formatWarning } from './lint.js';
import { EXIT, type CliIO } from './io.js';

export const testHelp = commandHelp({
  usage: 'rectify test <tests.yaml|folder>…',
  about: [
    'Runbook unit tests, in the spirit of promtool test rules: each test gives an incident or an',
    'Alertmanager alert (optionally a guardrail state and a clock) and asserts the decision, the runbook',
    'chosen, the reason and the rendered actions. The same engine as rectify serve decides, on an',
    'in-memory store at the test\'s clock; nothing is executed and no check runs. One line per test,',
    'PASS or FAIL, with expected and got for each failed assertion.',
    '',
    'The load warnings of the runbooks under test (a runbook never chosen, as an earlier one with no',
    'match: takes all its alerts; a placeholder nothing fills; …) are printed on stderr, once each, as',
    'rectify lint prints them: file: YAML path: warning: message. They do not change the exit status',
    '(a test expecting a runbook never chosen fails on its own); rectify lint fails on them.',
  ].join('\n'),
  args: ['<tests.yaml|folder>…  test files, or folders of *.test.yaml files (at least one)'],
  flags: [],
  exits: [
    [0, 'every test passed (whatever warnings were printed)'],
    [1, 'a test failed'],
    [2, 'usage: no file, a flag, a missing file or folder, or a test file that cannot be read or has a problem (named by file and YAML path: its tests do not run; the other files still do)'],
  ],
});

/**
 * `rectify test <file|folder>…`: runbook unit tests, in the spirit of
 * `promtool test rules`. Each test gives an incident or an Alertmanager alert (and
 * optionally a guardrail state and a clock) and asserts the decision, the runbook,
 * the reason and the rendered actions; nothing is executed. One line per test,
 * PASS or FAIL, with expected and got for each failed assertion.
 * Exit 0 when every test passes, 1 when one fails, 2 when a file cannot be read
 * or has a problem (named by file and YAML path); such a file runs no test. The
 * runbooks' load warnings go to stderr, as lint prints them, and change no exit status.
 */
export async function testCommand(argv: string[], io: CliIO): Promise<number> {
  const unknown = argv.find((a) => a.startsWith('-') || typographicDash(a) !== undefined);
  if (unknown !== undefined) {
    // The name only: what follows `=` may be a secret.
    const dash = typographicDash(unknown);
    const why = dash !== undefined ? `: ${dashWords(dash)}` : '';
    io.err(`rectify test: unknown option ${flagName(unknown)}${why} (usage: rectify test <tests.yaml|folder>…)`);
    return EXIT.USAGE;
  }
  if (argv.length === 0) {
    io.err('usage: rectify test <tests.yaml|folder>…  (for example: rectify test runbooks/tests)');
    return EXIT.USAGE;
  }
  const files: string[] = [];
  let bad = false;
  for (const a of argv) {
    const path = resolve(io.cwd, a);
    let isDir = false;
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      io.err(`${a}: no such file or folder`);
      bad = true;
      continue;
    }
    if (!isDir) files.push(path);
    else {
      const found = readdirSync(path).filter(isTestFileName).sort();
      if (found.length === 0) {
        io.err(`${a}: no runbook test files (*.test.yaml) in this folder`);
        bad = true;
      }
      files.push(...found.map((n) => join(path, n)));
    }
  }

  const show = (p: string): string => relative(io.cwd, p) || p;
  // Each warning once: test files loading the same folder would say it again for each.
  const warned = new Set<string>();
  let passed = 0;
  let failed = 0;
  for (const file of files) {
    const label = show(file);
    const read = readTextFile(file);
    if (!read.ok) {
      io.err(`${label}: ${unreadableFile('the file', read)}`);
      bad = true;
      continue;
    }
    const parsed = parseTestFile(read.text, label);
    if (!parsed.suite) {
      for (const p of parsed.problems) io.err(formatProblem(p));
      bad = true;
      continue;
    }
    const { runbooks, problems, warnings } = loadSuiteRunbooks({ ...parsed.suite, file });
    if (problems.length) {
      for (const p of problems) io.err(formatProblem({ ...p, file: p.file === file ? label : show(p.file) }));
      bad = true;
      continue;
    }
    // What rectify lint and serve's log say of these runbooks, said where the tests run:
    // a runbook never chosen has its match: exclusions bypassed, whatever the tests of
    // the runbook before it show. Not a failure: lint is the gate for warnings.
    for (const w of warnings) {
      const line = formatWarning({ ...w, file: show(w.file) });
      if (warned.has(line)) continue;
      warned.add(line);
      io.err(line);
    }
    io.out(label);
    for (const outcome of await runSuite(parsed.suite, runbooks)) {
      if (outcome.mismatches.length === 0) {
        passed++;
        io.out(`  PASS  ${outcome.test.name}`);
      } else {
        failed++;
        io.out(`  FAIL  ${outcome.test.name}  (${label}:${outcome.test.line ?? '?'} ${outcome.test.path})`);
        for (const line of describeFailure(outcome)) io.out(`        ${line}`);
      }
    }
  }
  const total = passed + failed;
  io.out(`${total} test(s): ${passed} passed, ${failed} failed${bad ? '; some files could not be run' : ''}`);
  if (bad) return EXIT.USAGE;
  return failed ? EXIT.FAILED : EXIT.OK;
}

/** Expected against got, field by field; lists as a diff (`-` expected only, `+` got only). */
export function describeFailure(o: TestOutcome): string[] {
  const lines: string[] = [];
  for (const m of o.mismatches) lines.push(...describeMismatch(m));
  if (!o.mismatches.some((m) => m.field === 'reason')) lines.push(`(decision: ${o.got.action} ${o.got.event}, runbook ${o.got.runbook ?? 'none'}: ${o.got.reason})`);
  if (o.hint !== undefined) lines.push(`(${o.hint})`);
  return lines;
}

function describeMismatch(m: Mismatch): string[] {
  if (Array.isArray(m.expected) && Array.isArray(m.got)) {
    const out = [`${m.field}:`];
    const n = Math.max(m.expected.length, m.got.length);
    for (let i = 0; i < n; i++) {
      const e = m.expected[i] as string | undefined;
      const g = m.got[i] as string | undefined;
      if (e === g) out.push(`    ${e}`);
      else {
        if (e !== undefined) out.push(`  - ${e}`);
        if (g !== undefined) out.push(`  + ${g}`);
      }
    }
    return out;
  }
  const show = (v: unknown): string => (v === undefined ? '(no plan: the decision rendered none)' : JSON.stringify(v));
  return [`${m.field}:`, `  expected ${show(m.expected)}`, `  got      ${show(m.got)}`];
}
