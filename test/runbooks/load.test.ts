import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatProblem } from '../../src/domain/errors.js';
import { loadRunbookFile, loadRunbooks, parseRunbooksText } from '../../src/runbooks/index.js';
import { FIXTURES, SEED_RUNBOOKS } from './helpers.js';
import { matcherHolds, parseMatcher } from '../../src/runbooks/matchers.js';

test("the seed fixture is the seed's exercise file, byte for byte", () => {
  // sha256 of the seed's runbooks.yaml as published: the fixture must stay unchanged.
  const text = readFileSync(join(SEED_RUNBOOKS, 'runbooks.yaml'));
  assert.equal(createHash('sha256').update(text).digest('hex'), '1330145c41a1a3e9c0b722d5863fd80fccc7e88bf79055c95720addb0439f22d');
});

test('the seed runbooks load with zero problems and compile', () => {
  const { runbooks, problems } = loadRunbooks(SEED_RUNBOOKS);
  assert.deepEqual(problems.map(formatProblem), []);
  assert.deepEqual(
    runbooks.map((r) => [r.id, r.risk]),
    [
      ['restart-pod', 'LOW'],
      ['scale-up', 'LOW'],
      ['rollback-deployment', 'HIGH'],
    ],
  );
  const [restart, scale, rollback] = runbooks;
  assert.ok(restart && scale && rollback);

  assert.equal(restart.file, join(SEED_RUNBOOKS, 'runbooks.yaml'));
  assert.deepEqual(restart.triggers, ['CrashLoopBackOff', 'OOMKilled']);
  assert.equal(restart.minConfidence, 0.8);
  assert.equal(restart.maxPerHour, 5);
  assert.equal(restart.cooldownMs, 5 * 60_000);
  assert.equal(restart.blastRadiusLimit, 1);
  assert.equal(restart.mode, 'auto');
  assert.equal(restart.rollback, null);
  assert.deepEqual(restart.params, ['namespace', 'pod_name']);
  assert.deepEqual(restart.needs, ['kubernetes']);
  assert.deepEqual(
    restart.preChecks.map((c) => (c.type === 'named' ? c.name : c.type)),
    ['replicas_greater_than_one', 'recent_restarts_less_than_three'],
  );
  assert.deepEqual(restart.postChecks[0], { type: 'named', name: 'pod_becomes_ready', params: {}, timeoutMs: 120_000, intervalMs: 5_000 });
  assert.deepEqual(restart.actions, [
    {
      type: 'kubernetes',
      source: 'kubectl delete pod {pod_name} -n {namespace}',
      verb: 'evict_pod',
      kind: 'pod',
      name: { source: '{pod_name}', parts: [{ param: 'pod_name', kind: 'k8s_name' }] },
      namespace: { source: '{namespace}', parts: [{ param: 'namespace', kind: 'k8s_label' }] },
      args: {},
      timeoutMs: 60_000,
    },
  ]);

  assert.equal(scale.actions[0]?.type === 'kubernetes' && scale.actions[0].verb, 'scale');
  assert.ok(scale.rollback);
  assert.equal(scale.rollback.length, 1);
  const back = scale.rollback[0];
  assert.ok(back?.type === 'kubernetes');
  assert.equal(back.verb, 'scale');
  assert.deepEqual(back.args.replicas, { source: '{old_replicas}', parts: [{ param: 'old_replicas', kind: 'integer' }] });
  assert.deepEqual(scale.params, ['deployment', 'namespace', 'new_replicas', 'old_replicas']);
  assert.deepEqual(scale.needs, ['kubernetes', 'prometheus']);
  assert.deepEqual(scale.preChecks[0], {
    type: 'named',
    name: 'current_replicas_below_max',
    params: { max_replicas: 10 },
    timeoutMs: 120_000,
    intervalMs: 5_000,
  });

  assert.equal(rollback.maxPerHour, 1);
  assert.equal(rollback.cooldownMs, 30 * 60_000);
  assert.equal(rollback.actions[0]?.type === 'kubernetes' && rollback.actions[0].verb, 'rollout_undo');
  assert.equal(rollback.rollback?.[0]?.type === 'kubernetes' && rollback.rollback[0].verb, 'rollout_undo');
  assert.deepEqual(rollback.raw.rollback, 'kubectl rollout undo deployment {deployment} -n {namespace}');
});

test('a folder loads in file-name order, skips runbook test files, and every form compiles', () => {
  const dir = join(FIXTURES, 'good');
  const { runbooks, problems } = loadRunbooks(dir);
  assert.deepEqual(problems.map(formatProblem), []);
  assert.deepEqual(
    runbooks.map((r) => `${r.file}#${r.id}`),
    [
      `${dir}/10-all-forms.yaml#seed-dataclass`,
      `${dir}/10-all-forms.yaml#restart-service`,
      `${dir}/10-all-forms.yaml#call-the-app`,
      `${dir}/10-all-forms.yaml#node-maintenance`,
      `${dir}/10-all-forms.yaml#no-risk-given`,
      `${dir}/20-order.yaml#second-crashloop`,
    ],
  );
  const byId = new Map(runbooks.map((r) => [r.id, r]));

  const seed = byId.get('seed-dataclass')!;
  assert.equal(seed.risk, 'LOW'); // risk_level: low
  assert.deepEqual(seed.triggers, ['pod_crash_loop', 'pod_oom_killed', 'CrashLoopBackOff', 'OOMKilled']);
  assert.equal(seed.maxPerHour, 5); // max_executions_per_hour
  assert.equal(seed.description, 'Restart a pod that is in unhealthy state');
  assert.equal(seed.owner, 'platform-team');
  assert.equal(seed.raw.name, 'Restart Unhealthy Pod');
  assert.equal(seed.raw.success_rate, 0.95);
  assert.equal(seed.postChecks[0]?.timeoutMs, 60_000);

  const medium = byId.get('restart-service')!;
  assert.equal(medium.risk, 'MEDIUM');
  assert.equal(medium.mode, 'dry_run');
  assert.equal(medium.maxUnavailable, '25%');
  assert.equal(medium.rollback, null);
  assert.equal(medium.rollbackReason, 'a restart cannot be undone; pods come back on their own');
  assert.equal(medium.raw.rollback, 'none');
  assert.deepEqual(
    medium.matchers.map((m) => [m.name, m.op, m.value, m.re ? ['prod-eu', 'xprod', 'dev'].map((v) => m.re!.test(v)) : null]),
    [
      // Anchored at both ends, as Alertmanager's.
      ['namespace', '=~', 'prod.*', [true, false, false]],
      ['severity', '!=', 'info', null],
    ],
  );
  assert.deepEqual(medium.windows, [
    { days: [1, 2, 3, 4, 5], daysText: 'mon–fri', startMinute: 22 * 60, endMinute: 6 * 60, timezone: 'Europe/Paris' },
    { days: [0, 6], daysText: 'sat, sun', startMinute: 0, endMinute: 1440, timezone: 'UTC' },
  ]);
  assert.deepEqual(
    medium.guardrails.map((g) => g.type),
    ['named', 'promql'],
  );
  const guard = medium.guardrails[1];
  assert.ok(guard?.type === 'promql');
  assert.deepEqual(guard.query.parts, ['sum(up{job="', { param: 'service', kind: 'label_value' }, '"})']);
  assert.deepEqual(guard.expect, { op: '>=', value: 2 });
  const promql = medium.postChecks[2];
  assert.ok(promql?.type === 'promql');
  assert.deepEqual([promql.forMs, promql.timeoutMs, promql.intervalMs, promql.onEmpty], [30_000, 120_000, 5_000, 'pass']);
  const kube = medium.postChecks[0];
  assert.ok(kube?.type === 'kubernetes');
  assert.deepEqual([kube.condition, kube.kind, kube.params], ['deployment_ready', 'deployment', { min_ready: 2 }]);
  const http = medium.postChecks[1];
  assert.ok(http?.type === 'http');
  assert.deepEqual([http.method, http.expectStatus, http.timeoutMs, http.intervalMs], ['GET', [200, 299], 60_000, 2_000]);
  assert.deepEqual(medium.needs, ['http', 'kubernetes', 'prometheus']);
  const restart = medium.actions[0];
  assert.ok(restart?.type === 'kubernetes');
  assert.equal(restart.verb, 'rollout_restart');
  assert.equal(restart.namespace?.source, '{namespace}');

  const app = byId.get('call-the-app')!;
  const [post, cmd, sts] = app.actions;
  assert.ok(post?.type === 'http' && cmd?.type === 'command' && sts?.type === 'kubernetes');
  assert.equal(post.method, 'POST');
  assert.deepEqual(post.expectStatus, [200, 299]);
  assert.equal(post.timeoutMs, 10_000);
  assert.deepEqual(post.url.parts, [
    'http://127.0.0.1:8080/restart/',
    { param: 'service', kind: 'url_segment' },
    '?reason=',
    { param: 'reason', kind: 'url_query' },
  ]);
  assert.deepEqual(post.headers.Authorization?.parts, ['Bearer ${env:APP_TOKEN}']);
  assert.deepEqual(post.headers['X-Incident']?.parts, [{ param: 'incident', kind: 'header' }]);
  assert.deepEqual(
    cmd.argv.map((t) => t.parts),
    [['/usr/local/bin/flush-queue'], ['--queue'], [{ param: 'queue', kind: 'argv' }]],
  );
  assert.equal(cmd.timeoutMs, 15_000);
  assert.deepEqual([sts.kind, sts.name.source, sts.namespace?.source], ['statefulset', '{service}-workers', 'jobs']);
  assert.deepEqual(app.params, ['incident', 'queue', 'reason', 'replicas', 'service']);
  assert.deepEqual(app.needs, ['command', 'http', 'kubernetes']);
  assert.equal(app.rollback?.[0]?.type === 'kubernetes' && app.rollback[0].args.replicas?.source, '1');

  const node = byId.get('node-maintenance')!;
  assert.equal(node.approvalsRequired, 2);
  assert.deepEqual(node.guardrails, []); // prose guardrails on HIGH are notes, kept in raw
  assert.deepEqual(node.raw.guardrails, ['human_approval_required', 'incident_documented']);
  const verbs = node.actions.map((a) => (a.type === 'kubernetes' ? a.verb : a.type));
  assert.deepEqual(verbs, ['cordon', 'drain', 'delete_pod', 'rollout_undo', 'scale']);
  const drain = node.actions[1];
  assert.ok(drain?.type === 'kubernetes');
  assert.deepEqual(
    Object.fromEntries(Object.entries(drain.args).map(([k, t]) => [k, t.source])),
    { ignore_daemonsets: 'true', delete_emptydir_data: 'true', grace_period_seconds: '30', timeout_seconds: '120' },
  );
  assert.equal(drain.timeoutMs, 120_000);
  assert.equal(drain.namespace, null);
  const undo = node.actions[3];
  assert.ok(undo?.type === 'kubernetes');
  assert.deepEqual(undo.args.to_revision?.parts, [{ param: 'revision', kind: 'integer' }]);

  const defaults = byId.get('no-risk-given')!;
  assert.deepEqual(
    [defaults.risk, defaults.minConfidence, defaults.maxPerHour, defaults.cooldownMs, defaults.blastRadiusLimit, defaults.mode, defaults.approvalsRequired, defaults.forceDelete, defaults.maxUnavailable],
    ['HIGH', 0.8, 3, 600_000, 1, 'auto', 1, false, null],
  );
});

test('compiled runbooks are frozen: one caller cannot change another caller’s runbook', () => {
  const { runbooks } = loadRunbooks(SEED_RUNBOOKS);
  const rb = runbooks[0]!;
  assert.throws(() => {
    (rb as { risk: string }).risk = 'LOW';
  }, TypeError);
  assert.throws(() => {
    (rb.triggers as string[]).push('x');
  }, TypeError);
});

test('a runbook id defined in two files is an error in the later file at its line, naming where the first is, and the first one wins', () => {
  const dir = join(FIXTURES, 'dup');
  const { runbooks, problems } = loadRunbooks(dir);
  assert.deepEqual(problems.map(formatProblem), [
    `${dir}/b.yaml:6: runbooks.restart-pod: duplicate runbook id "restart-pod" (first defined in ${dir}/a.yaml:2)`,
  ]);
  assert.deepEqual(
    runbooks.map((r) => [r.id, r.risk]),
    [
      ['restart-pod', 'LOW'],
      ['other', 'LOW'],
    ],
  );
});

test('a missing folder, an empty file and a file that is not a map', () => {
  assert.deepEqual(loadRunbooks('/nonexistent/rectify-runbooks').problems.map(formatProblem), [
    '/nonexistent/rectify-runbooks: cannot read the runbooks folder: ENOENT',
  ]);
  assert.deepEqual(loadRunbookFile('/nonexistent/x.yaml').problems.map(formatProblem), ['/nonexistent/x.yaml: cannot read the file: ENOENT (file not found)']);
  assert.deepEqual(parseRunbooksText('', 'e.yaml'), { runbooks: [], problems: [], warnings: [] });
  assert.deepEqual(parseRunbooksText('# only a comment\n', 'e.yaml'), { runbooks: [], problems: [], warnings: [] });
  assert.deepEqual(parseRunbooksText('- a\n- b\n', 'l.yaml').problems.map(formatProblem), [
    'l.yaml:1: expected a map with a top-level "runbooks:" key, got a list: not a runbook file',
  ]);
  assert.deepEqual(parseRunbooksText('runbooks: [a]\n', 'l.yaml').problems.map(formatProblem), [
    'l.yaml:1: runbooks: expected a map of runbook id to runbook, got a list',
  ]);
});

test('problems carry the line of the offending key or value', () => {
  const text = ['runbooks:', '  r:', '    risk: LOW', '    max_per_hour: five', '    max_per_hou: 5', '    action: kubectl delete pod {p} -n prod', ''].join('\n');
  const { problems } = parseRunbooksText(text, 'x.yaml');
  assert.deepEqual(problems, [
    { file: 'x.yaml', path: 'runbooks.r.max_per_hour', message: 'expected a positive integer, got "five"', line: 4 },
    { file: 'x.yaml', path: 'runbooks.r.max_per_hou', message: 'unknown key (did you mean "max_per_hour"?)', line: 5 },
  ]);
});

test('a problem prints as file:line: path: message, the line and path where there are any', () => {
  assert.equal(formatProblem({ file: 'x.yaml', path: 'runbooks.r.max_per_hour', message: 'expected a positive integer, got "five"', line: 4 }), 'x.yaml:4: runbooks.r.max_per_hour: expected a positive integer, got "five"');
  assert.equal(formatProblem({ file: 'x.yaml', path: '', message: 'expected a map', line: 1 }), 'x.yaml:1: expected a map');
  assert.equal(formatProblem({ file: 'x.yaml', path: '', message: 'cannot read the file: ENOENT (file not found)' }), 'x.yaml: cannot read the file: ENOENT (file not found)');
});

test("a file name or path with a line break or an invisible character prints quoted, with escapes: it cannot forge a problem line", () => {
  const dir = mkdtempSync(join(tmpdir(), 'rectify-fname-'));
  try {
    writeFileSync(join(dir, 'a\nFORGED-LINE: everything fine\n.yaml'), 'runbooks:\n  x:\n    risk: WHAT\n');
    const lines = loadRunbooks(dir).problems.map(formatProblem);
    const file = JSON.stringify(join(dir, 'a\nFORGED-LINE: everything fine\n.yaml'));
    assert.deepEqual(lines, [
      `${file}:3: runbooks.x.risk: expected LOW, MEDIUM or HIGH, got "WHAT"`,
      `${file}:3: runbooks.x: missing "action" (or "actions"): a runbook must say what it does`,
    ]);
    assert.equal(lines.join('\n').split('\n').length, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // The other control and invisible characters too, in the file and in the path; a space alone keeps a name as it is.
  assert.equal(formatProblem({ file: 'x\u202e.yaml', path: 'a\rb', message: 'm', line: 2 }), '"x\\u202e.yaml":2: "a\\rb": m');
  assert.equal(formatProblem({ file: 'r\u200b.yaml', path: '', message: 'm' }), '"r\\u200b.yaml": m');
  assert.equal(formatProblem({ file: 'my runbooks/x.yaml', path: 'runbooks["a b"]', message: 'm', line: 1 }), 'my runbooks/x.yaml:1: runbooks["a b"]: m');
});

test('aliases that expand too far are refused instead of exhausting memory', () => {
  const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 0; i < 8; i++) lines.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]`);
  const { runbooks, problems } = parseRunbooksText(lines.join('\n'), 'bomb.yaml');
  assert.equal(runbooks.length, 0);
  assert.equal(problems.length, 1);
  // Named at the alias that takes what the aliases repeat past 100,000 values.
  assert.match(formatProblem(problems[0]!), /^bomb\.yaml:5: e\[7\]: \*d repeats 11,111 values .* past 100,000/);
});

test('regex matchers are RE2: a hostile label cannot make matching backtrack, and RE2 syntax (inline flags) works as in Alertmanager', () => {
  const hostile = parseMatcher('pod=~"(a+)+b"');
  assert.ok(hostile.ok);
  // A backtracking engine takes about 2^n steps here (minutes for n = 40); RE2 is linear.
  assert.equal(matcherHolds(hostile.value, { pod: `${'a'.repeat(100_000)}c` }), false);
  assert.equal(matcherHolds(hostile.value, { pod: 'aaab' }), true);
  const insensitive = parseMatcher('severity=~"(?i)critical|warning"');
  assert.ok(insensitive.ok, insensitive.ok ? '' : insensitive.message);
  assert.deepEqual(['CRITICAL', 'warning', 'info'].map((v) => matcherHolds(insensitive.value, { severity: v })), [true, true, false]);
  const backref = parseMatcher('x=~"(a)\\\\1"');
  assert.equal(backref.ok, false);
});

test('on_no_data: needs_human is read on promql, named and kubernetes: checks; elsewhere, or misspelt, it is a load error naming the path', () => {
  const rb = (checks: string) => ['runbooks:', '  r:', '    risk: LOW', '    action: kubectl rollout undo deployment {deployment} -n {namespace}', '    rollback: kubectl rollout undo deployment {deployment} -n {namespace}', '    post_checks:', checks, ''].join('\n');
  const good = parseRunbooksText(
    rb(
      [
        '      - error_rate_normalized: {threshold: 0.1, on_no_data: needs_human}',
        '      - {named: metrics_improved, on_no_data: fail}',
        "      - promql: {query: 'up', expect: '== 1', on_no_data: needs_human}",
        "      - promql: {query: 'up', expect: '== 1'}",
        "      - kubernetes: {condition: deployment_ready, name: '{deployment}', namespace: '{namespace}', on_no_data: needs_human}",
        // The named checks that read the cluster take it as the kubernetes: form does.
        '      - pod_becomes_ready: {on_no_data: needs_human, timeout_seconds: 60}',
        '      - {named: deployment_exists, on_no_data: needs_human}',
        '      - {named: current_replicas_below_max, params: {max_replicas: 5}, on_no_data: fail}',
      ].join('\n'),
    ),
    'g.yaml',
  );
  assert.deepEqual(good.problems.map(formatProblem), []);
  assert.deepEqual(
    good.runbooks[0]!.postChecks.map((c) => ('onNoData' in c ? c.onNoData : undefined)),
    ['needs_human', 'fail', 'needs_human', undefined, 'needs_human', 'needs_human', 'needs_human', 'fail'],
  );
  const bad = parseRunbooksText(
    rb(
      [
        '      - pod_becomes_ready: {on_no_data: needs-human}',
        "      - promql: {query: 'up', expect: '== 1', on_no_data: needs-human}",
        '      - {named: deployment_exists, on_no_data: true}',
        "      - http: {url: 'http://health.example/', on_no_data: needs_human}",
      ].join('\n'),
    ),
    'b.yaml',
  );
  assert.deepEqual(bad.problems.map(formatProblem), [
    'b.yaml:7: runbooks.r.post_checks[0].pod_becomes_ready.on_no_data: expected one of fail, needs_human, got "needs-human" (did you mean "needs_human"?)',
    'b.yaml:8: runbooks.r.post_checks[1].promql.on_no_data: expected one of fail, needs_human, got "needs-human" (did you mean "needs_human"?)',
    'b.yaml:9: runbooks.r.post_checks[2].on_no_data: expected one of fail, needs_human, got true',
    'b.yaml:10: runbooks.r.post_checks[3].http.on_no_data: unknown key',
  ]);
  // Before the actions, it would hold back nothing: a failed pre-check or guardrail runs no rollback.
  const before = parseRunbooksText(
    [
      'runbooks:',
      '  r:',
      '    risk: MEDIUM',
      '    action: kubectl rollout restart deployment {deployment} -n {namespace}',
      '    pre_checks:',
      "      - promql: {query: 'up', expect: '== 1', on_no_data: needs_human}",
      "      - kubernetes: {condition: deployment_ready, name: '{deployment}', namespace: '{namespace}', on_no_data: needs_human}",
      '      - replicas_greater_than_one: {on_no_data: needs_human}',
      '    guardrails:',
      "      - promql: {query: 'up', expect: '== 1', on_no_data: fail, timeout_seconds: 10}",
      '      - {named: deployment_exists, on_no_data: needs_human, timeout_seconds: 5}',
      '',
    ].join('\n'),
    'p.yaml',
  );
  assert.deepEqual(before.problems.map(formatProblem), [
    'p.yaml:6: runbooks.r.pre_checks[0]: on_no_data is for post_checks only: a pre-check is checked before any action, and its failure never runs a rollback',
    'p.yaml:7: runbooks.r.pre_checks[1]: on_no_data is for post_checks only: a pre-check is checked before any action, and its failure never runs a rollback',
    'p.yaml:8: runbooks.r.pre_checks[2]: on_no_data is for post_checks only: a pre-check is checked before any action, and its failure never runs a rollback',
    'p.yaml:10: runbooks.r.guardrails[0]: on_no_data is for post_checks only: a guardrail is checked before any action, and its failure never runs a rollback',
    'p.yaml:11: runbooks.r.guardrails[1]: on_no_data is for post_checks only: a guardrail is checked before any action, and its failure never runs a rollback',
  ]);
});

test("metrics_improved's margin: 10% by default, a fraction between 0 and 1 or a percentage; anything else is a load error naming the path", () => {
  const rb = (checks: string) => ['runbooks:', '  r:', '    risk: LOW', '    action: kubectl rollout undo deployment {deployment} -n {namespace}', '    rollback: kubectl rollout undo deployment {deployment} -n {namespace}', '    post_checks:', checks, ''].join('\n');
  const good = parseRunbooksText(
    rb(['      - metrics_improved', '      - metrics_improved: {margin: 0.25}', "      - {named: metrics_improved, params: {margin: '12.5%'}}", "      - metrics_improved: {margin: '1%', timeout_seconds: 60}"].join('\n')),
    'g.yaml',
  );
  assert.deepEqual(good.problems.map(formatProblem), []);
  assert.deepEqual(
    good.runbooks[0]!.postChecks.map((c) => (c.type === 'named' ? c.params.margin : undefined)),
    [0.1, 0.25, 0.125, 0.01],
  );
  const bad = parseRunbooksText(
    rb(['      - metrics_improved: {margin: 0}', '      - metrics_improved: {margin: 1}', "      - metrics_improved: {margin: '100%'}", "      - metrics_improved: {margin: '10'}", '      - metrics_improved: {margin: -0.1}', '      - error_rate_normalized: {margin: 0.1}'].join('\n')),
    'b.yaml',
  );
  const want = (i: number, got: string) => `b.yaml:${7 + i}: runbooks.r.post_checks[${i}].metrics_improved.margin: expected a fraction between 0 and 1 (exclusive) such as 0.1, or a percentage such as "10%", got ${got}`;
  assert.deepEqual(bad.problems.map(formatProblem), [
    want(0, '0'),
    want(1, '1'),
    want(2, '"100%"'),
    want(3, '"10"'),
    want(4, '-0.1'),
    'b.yaml:12: runbooks.r.post_checks[5].error_rate_normalized.margin: unknown parameter for error_rate_normalized (known: query, threshold)',
  ]);
});

test("error_rate_normalized's threshold: 5% by default, a fraction between 0 and 1 or a percentage; 5 (meant as 5 %) is a load error naming the path", () => {
  // A threshold of 5 or 100 is above any error ratio: the check would pass whatever the
  // service served, and a bad undo would never be rolled back.
  const rb = (checks: string) => ['runbooks:', '  r:', '    risk: LOW', '    action: kubectl rollout undo deployment {deployment} -n {namespace}', '    rollback: kubectl rollout undo deployment {deployment} -n {namespace}', '    post_checks:', checks, ''].join('\n');
  const good = parseRunbooksText(
    rb(['      - error_rate_normalized', '      - error_rate_normalized: {threshold: 0.01}', "      - {named: error_rate_normalized, params: {threshold: '5%'}}", "      - error_rate_normalized: {threshold: '0.5%', on_no_data: needs_human}"].join('\n')),
    'g.yaml',
  );
  assert.deepEqual(good.problems.map(formatProblem), []);
  assert.deepEqual(
    good.runbooks[0]!.postChecks.map((c) => (c.type === 'named' ? c.params.threshold : undefined)),
    [0.05, 0.01, 0.05, 0.005],
  );
  const bad = parseRunbooksText(
    rb(['      - error_rate_normalized: {threshold: -1}', '      - error_rate_normalized: {threshold: 0}', '      - error_rate_normalized: {threshold: 1.5}', '      - error_rate_normalized: {threshold: 100}', '      - error_rate_normalized: {threshold: 5}', "      - {named: error_rate_normalized, params: {threshold: '5'}}"].join('\n')),
    'b.yaml',
  );
  const want = (i: number, got: string) => `b.yaml:${7 + i}: runbooks.r.post_checks[${i}].error_rate_normalized.threshold: expected a fraction between 0 and 1 (exclusive) such as 0.1, or a percentage such as "10%", got ${got}`;
  assert.deepEqual(bad.problems.map(formatProblem), [want(0, '-1'), want(1, '0'), want(2, '1.5'), want(3, '100'), want(4, '5'), 'b.yaml:12: runbooks.r.post_checks[5].params.threshold: expected a fraction between 0 and 1 (exclusive) such as 0.1, or a percentage such as "10%", got "5"']);
});

test('outside_windows: block by default, or approval; anything else is a load error naming the path; it is part of what the runbook means', () => {
  const rb = (id: string, extra: string) =>
    `  ${id}:\n    risk: MEDIUM\n    triggers: [Foo]\n    windows: [{start: "22:00", end: "06:00"}]\n${extra}    action: {http: {method: POST, url: "http://127.0.0.1:9/x"}}\n`;
  const one = (extra: string) => {
    const { runbooks, problems } = parseRunbooksText(`runbooks:\n${rb('r', extra)}`, 'g.yaml');
    assert.deepEqual(problems, []);
    return runbooks[0]!;
  };
  const [absent, block, ask] = [one(''), one('    outside_windows: block\n'), one('    outside_windows: approval\n')];
  assert.deepEqual([absent, block, ask].map((r) => r.outsideWindows ?? 'block'), ['block', 'block', 'approval']);
  // Written out, the default is no change; approval is one (a pending request asked under the other is cancelled when approved).
  assert.equal(block.planVersion, absent.planVersion);
  assert.notEqual(ask.planVersion, absent.planVersion);
  const bad = parseRunbooksText(
    `runbooks:\n${rb('a', '    outside_windows: approve\n')}${rb('b', '    outside_windows: true\n')}${rb('c', '    outside_windows: null\n')}`,
    'b.yaml',
  );
  assert.deepEqual(bad.problems.map(formatProblem), [
    'b.yaml:6: runbooks.a.outside_windows: expected one of block, approval, got "approve" (did you mean "approval"?)',
    'b.yaml:12: runbooks.b.outside_windows: expected one of block, approval, got true',
    'b.yaml:18: runbooks.c.outside_windows: expected one of block, approval, got null',
  ]);
  assert.deepEqual(bad.runbooks, [], 'a runbook with a problem is never loaded');
});
