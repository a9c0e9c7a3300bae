import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { holdCalls, startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService } from '../helpers/service.js';

const W = '/api/v1/webhooks/alertmanager?wait=true';

describe('an alert resolved while its automatic run is under way', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
  });
  after(async () => target.close());

  const runbooks = (base: string) => `runbooks:
  gated:
    risk: LOW
    triggers: [Gated]
    max_per_hour: 1
    cooldown_minutes: 0
    pre_checks:
      - http: {url: "${base}/ready", timeout_seconds: 30}
    actions:
      - http: {method: POST, url: "${base}/act1"}
      - http: {method: POST, url: "${base}/act2"}
`;
  const alert = (status: 'firing' | 'resolved' = 'firing', startsAt = '2026-11-24T03:00:00.000Z') => amWebhook([{ labels: { alertname: 'Gated', service: 'g1' }, fingerprint: 'fg1', status, startsAt }]);

  it('stops a run still in its pre-checks before its first action: aborted, RESOLVED_BEFORE_ACTION, told, no failure, counted for the rate limit', async () => {
    target.reset();
    target.route('POST', '/hook', { status: 204 });
    target.route('POST', '/act1', { status: 200 });
    target.route('POST', '/act2', { status: 200 });
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/hook`, '--notify-repeat-window', '0s'] });
    try {
      const release = holdCalls(target, 'GET', '/ready');
      const since = Date.now();
      const firing = svc.post(W, alert());
      await target.waitForRequest('/ready', { since, timeoutMs: 5000 });
      const resolvedAt = new Date(svc.clock.now()).toISOString();
      const resolve = (await svc.post(W, alert('resolved'))).body.results[0];
      release();
      const fired = (await firing).body.results[0];
      assert.deepEqual(
        [resolve.action, resolve.event, resolve.incident_id, resolve.reason],
        ['resolved', 'RESOLVED', fired.incident_id, `alert resolved; its automatic run ${fired.execution_id} will stop before its next action: nothing was changed`],
      );
      const resolveRow = (await svc.get(`/api/v1/audit?event=RESOLVED`)).body.events[0];
      const why = `resolved before action 1: the alert was resolved at ${resolvedAt} (${resolveRow.details.resolved_incident_id}); nothing was changed`;
      assert.deepEqual([fired.action, fired.event, fired.reason, fired.success], ['aborted', 'RESOLVED_BEFORE_ACTION', why, false]);
      assert.equal(target.calls('/act1', 'POST') + target.calls('/act2', 'POST'), 0, 'no action ran');
      const exe = (await svc.get(`/api/v1/executions/${fired.execution_id}`)).body;
      assert.deepEqual([exe.state, exe.outcome, exe.steps.map((s: any) => s.phase)], ['aborted', why, ['pre_check']]);
      await svc.service.drainNotifications();
      const rows = (await svc.get(`/api/v1/audit?execution_id=${fired.execution_id}`)).body.events.reverse();
      assert.deepEqual(
        rows.map((a: any) => a.event),
        ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'RESOLVED_BEFORE_ACTION', 'NOTIFIED'],
      );
      const told = target.requests('/hook', 'POST').map((q) => q.json() as any).filter((n) => n.execution_id === fired.execution_id);
      assert.deepEqual(told.map((n) => [n.event, n.outcome, n.reason]), [['RESOLVED_BEFORE_ACTION', 'aborted', why]]);
      // Its row records its notification, as the other outcomes' do: told again after a restart if never delivered.
      const [hook] = svc.service.receivers;
      assert.deepEqual(rows[3].details, {
        reason: why,
        action: `POST ${target.url}/act1`,
        steps: 1,
        notification_id: told[0].notification_id,
        told: { to: [hook], outcome: 'aborted', reason: why, service: 'g1', approval_id: null, needs_human: false },
      });
      assert.equal(rows[4].details.notification_id, told[0].notification_id);
      // No failure for the circuit breaker; the run counts for max_per_hour (1), as a paused one does.
      const rb = (await svc.get('/api/v1/runbooks/gated')).body;
      assert.deepEqual([rb.circuit.state, rb.circuit.failures], ['closed', 0]);
      const next = (await svc.post(W, alert('firing', '2026-11-24T03:30:00.000Z'))).body.results[0];
      assert.deepEqual([next.action, next.event], ['blocked', 'RATE_LIMITED']);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a run whose action is under way when its alert resolves goes on to its end once that action changed something', async () => {
    target.reset();
    target.route('GET', '/ready', { status: 200 });
    target.route('POST', '/act2', { status: 200 });
    const svc = await startTestService({ runbooks: runbooks(target.url) });
    try {
      const release = holdCalls(target, 'POST', '/act1');
      const since = Date.now();
      const firing = svc.post(W, alert());
      await target.waitForRequest('/act1', { since, timeoutMs: 5000 });
      const resolve = (await svc.post(W, alert('resolved'))).body.results[0];
      release();
      const fired = (await firing).body.results[0];
      assert.equal(
        resolve.reason,
        `alert resolved; its automatic run ${fired.execution_id} is carrying out an action: it stops before the next one if that action changed nothing, and goes on to its end otherwise`,
      );
      assert.deepEqual([fired.action, fired.event, fired.success], ['executed', 'SUCCESS', true]);
      assert.deepEqual([target.calls('/act1', 'POST'), target.calls('/act2', 'POST')], [1, 1]);
      // Resolved once the run has ended: nothing said of it.
      const again = (await svc.post(W, amWebhook([{ labels: { alertname: 'Gated', service: 'g1' }, fingerprint: 'fg1', status: 'resolved', startsAt: '2026-11-24T03:00:00.000Z' }]))).body.results[0];
      assert.equal(again.action, 'duplicate');
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('the answer promises no stop to a run whose actions have all been carried out: it goes on to its verification', async () => {
    target.reset();
    target.route('GET', '/ready', { status: 200 });
    target.route('GET', '/act1', { status: 200 });
    const oneRead = `runbooks:
  gated:
    risk: LOW
    triggers: [Gated]
    max_per_hour: 10
    cooldown_minutes: 0
    actions:
      - http: {method: GET, url: "${target.url}/act1"}
    post_checks:
      - http: {url: "${target.url}/verify", timeout_seconds: 30}
`;
    const svc = await startTestService({ runbooks: oneRead });
    try {
      const release = holdCalls(target, 'GET', '/verify');
      const since = Date.now();
      const firing = svc.post(W, alert());
      await target.waitForRequest('/verify', { since, timeoutMs: 5000 });
      const resolve = (await svc.post(W, alert('resolved'))).body.results[0];
      release();
      const fired = (await firing).body.results[0];
      assert.equal(resolve.reason, `alert resolved; its automatic run ${fired.execution_id} has carried out its actions, which changed nothing: it goes on to its end (verification)`);
      assert.deepEqual([fired.action, fired.event, fired.success], ['executed', 'SUCCESS', true]);
      assert.equal(target.calls('/act1', 'GET'), 1);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  describe('the run a person approved for the alert, under way when it resolves', () => {
    const approvalRunbooks = (base: string) => `runbooks:
  held:
    risk: HIGH
    triggers: [Held]
    max_per_hour: 10
    cooldown_minutes: 0
    pre_checks:
      - http: {url: "${base}/ready", timeout_seconds: 30}
    actions:
      - http: {method: POST, url: "${base}/act1"}
      - http: {method: POST, url: "${base}/act2"}
`;
    /** The service on a real loopback port, and a JSON POST or GET to it over HTTP. */
    const serve = async () => {
      const svc = await startTestService({ runbooks: approvalRunbooks(target.url), args: ['--listen', '127.0.0.1:0'] });
      const addr = await svc.service.listen();
      const base = addr.startsWith('http') ? addr : `http://${addr}`;
      const http = async (path: string, body?: unknown): Promise<{ status: number; body: any }> => {
        const res = await fetch(`${base}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        return { status: res.status, body: await res.json() };
      };
      return { svc, http };
    };
    const running = (exe: string, apr: string) =>
      `alert resolved; its approved run ${exe} (request ${apr}) is running and goes on to its end: a person approved it, and a resolve stops only automatic runs`;

    it('an Alertmanager resolve during its action names it: it goes on to its end', async () => {
      target.reset();
      target.route('GET', '/ready', { status: 200 });
      target.route('POST', '/act2', { status: 200 });
      const { svc, http } = await serve();
      try {
        const held = (status: 'firing' | 'resolved') => amWebhook([{ labels: { alertname: 'Held', service: 'h1' }, fingerprint: 'fh1', status, startsAt: '2026-11-24T03:00:00.000Z' }]);
        const fired = (await http(W, held('firing'))).body.results[0];
        assert.deepEqual([fired.action, fired.reason], ['approval_required', 'risk HIGH requires approval']);
        const release = holdCalls(target, 'POST', '/act1');
        const since = Date.now();
        const approve = http(`/api/v1/approvals/${fired.approval_id}/approve?wait=true`, { by: 'alice' });
        await target.waitForRequest('/act1', { since, timeoutMs: 5000 });
        const exe = (await http(`/api/v1/approvals/${fired.approval_id}`)).body.execution_id as string;
        assert.match(exe, /^exe_/);
        const resolve = (await http(W, held('resolved'))).body.results[0];
        assert.deepEqual([resolve.action, resolve.event, resolve.incident_id, resolve.reason], ['resolved', 'RESOLVED', fired.incident_id, running(exe, fired.approval_id)]);
        const row = (await http('/api/v1/audit?event=RESOLVED')).body.events[0];
        assert.deepEqual([row.incident_id, row.details.reason], [fired.incident_id, running(exe, fired.approval_id)]);
        release();
        const ran = (await approve).body.result;
        assert.deepEqual([ran.execution_id, ran.action, ran.event], [exe, 'executed', 'SUCCESS']);
        assert.deepEqual([target.calls('/act1', 'POST'), target.calls('/act2', 'POST')], [1, 1], 'it went on to its end');
        // Resolved again once the run has ended: a duplicate.
        assert.equal((await http(W, held('resolved'))).body.results[0].action, 'duplicate');
      } finally {
        await svc.stop({ remove: true });
      }
    });

    it('a resolve posted by id while the approved run is in its pre-check names it: it is not stopped before its first action, as an automatic run would be', async () => {
      target.reset();
      target.route('POST', '/act1', { status: 200 });
      target.route('POST', '/act2', { status: 200 });
      const { svc, http } = await serve();
      try {
        const incident = { id: 'INC-H2', root_cause: 'Held', service: 'h2', confidence: 0.95 };
        const fired = (await http('/api/v1/incidents', incident)).body;
        assert.equal(fired.action, 'approval_required');
        const release = holdCalls(target, 'GET', '/ready');
        const since = Date.now();
        const approve = http(`/api/v1/approvals/${fired.approval_id}/approve?wait=true`, { by: 'alice' });
        await target.waitForRequest('/ready', { since, timeoutMs: 5000 });
        const exe = (await http(`/api/v1/approvals/${fired.approval_id}`)).body.execution_id as string;
        assert.match(exe, /^exe_/);
        const resolve = (await http('/api/v1/incidents', { ...incident, status: 'resolved' })).body;
        assert.deepEqual([resolve.action, resolve.incident_id, resolve.reason], ['resolved', 'INC-H2', running(exe, fired.approval_id)]);
        const row = (await http('/api/v1/audit?event=RESOLVED')).body.events[0];
        assert.equal(row.details.reason, running(exe, fired.approval_id));
        release();
        const ran = (await approve).body.result;
        assert.deepEqual([ran.execution_id, ran.action, ran.event], [exe, 'executed', 'SUCCESS']);
        assert.deepEqual([target.calls('/act1', 'POST'), target.calls('/act2', 'POST')], [1, 1]);
      } finally {
        await svc.stop({ remove: true });
      }
    });
  });

  it('a manual run is not stopped by the resolve of an alert (a person chose it)', async () => {
    target.reset();
    target.route('POST', '/act1', { status: 200 });
    target.route('POST', '/act2', { status: 200 });
    const svc = await startTestService({ runbooks: runbooks(target.url).replace('max_per_hour: 1', 'max_per_hour: 10') });
    try {
      // The alert fires and its run acts, then a manual run is in its pre-check when it resolves.
      target.route('GET', '/ready', { status: 200 });
      assert.equal((await svc.post(W, alert())).body.results[0].event, 'SUCCESS');
      const release = holdCalls(target, 'GET', '/ready');
      const since = Date.now();
      const manual = svc.post('/api/v1/runbooks/gated/run?wait=true', { by: 'bob', params: { service: 'g1' } });
      await target.waitForRequest('/ready', { since, timeoutMs: 5000 });
      const resolve = (await svc.post(W, alert('resolved'))).body.results[0];
      release();
      assert.equal(resolve.reason, 'alert resolved');
      const ran = (await manual).body;
      assert.deepEqual([ran.action, ran.event], ['executed', 'SUCCESS']);
      assert.deepEqual([target.calls('/act1', 'POST'), target.calls('/act2', 'POST')], [2, 2]);
    } finally {
      await svc.stop({ remove: true });
    }
  });
});
