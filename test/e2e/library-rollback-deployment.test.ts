import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import type { KubeFake } from '../helpers/kube-fake/index.js';
import { startPrometheus, waitForQuery, type RunningDaemon } from '../helpers/prometheus.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { startFakeEnv } from '../kubernetes/setup.js';

/**
 * The bundled rollback-deployment, as shipped but for its post-checks' waits (seconds,
 * not 10 minutes), through the whole service: Kubernetes is the API fake, Prometheus a
 * real one that has no http_requests_total (a cluster whose apps do not export it).
 * The default error-rate check cannot tell whether the undo helped; its rollback (the
 * undo of the undo) would bring the bad deploy back on no evidence at all. A deployment
 * whose pods do export it, and still fail, is rolled back as before.
 */
const NS = 'production';
const SHIPPED = readFileSync(new URL('../../runbooks/rollback-deployment.yaml', import.meta.url), 'utf8');

function shortened(text: string): string {
  const out = text
    .replace('timeout_seconds: 600, on_no_data: needs_human}', 'timeout_seconds: 30, on_no_data: needs_human}')
    .replace('timeout_seconds: 600, interval_seconds: 15', 'timeout_seconds: 3, interval_seconds: 1');
  assert.notEqual(out, text);
  assert.doesNotMatch(out, /timeout_seconds: 600/, 'every long wait was shortened');
  return out;
}

describe('rollback-deployment when the error rate cannot be read', { timeout: 120_000 }, () => {
  let fake: KubeFake;
  let prom: RunningDaemon;
  let svc: TestService;
  let target: HttpTarget;
  let traffic: NodeJS.Timeout | undefined;

  before(async () => {
    const env = await startFakeEnv({ readyDelayMs: 100 });
    fake = env.fake;
    fake.addNode('node-a');
    // Deployment cart's pods export http_requests_total, and 5 of every 6 requests fail.
    target = await startHttpTarget();
    const counters = [
      { labels: { namespace: NS, pod: 'cart-5d8c7b9f6-x2x4z', code: '200' }, perSecond: 2, value: 0 },
      { labels: { namespace: NS, pod: 'cart-5d8c7b9f6-x2x4z', code: '500' }, perSecond: 10, value: 0 },
    ];
    const tick = () => {
      for (const c of counters) {
        target.setMetric('http_requests_total', c.value, c.labels);
        c.value += c.perSecond * 0.2;
      }
    };
    tick();
    traffic = setInterval(tick, 200);
    prom = await startPrometheus({ scrapeTargets: [target.hostPort] });
    await waitForQuery(prom.url, 'count(rate(http_requests_total[5m]) > 0)', (v) => v[0] === 2, 30_000);
    svc = await startTestService({
      runbooks: { 'rollback-deployment.yaml': shortened(SHIPPED) },
      realClock: true,
      args: ['--kubernetes', 'kubeconfig', '--kubeconfig', env.kubeconfig, '--prometheus-url', prom.url],
    });
  });
  after(async () => {
    if (traffic) clearInterval(traffic);
    await svc?.stop({ remove: true });
    await prom?.stop();
    await target?.close();
    await fake?.close();
  });

  const image = (name: string) => (fake.get('deployments', NS, name)!.spec.template as { spec: { containers: Array<{ image: string }> } }).spec.containers[0]!.image;

  /** Approves the incident's request and waits for the run to end. */
  async function approvedRun(incident: string, deployment: string): Promise<any> {
    const d = await svc.post('/api/v1/incidents', { id: incident, root_cause: 'error_rate_spike_after_deploy', confidence: 0.95, service: deployment, context: { deployment, namespace: NS } });
    assert.equal(d.body.action, 'approval_required');
    const a = await svc.post(`/api/v1/approvals/${d.body.approval_id}/approve`, { by: 'sam', comment: 'v2 is bad' });
    assert.equal(a.body.result.action, 'executed');
    const id = a.body.result.execution_id;
    let e = (await svc.get(`/api/v1/executions/${id}`)).body;
    const deadline = Date.now() + 90_000;
    while (e.state === 'running') {
      assert.ok(Date.now() < deadline, `still running: ${JSON.stringify(e.steps)}`);
      await new Promise((r) => setTimeout(r, 200));
      e = (await svc.get(`/api/v1/executions/${id}`)).body;
    }
    return e;
  }

  it('the undo stays, the bad deploy is not re-applied, and a person is asked to check', async () => {
    fake.addDeployment(NS, 'checkout', 3, { revisions: 2, rolledOutAt: Date.now() - 60_000 }); // the bad deploy, before the alert
    assert.equal(image('checkout'), 'example/checkout:v2');
    const e = await approvedRun('INC-BAD-DEPLOY', 'checkout');
    const id = e.id;
    assert.equal(image('checkout'), 'example/checkout:v1', 'the deployment stays on the revision before the bad deploy');
    assert.deepEqual([e.state, e.success, e.rolled_back, e.needs_human], ['failed', false, false, true]);
    assert.deepEqual(
      e.steps.map((s: { phase: string; summary: string; ok: boolean; inconclusive?: boolean }) => [s.phase, s.summary, s.ok, s.inconclusive ?? false]),
      [
        ['pre_check', 'deployment_exists', true, false],
        ['pre_check', 'previous_revision_available', true, false],
        ['action', `kubectl rollout undo deployment checkout -n ${NS}`, true, false],
        ['post_check', 'kubernetes deployment_ready deployment/checkout', true, false],
        ['post_check', 'error_rate_normalized', false, true],
      ],
    );
    assert.match(e.steps[4].detail, /^\(sum\(rate\(http_requests_total\{namespace="production",pod=~"checkout-.*returned no data after \d+ attempts$/);
    const why = 'the rollback was not run: the verification could not measure (on_no_data: needs_human); a person must check';
    assert.ok(e.outcome.endsWith(`; ${why}`), e.outcome);
    const [failed] = (await svc.get(`/api/v1/audit?execution_id=${id}&event=FAILED`)).body.events;
    assert.deepEqual(failed.details.rolled_back, false);
    assert.equal(failed.details.rollback, why);
    assert.equal(failed.details.needs_human, true);
    assert.equal((await svc.get(`/api/v1/audit?execution_id=${id}&event=ROLLED_BACK`)).body.events.length, 0);
  });

  it('a measured error rate above the threshold still rolls the undo back, as the runbook says', async () => {
    fake.addDeployment(NS, 'cart', 3, { revisions: 2, rolledOutAt: Date.now() - 60_000 }); // the bad deploy, before the alert
    const e = await approvedRun('INC-CART', 'cart');
    assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['failed', true, false]);
    const check = e.steps.find((s: { summary: string }) => s.summary === 'error_rate_normalized');
    assert.equal(check.ok, false);
    assert.equal(check.inconclusive, undefined);
    assert.match(check.detail, /^error ratio 0\.8\d* \(threshold 0\.05\) after \d+ attempts$/);
    assert.equal(e.steps.at(-1).phase, 'rollback');
    assert.equal(image('cart'), 'example/cart:v2');
  });
});
