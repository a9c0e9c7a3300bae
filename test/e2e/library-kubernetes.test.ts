import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { KubeFake } from '../helpers/kube-fake/index.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startPrometheus, waitForQuery, type RunningDaemon } from '../helpers/prometheus.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';
import { startFakeEnv } from '../kubernetes/setup.js';

/**
 * The bundled runbook library, unchanged, through the whole service: a
 * kube-prometheus KubePodCrashLooping alert restarts the pod (enrichment finds
 * pod_name from pod), and scale-to-zero waits for approval, scales the deployment
 * to 0 and verifies with PromQL that no pod runs, a terminating one included; restart-service leaves a deployment
 * whose rollout is under way alone. Kubernetes is the API fake
 * (real REST protocol); kube-state-metrics is a local target exposing
 * kube_deployment_status_replicas(_updated) from the fake's deployments and kube_pod_owner
 * from its pods, scraped by a real
 * Prometheus.
 */
const LIBRARY = new URL('../../runbooks/', import.meta.url);
const RUNBOOKS = Object.fromEntries(
  readdirSync(LIBRARY)
    .filter((n) => n.endsWith('.yaml'))
    .map((n) => [n, readFileSync(new URL(n, LIBRARY), 'utf8')]),
);
const NS = 'production';

describe('the runbook library against Kubernetes, through the service', { timeout: 420_000 }, () => {
  let fake: KubeFake;
  let ksm: HttpTarget;
  let prom: RunningDaemon;
  let svc: TestService;
  let sync: NodeJS.Timeout;

  before(async () => {
    const env = await startFakeEnv({ readyDelayMs: 200 });
    fake = env.fake;
    fake.addNode('node-a');
    fake.addDeployment(NS, 'api-server', 3, { podNames: ['api-server-7d9f8-x2x4q'], restartCount: 1, lastTerminatedAt: new Date().toISOString() });
    fake.addDeployment(NS, 'payments', 3);
    ksm = await startHttpTarget();
    const publish = () => {
      for (const d of fake.list('deployments')) {
        const labels = { namespace: d.metadata.namespace!, deployment: d.metadata.name };
        ksm.setMetric('kube_deployment_status_replicas', d.status?.replicas ?? 0, labels);
        ksm.setMetric('kube_deployment_status_replicas_updated', d.status?.updatedReplicas ?? 0, labels);
      }
      // Every pod until it is gone, terminating ones too, as kube-state-metrics lists them.
      ksm.deleteMetric('kube_pod_owner');
      for (const p of fake.list('pods')) {
        const owner = p.metadata.ownerReferences?.find((o) => o.controller);
        if (owner) ksm.setMetric('kube_pod_owner', 1, { namespace: p.metadata.namespace!, pod: p.metadata.name, owner_kind: owner.kind, owner_name: owner.name });
      }
    };
    publish();
    sync = setInterval(publish, 200);
    prom = await startPrometheus({ scrapeTargets: [ksm.hostPort] });
    await waitForQuery(prom.url, 'kube_deployment_status_replicas{deployment="payments"}', (v) => v[0] === 3, 30_000);
    svc = await startTestService({
      runbooks: RUNBOOKS,
      realClock: true,
      args: ['--kubernetes', 'kubeconfig', '--kubeconfig', env.kubeconfig, '--prometheus-url', prom.url],
    });
  });
  after(async () => {
    clearInterval(sync);
    await svc?.stop({ remove: true });
    await prom?.stop();
    await ksm?.close();
    await fake?.close();
  });

  it('KubePodCrashLooping as kube-prometheus sends it: restart-pod evicts the pod and verifies its replacement', async () => {
    fake.clearRequests();
    const r = await svc.post(
      '/api/v1/webhooks/alertmanager?wait=true',
      amWebhook([{ labels: { alertname: 'KubePodCrashLooping', severity: 'warning', job: 'kube-state-metrics', reason: 'CrashLoopBackOff', namespace: NS, pod: 'api-server-7d9f8-x2x4q', container: 'api' } }]),
    );
    const res = r.body.results[0];
    assert.equal(res.runbook, 'restart-pod');
    assert.equal(res.action, 'executed');
    assert.equal(res.success, true, res.reason);
    assert.equal(fake.count('POST', `/api/v1/namespaces/${NS}/pods/api-server-7d9f8-x2x4q/eviction`), 1);
    assert.equal(fake.count('DELETE', /.*/), 0);
    const e = (await svc.get(`/api/v1/executions/${res.execution_id}`)).body;
    assert.deepEqual(e.plan.params, { pod_name: 'api-server-7d9f8-x2x4q', namespace: NS });
    assert.deepEqual(
      e.steps.map((s: any) => [s.phase, s.summary, s.ok]),
      [
        ['pre_check', 'replicas_greater_than_one', true],
        ['pre_check', 'recent_restarts_less_than_three', true],
        ['action', `kubectl delete pod api-server-7d9f8-x2x4q -n ${NS} (eviction)`, true],
        ['post_check', 'pod_becomes_ready', true],
      ],
    );
  });

  /** Polls an execution until it has ended. */
  async function finished(id: string, withinMs = 60_000): Promise<any> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const e = (await svc.get(`/api/v1/executions/${id}`)).body;
      if (e.state !== 'running') return e;
      assert.ok(Date.now() < deadline, `execution ${id} still running: ${JSON.stringify(e.steps)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('scale-up: labels asking for 1 replica of a deployment at 8 neither scale it down nor choose its rollback', async () => {
    fake.addDeployment('shop', 'checkout', 8);
    fake.clearRequests();
    const labels = { alertname: 'CheckoutCPUHigh', severity: 'warning', root_cause: 'high_cpu', deployment: 'checkout', namespace: 'shop', new_replicas: '1', old_replicas: '1' };
    const r = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([{ labels, fingerprint: 'scale-up-checkout' }]));
    const res = r.body.results[0];
    assert.equal(res.runbook, 'scale-up');
    assert.equal(res.action, 'executed');
    // The rollback's count is the cluster's, read by enrichment; the label's 1 is dropped.
    const planned = (await svc.get(`/api/v1/executions/${res.execution_id}`)).body.plan;
    assert.deepEqual(planned.params, { deployment: 'checkout', namespace: 'shop', new_replicas: '1', old_replicas: '8' });
    assert.deepEqual(planned.actions, ['kubectl scale deployment checkout --replicas=1 -n shop']);
    assert.deepEqual(planned.rollback, ['kubectl scale deployment checkout --replicas=8 -n shop']);
    // The scale-up check refuses a target that is not above the current count: nothing is written.
    const e = await finished(res.execution_id);
    assert.equal(e.state, 'aborted');
    assert.equal(e.outcome, 'pre-check failed: current_replicas_below_max: deployment shop/checkout: new_replicas 1 is not above its 8 replica(s); a scale-up never lowers or keeps the count after 1 attempt');
    assert.deepEqual(
      e.steps.map((s: any) => [s.phase, s.summary, s.ok, s.detail]),
      [['pre_check', 'current_replicas_below_max', false, 'deployment shop/checkout: new_replicas 1 is not above its 8 replica(s); a scale-up never lowers or keeps the count after 1 attempt']],
    );
    assert.equal(fake.requests.filter((q) => q.method !== 'GET').length, 0);
    assert.equal(fake.get('deployments', 'shop', 'checkout')!.spec.replicas, 8);
  });

  it('scale-up: when the cluster cannot be read, replica counts from labels do not stand in; the run is refused', async () => {
    fake.addDeployment('shop', 'cart', 8);
    fake.injectError('GET', '/apis/apps/v1/namespaces/shop/deployments/cart', 500, 'InternalError', 'etcd unavailable');
    fake.clearRequests();
    const labels = { alertname: 'CartCPUHigh', severity: 'warning', root_cause: 'high_cpu', deployment: 'cart', namespace: 'shop', new_replicas: '9', old_replicas: '1' };
    const r = await svc.post('/api/v1/webhooks/alertmanager?wait=true', amWebhook([{ labels, fingerprint: 'scale-up-cart' }]));
    const res = r.body.results[0];
    assert.equal(res.runbook, 'scale-up');
    assert.equal(res.action, 'blocked');
    assert.equal(res.event, 'PARAM_REFUSED');
    assert.equal(
      res.reason,
      "no value for placeholder {old_replicas}: reading it from the cluster failed: etcd unavailable (an alert's own old_replicas is never used: it is the cluster's to say); nothing was run: check that the Kubernetes API answers, then send the alert again or run the runbook by hand",
    );
    assert.equal(res.execution_id, null);
    assert.equal(fake.requests.filter((q) => q.method !== 'GET').length, 0);
    assert.equal(fake.get('deployments', 'shop', 'cart')!.spec.replicas, 8);
  });

  // Regression: restart-service restarted a deployment in the middle of a stuck rollout,
  // adding a revision of the bad template: rollback-deployment's undo then went back to
  // that template instead of the good one before it.
  it('restart-service: a deployment whose rollout is under way is not restarted over it (the pre-check stops the run; nothing is written)', async () => {
    const ns = 'orders';
    const { replicaSets } = fake.addDeployment(ns, 'orders', 3, { revisions: 2 });
    // One pod of the previous revision still runs: the rollout to revision 2 has not finished.
    const previous = replicaSets[0]!;
    fake.addPod(ns, 'orders-previous-bcdfg', { labels: { ...previous.spec.template.metadata.labels }, owner: { kind: 'ReplicaSet', name: previous.metadata.name, uid: previous.metadata.uid } });
    await waitForQuery(prom.url, 'kube_deployment_status_replicas{deployment="orders"} - kube_deployment_status_replicas_updated{deployment="orders"}', (v) => v[0] === 1, 30_000);
    fake.clearRequests();
    const r = await svc.post('/api/v1/runbooks/restart-service/run?wait=true', { by: 'sam', params: { deployment: 'orders', namespace: ns } });
    assert.deepEqual([r.body.runbook, r.body.action, r.body.event], ['restart-service', 'aborted', 'PRE_CHECK_FAILED'], r.body.reason);
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual(
      e.steps.map((s: any) => [s.phase, s.ok]),
      [
        ['pre_check', true],
        ['pre_check', false],
      ],
    );
    assert.match(e.steps[1].summary, /^promql max\(kube_deployment_status_replicas\{namespace="orders",deployment="orders"\}\) - max\(kube_deployment_status_replicas_updated\{/);
    assert.match(e.steps[1].detail, /^expected == 0, got 1 /);
    assert.equal(fake.requests.filter((q) => q.method !== 'GET').length, 0);
    assert.equal(fake.get('deployments', ns, 'orders')!.spec.template.metadata.annotations, undefined);
    // The same query for a deployment with no rollout under way answers 0: the pre-check passes.
    await waitForQuery(
      prom.url,
      `max(kube_deployment_status_replicas{namespace="${NS}",deployment="api-server"}) - max(kube_deployment_status_replicas_updated{namespace="${NS}",deployment="api-server"})`,
      (v) => v.length === 1 && v[0] === 0,
      10_000,
    );
  });

  // Regression: the verification read kube_deployment_status_replicas alone, which leaves
  // out terminating pods: the run succeeded while a pod of the workload still ran.
  it('scale-to-zero: nothing changes until security approves; then payments goes to 0 and PromQL confirms no pod runs, terminating ones included', async () => {
    // One pod is terminating already (a long grace period): it still runs, and no replica count shows it.
    const lingering = fake.list('pods', NS).find((p) => p.metadata.ownerReferences?.[0]?.name.startsWith('payments-'))!;
    lingering.metadata.deletionTimestamp = new Date().toISOString();
    fake.cluster.refreshStatuses(NS);
    fake.clearRequests();
    const d = await svc.post('/api/v1/incidents', { id: 'SEC-17', root_cause: 'security_incident', confidence: 1, service: 'payments', context: { deployment: 'payments', namespace: NS } });
    assert.equal(d.body.action, 'approval_required');
    assert.equal(d.body.runbook, 'scale-to-zero');
    assert.equal(fake.requests.filter((q) => q.method !== 'GET').length, 0, 'nothing changes before approval');
    const audit = (await svc.get('/api/v1/audit?incident_id=SEC-17&event=APPROVAL_REQUIRED')).body.events[0];
    assert.equal(audit.details.approver, 'security-team');
    assert.deepEqual(audit.details.actions, [`kubectl scale deployment payments --replicas=0 -n ${NS}`]);

    const a = await svc.post(`/api/v1/approvals/${d.body.approval_id}/approve`, { by: 'sam', comment: 'SEC-17 confirmed' });
    const id = a.body.result.execution_id;
    assert.equal(a.body.result.action, 'executed');
    // The replica count reaches 0 and holds; the terminating pod keeps the run verifying.
    const steps = async () => (await svc.get(`/api/v1/executions/${id}`)).body;
    for (let e = await steps(); !e.steps.some((s: any) => s.phase === 'post_check'); e = await steps()) {
      assert.equal(e.state, 'running', JSON.stringify(e.steps));
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 5_000));
    const verifying = await steps();
    assert.equal(verifying.state, 'running', `verified while pod ${lingering.metadata.name} still runs: ${JSON.stringify(verifying.steps)}`);
    assert.equal(fake.get('deployments', NS, 'payments')!.spec.replicas, 0);
    // The pod exits: now no pod of payments is left.
    fake.cluster.remove('pods', NS, lingering.metadata.name);
    // Two holds of 30 s in a row are left (the replica count's, then PromQL's after a scrape).
    const e = await finished(id, 150_000);
    assert.equal(e.state, 'succeeded', e.outcome);
    assert.equal(fake.count('PUT', `/apis/apps/v1/namespaces/${NS}/deployments/payments/scale`), 1);
    assert.deepEqual(
      e.steps.map((s: any) => [s.phase, s.ok]),
      [
        ['pre_check', true],
        ['action', true],
        ['post_check', true],
        ['post_check', true],
      ],
    );
    assert.match(e.steps[3].summary, /^promql count\(kube_pod_owner\{namespace="production",owner_kind="ReplicaSet",owner_name=~"payments-\[a-z0-9\]\{1,10\}"\}\) == 0$/);
    assert.equal(e.plan.rollback, null);
  });
});
