import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createKubeClients,
  createKubernetesCheckRunner,
  createKubernetesEnricher,
  isPodReady,
  listWorkloadPods,
  readRolloutHistory,
  readWorkload,
  type KubeClients,
} from '../../src/checks/kubernetes.js';
import { createNamedCheckRunner } from '../../src/checks/named.js';
import type { RenderedKubernetesCheck } from '../../src/domain/index.js';
import { createKubernetesActionExecutor } from '../../src/execute/actions/kubernetes.js';
import type { CheckOutcome } from '../../src/execute/ports.js';
import type { KubeFake } from '../helpers/kube-fake/index.js';
import { EVICTION, kubeAction, namedCheck, startFakeEnv, stepContext } from './setup.js';

/**
 * The seed's Kubernetes runbooks, step by step, as the execution runner will
 * drive them: enrich → pre-checks → action → post-checks → rollback.
 *
 * By default against the API fake. With RECTIFY_TEST_KUBECONFIG set, against
 * that cluster instead (namespace RECTIFY_TEST_NAMESPACE, default rectify-e2e,
 * seeded from deploy/kubernetes/e2e-fixtures.yaml; see deploy/kubernetes/README.md);
 * the fake-only assertions (exact request counts) are skipped then.
 */
const REAL_KUBECONFIG = process.env.RECTIFY_TEST_KUBECONFIG;
const REAL = REAL_KUBECONFIG !== undefined && REAL_KUBECONFIG !== '';
const NS = REAL ? process.env.RECTIFY_TEST_NAMESPACE || 'rectify-e2e' : 'production';
/** A real cluster pulls images and schedules pods; the fake takes milliseconds. */
const SETTLE_MS = REAL ? 180_000 : 5_000;
const INTERVAL_MS = REAL ? 2_000 : 50;

function settled(kind: 'deployment', name: string): RenderedKubernetesCheck {
  return { type: 'kubernetes', condition: 'deployment_ready', kind, name, namespace: NS, params: {}, timeoutMs: SETTLE_MS, intervalMs: INTERVAL_MS };
}
function assertPassed(o: CheckOutcome, what: string): void {
  assert.equal(o.ok, true, `${what}: ${o.detail}`);
}

describe(`seed runbooks end to end (${REAL ? `real cluster, namespace ${NS}` : 'API fake'})`, { timeout: REAL ? 900_000 : 60_000 }, () => {
  let fake: KubeFake | undefined;
  let clients: KubeClients;
  let incidentPod: string;

  before(async () => {
    if (REAL) {
      clients = await createKubeClients({ mode: 'kubeconfig', kubeconfigPath: REAL_KUBECONFIG, callTimeoutMs: 15_000 });
      const w = await readWorkload(clients, { kind: 'Deployment', name: 'api-server', namespace: NS }, AbortSignal.timeout(30_000));
      const pods = await listWorkloadPods(clients, w, AbortSignal.timeout(30_000));
      const pod = pods.find(isPodReady);
      assert.ok(pod?.metadata?.name, `no ready api-server pod in ${NS}: apply deploy/kubernetes/e2e-fixtures.yaml first`);
      incidentPod = pod.metadata.name;
    } else {
      const env = await startFakeEnv();
      fake = env.fake;
      clients = env.clients;
      fake.addNode('node-a');
      fake.addNode('node-b');
      fake.addDeployment(NS, 'api-server', 3, { podNames: ['api-server-abc123'], restartCount: 1, lastTerminatedAt: new Date().toISOString() });
      fake.addDeployment(NS, 'worker', 3);
      fake.addDeployment(NS, 'checkout', 3, { revisions: 2 });
      incidentPod = 'api-server-abc123';
    }
  });
  after(async () => {
    await fake?.close();
  });

  it('INC001 restart-pod: enrich, pre-checks, evict, the replacement becomes Ready', async () => {
    const ctx = stepContext({ startedAt: Date.now() });
    const given = { pod_name: incidentPod, namespace: NS };
    const values: Record<string, string> = { ...given, ...(await createKubernetesEnricher(clients).enrich(given, ctx.signal)) };
    assert.equal(values.deployment, 'api-server');
    assert.equal(values.workload_kind, 'Deployment');
    assert.equal(values.replicas, '3');

    const named = createNamedCheckRunner({ kube: clients });
    assertPassed(await named.run(namedCheck('replicas_greater_than_one', values), ctx), 'replicas_greater_than_one');
    assertPassed(await named.run(namedCheck('recent_restarts_less_than_three', values, { limit: 3, window_minutes: 60 }), ctx), 'recent_restarts_less_than_three');

    fake?.clearRequests();
    const exec = createKubernetesActionExecutor(clients);
    const out = await exec.run(kubeAction('evict_pod', 'pod', incidentPod, NS, {}, 30_000), ctx);
    assert.equal(out.ok, true, out.detail);
    if (fake) {
      assert.equal(fake.count('POST', `/api/v1/namespaces/${NS}/pods/${incidentPod}/eviction`), 1);
      assert.equal(fake.count('POST', EVICTION), 1);
      assert.equal(fake.count('DELETE', /.*/), 0);
    }

    const post = await named.run(namedCheck('pod_becomes_ready', values, {}, SETTLE_MS, INTERVAL_MS), ctx);
    assertPassed(post, 'pod_becomes_ready');
    assert.match(post.detail, /new: /);
    const w = await readWorkload(clients, { kind: 'Deployment', name: 'api-server', namespace: NS }, AbortSignal.timeout(30_000));
    const names = (await listWorkloadPods(clients, w, AbortSignal.timeout(30_000))).map((p) => p.metadata?.name);
    assert.ok(!names.includes(incidentPod), 'the evicted pod is gone; its replacement has a new name');
  });

  it('INC002 scale-up: below max, scale 3 → 5 recording old_replicas, the rollback restores 3', async () => {
    const ctx = stepContext({ startedAt: Date.now() });
    const given = { deployment: 'worker', namespace: NS, new_replicas: '5', old_replicas: '3' };
    const values: Record<string, string> = { ...given, ...(await createKubernetesEnricher(clients).enrich(given, ctx.signal)) };
    assert.equal(values.new_replicas, '5', "new_replicas is the incident's to choose");

    const named = createNamedCheckRunner({ kube: clients });
    assertPassed(await named.run(namedCheck('current_replicas_below_max', values, { max_replicas: 10 }), ctx), 'current_replicas_below_max');

    fake?.clearRequests();
    const exec = createKubernetesActionExecutor(clients);
    const up = await exec.run(kubeAction('scale', 'deployment', 'worker', NS, { replicas: values.new_replicas! }, 30_000), ctx);
    assert.equal(up.ok, true, up.detail);
    assert.equal(up.facts?.old_replicas, '3');
    const kube = createKubernetesCheckRunner(clients);
    assertPassed(await kube.run(settled('deployment', 'worker'), ctx), 'worker ready at 5');
    assert.equal((await readWorkload(clients, { kind: 'Deployment', name: 'worker', namespace: NS }, ctx.signal)).ready, 5);

    // The runbook's rollback: kubectl scale … --replicas={old_replicas}, filled from the action's facts.
    const back = await exec.run(kubeAction('scale', 'deployment', 'worker', NS, { replicas: up.facts!.old_replicas! }, 30_000), ctx);
    assert.equal(back.ok, true, back.detail);
    assertPassed(await kube.run(settled('deployment', 'worker'), ctx), 'worker ready at 3');
    assert.equal((await readWorkload(clients, { kind: 'Deployment', name: 'worker', namespace: NS }, ctx.signal)).desired, 3);
    if (fake) assert.equal(fake.count('PUT', `/apis/apps/v1/namespaces/${NS}/deployments/worker/scale`), 2);
  });

  it('INC003 rollback-deployment: exists, previous revision, undo, and the undo of the undo', async () => {
    const ctx = stepContext({ startedAt: Date.now() });
    const values = { deployment: 'checkout', namespace: NS };
    const named = createNamedCheckRunner({ kube: clients });
    assertPassed(await named.run(namedCheck('deployment_exists', values), ctx), 'deployment_exists');
    assertPassed(await named.run(namedCheck('previous_revision_available', values), ctx), 'previous_revision_available');

    const image = async (): Promise<string | undefined> =>
      (await readRolloutHistory(clients, NS, 'checkout', ctx.signal)).deployment.spec?.template.spec?.containers[0]?.image;
    const original = await image();
    const history = await readRolloutHistory(clients, NS, 'checkout', ctx.signal);
    const previous = history.revisions.find((r) => r.revision < history.current)!;

    const exec = createKubernetesActionExecutor(clients);
    const undo = await exec.run(kubeAction('rollout_undo', 'deployment', 'checkout', NS, {}, 30_000), ctx);
    assert.equal(undo.ok, true, undo.detail);
    assert.equal(undo.facts?.to_revision, String(previous.revision));
    assert.equal(await image(), previous.template.spec?.containers[0]?.image);
    const kube = createKubernetesCheckRunner(clients);
    assertPassed(await kube.run(settled('deployment', 'checkout'), ctx), 'checkout rolled back');

    const redo = await exec.run(kubeAction('rollout_undo', 'deployment', 'checkout', NS, {}, 30_000), ctx);
    assert.equal(redo.ok, true, redo.detail);
    assert.equal(await image(), original);
    assertPassed(await kube.run(settled('deployment', 'checkout'), ctx), 'checkout restored');
  });
});
