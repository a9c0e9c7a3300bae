import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../src/cli/index.js';
import { formatProblem, type LoadProblem } from '../../src/domain/errors.js';
import { parseRunbooksText } from '../../src/runbooks/index.js';

/**
 * Text that looks like a placeholder but, by the brace rule, is literal: `{{name}}`,
 * `{ name }`, `{queue-name}`, an unclosed `{name`. Where a brace is never meant (argv,
 * URLs, Kubernetes fields) it is a load error; where braces are (PromQL, headers,
 * bodies) a warning. Each case sits next to legitimate braces that must stay silent.
 */

const FILE = 'near.yaml';
const lines = (list: LoadProblem[]): string[] => list.map((p) => formatProblem(p).slice(FILE.length + 1));

test('the reported case: rectify lint refuses "{queue-name}" and "{{service}}" in argv and "{ service }" in a URL', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rectify-near-'));
  mkdirSync(join(dir, 'runbooks'));
  const file = join(dir, 'runbooks', 'flush.yaml');
  writeFileSync(
    file,
    [
      'runbooks:',
      '  flush-queue:',
      '    owner: ops',
      '    risk: LOW',
      '    triggers: [queue_backlog]',
      '    params: [queue_name]',
      '    actions:',
      '      - command: {argv: [/usr/local/bin/flush-queue, --queue, "{queue-name}", --svc, "{{service}}"]}',
      '      - http: {url: "http://127.0.0.1:8080/restart/{ service }"}',
      '    rollback: none',
      '    rollback_reason: a flushed queue cannot be refilled',
      '    post_checks: [{promql: {query: \'sum(queue_depth{queue="{queue_name}"})\', expect: "< 10"}}]',
      '',
    ].join('\n'),
  );
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['lint', 'runbooks'], { out: (l: string) => out.push(l), err: (l: string) => err.push(l), env: {}, cwd: dir });
  assert.equal(code, 1);
  assert.deepEqual(out, []);
  assert.deepEqual(err, [
    `${file}:8: runbooks.flush-queue.actions[0].command.argv[2]: "{queue-name}" looks like a placeholder but "-" is not allowed in a name: use {queue_name} and a params entry`,
    `${file}:8: runbooks.flush-queue.actions[0].command.argv[4]: "{{service}}" is not a placeholder ({{ and }} are escaped, literal braces): write {service}`,
    `${file}:9: runbooks.flush-queue.actions[1].http.url: "{ service }" looks like a placeholder but has spaces inside the braces: write {service}`,
    `3 problem(s) and 0 warning(s) in ${join(dir, 'runbooks')}`,
  ]);
});

test('argv, URLs and Kubernetes fields: every near-miss kind is a load error naming the fix', () => {
  const text = [
    'runbooks:',
    '  literal:',
    '    risk: LOW',
    '    triggers: [x]',
    '    params: [queue_name, pod_name]',
    '    actions:',
    '      - command: {argv: [/usr/local/bin/flush-queue, "{{ queue_name }}", "--to={ service }", "--ns={namespace", "{service.name}"]}',
    '      - command: {argv: [/usr/bin/find, /var/cache, -name, "*.tmp", -exec, /bin/rm, "{}", ";", "--format={{.Name}}", "{{{{queue_name}}}}", "{queue_name}", \'{"force": true, "ids": [1, 2]}\']}',
    '      - http: {url: "http://127.0.0.1:8080/queues/{queue-name}/flush?by={{service}}&ns={namespace"}',
    '      - kubectl delete pod {pod-name} -n {namespace}',
    '      - kubectl rollout restart deployment {{deployment}} -n {namespace}',
    '      - kubernetes: {verb: scale, name: "{ deployment }", namespace: "{namespace", replicas: "{new-replicas}"}',
    '    rollback: none',
    '    rollback_reason: a test',
    '    post_checks:',
    '      - http: {url: "http://127.0.0.1:8080/queues/{queue_name/depth"}',
    '      - kubernetes: {condition: exists, kind: pod, name: "{{pod_name}}", namespace: "{namespace}"}',
    '',
  ].join('\n');
  const { runbooks, problems, warnings } = parseRunbooksText(text, FILE);
  assert.deepEqual(runbooks, []);
  assert.deepEqual(warnings, []);
  assert.deepEqual(lines(problems), [
    '7: runbooks.literal.actions[0].command.argv[1]: "{{ queue_name }}" is not a placeholder ({{ and }} are escaped, literal braces): write {queue_name}',
    '7: runbooks.literal.actions[0].command.argv[2]: "{ service }" looks like a placeholder but has spaces inside the braces: write {service}',
    '7: runbooks.literal.actions[0].command.argv[3]: "{namespace" looks like a placeholder but has no closing "}": write {namespace}',
    '7: runbooks.literal.actions[0].command.argv[4]: "{service.name}" looks like a placeholder but "." is not allowed in a name: use {service_name} and a params entry',
    // Line 8 stays silent: find's "{}", a Go template, an escaped literal, a real placeholder and JSON.
    '9: runbooks.literal.actions[2].http.url: "{queue-name}" looks like a placeholder but "-" is not allowed in a name: use {queue_name} and a params entry',
    '9: runbooks.literal.actions[2].http.url: "{{service}}" is not a placeholder ({{ and }} are escaped, literal braces): write {service}',
    '9: runbooks.literal.actions[2].http.url: "{namespace" looks like a placeholder but has no closing "}": write {namespace}',
    '10: runbooks.literal.actions[3]: kubectl delete pod: "{pod-name}" looks like a placeholder but "-" is not allowed in a name: use {pod_name} and a params entry',
    '11: runbooks.literal.actions[4]: kubectl rollout restart deployment: "{{deployment}}" is not a placeholder ({{ and }} are escaped, literal braces): write {deployment}',
    '12: runbooks.literal.actions[5].kubernetes.name: "{ deployment }" looks like a placeholder but has spaces inside the braces: write {deployment}',
    '12: runbooks.literal.actions[5].kubernetes.namespace: "{namespace" looks like a placeholder but has no closing "}": write {namespace}',
    '12: runbooks.literal.actions[5].kubernetes.replicas: "{new-replicas}" looks like a placeholder but "-" is not allowed in a name: use {new_replicas} and a params entry',
    '16: runbooks.literal.post_checks[0].http.url: "{queue_name" looks like a placeholder but has no closing "}": write {queue_name}',
    '17: runbooks.literal.post_checks[1].kubernetes.name: "{{pod_name}}" is not a placeholder ({{ and }} are escaped, literal braces): write {pod_name}',
  ]);
});

test('PromQL queries, HTTP headers and bodies: near-misses are warnings, the runbook loads, and PromQL matchers and JSON braces stay silent', () => {
  const text = [
    'runbooks:',
    '  notify:',
    '    owner: ops',
    '    risk: LOW',
    '    triggers: [KubePodCrashLooping]',
    '    params: [queue_name]',
    '    actions:',
    '      - http:',
    '          url: "http://127.0.0.1:8080/notify/{service}"',
    '          headers: {X-Service: "{{service}}", Authorization: "Bearer ${env:NOTIFY_TOKEN}", X-Queue: "{queue_name}"}',
    '          body:',
    '            text: "restarting { service } in {namespace}"',
    '            queue: "{queue-name}"',
    '            tags: ["{namespace", "{{not a placeholder}}", "{{{{queue_name}}}}"]',
    '            json: \'{"service": "{service}", "opts": {"force": true, "pods": ["{pod}"]}}\'',
    '            nested: {selector: {app: "{service}"}, count: 2}',
    '    rollback: none',
    '    rollback_reason: a notification cannot be unsent',
    '    post_checks:',
    '      - promql: {query: \'sum(up{job="{{service}}", namespace="{namespace}"})\', expect: "> 0"}',
    '      - promql: {query: \'sum(up{job="{ service }"}) + sum(up{job="{service-name}", pod="{pod"})\', expect: "> 0"}',
    '      - promql: {query: \'sum by (job) (rate(http_requests_total{job="{service}", code=~"5..", le="+Inf", instance=~"[a-z]{2,3}-.*"}[5m])) / sum(up{{job="{service}"}}) + count({__name__=~"kube_.+", namespace!=""})\', expect: "< 0.05"}',
    '      - http: {url: "http://127.0.0.1:8080/health", headers: {X-Pod: "{pod"}}',
    '',
  ].join('\n');
  const { runbooks, problems, warnings } = parseRunbooksText(text, FILE);
  assert.deepEqual(problems, []);
  assert.deepEqual(runbooks.map((r) => r.id), ['notify'], 'a warning never stops a runbook from loading');
  assert.deepEqual(lines(warnings), [
    '10: runbooks.notify.actions[0].http.headers.X-Service: "{{service}}" is not a placeholder ({{ and }} are escaped, literal braces): write {service}',
    '12: runbooks.notify.actions[0].http.body.text: "{ service }" looks like a placeholder but has spaces inside the braces: write {service}',
    '13: runbooks.notify.actions[0].http.body.queue: "{queue-name}" looks like a placeholder but "-" is not allowed in a name: use {queue_name} and a params entry',
    '14: runbooks.notify.actions[0].http.body.tags[0]: "{namespace" looks like a placeholder but has no closing "}": write {namespace}',
    '20: runbooks.notify.post_checks[0].promql.query: "{{service}}" is not a placeholder ({{ and }} are escaped, literal braces): write {service}',
    '21: runbooks.notify.post_checks[1].promql.query: "{ service }" looks like a placeholder but has spaces inside the braces: write {service}',
    '21: runbooks.notify.post_checks[1].promql.query: "{service-name}" looks like a placeholder but "-" is not allowed in a name: use {service_name} and a params entry',
    '21: runbooks.notify.post_checks[1].promql.query: "{pod" looks like a placeholder but has no closing "}": write {pod}',
    '23: runbooks.notify.post_checks[3].http.headers.X-Pod: "{pod" looks like a placeholder but has no closing "}": write {pod}',
  ]);
});

test('a name with a look-alike letter ({ѕervice} with a Cyrillic "ѕ", {ｓervice} fullwidth) is a near-miss too: it ran as the literal text', () => {
  const text = [
    'runbooks:',
    '  lookalike:',
    '    risk: LOW',
    '    triggers: [x]',
    '    params: [service, pod_name]',
    '    actions:',
    '      - command: {argv: [/usr/local/bin/flush, "{\u0455ervice}"]}',
    '      - "kubectl delete pod {pod_n\u0430me}"',
    '      - http: {url: "http://127.0.0.1:8080/restart/{\uff53ervice}"}',
    '    rollback: none',
    '    rollback_reason: x',
    '',
  ].join('\n');
  const { runbooks, problems } = parseRunbooksText(text, FILE);
  assert.deepEqual(runbooks, []);
  const fix = 'a name is ASCII letters, digits and "_" (is it a look-alike of an ASCII letter?): retype it';
  assert.deepEqual(lines(problems), [
    `7: runbooks.lookalike.actions[0].command.argv[1]: "{\u0455ervice}" looks like a placeholder but "\u0455" is not allowed in a name: ${fix}`,
    `8: runbooks.lookalike.actions[1]: kubectl delete pod: "{pod_n\u0430me}" looks like a placeholder but "\u0430" is not allowed in a name: ${fix}`,
    `9: runbooks.lookalike.actions[2].http.url: "{\uff53ervice}" looks like a placeholder but "\uff53" is not allowed in a name: ${fix}`,
  ]);
});

test('where nothing is filled (a match: value, a body key, a named check parameter): a {name} is a load error, a look-alike a warning', () => {
  // `namespace!="{namespace}"` compared the label with that text: the exclusion never applied.
  const refused = parseRunbooksText(
    [
      'runbooks:',
      '  literal:',
      '    owner: ops',
      '    risk: LOW',
      '    triggers: [KubePodCrashLooping]',
      '    match: [\'namespace!="{namespace}"\', \'pod=~"{pod}-.*"\', \'severity=~"a{2,3}"\']',
      '    action:',
      '      http: {url: "http://127.0.0.1:8080/restart", body: {"{svc}": "{pod}", list: [{"x_{pod}": 1}], "{}": ok}}',
      '    post_checks: [pod_becomes_ready]',
      '',
    ].join('\n'),
    FILE,
  );
  assert.equal(refused.runbooks.length, 0);
  assert.deepEqual(lines(refused.problems), [
    '6: runbooks.literal.match[0]: placeholder {namespace} is not filled in a match: value (matchers are not templates), so the label is compared with the text "{namespace}" itself: write the value out',
    '6: runbooks.literal.match[1]: placeholder {pod} is not filled in a match: value (matchers are not templates), so the label is compared with the text "{pod}" itself: write the value out',
    '8: runbooks.literal.action.http.body.{svc}: placeholder {svc} is not filled in a body key (only string values are), so the key "{svc}" would be sent as written: use a fixed key and put the value in a string value',
    '8: runbooks.literal.action.http.body.list[0].x_{pod}: placeholder {pod} is not filled in a body key (only string values are), so the key "x_{pod}" would be sent as written: use a fixed key and put the value in a string value',
  ]);

  const warned = parseRunbooksText(
    [
      'runbooks:',
      '  literal:',
      '    owner: ops',
      '    risk: LOW',
      '    triggers: [KubePodCrashLooping]',
      '    match: [\'pod=~"{{pod}}-.*"\', \'namespace!="{ namespace }"\', \'job=~"x{1,2}"\']',
      '    action:',
      '      http: {url: "http://127.0.0.1:8080/restart", body: {"{{svc}}": "{pod}", "{}": ok, "a{b": [1]}}',
      '    rollback: null',
      '    post_checks:',
      '      - pod_becomes_ready',
      '      - error_rate_normalized: {query: \'sum(rate(x{job="{{service}}"}[5m]))\'}',
      '      - {named: metrics_improved, params: {query: \'up{job="{service.name}"}\'}}',
      '',
    ].join('\n'),
    FILE,
  );
  assert.deepEqual(lines(warned.problems), []);
  assert.equal(warned.runbooks.length, 1);
  assert.deepEqual(
    lines(warned.warnings).filter((w) => w.includes('looks like a placeholder')),
    [
      '6: runbooks.literal.match[0]: "{{pod}}" looks like a placeholder, but a match: value is not a template: nothing is filled in it, so it is matched as written',
      '6: runbooks.literal.match[1]: "{ namespace }" looks like a placeholder, but a match: value is not a template: nothing is filled in it, so it is matched as written',
      '8: runbooks.literal.action.http.body.{{svc}}: "{{svc}}" looks like a placeholder, but a body key is not a template (only string values are): nothing is filled in it, so it is sent as written',
      '8: runbooks.literal.action.http.body.a{b: "{b" looks like a placeholder, but a body key is not a template (only string values are): nothing is filled in it, so it is sent as written',
      '12: runbooks.literal.post_checks[1].error_rate_normalized.query: "{{service}}" looks like a placeholder, but named check parameters are literal: nothing is filled in it, so it is sent as written; use a promql check for a templated query',
      '13: runbooks.literal.post_checks[2].params.query: "{service.name}" looks like a placeholder, but named check parameters are literal: nothing is filled in it, so it is sent as written; use a promql check for a templated query',
    ],
  );
});
