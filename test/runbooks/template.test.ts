import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileTemplate, parseKubectl, tokenize } from '../../src/runbooks/index.js';

test('placeholders, escaped braces and literal braces', () => {
  assert.deepEqual(compileTemplate('kubectl delete pod {pod_name}', 'k8s_name').parts, ['kubectl delete pod ', { param: 'pod_name', kind: 'k8s_name' }]);
  // {{ and }} are literal braces around a placeholder.
  assert.deepEqual(compileTemplate('rate(http_errors_total{{job="{service}"}}[5m])', 'label_value').parts, [
    'rate(http_errors_total{job="',
    { param: 'service', kind: 'label_value' },
    '"}[5m])',
  ]);
  // A single brace that does not open a valid placeholder is literal: plain PromQL needs no escaping.
  assert.deepEqual(compileTemplate('up{job="x"} == 0', 'label_value').parts, ['up{job="x"} == 0']);
  assert.deepEqual(compileTemplate('rate(x{job="{service}"}[5m])', 'label_value').parts, ['rate(x{job="', { param: 'service', kind: 'label_value' }, '"}[5m])']);
  assert.deepEqual(compileTemplate('{1abc} {} { x } {a-b}', 'text').parts, ['{1abc} {} { x } {a-b}']);
  // The trap: {{name}} is the literal text {name}.
  assert.deepEqual(compileTemplate('{{name}}', 'text').parts, ['{name}']);
  assert.deepEqual(compileTemplate('{_a1}{B}', 'argv').parts, [
    { param: '_a1', kind: 'argv' },
    { param: 'B', kind: 'argv' },
  ]);
});

test('secret references pass through untouched and are never placeholders', () => {
  assert.deepEqual(compileTemplate('Bearer ${env:TOKEN}', 'text').parts, ['Bearer ${env:TOKEN}']);
  assert.deepEqual(compileTemplate('${file:/run/secrets/x} {user}', 'text').parts, ['${file:/run/secrets/x} ', { param: 'user', kind: 'text' }]);
  assert.deepEqual(compileTemplate('${NAME}', 'text').parts, ['${NAME}']);
});

test('tokenize splits on whitespace, honours quotes, and never interprets shell syntax', () => {
  assert.deepEqual(tokenize(`kubectl  delete pod "a b" 'c d' x"y z"`), { ok: true, value: ['kubectl', 'delete', 'pod', 'a b', 'c d', 'xy z'] });
  assert.deepEqual(tokenize('kubectl delete pod $(whoami);ls'), { ok: true, value: ['kubectl', 'delete', 'pod', '$(whoami);ls'] });
  assert.deepEqual(tokenize(`a "x \\" y"`), { ok: true, value: ['a', 'x " y'] });
  assert.deepEqual(tokenize(`a 'open`), { ok: false, message: `unterminated ' quote in "a 'open"` });
});

test('kubectl forms parse into the same specs', () => {
  const parse = (s: string, forceDelete = false) => {
    const r = parseKubectl(s, { forceDelete });
    assert.ok(r.ok, r.ok ? '' : r.message);
    const { verb, kind, name, namespace, args, timeoutMs } = r.value;
    return {
      verb,
      kind,
      name: name.source,
      namespace: namespace?.source ?? null,
      args: Object.fromEntries(Object.entries(args).map(([k, t]) => [k, t.source])),
      timeoutMs,
    };
  };
  const scale = { verb: 'scale', kind: 'deployment', name: '{d}', namespace: '{ns}', args: { replicas: '{n}' }, timeoutMs: 60_000 };
  assert.deepEqual(parse('kubectl scale deployment {d} --replicas={n} -n {ns}'), scale);
  assert.deepEqual(parse('kubectl scale deployment/{d} --replicas {n} --namespace {ns}'), scale);
  assert.deepEqual(parse('kubectl -n {ns} scale deploy {d} --replicas={n}'), scale);
  assert.deepEqual(parse('kubectl scale --namespace={ns} deployments/{d} --replicas={n}'), scale);
  assert.deepEqual(parse('kubectl scale statefulset web --replicas=0 -n x'), { ...scale, kind: 'statefulset', name: 'web', namespace: 'x', args: { replicas: '0' } });
  assert.deepEqual(parse('kubectl delete pod {p} -n {ns}'), { verb: 'evict_pod', kind: 'pod', name: '{p}', namespace: '{ns}', args: {}, timeoutMs: 60_000 });
  assert.deepEqual(parse('kubectl delete pod/{p} -n x', true), { verb: 'delete_pod', kind: 'pod', name: '{p}', namespace: 'x', args: {}, timeoutMs: 60_000 });
  assert.deepEqual(parse('kubectl rollout restart statefulset {s} -n x'), { verb: 'rollout_restart', kind: 'statefulset', name: '{s}', namespace: 'x', args: {}, timeoutMs: 60_000 });
  assert.deepEqual(parse('kubectl rollout undo deployment {d} --to-revision=3 -n x'), { verb: 'rollout_undo', kind: 'deployment', name: '{d}', namespace: 'x', args: { to_revision: '3' }, timeoutMs: 60_000 });
  assert.deepEqual(parse('kubectl uncordon node-1'), { verb: 'uncordon', kind: 'node', name: 'node-1', namespace: null, args: {}, timeoutMs: 60_000 });
  assert.deepEqual(parse('kubectl drain {node} --ignore-daemonsets=false --timeout 5m'), {
    verb: 'drain',
    kind: 'node',
    name: '{node}',
    namespace: null,
    args: { ignore_daemonsets: 'false', timeout_seconds: '300' },
    timeoutMs: 300_000,
  });
  assert.equal(parse('kubectl drain {node} --timeout=3650d').timeoutMs, 3650 * 86_400_000);
});

test('kubectl refusals name what is not supported', () => {
  const msg = (s: string): string => {
    const r = parseKubectl(s, { forceDelete: false });
    assert.ok(!r.ok);
    return r.message;
  };
  assert.equal(msg('kubectl get pods'), 'kubectl verb "get" is not supported (supported: delete pod, scale, rollout restart, rollout undo, cordon, uncordon, drain)');
  assert.equal(msg('kubectl delete deployment x'), 'kubectl delete: resource kind "deployment" is not supported (supported: pod)');
  assert.equal(msg('kubectl delete pod --all'), 'kubectl delete: flag "--all" is not supported (supported: -n/--namespace)');
  assert.equal(msg('kubectl delete pod x --kubeconfig=/tmp/k'), 'kubectl delete: flag "--kubeconfig" is not supported (supported: -n/--namespace)');
  assert.equal(msg('kubectl drain n --timeout 30s2m'), 'kubectl drain: --timeout expects a duration such as 120s or 5m, got "30s2m" (each unit at most once, largest first; this adds up to 2m30s)');
  assert.equal(msg('kubectl drain n --force'), 'kubectl drain: flag "--force" is not supported (supported: --ignore-daemonsets, --delete-emptydir-data, --timeout, --grace-period)');
  assert.equal(msg('kubectl rollout undo statefulset x'), 'kubectl rollout undo: resource kind "statefulset" is not supported (supported: deployment)');
  assert.equal(msg('kubectl'), 'kubectl command has no verb (supported: delete pod, scale, rollout restart, rollout undo, cordon, uncordon, drain)');
  // kubectl would read these as namespace "default"; rectify assumes none, and each failed every run.
  assert.equal(msg('kubectl delete pod x'), 'kubectl delete pod: missing the namespace (a pod is namespaced, and rectify assumes none): write -n <namespace>, or -n {namespace}');
  assert.equal(msg('kubectl rollout restart sts/{s}'), 'kubectl rollout restart statefulset: missing the namespace (a statefulset is namespaced, and rectify assumes none): write -n <namespace>, or -n {namespace}');
  // Ten years at most, as every duration: this one loaded and was refused only when a run reached the drain.
  assert.equal(msg('kubectl drain node-a --timeout=99999999999999999999d'), 'kubectl drain: --timeout is at most 3650d (ten years), got "99999999999999999999d"');
  assert.equal(msg('kubectl drain node-a --timeout=3650d1ms'), 'kubectl drain: --timeout is at most 3650d (ten years), got "3650d1ms"');
  assert.equal(msg('kubectl delete pod x -n a -n b'), 'the namespace is given twice');
  assert.equal(msg('kubectl delete pod x -n'), '-n needs a namespace');
  assert.equal(msg('kubectl delete pod x -n Prod'), 'kubectl delete pod: namespace "Prod" expected a Kubernetes namespace (RFC 1123 label)');
  assert.equal(msg('kubectl {verb} pod x'), 'kubectl verb "{verb}" is not supported (supported: delete pod, scale, rollout restart, rollout undo, cordon, uncordon, drain)');
  assert.equal(msg('kubectl scale {kind} x --replicas=1'), 'kubectl scale: resource kind "{kind}" is not supported (supported: deployment, statefulset)');
});
