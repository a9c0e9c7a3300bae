import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../src/domain/errors.js';
import { parseRunbooksText } from '../../src/runbooks/index.js';
import { parseTestFile } from '../../src/runbook-tests/index.js';
import { MAX_ALIASED_VALUES } from '../../src/runbooks/yaml-source.js';

/**
 * The YAML library counts an alias of a list as one alias whatever the list holds, and
 * every runbook that aliases it is compiled, digested and checked whole: 1,000 runbooks
 * aliasing one list of 136,938 triggers (a 1 MiB file) ran lint out of memory, and 100
 * aliasing a list of 60,000 held a reload for 27 s. What a file's aliases repeat is
 * counted, and a file whose aliases repeat more than 100,000 values is refused.
 */

/** `count` runbooks, the first anchoring a list of `items` triggers, the others aliasing it. */
function aliasing(count: number, items: number): string {
  const list = Array.from({ length: items }, (_, i) => `t${i}`).join(', ');
  const out = ['runbooks:'];
  for (let i = 0; i < count; i++) {
    out.push(`  r${i}:`, '    risk: LOW', i === 0 ? `    triggers: &t [${list}]` : '    triggers: *t', '    action: kubectl delete pod {pod_name} -n prod', '    post_checks: [pod_becomes_ready]');
  }
  return `${out.join('\n')}\n`;
}

test('a file whose aliases repeat more than 100,000 values is refused at the alias that passes the budget, before any runbook is compiled', () => {
  assert.equal(MAX_ALIASED_VALUES, 100_000);
  // 199 aliases of a list of 1,000 triggers (1,001 values with the list itself): the
  // 100th takes the count to 100,100. It loaded, 200 runbooks of 1,000 triggers each.
  const text = aliasing(200, 1000);
  assert.ok(text.length < 32_000, `${text.length} bytes`);
  const started = Date.now();
  const { runbooks, problems } = parseRunbooksText(text, 'x.yaml');
  assert.deepEqual(problems.map(formatProblem), [
    "x.yaml:504: runbooks.r100.triggers: *t repeats 1,001 values (lists, maps, keys, scalars), taking what the file's aliases repeat past 100,000, the most one file's may: the file would be read as far larger than it is written; write the shared values out where they are used, or split the file",
  ]);
  assert.deepEqual(runbooks, []);
  assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
});

test('a file whose aliases repeat just under 100,000 values loads, each runbook with the whole list', () => {
  // 99 aliases of 1,001 values: 99,099.
  const { runbooks, problems } = parseRunbooksText(aliasing(100, 1000), 'x.yaml');
  assert.deepEqual(problems.map(formatProblem), []);
  assert.equal(runbooks.length, 100);
  assert.equal(runbooks[99]!.triggers.length, 1000);
});

test('a "billion laughs" runbook file is refused at its alias, quickly; so is an alias inside the value it names', () => {
  const laughs = ['runbooks: {}', 'a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 9; i++) laughs.push(`l${i}: &l${i} [${Array.from({ length: 10 }, () => (i === 1 ? '*a' : `*l${i - 1}`)).join(', ')}]`);
  assert.deepEqual(parseRunbooksText(`${laughs.join('\n')}\n`, 'x.yaml').problems.map(formatProblem), [
    "x.yaml:6: l4[7]: *l3 repeats 11,111 values (lists, maps, keys, scalars), taking what the file's aliases repeat past 100,000, the most one file's may: the file would be read as far larger than it is written; write the shared values out where they are used, or split the file",
  ]);
  assert.deepEqual(parseRunbooksText('runbooks:\n  r:\n    risk: LOW\n    triggers: &t [x, [y, *t]]\n', 'x.yaml').problems.map(formatProblem), [
    'x.yaml:4: runbooks.r.triggers[1][1]: *t is inside the value &t names: it would repeat without end; an alias may only repeat a value written before it, outside it',
  ]);
});

test('a runbook test file is held to the same budget', () => {
  const labels = `{${Array.from({ length: 1000 }, (_, i) => `l${i}: v`).join(', ')}}`;
  const tests = Array.from({ length: 60 }, (_, i) =>
    i === 0
      ? `  - {name: t0, incident: {root_cause: x, service: s, context: &c ${labels}}, expect: {action: manual}}`
      : `  - {name: t${i}, incident: {root_cause: x, service: s, context: *c}, expect: {action: manual}}`,
  );
  const { suite, problems } = parseTestFile(`runbooks: [rb]\ntests:\n${tests.join('\n')}\n`, 'x.test.yaml');
  assert.equal(suite, undefined);
  assert.deepEqual(problems.map(formatProblem), [
    "x.test.yaml:53: tests[50].incident.context: *c repeats 2,001 values (lists, maps, keys, scalars), taking what the file's aliases repeat past 100,000, the most one file's may: the file would be read as far larger than it is written; write the shared values out where they are used, or split the file",
  ]);
});
