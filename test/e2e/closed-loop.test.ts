import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startAlertmanager } from '../helpers/alertmanager.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { freePort, startPrometheus, type RunningDaemon } from '../helpers/prometheus.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { until as untilHelper } from '../helpers/until.js';

/**
 * The closed loop with real parts: Prometheus scrapes a flaky service and fires an
 * alert, Alertmanager delivers it to rectify over HTTP, rectify restarts the service,
 * verifies with PromQL against the same Prometheus, and the resolved alert arrives.
 */
const until = <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => untilHelper(what, probe, 60_000, 250);

describe('closed loop: Prometheus → Alertmanager → rectify → action → verification → resolved', { timeout: 120_000 }, () => {
  let flaky: HttpTarget;
  let am: RunningDaemon;
  let prom: RunningDaemon;
  let svc: TestService;

  before(async () => {
    flaky = await startHttpTarget();
    flaky.setMetric('demo_error_ratio', 0.4, { service: 'demo' });
    flaky.route('POST', '/restart', () => {
      flaky.setMetric('demo_error_ratio', 0, { service: 'demo' });
      return { status: 200 };
    });
    const port = await freePort();
    am = await startAlertmanager({ webhookUrl: `http://127.0.0.1:${port}/api/v1/webhooks/alertmanager`, groupWaitSeconds: 1, groupIntervalSeconds: 1, groupBy: ['...'] });
    prom = await startPrometheus({
      scrapeTargets: [flaky.hostPort],
      alertmanagerUrl: am.url,
      rules: JSON.stringify({
        groups: [{ name: 'demo', rules: [{ alert: 'DemoErrorRateHigh', expr: 'max by (service) (demo_error_ratio) > 0.05', labels: { severity: 'critical' } }] }],
      }),
    });
    svc = await startTestService({
      realClock: true,
      args: ['--prometheus-url', prom.url, '--listen', `127.0.0.1:${port}`],
      runbooks: `runbooks:
  demo-restart:
    risk: LOW
    triggers: [DemoErrorRateHigh]
    min_confidence: 0.5
    max_per_hour: 3
    cooldown_minutes: 10
    action:
      http: {method: POST, url: "${flaky.url}/restart"}
    post_checks:
      - promql: {query: 'max(demo_error_ratio{service="{service}"})', expect: "< 0.05", for_seconds: 2, timeout_seconds: 30, interval_seconds: 1}
`,
    });
    await svc.app.listen({ host: '127.0.0.1', port });
  });
  after(async () => {
    await svc?.stop({ remove: true });
    await prom?.stop();
    await am?.stop();
    await flaky?.close();
  });

  it('exactly one remediation runs, is verified, and the resolved alert is recorded', async () => {
    const executionId = await until('an execution', async () => {
      const ev = (await svc.get('/api/v1/audit?event=EXECUTING')).body.events;
      return ev[0]?.execution_id as string | undefined;
    });
    const done = await until('the execution to end', async () => {
      const e = (await svc.get(`/api/v1/executions/${executionId}`)).body;
      return e.state === 'running' ? undefined : e;
    });
    assert.equal(done.state, 'succeeded', done.outcome);
    assert.equal(done.runbook, 'demo-restart');
    assert.equal(done.service, 'demo');
    assert.deepEqual(done.steps.map((s: any) => [s.phase, s.ok]), [['action', true], ['post_check', true]]);
    const resolved = await until('the resolved alert', async () => {
      const ev = (await svc.get('/api/v1/audit?event=RESOLVED')).body.events;
      return ev[0];
    });
    assert.equal(resolved.runbook, 'demo-restart');
    // Alertmanager may re-deliver while the group is open; the occurrence is decided once.
    await new Promise((r) => setTimeout(r, 3_000));
    assert.equal(flaky.calls('/restart', 'POST'), 1, 'exactly one remediation');
    assert.equal((await svc.get('/api/v1/audit?event=EXECUTING')).body.events.length, 1);
  });
});
