import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../../src/cli/index.js';

/** `rectify test` through the CLI entry point, as a person would run it. */
async function rectifyTest(cwd: string, ...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['test', ...args], { out: (l) => out.push(l), err: (l) => err.push(l), env: {}, cwd });
  return { code, out, err };
}

const SEED = new URL('../fixtures/seed/', import.meta.url);

function workdir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'rectify-rbtest-'));
  copyFileSync(new URL('runbooks.yaml', SEED), join(dir, 'runbooks.yaml'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/**
 * The seed runbooks' load warnings, as rectify lint prints them: rectify test prints them on
 * stderr (the file named as `label`), and they change no exit status.
 */
function seedWarnings(label: string): string[] {
  const noSource = (placeholder: string): string =>
    `warning: placeholder {${placeholder}} has no source: no standard alert in triggers carries it, match: does not require it, enrichment does not add it and params: does not declare it; declare it under params: if incidents carry it in their context`;
  return [
    `${label}:15: runbooks.restart-pod.action: ${noSource('pod_name')}`,
    `${label}:15: runbooks.restart-pod.action: ${noSource('namespace')}`,
    `${label}:31: runbooks.scale-up.action: ${noSource('deployment')}`,
    `${label}:31: runbooks.scale-up.action: ${noSource('namespace')}`,
    `${label}:31: runbooks.scale-up.action: ${noSource('new_replicas')}`,
    `${label}:34: runbooks.scale-up.rollback: ${noSource('old_replicas')}`,
    `${label}:37: runbooks.rollback-deployment.risk: warning: HIGH risk waits for an approval, but no owner names who approves: set owner: to the team or person who is asked (it is shown with the approval request)`,
    `${label}:46: runbooks.rollback-deployment.action: ${noSource('deployment')}`,
    `${label}:46: runbooks.rollback-deployment.action: ${noSource('namespace')}`,
  ];
}

/** A YAML single-quoted scalar. */
const yamlQuote = (text: string): string => `'${text.replaceAll("'", "''")}'`;

const INC001 = '{id: INC001, root_cause: CrashLoopBackOff, confidence: 0.95, service: api-server, context: {pod_name: api-server-abc123, namespace: production}}';

describe('rectify test', () => {
  it("passes the seed's four incidents against its exercise file (exit 0)", async () => {
    const r = await rectifyTest(new URL('.', SEED).pathname, 'seed.test.yaml');
    assert.deepEqual(r.err, seedWarnings('runbooks.yaml'));
    assert.deepEqual(r.out, [
      'seed.test.yaml',
      '  PASS  INC001 CrashLoopBackOff restarts the pod',
      '  PASS  INC002 high_cpu scales the worker up',
      '  PASS  INC003 a spike after a deploy asks for approval',
      '  PASS  INC004 an unknown issue goes to a human',
      '4 test(s): 4 passed, 0 failed',
    ]);
    assert.equal(r.code, 0);
  });

  it('reports each failed assertion with expected and got, and exits 1', async () => {
    const dir = workdir({
      'wrong.test.yaml': `runbooks: [runbooks.yaml]
tests:
  - name: right
    incident: ${INC001}
    expect: {action: executed}
  - name: wrong decision and reason
    incident: ${INC001}
    expect: {action: approval_required, runbook: restart-pod, reason: "risk HIGH requires approval"}
  - name: wrong rendering
    incident: {root_cause: high_cpu, confidence: 0.75, service: worker, context: {deployment: worker, namespace: production, new_replicas: 5}}
    enrichment: {replicas: "3", old_replicas: "3"}
    expect:
      action: executed
      actions: [kubectl scale deployment worker --replicas=4 -n production]
      rollback: null
      params: {deployment: worker, new_replicas: "4"}
  - name: a plan where none was rendered
    incident: {root_cause: unknown_issue, service: auth}
    expect: {action: manual, actions: [anything]}
`,
    });
    const r = await rectifyTest(dir, 'wrong.test.yaml');
    assert.deepEqual(r.err, seedWarnings('runbooks.yaml'));
    assert.deepEqual(r.out, [
      'wrong.test.yaml',
      '  PASS  right',
      '  FAIL  wrong decision and reason  (wrong.test.yaml:6 tests[1])',
      '        action:',
      '          expected "approval_required"',
      '          got      "executed"',
      '        reason:',
      '          expected "risk HIGH requires approval"',
      '          got      "risk LOW: guardrails passed"',
      '  FAIL  wrong rendering  (wrong.test.yaml:9 tests[2])',
      '        actions:',
      '          - kubectl scale deployment worker --replicas=4 -n production',
      '          + kubectl scale deployment worker --replicas=5 -n production',
      '        rollback:',
      '          expected null',
      '          got      ["kubectl scale deployment worker --replicas=3 -n production"]',
      '        params.new_replicas:',
      '          expected "4"',
      '          got      "5"',
      '        (decision: executed EXECUTING, runbook scale-up: risk LOW: guardrails passed)',
      '  FAIL  a plan where none was rendered  (wrong.test.yaml:17 tests[3])',
      '        actions:',
      '          expected ["anything"]',
      '          got      (no plan: the decision rendered none)',
      '        (decision: manual NO_RUNBOOK, runbook none: No matching runbook)',
      '4 test(s): 1 passed, 3 failed',
    ]);
    assert.equal(r.code, 1);
  });

  it('decides with the given guardrail state and clock: cooldown, rate limit, circuit, pause, blast radius, windows', async () => {
    const dir = workdir({
      'rb/windowed.yaml': `runbooks:
  night-restart:
    owner: platform-team
    risk: LOW
    triggers: [night_only]
    windows: [{days: mon-fri, start: "22:00", end: "06:00", timezone: UTC}]
    params: [deployment, namespace]
    action: kubectl rollout restart deployment {deployment} -n {namespace}
    post_checks: [deployment_exists]
  medium:
    owner: platform-team
    risk: MEDIUM
    triggers: [medium_issue]
    params: [deployment, namespace]
    guardrails: [{promql: {query: 'up{job="x"}', expect: "== 1"}}]
    action: kubectl rollout restart deployment {deployment} -n {namespace}
    post_checks: [deployment_exists]
`,
      'state.test.yaml': `runbooks: [seed/runbooks.yaml, rb]
clock: "2026-11-24T03:00:00Z"
state:
  executions:
    - {runbook: restart-pod, service: api-server, at: "2026-11-24T02:58:00Z"}
tests:
  - name: cooldown from the file's state
    incident: ${INC001}
    expect: {action: blocked, event: RATE_LIMITED, reason: "Cooldown active (180s remaining)"}
  - name: a later clock is past the cooldown
    clock: "2026-11-24T03:03:00Z"
    incident: ${INC001}
    expect: {action: executed, event: EXECUTING}
  - name: the cooldown runs from the latest run, whatever order the state lists them in
    state:
      executions:
        - {runbook: restart-pod, service: api-server, ago: 2m}
        - {runbook: restart-pod, service: api-server, ago: 50m}
    incident: ${INC001}
    expect: {action: blocked, event: RATE_LIMITED, reason: "Cooldown active (180s remaining)"}
  - name: five in the last hour is the rate limit
    state:
      executions:
        - {runbook: restart-pod, service: api-server, ago: 50m}
        - {runbook: restart-pod, service: api-server, ago: 40m}
        - {runbook: restart-pod, service: api-server, ago: 30m}
        - {runbook: restart-pod, service: api-server, ago: 20m}
        - {runbook: restart-pod, service: api-server, at: "2026-11-24T02:50:00Z"}
    incident: ${INC001}
    expect: {action: blocked, event: RATE_LIMITED, reason: "Rate limit exceeded (5/hour)"}
  - name: another service is not rate limited by them
    incident: {root_cause: CrashLoopBackOff, service: web, context: {pod_name: web-1, namespace: production}}
    expect: {action: executed}
  - name: an open circuit blocks
    state: {circuits: {restart-pod: {state: open, failures: 3, opened_ago: 1m}}}
    incident: ${INC001}
    expect: {action: blocked, event: CIRCUIT_OPEN, reason: "Circuit OPEN (too many failures); trial allowed in 240s"}
  - name: after the recovery time one trial runs
    state: {circuits: {restart-pod: {state: open, failures: 3, opened_ago: 6m}}}
    incident: ${INC001}
    expect: {action: executed}
  - name: paused
    state: {paused: true}
    incident: ${INC001}
    expect: {action: blocked, event: PAUSED}
  - name: another service in flight fills the blast radius
    state: {executions: [{runbook: restart-pod, service: web, ago: 1h, running: true}]}
    incident: ${INC001}
    expect: {action: blocked, event: BLAST_LIMITED, reason: "Max services (1) already affected by restart-pod"}
  - name: a run on the same service under way for 2h, past the rate-limit rows kept, still holds off the next, as serve says
    state: {executions: [{runbook: restart-pod, service: api-server, ago: 2h, running: true}]}
    incident: ${INC001}
    expect: {action: blocked, event: RATE_LIMITED, reason: "Cooldown active (the last run of restart-pod on api-server is still running)"}
  - name: inside the window
    incident: {root_cause: night_only, service: shop, context: {deployment: shop, namespace: prod}}
    expect: {action: executed, actions: [kubectl rollout restart deployment shop -n prod]}
  - name: outside the window
    clock: "2026-11-24T12:00:00Z"
    incident: {root_cause: night_only, service: shop, context: {deployment: shop, namespace: prod}}
    expect: {action: blocked, event: OUTSIDE_WINDOW, reason: "outside the runbook's allowed windows (mon–fri 22:00–06:00 UTC)"}
  - name: MEDIUM with passing guardrails runs
    incident: {root_cause: medium_issue, service: shop, context: {deployment: shop, namespace: prod}}
    guardrails: pass
    expect: {action: executed}
  - name: MEDIUM with a failing guardrail asks
    incident: {root_cause: medium_issue, service: shop, context: {deployment: shop, namespace: prod}}
    guardrails: {fail: other services unhealthy}
    expect: {action: approval_required, reason: "risk MEDIUM: guardrail failed: promql: other services unhealthy"}
  - name: MEDIUM with guardrails the test does not answer asks too
    incident: {root_cause: medium_issue, service: shop, context: {deployment: shop, namespace: prod}}
    expect: {action: approval_required, reason: "risk MEDIUM: guardrail failed: promql: not evaluated (rectify test: give the test guardrails: pass or fail)"}
  - name: an Alertmanager alert, enriched
    state: {}
    alert:
      labels: {alertname: KubePodCrashLooping, reason: CrashLoopBackOff, namespace: production, pod: api-server-abc123, deployment: api-server}
    enrichment: {pod_name: api-server-abc123, deployment: api-server}
    expect: {action: executed, runbook: restart-pod, actions: [kubectl delete pod api-server-abc123 -n production (eviction)]}
  - name: an Alertmanager alert's cooldown says when it is decided again
    alert:
      labels: {alertname: KubePodCrashLooping, reason: CrashLoopBackOff, namespace: production, pod: api-server-abc123, deployment: api-server}
    enrichment: {pod_name: api-server-abc123, deployment: api-server}
    expect: {action: blocked, event: RATE_LIMITED, reason: "Cooldown active (180s remaining); decided again at the alert's first delivery after the cooldown is over"}
  - name: a reason written without when it is decided again still matches
    alert:
      labels: {alertname: KubePodCrashLooping, reason: CrashLoopBackOff, namespace: production, pod: api-server-abc123, deployment: api-server}
    enrichment: {pod_name: api-server-abc123, deployment: api-server}
    expect: {action: blocked, event: RATE_LIMITED, reason: "Cooldown active (180s remaining)"}
  - name: an alert label that is not a safe name is refused before reading the cluster, as serve refuses it
    alert:
      labels: {alertname: KubePodCrashLooping, reason: CrashLoopBackOff, namespace: production, pod_name: "x;rm", deployment: evil}
    expect: {action: blocked, event: PARAM_REFUSED, reason: 'the alert''s pod_name "x;rm" is not a valid Kubernetes name: expected a Kubernetes name (lowercase letters, digits, "-" and "."); nothing was read from the cluster or acted on'}
  - name: a pod and a pod_name naming different pods are refused, whatever the enrichment
    state: {}
    alert:
      labels: {alertname: KubePodCrashLooping, reason: CrashLoopBackOff, namespace: production, pod: api-server-aaa, pod_name: api-server-bbb, service: api-server}
    enrichment: {pod_name: api-server-bbb}
    expect: {action: blocked, event: PARAM_REFUSED, reason: 'the alert''s pod "api-server-aaa" and pod_name "api-server-bbb" name different pods: the runbook acts on the pod, and which one its values (which its match: and guardrails read) describe cannot be told; nothing was acted on'}
  - name: a pod that cannot be a Kubernetes name is refused, whatever the enrichment
    state: {}
    alert:
      labels: {alertname: KubePodCrashLooping, reason: CrashLoopBackOff, namespace: production, pod: Bad_Pod, service: api-server}
    enrichment: {pod_name: api-server-abc123}
    expect: {action: blocked, event: PARAM_REFUSED, reason: 'the alert''s pod "Bad_Pod" is not a valid Kubernetes name: expected a Kubernetes name (lowercase letters, digits, "-" and "."); nothing was read from the cluster or acted on'}
`,
    });
    mkdirSync(join(dir, 'seed'));
    copyFileSync(new URL('runbooks.yaml', SEED), join(dir, 'seed', 'runbooks.yaml'));
    const r = await rectifyTest(dir, 'state.test.yaml');
    assert.deepEqual(r.err, seedWarnings('seed/runbooks.yaml'));
    assert.deepEqual(
      r.out.filter((l) => !l.startsWith('  PASS')),
      ['state.test.yaml', '21 test(s): 21 passed, 0 failed'],
      r.out.join('\n'),
    );
    assert.equal(r.code, 0);
  });

  it('a bad test file names every problem by file and YAML path, runs nothing, and exits 2', async () => {
    const dir = workdir({
      'bad.test.yaml': `runbooks: runbooks.yaml
clock: yesterday
settings: {executors: [kubernetes, ssh], max_concurent: 3}
state:
  executions: [{runbook: restart-pod, ago: 5 minutes}]
tests:
  - incident: {root_cause: x, confidence: 2, service: a}
    expect: {action: executd}
  - alert: {labels: {alertname: KubePodCrashLooping, confidence: high}}
    expect: {action: manual}
  - incident: {root_cause: x, service: a}
    alert: {labels: {alertname: X, service: a}}
    expect: {action: manual}
  - incident: {root_cause: x, service: a}
  - incident: {root_cause: x, service: a, status: resolved}
    guardrails: maybe
    expect: {action: manual, rollback: none, surprise: 1}
  - alert: {labels: {service: a}}
    expect: {action: manual}
  - alert: {labels: {alertname: KubePodCrashLooping, service: a}, annotations: {confidence_score: "0.1"}}
    expect: {action: manual}
  - alert: {labels: {alertname: KubePodCrashLooping, service: a, confidence: "0.9"}, annotations: {confidence_score: "0.1"}}
    expect: {action: manual}
`,
    });
    const r = await rectifyTest(dir, 'bad.test.yaml');
    assert.deepEqual(r.err, [
      'bad.test.yaml:1: runbooks: expected a list of strings, got "runbooks.yaml"',
      'bad.test.yaml:2: clock: expected an RFC 3339 time such as "2026-11-24T03:00:00Z", got "yesterday"',
      'bad.test.yaml:3: settings.max_concurent: unknown key',
      'bad.test.yaml:3: settings.executors[1]: expected one of kubernetes, prometheus, got "ssh"',
      'bad.test.yaml:5: state.executions[0].service: expected a non-empty string, got null',
      'bad.test.yaml:5: state.executions[0].ago: expected a duration such as "90s", "5m" or "1h", got "5 minutes"',
      'bad.test.yaml:7: tests[0].incident.confidence: Too big: expected number to be <=1',
      'bad.test.yaml:8: tests[0].expect.action: expected one of executed, approval_required, manual, blocked, aborted, duplicate, dry_run, resolved, got "executd" (did you mean "executed"?)',
      'bad.test.yaml:9: tests[1].alert.labels.confidence: expected a decimal number from 0 to 1, got "high"',
      'bad.test.yaml:12: tests[2].alert: give either incident or alert, not both',
      'bad.test.yaml:14: tests[3]: missing "expect": a test must assert at least the decision (expect: {action: …})',
      'bad.test.yaml:15: tests[4].incident.status: a runbook test decides on a firing incident; a resolved one is never matched to a runbook',
      'bad.test.yaml:16: tests[4].guardrails: expected pass, fail or {fail: "why"}, got "maybe"',
      'bad.test.yaml:17: tests[4].expect.surprise: unknown key',
      'bad.test.yaml:17: tests[4].expect.rollback: expected a list of strings, got "none"',
      'bad.test.yaml:18: tests[5].alert.labels.alertname: the alert has no alertname, reason or root_cause label: no runbook can match it',
      'bad.test.yaml:20: tests[6].alert.annotations.confidence_score: a key rectify does not read as a confidence (only "confidence" is): name it "confidence" (it holds "0.1")',
      'bad.test.yaml:22: tests[7].alert.annotations.confidence_score: differs from labels.confidence ("0.9"): an alert has one confidence, "confidence"; give it once (or the same in both)',
    ]);
    assert.deepEqual(r.out, ['0 test(s): 0 passed, 0 failed; some files could not be run']);
    assert.equal(r.code, 2);
  });

  it('a time that does not exist (2026-02-31, T24:00:00) is a problem named by file and YAML path, never read as another day', async () => {
    const dir = workdir({
      'dates.test.yaml': `runbooks: [runbooks.yaml]
clock: 2026-02-31T12:00:00Z
state:
  executions: [{runbook: restart-pod, service: api-server, at: "2026-02-29T03:00:00Z"}]
  circuits:
    scale-up: {state: open, failures: 3, opened_at: "2026-04-31T00:00:00+01:00"}
tests:
  - clock: "2026-01-01T24:00:00Z"
    incident: ${INC001}
    expect: {action: executed}
  - clock: "2026-01-01T12:00:00+24:00"
    incident: ${INC001}
    expect: {action: executed}
`,
    });
    const r = await rectifyTest(dir, 'dates.test.yaml');
    assert.deepEqual(r.err, [
      'dates.test.yaml:2: clock: 2026-02-31 does not exist: February 2026 has 28 days',
      'dates.test.yaml:4: state.executions[0].at: 2026-02-29 does not exist: February 2026 has 28 days',
      'dates.test.yaml:6: state.circuits.scale-up.opened_at: 2026-04-31 does not exist: April 2026 has 30 days',
      'dates.test.yaml:8: tests[0].clock: 24:00:00 is not a time of day (00:00:00 to 23:59:59): write 00:00:00 of the next day',
      'dates.test.yaml:11: tests[1].clock: the offset +24:00 does not exist (-23:59 to +23:59)',
    ]);
    assert.equal(r.code, 2);
  });

  it('a state naming a runbook the file does not load is a problem named by file and YAML path, with a suggestion; no test runs', async () => {
    const dir = workdir({
      'typo.test.yaml': `runbooks: [runbooks.yaml]
state:
  executions: [{runbook: restart-pd, service: api-server, ago: 2m}, {runbook: restart-pod, service: web, ago: 1m}]
  circuits: {nosuch: open, scale-up: closed}
tests:
  - incident: ${INC001}
    expect: {action: executed}
  - state:
      circuits:
        rollback-deploymnet: {state: open, failures: 3, opened_ago: 1m}
    incident: ${INC001}
    expect: {action: executed}
`,
    });
    const r = await rectifyTest(dir, 'typo.test.yaml');
    assert.deepEqual(r.err, [
      'typo.test.yaml:3: state.executions[0].runbook: unknown runbook "restart-pd": no runbook this file loads has that id (did you mean "restart-pod"?)',
      'typo.test.yaml:4: state.circuits.nosuch: unknown runbook "nosuch": no runbook this file loads has that id',
      'typo.test.yaml:10: tests[1].state.circuits.rollback-deploymnet: unknown runbook "rollback-deploymnet": no runbook this file loads has that id (did you mean "rollback-deployment"?)',
    ]);
    assert.deepEqual(r.out, ['0 test(s): 0 passed, 0 failed; some files could not be run']);
    assert.equal(r.code, 2);
  });

  it('a runbook file with a problem, a missing runbook path or test file: exit 2, naming it', async () => {
    const dir = workdir({
      'rb/broken.yaml': 'runbooks:\n  x:\n    risk: LOW\n    triggers: [a]\n    max_per_hour: five\n    action: kubectl delete pod {pod} -n {namespace}\n',
      'broken.test.yaml': 'runbooks: [rb]\ntests:\n  - incident: {root_cause: a, service: s}\n    expect: {action: manual}\n',
      'missing.test.yaml': 'runbooks: [nope.yaml]\ntests:\n  - incident: {root_cause: a, service: s}\n    expect: {action: manual}\n',
    });
    const r = await rectifyTest(dir, 'broken.test.yaml', 'missing.test.yaml', 'absent.test.yaml');
    assert.deepEqual(r.err, [
      'absent.test.yaml: no such file or folder',
      'rb/broken.yaml:5: runbooks.x.max_per_hour: expected a positive integer, got "five"',
      `missing.test.yaml: runbooks[0]: no such runbook file or folder: ${join(dir, 'nope.yaml')}`,
    ]);
    assert.equal(r.code, 2);
  });

  it('a runbook id two of the runbook files it names define is named at its line, with where the first is: exit 2', async () => {
    const dir = workdir({
      'more.yaml': '# restart-pod again\nrunbooks:\n  restart-pod:\n    risk: LOW\n    triggers: [x]\n    action: kubectl delete pod {pod_name} -n {namespace}\n    post_checks: [pod_becomes_ready]\n',
      'dup.test.yaml': 'runbooks: [runbooks.yaml, more.yaml]\ntests:\n  - incident: {root_cause: x, service: s}\n    expect: {action: manual}\n',
    });
    const r = await rectifyTest(dir, 'dup.test.yaml');
    assert.deepEqual(r.err, [`more.yaml:3: runbooks.restart-pod: duplicate runbook id "restart-pod" (first defined in ${join(dir, 'runbooks.yaml')}:4)`]);
    assert.equal(r.code, 2);
  });

  it('a test file too large or not UTF-8 is refused by name, runs nothing, and exits 2', async () => {
    const dir = workdir({ 'big.test.yaml': `# ${'x'.repeat(1024 * 1024)}\nruns: []\n` });
    writeFileSync(join(dir, 'latin1.test.yaml'), Buffer.concat([Buffer.from('runbooks: [runbooks.yaml]\ntests:\n  - name: caf'), Buffer.from([0xe9]), Buffer.from(`\n    incident: ${INC001}\n    expect: {action: AUTO}\n`)]));
    const r = await rectifyTest(dir, 'big.test.yaml', 'latin1.test.yaml');
    assert.deepEqual(r.err, [
      'big.test.yaml: cannot read the file: is larger than the 1 MiB a YAML file may be (1048588 bytes)',
      'latin1.test.yaml: cannot read the file: is not UTF-8 text: invalid bytes at line 3 (save the file as UTF-8)',
    ]);
    assert.deepEqual(r.out, ['0 test(s): 0 passed, 0 failed; some files could not be run']);
    assert.equal(r.code, 2);
  });

  it('a test file whose runbooks name a device (/dev/zero) is refused, not read: it ran until memory ran out', async () => {
    const dir = workdir({ 'zero.test.yaml': `runbooks: [/dev/zero]\ntests:\n  - name: a\n    incident: ${INC001}\n    expect: {action: manual}\n` });
    const r = await rectifyTest(dir, 'zero.test.yaml');
    assert.deepEqual(r.err, [`${relative(dir, '/dev/zero')}: cannot read the file: is not a regular file (a FIFO, a socket or a device)`]);
    assert.equal(r.code, 2);
  });

  it('a tag or a leading-zero number in a test file is refused at its YAML path; its tests do not run', async () => {
    const dir = workdir({
      'tagged.test.yaml': `runbooks: [runbooks.yaml]
tests:
  - name: tagged
    incident: {id: INC001, root_cause: !root CrashLoopBackOff, confidence: 0.95, service: api-server, context: {pod_name: api-server-abc123, namespace: production}}
    expect: {action: AUTO}
  - name: octal
    incident: {id: INC002, root_cause: CrashLoopBackOff, confidence: 0.95, service: api-server, context: {pod_name: api-server-abc123, namespace: production, code: 0123}}
    expect: {action: AUTO}
`,
    });
    const r = await rectifyTest(dir, 'tagged.test.yaml');
    assert.deepEqual(r.err, [
      'tagged.test.yaml:4: tests[0].incident.root_cause: YAML tag !root is not supported: rectify reads plain values (text, numbers, true/false, null, lists and maps); remove the tag',
      'tagged.test.yaml:7: tests[1].incident.context.code: 0123 has a leading zero: YAML 1.2 reads it as 123, YAML 1.1 as an octal number; write 123, or quote it for text',
    ]);
    assert.equal(r.code, 2);
  });

  it('a number in enrichment or expected params that does not read back as written is refused (1.10 was the value "1.1"); 4 stays', async () => {
    const dir = workdir({
      'numbers.test.yaml': `runbooks: [runbooks.yaml]
tests:
  - name: numbers
    incident: {root_cause: high_cpu, confidence: 0.75, service: worker, context: {deployment: worker, namespace: production}}
    enrichment: {replicas: 3, old_replicas: 3.0}
    expect:
      action: executed
      params: {deployment: worker, new_replicas: 4, version: 1.10}
`,
    });
    const r = await rectifyTest(dir, 'numbers.test.yaml');
    assert.deepEqual(r.err, [
      'numbers.test.yaml:5: tests[0].enrichment.old_replicas: 3.0 is read as the number 3, not as the text written; a value is text: quote it ("3.0")',
      'numbers.test.yaml:8: tests[0].expect.params.version: 1.10 is read as the number 1.1, not as the text written; a value is text: quote it ("1.10")',
    ]);
    assert.equal(r.code, 2);
  });

  it('runs every *.test.yaml in a folder, by name; no argument is a usage error', async () => {
    const dir = workdir({
      'tests/b.test.yaml': `runbooks: [../runbooks.yaml]\ntests:\n  - {name: b, incident: ${INC001}, expect: {action: executed}}\n`,
      'tests/a.tests.yml': `runbooks: [../runbooks.yaml]\ntests:\n  - {name: a, incident: {root_cause: nothing, service: s}, expect: {action: manual}}\n`,
      'tests/notes.yaml': 'not: a test file\n',
    });
    const r = await rectifyTest(dir, 'tests');
    assert.deepEqual(r.out, ['tests/a.tests.yml', '  PASS  a', 'tests/b.test.yaml', '  PASS  b', '2 test(s): 2 passed, 0 failed']);
    assert.equal(r.code, 0);
    const none = await rectifyTest(dir);
    assert.equal(none.code, 2);
    assert.deepEqual(none.err, ['usage: rectify test <tests.yaml|folder>…  (for example: rectify test runbooks/tests)']);
    // An option it does not know is refused, not dropped (a misspelt one would pass unnoticed).
    const flagged = await rectifyTest(dir, 'tests', '--verbose');
    assert.equal(flagged.code, 2);
    assert.deepEqual(flagged.err, ['rectify test: unknown option --verbose (usage: rectify test <tests.yaml|folder>…)']);
  });

  it('settings.executors lists only the optional executors: http and command, which rectify always has, are refused there; left out, they are still there', async () => {
    const dir = workdir({
      'rb/flush.yaml': `runbooks:
  flush-cache:
    risk: LOW
    triggers: [CacheStale]
    actions:
      - command: {argv: [/bin/echo, flushed, "{service}"], timeout_seconds: 5}
    rollback: none
    rollback_reason: nothing to undo
    post_checks: []
`,
      'listed.test.yaml': `runbooks: [rb]
settings: {executors: [kubernetes, prometheus, command, http]}
tests:
  - incident: {root_cause: CacheStale, service: web}
    expect: {action: blocked, event: EXECUTOR_UNAVAILABLE}
`,
      'left-out.test.yaml': `runbooks: [rb]
settings: {executors: [kubernetes]}
tests:
  - name: a command runbook runs on a rectify without Prometheus
    incident: {root_cause: CacheStale, service: web}
    expect: {action: executed, event: EXECUTING, runbook: flush-cache}
`,
    });
    const listed = await rectifyTest(dir, 'listed.test.yaml');
    assert.deepEqual(listed.err, [
      'listed.test.yaml:2: settings.executors[2]: rectify always has the command executor, so a test cannot leave it out: list only the optional ones (kubernetes, prometheus)',
      'listed.test.yaml:2: settings.executors[3]: rectify always has the http executor, so a test cannot leave it out: list only the optional ones (kubernetes, prometheus)',
    ]);
    assert.deepEqual(listed.out, ['0 test(s): 0 passed, 0 failed; some files could not be run']);
    assert.equal(listed.code, 2);
    const leftOut = await rectifyTest(dir, 'left-out.test.yaml');
    assert.deepEqual(leftOut.err, ['rb/flush.yaml:2: runbooks.flush-cache: warning: no post_checks: nothing verifies that the fix worked, so a failure is never rolled back; add a check (named, promql, http or kubernetes)']);
    assert.deepEqual(leftOut.out, ['left-out.test.yaml', '  PASS  a command runbook runs on a rectify without Prometheus', '1 test(s): 1 passed, 0 failed']);
    assert.equal(leftOut.code, 0);
  });

  it('with kubernetes, a test without enrichment decides as rectify whose cluster read gave nothing: the incident\'s own old_replicas is dropped, as live', async () => {
    const dir = workdir({
      'scale.test.yaml': `runbooks: [runbooks.yaml]
tests:
  - name: no enrichment
    incident: {id: INC002, root_cause: high_cpu, confidence: 0.75, service: worker, context: {deployment: worker, namespace: production, new_replicas: 5, old_replicas: 3}}
    expect: {action: blocked, event: PARAM_REFUSED, runbook: scale-up, reason: "no value for placeholder {old_replicas}: it is read from the cluster (Kubernetes enrichment), and none was read (an alert's own old_replicas is never used: it is the cluster's to say)"}
  - name: the cluster's count, not the incident's
    incident: {id: INC002, root_cause: high_cpu, confidence: 0.75, service: worker, context: {deployment: worker, namespace: production, new_replicas: 5, old_replicas: 3}}
    enrichment: {replicas: "7", old_replicas: "7"}
    expect: {action: executed, actions: [kubectl scale deployment worker --replicas=5 -n production], rollback: [kubectl scale deployment worker --replicas=7 -n production]}
  - name: an alert's old_replicas label is dropped too
    alert: {labels: {alertname: WorkerCPUHigh, root_cause: high_cpu, namespace: production, deployment: worker, new_replicas: "5", old_replicas: "3"}}
    expect: {action: blocked, event: PARAM_REFUSED, runbook: scale-up}
`,
    });
    const r = await rectifyTest(dir, 'scale.test.yaml');
    assert.deepEqual(r.err, seedWarnings('runbooks.yaml'));
    assert.deepEqual(r.out, [
      'scale.test.yaml',
      '  PASS  no enrichment',
      "  PASS  the cluster's count, not the incident's",
      "  PASS  an alert's old_replicas label is dropped too",
      '3 test(s): 3 passed, 0 failed',
    ]);
    assert.equal(r.code, 0);
  });

  // Regression: the refusal said the incident had no old_replicas ("not in the incident's
  // context or labels") when it had one, dropped as the cluster's, and did not say the
  // test gives the cluster's count under enrichment:.
  it("a test whose plan needs a count only the cluster says, and whose enrichment: gives none, is told the incident's is not used and to give it under enrichment:", async () => {
    const dir = workdir({
      'seed.test.yaml': `runbooks: [runbooks.yaml]
tests:
  - name: INC002
    incident: {id: INC002, root_cause: high_cpu, confidence: 0.75, service: worker, context: {deployment: worker, namespace: production, new_replicas: 5, old_replicas: 3}}
    expect: {action: executed, runbook: scale-up}
`,
      'count.yaml': `runbooks:
  note-count:
    risk: LOW
    triggers: [count_low]
    action: {command: {argv: [/bin/echo, "{old_replicas}"]}}
    post_checks: [{promql: {query: up, expect: "> 0"}}]
`,
      'nokube.test.yaml': `runbooks: [count.yaml]
settings: {executors: [prometheus]}
tests:
  - name: without kubernetes, an incident without the count
    incident: {root_cause: count_low, confidence: 0.9, service: worker, context: {}}
    expect: {action: executed}
`,
    });
    const r = await rectifyTest(dir, 'seed.test.yaml');
    assert.deepEqual(r.err, seedWarnings('runbooks.yaml'));
    assert.deepEqual(r.out, [
      'seed.test.yaml',
      '  FAIL  INC002  (seed.test.yaml:3 tests[0])',
      '        action:',
      '          expected "executed"',
      '          got      "blocked"',
      "        (decision: blocked PARAM_REFUSED, runbook scale-up: no value for placeholder {old_replicas}: it is read from the cluster (Kubernetes enrichment), and none was read (an alert's own old_replicas is never used: it is the cluster's to say))",
      `        (old_replicas is the cluster's count: rectify test takes it from the test's enrichment: (what the cluster answers), never from the incident, as rectify serve does; give it there: enrichment: {old_replicas: "3"})`,
      '1 test(s): 0 passed, 1 failed',
    ]);
    assert.equal(r.code, 1);
    // Without Kubernetes nothing reads the cluster and the incident's own count would be
    // taken: the reason claims no value dropped, and enrichment: (not read) is not offered.
    const nokube = await rectifyTest(dir, 'nokube.test.yaml');
    assert.deepEqual(nokube.out.filter((l) => l.includes('old_replicas')), [
      '        (decision: blocked PARAM_REFUSED, runbook note-count: no value for placeholder {old_replicas}: it is read from the cluster (Kubernetes enrichment), and none was read)',
    ]);
  });

  it("judges an owner the alert names beside the pod against the enrichment's owner, as serve judges the cluster's: same action, event and reason", async () => {
    // The reasons rectify serve gives, with the Kubernetes fake, for the same alerts and
    // the same owner read from the cluster (test/kubernetes/enrichment-match.test.ts).
    const refused = (k: string, given: string, pod: string, why: string): string =>
      `{action: blocked, event: PARAM_REFUSED, runbook: evict, reason: ${yamlQuote(`the alert's ${k} "${given}" ${why.replace('{pod}', `its pod "${pod}" in namespace "prod"`)}; nothing was acted on`)}}`;
    const notOwner = "the runbook acts on the pod, so the owner its values name (which its match: and guardrails read) must be the pod's";
    const notOwners = "the runbook acts on the pod, so the values describing its owner (which its match: and guardrails read) must be the cluster's";
    const dir = workdir({
      'evict.yaml': `runbooks:
  evict:
    risk: LOW
    triggers: [PodStuck]
    match: ['deployment!~"payments-.*"']
    params: [pod_name, namespace]
    action: kubectl delete pod {pod_name} -n {namespace}
    post_checks: [pod_becomes_ready]
`,
      'owner.test.yaml': `runbooks: [evict.yaml]
settings: {executors: [kubernetes]}
tests:
  - name: a deployment label that is not the pod's owner does not get past the exclusion
    alert: {labels: {alertname: PodStuck, namespace: prod, pod: payments-api-7d9f8-x2x4q, deployment: web}}
    enrichment: {pod_name: payments-api-7d9f8-x2x4q, deployment: payments-api}
    expect: ${refused('deployment', 'web', 'payments-api-7d9f8-x2x4q', `does not own {pod} (its owner, read from the cluster, is deployment "payments-api"): ${notOwner}`)}
  - name: the owner the enrichment gives is the label's
    alert: {labels: {alertname: PodStuck, namespace: prod, pod: web-7d9f8-aaaaa, deployment: web, workload_kind: Deployment, replicas: "3"}}
    enrichment: {pod_name: web-7d9f8-aaaaa, deployment: web, replicas: "3"}
    expect: {action: executed, event: EXECUTING, runbook: evict, actions: [kubectl delete pod web-7d9f8-aaaaa -n prod (eviction)]}
  - name: a workload_kind that is not the owner's
    alert: {labels: {alertname: PodStuck, namespace: prod, pod: web-7d9f8-aaaaa, workload_kind: StatefulSet}}
    enrichment: {pod_name: web-7d9f8-aaaaa, deployment: web, replicas: "3"}
    expect: ${refused('workload_kind', 'StatefulSet', 'web-7d9f8-aaaaa', `is not that of the workload owning {pod} (read from the cluster: Deployment "web"): ${notOwners}`)}
  - name: a replicas that is not the owner's
    alert: {labels: {alertname: PodStuck, namespace: prod, pod: web-7d9f8-aaaaa, deployment: web, replicas: "5"}}
    enrichment: {pod_name: web-7d9f8-aaaaa, deployment: web, replicas: "3"}
    expect: ${refused('replicas', '5', 'web-7d9f8-aaaaa', `is not that of the workload owning {pod} (read from the cluster: 3, of Deployment "web"): ${notOwners}`)}
  - name: an enrichment naming no owner is a pod no workload owns
    alert: {labels: {alertname: PodStuck, namespace: prod, pod: web-7d9f8-aaaaa, deployment: web}}
    enrichment: {pod_name: web-7d9f8-aaaaa}
    expect: ${refused('deployment', 'web', 'web-7d9f8-aaaaa', `does not own {pod} (it has no owning workload): ${notOwner}`)}
`,
    });
    const r = await rectifyTest(dir, 'owner.test.yaml');
    assert.deepEqual(r.err, []);
    assert.deepEqual(r.out, [
      'owner.test.yaml',
      "  PASS  a deployment label that is not the pod's owner does not get past the exclusion",
      "  PASS  the owner the enrichment gives is the label's",
      "  PASS  a workload_kind that is not the owner's",
      "  PASS  a replicas that is not the owner's",
      '  PASS  an enrichment naming no owner is a pod no workload owns',
      '5 test(s): 5 passed, 0 failed',
    ]);
    assert.equal(r.code, 0);
  });

  it('a file whose runbooks load no runbook, or that expects a runbook none of them has, is refused by name; no test runs', async () => {
    const dir = workdir({
      'empty/notes.txt': 'not a runbook\n',
      'tests/none.test.yaml': `runbooks: [../empty]
tests:
  - name: never in kube-system
    alert: {labels: {alertname: KubePodCrashLooping, reason: CrashLoopBackOff, namespace: kube-system, pod: coredns-1}}
    expect: {action: manual, event: NO_RUNBOOK, runbook: null}
`,
      'tests/typo.test.yaml': `runbooks: [../runbooks.yaml]
tests:
  - incident: ${INC001}
    expect: {action: executed, runbook: restart-pd}
  - incident: {root_cause: unknown_issue, service: auth}
    expect: {action: manual, runbook: null}
`,
    });
    const r = await rectifyTest(dir, 'tests/none.test.yaml', 'tests/typo.test.yaml');
    assert.deepEqual(r.err, [
      'tests/none.test.yaml: runbooks: loaded no runbook: "../empty" holds none; name the runbook files or folders to test, relative to this file',
      'tests/typo.test.yaml:4: tests[0].expect.runbook: unknown runbook "restart-pd": no runbook this file loads has that id (did you mean "restart-pod"?)',
    ]);
    assert.deepEqual(r.out, ['0 test(s): 0 passed, 0 failed; some files could not be run']);
    assert.equal(r.code, 2);
  });

  it('an unknown key under alert: is refused at its YAML path, with a suggestion, not dropped', async () => {
    const dir = workdir({
      'typo.test.yaml': `runbooks: [runbooks.yaml]
tests:
  - name: an uncertain alert goes to a human
    alert:
      labels: {alertname: KubePodCrashLooping, reason: CrashLoopBackOff, namespace: production, pod: api-1}
      anotations: {confidence: "0.3"}
    enrichment: {pod_name: api-1}
    expect: {action: manual}
`,
    });
    const r = await rectifyTest(dir, 'typo.test.yaml');
    assert.deepEqual(r.err, ['typo.test.yaml:6: tests[0].alert.anotations: unknown key (did you mean "annotations"?)']);
    assert.equal(r.code, 2);
  });

  it('a runbooks: entry that is not a runbook file is named as such, none of its content shown', async () => {
    const dir = workdir({
      'secret.ini': 'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n',
      'list.yaml': '- wJalrXUtnFEMI\n',
      'leak.test.yaml': `runbooks: [secret.ini, list.yaml]
tests:
  - incident: {root_cause: X, service: s}
    expect: {action: manual}
`,
    });
    const r = await rectifyTest(dir, 'leak.test.yaml');
    assert.deepEqual(r.err, [
      'secret.ini:1: expected a map with a top-level "runbooks:" key, got text: not a runbook file',
      'list.yaml:1: expected a map with a top-level "runbooks:" key, got a list: not a runbook file',
    ]);
    assert.equal(r.code, 2);
  });

  it("the README's example test file runs as shown", async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const start = readme.indexOf('# runbooks/tests/restart-pod.test.yaml');
    const example = readme.slice(start, readme.indexOf('```', start));
    const library = new URL('../../runbooks/', import.meta.url).pathname;
    const dir = workdir({ 'tests/example.test.yaml': example.replace('runbooks: [..]', `runbooks: [${JSON.stringify(library)}]`) });
    const r = await rectifyTest(dir, 'tests/example.test.yaml');
    assert.deepEqual(r.err, []);
    assert.deepEqual(r.out, ['tests/example.test.yaml', '  PASS  INC001 restarts the crash-looping pod', '  PASS  KubePodCrashLooping, enriched', '2 test(s): 2 passed, 0 failed']);
    assert.equal(r.code, 0);
  });
});
