import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService } from '../helpers/service.js';

const runbooks = (base: string) => `runbooks:
  prom-fix:
    risk: LOW
    triggers: [broken]
    min_confidence: 0.5
    max_per_hour: 10
    cooldown_minutes: 0
    pre_checks:
      - promql: {query: 'up', expect: ">= 0", on_empty: pass, timeout_seconds: 3}
    action:
      http: {method: POST, url: "${base}/act"}
`;

describe('a failed pre-check names its cause in the outcome', () => {
  let target: HttpTarget;
  let prometheus: string;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/hook', { status: 204 });
    // Prometheus down: a port nothing listens on any more.
    const gone = await startHttpTarget();
    prometheus = gone.url;
    await gone.close();
  });
  after(async () => target.close());

  it('Prometheus unreachable: the PRE_CHECK_FAILED row, the notification and the execution say why, not only which check', async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--prometheus-url', prometheus, '--notify-webhook', `${target.url}/hook`], captureLogs: true });
    try {
      const r = await svc.post('/api/v1/incidents?wait=true', { id: 'P1', root_cause: 'broken', service: 'shop' });
      const outcome = 'pre-check failed: promql up >= 0: Prometheus: connection refused after 2 attempts';
      assert.equal(r.body.event, 'PRE_CHECK_FAILED');
      assert.equal(r.body.reason, outcome);
      assert.equal(target.calls('/act'), 0, 'no action ran');
      const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
      assert.equal(e.state, 'aborted');
      assert.equal(e.outcome, outcome);
      assert.deepEqual(
        e.steps.map((s: any) => [s.phase, s.summary, s.ok, s.detail, s.inconclusive]),
        [['pre_check', 'promql up >= 0', false, 'Prometheus: connection refused after 2 attempts', true]],
      );
      // The audit row: the check and its detail, and the reason its notification was told.
      const rows = (await svc.get('/api/v1/audit?event=PRE_CHECK_FAILED')).body.events;
      assert.equal(rows.length, 1);
      assert.equal(rows[0].details.check, 'promql up >= 0');
      assert.equal(rows[0].details.detail, 'Prometheus: connection refused after 2 attempts');
      assert.equal(rows[0].details.told.reason, outcome);
      // The webhook notification.
      await svc.service.drainNotifications();
      const told = target.requests('/hook').map((q) => q.json() as { event: string; outcome: string; reason: string });
      assert.deepEqual(
        told.map((n) => [n.event, n.outcome, n.reason]),
        [['PRE_CHECK_FAILED', 'aborted', outcome]],
      );
      // The log line that ends the run.
      const finished = svc.log.records().filter((l) => l.msg === 'execution finished');
      assert.deepEqual(
        finished.map((l) => [l.state, l.outcome]),
        [['aborted', outcome]],
      );
    } finally {
      await svc.stop({ remove: true });
    }
  });
});
