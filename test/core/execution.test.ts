import assert from 'node:assert/strict';
import { chmodSync, writeFileSync, readFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sequence, startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService } from '../helpers/service.js';

const rb = (base: string, body: string) => `runbooks:
  fix:
    risk: LOW
    triggers: [broken]
    min_confidence: 0.5
    max_per_hour: 100
    cooldown_minutes: 0
${body}`;

const broken = (context: Record<string, string> = {}) => ({ root_cause: 'broken', service: 'shop', confidence: 1, context });

const KUBE_RUNBOOK = `runbooks:
  restart-pod:
    risk: LOW
    triggers: [CrashLoopBackOff]
    min_confidence: 0.8
    action: kubectl delete pod {pod_name} -n {namespace}
`;

describe('executions: verify, roll back, refuse', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
  });
  after(async () => target.close());

  it('a failing pre-check aborts before any action (PRE_CHECK_FAILED), without counting against the breaker', async () => {
    target.reset();
    target.route('GET', '/precheck', { status: 409 });
    const svc = await startTestService({
      runbooks: rb(target.url, `    pre_checks:\n      - http: {url: "${target.url}/precheck", timeout_seconds: 1, interval_seconds: 1}\n    action:\n      http: {method: POST, url: "${target.url}/act"}\n`),
    });
    const r = await svc.post('/api/v1/incidents?wait=true', broken());
    assert.equal(r.body.action, 'aborted');
    assert.equal(r.body.event, 'PRE_CHECK_FAILED');
    assert.equal(r.body.success, false);
    assert.equal(target.calls('/act'), 0);
    const e = await svc.get(`/api/v1/executions/${r.body.execution_id}`);
    assert.equal(e.body.state, 'aborted');
    assert.equal(e.body.steps[0].phase, 'pre_check');
    assert.equal(e.body.steps[0].ok, false);
    assert.equal((await svc.get('/api/v1/runbooks/fix')).body.circuit.failures, 0);
    await svc.stop({ remove: true });
  });

  it('post-checks are polled until they pass', async () => {
    target.reset();
    target.route('POST', '/act', { status: 202 });
    target.route('GET', '/healthy', sequence([{ status: 503 }, { status: 503 }, { status: 200 }]));
    const svc = await startTestService({
      runbooks: rb(target.url, `    action:\n      http: {method: POST, url: "${target.url}/act", expect_status: [200, 299]}\n    post_checks:\n      - http: {url: "${target.url}/healthy", timeout_seconds: 10, interval_seconds: 0.2}\n`),
    });
    const r = await svc.post('/api/v1/incidents?wait=true', broken());
    assert.equal(r.body.action, 'executed');
    assert.equal(r.body.success, true);
    assert.equal(target.calls('/healthy'), 3);
    const e = await svc.get(`/api/v1/executions/${r.body.execution_id}`);
    assert.deepEqual(e.body.steps.map((s: any) => [s.phase, s.ok]), [['action', true], ['post_check', true]]);
    assert.equal(e.body.state, 'succeeded');
    await svc.stop({ remove: true });
  });

  /** Answers 503 until `ms` after its first request, then 200. */
  const healthyAfter = (ms: number) => {
    let first: number | undefined;
    return () => {
      first ??= Date.now();
      return { status: Date.now() - first >= ms ? 200 : 503 };
    };
  };

  // Regression (the black-box probe): timeout_seconds 4 with interval_seconds 5 and a
  // target healthy 1 s after its first hit: the check ran once, at 0 s, the run failed
  // "expected status 200, got 503 after 1 attempt" and the fix was rolled back. The
  // last attempt is made at the timeout. At a tenth of the scale.
  it('a post-check whose timeout is shorter than its interval is tried again at its timeout: a fix that worked is not rolled back', async () => {
    target.reset();
    target.route('POST', '/act', { status: 200 });
    target.route('POST', '/undo', { status: 200 });
    target.route('GET', '/flip', healthyAfter(100));
    const svc = await startTestService({
      runbooks: rb(
        target.url,
        `    action:\n      http: {method: POST, url: "${target.url}/act"}\n    post_checks:\n      - http: {url: "${target.url}/flip", timeout_seconds: 0.4, interval_seconds: 0.5}\n    rollback:\n      http: {method: POST, url: "${target.url}/undo"}\n`,
      ),
    });
    const r = await svc.post('/api/v1/incidents?wait=true', broken());
    assert.deepEqual([r.body.action, r.body.success, r.body.rolled_back], ['executed', true, false], r.body.reason);
    assert.equal(target.calls('/undo'), 0);
    const [a, b] = target.requests('/flip').map((q) => q.at);
    assert.equal(target.calls('/flip'), 2);
    assert.ok(b! - a! >= 390 && b! - a! < 600, `second attempt ${b! - a!}ms after the first`);
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual(e.steps.map((s: any) => [s.phase, s.ok, s.detail]), [
      ['action', true, `POST ${target.url}/act → 200`],
      ['post_check', true, `GET ${target.url}/flip → 200`],
    ]);

    // One that never turns healthy fails at its timeout, after those two attempts, and is rolled back.
    target.reset();
    target.route('GET', '/flip', { status: 503 });
    const failed = await svc.post('/api/v1/incidents?wait=true', broken());
    assert.deepEqual([failed.body.success, failed.body.rolled_back], [false, true]);
    assert.equal(failed.body.reason, `verification failed: http GET ${target.url}/flip: GET ${target.url}/flip: expected status 200, got 503 after 2 attempts`);
    await svc.stop({ remove: true });
  });

  it('a pre-check whose timeout is shorter than its interval is tried again at its timeout before the run is aborted', async () => {
    target.reset();
    target.route('POST', '/act', { status: 200 });
    target.route('GET', '/ready', healthyAfter(100));
    const svc = await startTestService({
      runbooks: rb(target.url, `    pre_checks:\n      - http: {url: "${target.url}/ready", timeout_seconds: 0.4, interval_seconds: 0.5}\n    action:\n      http: {method: POST, url: "${target.url}/act"}\n`),
    });
    const r = await svc.post('/api/v1/incidents?wait=true', broken());
    assert.deepEqual([r.body.action, r.body.success], ['executed', true], r.body.reason);
    assert.equal(target.calls('/ready'), 2);
    assert.equal(target.calls('/act', 'POST'), 1);
    await svc.stop({ remove: true });
  });

  it('failed verification runs the rollback (ROLLED_BACK) and records FAILED', async () => {
    target.reset();
    target.route('POST', '/scale', { status: 200 });
    target.route('GET', '/healthy', { status: 500 });
    const svc = await startTestService({
      runbooks: rb(
        target.url,
        `    action:\n      http: {method: POST, url: "${target.url}/scale", body: {replicas: "{new_replicas}"}}\n    post_checks:\n      - http: {url: "${target.url}/healthy", timeout_seconds: 1, interval_seconds: 0.2}\n    rollback:\n      http: {method: POST, url: "${target.url}/scale", body: {replicas: "{old_replicas}"}}\n`,
      ),
    });
    const r = await svc.post('/api/v1/incidents?wait=true', broken({ new_replicas: '5', old_replicas: '3' }));
    assert.equal(r.body.action, 'executed');
    assert.equal(r.body.success, false);
    assert.equal(r.body.rolled_back, true);
    assert.deepEqual(target.requests('/scale', 'POST').map((q) => q.json()), [{ replicas: '5' }, { replicas: '3' }]);
    const events = (await svc.get(`/api/v1/audit?execution_id=${r.body.execution_id}`)).body.events.map((e: any) => `${e.event} ${e.details.phase ?? ''}`.trim()).reverse();
    assert.deepEqual(events, [
      'EXECUTING',
      'STEP_STARTED action',
      'STEP_FINISHED action',
      'STEP_STARTED post_check',
      'STEP_FINISHED post_check',
      'STEP_STARTED rollback',
      'STEP_FINISHED rollback',
      'ROLLED_BACK',
      'FAILED',
    ]);
    assert.equal((await svc.get('/api/v1/runbooks/fix')).body.circuit.failures, 1);
    await svc.stop({ remove: true });
  });

  it('every step is audited, checks as actions are (STEP_STARTED, STEP_FINISHED with the phase and what it found), and the counts agree', async () => {
    target.reset();
    target.route('GET', '/ready', { status: 200 });
    target.route('POST', '/act', { status: 200 });
    target.route('GET', '/healthy', { status: 500 });
    target.route('POST', '/undo', { status: 200 });
    const svc = await startTestService({
      runbooks: rb(
        target.url,
        `    pre_checks:
      - http: {url: "${target.url}/ready", timeout_seconds: 1, interval_seconds: 0.2}
    action:
      http: {method: POST, url: "${target.url}/act"}
    post_checks:
      - http: {url: "${target.url}/healthy", timeout_seconds: 1, interval_seconds: 0.2}
    rollback:
      http: {method: POST, url: "${target.url}/undo"}
`,
      ),
    });
    const failed = await svc.post('/api/v1/incidents?wait=true', broken());
    assert.deepEqual([failed.body.success, failed.body.rolled_back], [false, true]);
    const steps = async (id: string) => {
      const view = (await svc.get(`/api/v1/executions/${id}`)).body.steps;
      const rows = (await svc.get(`/api/v1/audit?execution_id=${id}`)).body.events.reverse();
      const started = rows.filter((e: any) => e.event === 'STEP_STARTED').map((e: any) => [e.details.phase, e.details.index, e.details.summary]);
      const finished = rows.filter((e: any) => e.event === 'STEP_FINISHED');
      // The audit log holds what the execution view shows, step for step.
      assert.deepEqual(started, view.map((s: any) => [s.phase, s.index, s.summary]));
      assert.deepEqual(finished.map((e: any) => [e.details.phase, e.details.index, e.details.summary, e.details.ok, e.details.detail]), view.map((s: any) => [s.phase, s.index, s.summary, s.ok, s.detail]));
      return { view, rows, finished };
    };
    const f = await steps(failed.body.execution_id);
    assert.deepEqual(f.view.map((s: any) => [s.phase, s.ok]), [['pre_check', true], ['action', true], ['post_check', false], ['rollback', true]]);
    const post = f.finished.find((e: any) => e.details.phase === 'post_check');
    assert.deepEqual([post.details.summary, post.details.ok, post.details.detail, post.details.attempts > 1], [`http GET ${target.url}/healthy`, false, f.view[2].detail, true]);
    assert.equal(post.actor, 'rectify');

    // A run that succeeds: SUCCESS counts the steps the log holds.
    target.route('GET', '/healthy', { status: 200 });
    const ok = await svc.post('/api/v1/incidents?wait=true', broken());
    assert.equal(ok.body.success, true);
    const s = await steps(ok.body.execution_id);
    assert.deepEqual(s.view.map((x: any) => x.phase), ['pre_check', 'action', 'post_check']);
    const success = s.rows.find((e: any) => e.event === 'SUCCESS');
    assert.deepEqual(success.details, { steps: s.finished.length });
    assert.equal(s.finished.length, 3);
    await svc.stop({ remove: true });
  });

  it('a rollback that fails is told as ROLLBACK_FAILED with its detail, and the run needs a human', async () => {
    target.reset();
    target.route('POST', '/scale', { status: 200 });
    target.route('GET', '/healthy', { status: 500 });
    target.route('POST', '/undo', { status: 500 });
    target.route('POST', '/hook', { status: 204 });
    const svc = await startTestService({
      runbooks: rb(
        target.url,
        `    action:\n      http: {method: POST, url: "${target.url}/scale"}\n    post_checks:\n      - http: {url: "${target.url}/healthy", timeout_seconds: 1, interval_seconds: 0.2}\n    rollback:\n      http: {method: POST, url: "${target.url}/undo"}\n`,
      ),
      args: ['--notify-webhook', `${target.url}/hook`],
    });
    const r = await svc.post('/api/v1/incidents?wait=true', broken());
    assert.deepEqual([r.body.action, r.body.success, r.body.rolled_back], ['executed', false, false]);
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    const check = e.steps.find((s: any) => s.phase === 'post_check');
    const failure = `verification failed: http GET ${target.url}/healthy: ${check.detail}`;
    const rollbackDetail = `POST ${target.url}/undo → 500, expected 200-299`;
    assert.equal(r.body.reason, `${failure}; rollback failed: ${rollbackDetail}`);
    assert.deepEqual([e.state, e.outcome, e.rolled_back, e.needs_human], ['failed', r.body.reason, false, true]);
    assert.equal(target.calls('/undo'), 1);
    await svc.service.drainNotifications();
    const told = target.requests('/hook', 'POST').map((q) => q.json() as any);
    // Left half undone: the receiver is told a person must check, as the execution view says.
    const toldReason = `${r.body.reason}; the rollback did not undo what the run changed: a person must check`;
    assert.deepEqual(
      told.map((t) => [t.event, t.outcome, t.reason, t.execution_id, t.needs_human]),
      [['ROLLBACK_FAILED', 'failed, rollback failed', toldReason, r.body.execution_id, true]],
    );
    const audit = (await svc.get(`/api/v1/audit?execution_id=${r.body.execution_id}`)).body.events.reverse();
    assert.deepEqual(
      audit.map((a: any) => a.event),
      ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'STEP_STARTED', 'STEP_FINISHED', 'STEP_STARTED', 'STEP_FINISHED', 'ROLLBACK_FAILED', 'FAILED', 'NOTIFIED'],
    );
    // The ROLLBACK_FAILED row records the notification that told it, by the id the receiver got.
    const { notification_id, told: recorded, ...details } = audit[7].details;
    assert.deepEqual(details, { reason: failure, detail: rollbackDetail, step: 1, of: 1, not_run: [] });
    assert.equal(notification_id, told[0].notification_id);
    assert.deepEqual(recorded, { to: [svc.service.receivers[0]], outcome: 'failed, rollback failed', reason: toldReason, service: 'shop', approval_id: null, needs_human: true });
    assert.deepEqual(audit[8].details, { reason: failure, rolled_back: false, rollback: 'failed' });
    assert.equal((await svc.get('/api/v1/runbooks/fix')).body.circuit.failures, 1);
    await svc.stop({ remove: true });
  });

  it('a rollback step that fails names itself and the steps after it that never ran, in the outcome, the row and the notification', async () => {
    target.reset();
    target.route('POST', '/act', { status: 200 });
    target.route('GET', '/healthy', { status: 500 });
    target.route('POST', '/undo1', { status: 200 });
    target.route('POST', '/undo2', { status: 500 });
    target.route('POST', '/undo3', { status: 200 });
    target.route('POST', '/undo4', { status: 200 });
    target.route('POST', '/hook', { status: 204 });
    const undo = (n: number) => `      - http: {method: POST, url: "${target.url}/undo${n}"}\n`;
    const svc = await startTestService({
      runbooks: rb(
        target.url,
        `    action:\n      http: {method: POST, url: "${target.url}/act"}\n    post_checks:\n      - http: {url: "${target.url}/healthy", timeout_seconds: 1, interval_seconds: 0.2}\n    rollback:\n${undo(1)}${undo(2)}${undo(3)}${undo(4)}`,
      ),
      args: ['--notify-webhook', `${target.url}/hook`],
    });
    const r = await svc.post('/api/v1/incidents?wait=true', broken());
    assert.deepEqual([r.body.action, r.body.success, r.body.rolled_back], ['executed', false, false]);
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    const check = e.steps.find((s: any) => s.phase === 'post_check');
    const failure = `verification failed: http GET ${target.url}/healthy: ${check.detail}`;
    const rollbackDetail = `POST ${target.url}/undo2 → 500, expected 200-299`;
    assert.equal(r.body.reason, `${failure}; rollback step 2 of 4 failed, steps 3, 4 not run: ${rollbackDetail}`);
    assert.deepEqual([e.state, e.outcome, e.needs_human], ['failed', r.body.reason, true]);
    assert.deepEqual([1, 2, 3, 4].map((n) => target.calls(`/undo${n}`)), [1, 1, 0, 0]);
    await svc.service.drainNotifications();
    const told = target.requests('/hook', 'POST').map((q) => q.json() as any);
    const toldReason = `${r.body.reason}; the rollback did not undo what the run changed: a person must check`;
    assert.deepEqual(told.map((t) => [t.event, t.outcome, t.reason]), [['ROLLBACK_FAILED', 'failed, rollback failed', toldReason]]);
    const row = (await svc.get(`/api/v1/audit?execution_id=${r.body.execution_id}&event=ROLLBACK_FAILED`)).body.events;
    assert.equal(row.length, 1);
    const { notification_id: _id, told: _told, ...details } = row[0].details;
    assert.deepEqual(details, { reason: failure, detail: rollbackDetail, step: 2, of: 4, not_run: [3, 4] });

    // The last step failing leaves none not run.
    target.route('POST', '/undo2', { status: 200 });
    target.route('POST', '/undo4', { status: 500 });
    const last = await svc.post('/api/v1/incidents?wait=true', broken());
    const lastCheck = (await svc.get(`/api/v1/executions/${last.body.execution_id}`)).body.steps.find((s: any) => s.phase === 'post_check');
    assert.equal(
      last.body.reason,
      `verification failed: http GET ${target.url}/healthy: ${lastCheck.detail}; rollback step 4 of 4 failed: POST ${target.url}/undo4 → 500, expected 200-299`,
    );
    const lastRow = (await svc.get(`/api/v1/audit?execution_id=${last.body.execution_id}&event=ROLLBACK_FAILED`)).body.events[0].details;
    assert.deepEqual([lastRow.step, lastRow.of, lastRow.not_run], [4, 4, []]);
    await svc.stop({ remove: true });
  });

  it('a failed action stops the remaining actions and rolls back; told as no person\'s to check', async () => {
    target.reset();
    target.route('POST', '/one', { status: 500 });
    target.route('POST', '/two', { status: 200 });
    target.route('POST', '/undo', { status: 200 });
    target.route('POST', '/hook', { status: 204 });
    const svc = await startTestService({
      runbooks: rb(target.url, `    actions:\n      - http: {method: POST, url: "${target.url}/one"}\n      - http: {method: POST, url: "${target.url}/two"}\n    rollback:\n      http: {method: POST, url: "${target.url}/undo"}\n`),
      args: ['--notify-webhook', `${target.url}/hook`],
    });
    const r = await svc.post('/api/v1/incidents?wait=true', broken());
    assert.equal(r.body.success, false);
    assert.equal(r.body.rolled_back, true);
    assert.equal(target.calls('/one'), 1);
    assert.equal(target.calls('/two'), 0);
    assert.equal(target.calls('/undo'), 1);
    assert.match(r.body.reason, /^action 1 failed: POST .*\/one → 500/);
    await svc.service.drainNotifications();
    const told = target.requests('/hook', 'POST').map((q) => q.json() as any);
    assert.deepEqual(told.map((t) => [t.event, t.outcome, t.reason, t.needs_human]), [['ROLLED_BACK', 'failed, rolled back', r.body.reason, false]]);
    assert.equal((await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body.needs_human, false);
    await svc.stop({ remove: true });
  });

  // Regression: a program killed at its deadline was reported as an ordinary failure,
  // though it may have done part of its work (a script half applied): with no rollback
  // after it, nothing rectify does afterwards can tell what it left, as for a write that
  // got no answer, so a person must check.
  describe('a command killed at its deadline', () => {
    const run = async (body: string) => {
      target.reset();
      target.route('POST', '/undo', { status: 200 });
      target.route('POST', '/hook', { status: 204 });
      const svc = await startTestService({ runbooks: rb(target.url, body), args: ['--notify-webhook', `${target.url}/hook`], realClock: true });
      try {
        const r = await svc.post('/api/v1/incidents?wait=true', broken());
        assert.equal(r.body.action, 'executed', JSON.stringify(r.body));
        const id = r.body.execution_id as string;
        const e = (await svc.get(`/api/v1/executions/${id}`)).body;
        const incident = (await svc.get(`/api/v1/incidents/${r.body.incident_id}`)).body;
        const failed = (await svc.get(`/api/v1/audit?execution_id=${id}&event=FAILED`)).body.events;
        // The audit log answers newest first.
        const finished = (await svc.get(`/api/v1/audit?execution_id=${id}&event=STEP_FINISHED`)).body.events.reverse();
        assert.equal(failed.length, 1);
        await svc.service.drainNotifications();
        const told = target.requests('/hook', 'POST').map((q) => q.json() as any);
        // The FAILED row records the notification that told the run's end (unless a ROLLED_BACK row told it).
        const { notification_id, told: recorded, ...details } = failed[0].details;
        assert.equal(notification_id, told.find((t: any) => t.event === 'FAILED')?.notification_id);
        assert.equal(recorded === undefined, notification_id === undefined);
        return { r, e, incident, failed: details, finished: finished.map((f: any) => [f.details.phase, f.details.ok, f.details.unconfirmed, f.details.detail]), told, undos: target.calls('/undo') };
      } finally {
        await svc.stop({ remove: true });
      }
    };

    it('with no rollback: unconfirmed, the run fails with needs_human true, and the pager is told a person must check', async () => {
      const { r, e, incident, failed, finished, told } = await run('    action:\n      command: {argv: [/bin/sleep, "30"], timeout_seconds: 1}\n');
      const detail = 'timed out after 1s (killed; the program may have done part of its work)';
      const failure = `action 1 failed: ${detail}`;
      assert.deepEqual([r.body.success, r.body.rolled_back, r.body.reason], [false, false, failure]);
      assert.deepEqual(
        e.steps.map((s: any) => [s.phase, s.ok, s.detail, s.unconfirmed ?? false, s.unchanged ?? false]),
        [['action', false, detail, true, false]],
      );
      assert.deepEqual(finished, [['action', false, true, detail]]);
      assert.deepEqual(failed, { reason: failure, rolled_back: false, needs_human: true });
      assert.deepEqual([e.state, e.outcome, e.rolled_back, e.needs_human], ['failed', failure, false, true]);
      assert.equal(incident.execution.needs_human, true);
      assert.deepEqual(
        told.map((t: any) => [t.event, t.outcome, t.needs_human, t.reason]),
        [['FAILED', 'failed', true, `${failure}; a program was killed at its deadline and may have done part of its work, and no rollback ran after it: a person must check`]],
      );
    });

    it('with a rollback: the rollback runs once and the run is rolled back, needs_human false', async () => {
      const { e, failed, finished, told, undos } = await run(`    action:\n      command: {argv: [/bin/sleep, "30"], timeout_seconds: 1}\n    rollback:\n      http: {method: POST, url: "${target.url}/undo"}\n`);
      assert.equal(undos, 1);
      assert.deepEqual(
        finished.map((f: unknown[]) => f.slice(0, 3)),
        [
          ['action', false, true],
          ['rollback', true, undefined],
        ],
      );
      assert.deepEqual([failed.rolled_back, failed.needs_human], [true, undefined]);
      assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['failed', true, false]);
      assert.deepEqual(told.map((t: any) => [t.event, t.outcome, t.needs_human, t.reason]), [['ROLLED_BACK', 'failed, rolled back', false, e.outcome]]);
    });

    // Regression: a program that exited 0 but left a process running (`daemon &`), which
    // rectify then killed, was an ordinary failure: that process was stopped part way
    // through whatever it was doing, so with no rollback a person must check too.
    describe('a command that left a process running', () => {
      let dir: string;
      let script: string;
      before(() => {
        dir = mkdtempSync(join(tmpdir(), 'rectify-bg-'));
        script = join(dir, 'bg.sh');
        writeFileSync(script, '#!/bin/sh\n/bin/sleep 30 &\necho started\nexit 0\n');
        chmodSync(script, 0o755);
      });
      after(() => rmSync(dir, { recursive: true, force: true }));

      it('with no rollback: unconfirmed, the run fails with needs_human true, and the pager is told a person must check', async () => {
        const { r, e, incident, failed, finished, told } = await run(`    action:\n      command: {argv: ["${script}"], timeout_seconds: 5}\n`);
        const detail = 'exit 0; left processes behind (killed)';
        const failure = `action 1 failed: ${detail}`;
        assert.deepEqual([r.body.success, r.body.rolled_back, r.body.reason], [false, false, failure]);
        assert.deepEqual(
          e.steps.map((s: any) => [s.phase, s.ok, s.detail, s.unconfirmed ?? false, s.unchanged ?? false]),
          [['action', false, detail, true, false]],
        );
        assert.deepEqual(finished, [['action', false, true, detail]]);
        assert.deepEqual(failed, { reason: failure, rolled_back: false, needs_human: true });
        assert.deepEqual([e.state, e.outcome, e.rolled_back, e.needs_human], ['failed', failure, false, true]);
        assert.equal(incident.execution.needs_human, true);
        assert.deepEqual(
          told.map((t: any) => [t.event, t.outcome, t.needs_human, t.reason]),
          [['FAILED', 'failed', true, `${failure}; a process the program left running was killed, or may still run, and no rollback ran after it: a person must check`]],
        );
      });

      it('with a rollback: the rollback runs once and the run is rolled back, needs_human false', async () => {
        const { e, failed, finished, told, undos } = await run(`    action:\n      command: {argv: ["${script}"], timeout_seconds: 5}\n    rollback:\n      http: {method: POST, url: "${target.url}/undo"}\n`);
        assert.equal(undos, 1);
        assert.deepEqual(
          finished.map((f: unknown[]) => f.slice(0, 3)),
          [
            ['action', false, true],
            ['rollback', true, undefined],
          ],
        );
        assert.deepEqual([failed.rolled_back, failed.needs_human], [true, undefined]);
        assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['failed', true, false]);
        assert.deepEqual(told.map((t: any) => [t.event, t.outcome, t.needs_human, t.reason]), [['ROLLED_BACK', 'failed, rolled back', false, e.outcome]]);
      });
    });

    it('a command that exits 1 by itself is an ordinary failure: not unconfirmed, needs_human false', async () => {
      const { e, incident, failed, finished, told } = await run('    action:\n      command: {argv: [/bin/false], timeout_seconds: 5}\n');
      const failure = 'action 1 failed: exit 1';
      assert.deepEqual(finished, [['action', false, undefined, 'exit 1']]);
      assert.deepEqual(failed, { reason: failure, rolled_back: false });
      assert.deepEqual([e.state, e.outcome, e.rolled_back, e.needs_human], ['failed', failure, false, false]);
      assert.equal(incident.execution.needs_human, false);
      assert.deepEqual(told.map((t: any) => [t.event, t.outcome, t.needs_human, t.reason]), [['FAILED', 'failed', false, failure]]);
    });
  });

  it('an action that certainly changed nothing (not sent) fails the run without its rollback, and says so', async () => {
    target.reset();
    target.route('POST', '/undo', { status: 200 });
    const svc = await startTestService({
      runbooks: rb(
        target.url,
        `    action:\n      http: {method: POST, url: "${target.url}/act", headers: {Authorization: "Bearer \${env:RECTIFY_TEST_UNSET_TOKEN}"}}\n    rollback:\n      http: {method: POST, url: "${target.url}/undo"}\n`,
      ),
    });
    const r = await svc.post('/api/v1/incidents?wait=true', broken());
    assert.deepEqual([r.body.action, r.body.success, r.body.rolled_back], ['executed', false, false]);
    const failure = `action 1 failed: POST ${target.url}/act not sent: header Authorization: secret \${env:RECTIFY_TEST_UNSET_TOKEN} is not set`;
    assert.equal(r.body.reason, `${failure}; nothing was changed: no rollback`);
    assert.equal(target.requests().length, 0, 'neither the action nor its rollback reached the target');
    const events = (await svc.get(`/api/v1/audit?execution_id=${r.body.execution_id}`)).body.events.reverse();
    assert.deepEqual(events.map((e: any) => e.event), ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'FAILED']);
    assert.deepEqual(events.at(-1).details, { reason: failure, rolled_back: false, rollback: 'nothing was changed: no rollback' });
    assert.equal((await svc.get('/api/v1/runbooks/fix')).body.circuit.failures, 1);
    await svc.stop({ remove: true });
  });

  // Regression: a request refused at the connection (or to a host that does not
  // resolve) never left rectify, yet its rollback ran: the target got an "undo" of a
  // change nobody made, and the run was reported rolled back.
  it('an action whose connection is refused fails without its rollback (nothing was sent), and still counts against the breaker', async () => {
    target.reset();
    target.route('POST', '/undo/a', { status: 200 });
    target.route('POST', '/hook', { status: 200 });
    const closed = await startHttpTarget();
    await closed.close();
    const svc = await startTestService({
      runbooks: rb(target.url, `    action:\n      http: {method: POST, url: "${closed.url}/x/{svc}"}\n    rollback:\n      http: {method: POST, url: "${target.url}/undo/{svc}"}\n`),
      args: ['--notify-webhook', `${target.url}/hook`],
    });
    const r = await svc.post('/api/v1/incidents?wait=true', broken({ svc: 'a' }));
    const failure = `action 1 failed: POST ${closed.url}/x/a not sent: connection refused`;
    assert.deepEqual([r.body.action, r.body.success, r.body.rolled_back, r.body.reason], ['executed', false, false, `${failure}; nothing was changed: no rollback`]);
    assert.equal(target.calls('/undo/a'), 0, 'no rollback reached the target');
    await svc.service.drainNotifications();
    const events = (await svc.get(`/api/v1/audit?execution_id=${r.body.execution_id}`)).body.events.reverse();
    assert.deepEqual(events.map((e: any) => e.event), ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'FAILED', 'NOTIFIED']);
    assert.deepEqual(target.requests('/hook', 'POST').map((q) => (q.json() as any).outcome), ['failed']);
    // The target is broken: that is what the breaker counts.
    assert.equal((await svc.get('/api/v1/runbooks/fix')).body.circuit.failures, 1);
    await svc.stop({ remove: true });
  });

  // Regression: a GET action that failed (a 500) ran the rollback, though lint counts
  // only other methods as changes: a failed read changed nothing.
  it('a failed GET action fails the run without its rollback', async () => {
    target.reset();
    target.route('GET', '/state', { status: 500 });
    target.route('POST', '/undo', { status: 200 });
    const svc = await startTestService({
      runbooks: rb(target.url, `    action:\n      http: {method: GET, url: "${target.url}/state"}\n    rollback:\n      http: {method: POST, url: "${target.url}/undo"}\n`),
    });
    const r = await svc.post('/api/v1/incidents?wait=true', broken());
    assert.deepEqual([r.body.success, r.body.rolled_back], [false, false]);
    assert.equal(r.body.reason, `action 1 failed: GET ${target.url}/state → 500, expected 200-299; nothing was changed: no rollback`);
    assert.equal(target.calls('/undo'), 0);
    await svc.stop({ remove: true });
  });

  it('unsafe label values are refused before any step, audited, and reach no URL or program', async () => {
    target.reset();
    const svc = await startTestService({
      runbooks: rb(target.url, `    action:\n      http: {method: POST, url: "${target.url}/pods/{pod}/restart"}\n`),
    });
    const tricks = ['../../admin', 'a/b', 'x%2F..', 'a b', '$(reboot)', 'p;rm -rf /', 'ünïcödé', '.', ''];
    for (const pod of tricks) {
      const r = await svc.post('/api/v1/incidents?wait=true', broken({ pod }));
      assert.equal(r.body.action, 'blocked', pod);
      assert.equal(r.body.event, 'PARAM_REFUSED', pod);
      assert.equal(r.body.execution_id, null);
    }
    assert.equal(target.requests().length, 0);
    const refused = (await svc.get('/api/v1/audit?event=PARAM_REFUSED&limit=100')).body.events;
    assert.equal(refused.length, tricks.length);
    // The Alertmanager path too: a label with a path trick.
    const am = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([{ labels: { alertname: 'broken', service: 'shop', pod: '../../etc' } }]));
    assert.equal(am.body.results[0].event, 'PARAM_REFUSED');
    assert.match(am.body.results[0].reason, /\{pod\}/);
    assert.equal(target.requests().length, 0);
    await svc.stop({ remove: true });
  });

  it('command actions run an argv list with no shell: metacharacters stay literal', async () => {
    target.reset();
    const svc0 = await startTestService({ runbooks: rb(target.url, '    action:\n      http: {method: POST, url: "http://127.0.0.1:9/x"}\n') });
    const script = join(svc0.dir, 'record.sh');
    const outFile = join(svc0.dir, 'argv.txt');
    await svc0.stop();
    writeFileSync(script, `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a" >> ${outFile}; done\n`);
    chmodSync(script, 0o755);
    const svc = await startTestService({
      runbooks: rb(target.url, `    action:\n      command: {argv: ["${script}", "restart", "{unit}"], timeout_seconds: 5}\n`),
    });
    const ok = await svc.post('/api/v1/incidents?wait=true', broken({ unit: 'nginx.service' }));
    assert.equal(ok.body.success, true);
    assert.equal(readFileSync(outFile, 'utf8'), 'restart\nnginx.service\n');
    const bad = await svc.post('/api/v1/incidents?wait=true', broken({ unit: 'x;touch /tmp/pwned' }));
    assert.equal(bad.body.event, 'PARAM_REFUSED');
    const opt = await svc.post('/api/v1/incidents?wait=true', broken({ unit: '--force' }));
    assert.equal(opt.body.event, 'PARAM_REFUSED', 'a value that looks like an option is refused');
    assert.equal(readFileSync(outFile, 'utf8'), 'restart\nnginx.service\n');
    assert.equal(existsSync('/tmp/pwned'), false);
    await svc.stop({ remove: true });
  });

  it('a URL or a remote path in a command argument is refused (PARAM_REFUSED), whether a value holds it or makes it with the runbook\'s text or another value: the program never runs, so the alert chooses no file or host', async () => {
    target.reset();
    const svc0 = await startTestService({ runbooks: rb(target.url, '    action:\n      http: {method: POST, url: "http://127.0.0.1:9/x"}\n') });
    const script = join(svc0.dir, 'record.sh');
    const outFile = join(svc0.dir, 'argv.txt');
    await svc0.stop();
    writeFileSync(script, `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a" >> ${outFile}; done\n`);
    chmodSync(script, 0o755);
    const svc = await startTestService({
      runbooks: rb(target.url, `    action:\n      command: {argv: ["${script}", "{source}", "--out={source}", "{base}/data", "{a}{b}"], timeout_seconds: 5}\n`),
    });
    const tail = ': an alert must not choose the file or host a program reads; write the scheme and host in the runbook';
    const urlForm = 'a URL or a remote path ("scheme:/", "host:/")';
    const plain = { source: 'db-1.internal:5432', base: 'srv', a: 'eu', b: '/jobs' };
    const cases: Array<[Record<string, string>, string]> = [];
    for (const source of ['file:///etc/passwd', 'FILE:/etc/passwd', `${target.url}/x`, 'evil.example:/x', 'user@evil.example:/x', '10.0.0.1:/etc/shadow', 'root@10.0.0.1:/x', '2130706433:/x']) {
      cases.push([{ source }, `placeholder {source} in action 1: value ${JSON.stringify(source)} makes argv[1] ${JSON.stringify(source)} ${urlForm}${tail}`]);
    }
    cases.push([{ source: 'git@evil.example:repo' }, `placeholder {source} in action 1: value "git@evil.example:repo" makes argv[1] "git@evil.example:repo" a remote path ("user@host:", as scp, rsync and git read it)${tail}`]);
    cases.push([{ source: 'evil.example::module' }, `placeholder {source} in action 1: value "evil.example::module" makes argv[1] "evil.example::module" an rsync daemon address ("host::module")${tail}`]);
    // No value holds a URL; the argument it makes does.
    cases.push([{ base: 'evil.example:' }, `placeholder {base} in action 1: value "evil.example:" makes argv[3] "evil.example:/data" ${urlForm}${tail}`]);
    cases.push([{ base: 'file:' }, `placeholder {base} in action 1: value "file:" makes argv[3] "file:/data" ${urlForm}${tail}`]);
    cases.push([{ a: 'evil.example:', b: '/srv/repo' }, `placeholder {a} in action 1: value "evil.example:" makes argv[4] "evil.example:/srv/repo" ${urlForm}${tail}`]);
    for (const [values, reason] of cases) {
      const r = await svc.post('/api/v1/incidents?wait=true', broken({ ...plain, ...values }));
      assert.deepEqual([r.body.action, r.body.event, r.body.execution_id, r.body.reason], ['blocked', 'PARAM_REFUSED', null, reason], JSON.stringify(values));
    }
    assert.equal(existsSync(outFile), false, 'the program never ran');
    assert.equal((await svc.get('/api/v1/audit?event=EXECUTING&limit=100')).body.events.length, 0);
    const refused = (await svc.get('/api/v1/audit?event=PARAM_REFUSED&limit=100')).body.events;
    assert.equal(refused.length, cases.length);
    // A host and port, a name with a colon, a time: still plain arguments.
    for (const [values, line] of [
      [{}, 'db-1.internal:5432\n--out=db-1.internal:5432\nsrv/data\neu/jobs\n'],
      [{ source: '10.0.0.5:9100', a: 'ns', b: ':jobs' }, '10.0.0.5:9100\n--out=10.0.0.5:9100\nsrv/data\nns:jobs\n'],
      [{ source: '12:00' }, '12:00\n--out=12:00\nsrv/data\neu/jobs\n'],
      // An image digest, and an address followed by more than a host before a ":", are no remote paths.
      [
        { source: `registry.example/app@sha256:${'0f'.repeat(32)}`, a: 'oncall@example.com', b: ',at=12:00' },
        `registry.example/app@sha256:${'0f'.repeat(32)}\n--out=registry.example/app@sha256:${'0f'.repeat(32)}\nsrv/data\noncall@example.com,at=12:00\n`,
      ],
    ] as Array<[Record<string, string>, string]>) {
      writeFileSync(outFile, '');
      const ok = await svc.post('/api/v1/incidents?wait=true', broken({ ...plain, ...values }));
      assert.deepEqual([ok.body.action, ok.body.success], ['executed', true], ok.body.reason);
      assert.equal(readFileSync(outFile, 'utf8'), line);
    }
    assert.equal(target.requests().length, 0);
    await svc.stop({ remove: true });
  });

  it('a runbook whose executor is missing loads, and its runs are refused with the reason', async () => {
    const svc = await startTestService({
      runbooks: `runbooks:
  restart-pod:
    risk: LOW
    triggers: [CrashLoopBackOff]
    min_confidence: 0.8
    action: kubectl delete pod {pod_name} -n {namespace}
`,
    });
    const r = await svc.post('/api/v1/incidents?wait=true', { id: 'INC001', root_cause: 'CrashLoopBackOff', confidence: 0.95, service: 'api-server', context: { pod_name: 'api-server-abc123', namespace: 'production' } });
    assert.equal(r.body.action, 'blocked');
    assert.equal(r.body.event, 'EXECUTOR_UNAVAILABLE');
    assert.equal(r.body.reason, 'runbook restart-pod needs the Kubernetes executor, which is not configured (run in a cluster or set --kubeconfig)');
    const state = await svc.get('/api/v1/runbooks/restart-pod');
    assert.equal(state.body.executable, false);
    await svc.stop({ remove: true });
  });

  it('Kubernetes turned off: the reason says so and where, not to run in a cluster (which would change nothing)', async () => {
    const svc = await startTestService({ args: ['--kubernetes', 'off'], runbooks: KUBE_RUNBOOK });
    try {
      const r = await svc.post('/api/v1/incidents?wait=true', { id: 'INC-OFF', root_cause: 'CrashLoopBackOff', confidence: 0.95, service: 'api-server', context: { pod_name: 'api-server-abc123', namespace: 'production' } });
      assert.deepEqual([r.body.action, r.body.event, r.body.reason], [
        'blocked',
        'EXECUTOR_UNAVAILABLE',
        'runbook restart-pod needs the Kubernetes executor, which is turned off (--kubernetes off; set --kubernetes auto, in-cluster or kubeconfig to use it)',
      ]);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('not configured in auto mode, with runbooks that need it: a warning at start naming how many', async () => {
    const two = `${KUBE_RUNBOOK}  scale-down:\n    risk: LOW\n    triggers: [Idle]\n    min_confidence: 0.8\n    action: kubectl scale deployment {service} --replicas=1 -n {namespace}\n  notify:\n    risk: LOW\n    triggers: [Other]\n    action: {http: {method: POST, url: "http://127.0.0.1:9/x"}}\n`;
    const svc = await startTestService({ captureLogs: true, runbooks: two });
    try {
      const lines = svc.log.records().filter((l) => String(l.msg).startsWith('Kubernetes executor not configured'));
      assert.deepEqual(lines.map((l) => [l.level, l.runbooks, l.msg]), [
        ['warn', 2, 'Kubernetes executor not configured: 2 loaded runbook(s) need it, and their runs are refused (EXECUTOR_UNAVAILABLE) until rectify runs in a cluster or is given --kubeconfig'],
      ]);
    } finally {
      await svc.stop({ remove: true });
    }
    // Without such a runbook, it is only said at info.
    const none = await startTestService({ captureLogs: true, runbooks: 'runbooks:\n  notify:\n    risk: LOW\n    triggers: [Other]\n    action: {http: {method: POST, url: "http://127.0.0.1:9/x"}}\n' });
    try {
      assert.deepEqual(none.log.records().filter((l) => String(l.msg).startsWith('Kubernetes executor not configured')).map((l) => [l.level, l.msg]), [['info', 'Kubernetes executor not configured']]);
    } finally {
      await none.stop({ remove: true });
    }
  });
});
