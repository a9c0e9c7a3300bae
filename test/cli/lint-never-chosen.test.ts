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
});
