import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget, type RecordedRequest } from '../helpers/http-target.js';
import { postAlerts, startAlertmanager } from '../helpers/alertmanager.js';
import { startPrometheus, type RunningDaemon } from '../helpers/prometheus.js';

interface Webhook {
  version: string;
  status: string;
  receiver: string;
  alerts: Array<{ status: string; labels: Record<string, string>; annotations: Record<string, string>; fingerprint: string }>;
}

/** Accepts a webhook carrying an alert with this alertname (and status, when given). */
const carrying =
  (alertname: string, status?: string) =>
  (r: RecordedRequest): boolean =>
    (r.json() as Webhook).alerts.some((a) => a.labels.alertname === alertname && (status === undefined || a.status === status));

/**
 * Proves the test helpers deliver what a real deployment delivers: a real
 * Alertmanager posting version "4" webhooks (with the bearer token) to a local
 * target, and a real Prometheus firing a rule into that Alertmanager. Other
 * suites build on these helpers, so this is where they are shown to work.
 */
describe('Alertmanager and Prometheus helpers deliver real webhooks', () => {
  let hook: HttpTarget;
  let am: RunningDaemon;

  before(async () => {
    hook = await startHttpTarget();
    hook.route('POST', '/hook', { status: 200 });
    am = await startAlertmanager({ webhookUrl: `${hook.url}/hook`, bearerToken: 'am-token', groupBy: ['...'] });
  });
  after(async () => {
    await am?.stop();
    await hook?.close();
  });

  it('a posted alert arrives as a version "4" webhook with the bearer token', async () => {
    const since = Date.now();
    await postAlerts(am.url, [
      { labels: { alertname: 'HighErrorRate', service: 'api-server', severity: 'page' }, annotations: { summary: 'errors above 5%' } },
    ]);
    const req = await hook.waitForRequest('/hook', { since, timeoutMs: 15_000, where: carrying('HighErrorRate') });
    assert.equal(req.headers.authorization, 'Bearer am-token');
    assert.equal(req.headers['content-type'], 'application/json');
    const body = req.json() as Webhook;
    assert.equal(body.version, '4');
    assert.equal(body.status, 'firing');
    assert.equal(body.receiver, 'webhook');
    assert.equal(body.alerts.length, 1);
    assert.deepEqual(body.alerts[0]?.labels, { alertname: 'HighErrorRate', service: 'api-server', severity: 'page' });
    assert.deepEqual(body.alerts[0]?.annotations, { summary: 'errors above 5%' });
    assert.match(body.alerts[0]?.fingerprint ?? '', /^[0-9a-f]{16}$/);
  });

  it('resolving a notified alert is delivered too (send_resolved)', async () => {
    // Alertmanager only sends "resolved" for alerts it has notified as firing.
    const labels = { alertname: 'DiskFull', service: 'db' };
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    const since = Date.now();
    await postAlerts(am.url, [{ labels, startsAt }]);
    // Other groups may be re-sent meanwhile: wait for this alert's own deliveries.
    const firing = await hook.waitForRequest('/hook', { since, timeoutMs: 15_000, where: carrying('DiskFull') });
    assert.equal((firing.json() as Webhook).status, 'firing');

    const resolvedSince = Date.now();
    await postAlerts(am.url, [{ labels, startsAt, endsAt: new Date(resolvedSince - 1_000).toISOString() }]);
    const req = await hook.waitForRequest('/hook', { since: resolvedSince, timeoutMs: 15_000, where: carrying('DiskFull', 'resolved') });
    const body = req.json() as Webhook;
    assert.equal(body.status, 'resolved');
    assert.equal(body.alerts[0]?.status, 'resolved');
    assert.deepEqual(body.alerts[0]?.labels, labels);
  });

  it('postAlerts reports Alertmanager refusing a malformed alert', async () => {
    await assert.rejects(postAlerts(am.url, [{ labels: {} }]), /POST \/api\/v2\/alerts → 400/);
  });

  it('Prometheus evaluates a rule and fires it through Alertmanager', async () => {
    const metrics = await startHttpTarget();
    metrics.setMetric('demo_error_ratio', 0.2, { service: 'checkout' });
    let prom: RunningDaemon | undefined;
    try {
      const since = Date.now();
      prom = await startPrometheus({
        scrapeTargets: [metrics.hostPort],
        alertmanagerUrl: am.url,
        rules: [
          'groups:',
          '  - name: demo',
          '    rules:',
          '      - alert: DemoErrorRateHigh',
          '        expr: demo_error_ratio > 0.05',
          '        labels: {severity: page}',
          '        annotations: {summary: "error ratio {{ $value }}"}',
        ].join('\n'),
      });
      const req = await hook.waitForRequest('/hook', { since, timeoutMs: 30_000, where: carrying('DemoErrorRateHigh') });
      const alert = (req.json() as Webhook).alerts.find((a) => a.labels.alertname === 'DemoErrorRateHigh');
      assert.ok(alert, 'DemoErrorRateHigh delivered');
      assert.equal(alert.labels.service, 'checkout');
      assert.equal(alert.labels.severity, 'page');
      assert.equal(alert.labels.job, 'targets');
      assert.equal(alert.annotations.summary, 'error ratio 0.2');
    } finally {
      await prom?.stop();
      await metrics.close();
    }
  });
});
