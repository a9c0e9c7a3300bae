import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../src/cli/index.js';
import { KUBERNETES_ENRICHMENT } from '../../src/domain/index.js';
import { formatProblem } from '../../src/domain/errors.js';
import { NAMED_CHECK_IMPLEMENTATIONS, NAMED_CHECK_MODES } from '../../src/checks/named.js';
import { createRunbookIndex, loadRunbookFile, loadRunbooks, NAMED_CHECK_NAMES, namedCheck, parseRunbooksText } from '../../src/runbooks/index.js';
import { loadCatalog } from '../../src/service.js';
import { FIXTURES, SEED_RUNBOOKS } from './helpers.js';

const NO_SOURCE = 'has no source: no standard alert in triggers carries it, match: does not require it, enrichment does not add it and params: does not declare it; declare it under params: if incidents carry it in their context';
const NO_ROLLBACK = 'is not undone by itself and this runbook has no rollback: give a rollback, or write rollback: none with a rollback_reason saying why it cannot be undone';

/**
 * The reference checks, as `line: path: message`, against a fixture that has one
 * runbook per case, including the cases that must NOT warn (sources found through
 * match:, a standard alert's labels, enrichment and params:; self-healing and GET
 * actions; rollback: none with a reason; a HIGH runbook in dry_run mode).
 */
test('references.warn.yaml: exactly these warnings, and no load problem', () => {
  const file = join(FIXTURES, 'references.warn.yaml');
  const { runbooks, problems, warnings } = loadRunbookFile(file);
  assert.deepEqual(problems, []);
  assert.equal(runbooks.length, 7, 'warnings never stop a runbook from loading');
  assert.deepEqual(
    warnings.map((w) => formatProblem(w).slice(file.length + 1)),
    [
      `6: runbooks.no-source.action: placeholder {deployment} ${NO_SOURCE}`,
      `6: runbooks.no-source.action: placeholder {namespace} ${NO_SOURCE}`,
      '13: runbooks.sources.params.unused_one: param unused_one is declared but no placeholder or named check uses it',
      `24: runbooks.no-enrichment-without-kubernetes.action: placeholder {deployment} ${NO_SOURCE}`,
      `34: runbooks.named-needs.pre_checks[0]: deployment_exists needs {deployment}, which ${NO_SOURCE}`,
      `36: runbooks.named-needs.post_checks[0]: pod_becomes_ready needs one of {pod_name}, {pod}, {deployment}, {statefulset}, which ${NO_SOURCE}`,
      `43: runbooks.irreversible.actions[0]: kubernetes cordon of node {node} ${NO_ROLLBACK}`,
      `46: runbooks.irreversible.actions[3]: POST http://127.0.0.1:8080/flush ${NO_ROLLBACK}`,
      `47: runbooks.irreversible.actions[4]: command /usr/local/bin/purge ${NO_ROLLBACK}`,
      '50: runbooks.high-no-owner: no post_checks: nothing verifies that the fix worked, so a failure is never rolled back; add a check (named, promql, http or kubernetes)',
      '51: runbooks.high-no-owner.risk: HIGH risk waits for an approval, but no owner names who approves: set owner: to the team or person who is asked (it is shown with the approval request)',
      '54: runbooks.high-no-owner.guardrails[1]: "deployment_exist" is not a check, so it is kept as a note for the approver; did you mean the check "deployment_exists"?',
    ],
  );
});

test('rectify lint prints errors, then warnings, and exits 1 on warnings alone; startup loads the same folder', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rectify-lint-'));
  mkdirSync(join(dir, 'runbooks'));
  writeFileSync(
    join(dir, 'runbooks', 'a.yaml'),
    'runbooks:\n  scale:\n    owner: ops\n    risk: LOW\n    triggers: [busy]\n    params: [deployment, namespace]\n    action: kubectl scale deployment {deployment} --replicas=3 -n {namespace}\n    post_checks: [deployment_exists]\n',
  );
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l), env: {}, cwd: dir };
  assert.equal(await runCli(['lint'], io), 1);
  const file = join(dir, 'runbooks', 'a.yaml');
  assert.deepEqual(err, [
    `${file}:7: runbooks.scale.action: warning: kubernetes scale of deployment {deployment} ${NO_ROLLBACK}`,
    `0 problem(s) and 1 warning(s) in ${join(dir, 'runbooks')} (the default)`,
  ]);
  assert.deepEqual(out, []);
  // A warning is not a reason to refuse to start: the file loads, the warning is returned to be logged.
  const loaded = loadCatalog(join(dir, 'runbooks'));
  assert.deepEqual(loaded.runbooks.map((r) => r.id), ['scale']);
  assert.deepEqual(loaded.warnings.map(formatProblem), [`${file}:7: runbooks.scale.action: kubernetes scale of deployment {deployment} ${NO_ROLLBACK}`]);

  // An error and a warning in one file: errors first; a single file can be linted too.
  writeFileSync(join(dir, 'runbooks', 'b.yaml'), 'runbooks:\n  broken:\n    risk: LOW\n    triggers: [x]\n    max_per_hour: five\n    action: kubectl delete pod p -n n\n');
  err.length = 0;
  assert.equal(await runCli(['lint', 'runbooks/b.yaml'], io), 1);
  const b = join(dir, 'runbooks', 'b.yaml');
  assert.deepEqual(err, [`${b}:5: runbooks.broken.max_per_hour: expected a positive integer, got "five"`, `1 problem(s) and 0 warning(s) in ${b}`]);
});

test("the seed's exercise file loads with no problem, and lint names what it leaves open", () => {
  const { runbooks, problems, warnings } = loadRunbooks(SEED_RUNBOOKS);
  assert.deepEqual(problems, []);
  assert.equal(runbooks.length, 3);
  const file = join(SEED_RUNBOOKS, 'runbooks.yaml');
  assert.deepEqual(
    warnings.map((w) => formatProblem(w).slice(`${file}:${w.line}: `.length)),
    [
      `runbooks.restart-pod.action: placeholder {pod_name} ${NO_SOURCE}`,
      `runbooks.restart-pod.action: placeholder {namespace} ${NO_SOURCE}`,
      `runbooks.scale-up.action: placeholder {deployment} ${NO_SOURCE}`,
      `runbooks.scale-up.action: placeholder {namespace} ${NO_SOURCE}`,
      `runbooks.scale-up.action: placeholder {new_replicas} ${NO_SOURCE}`,
      `runbooks.scale-up.rollback: placeholder {old_replicas} ${NO_SOURCE}`,
      'runbooks.rollback-deployment.risk: HIGH risk waits for an approval, but no owner names who approves: set owner: to the team or person who is asked (it is shown with the approval request)',
      `runbooks.rollback-deployment.action: placeholder {deployment} ${NO_SOURCE}`,
      `runbooks.rollback-deployment.action: placeholder {namespace} ${NO_SOURCE}`,
    ],
  );
});

const WINDOW = (reads: string, t: string, leaves: string) =>
  `${reads} is read over the last 5m: a timeout of ${t} s ends before ${leaves}; a fix that worked would be rolled back; give timeout_seconds of at least 300 (without it, 360)`;

const SHORT = (t: string, i: string, t0 = '', i0 = '') =>
  `timeout_seconds (${t}${t0}) is shorter than interval_seconds (${i}${i0}): the check is tried only at its start and once more at ${t} s; to poll it, give a shorter interval_seconds or a longer timeout_seconds`;

// A timeout shorter than the interval is tried at the start and at the timeout only
// (the black-box probe's runbooks: an http check 4 s / 5 s, deployment_ready with
// timeout_seconds 3 and the default 5 s interval). A warning: such a check works.
test('lint warns about a check whose timeout is shorter than its interval, given or default, where it polls', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rectify-lint-interval-'));
  const file = join(dir, 'a.yaml');
  writeFileSync(
    file,
    `runbooks:
  scale:
    owner: ops
    risk: LOW
    triggers: [busy]
    params: [deployment, namespace]
    pre_checks:
      - replicas_greater_than_one: {timeout_seconds: 3}
      - http: {url: "http://127.0.0.1:30977/ready", timeout_seconds: 5, interval_seconds: 5}
    action: kubectl rollout restart deployment {deployment} -n {namespace}
    post_checks:
      - http: {url: "http://127.0.0.1:30977/flip1000-{deployment}", timeout_seconds: 4, interval_seconds: 5}
      - kubernetes: {condition: deployment_ready, kind: deployment, name: "{deployment}", namespace: "{namespace}", timeout_seconds: 3}
      - pod_becomes_ready: {timeout_seconds: 2}
      - {named: error_rate_normalized, timeout_seconds: 0.5, interval_seconds: 1}
      - http: {url: "http://127.0.0.1:30977/slow", interval_seconds: 90}
      - promql: {query: 'up{job="{deployment}"}', expect: "== 1", timeout_seconds: 8, interval_seconds: 5}
`,
  );
  const { problems, warnings } = loadRunbookFile(file);
  assert.deepEqual(problems, []);
  assert.deepEqual(
    warnings.map((w) => formatProblem(w).slice(file.length + 1)),
    [
      `12: runbooks.scale.post_checks[0].http.timeout_seconds: ${SHORT('4', '5')}`,
      `13: runbooks.scale.post_checks[1].kubernetes.timeout_seconds: ${SHORT('3', '5', '', ', the default')}`,
      `14: runbooks.scale.post_checks[2].pod_becomes_ready.timeout_seconds: ${SHORT('2', '5', '', ', the default')}`,
      `15: runbooks.scale.post_checks[3].timeout_seconds: ${SHORT('0.5', '1')}`,
      `15: runbooks.scale.post_checks[3].timeout_seconds: ${WINDOW('the error ratio', '0.5', 'the errors from before the fix leave it')}`,
      `16: runbooks.scale.post_checks[4].http.interval_seconds: ${SHORT('60', '90', ', the default')}`,
    ],
  );
  // rectify lint prints it as a warning and exits 1; the runbook still loads.
  const out: string[] = [];
  const err: string[] = [];
  assert.equal(await runCli(['lint', file], { out: (l: string) => out.push(l), err: (l: string) => err.push(l), env: {}, cwd: dir }), 1);
  assert.equal(err[0], `${file}:12: runbooks.scale.post_checks[0].http.timeout_seconds: warning: ${SHORT('4', '5')}`);
  assert.equal(err.at(-1), `0 problem(s) and 6 warning(s) in ${file}`);
});

// error_rate_normalized and metrics_improved read a rate over the last 5 minutes: after a
// fix that worked, the window still holds what came before it for 5 minutes. Written
// without timeout_seconds, they poll for the window plus 60 s; a post-check's written
// timeout shorter than the window is warned about. Pre-checks (nothing changed yet) and
// a query of the runbook's own (its window is not read) are not.
test('a named check reading a 5-minute rate defaults to a 360 s timeout, and lint warns about a post-check timeout shorter than its window', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rectify-lint-window-'));
  const file = join(dir, 'w.yaml');
  writeFileSync(
    file,
    `runbooks:
  undo:
    owner: ops
    risk: LOW
    triggers: [errors]
    params: [deployment, namespace]
    pre_checks:
      - error_rate_normalized: {timeout_seconds: 60}
    action: kubectl rollout restart deployment {deployment} -n {namespace}
    post_checks:
      - error_rate_normalized
      - error_rate_normalized: {threshold: 0.05, timeout_seconds: 120}
      - {named: metrics_improved, timeout_seconds: 299}
      - error_rate_normalized: {timeout_seconds: 600, interval_seconds: 15}
      - {named: metrics_improved, params: {margin: 0.2}, timeout_seconds: 300}
      - {named: error_rate_normalized, params: {query: 'sum(rate(errors[5m]))'}, timeout_seconds: 60}
      - {named: metrics_improved, params: {query: 'max(rate(cpu[1m]))'}}
      - {named: metrics_improved}
`,
  );
  const { runbooks, problems, warnings } = loadRunbookFile(file);
  assert.deepEqual(problems, []);
  const rb = runbooks[0]!;
  assert.deepEqual(rb.preChecks.map((c) => c.timeoutMs), [60_000]);
  assert.deepEqual(rb.postChecks.map((c) => c.timeoutMs), [360_000, 120_000, 299_000, 600_000, 300_000, 60_000, 120_000, 360_000]);
  const ratio = (t: string) => WINDOW('the error ratio', t, 'the errors from before the fix leave it');
  const cpu = (t: string) => WINDOW('the busiest pod’s CPU usage', t, 'the usage from before the fix leaves it');
  assert.deepEqual(
    warnings.map((w) => formatProblem(w).slice(file.length + 1)),
    [`12: runbooks.undo.post_checks[1].error_rate_normalized.timeout_seconds: ${ratio('120')}`, `13: runbooks.undo.post_checks[2].timeout_seconds: ${cpu('299')}`],
  );
  // rectify lint prints them, each with its file and YAML path, and exits 1; the runbook still loads.
  const out: string[] = [];
  const err: string[] = [];
  assert.equal(await runCli(['lint', file], { out: (l: string) => out.push(l), err: (l: string) => err.push(l), env: {}, cwd: dir }), 1);
  assert.deepEqual(err, [
    `${file}:12: runbooks.undo.post_checks[1].error_rate_normalized.timeout_seconds: warning: ${ratio('120')}`,
    `${file}:13: runbooks.undo.post_checks[2].timeout_seconds: warning: ${cpu('299')}`,
    `0 problem(s) and 2 warning(s) in ${file}`,
  ]);
});

// The timeout the interval is held to is the one the check runs with: a pre-check's is
// cut to its for_seconds, plus its interval (at most 10 s), plus 5 s; a MEDIUM runbook's
// guardrail's to the 15 s budget less its last try. Both figures are named.
test('lint holds the interval to the timeout a pre-check or a guardrail is cut to, not the one written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rectify-lint-cut-'));
  mkdirSync(join(dir, 'runbooks'));
  const file = join(dir, 'runbooks', 'cut.yaml');
  writeFileSync(
    file,
    `runbooks:
  gate:
    owner: ops
    risk: LOW
    triggers: [busy]
    params: [deployment]
    pre_checks:
      - http: {url: "http://127.0.0.1:30977/a", interval_seconds: 90}
      - http: {url: "http://127.0.0.1:30977/b", timeout_seconds: 30, interval_seconds: 20}
      - promql: {query: 'up{job="{deployment}"}', expect: "== 1", for_seconds: 10, timeout_seconds: 60, interval_seconds: 20}
      - http: {url: "http://127.0.0.1:30977/c", timeout_seconds: 15, interval_seconds: 10}
    action: kubectl rollout restart deployment {deployment} -n ns
    post_checks:
      - http: {url: "http://127.0.0.1:30977/d", timeout_seconds: 30, interval_seconds: 20}
  guarded:
    owner: ops
    risk: MEDIUM
    triggers: [slow]
    params: [deployment]
    guardrails:
      - http: {url: "http://127.0.0.1:30977/e", timeout_seconds: 15, interval_seconds: 14.5}
      - http: {url: "http://127.0.0.1:30977/f", timeout_seconds: 15, interval_seconds: 10}
    action: kubectl rollout restart deployment {deployment} -n ns
    post_checks:
      - http: {url: "http://127.0.0.1:30977/g", timeout_seconds: 15, interval_seconds: 14.5}
`,
  );
  const out: string[] = [];
  const err: string[] = [];
  assert.equal(await runCli(['lint', 'runbooks'], { out: (l: string) => out.push(l), err: (l: string) => err.push(l), env: {}, cwd: dir }), 1);
  const gate = 'for a pre-check (its for_seconds, plus its interval_seconds up to 10 s, plus 5 s)';
  const guardrail = 'for a guardrail (its last try ends within the 15 s guardrail budget)';
  const cut = (written: string, to: string, why: string, interval: string) =>
    `warning: timeout_seconds (${written}) is cut to ${to} s ${why}, which is shorter than interval_seconds (${interval}): the check is tried only at its start and once more at ${to} s; to poll it, give a shorter interval_seconds`;
  assert.deepEqual(err, [
    `${file}:8: runbooks.gate.pre_checks[0].http.interval_seconds: ${cut('60, the default', '15', gate, '90')}`,
    `${file}:9: runbooks.gate.pre_checks[1].http.timeout_seconds: ${cut('30', '15', gate, '20')}`,
    `${file}:21: runbooks.guarded.guardrails[0].http.timeout_seconds: ${cut('15', '14', guardrail, '14.5')}`,
    `0 problem(s) and 3 warning(s) in ${join(dir, 'runbooks')}`,
  ]);
});

test("the runbook registry's named check modes are the implementation's", () => {
  for (const name of NAMED_CHECK_NAMES) assert.equal(namedCheck(name)?.mode, NAMED_CHECK_MODES[name as keyof typeof NAMED_CHECK_MODES], name);
});

test('params: a map or a list of placeholder names; anything else is a load error', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'rectify-params-')), 'p.yaml');
  writeFileSync(file, 'runbooks:\n  a:\n    triggers: [x]\n    params: {ok: fine, Bad-Name: no, n: 3}\n    action: kubectl delete pod {ok} -n ns\n  b:\n    triggers: [y]\n    params: deployment\n    action: kubectl delete pod p -n ns\n');
  const { problems } = loadRunbookFile(file);
  assert.deepEqual(
    problems.map((p) => formatProblem(p).slice(`${file}:${p.line}: `.length)),
    [
      'runbooks.a.params.Bad-Name: "Bad-Name" is not a placeholder name (a letter or "_", then letters, digits or "_")',
      'runbooks.a.params.n: expected a string, got 3',
      'runbooks.b.params: expected a map of placeholder name to what it means (or a list of names), got "deployment"',
    ],
  );
});

test('every named check has an implementation, and the enrichment contract is what lint counts on', () => {
  assert.deepEqual([...NAMED_CHECK_NAMES].sort(), [...NAMED_CHECK_IMPLEMENTATIONS].sort());
  assert.deepEqual([...KUBERNETES_ENRICHMENT.requires], ['namespace']);
  assert.deepEqual([...KUBERNETES_ENRICHMENT.requiresOneOf], ['pod', 'pod_name', 'deployment', 'statefulset']);
});

test('rectify lint reads the folder it is given (an argument, --runbooks, RECTIFY_RUNBOOKS), says where it came from, and refuses what it would not read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rectify-lint-args-'));
  mkdirSync(join(dir, 'runbooks'));
  mkdirSync(join(dir, 'other'));
  writeFileSync(join(dir, 'runbooks', 'ok.yaml'), 'runbooks:\n  fine:\n    risk: LOW\n    triggers: [x]\n    action: {http: {method: POST, url: "http://127.0.0.1:9/x"}}\n    rollback: none\n    rollback_reason: a test\n    post_checks: [{http: {url: "http://127.0.0.1:9/ok"}}]\n');
  writeFileSync(join(dir, 'other', 'bad.yaml'), 'runbooks:\n  broken:\n    risk: LOW\n    triggers: [x]\n    max_per_hour: five\n    action: kubectl delete pod p -n n\n');
  const run = async (argv: string[], env: Record<string, string> = {}) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['lint', ...argv], { out: (l: string) => out.push(l), err: (l: string) => err.push(l), env, cwd: dir });
    return { code, out, err };
  };
  const dflt = await run([]);
  assert.equal(dflt.code, 0, dflt.err.join('\n'));
  for (const [argv, env, from] of [[['other'], {}, ''], [['--runbooks', 'other'], {}, ' (set by --runbooks)'], [['--runbooks=other'], {}, ' (set by --runbooks)'], [[], { RECTIFY_RUNBOOKS: 'other' }, ' (set by RECTIFY_RUNBOOKS)']] as Array<[string[], Record<string, string>, string]>) {
    const r = await run(argv, env);
    assert.equal(r.code, 1, `${argv.join(' ')} ${JSON.stringify(env)}`);
    assert.equal(r.err.at(-1), `1 problem(s) and 0 warning(s) in ${join(dir, 'other')}${from}`);
  }
  const usage = 'usage: rectify lint [dir|file] [--runbooks dir] [--config file]';
  assert.deepEqual(await run(['runbooks', 'other']), { code: 2, out: [], err: [`rectify lint: name one folder or file (got "runbooks", "other"); ${usage}`] });
  assert.deepEqual(await run(['runbooks', '--runbooks', 'other']), { code: 2, out: [], err: [`rectify lint: name one folder or file (got "runbooks", "other"); ${usage}`] });
  assert.deepEqual(await run(['--strict']), { code: 2, out: [], err: [`rectify lint: --strict: unknown flag; ${usage}`] });
});

test('a runbook triggered only by an alertname matcher matches that alert; one with neither is a lint warning', () => {
  const text = `runbooks:
  by-matcher:
    risk: LOW
    match: ['alertname="DiskFull"', 'severity=~"critical|page"']
    action: {http: {method: POST, url: "http://127.0.0.1:9/x"}}
    rollback: none
    rollback_reason: a test
    post_checks: [{http: {url: "http://127.0.0.1:9/ok"}}]
  by-hand:
    risk: LOW
    action: {http: {method: POST, url: "http://127.0.0.1:9/y"}}
    rollback: none
    rollback_reason: a test
    post_checks: [{http: {url: "http://127.0.0.1:9/ok"}}]
`;
  const { runbooks, problems, warnings } = parseRunbooksText(text, 'm.yaml');
  assert.deepEqual(problems, []);
  const index = createRunbookIndex(runbooks);
  const alert = (severity: string) => {
    // As Alertmanager ingestion gives it: context and labels are one map.
    const labels = { alertname: 'DiskFull', severity };
    return { id: 'INC1', service: 'disk', root_cause: 'DiskFull', symptoms: [], alertname: 'DiskFull', context: labels, labels };
  };
  assert.equal(index.match(alert('critical'))?.id, 'by-matcher');
  assert.equal(index.match(alert('info')), undefined, 'the other matchers still hold it back');
  assert.deepEqual(warnings.map(formatProblem), [
    'm.yaml:9: runbooks.by-hand: no triggers and no alertname="…" matcher: no alert ever matches this runbook (it can still be run by hand); add triggers:',
  ]);
});

test('a runbook id YAML reads as a number, a boolean or null is refused, named as written: 1.10 loaded as 1.1 and 0x1f as 31', () => {
  const body = '    risk: LOW\n    triggers: [Foo]\n    action: {http: {method: GET, url: "http://127.0.0.1:9/x"}}\n';
  const ids = ['zz-first', '1.10', '0x1f', 'true', '2e0', '12', '~', '"1.20"'];
  const { runbooks, problems } = parseRunbooksText(`runbooks:\n${ids.map((id) => `  ${id}:\n${body}`).join('')}`, 'k.yaml');
  const text = 'not as the text written; a runbook id is text';
  assert.deepEqual(
    problems.map(formatProblem),
    [
      `k.yaml:6: runbooks["1.10"]: runbook id 1.10 is read as the number 1.1, ${text}: quote it ("1.10") if it is meant, or give a name with a letter`,
      `k.yaml:10: runbooks.0x1f: runbook id 0x1f is read as the number 31, ${text}: quote it ("0x1f") if it is meant, or give a name with a letter`,
      `k.yaml:14: runbooks.true: runbook id true is read as the boolean true, ${text}: quote it ("true") if it is meant, or give a name with a letter`,
      `k.yaml:18: runbooks.2e0: runbook id 2e0 is read as the number 2, ${text}: quote it ("2e0") if it is meant, or give a name with a letter`,
      `k.yaml:22: runbooks.12: runbook id 12 is read as the number 12, ${text}: add a letter`,
      `k.yaml:26: runbooks.~: runbook id ~ is read as null, ${text}: quote it ("~") if it is meant, or give a name with a letter`,
    ],
  );
  assert.deepEqual(runbooks.map((r) => r.id), ['zz-first', '1.20'], 'a quoted id is the text written');
});

test('a runbook id that is a number is refused: YAML would list it first, out of file order', () => {
  const body = '    risk: LOW\n    triggers: [Foo]\n    action: {http: {method: POST, url: "http://127.0.0.1:9/x"}}\n';
  const { runbooks, problems } = parseRunbooksText(`runbooks:\n  zz-first:\n${body}  "10":\n${body}`, 'n.yaml');
  assert.deepEqual(problems.map(formatProblem), ['n.yaml:6: runbooks.10: runbook id "10" is a number: runbooks are matched in file order, and a numeric id would be read out of it; add a letter']);
  assert.deepEqual(runbooks.map((r) => r.id), ['zz-first']);
});

test('guardrails on a LOW runbook are a warning naming them: only a MEDIUM runbook\'s are evaluated', () => {
  const body = (risk: string, guardrails: string) =>
    `    owner: ops\n    risk: ${risk}\n    triggers: [Foo]\n${guardrails}    action: {http: {method: GET, url: "http://127.0.0.1:9/x"}}\n    post_checks: [{http: {url: "http://127.0.0.1:9/c"}}]\n`;
  const check = '    guardrails: [{http: {url: "http://127.0.0.1:9/g"}}]\n';
  const text = `runbooks:\n  low:\n${body('LOW', check)}  low-seed-spelling:\n${body('low', check)}  low-none:\n${body('LOW', '    guardrails: []\n')}  medium:\n${body('MEDIUM', check)}  high:\n${body('HIGH', '    guardrails: [human_approval_required]\n')}`;
  const { runbooks, problems, warnings } = parseRunbooksText(text, 'g.yaml');
  assert.deepEqual(problems, []);
  assert.equal(runbooks.length, 5, 'the warning never stops a runbook from loading');
  const said = 'guardrails are not evaluated at LOW risk: the runbook runs on its own whatever they would say; make it risk: MEDIUM to require them, or make them pre_checks to stop the run when one fails';
  assert.deepEqual(
    warnings.map(formatProblem),
    [`g.yaml:6: runbooks.low.guardrails: ${said}`, `g.yaml:13: runbooks.low-seed-spelling.guardrails: ${said}`],
  );
});

test('a trigger with white space at its start or end is a warning: matched exactly, it never matches the word within', () => {
  const text = `runbooks:\n  a:\n    owner: ops\n    risk: LOW\n    triggers: [' Foo ', "Bar\\n", Baz, 'two words']\n    root_causes: ["Qux\\t"]\n    action: {http: {method: GET, url: "http://127.0.0.1:9/x"}}\n    post_checks: [{http: {url: "http://127.0.0.1:9/c"}}]\n`;
  const { runbooks, problems, warnings } = parseRunbooksText(text, 't.yaml');
  assert.deepEqual(problems, []);
  assert.deepEqual(runbooks.map((r) => r.triggers), [[' Foo ', 'Bar\n', 'Baz', 'two words', 'Qux\t']], 'loaded as written');
  assert.deepEqual(
    warnings.map(formatProblem),
    [
      't.yaml:5: runbooks.a.triggers[0]: trigger " Foo " has white space at its start or end: triggers match exactly, so it never matches "Foo"; write "Foo"',
      't.yaml:5: runbooks.a.triggers[1]: trigger "Bar\\n" has white space at its start or end: triggers match exactly, so it never matches "Bar"; write "Bar"',
      't.yaml:6: runbooks.a.root_causes[0]: trigger "Qux\\t" has white space at its start or end: triggers match exactly, so it never matches "Qux"; write "Qux"',
    ],
  );
});

test('outside_windows without windows is a warning naming it: the runbook is never outside them', () => {
  const body = (extra: string) =>
    `    owner: ops\n    risk: LOW\n    triggers: [Foo]\n${extra}    action: {http: {method: GET, url: "http://127.0.0.1:9/x"}}\n    post_checks: [{http: {url: "http://127.0.0.1:9/c"}}]\n`;
  const text = `runbooks:\n  none:\n${body('    outside_windows: approval\n')}  windowed:\n${body('    windows: [{start: "22:00", end: "06:00"}]\n    outside_windows: approval\n')}  blocks:\n${body('    outside_windows: block\n')}`;
  const { runbooks, problems, warnings } = parseRunbooksText(text, 'w.yaml');
  assert.deepEqual(problems, []);
  assert.equal(runbooks.length, 3, 'the warning never stops a runbook from loading');
  assert.deepEqual(warnings.map(formatProblem), ['w.yaml:6: runbooks.none.outside_windows: outside_windows has no effect without windows: the runbook may act on its own at any time; give it windows']);
});
