import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService } from '../helpers/service.js';
import { cli } from './capture.js';
import { simulatedEnricher } from '../../src/replay/simulated.js';
import { reasonKey } from '../../src/replay/index.js';
import { ROOT } from '../runbooks/helpers.js';

const T0 = Date.UTC(2026, 10, 24, 3, 0, 0);
const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

interface Alert {
  labels: Record<string, string>;
  fingerprint?: string;
  startsAt?: string;
  status?: 'firing' | 'resolved';
  annotations?: Record<string, string>;
}
/** The refusal lines of stderr, without the runbook warnings printed before them. */
const refusalsIn = (err: string[]) => err.filter((l) => !l.includes(': warning: '));
const line = (at: number, alerts: Alert[]) => JSON.stringify({ at: iso(at), webhook: amWebhook(alerts) });
const crash = (i: number, service = 'api', at = T0 + i * 6 * MIN): Alert => ({
  labels: { alertname: 'KubePodCrashLooping', reason: 'CrashLoopBackOff', service, namespace: 'production', pod_name: `${service}-1` },
  fingerprint: `fp-${service}-${i}`,
  startsAt: iso(at),
});

describe('rectify replay', () => {
  let dir: string;
  let target: HttpTarget;
  let rbDir: string;
  const write = (name: string, lines: string[]) => {
    writeFileSync(join(dir, name), lines.join('\n') + '\n');
    return name;
  };
  // As a service given a cluster: replay takes the Kubernetes executor as there (the
  // service does not start without it), and neither reads the file nor reaches a cluster.
  let kubeconfig: string;
  const replay = (file: string, ...flags: string[]) => cli(['replay', file, '--runbooks', rbDir, '--kubeconfig', kubeconfig, ...flags], { cwd: dir });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rectify-replay-'));
    target = await startHttpTarget();
    rbDir = join(dir, 'runbooks');
    mkdirSync(rbDir);
    kubeconfig = join(dir, 'kubeconfig');
    // Real http actions at a real server: a replay must call none of them.
    writeFileSync(
      join(rbDir, 'runbooks.yaml'),
      `runbooks:
  restart-pod:
    risk: LOW
    triggers: [CrashLoopBackOff]
    min_confidence: 0.8
    max_per_hour: 3
    cooldown_minutes: 10
    blast_radius_limit: 1
    action:
      http: {method: POST, url: "${target.url}/restart/{namespace}/{pod_name}"}
    post_checks:
      - http: {url: "${target.url}/healthz/{pod_name}", expect_status: 200}
    rollback:
      http: {method: POST, url: "${target.url}/undo/{pod_name}"}
  rollback-deployment:
    risk: HIGH
    triggers: [error_rate_spike_after_deploy]
    max_per_hour: 1
    cooldown_minutes: 30
    action: kubectl rollout undo deployment {deployment} -n {namespace}
`,
    );
  });
  after(async () => {
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('20 CrashLoopBackOff alerts over 2 hours, max_per_hour 3 and a 10-minute cooldown: exact counts, nothing called', async () => {
    const file = write('crash.jsonl', Array.from({ length: 20 }, (_, i) => line(T0 + i * 6 * MIN, [crash(i)])));
    const r = await replay(file, '--json');
    assert.equal(r.code, 0, r.err.join('\n'));
    const rep = r.json();
    // Every 6 minutes: runs at 0, 12, 24 (6 and 18 are in the cooldown), then the hour is full
    // until 60; 60, 72, 84 run; the rest of the second hour is full again.
    assert.deepEqual(rep.executions, { 'restart-pod': 6 });
    assert.deepEqual(rep.executions_by_service, { api: 6 });
    assert.deepEqual(rep.blocked, { RATE_LIMITED: 14 });
    assert.deepEqual(rep.blocked_reasons, { 'RATE_LIMITED: Cooldown active': 2, 'RATE_LIMITED: Rate limit exceeded (3/hour)': 12 });
    assert.equal(rep.approvals, 0);
    assert.equal(rep.duplicates, 0);
    assert.equal(rep.incidents, 20);
    assert.equal(rep.alerts, 20);
    assert.deepEqual(rep.outcomes, { succeeded: 6 });
    assert.deepEqual(rep.decisions, { blocked: 14, executed: 6 });
    assert.deepEqual(rep.runbooks, {
      'restart-pod': { executions: 6, approvals: 0, dry_runs: 0, blocked: { RATE_LIMITED: 14 } },
      'rollback-deployment': { executions: 0, approvals: 0, dry_runs: 0, blocked: {} },
    });
    assert.equal(rep.from, '2026-11-24T03:00:00.000Z');
    assert.equal(rep.to, '2026-11-24T04:54:00.000Z');
    assert.deepEqual(rep.assumptions, {
      execution_time_ms: 0,
      outcome: 'success',
      guardrails: 'pass',
      executors: 'simulated',
      executor_availability: {
        command: { available: true, why: 'every rectify has it' },
        http: { available: true, why: 'every rectify has it' },
        kubernetes: { available: true, why: `a kubeconfig is given (${kubeconfig}): the service does not start without it; it is not read, nor the cluster reached` },
        prometheus: { available: false, why: 'no --prometheus-url: the service runs without it' },
      },
      cluster: { deployment: "the alert's deployment label, else its service", replicas: 2, new_replicas: 3 },
      approvals: 'never_answered',
      approval_ttl_ms: 3_600_000,
      pauses: 'none',
    });
    assert.equal(target.requests().length, 0);

    const human = await replay(file);
    assert.equal(human.code, 0);
    assert.equal(human.out[0], `replayed ${file}: 20 webhook(s), 20 alert(s), 2026-11-24T03:00:00Z to 2026-11-24T04:54:00Z (simulated; nothing was executed)`);
    assert.ok(human.out.some((l) => /^ {2}restart-pod\s+api\s+6$/.test(l)), human.out.join('\n'));
    assert.ok(human.out.some((l) => /^ {2}RATE_LIMITED\s+2\s+Cooldown active$/.test(l)));
    assert.ok(human.out.some((l) => /^ {2}RATE_LIMITED\s+12\s+Rate limit exceeded \(3\/hour\)$/.test(l)));
    assert.ok(human.out.includes('approvals asked: 0   duplicates: 0   resolved: 0   refused: 0'));
  });

  it('a second runbook version with a higher limit runs more: the JSON compares two versions', async () => {
    const v2 = join(dir, 'v2');
    mkdirSync(v2, { recursive: true });
    writeFileSync(
      join(v2, 'runbooks.yaml'),
      `runbooks:
  restart-pod:
    risk: LOW
    triggers: [CrashLoopBackOff]
    max_per_hour: 5
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/restart/{pod_name}"}
`,
    );
    const file = write('crash2.jsonl', Array.from({ length: 20 }, (_, i) => line(T0 + i * 6 * MIN, [crash(i)])));
    const r = await cli(['replay', file, '--runbooks', v2, '--json'], { cwd: dir });
    assert.equal(r.code, 0);
    // A sliding hour holds 10 alerts 6 minutes apart; 5 of each run: 0..24, then 60..84.
    assert.deepEqual(r.json().executions, { 'restart-pod': 10 });
    assert.deepEqual(r.json().blocked, { RATE_LIMITED: 10 });
  });

  it('duplicates: an Alertmanager HA pair delivers every occurrence twice; each is decided once', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 5; i++) {
      const at = T0 + i * 10 * MIN;
      lines.push(line(at, [crash(i, 'api', at)]));
      lines.push(line(at + 1000, [crash(i, 'api', at)]));
    }
    const r = await replay(write('dupes.jsonl', lines), '--json');
    assert.equal(r.code, 0);
    const rep = r.json();
    assert.equal(rep.alerts, 10);
    assert.equal(rep.duplicates, 5);
    assert.equal(rep.incidents, 5);
    // 0, 10 and 20 run (each just past the 10-minute cooldown); at 30 and 40 the hour is full.
    assert.deepEqual(rep.executions, { 'restart-pod': 3 });
    assert.deepEqual(rep.blocked, { RATE_LIMITED: 2 });
    assert.equal(target.requests().length, 0);
  });

  it('approvals asked for HIGH risk, unmatched alerts left to a person, resolved alerts counted', async () => {
    const spike = (i: number, at: number): Alert => ({
      labels: { alertname: 'error_rate_spike_after_deploy', service: 'checkout', deployment: 'checkout', namespace: 'production' },
      fingerprint: `spike-${i}`,
      startsAt: iso(at),
    });
    const lines = [
      line(T0, [spike(0, T0)]),
      line(T0 + 10 * MIN, [spike(1, T0 + 10 * MIN)]),
      line(T0 + 11 * MIN, [{ labels: { alertname: 'DiskFull', service: 'db' }, fingerprint: 'disk', startsAt: iso(T0 + 11 * MIN) }]),
      line(T0 + 12 * MIN, [{ ...spike(1, T0 + 10 * MIN), status: 'resolved' }]),
    ];
    const r = await replay(write('approvals.jsonl', lines), '--json');
    assert.equal(r.code, 0);
    const rep = r.json();
    // HIGH asks a person; approvals are not executions, so no limit is consumed. The
    // second spike asks for the very plan the first request (still pending) asks
    // for, so it joins that request: one request, two decisions.
    assert.equal(rep.approvals, 1);
    assert.deepEqual(rep.approvals_by_runbook, { 'rollback-deployment': 1 });
    assert.deepEqual(rep.executions, {});
    assert.deepEqual(rep.manual, { NO_RUNBOOK: 1 });
    assert.equal(rep.resolved, 1);
    assert.deepEqual(rep.decisions, { approval_required: 2, manual: 1, resolved: 1 });
  });

  // Regression: replay took every executor kind as there, so with --kubernetes off (or no
  // --prometheus-url) it counted runs that the service, with the same settings, blocks.
  it('decides with the executors the service would have with the same settings: --kubernetes off blocks the bundled restart-pod EXECUTOR_UNAVAILABLE, with the reason serve gives', async () => {
    const bundled = join(ROOT, 'runbooks');
    const pod: Alert = { labels: { alertname: 'KubePodCrashLooping', reason: 'CrashLoopBackOff', service: 'web', namespace: 'production', pod: 'web-1' }, fingerprint: 'ex-pod', startsAt: iso(T0) };
    const cpu: Alert = { labels: { alertname: 'high_cpu', service: 'api', namespace: 'production', deployment: 'api' }, fingerprint: 'ex-cpu', startsAt: iso(T0) };
    const file = write('executors.jsonl', [line(T0, [pod]), line(T0, [cpu])]);

    const off = await cli(['replay', file, '--runbooks', bundled, '--kubernetes', 'off', '--json'], { cwd: dir });
    assert.equal(off.code, 0, off.err.join('\n'));
    const rep = off.json();
    assert.deepEqual(rep.executions, {});
    assert.deepEqual(rep.blocked, { EXECUTOR_UNAVAILABLE: 2 });
    assert.deepEqual(rep.assumptions.executor_availability.kubernetes, { available: false, why: '--kubernetes off' });
    assert.deepEqual(rep.assumptions.executor_availability.prometheus, { available: false, why: 'no --prometheus-url: the service runs without it' });
    assert.equal(rep.assumptions.cluster, null);

    // The service, started with the same settings and runbooks, decides the same, in the same words.
    const runbooks = Object.fromEntries(readdirSync(bundled).filter((f) => f.endsWith('.yaml')).map((f) => [f, readFileSync(join(bundled, f), 'utf8')]));
    const svc = await startTestService({ runbooks, args: ['--kubernetes', 'off'] });
    const served: Record<string, number> = {};
    try {
      for (const alert of [pod, cpu]) {
        const res = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert]));
        assert.equal(res.status, 202, JSON.stringify(res.body));
        for (const d of res.body.results) {
          assert.equal(d.action, 'blocked', JSON.stringify(d));
          const key = reasonKey(d.event, d.reason);
          served[key] = (served[key] ?? 0) + 1;
        }
      }
    } finally {
      await svc.stop({ remove: true });
    }
    assert.deepEqual(rep.blocked_reasons, served);
    assert.deepEqual(Object.keys(served).sort(), [
      'EXECUTOR_UNAVAILABLE: runbook restart-pod needs the Kubernetes executor, which is turned off (--kubernetes off; set --kubernetes auto, in-cluster or kubeconfig to use it)',
      'EXECUTOR_UNAVAILABLE: runbook scale-up needs the Kubernetes executor, which is turned off (--kubernetes off; set --kubernetes auto, in-cluster or kubeconfig to use it) and a Prometheus to query, which is not configured (set --prometheus-url)',
    ]);

    const human = await cli(['replay', file, '--runbooks', bundled, '--kubernetes', 'off'], { cwd: dir });
    assert.ok(human.out.includes('assumed: executor kubernetes not available (a runbook needing it is blocked EXECUTOR_UNAVAILABLE): --kubernetes off'), human.out.join('\n'));
    assert.ok(human.out.includes('assumed: no value is read from a cluster (the service would have no Kubernetes executor)'));

    // Given a kubeconfig and a Prometheus (neither read nor reached), both run.
    const on = await cli(['replay', file, '--runbooks', bundled, '--kubeconfig', kubeconfig, '--prometheus-url', 'http://127.0.0.1:9', '--json'], { cwd: dir });
    assert.equal(on.code, 0, on.err.join('\n'));
    assert.deepEqual([on.json().executions, on.json().blocked], [{ 'restart-pod': 1, 'scale-up': 1 }, {}]);
    assert.deepEqual(on.json().assumptions.executor_availability.prometheus, { available: true, why: '--prometheus-url is set' });
  });

  it('--help lists only the exit codes replay has (0 and 2), none of the client commands\' service codes (3 no answer, 4 token, 5 waiting on a person, 6 outcome unknown)', async () => {
    const help = await cli(['replay', '--help']);
    assert.equal(help.code, 0);
    const exits = help.out.slice(help.out.indexOf('Exit codes:') + 1);
    assert.deepEqual(
      exits.filter((l) => /^ {2}\d {2}/.test(l)).map((l) => l.slice(0, 5)),
      ['  0  ', '  2  '],
    );
    assert.ok(exits[0]!.startsWith('  0  replayed'), exits[0]);
    assert.ok(exits[1]!.startsWith('  2  usage:'), exits[1]);
    // Each code it lists is one it returns: 0 for a stream replayed, 2 for a wrong flag and a file with no webhook.
    const file = write('help-exits.jsonl', [line(T0, [crash(0, 'api', T0)])]);
    assert.equal((await replay(file)).code, 0);
    assert.equal((await replay(file, '--outcome', 'maybe')).code, 2);
    assert.equal((await replay(write('help-empty.jsonl', ['# nothing']))).code, 2);
  });

  // Regression: --help and the README promised a 503 refusal past --max-pending, which a
  // replay, deciding one body at a time, cannot produce.
  // The README says how to record a stream (rectify keeps no copy of the bodies): its
  // recorder, run as shown, writes a file replay reads, each body as it came.
  it("the README's stream recorder writes what replay reads, each body kept as it came", async (t) => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('**Recording a stream.**'));
    assert.match(section, /^\*\*Recording a stream\.\*\* rectify keeps no copy of the bodies it receives/);
    assert.match(section, /`rectify audit export` streams its decisions/);
    const code = /```python\n([\s\S]*?)```/.exec(section)?.[1];
    assert.ok(code, 'the README shows the recorder');
    try {
      execFileSync('python3', ['--version']);
    } catch {
      t.skip('no python3 here');
      return;
    }
    // On a port of its own, said on stdout: the one thing changed.
    const serve = "http.server.HTTPServer(('0.0.0.0', 9099), Recorder).serve_forever()";
    assert.ok(code.includes(serve));
    const recDir = mkdtempSync(join(tmpdir(), 'rectify-recorder-'));
    writeFileSync(join(recDir, 'record.py'), code.replace(serve, "s = http.server.HTTPServer(('127.0.0.1', 0), Recorder)\nprint(s.server_address[1], flush=True)\ns.serve_forever()"));
    const child = spawn('python3', ['record.py'], { cwd: recDir, stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
      const url = `http://127.0.0.1:${chunk.toString().trim()}/`;
      const body = JSON.stringify(amWebhook([crash(0)]));
      const twice = JSON.stringify(amWebhook([crash(1)])).replace('"status":"firing"', '"status":"firing","status":"firing"');
      for (const b of [body, twice]) assert.equal((await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: b })).status, 200);
    } finally {
      child.kill();
    }
    const r = await replay(join(recDir, 'week.jsonl'), '--json');
    rmSync(recDir, { recursive: true, force: true });
    assert.equal(r.code, 0, r.err.join('\n'));
    const rep = r.json();
    assert.deepEqual([rep.lines, rep.executions, rep.refusals.map((x: { reason: string }) => x.reason.split(':')[0])], [2, { 'restart-pod': 1 }, ['body.status']]);
  });

  it('--max-pending refuses nothing in a replay, and --help says so: bodies are decided one at a time, never at once', async () => {
    const lines = Array.from({ length: 40 }, (_, i) => line(T0, Array.from({ length: 5 }, (_, k) => crash(i * 5 + k, `svc${i}-${k}`, T0))));
    const r = await replay(write('at-once.jsonl', lines), '--json', '--max-pending', '1');
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.deepEqual([r.json().refused, r.json().alerts], [0, 200]);
    const help = (await replay('--help')).out.join(' ').replace(/\s+/g, ' ');
    assert.match(help, /does not model deliveries arriving at once: it decides the bodies one at a time, so the 503 the service answers when its queue is full \(past --max-pending\) never occurs in a replay/);
    assert.doesNotMatch(help, /503 \(more than --max-pending/);
  });

  it('the human output prints every assumption --help says it prints', async () => {
    const file = write('assumed.jsonl', [line(T0, [crash(0, 'api', T0)])]);
    const r = await replay(file, '--approval-ttl', '30m', '--outcome', 'failure', '--execution-time', '2m', '--guardrails', 'fail');
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.deepEqual(r.out.slice(1, 6), [
      'assumed: executions fail after 2m, MEDIUM guardrail conditions fail',
      `assumed: executor kubernetes available: a kubeconfig is given (${kubeconfig}): the service does not start without it; it is not read, nor the cluster reached`,
      'assumed: executor prometheus not available (a runbook needing it is blocked EXECUTOR_UNAVAILABLE): no --prometheus-url: the service runs without it',
      "assumed: values the service would read from the cluster are made up: the deployment is the alert's deployment label, else its service; 2 replicas, scaling to 3",
      'assumed: approval requests are never answered (they expire after 30m); nobody pauses',
    ]);
    const help = await replay('--help');
    assert.match(help.out.join('\n'), /Assumptions \(printed with the result\):/);
    // --json carries the same assumptions, as values.
    const json = (await replay(file, '--json', '--approval-ttl', '30m')).json().assumptions;
    assert.deepEqual([json.approvals, json.approval_ttl_ms, json.pauses, json.cluster.replicas, json.cluster.new_replicas], ['never_answered', 1_800_000, 'none', 2, 3]);
  });

  it('--outcome failure: three failed runs trip the circuit; later alerts are blocked CIRCUIT_OPEN', async () => {
    const lines = Array.from({ length: 10 }, (_, i) => line(T0 + i * MIN, [crash(i, `svc${i}`, T0 + i * MIN)]));
    const r = await replay(write('failing.jsonl', lines), '--json', '--outcome', 'failure', '--circuit-recovery', '1h');
    assert.equal(r.code, 0, r.err.join('\n'));
    const rep = r.json();
    assert.deepEqual(rep.executions, { 'restart-pod': 3 });
    assert.deepEqual(rep.outcomes, { failed: 3 });
    assert.deepEqual(rep.circuit_trips, { 'restart-pod': 1 });
    assert.deepEqual(rep.blocked, { CIRCUIT_OPEN: 7 });
    assert.equal(target.requests().length, 0);
  });

  it('--execution-time: a run in progress holds the blast radius; at 0s it has ended before the next line', async () => {
    const lines = [line(T0, [crash(0, 'a', T0)]), line(T0, [crash(0, 'b', T0)])];
    const file = write('blast.jsonl', lines);
    const quick = await replay(file, '--json');
    assert.deepEqual(quick.json().executions_by_service, { a: 1, b: 1 });
    const slow = await replay(file, '--json', '--execution-time', '5m');
    assert.deepEqual(slow.json().executions_by_service, { a: 1 });
    assert.deepEqual(slow.json().blocked, { BLAST_LIMITED: 1 });
    assert.equal(slow.json().assumptions.execution_time_ms, 300_000);
  });

  it('--execution-time past the rate-limit rows kept: a run still under way holds off the next on its service, as serve', async () => {
    const file = write('overlap.jsonl', [0, 30, 62].map((m) => line(T0 + m * MIN, [crash(m, 'a', T0 + m * MIN)])));
    const r = await replay(file, '--json', '--execution-time', '2h');
    assert.equal(r.code, 0);
    assert.deepEqual(r.json().executions_by_service, { a: 1 });
    assert.deepEqual(r.json().blocked_reasons, { 'RATE_LIMITED: Cooldown active (the last run of restart-pod on a is still running)': 2 });
  });

  it('a bad stream names the file and line of every problem, exits 2 and replays nothing', async () => {
    const file = write('bad.jsonl', [
      line(T0, [crash(0)]),
      '{"at": "2026-11-24T03:05:00Z", "webhook": {"alerts": []}',
      '# a comment',
      '{"at": "yesterday", "webhook": {}}',
      JSON.stringify({ at: iso(T0 - MIN), webhok: amWebhook([crash(1)]) }),
      JSON.stringify({ at: '2026-11-31T03:00:00Z', webhook: amWebhook([crash(2)]) }),
    ]);
    const r = await replay(file, '--json');
    assert.equal(r.code, 2);
    assert.deepEqual(r.out, []);
    assert.equal(r.err.length, 7);
    assert.deepEqual(r.err, [
      `bad.jsonl:2:${'{"at": "2026-11-24T03:05:00Z", "webhook": {"alerts": []}'.length + 1}: not valid JSON: expected , or }; the line ends there`,
      'bad.jsonl:4: at: expected an RFC 3339 time such as 2026-11-24T03:00:00Z, got "yesterday"',
      'bad.jsonl:5: unknown key "webhok" (did you mean "webhook"?)',
      'bad.jsonl:5: at: 2026-11-24T02:59:00.000Z is earlier than line 1 (2026-11-24T03:00:00.000Z); the stream must be in time order',
      'bad.jsonl:5: webhook: missing (an Alertmanager webhook body)',
      'bad.jsonl:6: at: 2026-11-31 does not exist: November 2026 has 30 days',
      '6 problem(s) in bad.jsonl; nothing was replayed',
    ]);
    const missing = await replay('nope.jsonl');
    assert.equal(missing.code, 2);
    assert.deepEqual(missing.err, ['nope.jsonl: cannot read the file: ENOENT (file not found)']);
    const flags = await replay(file, '--outcome', 'maybe');
    assert.equal(flags.code, 2);
    assert.deepEqual(flags.err, ['--outcome: expected one of success, failure, got "maybe"']);
    const slip = await replay(file, '--execution-time', '30s1m');
    assert.equal(slip.code, 2);
    assert.deepEqual(slip.err, ['--execution-time: expected a duration such as 0s, 30s or 2m, got "30s1m" (each unit at most once, largest first; this adds up to 1m30s)']);
  });

  // Regression: the line was parsed trimmed and V8's message passed on: no column, and an
  // offset short by the spaces before the JSON.
  it('a line that is not JSON is named with its line and column, counted in the line as the file has it, in the service\'s words', async () => {
    const body = JSON.stringify(amWebhook([crash(0)]));
    const noComma = `{"at": "${iso(T0)}" "webhook": ${body}}`;
    const file = write('columns.jsonl', [
      `   ${noComma}`,
      `\t{"at": "${iso(T0)}", 'webhook': {}}`,
      `{"at": "${iso(T0)}", "webhook": ${body}} {}`,
      `{"at": "${iso(T0)}", "webhook": {"version": "4`,
    ]);
    const r = await replay(file);
    assert.equal(r.code, 2);
    assert.deepEqual(r.err, [
      `${file}:1:${3 + noComma.indexOf(' "webhook"') + 2}: not valid JSON: expected , or }; found "\\""`,
      `${file}:2:${1 + `{"at": "${iso(T0)}", `.length + 1}: not valid JSON: expected a property name in double quotes; found "'"`,
      `${file}:3:${`{"at": "${iso(T0)}", "webhook": ${body}} `.length + 1}: not valid JSON: expected the end of the line after the JSON document; found "{"`,
      `${file}:4:${`{"at": "${iso(T0)}", "webhook": {"version": "4`.length + 1}: not valid JSON: expected the string to be closed with "; the line ends there`,
      `4 problem(s) in ${file}; nothing was replayed`,
    ]);
    // The same locator as the service's 400 for a body that is not JSON.
    const svc = await startTestService();
    try {
      const res = await svc.app.inject({ method: 'POST', url: '/api/v1/webhooks/alertmanager', payload: noComma, headers: { 'content-type': 'application/json' } });
      assert.equal(res.statusCode, 400);
      assert.match(JSON.parse(res.body).error.message, new RegExp(`column ${noComma.indexOf(' "webhook"') + 2} .*: expected , or \\}; found "\\\\""`));
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a FIFO or a device is refused at once, never waited on or read until memory runs out; bytes not UTF-8 are named by line', async () => {
    // Nobody writes the FIFO: a read that waited on it would hang here for good.
    execFileSync('mkfifo', [join(dir, 'stream.fifo')]);
    for (const file of ['stream.fifo', '/dev/zero']) {
      const r = await replay(file);
      assert.equal(r.code, 2);
      assert.deepEqual(r.err, [`${file}: cannot read the file: is not a regular file (a FIFO, a socket or a device): save the stream to a file and replay that`]);
    }
    // Above 256 MiB (a sparse file: nothing is written, nor read) is refused before it is read.
    writeFileSync(join(dir, 'huge.jsonl'), '');
    truncateSync(join(dir, 'huge.jsonl'), 256 * 1024 * 1024 + 1);
    const huge = await replay('huge.jsonl');
    assert.deepEqual([huge.code, huge.err], [2, ['huge.jsonl: cannot read the file: is larger than the 256 MiB a replay stream may be (268435457 bytes)']]);
    writeFileSync(join(dir, 'latin1.jsonl'), Buffer.concat([Buffer.from('# ok\n# caf'), Buffer.from([0xe9]), Buffer.from('\n')]));
    const bad = await replay('latin1.jsonl');
    assert.equal(bad.code, 2);
    assert.deepEqual(bad.err, ['latin1.jsonl: cannot read the file: is not UTF-8 text: invalid bytes at line 2 (save the file as UTF-8)']);
  });

  it('a stream with no webhook (empty, or only comments) exits 2 rather than report that nothing would run', async () => {
    for (const [name, lines] of [['empty.jsonl', []], ['comments.jsonl', ['# exported 2026-11-24', '', '   ']]] as const) {
      const file = write(name, [...lines]);
      const r = await replay(file, '--json');
      assert.deepEqual(
        { code: r.code, out: r.out, err: r.err },
        { code: 2, out: [], err: [`${name}: no webhook to replay (the file is empty, or holds only blank lines and # comments); nothing was replayed`] },
      );
    }
  });

  it('a body the service would refuse (400) is counted as refused, with its line; an alert with no alertname is decided, as the service does', async () => {
    const file = write('refused.jsonl', [
      line(T0, [crash(0)]),
      line(T0 + MIN, [{ labels: { service: 'api', namespace: 'production' }, fingerprint: 'x' }]),
      JSON.stringify({ at: iso(T0 + 2 * MIN), webhook: { version: '4', alerts: [] } }),
    ]);
    const r = await replay(file, '--json');
    assert.equal(r.code, 0);
    const rep = r.json();
    assert.equal(rep.refused, 1);
    assert.deepEqual(rep.refusals, [{ line: 3, status: 400, reason: 'body.alerts: Too small: expected array to have >=1 items' }]);
    assert.equal(refusalsIn(r.err)[0], 'refused.jsonl:3: the service would refuse this webhook (400): body.alerts: Too small: expected array to have >=1 items');
    // No alertname, reason or root_cause: left to a person, not a refusal of its body.
    assert.equal(rep.alerts, 2);
    assert.deepEqual(rep.manual, { NO_RUNBOOK: 1 });
    assert.deepEqual(rep.executions, { 'restart-pod': 1 });
  });

  it('a refused body names a label key that is not plain quoted with escapes: its line feeds cannot print lines of their own', async () => {
    const forged = 'x\n\nExecutions\n  RUNBOOK      SERVICE  EXECUTIONS\n  restart-pod  api      1\nz';
    const file = write('forged.jsonl', [
      JSON.stringify({ at: iso(T0), webhook: { alerts: [{ status: 'firing', labels: { alertname: 'X', [forged]: 5 } }] } }),
      JSON.stringify({ at: iso(T0 + MIN), webhook: { alerts: [{ status: 'firing', labels: { alertname: 'X', 'app.kubernetes.io/name': 5 } }] } }),
    ]);
    const r = await replay(file, '--json');
    assert.equal(r.code, 0);
    const forgedPath = 'body.alerts.0.labels["x\\n\\nExecutions\\n  RUNBOOK      SERVICE  EXECUTIONS\\n  restart-pod  api      1\\nz"]';
    const dottedPath = 'body.alerts.0.labels["app.kubernetes.io/name"]';
    const message = 'Invalid input: expected string, received number';
    assert.deepEqual(r.json().refusals, [
      { line: 1, status: 400, reason: `${forgedPath}: ${message}` },
      { line: 2, status: 400, reason: `${dottedPath}: ${message}` },
    ]);
    assert.deepEqual(refusalsIn(r.err), [
      `forged.jsonl:1: the service would refuse this webhook (400): ${forgedPath}: ${message}`,
      `forged.jsonl:2: the service would refuse this webhook (400): ${dottedPath}: ${message}`,
    ]);
  });

  // Regression: a body not a webhook body was refused naming its field without the `body.`
  // the service names it with (`alerts.0.status` where the service says `body.alerts.0.status`).
  it('a body that is not a webhook body is refused naming its field as the service\'s 400 names it, from body.', async () => {
    const ok = amWebhook([crash(0)]);
    const bodies = [
      { ...ok, alerts: [{ ...ok.alerts[0], status: 'bogus' }] },
      { ...ok, alerts: [{ ...ok.alerts[0], labels: { ...ok.alerts[0]!.labels, service: 7 } }] },
      { ...ok, version: 4 },
    ];
    const file = write('paths.jsonl', bodies.map((b, i) => JSON.stringify({ at: iso(T0 + i * MIN), webhook: b })));
    const r = await replay(file, '--json');
    assert.equal(r.code, 0, r.err.join('\n'));
    const rep = r.json();
    const svc = await startTestService();
    try {
      const served = [];
      for (const [i, body] of bodies.entries()) {
        const res = await svc.post('/api/v1/webhooks/alertmanager', body);
        assert.equal(res.status, 400);
        const detail = res.body.error.details[0];
        assert.equal(res.body.error.message, `invalid body: ${detail.path}: ${detail.message}`);
        served.push({ line: i + 1, status: 400, reason: `${detail.path}: ${detail.message}` });
      }
      assert.deepEqual(rep.refusals, served);
      assert.deepEqual(served.map((x) => x.reason.slice(0, x.reason.indexOf(':'))), ['body.alerts.0.status', 'body.alerts.0.labels.service', 'body.version']);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('--body-limit: a body whose JSON is larger is refused (413) with its line, before it is read, as the route refuses it; the spacing of its line does not count', async () => {
    // Alerts of a real size: --body-limit is at least 1KiB.
    const long = (a: Alert): Alert => ({ ...a, annotations: { note: 'n'.repeat(700) } });
    const small = amWebhook([long(crash(0))]);
    const limit = Buffer.byteLength(JSON.stringify(small));
    const big = amWebhook([long(crash(1)), long(crash(2, 'web'))]);
    const bigBytes = Buffer.byteLength(JSON.stringify(big));
    const invalid = { version: '4', alerts: [], pad: 'x'.repeat(limit) };
    const invalidBytes = Buffer.byteLength(JSON.stringify(invalid));
    // The small body spaced out on its line: the line is longer than the limit, the body's JSON is not.
    const spaced = JSON.stringify({ at: iso(T0), webhook: small }, null, 1).replace(/\n/g, '');
    assert.ok(Buffer.byteLength(spaced) > limit + 100);
    const file = write('limit.jsonl', [spaced, JSON.stringify({ at: iso(T0 + MIN), webhook: big }), JSON.stringify({ at: iso(T0 + 2 * MIN), webhook: invalid })]);
    const r = await replay(file, '--json', '--body-limit', String(limit));
    assert.equal(r.code, 0, r.err.join('\n'));
    const rep = r.json();
    assert.equal(rep.refused, 2);
    // Too large and not a webhook body either: 413, the size is refused before the body is read.
    assert.deepEqual(rep.refusals, [
      { line: 2, status: 413, reason: `body too large (${bigBytes} bytes > --body-limit ${limit} bytes)` },
      { line: 3, status: 413, reason: `body too large (${invalidBytes} bytes > --body-limit ${limit} bytes)` },
    ]);
    assert.deepEqual(refusalsIn(r.err), [
      `limit.jsonl:2: the service would refuse this webhook (413): body too large (${bigBytes} bytes > --body-limit ${limit} bytes)`,
      `limit.jsonl:3: the service would refuse this webhook (413): body too large (${invalidBytes} bytes > --body-limit ${limit} bytes)`,
    ]);
    assert.equal(rep.alerts, 1);
    assert.deepEqual(rep.executions, { 'restart-pod': 1 });
    assert.deepEqual(rep.decisions, { executed: 1 });
    // At the default (5MiB) all three are read: the third is refused 400, as it is not a webhook body.
    const dflt = (await replay(file, '--json')).json();
    assert.deepEqual(
      dflt.refusals.map((f: { line: number; status: number }) => [f.line, f.status]),
      [[3, 400]],
    );
    assert.equal(dflt.alerts, 3);
  });

  it('--body-limit measures the body as Alertmanager (Go) posts it: <, > and & are 6 bytes, U+2028 and U+2029 6, so a body the service refuses 413 is refused here too', async () => {
    const body = amWebhook([crash(0)]);
    // A Prometheus graph link: its query has & and <; an annotation holds U+2028.
    body.alerts[0]!.generatorURL = 'http://prometheus.test/graph?g0.expr=up%7Bjob%3D%22api%22%7D<1&g0.tab=1&g0.range=1h';
    // A note brings it to a real size: --body-limit is at least 1KiB.
    body.alerts[0]!.annotations = { summary: 'api down\u2028see runbook', note: 'n'.repeat(700) };
    const stringified = Buffer.byteLength(JSON.stringify(body));
    // Go's encoding/json, compact: the same document with those characters escaped.
    const goEncoded = JSON.stringify(body).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    const goBytes = Buffer.byteLength(goEncoded);
    assert.equal(goBytes, stringified + 3 * 5 + 3);
    const limit = stringified + 10;
    const file = write('go-size.jsonl', [JSON.stringify({ at: iso(T0), webhook: body })]);
    const r = await replay(file, '--json', '--body-limit', String(limit));
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.deepEqual(r.json().refusals, [{ line: 1, status: 413, reason: `body too large (${goBytes} bytes > --body-limit ${limit} bytes)` }]);
    // At the Go size it is read and decided.
    const at = (await replay(file, '--json', '--body-limit', String(goBytes))).json();
    assert.deepEqual([at.refused, at.executions], [0, { 'restart-pod': 1 }]);

    // The service, given that body as Alertmanager sends it, refuses it by the same size.
    const svc = await startTestService({ args: ['--listen', '127.0.0.1:0', '--body-limit', `${limit}b`] });
    try {
      const url = await svc.service.listen();
      const post = (text: string) => fetch(`${url}/api/v1/webhooks/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
      assert.equal((await post(goEncoded)).status, 413);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  // Regression: the body's size was worked out by JSON.stringify, which recurses: a body
  // nested deeper than the stack, which the service takes, stopped replay with a RangeError.
  it('a webhook body nested 5,000 deep is measured and decided as the service takes it (202), not a crash', async () => {
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const body = JSON.stringify(amWebhook([crash(0)])).replace(/}$/, `,"x":${deep}}`);
    const bytes = Buffer.byteLength(body);
    const file = write('deep.jsonl', [`{"at":"${iso(T0)}","webhook":${body}}`]);
    const r = await replay(file, '--json');
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.deepEqual([r.json().refused, r.json().executions], [0, { 'restart-pod': 1 }]);
    // Its size is its compact JSON's, as for any body: one byte under it, refused 413.
    const under = (await replay(file, '--json', '--body-limit', String(bytes - 1))).json();
    assert.deepEqual(under.refusals, [{ line: 1, status: 413, reason: `body too large (${bytes} bytes > --body-limit ${bytes - 1} bytes)` }]);
    assert.equal((await replay(file, '--json', '--body-limit', String(bytes))).json().refused, 0);

    const svc = await startTestService();
    try {
      const res = await svc.app.inject({ method: 'POST', url: '/api/v1/webhooks/alertmanager', payload: body, headers: { 'content-type': 'application/json' } });
      assert.equal(res.statusCode, 202);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  // Regression: the stream's bodies were read with JSON.parse alone, so a body the
  // service's parser refuses (400) was decided as if the service had taken it.
  it('a body holding a "__proto__" or "constructor.prototype" key is refused 400, as the service\'s parser refuses it; a "constructor" label is not', async () => {
    const base = JSON.stringify(amWebhook([crash(0)]));
    const bodies = [
      base.replace(/^{/, '{"__proto__":{"x":1},'),
      base.replace('"labels":{', '"labels":{"__proto__":{"alertname":"X"},'),
      base.replace('"labels":{', '"annotations2":{"constructor":{"prototype":{"x":1}}},"labels":{'),
      base.replace('"labels":{', '"labels":{"constructor":"kubelet",'),
    ];
    const file = write('proto.jsonl', bodies.map((b, i) => `{"at":"${iso(T0 + i * 20 * MIN)}","webhook":${b}}`));
    const r = await replay(file, '--json');
    assert.equal(r.code, 0, r.err.join('\n'));
    const reason = 'body: holds a "__proto__" or "constructor.prototype" key, which the service\'s JSON parser refuses';
    assert.deepEqual(r.json().refusals, [1, 2, 3].map((l) => ({ line: l, status: 400, reason })));
    assert.deepEqual(refusalsIn(r.err), [1, 2, 3].map((l) => `proto.jsonl:${l}: the service would refuse this webhook (400): ${reason}`));
    assert.deepEqual([r.json().refused, r.json().alerts, r.json().executions], [3, 1, { 'restart-pod': 1 }]);

    const svc = await startTestService();
    try {
      const statuses = [];
      for (const payload of bodies) statuses.push((await svc.app.inject({ method: 'POST', url: '/api/v1/webhooks/alertmanager', payload, headers: { 'content-type': 'application/json' } })).statusCode);
      assert.deepEqual(statuses, [400, 400, 400, 202]);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  // Regression: JSON.parse keeps the last of a key given twice, so a body the service
  // takes with "namespace" twice read its last value, and a line with "at" twice its last time.
  it('a key given twice in a webhook body is refused 400 naming its path, as the service refuses it; "at" twice on a line is a problem of the file', async () => {
    const base = JSON.stringify(amWebhook([crash(0), crash(1)]));
    const twice = base.replace('"namespace":"production"', '"namespace":"kube-system","namespace":"production"');
    const escaped = base.replace('"status":"firing"', '"status":"resolved","st\\u0061tus":"firing"');
    const bodies = [base.replace(/"fp-api-[01]"/g, (m) => m.replace('fp-', 'ok-')), twice, escaped];
    const file = write('twice.jsonl', bodies.map((b, i) => `{"at":"${iso(T0 + i * 20 * MIN)}","webhook":${b}}`));
    const r = await replay(file, '--json');
    assert.equal(r.code, 0, r.err.join('\n'));
    const message = (key: string) => `the key "${key}" is given twice in one object: which value is meant cannot be told; send each key once`;
    assert.deepEqual(r.json().refusals, [
      { line: 2, status: 400, reason: `body.alerts.0.labels.namespace: ${message('namespace')}` },
      { line: 3, status: 400, reason: `body.status: ${message('status')}` },
    ]);
    assert.deepEqual([r.json().refused, r.json().alerts], [2, 2]);

    const svc = await startTestService();
    try {
      const answers = [];
      for (const payload of bodies) {
        const res = await svc.app.inject({ method: 'POST', url: '/api/v1/webhooks/alertmanager', payload, headers: { 'content-type': 'application/json' } });
        answers.push([res.statusCode, (JSON.parse(res.body) as { error?: { details: Array<{ path: string }> } }).error?.details[0]?.path]);
      }
      assert.deepEqual(answers, [[202, undefined], [400, 'body.alerts.0.labels.namespace'], [400, 'body.status']]);
    } finally {
      await svc.stop({ remove: true });
    }

    const atTwice = write('at-twice.jsonl', [`{"at":"${iso(T0)}","at":"${iso(T0 + MIN)}","webhook":${base}}`]);
    const bad = await replay(atTwice, '--json');
    assert.equal(bad.code, 2);
    assert.deepEqual(bad.err, [`at-twice.jsonl:1: at: ${message('at')}`, '1 problem(s) in at-twice.jsonl; nothing was replayed']);
  });

  // Regression: only the first key given twice anywhere on the line was looked at, so an
  // "at" given twice after a key given twice in the webhook was replayed (as a 400 refusal)
  // rather than named as a problem of the file.
  it('"at" twice on a line is a problem of the file even when its webhook body gives a key twice too', async () => {
    const message = (key: string) => `the key "${key}" is given twice in one object: which value is meant cannot be told; send each key once`;
    const body = JSON.stringify(amWebhook([crash(0)])).replace('"status":"firing"', '"status":"firing","status":"firing"');
    const file = write('at-twice-body-twice.jsonl', [
      `{"at":"${iso(T0)}","webhook":${body},"at":"${iso(T0 + MIN)}"}`,
      `{"webhook":${body},"\u0061t":"${iso(T0)}","at":"${iso(T0 + MIN)}"}`,
      `{"at":"${iso(T0)}","webhook":${body}}`,
    ]);
    const r = await replay(file, '--json');
    assert.equal(r.code, 2);
    assert.deepEqual(r.err, [`${file}:1: at: ${message('at')}`, `${file}:2: at: ${message('at')}`, `2 problem(s) in ${file}; nothing was replayed`]);
    const { repeatedTopLevelKey } = await import('../../src/replay/stream.js');
    assert.deepEqual(
      ['{"a":{"b":1,"b":2},"c":[{"a":1}],"a":3}', String.raw`{"a":"\\","b":"\\\"a","a":1}`, '["a","a"]', '{"a":{"a":1}}'].map(repeatedTopLevelKey),
      ['a', 'a', undefined, undefined],
    );
  });

  it('dedup keys past --dedup-retention are all forgotten, however many: 6,000 alerts sent again after it are decided again, none a duplicate', async () => {
    const alerts = Array.from({ length: 6000 }, (_, i) => ({ labels: { alertname: 'DiskFull', service: `s${i}` }, fingerprint: `disk-${i}`, startsAt: iso(T0) }));
    const file = write('retention.jsonl', [line(T0, alerts), line(T0 + 2 * 60 * MIN, alerts)]);
    const r = await replay(file, '--json', '--dedup-retention', '1h');
    assert.equal(r.code, 0, r.err.join('\n'));
    const rep = r.json();
    assert.equal(rep.alerts, 12000);
    assert.equal(rep.duplicates, 0);
    assert.deepEqual(rep.manual, { NO_RUNBOOK: 12000 });
    // Within the retention they are duplicates, every one.
    const within = (await replay(write('within.jsonl', [line(T0, alerts), line(T0 + 30 * MIN, alerts)]), '--json', '--dedup-retention', '1h')).json();
    assert.equal(within.duplicates, 6000);
  });

  it('a notification Alertmanager cut short (truncatedAlerts) is counted with the alerts it left out, as the service records it; its re-delivery is not counted again', async () => {
    const cut = (at: number, alerts: Alert[], left: number) => JSON.stringify({ at: iso(at), webhook: { ...amWebhook(alerts), truncatedAlerts: left } });
    const file = write('truncated.jsonl', [
      cut(T0, [crash(0)], 7),
      // The HA pair's copy: every alert a duplicate, recorded with the first.
      cut(T0 + 1000, [crash(0)], 7),
      cut(T0 + 20 * MIN, [crash(1, 'web')], 3),
      line(T0 + 21 * MIN, [crash(2, 'db')]),
    ]);
    const r = await replay(file, '--json');
    assert.equal(r.code, 0, r.err.join('\n'));
    const rep = r.json();
    assert.deepEqual([rep.truncated_deliveries, rep.truncated_alerts, rep.duplicates, rep.alerts], [2, 10, 1, 4]);
    const human = await replay(file);
    assert.equal(human.out.at(-1), 'alerts Alertmanager left out (its webhook max_alerts), never seen: 10 in 2 notification(s)');
    const none = (await replay(write('whole.jsonl', [line(T0, [crash(0)])]), '--json')).json();
    assert.deepEqual([none.truncated_deliveries, none.truncated_alerts], [0, 0]);
  });

  it('runbook warnings are printed to stderr, as the service logs them: a file not loaded is named, not replayed silently as no runbook', async () => {
    const warnDir = join(dir, 'warn-runbooks');
    mkdirSync(warnDir);
    writeFileSync(join(warnDir, 'ok.yaml'), `runbooks:\n  restart:\n    risk: LOW\n    triggers: [CrashLoopBackOff]\n    action:\n      http: {method: POST, url: "${target.url}/r"}\n`);
    writeFileSync(join(warnDir, 'Disk.YAML'), `runbooks:\n  disk:\n    risk: LOW\n    triggers: [DiskFull]\n    action:\n      http: {method: POST, url: "${target.url}/d"}\n`);
    const file = write('warned.jsonl', [line(T0, [{ labels: { alertname: 'DiskFull', service: 'db' }, fingerprint: 'd1', startsAt: iso(T0) }])]);
    const r = await cli(['replay', file, '--runbooks', warnDir, '--json'], { cwd: dir });
    assert.equal(r.code, 0);
    assert.ok(r.err.includes(`${join(warnDir, 'Disk.YAML')}: warning: not loaded: only names ending in .yaml or .yml, in lowercase, are runbook files; rename it to Disk.yaml`), r.err.join('\n'));
    // The reference checks too (ok.yaml has no post_checks), each naming its file and line; nothing else is on stderr.
    assert.ok(r.err.includes(`${join(warnDir, 'ok.yaml')}:2: runbooks.restart: warning: no post_checks: nothing verifies that the fix worked, so a failure is never rolled back; add a check (named, promql, http or kubernetes)`), r.err.join('\n'));
    assert.ok(r.err.every((l) => l.includes(': warning: ')));
    assert.deepEqual(r.json().manual, { NO_RUNBOOK: 1 });
  });

  // Regression: a folder that loads no runbook was replayed silently (every alert
  // NO_RUNBOOK, exit 0), where the service warns it remediates nothing and lint fails.
  it('a runbooks folder that loads no runbook is warned of on stderr, in lint\'s words; the alerts are replayed as no runbook', async () => {
    const empty = join(dir, 'no-runbooks');
    mkdirSync(empty);
    writeFileSync(join(empty, 'restart-pod.yaml.tmpl'), 'runbooks: {}\n');
    const file = write('nothing-loaded.jsonl', [line(T0, [crash(0)])]);
    const r = await cli(['replay', file, '--runbooks', empty, '--json'], { cwd: dir });
    assert.equal(r.code, 0);
    assert.deepEqual(r.err, [
      `${empty}: warning: no runbook in the folder (no .yaml/.yml file in it holds one): rectify serve would remediate nothing, and refuses a reload onto it while runbooks are in force`,
    ]);
    assert.deepEqual(r.json().manual, { NO_RUNBOOK: 1 });
    // The same words as lint's, which fails on it.
    const lint = await cli(['lint', empty]);
    assert.deepEqual([lint.code, lint.err[0]], [1, r.err[0]]);
  });

  it('an alert whose confidence cannot be read is left to a person (LOW_CONFIDENCE), as the service does; the rest of its body is decided', async () => {
    const bad = (i: number, confidence: string): Alert => ({ ...crash(i, `bad${i}`), labels: { ...crash(i, `bad${i}`).labels, confidence } });
    const file = write('unreadable.jsonl', [line(T0, [bad(0, 'high'), crash(0), bad(1, '0x1'), bad(2, '1e0')])]);
    const r = await replay(file, '--json');
    assert.equal(r.code, 0);
    assert.deepEqual(refusalsIn(r.err), []);
    const rep = r.json();
    assert.equal(rep.refused, 0);
    assert.equal(rep.alerts, 4);
    assert.deepEqual(rep.manual, { LOW_CONFIDENCE: 3 });
    assert.deepEqual(rep.executions, { 'restart-pod': 1 });
    assert.deepEqual(rep.executions_by_service, { api: 1 });
  });

  it('an alert naming a pod that no Kubernetes name can be is refused as the service refuses it (PARAM_REFUSED), not replayed as a run', async () => {
    const load = (service: string, pod: string, fp: string): Alert => ({ labels: { alertname: 'HighLoad', service, namespace: 'production', pod }, fingerprint: fp, startsAt: iso(T0) });
    const file = write('names.jsonl', [line(T0, [load('web', 'web-1', 'n1'), load('shop', 'API-Server-x', 'n2'), load('cart', '../cart', 'n3')])]);
    // Its plan needs the enricher: new_replicas is read from the cluster.
    const scaleDir = join(dir, 'scale-runbooks');
    mkdirSync(scaleDir);
    writeFileSync(
      join(scaleDir, 'scale.yaml'),
      `runbooks:
  scale-up:
    risk: LOW
    triggers: [HighLoad]
    cooldown_minutes: 0
    action: kubectl scale deployment {deployment} --replicas={new_replicas} -n {namespace}
`,
    );
    const r = await cli(['replay', file, '--runbooks', scaleDir, '--kubeconfig', kubeconfig, '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.err.join('\n'));
    const rep = r.json();
    assert.deepEqual(rep.executions, { 'scale-up': 1 });
    assert.deepEqual(rep.executions_by_service, { web: 1 });
    assert.deepEqual(rep.blocked, { PARAM_REFUSED: 2 });
  });

  // Regression: the simulated cluster always scaled to 3, ignoring max_replicas: an alert
  // lowering the cap to 2 was replayed as refused (3 above the cap of 2), where the
  // service's enricher gives 2 within that cap and runs.
  it('works the simulated new_replicas out against the cap as the service does: an alert\'s max_replicas lowers it', async () => {
    const load = (service: string, max: string, fp: string): Alert => ({
      labels: { alertname: 'HighLoad', service, namespace: 'production', deployment: service, max_replicas: max },
      fingerprint: fp,
      startsAt: iso(T0),
    });
    const file = write('capped.jsonl', [line(T0, [load('web', '2', 'c1')])]);
    const capDir = join(dir, 'cap-runbooks');
    mkdirSync(capDir);
    writeFileSync(
      join(capDir, 'scale.yaml'),
      `runbooks:
  scale-up:
    risk: LOW
    triggers: [HighLoad]
    cooldown_minutes: 0
    action: kubectl scale deployment {deployment} --replicas={new_replicas} -n {namespace}
    rollback: kubectl scale deployment {deployment} --replicas={old_replicas} -n {namespace}
`,
    );
    const r = await cli(['replay', file, '--runbooks', capDir, '--kubeconfig', kubeconfig, '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.err.join('\n'));
    const rep = r.json();
    assert.deepEqual([rep.executions, rep.blocked], [{ 'scale-up': 1 }, {}]);
    const enrich = async (values: Record<string, string>, maxReplicas?: number) =>
      ((await simulatedEnricher.enrich({ namespace: 'production', deployment: 'web', ...values }, AbortSignal.timeout(1000), maxReplicas === undefined ? {} : { maxReplicas })) as Record<string, string>).new_replicas;
    assert.deepEqual([await enrich({}), await enrich({ max_replicas: '2' }), await enrich({}, 2), await enrich({ max_replicas: '50' }, 20)], ['3', '2', '2', '3']);
  });

  it('an alert whose pod and pod_name name different pods is refused as the service refuses it, for a runbook acting on the pod', async () => {
    const crashing = (pod: string, podName: string, fp: string): Alert => ({
      labels: { alertname: 'PodCrash', service: 'web', namespace: 'production', pod, pod_name: podName },
      fingerprint: fp,
      startsAt: iso(T0),
    });
    const file = write('two-pods.jsonl', [line(T0, [crashing('web-1', 'payments-api-1', 'tp1'), crashing('web-2', 'web-2', 'tp2')])]);
    const podDir = join(dir, 'pod-runbooks');
    mkdirSync(podDir);
    writeFileSync(
      join(podDir, 'pod.yaml'),
      `runbooks:
  kill-pod-name:
    risk: LOW
    triggers: [PodCrash]
    match: ['deployment!~"payments-.*"']
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/kill/{pod_name}"}
`,
    );
    const r = await cli(['replay', file, '--runbooks', podDir, '--kubeconfig', kubeconfig, '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.err.join('\n'));
    const rep = r.json();
    assert.deepEqual(rep.executions, { 'kill-pod-name': 1 });
    assert.deepEqual(rep.blocked, { PARAM_REFUSED: 1 });
    assert.equal(target.requests().length, 0);
  });
});

describe('replay: a body the engine refuses', () => {
  it('is a refusal with the status the route answers (503 overloaded), not a crash; anything else is thrown', async () => {
    const { acceptOrRefuse } = await import('../../src/replay/index.js');
    const { RectifyError } = await import('../../src/domain/index.js');
    const overloaded = 'more than 5 decisions would be waiting to be prepared (Kubernetes reads, Prometheus guardrail queries; --max-pending 5): 3 wait now and this request brings 40';
    assert.deepEqual(
      await acceptOrRefuse(() => Promise.reject(new RectifyError('OVERLOADED', overloaded))),
      { ok: false, status: 503, reason: overloaded },
    );
    assert.deepEqual(await acceptOrRefuse(() => Promise.resolve(['decided'])), { ok: true, results: ['decided'] });
    await assert.rejects(
      acceptOrRefuse(() => Promise.reject(new TypeError('a fault of rectify'))),
      (err: Error) => err instanceof TypeError && err.message === 'a fault of rectify',
    );
  });
});

describe('replay: blocked reasons grouped whatever time they have left', () => {
  it('a plain cooldown, a Kubernetes target\'s cooldown and an open circuit are one reason each, however long they wait', async () => {
    const { reasonKey } = await import('../../src/replay/index.js');
    assert.equal(reasonKey('RATE_LIMITED', 'Cooldown active (212s remaining)'), 'RATE_LIMITED: Cooldown active');
    const target = (n: number) => `Cooldown active on deployment prod/web (${n}s remaining; it counts the runs for every service)`;
    assert.equal(reasonKey('RATE_LIMITED', target(212)), reasonKey('RATE_LIMITED', target(12)));
    assert.equal(reasonKey('RATE_LIMITED', target(12)), 'RATE_LIMITED: Cooldown active on deployment prod/web (Ns remaining; it counts the runs for every service)');
    const circuit = (n: number) => `Circuit OPEN (too many failures); trial allowed in ${n}s`;
    assert.equal(reasonKey('CIRCUIT_OPEN', circuit(300)), 'CIRCUIT_OPEN: Circuit OPEN (too many failures); trial allowed in Ns');
    assert.equal(reasonKey('CIRCUIT_OPEN', circuit(300)), reasonKey('CIRCUIT_OPEN', circuit(7)));
  });
});
