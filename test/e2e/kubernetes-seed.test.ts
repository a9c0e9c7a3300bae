import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { KubeFake } from '../helpers/kube-fake/index.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startPrometheus, waitForQuery, type RunningDaemon } from '../helpers/prometheus.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';
import { startFakeEnv } from '../kubernetes/setup.js';

/**
 * The seed's runbooks.yaml through the whole service: HTTP API → decision →
 * @kubernetes/client-node → the Kubernetes API fake (real REST protocol),
 * verified with PromQL against a real Prometheus.
 *
 * One change to the file: scale-up's `metrics_improved` gets a query over a gauge
 * and a short timeout. Its default query is a CPU `rate(…[5m])`, which needs five
 * minutes of history before "lower than before" can ever hold; a test cannot wait that.
 */
const SEED_TEXT = readFileSync(new URL('../fixtures/seed/runbooks.yaml', import.meta.url), 'utf8');
const SEED_RUNBOOKS = SEED_TEXT.replace(
  '      - metrics_improved\n',
  "      - {named: metrics_improved, params: {query: 'max(demo_worker_cpu_per_replica{deployment=\"worker\"})'}, timeout_seconds: 8, interval_seconds: 1}\n",
);
const INCIDENTS = JSON.parse(readFileSync(new URL('../fixtures/seed/incidents.json', import.meta.url), 'utf8')) as Array<Record<string, any>>;
const inc = (id: string) => {
  const { expected: _e, ...body } = INCIDENTS.find((i) => i.id === id)!;
  return body;
};
const NS = 'production';
const SCALE = `/apis/apps/v1/namespaces/${NS}/deployments/worker/scale`;

/** Counters that advance on a timer, so PromQL rate() sees real slopes. */
function counters(metrics: HttpTarget) {
  const rates: Record<string, { labels: Record<string, string>; perSecond: number; value: number }> = {
    ok: { labels: { namespace: NS, pod: 'checkout-6c7d8f-fghjk', code: '200' }, perSecond: 50, value: 0 },
    err: { labels: { namespace: NS, pod: 'checkout-6c7d8f-fghjk', code: '500' }, perSecond: 0.1, value: 0 },
  };
  const timer = setInterval(() => {
    for (const c of Object.values(rates)) {
      c.value += c.perSecond * 0.2;
      metrics.setMetric('http_requests_total', c.value, c.labels);
    }
  }, 200);
  return { rates, stop: () => clearInterval(timer) };
}

describe('the seed runbooks against Kubernetes, through the service', { timeout: 240_000 }, () => {
  let fake: KubeFake;
  let kubeconfig: string;
  let metrics: HttpTarget;
  let prom: RunningDaemon;
  let load: ReturnType<typeof counters>;
  let svc: TestService;

  const seed = () => {
    fake.addNode('node-a');
    fake.addNode('node-b');
    fake.addDeployment(NS, 'api-server', 3, { podNames: ['api-server-abc123'], restartCount: 1, lastTerminatedAt: new Date().toISOString() });
    fake.addDeployment(NS, 'worker', 3);
    // Runs of scale-up after INC002's: its cooldown (10 min) holds per deployment, whatever the service.
    fake.addDeployment(NS, 'worker-b', 3);
    fake.addDeployment(NS, 'worker-c', 3);
    // Its bad deploy a minute before INC003's alert: the undo goes to the revision before it.
    fake.addDeployment(NS, 'checkout', 3, { revisions: 2, rolledOutAt: Date.now() - 60_000 });
  };

  before(async () => {
    const env = await startFakeEnv({ readyDelayMs: 300 });
    fake = env.fake;
    kubeconfig = env.kubeconfig;
    seed();
    metrics = await startHttpTarget();
    load = counters(metrics);
    prom = await startPrometheus({ scrapeTargets: [metrics.hostPort] });
    metrics.setMetric('demo_worker_cpu_per_replica', 0.9, { deployment: 'worker' });
    await waitForQuery(prom.url, 'demo_worker_cpu_per_replica', (v) => v.length === 1 && v[0] === 0.9, 30_000);
    await waitForQuery(prom.url, 'sum(rate(http_requests_total[5m]))', (v) => v.length === 1 && v[0]! > 1, 30_000);
    svc = await startTestService({
      runbooks: SEED_RUNBOOKS,
      realClock: true,
      args: ['--kubernetes', 'kubeconfig', '--kubeconfig', kubeconfig, '--prometheus-url', prom.url, '--max-concurrent-executions', '5'],
    });
  });
  after(async () => {
    load?.stop();
    await svc?.stop({ remove: true });
    await prom?.stop();
    await metrics?.close();
    await fake?.close();
  });

  it('INC001 evicts the pod (no DELETE) and verifies the replacement Ready', async () => {
    fake.clearRequests();
    const r = await svc.post('/api/v1/incidents?wait=true', inc('INC001'));
    assert.equal(r.body.action, 'executed');
    assert.equal(r.body.runbook, 'restart-pod');
    assert.equal(r.body.success, true, r.body.reason);
    assert.equal(fake.count('POST', `/api/v1/namespaces/${NS}/pods/api-server-abc123/eviction`), 1);
    assert.equal(fake.count('DELETE', /.*/), 0);
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual(e.steps.map((s: any) => [s.phase, s.summary, s.ok]), [
      ['pre_check', 'replicas_greater_than_one', true],
      ['pre_check', 'recent_restarts_less_than_three', true],
      ['action', 'kubectl delete pod api-server-abc123 -n production (eviction)', true],
      ['post_check', 'pod_becomes_ready', true],
    ]);
  });

  it('INC002 scales worker 3 → 5 and verifies with PromQL (the CPU rate drops)', async () => {
    fake.clearRequests();
    // The service's load spreads over more replicas once the scale lands.
    const watch = setInterval(() => {
      if (fake.count('PUT', SCALE) > 0) metrics.setMetric('demo_worker_cpu_per_replica', 0.5, { deployment: 'worker' });
    }, 100);
    try {
      const r = await svc.post('/api/v1/incidents?wait=true', inc('INC002'));
      assert.equal(r.body.action, 'executed');
      assert.equal(r.body.runbook, 'scale-up');
      assert.equal(r.body.success, true, r.body.reason);
      assert.equal(fake.count('PUT', SCALE), 1);
      assert.equal((fake.get('deployments', NS, 'worker') as any).spec.replicas, 5);
      // What undoing it by hand needs is kept with the step, and in its audit row.
      const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
      assert.deepEqual(e.steps.find((s: any) => s.phase === 'action').facts, { old_replicas: '3', new_replicas: '5' });
      const finished = (await svc.get(`/api/v1/audit?execution_id=${r.body.execution_id}&event=STEP_FINISHED`)).body.events;
      assert.deepEqual(finished.find((f: any) => f.details.phase === 'action').details.facts, { old_replicas: '3', new_replicas: '5' });
    } finally {
      clearInterval(watch);
    }
  });

  const scaleWrites = (deployment: string) =>
    fake.requests.filter((q) => q.method === 'PUT' && q.path === `/apis/apps/v1/namespaces/${NS}/deployments/${deployment}/scale`).map((q) => (q.body as { spec: { replicas: number } }).spec.replicas);

  it('INC002 again, for a service whose metric does not improve: verification fails and the rollback restores the 3 the scale read', async () => {
    metrics.setMetric('demo_worker_cpu_per_replica', 0.9, { deployment: 'worker' });
    await waitForQuery(prom.url, 'demo_worker_cpu_per_replica', (v) => v[0] === 0.9, 15_000);
    fake.clearRequests();
    // Another service and deployment: the first run's cooldown (10 min per runbook and service, and per deployment) does not apply.
    const body = inc('INC002');
    const r = await svc.post('/api/v1/incidents?wait=true', { ...body, id: 'INC002-B', service: 'worker-b', context: { ...body.context, deployment: 'worker-b' } });
    assert.equal(r.body.action, 'executed');
    assert.equal(r.body.success, false);
    assert.equal(r.body.rolled_back, true);
    assert.match(r.body.reason, /^verification failed: metrics_improved/);
    assert.deepEqual(scaleWrites('worker-b'), [5, 3]);
    assert.equal((fake.get('deployments', NS, 'worker-b') as any).spec.replicas, 3);
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    const rollback = e.steps.find((s: any) => s.phase === 'rollback');
    assert.equal(rollback.detail, "scaled Deployment production/worker-b from 5 to 3 replicas (the count it had before this run's scale)");
    assert.deepEqual(rollback.facts, { old_replicas: '5', new_replicas: '3' });
    const events = (await svc.get(`/api/v1/audit?execution_id=${r.body.execution_id}`)).body.events.map((e: any) => e.event);
    assert.ok(events.includes('ROLLED_BACK') && events.includes('FAILED'));
  });

  it('INC002 with an old_replicas of 1: the plan and the rollback use the cluster\'s 3, never the incident\'s 1', async () => {
    fake.clearRequests();
    const body = inc('INC002');
    const r = await svc.post('/api/v1/incidents?wait=true', { ...body, id: 'INC002-C', service: 'worker-c', context: { ...body.context, deployment: 'worker-c', old_replicas: 1 } });
    assert.equal(r.body.action, 'executed');
    assert.equal(r.body.success, false);
    assert.equal(r.body.rolled_back, true);
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual(e.plan.rollback, ['kubectl scale deployment worker-c --replicas=3 -n production']);
    assert.deepEqual(scaleWrites('worker-c'), [5, 3]);
    assert.equal((fake.get('deployments', NS, 'worker-c') as any).spec.replicas, 3);
  });

  it('INC003 waits for approval, then rolls checkout back one revision (one PATCH)', async () => {
    fake.clearRequests();
    const d = await svc.post('/api/v1/incidents', inc('INC003'));
    assert.equal(d.body.action, 'approval_required');
    assert.equal(d.body.runbook, 'rollback-deployment');
    assert.equal(fake.requests.filter((q) => q.method !== 'GET').length, 0, 'nothing changes before approval');
    const before = (fake.get('deployments', NS, 'checkout') as any).spec.template.spec.containers[0].image;
    const a = await svc.post(`/api/v1/approvals/${d.body.approval_id}/approve?wait=true`, { by: 'alice' });
    assert.equal(a.body.result.action, 'executed');
    assert.equal(a.body.result.success, true, a.body.result.reason);
    assert.equal(fake.count('PATCH', `/apis/apps/v1/namespaces/${NS}/deployments/checkout`), 1);
    const afterImage = (fake.get('deployments', NS, 'checkout') as any).spec.template.spec.containers[0].image;
    assert.notEqual(afterImage, before);
  });

  it('INC004 goes to a human and touches nothing', async () => {
    fake.clearRequests();
    const r = await svc.post('/api/v1/incidents?wait=true', inc('INC004'));
    assert.equal(r.body.action, 'manual');
    assert.equal(r.body.reason, 'No matching runbook');
    assert.equal(fake.requests.length, 0);
  });

  it('unsafe names from labels are refused before any call', async () => {
    fake.clearRequests();
    for (const [pod, ns] of [['../x', NS], ['api;rm -rf', NS], ['ok-pod', 'Prod'], ['a'.repeat(300), NS]]) {
      const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'OOMKilled', confidence: 0.95, service: `svc-${Math.random()}`, context: { pod_name: pod, namespace: ns } });
      assert.equal(r.body.event, 'PARAM_REFUSED', `${pod} ${ns}`);
    }
    assert.equal(fake.requests.length, 0);
  });

  it('an alert carrying only namespace and pod is enriched to its deployment', async () => {
    fake.addDeployment(NS, 'payments', 3, { podNames: ['payments-77f9c-k2x9p'] });
    fake.clearRequests();
    const r = await svc.post(
      '/api/v1/webhooks/alertmanager?wait=true',
      amWebhook([{ labels: { alertname: 'KubePodCrashLooping', reason: 'CrashLoopBackOff', namespace: NS, pod: 'payments-77f9c-k2x9p', pod_name: 'payments-77f9c-k2x9p', service: 'payments' } }]),
    );
    assert.equal(r.body.results[0].action, 'executed');
    assert.equal(r.body.results[0].success, true, r.body.results[0].reason);
    assert.equal(fake.count('POST', `/api/v1/namespaces/${NS}/pods/payments-77f9c-k2x9p/eviction`), 1);
  });

  it('a PodDisruptionBudget that allows no disruption blocks the eviction; nothing is deleted', async () => {
    fake.addDeployment(NS, 'ledger', 3, { podNames: ['ledger-5b6c7-q1w2e'] });
    fake.addPdb(NS, 'ledger-pdb', { matchLabels: { app: 'ledger' }, disruptionsAllowed: 0 });
    fake.clearRequests();
    const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'CrashLoopBackOff', confidence: 0.95, service: 'ledger', context: { pod_name: 'ledger-5b6c7-q1w2e', namespace: NS } });
    // "Not now" from the budget: the run is blocked, not failed — no rollback, no breaker failure.
    assert.equal(r.body.action, 'blocked');
    assert.equal(r.body.event, 'DISRUPTION_BLOCKED');
    assert.equal(r.body.success, false);
    assert.match(r.body.reason, /^blocked: eviction refused by PodDisruptionBudget \(429\)/);
    assert.equal(fake.count('POST', `/api/v1/namespaces/${NS}/pods/ledger-5b6c7-q1w2e/eviction`), 1);
    assert.equal(fake.count('DELETE', /.*/), 0);
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.equal(e.state, 'aborted');
    const events = (await svc.get(`/api/v1/audit?execution_id=${r.body.execution_id}`)).body.events.map((x: any) => x.event);
    assert.ok(events.includes('DISRUPTION_BLOCKED'), events.join(','));
    assert.ok(!events.includes('FAILED') && !events.includes('ROLLED_BACK'), events.join(','));
    const rb = (await svc.get('/api/v1/runbooks/restart-pod')).body;
    assert.equal(rb.circuit.failures, 0);
  });
});
