import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { formatProblem } from '../../src/domain/errors.js';
import { loadRunbookFile, parseRunbooksText, renderPlan } from '../../src/runbooks/index.js';
import { FIXTURES } from './helpers.js';

/**
 * Prometheus rulefmt style: each `*.bad.yaml` fixture with the exact problems it
 * must produce, as `line: path: message`. Every problem in a file is reported,
 * not only the first, and no runbook with a problem is returned.
 */
const EXPECTED: Record<string, string[]> = {
  'checks.bad.yaml': [
    '5: runbooks.restart-pod.pre_checks[0]: unknown named check "pod_becomes_redy" (did you mean "pod_becomes_ready"?)',
    '6: runbooks.restart-pod.pre_checks[1].promql.expect: expected a comparison such as "< 0.05" (one of < <= > >= == != and a number), got "about 5"',
    '7: runbooks.restart-pod.pre_checks[2].promql.for_seconds: for_seconds (300) must be less than timeout_seconds (60)',
    '8: runbooks.restart-pod.pre_checks[3].kubernetes.condition: expected one of deployment_ready, pod_ready, exists, got "deployment_healthy" (did you mean "deployment_ready"?)',
    '9: runbooks.restart-pod.pre_checks[4].kubernetes: missing "kind" (exists needs to know what to look for)',
    '10: runbooks.restart-pod.pre_checks[5].current_replicas_below_max.max_replica: unknown parameter for current_replicas_below_max (did you mean "max_replicas"?) (known: max_replicas)',
    '11: runbooks.restart-pod.pre_checks[6].http.method: expected an HTTP method (GET, HEAD), got "POST"',
    '12: runbooks.restart-pod.pre_checks[7].shell: unknown check type (expected named, promql, http, kubernetes or a named check)',
    '14: runbooks.restart-pod.post_checks[0].params.query: named check parameters are literal, but this one uses {service}; use a promql check for a templated query',
    '18: runbooks.medium-guarded.guardrails[0]: unknown named check "off_peak_hours": a time of day is not a check; give the runbook windows: (when it may act on its own) and outside_windows: approval (ask a person at other times)',
  ],
  // Times are run in whole milliseconds and checked as run: 0.0004 s ran as 0 ms, and an
  // interval of 0.0001 s polled back to back (thousands of tries a second). At most ten years.
  'durations.bad.yaml': [
    '6: runbooks.tiny.actions[0].command.timeout_seconds: 0.0004 seconds is less than a millisecond, and rectify counts whole milliseconds, so it would be 0: write at least 0.001',
    "7: runbooks.tiny.actions[1].kubernetes.timeout_seconds: expected at least 1 second, got 0.5: a drain's timeout is given to it in whole seconds",
    '8: runbooks.tiny.actions[2].http.timeout_seconds: expected at most 315360000 seconds (ten years), got 1e+300',
    '12: runbooks.tiny.post_checks[0].http.timeout_seconds: 0.0001 seconds is less than a millisecond, and rectify counts whole milliseconds, so it would be 0: write at least 0.001',
    '12: runbooks.tiny.post_checks[0].http.interval_seconds: expected at least 0.1 seconds, got 0.0001: a shorter interval tries the check back to back, thousands of times a second',
    '13: runbooks.tiny.post_checks[1].promql.for_seconds: 0.0001 seconds is less than a millisecond, and rectify counts whole milliseconds, so it would be 0: write at least 0.001, or 0',
    '13: runbooks.tiny.post_checks[1].promql.interval_seconds: expected at least 0.1 seconds, got 0.05: a shorter interval tries the check back to back, thousands of times a second',
    '14: runbooks.tiny.post_checks[2].kubernetes.interval_seconds: expected at least 0.1 seconds, got 0.09: a shorter interval tries the check back to back, thousands of times a second',
    '15: runbooks.tiny.post_checks[3].pod_becomes_ready.interval_seconds: expected at least 0.1 seconds, got 0.001: a shorter interval tries the check back to back, thousands of times a second',
    '16: runbooks.tiny.post_checks[4].timeout_seconds: expected at most 315360000 seconds (ten years), got 315360001',
    '16: runbooks.tiny.post_checks[4].interval_seconds: expected a number of seconds > 0, got 0',
  ],
  'field-types.bad.yaml': [
    '3: runbooks.restart-pod.risk: expected LOW, MEDIUM or HIGH, got "extreme"',
    '4: runbooks.restart-pod.triggers: expected a list of strings, got "CrashLoopBackOff"',
    '5: runbooks.restart-pod.max_per_hour: expected a positive integer, got "five"',
    '6: runbooks.restart-pod.min_confidence: expected a number from 0 to 1, got 1.5',
    '7: runbooks.restart-pod.cooldown_minutes: expected a number >= 0, got -1',
    '8: runbooks.restart-pod.blast_radius_limit: expected a positive integer, got 0',
    '9: runbooks.restart-pod.mode: expected one of auto, dry_run, got "live"',
    '10: runbooks.restart-pod.approvals_required: expected 1 or 2, got 3',
    '11: runbooks.restart-pod.max_unavailable: expected a percentage such as "25%" or a positive integer, got "150%"',
    '12: runbooks.restart-pod.force_delete: expected true or false, got "yes"',
    '16: runbooks.scale-up.risk_level: risk_level "high" contradicts risk "LOW"',
    '18: runbooks.scale-up.max_executions_per_hour: max_executions_per_hour 4 contradicts max_per_hour 3',
    '20: runbooks.Bad_ID: runbook id "Bad_ID" is not a safe name (lowercase letters, digits, "-", "_" and ".", starting with a letter or digit, at most 63 characters)',
    '21: runbooks.Bad_ID.id: id "something-else" differs from its key "Bad_ID"; the key is the runbook\'s id',
  ],
  // A MEDIUM runbook's guardrails are checked while Alertmanager waits, each cut off
  // at 15 s: a hold or timeout that cannot fit is refused (line 7, 10 s + 5 s, fits).
  'guardrail-budget.bad.yaml': [
    "5: runbooks.restart-service.guardrails[0].promql.for_seconds: for_seconds (20) plus one interval_seconds (5) does not fit in the guardrail budget of 15 seconds (a MEDIUM runbook's guardrails are checked while Alertmanager waits for the answer, and each is stopped after 15 seconds), so it could never be seen to hold: shorten for_seconds or interval_seconds, or let Prometheus look back instead (max_over_time(…[20s]) in the query)",
    "5: runbooks.restart-service.guardrails[0].promql.timeout_seconds: timeout_seconds (60) is longer than the guardrail budget of 15 seconds (a MEDIUM runbook's guardrails are checked while Alertmanager waits for the answer, and each is stopped after 15 seconds): use at most 15",
    "6: runbooks.restart-service.guardrails[1].promql.for_seconds: for_seconds (12) plus one interval_seconds (5) does not fit in the guardrail budget of 15 seconds (a MEDIUM runbook's guardrails are checked while Alertmanager waits for the answer, and each is stopped after 15 seconds), so it could never be seen to hold: shorten for_seconds or interval_seconds, or let Prometheus look back instead (max_over_time(…[12s]) in the query)",
    "8: runbooks.restart-service.guardrails[3].http.timeout_seconds: timeout_seconds (30) is longer than the guardrail budget of 15 seconds (a MEDIUM runbook's guardrails are checked while Alertmanager waits for the answer, and each is stopped after 15 seconds): use at most 15",
    "9: runbooks.restart-service.guardrails[4].kubernetes.timeout_seconds: timeout_seconds (16) is longer than the guardrail budget of 15 seconds (a MEDIUM runbook's guardrails are checked while Alertmanager waits for the answer, and each is stopped after 15 seconds): use at most 15",
    "10: runbooks.restart-service.guardrails[5].recent_restarts_less_than_three.timeout_seconds: timeout_seconds (60) is longer than the guardrail budget of 15 seconds (a MEDIUM runbook's guardrails are checked while Alertmanager waits for the answer, and each is stopped after 15 seconds): use at most 15",
    "11: runbooks.restart-service.guardrails[6].timeout_seconds: timeout_seconds (20) is longer than the guardrail budget of 15 seconds (a MEDIUM runbook's guardrails are checked while Alertmanager waits for the answer, and each is stopped after 15 seconds): use at most 15",
  ],
  'kubectl.bad.yaml': [
    '4: runbooks.shell-in.action: kubectl verb "exec" is not supported (supported: delete pod, scale, rollout restart, rollout undo, cordon, uncordon, drain)',
    '7: runbooks.force.actions[0]: kubectl delete: flag "--grace-period" is not supported (supported: -n/--namespace)',
    '8: runbooks.force.actions[1]: kubectl scale deployment: --replicas is required',
    '9: runbooks.force.actions[2]: kubectl rollout "status" is not supported (supported: restart, undo)',
    '10: runbooks.force.actions[3]: kubectl scale: resource kind "replicaset" is not supported (supported: deployment, statefulset)',
    '11: runbooks.force.actions[4]: kubectl scale deployment: --replicas "+1" expected a whole number or a {placeholder}',
    '12: runbooks.force.actions[5]: kubectl delete pod: unexpected argument "b" (one pod per action)',
    '13: runbooks.force.actions[6]: kubectl cordon: nodes are not namespaced; remove the namespace',
    '14: runbooks.force.actions[7]: kubectl delete pod: pod name "Api_Server" expected a Kubernetes name (lowercase letters, digits, "-" and ".")',
    '15: runbooks.force.actions[8]: expected a kubectl command (delete pod, scale, rollout restart, rollout undo, cordon, uncordon, drain) or an action map (kubernetes:, http:, command:), got "promote replica to primary"',
    '17: runbooks.unterminated.action: unterminated " quote in "kubectl delete pod \\"{pod_name}"',
  ],
  'match.bad.yaml': [
    '6: runbooks.restart-pod.match[0]: invalid regular expression in matcher "namespace=~\\"prod(\\"" (RE2, as Alertmanager): missing closing ): `prod(`',
    '7: runbooks.restart-pod.match[1]: invalid matcher "severity = info extra": quote the value',
    '8: runbooks.restart-pod.match[2]: invalid regular expression in matcher "team=~\\"(?!core).*\\"" (RE2, as Alertmanager): invalid or unsupported Perl syntax: `(?!`',
    '9: runbooks.restart-pod.match[3]: invalid matcher "cluster=\\"eu-1": unterminated or malformed quoted value',
  ],
  // A pod, deployment or statefulset with no namespace: kubectl would read it as "default",
  // rectify assumes none, and the step failed on every run. Nodes take none (lines 14, 15, 21).
  'namespace.bad.yaml': [
    '7: runbooks.no-namespace.actions[0]: kubectl delete pod: missing the namespace (a pod is namespaced, and rectify assumes none): write -n <namespace>, or -n {namespace}',
    '8: runbooks.no-namespace.actions[1]: kubectl scale statefulset: missing the namespace (a statefulset is namespaced, and rectify assumes none): write -n <namespace>, or -n {namespace}',
    '9: runbooks.no-namespace.actions[2]: kubectl rollout restart deployment: missing the namespace (a deployment is namespaced, and rectify assumes none): write -n <namespace>, or -n {namespace}',
    '10: runbooks.no-namespace.actions[3]: kubectl rollout undo deployment: missing the namespace (a deployment is namespaced, and rectify assumes none): write -n <namespace>, or -n {namespace}',
    '11: runbooks.no-namespace.actions[4].kubernetes: missing "namespace" (a pod is namespaced, and rectify assumes none): write namespace: <namespace>, or namespace: "{namespace}"',
    '12: runbooks.no-namespace.actions[5].kubernetes: missing "namespace" (a pod is namespaced, and rectify assumes none): write namespace: <namespace>, or namespace: "{namespace}"',
    '13: runbooks.no-namespace.actions[6].kubernetes: missing "namespace" (a statefulset is namespaced, and rectify assumes none): write namespace: <namespace>, or namespace: "{namespace}"',
    '16: runbooks.no-namespace.rollback: kubectl scale deployment: missing the namespace (a deployment is namespaced, and rectify assumes none): write -n <namespace>, or -n {namespace}',
    '18: runbooks.no-namespace.post_checks[0].kubernetes: missing "namespace" (a pod is namespaced, and rectify assumes none): write namespace: <namespace>, or namespace: "{namespace}"',
    '19: runbooks.no-namespace.post_checks[1].kubernetes: missing "namespace" (a statefulset is namespaced, and rectify assumes none): write namespace: <namespace>, or namespace: "{namespace}"',
    '20: runbooks.no-namespace.post_checks[2].kubernetes: missing "namespace" (a deployment is namespaced, and rectify assumes none): write namespace: <namespace>, or namespace: "{namespace}"',
  ],
  'structure.bad.yaml': [
    '3: runbooks.no-action: missing "action" (or "actions"): a runbook must say what it does',
    '7: runbooks.both.actions: give either action or actions, not both',
    '9: runbooks.irreversible.action: kubectl drain: --timeout expects a duration such as 120s or 5m, got "2x"',
    '10: runbooks.irreversible.rollback: rollback: none (irreversible) needs a rollback_reason saying why it cannot be undone',
    '13: runbooks.commands.actions[0].command.argv[0]: "sh" is a shell; rectify runs commands without one, so call the program directly',
    '14: runbooks.commands.actions[1].command.argv[0]: the program (argv[0]) must be written out, not a {placeholder}: an alert must not choose what runs',
    '15: runbooks.commands.actions[2].command.argv: expected a non-empty list [program, arg, …], got an empty list',
    '16: runbooks.commands.actions[3].kubernetes.verb: delete_pod skips PodDisruptionBudgets; set force_delete: true on the runbook to allow it, or use evict_pod',
    '17: runbooks.commands.actions[4].kubernetes.kind: expected one of deployment, statefulset, got "node"',
    '17: runbooks.commands.actions[4].kubernetes: missing "replicas"',
    '18: runbooks.commands.actions[5].kubernetes.namespace: nodes are not namespaced',
    '19: runbooks.commands.actions[6].kubernetes.replicas: replicas applies only to verb scale',
    '20: runbooks.commands.actions[7].ssh: unknown action type (expected kubernetes, http, command)',
    '21: runbooks.commands.rollback: an empty rollback list; write rollback: null (none needed) or rollback: none (irreversible)',
  ],
  'syntax.bad.yaml': [
    '5: YAML syntax error at line 5: Flow sequence in block collection must be sufficiently indented and end with a ]',
  ],
  'unknown-key.bad.yaml': [
    '5: runbooks.restart-pod.max_per_hou: unknown key (did you mean "max_per_hour"?)',
    '6: runbooks.restart-pod.colldown_minutes: unknown key (did you mean "cooldown_minutes"?)',
    '8: runbook: unknown key (did you mean "runbooks"?)',
  ],
  // Header text the HTTP client can never send (Latin-1, as in "café", it can).
  'headers.bad.yaml': [
    '6: runbooks.call-out.actions[0].http.headers.X-Team: header value has U+043F, which no HTTP header can carry (control characters and characters above U+00FF): write it in ASCII',
    '7: runbooks.call-out.actions[1].http.headers.X-Note: header value has U+000A, which no HTTP header can carry (control characters and characters above U+00FF): write it in ASCII',
    '9: runbooks.call-out.post_checks[0].http.headers.X-Dir: header value has U+202E, which no HTTP header can carry (control characters and characters above U+00FF): write it in ASCII',
    // A header that names the virtual host may not be filled from an alert (written out, or another header, it may).
    '14: runbooks.host-header.actions[0].http.headers.Host: placeholder {tenant} is in the Host header, which chooses the host the request reaches; an alert must not choose where outbound calls go (write the host out)',
    '15: runbooks.host-header.actions[1].http.headers.x-forwarded-host: placeholder {tenant} is in the x-forwarded-host header, which chooses the host the request reaches; an alert must not choose where outbound calls go (write the host out)',
    '15: runbooks.host-header.actions[1].http.headers.Forwarded: placeholder {tenant} is in the Forwarded header, which chooses the host the request reaches; an alert must not choose where outbound calls go (write the host out)',
    '17: runbooks.host-header.post_checks[0].http.headers.HOST: placeholder {tenant} is in the HOST header, which chooses the host the request reaches; an alert must not choose where outbound calls go (write the host out)',
    // Nor one a proxy rewrites the path, scheme, port or method by (written out, it may).
    '22: runbooks.route-headers.actions[0].http.headers.X-Original-URL: placeholder {path} is in the X-Original-URL header, which chooses the path the request reaches; an alert must not choose where outbound calls go or what they do (write the value out)',
    '22: runbooks.route-headers.actions[0].http.headers.X-Rewrite-URL: placeholder {path} is in the X-Rewrite-URL header, which chooses the path the request reaches; an alert must not choose where outbound calls go or what they do (write the value out)',
    '22: runbooks.route-headers.actions[0].http.headers.X-Forwarded-Prefix: placeholder {tenant} is in the X-Forwarded-Prefix header, which chooses the path the request reaches; an alert must not choose where outbound calls go or what they do (write the value out)',
    '23: runbooks.route-headers.actions[1].http.headers.X-Forwarded-Proto: placeholder {scheme} is in the X-Forwarded-Proto header, which chooses the scheme the request is taken to have come by; an alert must not choose where outbound calls go or what they do (write the value out)',
    '23: runbooks.route-headers.actions[1].http.headers.x-forwarded-port: placeholder {port} is in the x-forwarded-port header, which chooses the port the request is taken to have come by; an alert must not choose where outbound calls go or what they do (write the value out)',
    '25: runbooks.route-headers.post_checks[0].http.headers.X-HTTP-Method-Override: placeholder {verb} is in the X-HTTP-Method-Override header, which chooses the method the request is handled as; an alert must not choose where outbound calls go or what they do (write the value out)',
    '25: runbooks.route-headers.post_checks[0].http.headers.X-Method-Override: placeholder {verb} is in the X-Method-Override header, which chooses the method the request is handled as; an alert must not choose where outbound calls go or what they do (write the value out)',
    '25: runbooks.route-headers.post_checks[0].http.headers.X-HTTP-Method: placeholder {verb} is in the X-HTTP-Method header, which chooses the method the request is handled as; an alert must not choose where outbound calls go or what they do (write the value out)',
    // Nor any header of the families proxies describe or rewrite a request by, nor one naming the client (written out, they may).
    '30: runbooks.proxy-headers.actions[0].http.headers.X-Original-URI: placeholder {x} is in the X-Original-URI header, which chooses the request as a proxy in front of the target took it to be (its host, path or method); an alert must not choose where outbound calls go or what they do (write the value out)',
    '30: runbooks.proxy-headers.actions[0].http.headers.X-Forwarded-Uri: placeholder {x} is in the X-Forwarded-Uri header, which chooses how a proxy in front of the target takes the request to have come (its host, path, scheme, port or client); an alert must not choose where outbound calls go or what they do (write the value out)',
    '30: runbooks.proxy-headers.actions[0].http.headers.X-Envoy-Original-Path: placeholder {x} is in the X-Envoy-Original-Path header, which chooses how the Envoy proxy in front of the target routes, retries or rewrites the request; an alert must not choose where outbound calls go or what they do (write the value out)',
    '31: runbooks.proxy-headers.actions[1].http.headers.X-Forwarded-Scheme: placeholder {x} is in the X-Forwarded-Scheme header, which chooses how a proxy in front of the target takes the request to have come (its host, path, scheme, port or client); an alert must not choose where outbound calls go or what they do (write the value out)',
    '31: runbooks.proxy-headers.actions[1].http.headers.X-Original-Method: placeholder {x} is in the X-Original-Method header, which chooses the request as a proxy in front of the target took it to be (its host, path or method); an alert must not choose where outbound calls go or what they do (write the value out)',
    '31: runbooks.proxy-headers.actions[1].http.headers.X-Real-IP: placeholder {x} is in the X-Real-IP header, which chooses the client address the request is taken to have come from; an alert must not choose who outbound calls are taken to come from (write the value out)',
    '31: runbooks.proxy-headers.actions[1].http.headers.X-Forwarded-For: placeholder {x} is in the X-Forwarded-For header, which chooses the client address the request is taken to have come from; an alert must not choose who outbound calls are taken to come from (write the value out)',
  ],
  // Secret references that can never resolve, and references where nothing resolves them (sent as written).
  'secret-refs.bad.yaml': [
    '6: runbooks.call-out.actions[0].http.headers.Authorization: secret ${env:APP-TOKEN}: "APP-TOKEN" is not a valid variable name (letters, digits and _, not starting with a digit), so it can never be set',
    '6: runbooks.call-out.actions[0].http.headers.X-Key: secret ${file:relative/key}: the path must be absolute (start with /)',
    '6: runbooks.call-out.actions[0].http.headers.X-Open: secret reference "${env:APP_TOKEN" has no closing "}"',
    "7: runbooks.call-out.actions[1].http.url: ${env:APP_TOKEN} is not resolved here and would be sent as written: secret references are resolved only in HTTP header values and in the string values of an http action's body",
    "7: runbooks.call-out.actions[1].http.body.${env:APP_TOKEN}: ${env:APP_TOKEN} in a key is not resolved and would be sent as written: secret references are resolved only in HTTP header values and in the string values of an http action's body",
    '7: runbooks.call-out.actions[1].http.body.list[1]: secret ${env:9LIVES}: "9LIVES" is not a valid variable name (letters, digits and _, not starting with a digit), so it can never be set',
    "8: runbooks.call-out.actions[2].command.argv[1]: ${env:APP_TOKEN} is not resolved here and would be sent as written: secret references are resolved only in HTTP header values and in the string values of an http action's body",
    '9: runbooks.call-out.actions[3].http.body.token: secret ${file:/run/{service}: placeholders are not filled inside a secret reference (it ends at its first "}"), so "/run/{service" is read as written and can never resolve; write the path out in full',
    "10: runbooks.call-out.rollback: ${env:NAME} is not resolved here and would be sent as written: secret references are resolved only in HTTP header values and in the string values of an http action's body",
    '10: runbooks.call-out.rollback: kubectl rollout restart deployment: deployment name "${env:NAME}" expected a Kubernetes name (lowercase letters, digits, "-" and ".")',
    '12: runbooks.call-out.post_checks[0].http.headers.X-Bad: secret ${file:key}: the path must be absolute (start with /)',
    "13: runbooks.call-out.post_checks[1].promql.query: ${env:JOB} is not resolved here and would be sent as written: secret references are resolved only in HTTP header values and in the string values of an http action's body",
    '14: runbooks.call-out.post_checks[2].http.headers.Authorization: secret ${file:/var/run/secrets/{service}: placeholders are not filled inside a secret reference (it ends at its first "}"), so "/var/run/secrets/{service" is read as written and can never resolve; write the path out in full',
    '14: runbooks.call-out.post_checks[2].http.headers.X-Key: secret ${env:TOKEN_{service}: placeholders are not filled inside a secret reference (it ends at its first "}"), so "TOKEN_{service" is read as written and can never resolve; write the variable name out in full',
  ],
  'url.bad.yaml': [
    '5: runbooks.call-out.actions[0].http.url: placeholder {host} is in the URL\'s scheme, host or port; an alert must not choose where outbound calls go (put placeholders in the path or query)',
    '6: runbooks.call-out.actions[1].http.url: placeholder {port} is in the URL\'s scheme, host or port; an alert must not choose where outbound calls go (put placeholders in the path or query)',
    '7: runbooks.call-out.actions[2].http.url: placeholder {scheme} is in the URL\'s scheme, host or port; an alert must not choose where outbound calls go (put placeholders in the path or query)',
    '8: runbooks.call-out.actions[3].http.url: URL scheme "ftp" is not supported (use http or https)',
    '9: runbooks.call-out.actions[4].http.url: credentials in the URL would be written to the audit log; send them in a header with ${env:NAME}',
    '10: runbooks.call-out.actions[5].http.url: expected an absolute http:// or https:// URL, got "/relative/{svc}"',
    '11: runbooks.call-out.actions[6].http.timout_seconds: unknown key (did you mean "timeout_seconds"?)',
    '11: runbooks.call-out.actions[6].http.method: expected an HTTP method (GET, POST, PUT, PATCH, DELETE), got "TRACE"',
    '11: runbooks.call-out.actions[6].http.expect_status: expected a status code (100-599) or a range [low, high], got [299,200]',
    '12: runbooks.call-out.actions[7].http.url: URL "http://127.0.0.1/a/../{svc}" has a "." or ".." path segment',
  ],
  'windows.bad.yaml': [
    '5: runbooks.restart-pod.windows[0].days: expected a day name (sun, mon, tue, wed, thu, fri, sat) or a range such as "mon-fri", got "mon-fry"',
    '5: runbooks.restart-pod.windows[0].timezone: unknown time zone "Mars/Olympus_Mons" (use an IANA name such as "UTC" or "Europe/Paris")',
    '6: runbooks.restart-pod.windows[1].start: expected a time "HH:MM" (00:00-23:59), got "25:00"',
    '7: runbooks.restart-pod.windows[2].tz: unknown key',
    '7: runbooks.restart-pod.windows[2]: start and end are the same time; use start: "00:00", end: "24:00" for a whole day',
    '8: runbooks.restart-pod.windows[3]: missing "start"',
    '8: runbooks.restart-pod.windows[3]: missing "end"',
  ],
};

test('every *.bad.yaml fixture has an expectation', () => {
  const files = readdirSync(FIXTURES).filter((n) => n.endsWith('.bad.yaml')).sort();
  assert.deepEqual(files, Object.keys(EXPECTED).sort());
});

for (const [name, expected] of Object.entries(EXPECTED)) {
  test(`${name} reports exactly its problems`, () => {
    const file = join(FIXTURES, name);
    const { runbooks, problems } = loadRunbookFile(file);
    assert.deepEqual(runbooks, []);
    for (const p of problems) assert.ok(formatProblem(p).startsWith(`${file}:${p.line}: `), formatProblem(p));
    assert.deepEqual(
      problems.map((p) => formatProblem(p).slice(file.length + 1)),
      expected,
    );
  });
}

test("only a MEDIUM runbook's guardrails are held to the guardrail budget, and a default timeout is cut to it, not refused", () => {
  const guardrail = `promql: {query: 'up{job="api"}', expect: "== 1", for_seconds: 20, timeout_seconds: 60}`;
  const text = (risk: string, g: string): string => `runbooks:\n  r:\n    risk: ${risk}\n    guardrails:\n      - ${g}\n    action: kubectl rollout restart deployment {deployment} -n {namespace}\n`;
  // LOW and HIGH runbooks never check their guardrails before deciding.
  for (const risk of ['LOW', 'HIGH']) assert.deepEqual(parseRunbooksText(text(risk, guardrail), 'r.yaml').problems, [], risk);
  // No timeout_seconds written (default 120 s): the engine cuts it to the budget.
  const medium = parseRunbooksText(text('MEDIUM', `promql: {query: 'up', expect: "== 1", for_seconds: 10}`), 'r.yaml');
  assert.deepEqual(medium.problems, []);
  assert.equal(medium.runbooks.length, 1);
});

test('"__proto__" cannot name a placeholder or a param: its value would be missing from the params an approver sees', () => {
  const text = [
    'runbooks:',
    '  p:',
    '    risk: LOW',
    '    triggers: [x]',
    '    params: {__proto__: d, constructor: e}',
    '    actions:',
    '      - command: {argv: [/bin/echo, "{__proto__}", "{constructor}"]}',
    '      - http: {method: POST, url: "http://127.0.0.1:9/note", body: {a: {b: "x {__proto__}"}}}',
    '    rollback: none',
    '    rollback_reason: t',
    '    post_checks:',
    "      - promql: {query: 'up{job=\"{__proto__}\"}', expect: '> 0'}",
    '',
  ].join('\n');
  const { runbooks, problems } = parseRunbooksText(text, 'r.yaml');
  const why = '"__proto__" cannot name a placeholder: JavaScript objects read it as their prototype, so its value would be left out of the params an approver sees while the step used it; use another name ({proto}) and give the alert that label';
  assert.deepEqual(runbooks, []);
  assert.deepEqual(problems.map(formatProblem), [
    `r.yaml:5: runbooks.p.params.__proto__: ${why}`,
    `r.yaml:7: runbooks.p.actions[0].command.argv[1]: ${why}`,
    `r.yaml:8: runbooks.p.actions[1].http.body.a.b: ${why}`,
    `r.yaml:12: runbooks.p.post_checks[0].promql.query: ${why}`,
  ]);
  // Other names an object has by inheritance are plain keys when written: they stay allowed.
  const fine = parseRunbooksText(text.replaceAll('__proto__', 'proto'), 'r.yaml');
  assert.deepEqual(fine.problems.map(formatProblem), []);
  const plan = renderPlan(fine.runbooks[0]!, { proto: 'aaa', constructor: 'bbb' });
  assert.ok(plan.ok);
  assert.deepEqual(plan.plan.params, { proto: 'aaa', constructor: 'bbb' });
});

// Regression: a body key or header name "__proto__" loaded clean and was dropped when
// the step was filled (it set the object's prototype), so the request went without it.
test('"__proto__" as an http body key or header name is a load error naming its path', () => {
  const text = [
    'runbooks:',
    '  note:',
    '    risk: LOW',
    '    triggers: [x]',
    '    action:',
    '      http: {method: POST, url: "http://127.0.0.1:9/note", headers: {__proto__: "v-{team}", x-a: b}, body: {t: "{team}", n: [{__proto__: {x: "{team}"}}], constructor: lit}}',
    '    rollback: none',
    '    rollback_reason: t',
    '',
  ].join('\n');
  const { runbooks, problems } = parseRunbooksText(text, 'r.yaml');
  assert.deepEqual(runbooks, []);
  assert.deepEqual(problems.map(formatProblem), [
    'r.yaml:6: runbooks.note.action.http.headers.__proto__: the header name "__proto__" cannot be sent: JavaScript objects read it as their prototype, so the step would run without it and nothing would say so; use another name',
    'r.yaml:6: runbooks.note.action.http.body.n[0].__proto__: the body key "__proto__" cannot be sent: JavaScript objects read it as their prototype, so the step would run without it and nothing would say so; use another name',
  ]);
  // Other inherited names are plain keys when written, and are sent.
  const fine = parseRunbooksText(text.replaceAll('__proto__', 'proto'), 'r.yaml');
  assert.deepEqual(fine.problems.map(formatProblem), []);
  const plan = renderPlan(fine.runbooks[0]!, { team: 'ops' });
  assert.ok(plan.ok);
  const spec = plan.plan.actions[0]!.spec as { headers: Record<string, string>; body: unknown };
  assert.deepEqual(spec.headers, { proto: 'v-ops', 'x-a': 'b' });
  assert.deepEqual(spec.body, { t: 'ops', n: [{ proto: { x: 'ops' } }], constructor: 'lit' });
});

test('a shell is refused after a program that runs another (env, timeout, nice, setsid…), and as argv[0] by any common name (rbash, yash…); so are su -c, sudo -s and flock -c', () => {
  const problems = (argv: string): string[] =>
    parseRunbooksText(`runbooks:\n  r:\n    risk: LOW\n    triggers: [x]\n    action: {command: {argv: ${argv}}}\n    rollback: none\n    rollback_reason: t\n`, 'r.yaml').problems.map(formatProblem);
  const at = (i: number) => `r.yaml:5: runbooks.r.action.command.argv[${i}]`;
  const TAIL = 'rectify runs commands without one, so call the program directly';
  const wrapped = (i: number, shell: string, by: string) => `${at(i)}: ${JSON.stringify(shell)} is a shell, which ${JSON.stringify(by)} would run; ${TAIL}`;
  assert.deepEqual(problems('[/usr/bin/env, sh, -c, "echo {x}"]'), [wrapped(1, 'sh', '/usr/bin/env')]);
  assert.deepEqual(problems('[/usr/bin/timeout, "5", bash, -c, "echo {x}"]'), [wrapped(2, 'bash', '/usr/bin/timeout')]);
  assert.deepEqual(problems('[/usr/bin/setsid, sh, -c, "echo {x}"]'), [wrapped(1, 'sh', '/usr/bin/setsid')]);
  assert.deepEqual(problems('[/usr/bin/nice, /bin/sh, -c, "echo {x}"]'), [wrapped(1, '/bin/sh', '/usr/bin/nice')]);
  // Wrappers in a chain, options and their arguments in between, and env -S's one string.
  assert.deepEqual(problems('[nohup, sudo, -u, app, timeout, 5, /usr/bin/zsh, -c, "echo {x}"]'), [wrapped(6, '/usr/bin/zsh', 'nohup')]);
  assert.deepEqual(problems('[env, -S, "sh -c \'echo {x}\'"]'), [wrapped(2, "sh -c 'echo {x}'", 'env')]);
  assert.deepEqual(problems('[find, /var/cache/app, -exec, bash, -c, "echo {x}", ";"]'), [wrapped(3, 'bash', 'find')]);
  for (const shell of ['/bin/rbash', 'yash', 'elvish', '/usr/bin/mksh', 'toybox']) {
    assert.deepEqual(problems(`[${shell}, -c, "echo {x}"]`), [`${at(0)}: ${JSON.stringify(shell)} is a shell; ${TAIL}`]);
  }
  // Options by which a wrapper hands its command to a shell itself.
  const option = (i: number, opt: string, by: string) => `${at(i)}: ${JSON.stringify(opt)} makes ${JSON.stringify(by)} run its command through a shell; ${TAIL}`;
  assert.deepEqual(problems('[/bin/su, -c, "rm -rf /var/cache/app/{x}", app]'), [option(1, '-c', '/bin/su')]);
  assert.deepEqual(problems('[su, app, -lc, "rm {x}"]'), [option(2, '-lc', 'su')]);
  assert.deepEqual(problems('[runuser, -u, app, --command=x]'), [option(3, '--command=x', 'runuser')]);
  assert.deepEqual(problems('[sudo, -u, app, -s, "echo {x}"]'), [option(3, '-s', 'sudo')]);
  assert.deepEqual(problems('[sudo, -iu, app, "echo {x}"]'), [option(1, '-iu', 'sudo')]);
  assert.deepEqual(problems('[timeout, 5, flock, /run/app.lock, -c, "echo {x}"]'), [option(4, '-c', 'flock')]);
  // Still loaded: a wrapper running a program directly, the program's own options, a shell's name given to a program that runs none.
  for (const argv of [
    '[/usr/bin/timeout, "5", /usr/local/bin/flush-queue, --queue, "{x}"]',
    '[sudo, -u, app, /usr/local/bin/flush-queue, -s, "{x}"]',
    '[sudo, -uapp, /usr/local/bin/flush-queue, "{x}"]',
    '[runuser, -u, app, --, /usr/local/bin/tool, -c, "{x}"]',
    '[nice, -n, "10", ionice, -c, "3", /usr/local/bin/tool, "{x}"]',
    '[grep, -c, sh, /etc/shells]',
  ]) {
    assert.deepEqual(problems(argv), [], argv);
  }
});

test('after a program that runs another, the program it runs is found past its options and operands: a value cannot stand there or before it, only that position is checked for a shell, and watch, script, ssh and kubectl/docker/crictl exec are read too', () => {
  const problems = (argv: string): string[] =>
    parseRunbooksText(`runbooks:\n  r:\n    risk: LOW\n    triggers: [x]\n    action: {command: {argv: ${argv}}}\n    rollback: none\n    rollback_reason: t\n`, 'r.yaml').problems.map(formatProblem);
  const at = (i: number) => `r.yaml:5: runbooks.r.action.command.argv[${i}]`;
  const TAIL = 'rectify runs commands without one, so call the program directly';
  const runs = (i: number, by: string, env = '') => `${at(i)}: the program ${JSON.stringify(by)} runs must be written out, not a {placeholder}: an alert must not choose what runs${env}`;
  const before = (i: number, by: string) =>
    `${at(i)}: a {placeholder} alone cannot stand before the program ${JSON.stringify(by)} runs: a value there could choose what runs or its environment (${JSON.stringify(by)} would read "sh" as the program, "NAME=value" as a variable); write it in the runbook, or after the program`;
  const wrapped = (i: number, shell: string, by: string) => `${at(i)}: ${JSON.stringify(shell)} is a shell, which ${JSON.stringify(by)} would run; ${TAIL}`;
  // A value that could be the program, or env's environment (x=LD_PRELOAD=/tmp/x.so).
  assert.deepEqual(problems('[env, "{x}", /usr/local/bin/flush-queue]'), [runs(1, 'env', ' nor, as "NAME=value", its environment')]);
  assert.deepEqual(problems('[env, A=1, "{x}", /usr/local/bin/flush-queue]'), [runs(2, 'env', ' nor, as "NAME=value", its environment')]);
  assert.deepEqual(problems('[env, "/usr/local/bin/{x}", run]'), [runs(1, 'env', ' nor, as "NAME=value", its environment')]);
  assert.deepEqual(problems('[timeout, "10", "{x}", -c, id]'), [runs(2, 'timeout')]);
  assert.deepEqual(problems('[timeout, "{x}", /usr/local/bin/tool]'), [before(1, 'timeout')]);
  assert.deepEqual(problems('[sudo, -u, "{x}", /usr/local/bin/tool]'), [before(2, 'sudo')]);
  assert.deepEqual(problems('[nice, -n, "5", setsid, "{x}", /usr/local/bin/tool]'), [runs(4, 'setsid')]);
  assert.deepEqual(problems('[flock, /run/app.lock, "{x}"]'), [runs(2, 'flock')]);
  assert.deepEqual(problems('[sudo, "-{x}", /usr/local/bin/tool]'), [`${at(1)}: "sudo"'s options must be written out: a value there could choose how it runs what it runs`]);
  assert.deepEqual(problems('[find, /var/cache, -exec, "{x}", ";"]'), [runs(3, 'find')]);
  assert.deepEqual(problems('[env, -S, "A={x} /usr/local/bin/tool"]'), [`${at(2)}: "env" splits this argument into the program and its environment, so it must be written out, not hold a {placeholder}`]);
  // A word only at the program's position is a shell: an option's value or the program's own arguments are not.
  assert.deepEqual(problems('[timeout, -s, KILL, "300", rc, -c, id]'), [wrapped(4, 'rc', 'timeout')]);
  assert.deepEqual(problems('[kubectl, exec, -n, "{namespace}", "{pod_name}", --, sh, -c, "rm -rf /tmp/cache/*"]'), [wrapped(6, 'sh', 'kubectl')]);
  assert.deepEqual(problems('[kubectl, --context, prod, exec, -it, "{pod}", bash]'), [wrapped(6, 'bash', 'kubectl')]);
  assert.deepEqual(problems('[docker, exec, -u, root, "{c}", /bin/sh, -c, x]'), [wrapped(5, '/bin/sh', 'docker')]);
  assert.deepEqual(problems('[kubectl, --context, "{x}", exec, "{pod}", --, /usr/local/bin/tool]'), [
    `${at(2)}: "kubectl"'s option --context before its subcommand must be written out, not take a {placeholder} (only -n or --namespace may take one): an alert must not choose the server, context, credentials or identity "kubectl" acts with; write it in the runbook`,
  ]);
  assert.deepEqual(problems('[kubectl, "{verb}", "{pod}"]'), [`${at(1)}: the "kubectl" subcommand must be written out, not a {placeholder}: an alert must not choose what runs`]);
  assert.deepEqual(problems('[crictl, exec, -i, "{c}", ash]'), [wrapped(4, 'ash', 'crictl')]);
  assert.deepEqual(problems('[watch, -x, -g, -n, "1", sh, -c, "echo hi"]'), [wrapped(5, 'sh', 'watch')]);
  assert.deepEqual(problems('[ssh, -p, "2222", node1, bash, -c, "echo hi"]'), [`${at(4)}: "bash" is a shell, which "ssh" would run on the remote host; name the program to run on the remote host directly`]);
  assert.deepEqual(problems('[timeout, "5", env, -u, HOME, A=1, zsh]'), [wrapped(6, 'zsh', 'timeout')]);
  // An option rectify does not know may take the next argument: the program after that is read too.
  assert.deepEqual(problems('[strace, --output, /tmp/trace, sh, -c, id]'), [wrapped(3, 'sh', 'strace')]);
  assert.deepEqual(problems('[sudo, --preserve-env, bash]'), [wrapped(2, 'bash', 'sudo')]);
  // Programs that run a shell whatever they are given, or when no program follows them.
  assert.deepEqual(problems('[watch, -n, "1", /usr/local/bin/tool]'), [`${at(0)}: "watch" runs its command through sh -c unless given -x (--exec); add it so the program runs directly`]);
  assert.deepEqual(problems('[script, -qc, "/usr/local/bin/tool", /dev/null]'), [`${at(0)}: "script" runs a shell (and its -c command through one); ${TAIL}`]);
  assert.deepEqual(problems('[ssh, node1]'), [`${at(0)}: "ssh" with no command after the host runs a login shell there; name the program to run on the remote host`]);
  assert.deepEqual(problems('[chroot, /srv/root]'), [`${at(0)}: "chroot" runs a shell when no program follows it; ${TAIL}`]);
  assert.deepEqual(problems('[runuser, app]'), [`${at(0)}: "runuser" without -u runs the user's shell, as su does; ${TAIL} ([runuser, -u, USER, --, PROGRAM])`]);
  assert.deepEqual(problems('[doas, -s]'), [`${at(1)}: "-s" makes "doas" run its command through a shell; ${TAIL}`]);
  // Still loaded.
  for (const argv of [
    '[timeout, "300", /usr/local/bin/drain-queue, --channel, rc, --queue, "{queue}"]',
    '[nice, -n, "10", /usr/local/bin/reindex, --lang, es]',
    '[env, A=1, "B={x}", /usr/local/bin/tool, "{x}"]',
    '[timeout, --signal, KILL, "5", /usr/local/bin/tool, sh]',
    '[timeout, --foreground, "5", /usr/local/bin/tool, rc]',
    '[kubectl, exec, -n, "{namespace}", "{pod_name}", --, /usr/local/bin/flush, "{queue}"]',
    '[docker, exec, "{container}", /usr/local/bin/flush]',
    '[watch, -x, -g, -n, "1", /usr/local/bin/tool, "{x}"]',
    '[ssh, node1, /usr/local/bin/tool, "{x}"]',
    '[find, "/var/cache/{svc}", -mtime, "+7", -delete]',
    '[find, /var/cache, -name, "{x}", -exec, /bin/rm, -f, "{}", ";"]',
    '[kubectl, get, pods, -n, "{namespace}"]',
    '[kubectl, -n, "{namespace}", exec, "{pod}", --, /usr/local/bin/tool]',
  ]) {
    assert.deepEqual(problems(argv), [], argv);
  }
});

// Regressions (wrapper tables): env's lone "-" was read as the program; an option rectify did
// not know hid exec behind its value; "--name={x}" escaped the rule "--name {x}" obeys; a
// server, context or identity before a subcommand other than exec could be a value; ssh's
// host could not be one; oc, podman, nerdctl, ip netns, docker run, kubectl run/debug were
// not read at all.
const cmdProblems = (argv: string): string[] =>
  parseRunbooksText(`runbooks:\n  r:\n    risk: LOW\n    triggers: [x]\n    action: {command: {argv: ${argv}}}\n    rollback: none\n    rollback_reason: t\n`, 'r.yaml').problems.map(formatProblem);
const argAt = (i: number) => `r.yaml:5: runbooks.r.action.command.argv[${i}]`;
const SHELL_TAIL = 'rectify runs commands without one, so call the program directly';
const shellRun = (i: number, shell: string, by: string) => `${argAt(i)}: ${JSON.stringify(shell)} is a shell, which ${JSON.stringify(by)} would run; ${SHELL_TAIL}`;
const valueBefore = (i: number, by: string) =>
  `${argAt(i)}: a {placeholder} alone cannot stand before the program ${JSON.stringify(by)} runs: a value there could choose what runs or its environment (${JSON.stringify(by)} would read "sh" as the program, "NAME=value" as a variable); write it in the runbook, or after the program`;
const beforeSubcommand = (i: number, by: string, option: string, only = by === 'kubectl' ? ' (only -n or --namespace may take one)' : '') =>
  `${argAt(i)}: ${JSON.stringify(by)}'s option ${option} before its subcommand must be written out, not take a {placeholder}${only}: an alert must not choose the server, context, credentials or identity ${JSON.stringify(by)} acts with; write it in the runbook`;

test('GNU env reads a lone "-" as -i: the program is the argument after it', () => {
  // 1. GNU env reads a lone "-" as -i.
  assert.deepEqual(cmdProblems('[env, "-", sh, -c, id]'), [shellRun(2, 'sh', 'env')]);
  assert.deepEqual(cmdProblems('[env, "-", "{x}", /bin/true]'), [`${argAt(2)}: the program "env" runs must be written out, not a {placeholder}: an alert must not choose what runs nor, as "NAME=value", its environment`]);
});

test('before a kubectl/docker/crictl subcommand, an option rectify does not know, or one with a value, is read both ways: exec behind its value is found', () => {
  // 2. A global option with a value, known or not, before exec: every reading is checked.
  assert.deepEqual(cmdProblems('[kubectl, -v, "5", exec, mypod, --, sh, -c, id]'), [shellRun(6, 'sh', 'kubectl')]);
  assert.deepEqual(cmdProblems('[kubectl, --certificate-authority, /etc/ca.crt, exec, mypod, --, sh, -c, id]'), [shellRun(6, 'sh', 'kubectl')]);
  assert.deepEqual(cmdProblems('[kubectl, --some-new-option, /x, exec, mypod, --, sh, -c, id]'), [shellRun(6, 'sh', 'kubectl')]);
  assert.deepEqual(cmdProblems('[kubectl, -Z, /x, exec, mypod, --, sh, -c, id]'), [shellRun(6, 'sh', 'kubectl')]);
  assert.deepEqual(cmdProblems('[docker, -H, "tcp://10.0.0.1:2375", exec, c1, sh, -c, id]'), [shellRun(5, 'sh', 'docker')]);
  assert.deepEqual(cmdProblems('[docker, --some-new-option, x, exec, c1, sh, -c, id]'), [shellRun(5, 'sh', 'docker')]);
  assert.deepEqual(cmdProblems('[crictl, -r, "unix:///run/containerd/containerd.sock", exec, -i, c1, sh]'), [shellRun(6, 'sh', 'crictl')]);
});

test('a wrapper\'s "--name={x}" obeys the rule "--name {x}" does', () => {
  // 3. `--name={x}` obeys the rule `--name {x}` does.
  assert.deepEqual(cmdProblems('[kubectl, "--context={ctx}", exec, "{pod}", --, /usr/local/bin/x]'), [beforeSubcommand(1, 'kubectl', '--context')]);
  assert.deepEqual(cmdProblems('[kubectl, exec, "--server={srv}", "{pod}", --, /usr/local/bin/x]'), [
    `${argAt(2)}: "kubectl"'s option --server must be written out wherever it stands, not take a {placeholder} (only -n or --namespace may take one): an alert must not choose the server, context, credentials or identity "kubectl" acts with; write it in the runbook`,
  ]);
  assert.deepEqual(cmdProblems('[kubectl, exec, "--filename={f}", "{pod}", --, /usr/local/bin/x]'), [valueBefore(2, 'kubectl')]);
  assert.deepEqual(cmdProblems('[sudo, "--user={who}", /usr/local/bin/x]'), [valueBefore(1, 'sudo')]);
  assert.deepEqual(cmdProblems('[docker, exec, "--user={who}", "{container}", /usr/local/bin/x]'), [valueBefore(2, 'docker')]);
});

test("before a kubectl/docker subcommand other than exec, only kubectl's -n/--namespace may take a placeholder: not the server, context, kubeconfig or identity", () => {
  // 4. Before any subcommand only kubectl's namespace may be a value.
  assert.deepEqual(cmdProblems('[kubectl, --server, "{srv}", get, pods]'), [beforeSubcommand(2, 'kubectl', '--server')]);
  assert.deepEqual(cmdProblems('[kubectl, --as, "{who}", -n, "{namespace}", delete, pod, "{pod}"]'), [beforeSubcommand(2, 'kubectl', '--as')]);
  assert.deepEqual(cmdProblems('[kubectl, "--kubeconfig={kc}", get, pods]'), [beforeSubcommand(1, 'kubectl', '--kubeconfig')]);
  assert.deepEqual(cmdProblems('[kubectl, --server, "https://{srv}:6443", get, pods]'), [beforeSubcommand(2, 'kubectl', '--server')]);
  assert.deepEqual(cmdProblems('[docker, -H, "{dh}", restart, c1]'), [beforeSubcommand(2, 'docker', '-H')]);
  assert.deepEqual(cmdProblems('[kubectl, --some-new-option, "{x}", get, pods]'), [beforeSubcommand(2, 'kubectl', '--some-new-option')]);
  // kubectl, oc, podman and nerdctl read their global options after the subcommand too.
  const anywhere = (i: number, by: string, option: string, only = by === 'podman' ? '' : ' (only -n or --namespace may take one)') =>
    `${argAt(i)}: ${JSON.stringify(by)}'s option ${option} must be written out wherever it stands, not take a {placeholder}${only}: an alert must not choose the server, context, credentials or identity ${JSON.stringify(by)} acts with; write it in the runbook`;
  assert.deepEqual(cmdProblems('[kubectl, get, pods, --server, "{srv}"]'), [anywhere(4, 'kubectl', '--server')]);
  assert.deepEqual(cmdProblems('[kubectl, get, pods, "--as={who}"]'), [anywhere(3, 'kubectl', '--as')]);
  assert.deepEqual(cmdProblems('[kubectl, -n, "{namespace}", delete, pod, "{pod}", -s, "https://{srv}"]'), [anywhere(7, 'kubectl', '-s')]);
  assert.deepEqual(cmdProblems('[kubectl, exec, "{pod}", --kubeconfig, "/k/{kc}", --, /usr/local/bin/x]'), [anywhere(4, 'kubectl', '--kubeconfig')]);
  assert.deepEqual(cmdProblems('[oc, get, pods, --token, "{t}"]'), [anywhere(4, 'oc', '--token')]);
  assert.deepEqual(cmdProblems('[podman, ps, --url, "{u}"]'), [anywhere(3, 'podman', '--url')]);
});

test("ssh's host may be a placeholder; the command after it is written out and not a shell, and each refusal speaks of the remote host", () => {
  // 5. ssh: the host may be a value, the command after it never, nor a shell.
  const remote = 'name the program to run on the remote host';
  assert.deepEqual(cmdProblems('[ssh, "{host}", sh, -c, id]'), [`${argAt(2)}: "sh" is a shell, which "ssh" would run on the remote host; ${remote} directly`]);
  assert.deepEqual(cmdProblems('[ssh, "{host}", "{cmd}"]'), [`${argAt(2)}: the command "ssh" runs on the remote host must be written out, not a {placeholder}: the remote user's shell reads it, and an alert must not choose what runs`]);
  assert.deepEqual(cmdProblems('[ssh, "{host}"]'), [`${argAt(0)}: "ssh" with no command after the host runs a login shell there; ${remote}`]);
  assert.deepEqual(cmdProblems('[ssh, -p, "{port}", node1, /usr/local/bin/clean]'), [
    `${argAt(2)}: a {placeholder} alone cannot stand in "ssh"'s options or before the command it runs on the remote host (only the host may be one): a value there could choose how it connects or what runs; write it in the runbook`,
  ]);
});

test('oc exec/rsh, podman/nerdctl exec, ip netns/vrf exec, docker/podman run (and --entrypoint), kubectl run and debug: a shell as the program they run is refused', () => {
  // 7. oc, podman, nerdctl, ip netns/vrf exec, docker/podman run (and --entrypoint), kubectl run/debug, oc rsh.
  assert.deepEqual(cmdProblems('[oc, exec, mypod, --, sh, -c, id]'), [shellRun(4, 'sh', 'oc')]);
  assert.deepEqual(cmdProblems('[podman, exec, c1, sh, -c, id]'), [shellRun(3, 'sh', 'podman')]);
  assert.deepEqual(cmdProblems('[nerdctl, exec, c1, sh, -c, id]'), [shellRun(3, 'sh', 'nerdctl')]);
  assert.deepEqual(cmdProblems('[ip, netns, exec, blue, sh, -c, id]'), [shellRun(4, 'sh', 'ip')]);
  assert.deepEqual(cmdProblems('[ip, -all, net, e, bash]'), [shellRun(4, 'bash', 'ip')]);
  assert.deepEqual(cmdProblems('[ip, vrf, exec, red, "{x}"]'), [`${argAt(4)}: the program "ip" runs must be written out, not a {placeholder}: an alert must not choose what runs`]);
  assert.deepEqual(cmdProblems('[ip, "{o}", exec, blue, /usr/local/bin/x]'), [
    `${argAt(1)}: the "ip" object and command must be written out, not a {placeholder}: an alert must not choose what runs ("ip" netns exec runs a program)`,
  ]);
  assert.deepEqual(cmdProblems('[docker, run, --rm, alpine, sh, -c, id]'), [shellRun(4, 'sh', 'docker')]);
  assert.deepEqual(cmdProblems('[podman, run, --rm, --network, host, alpine, sh, -c, id]'), [shellRun(6, 'sh', 'podman')]);
  assert.deepEqual(cmdProblems('[docker, run, "--entrypoint=/bin/bash", alpine, -c, id]'), [`${argAt(2)}: "/bin/bash" is a shell, which "docker" would run (--entrypoint); ${SHELL_TAIL}`]);
  assert.deepEqual(cmdProblems('[docker, run, --rm, "{image}", /usr/local/bin/x]'), [
    `${argAt(3)}: the image "docker" runs (the first argument after its options) must be written out, not hold a {placeholder}: an alert choosing the image runs its code on this host's container runtime; write it in the runbook`,
  ]);
  assert.deepEqual(cmdProblems('[kubectl, run, tmp, --image=alpine, --, sh, -c, id]'), [shellRun(5, 'sh', 'kubectl')]);
  assert.deepEqual(cmdProblems('[kubectl, debug, -it, mypod, --image=busybox, --, sh]'), [shellRun(6, 'sh', 'kubectl')]);
  assert.deepEqual(cmdProblems('[oc, rsh, mypod]'), [`${argAt(0)}: "oc" runs a shell when no program follows it; ${SHELL_TAIL}`]);
});

test('still loaded: realistic wrapper lines, ssh {host}, env - with a program, kubectl -n {namespace} and --namespace={namespace}', () => {
  for (const argv of [
    '[ssh, "{host}", /usr/local/bin/clean]',
    '[env, "-", /usr/local/bin/report]',
    '[sudo, -u, app, /usr/local/bin/x, "{svc}"]',
    '[timeout, 30s, /usr/bin/curl, -fsS, "http://127.0.0.1:8080/{svc}"]',
    '[kubectl, -n, "{namespace}", rollout, restart, "deployment/{deployment}"]',
    '[kubectl, "--namespace={namespace}", get, pods]',
    '[kubectl, --insecure-skip-tls-verify, -v5, -n, "{namespace}", logs, "{pod}"]',
    '[kubectl, --context, prod, exec, -n, "{namespace}", "{pod}", --, /usr/local/bin/x]',
    '[nice, -n, "10", ionice, -c3, /usr/bin/find, /var/tmp, -mtime, "+7", -delete]',
    '[env, TZ=UTC, /usr/local/bin/report, "{service}"]',
    '[systemctl, restart, "{unit}"]',
    '[docker, restart, "{container}"]',
    '[docker, exec, "{container}", /usr/local/bin/x]',
    '[docker, exec, -e, "QUEUE={queue}", "{container}", /usr/local/bin/x]',
    '[ip, netns, exec, "{ns}", /usr/local/bin/x]',
    '[ip, -n, blue, link, set, "{dev}", up]',
    '[kubectl, logs, "{pod}", -n, "{namespace}", -c, "{c}", --since=1h]',
    '[kubectl, exec, "{pod}", --, /usr/local/bin/x, --server, "{srv}"]',
  ]) {
    assert.deepEqual(cmdProblems(argv), [], argv);
  }
});
