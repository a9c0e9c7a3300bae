import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../src/domain/errors.js';
import type { Runbook } from '../../src/domain/runbook.js';
import { createRunbookIndex, loadRunbooks, matchersHold, matchersHoldFor, parseMatcher, parseRunbooksText } from '../../src/runbooks/index.js';
import { FIXTURES, LIBRARY, SEED_RUNBOOKS, incident } from './helpers.js';
import { join } from 'node:path';

const seed = createRunbookIndex(loadRunbooks(SEED_RUNBOOKS).runbooks);
const good = createRunbookIndex(loadRunbooks(join(FIXTURES, 'good')).runbooks);

test('the seed incidents match as in the seed engine', () => {
  assert.equal(seed.match(incident({ root_cause: 'CrashLoopBackOff' }))?.id, 'restart-pod');
  assert.equal(seed.match(incident({ root_cause: 'high_cpu' }))?.id, 'scale-up');
  assert.equal(seed.match(incident({ root_cause: 'error_rate_spike_after_deploy' }))?.id, 'rollback-deployment');
  assert.equal(seed.match(incident({ root_cause: 'unknown_issue' })), undefined);
  // Exact words, as the seed's `in`: no case folding, no substrings.
  assert.equal(seed.match(incident({ root_cause: 'crashloopbackoff' })), undefined);
  assert.equal(seed.match(incident({ root_cause: 'CrashLoop' })), undefined);
});

test('symptoms and the alertname match too; the first runbook in load order wins', () => {
  assert.equal(seed.match(incident({ root_cause: 'unknown', symptoms: ['x', 'queue_backlog'] }))?.id, 'scale-up');
  // A later word that matches an EARLIER runbook wins over an earlier word matching a later runbook.
  assert.equal(seed.match(incident({ root_cause: 'error_rate_spike_after_deploy', symptoms: ['OOMKilled'] }))?.id, 'restart-pod');
  assert.equal(good.match(incident({ root_cause: 'unknown', alertname: 'KubePodCrashLooping' }))?.id, 'second-crashloop');
  // seed-dataclass (file 10-…) comes before second-crashloop (file 20-…).
  assert.equal(good.match(incident({ root_cause: 'CrashLoopBackOff' }))?.id, 'seed-dataclass');
  assert.equal(good.byId('call-the-app')?.id, 'call-the-app');
  assert.equal(good.byId('nope'), undefined);
  assert.equal(good.all.length, 6);
});

test('matchers must all hold on the labels; a missing label is the empty string', () => {
  const medium = (labels: Record<string, string>) => good.match(incident({ root_cause: 'service_unhealthy', labels }))?.id;
  assert.equal(medium({ namespace: 'production', severity: 'critical' }), 'restart-service');
  assert.equal(medium({ namespace: 'production' }), 'restart-service'); // severity!="info" holds without the label
  assert.equal(medium({ namespace: 'production', severity: 'info' }), undefined);
  assert.equal(medium({ namespace: 'staging-prod' }), undefined); // anchored: prod.* must match the whole value
  assert.equal(medium({}), undefined);
});

test('matchers see the values placeholders are filled with: context over labels, service always the incident\'s (a context namespace cannot slip past a guard)', () => {
  // The bundled restart-pod: match: ['namespace!~"kube-system|kube-public|kube-node-lease"'], action on {namespace}.
  const library = createRunbookIndex(loadRunbooks(LIBRARY).runbooks);
  const crash = (over: Parameters<typeof incident>[0]) => library.match(incident({ root_cause: 'CrashLoopBackOff', ...over }))?.id;
  assert.equal(crash({ service: 'coredns', context: { pod_name: 'coredns-abc-1', namespace: 'kube-system' } }), undefined);
  assert.equal(crash({ context: { namespace: 'kube-system' }, labels: { namespace: 'default' } }), undefined);
  // The context's value is the one the action gets, so it is the one guarded.
  assert.equal(crash({ context: { namespace: 'default' }, labels: { namespace: 'kube-system' } }), 'restart-pod');
  assert.equal(crash({ context: { namespace: 'default' } }), 'restart-pod');
  // An Alertmanager alert: context and labels are one map.
  const labels = { namespace: 'kube-system', pod: 'coredns-abc-1' };
  assert.equal(crash({ context: labels, labels }), undefined);

  const guarded = parseMatcher('service!="payments"');
  assert.ok(guarded.ok);
  // {service} is always the incident's service (the one its guardrails count against),
  // whatever a context or label of that name says; so is what the matcher sees.
  assert.equal(matchersHoldFor([guarded.value], incident({ service: 'payments' })), false);
  assert.equal(matchersHoldFor([guarded.value], incident({ service: 'payments', labels: { service: 'web' } })), false);
  assert.equal(matchersHoldFor([guarded.value], incident({ service: 'web', context: { service: 'payments' }, labels: { service: 'web' } })), true);
});

test('matcher parsing and evaluation', () => {
  const holds = (m: string, labels: Record<string, string>): boolean => {
    const p = parseMatcher(m);
    assert.ok(p.ok, p.ok ? '' : p.message);
    return matchersHold([p.value], labels);
  };
  assert.equal(holds('a="x"', { a: 'x' }), true);
  assert.equal(holds('a = "x"', { a: 'y' }), false);
  assert.equal(holds('a!~"x|y"', { a: 'z' }), true);
  assert.equal(holds('a!~"x|y"', { a: 'x' }), false);
  assert.equal(holds('a=~"x|y"', { a: 'xy' }), false); // anchored around the whole alternation
  assert.equal(holds('a=x', { a: 'x' }), true);
  assert.equal(holds('a="say \\"hi\\""', { a: 'say "hi"' }), true);
  assert.equal(holds('a=""', {}), true);
  assert.equal(holds('a=~"prod\\..*"', { a: 'prod.eu' }), true);
  assert.equal(holds('a=~"prod\\..*"', { a: 'prodXeu' }), false);
});

test('with 1,000 runbooks the index returns what a scan in load order would', () => {
  const lines = ['runbooks:'];
  for (let i = 0; i < 1000; i++) {
    lines.push(`  rb-${i}:`, '    risk: LOW', `    triggers: [alert_${i}, group_${i % 10}, common]`);
    if (i % 3 === 0) lines.push(`    match: ['shard="${i % 7}"']`);
    lines.push('    action: kubectl delete pod {pod_name} -n {namespace}');
  }
  const { runbooks, problems } = parseRunbooksText(lines.join('\n'), 'many.yaml');
  assert.deepEqual(problems.map(formatProblem), []);
  assert.equal(runbooks.length, 1000);
  const index = createRunbookIndex(runbooks);
  const scan = (words: string[], labels: Record<string, string>): Runbook | undefined =>
    runbooks.find((rb) => words.some((w) => rb.triggers.includes(w)) && matchersHold(rb.matchers, labels));

  for (let i = 0; i < 1000; i += 37) {
    for (const shard of ['0', '3', '6', 'none']) {
      const labels = { shard };
      const cases = [
        incident({ root_cause: `alert_${i}`, labels }),
        incident({ root_cause: 'nothing', symptoms: [`group_${i % 10}`, `alert_${999 - i}`], labels }),
        incident({ root_cause: 'nothing', alertname: 'common', labels }),
        incident({ root_cause: 'nothing', symptoms: ['none'], labels }),
      ];
      for (const inc of cases) {
        const words = [inc.root_cause, ...inc.symptoms, ...(inc.alertname ? [inc.alertname] : [])];
        assert.equal(index.match(inc)?.id, scan(words, labels)?.id, JSON.stringify({ words, labels }));
      }
    }
  }
  assert.equal(index.match(incident({ root_cause: 'alert_998' }))?.id, 'rb-998');
  assert.equal(index.match(incident({ root_cause: 'alert_999' })), undefined); // rb-999 needs shard="5"
  assert.equal(index.match(incident({ root_cause: 'alert_3', labels: { shard: '3' } }))?.id, 'rb-3');
  assert.equal(index.match(incident({ root_cause: 'alert_3', labels: { shard: '4' } })), undefined);
});

test('a match costs the incident’s words, not the number of runbooks', () => {
  // Count how many runbooks' matchers a lookup evaluates: with an index it is only
  // the runbooks that share a word with the incident, however many are loaded.
  const lines = ['runbooks:'];
  for (let i = 0; i < 1000; i++) lines.push(`  rb-${i}:`, `    triggers: [alert_${i}]`, `    match: ['x="y"']`, '    action: kubectl cordon {node}');
  const { runbooks } = parseRunbooksText(lines.join('\n'), 'many.yaml');
  let evaluated = 0;
  const counted = runbooks.map((rb) => ({
    ...rb,
    get matchers() {
      evaluated += 1;
      return rb.matchers;
    },
  }));
  const index = createRunbookIndex(counted);
  assert.equal(index.match(incident({ root_cause: 'alert_999', symptoms: ['alert_500', 'nope'], labels: { x: 'y' } }))?.id, 'rb-500');
  assert.equal(evaluated, 1);
  evaluated = 0;
  assert.equal(index.match(incident({ root_cause: 'alert_999', symptoms: ['alert_500'], labels: {} })), undefined);
  assert.equal(evaluated, 2);
});

test('a doubled or stray operator (namespace=="a") is named as the operator, not as a quoting problem', () => {
  const message = (m: string): string => {
    const p = parseMatcher(m);
    assert.equal(p.ok, false, m);
    return p.ok ? '' : p.message;
  };
  assert.equal(message('namespace=="a"'), 'invalid matcher "namespace==\\"a\\"": "==" is not an operator (use =, !=, =~ or !~: namespace="value")');
  // Unquoted, it would have matched the value "=a" and nothing else.
  assert.equal(message('namespace==a'), 'invalid matcher "namespace==a": "==" is not an operator (use =, !=, =~ or !~: namespace="value")');
  assert.equal(message('severity!=="info"'), 'invalid matcher "severity!==\\"info\\"": "!==" is not an operator (use =, !=, =~ or !~: severity="value")');
  assert.equal(message('pod=~~"a.*"'), 'invalid matcher "pod=~~\\"a.*\\"": "=~~" is not an operator (use =, !=, =~ or !~: pod="value")');
  // A value that starts so, quoted, is a value.
  const quoted = parseMatcher('a="=x"');
  assert.ok(quoted.ok && quoted.value.value === '=x');
  const { problems } = parseRunbooksText(
    ['runbooks:', '  r:', '    risk: LOW', '    triggers: [t]', '    match: [\'namespace=="a"\']', '    action: kubectl delete pod {pod_name} -n {namespace}', ''].join('\n'),
    'm.yaml',
  );
  assert.deepEqual(problems.map(formatProblem), ['m.yaml:5: runbooks.r.match[0]: invalid matcher "namespace==\\"a\\"": "==" is not an operator (use =, !=, =~ or !~: namespace="value")']);
});
