import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createRunbookIndex, loadRunbooks } from '../../src/runbooks/index.js';
import { cli } from './capture.js';

const root = mkdtempSync(join(tmpdir(), 'rectify-lint-never-chosen-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A runbook that lints OK on its own: `triggers` and `match` as given. */
function runbook(id: string, triggers: string[], match?: string[]): string {
  return [
    `  ${id}:`,
    '    risk: LOW',
    `    triggers: ${JSON.stringify(triggers)}`,
    ...(match ? [`    match: ${JSON.stringify(match)}`] : []),
    '    action: "kubectl delete pod {pod_name} -n {namespace}"',
    '    post_checks: [pod_becomes_ready]',
    '    params: [pod_name, namespace]',
    '',
  ].join('\n');
}

function folder(name: string, files: Record<string, string[]>): string {
  const dir = join(root, name);
  mkdirSync(dir);
  for (const [file, runbooks] of Object.entries(files)) writeFileSync(join(dir, file), `runbooks:\n${runbooks.join('')}`);
  return dir;
}

const careful = runbook('restart-careful', ['CrashLoopBackOff'], ['namespace!~"kube-system"']);
const order = 'an alert runs the first runbook in load order (files by name, runbooks in file order) whose triggers and match: fit it';

/**
 * A runbook whose every trigger an earlier runbook with no `match:` also has is never
 * chosen: the earlier one takes each of its alerts first, and its `match:` exclusions
 * are never in force. Lint said "2 runbook(s) OK".
 */
describe('rectify lint: a runbook never chosen', () => {
  it('one shadowed by a catch-all in an earlier file is a warning at its id naming that runbook: exit 1', async () => {
    const dir = folder('files', { 'a.yaml': [runbook('restart-any', ['CrashLoopBackOff'])], 'b.yaml': [careful] });
    // What the warning says: a kube-system alert goes to restart-any, restart-careful's exclusion bypassed.
    const index = createRunbookIndex(loadRunbooks(dir).runbooks);
    const alert = { id: 'i', root_cause: 'CrashLoopBackOff', symptoms: [], alertname: 'KubePodCrashLooping', context: {}, labels: { namespace: 'kube-system' }, service: 'dns' };
    assert.equal(index.match(alert)?.id, 'restart-any');
    const r = await cli(['lint', dir]);
    assert.deepEqual({ code: r.code, out: r.out, err: r.err }, {
      code: 1,
      out: [],
      err: [
        `${join(dir, 'b.yaml')}:2: runbooks.restart-careful: warning: never chosen: restart-any (a.yaml:2) takes every CrashLoopBackOff alert first (it has no match:): ${order}; put this one before that one, or remove it`,
        `0 problem(s) and 1 warning(s) in ${dir}`,
      ],
    });
  });

  it('one shadowed earlier in the same file, linted as a file; and by two runbooks, one per trigger', async () => {
    const dir = folder('same-file', {
      'all.yaml': [runbook('restart-any', ['CrashLoopBackOff']), runbook('oom-any', ['OOMKilled', 'CrashLoopBackOff']), careful, runbook('both', ['OOMKilled', 'CrashLoopBackOff'], ['namespace="prod"'])],
    });
    const file = join(dir, 'all.yaml');
    const r = await cli(['lint', file]);
    assert.deepEqual({ code: r.code, err: r.err }, {
      code: 1,
      err: [
        `${file}:14: runbooks.restart-careful: warning: never chosen: restart-any (all.yaml:2) takes every CrashLoopBackOff alert first (it has no match:): ${order}; put this one before that one, or remove it`,
        `${file}:21: runbooks.both: warning: never chosen: oom-any (all.yaml:8) takes every OOMKilled alert first, restart-any (all.yaml:2) every CrashLoopBackOff alert (they have no match:): ${order}; put this one before them, or remove it`,
        `0 problem(s) and 2 warning(s) in ${file}`,
      ],
    });
  });

  it('is no warning when the later runbook comes first, has a trigger of its own, or the earlier one has a match:', async () => {
    const cases = {
      first: { 'a.yaml': [careful], 'b.yaml': [runbook('restart-any', ['CrashLoopBackOff'])] },
      'own-trigger': { 'a.yaml': [runbook('restart-any', ['CrashLoopBackOff'])], 'b.yaml': [runbook('restart-careful', ['CrashLoopBackOff', 'ImagePullBackOff'], ['namespace!~"kube-system"'])] },
      'earlier-matches': { 'a.yaml': [runbook('restart-prod', ['CrashLoopBackOff'], ['namespace="prod"'])], 'b.yaml': [careful] },
    };
    for (const [name, files] of Object.entries(cases)) {
      const dir = folder(name, files);
      const r = await cli(['lint', dir]);
      assert.deepEqual({ name, code: r.code, out: r.out, err: r.err }, { name, code: 0, out: [`2 runbook(s) OK in ${dir}`], err: [] });
    }
  });
  it('names a runbook id holding a dot quoted, as every problem does, for a warning and a duplicate id', async () => {
    const dir = folder('dotted', { 'a.yaml': [runbook('restart.any', ['CrashLoopBackOff'])], 'b.yaml': [runbook('restart.careful', ['CrashLoopBackOff'], ['namespace!~"kube-system"'])], 'c.yaml': [runbook('restart.any', ['OOMKilled'])] });
    const r = await cli(['lint', dir]);
    assert.equal(r.code, 1);
    assert.deepEqual(
      r.err.filter((l) => l.startsWith(dir)).map((l) => l.slice(dir.length + 1).replace(/: (warning: never chosen|duplicate runbook id).*$/, ': $1')),
      ['c.yaml:2: runbooks["restart.any"]: duplicate runbook id', 'b.yaml:2: runbooks["restart.careful"]: warning: never chosen'],
    );
  });
});

/**
 * rectify test loads the runbooks itself: a runbook never chosen among those under test is
 * said on stderr, as lint says it, and changes no exit status (lint is the gate; a test
 * expecting that runbook fails on its own). It said nothing.
 */
describe('rectify test: a runbook never chosen among those under test', () => {
  const warning = (file: string, line: number, id: string, taker: string) =>
    `${file}:${line}: runbooks.${id}: warning: never chosen: ${taker} takes every CrashLoopBackOff alert first (it has no match:): ${order}; put this one before that one, or remove it`;
  const kubeSystem = '{id: I1, root_cause: CrashLoopBackOff, service: dns, context: {pod_name: dns-1, namespace: kube-system}}';

  it('is printed on stderr once, in lint\'s form, whichever test files load it; passing tests still exit 0, a failing one 1', async () => {
    const dir = folder('test-folder', { 'a.yaml': [runbook('restart-any', ['CrashLoopBackOff'])], 'b.yaml': [careful] });
    writeFileSync(
      join(dir, 'a.test.yaml'),
      `runbooks: [.]\ntests:\n  - name: kube-system goes to restart-any\n    incident: ${kubeSystem}\n    expect: {action: executed, runbook: restart-any}\n`,
    );
    writeFileSync(
      join(dir, 'b.test.yaml'),
      "runbooks: [.]\ntests:\n  - name: a prod pod goes to restart-careful\n    incident: {id: I2, root_cause: CrashLoopBackOff, service: api, context: {pod_name: api-1, namespace: prod}}\n    expect: {action: executed, runbook: restart-careful}\n",
    );
    const passing = await cli(['test', 'test-folder/a.test.yaml'], { cwd: root });
    assert.deepEqual({ code: passing.code, out: passing.out, err: passing.err }, {
      code: 0,
      out: ['test-folder/a.test.yaml', '  PASS  kube-system goes to restart-any', '1 test(s): 1 passed, 0 failed'],
      err: [warning('test-folder/b.yaml', 2, 'restart-careful', 'restart-any (a.yaml:2)')],
    });
    const both = await cli(['test', 'test-folder'], { cwd: root });
    assert.deepEqual({ code: both.code, out: both.out, err: both.err }, {
      code: 1,
      out: [
        'test-folder/a.test.yaml',
        '  PASS  kube-system goes to restart-any',
        'test-folder/b.test.yaml',
        '  FAIL  a prod pod goes to restart-careful  (test-folder/b.test.yaml:3 tests[0])',
        '        runbook:',
        '          expected "restart-careful"',
        '          got      "restart-any"',
        '        (decision: executed EXECUTING, runbook restart-any: risk LOW: guardrails passed)',
        '2 test(s): 1 passed, 1 failed',
      ],
      err: [warning('test-folder/b.yaml', 2, 'restart-careful', 'restart-any (a.yaml:2)')],
    });
  });

  it('is judged over every runbooks: entry together, in the order the tests match them', async () => {
    // Each file lints clean on its own: the catch-all is in the other.
    const dir = folder('test-entries', { 'any.yaml': [runbook('restart-any', ['CrashLoopBackOff'])], 'careful.yaml': [careful] });
    writeFileSync(
      join(dir, 'entries.test.yaml'),
      `runbooks: [any.yaml, careful.yaml]\ntests:\n  - name: kube-system goes to restart-any\n    incident: ${kubeSystem}\n    expect: {action: executed, runbook: restart-any}\n`,
    );
    const r = await cli(['test', 'entries.test.yaml'], { cwd: dir });
    assert.deepEqual({ code: r.code, out: r.out, err: r.err }, {
      code: 0,
      out: ['entries.test.yaml', '  PASS  kube-system goes to restart-any', '1 test(s): 1 passed, 0 failed'],
      err: [warning('careful.yaml', 2, 'restart-careful', 'restart-any (any.yaml:2)')],
    });
    // In the other order, restart-careful comes first: no warning.
    writeFileSync(join(dir, 'entries.test.yaml'), `runbooks: [careful.yaml, any.yaml]\ntests:\n  - name: kube-system goes to restart-any\n    incident: ${kubeSystem}\n    expect: {action: executed, runbook: restart-any}\n`);
    const reversed = await cli(['test', 'entries.test.yaml'], { cwd: dir });
    assert.deepEqual({ code: reversed.code, err: reversed.err }, { code: 0, err: [] });
  });
});
