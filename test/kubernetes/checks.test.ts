import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { EnrichmentRefused, KUBERNETES_ENRICHMENT } from '../../src/domain/index.js';
import { createKubeClients, createKubernetesCheckRunner, createKubernetesEnricher, type KubeClients } from '../../src/checks/kubernetes.js';
import { createNamedCheckRunner } from '../../src/checks/named.js';
import { createKubernetesActionExecutor } from '../../src/execute/actions/kubernetes.js';
import type { RenderedKubernetesCheck } from '../../src/domain/index.js';
import { createManualClock } from '../../src/lib/index.js';
import type { KubeFake } from '../helpers/kube-fake/index.js';
import { kubeAction, namedCheck, startFakeEnv, stepContext, waitFor } from './setup.js';

const NS = 'production';

/** The enricher's values; fails the test when it refused. */
function enrichedValues(out: Record<string, string> | EnrichmentRefused): Record<string, string> {
  assert.ok(!(out instanceof EnrichmentRefused), out instanceof EnrichmentRefused ? out.reason : '');
  return out;
}

// Timeouts are not multiples of the interval: the shared poll loop could otherwise start a last
// attempt with ~1ms left, whose "no answer" would replace the informative detail asserted here.
function kubeCheck(condition: string, kind: RenderedKubernetesCheck['kind'], name: string, namespace: string | null, timeoutMs = 500): RenderedKubernetesCheck {
  return { type: 'kubernetes', condition, kind, name, namespace, params: {}, timeoutMs, intervalMs: 40 };
}

describe('kubernetes enrichment, checks and named checks against the API fake', () => {
  let fake: KubeFake;
  let clients: KubeClients;

  beforeEach(async () => {
    ({ fake, clients } = await startFakeEnv());
    fake.addNode('node-a');
  });
  afterEach(async () => {
    await fake.close();
  });

  describe('enricher', () => {
    it('finds the deployment and replica counts from namespace + pod_name (INC001)', async () => {
      fake.addDeployment(NS, 'api-server', 3, { podNames: ['api-server-abc123'], readyReplicas: 2 });
      const out = await createKubernetesEnricher(clients).enrich({ namespace: NS, pod_name: 'api-server-abc123' }, AbortSignal.timeout(5000));
      assert.deepEqual(out, {
        workload_kind: 'Deployment',
        workload: 'api-server',
        deployment: 'api-server',
        replicas: '3',
        ready_replicas: '2',
        old_replicas: '3',
        new_replicas: '4',
      });
      // Pod → ReplicaSet → Deployment: three reads.
      assert.deepEqual(
        fake.requests.map((r) => `${r.method} ${r.path}`),
        [
          `GET /api/v1/namespaces/${NS}/pods/api-server-abc123`,
          `GET /apis/apps/v1/namespaces/${NS}/replicasets/${fake.list('replicasets', NS)[0]!.metadata.name}`,
          `GET /apis/apps/v1/namespaces/${NS}/deployments/api-server`,
        ],
      );
    });

    it('returns the cluster facts whatever the incident says, keeps its names and new_replicas (INC002), and caps new_replicas at max_replicas', async () => {
      fake.addDeployment(NS, 'worker', 3);
      const enricher = createKubernetesEnricher(clients);
      const given = { deployment: 'worker', namespace: NS, new_replicas: '5', old_replicas: '3' };
      const out = await enricher.enrich(given, AbortSignal.timeout(5000));
      assert.deepEqual(out, { workload_kind: 'Deployment', workload: 'worker', replicas: '3', ready_replicas: '3', old_replicas: '3' });
      // Labels naming the facts are answered with the cluster's values.
      const claimed = await enricher.enrich(
        { deployment: 'worker', namespace: NS, new_replicas: '1', old_replicas: '1', ready_replicas: '9' },
        AbortSignal.timeout(5000),
      );
      assert.deepEqual(claimed, { workload_kind: 'Deployment', workload: 'worker', replicas: '3', ready_replicas: '3', old_replicas: '3' });
      // A target count the alert gives is its own (a runbook may scale to {replicas}).
      const target = enrichedValues(await enricher.enrich({ deployment: 'worker', namespace: NS, replicas: '6' }, AbortSignal.timeout(5000)));
      assert.equal(target.replicas, undefined);
      for (const k of KUBERNETES_ENRICHMENT.facts) assert.ok((KUBERNETES_ENRICHMENT.adds as readonly string[]).includes(k), k);
      const capped = enrichedValues(await enricher.enrich({ deployment: 'worker', namespace: NS, max_replicas: '3' }, AbortSignal.timeout(5000)));
      assert.equal(capped.new_replicas, '3');
      const dflt = enrichedValues(await createKubernetesEnricher(clients, { defaultMaxReplicas: 3 }).enrich({ deployment: 'worker', namespace: NS }, AbortSignal.timeout(5000)));
      assert.equal(dflt.new_replicas, '3');
    });

    // Regression: new_replicas was worked out against the default cap of 10 (or the
    // incident's max_replicas, which could raise it) whatever the runbook's own cap: a
    // runbook capped at 20 got a deployment's own 12, a no-op scale its pre-check failed.
    it('works new_replicas out against the runbook\'s cap, which the incident\'s max_replicas may lower, never raise', async () => {
      fake.addDeployment(NS, 'big', 12);
      const enricher = createKubernetesEnricher(clients);
      const newReplicas = async (given: Record<string, string>, opts?: { maxReplicas: number }) =>
        enrichedValues(await enricher.enrich({ deployment: 'big', namespace: NS, ...given }, AbortSignal.timeout(5000), opts)).new_replicas;
      assert.equal(await newReplicas({}, { maxReplicas: 20 }), '13');
      assert.equal(await newReplicas({}), '12');
      assert.equal(await newReplicas({ max_replicas: '12' }, { maxReplicas: 20 }), '12');
      assert.equal(await newReplicas({ max_replicas: '50' }, { maxReplicas: 20 }), '13');
      assert.equal(await newReplicas({ max_replicas: '50' }), '12');
    });

    it('resolves a StatefulSet pod and accepts `pod` for the pod name', async () => {
      fake.addStatefulSet(NS, 'db', 3);
      const out = await createKubernetesEnricher(clients).enrich({ namespace: NS, pod: 'db-1' }, AbortSignal.timeout(5000));
      assert.deepEqual(out, {
        pod_name: 'db-1',
        workload_kind: 'StatefulSet',
        workload: 'db',
        statefulset: 'db',
        replicas: '3',
        ready_replicas: '3',
        old_replicas: '3',
        new_replicas: '4',
      });
      // Lint counts on this contract: everything the enricher adds is declared.
      for (const k of Object.keys(out)) assert.ok((KUBERNETES_ENRICHMENT.adds as readonly string[]).includes(k), k);
    });

    it('refuses a missing pod or deployment and invalid names, saying which value and why; calls nothing for invalid names', async () => {
      const enricher = createKubernetesEnricher(clients);
      const refusal = async (values: Record<string, string>): Promise<string> => {
        const out = await enricher.enrich(values, AbortSignal.timeout(5000));
        assert.ok(out instanceof EnrichmentRefused, JSON.stringify(out));
        return out.reason;
      };
      assert.equal(
        await refusal({ namespace: NS, pod_name: 'gone' }),
        `the alert's pod_name "gone" was not found in namespace "${NS}" (it may have been replaced: a new pod has a new name): nothing was acted on`,
      );
      assert.equal(await refusal({ namespace: NS, deployment: 'gone' }), `the alert's deployment "gone" was not found in namespace "${NS}": nothing was acted on`);
      fake.clearRequests();
      assert.equal(
        await refusal({ namespace: 'Prod;rm', pod_name: 'x' }),
        `the alert's namespace "Prod;rm" is not a valid Kubernetes namespace name: expected a Kubernetes namespace (RFC 1123 label); nothing was read from the cluster or acted on`,
      );
      assert.equal(
        await refusal({ namespace: NS, pod_name: '../../nodes/x' }),
        `the alert's pod_name "../../nodes/x" is not a valid Kubernetes name: expected a Kubernetes name (lowercase letters, digits, "-" and "."); nothing was read from the cluster or acted on`,
      );
      assert.equal(
        await refusal({ namespace: NS, pod: '', pod_name: 'web-1' }),
        `the alert's pod "" is not a valid Kubernetes name: it is empty, expected a Kubernetes name (lowercase letters, digits, "-" and "."); nothing was read from the cluster or acted on`,
      );
      assert.equal(
        await refusal({ namespace: NS, deployment: 'Web' }),
        `the alert's deployment "Web" is not a valid Kubernetes name: expected a Kubernetes name (lowercase letters, digits, "-" and "."); nothing was read from the cluster or acted on`,
      );
      assert.equal(fake.requests.length, 0);
      // Nothing to start from (no pod, no deployment): nothing to say, whatever the namespace.
      assert.deepEqual(await enricher.enrich({ namespace: 'Prod;rm' }, AbortSignal.timeout(5000)), {});
    });

    it('an API failure other than 404 propagates (the engine fails safe)', async () => {
      fake.addDeployment(NS, 'api-server', 3, { podNames: ['api-server-abc123'] });
      fake.injectError('GET', `/api/v1/namespaces/${NS}/pods/api-server-abc123`, 500, 'InternalError', 'etcd unavailable');
      await assert.rejects(createKubernetesEnricher(clients).enrich({ namespace: NS, pod_name: 'api-server-abc123' }, AbortSignal.timeout(5000)), /etcd unavailable/);
    });
  });

  describe('kubernetes check runner', () => {
    it('deployment_ready, pod_ready and exists pass on a healthy cluster', async () => {
      fake.addDeployment(NS, 'api-server', 2, { podNames: ['api-server-abc123'] });
      const runner = createKubernetesCheckRunner(clients);
      const ready = await runner.run(kubeCheck('deployment_ready', 'deployment', 'api-server', NS), stepContext());
      assert.deepEqual(ready, { ok: true, detail: 'Deployment production/api-server: ready 2/2, updated 2, total 2', observed: '2/2', attempts: 1 });
      assert.equal((await runner.run(kubeCheck('pod_ready', 'pod', 'api-server-abc123', NS), stepContext())).ok, true);
      assert.equal((await runner.run(kubeCheck('exists', 'node', 'node-a', null), stepContext())).detail, 'node node-a exists');
      // At 0 ms and at the timeout (the interval falls past it): the detail is the last attempt's answer.
      const missing = await runner.run({ ...kubeCheck('exists', 'deployment', 'nope', NS, 100), intervalMs: 1000 }, stepContext());
      assert.deepEqual(missing, { ok: false, detail: 'deployment production/nope not found after 2 attempts', attempts: 2 });
    });

    it('a check the API would not answer (503, 403) is inconclusive; a 404 or a state read is an answer', async () => {
      const runner = createKubernetesCheckRunner(clients);
      const ready = (name: string) => runner.run({ ...kubeCheck('deployment_ready', 'deployment', name, NS, 100), intervalMs: 1000 }, stepContext());
      fake.addDeployment(NS, 'api-a', 2);
      fake.injectError('GET', `/apis/apps/v1/namespaces/${NS}/deployments/api-a`, 503, 'ServiceUnavailable', 'the server is currently unable to handle the request', 100);
      const down = await ready('api-a');
      assert.deepEqual([down.ok, down.inconclusive], [false, true]);
      fake.addDeployment(NS, 'api-b', 2);
      fake.injectError('GET', `/apis/apps/v1/namespaces/${NS}/deployments/api-b`, 403, 'Forbidden', 'deployments.apps "api-b" is forbidden', 100);
      const refused = await ready('api-b');
      assert.deepEqual([refused.ok, refused.inconclusive], [false, true]);
      // The cluster's own answers: gone, or not ready.
      const gone = await ready('nope');
      assert.deepEqual([gone.ok, gone.inconclusive], [false, undefined]);
      fake.addDeployment(NS, 'worker', 2);
      fake.readyDelayMs = 60_000;
      fake.cluster.put('deployments', { ...fake.get('deployments', NS, 'worker')!, spec: { ...fake.get('deployments', NS, 'worker')!.spec, replicas: 3 } });
      const notReady = await ready('worker');
      assert.deepEqual([notReady.ok, notReady.inconclusive], [false, undefined]);
    });

    it('deployment_ready polls until a scale-up is ready, and times out while it is not', async () => {
      fake.addDeployment(NS, 'worker', 2);
      fake.readyDelayMs = 200;
      fake.cluster.put('deployments', { ...fake.get('deployments', NS, 'worker')!, spec: { ...fake.get('deployments', NS, 'worker')!.spec, replicas: 3 } });
      const runner = createKubernetesCheckRunner(clients);
      const notYet = await runner.run(kubeCheck('deployment_ready', 'deployment', 'worker', NS, 100), stepContext());
      assert.equal(notYet.ok, false);
      assert.match(notYet.detail, /^Deployment production\/worker: ready 2\/3/);
      const later = await runner.run(kubeCheck('deployment_ready', 'deployment', 'worker', NS, 2000), stepContext());
      assert.equal(later.ok, true, later.detail);
      assert.ok(later.attempts > 1);
    });

    // Regression (the black-box probe): deployment_ready with timeout_seconds 3 and the
    // default 5 s interval read "ready 3/5 … after 1 attempt" at once after the scale,
    // and the scale was rolled back. The last attempt is made at the timeout. At a tenth
    // of the scale: a 300 ms timeout, a 500 ms interval, replicas Ready 100 ms after the scale.
    it('deployment_ready with a timeout shorter than its interval is tried again at its timeout', async () => {
      fake.addDeployment(NS, 'worker', 2);
      fake.readyDelayMs = 100;
      const started = performance.now();
      fake.cluster.put('deployments', { ...fake.get('deployments', NS, 'worker')!, spec: { ...fake.get('deployments', NS, 'worker')!.spec, replicas: 3 } });
      const out = await createKubernetesCheckRunner(clients).run({ ...kubeCheck('deployment_ready', 'deployment', 'worker', NS, 300), intervalMs: 500 }, stepContext());
      const took = performance.now() - started;
      assert.deepEqual(out, { ok: true, detail: 'Deployment production/worker: ready 3/3, updated 3, total 3', observed: '3/3', attempts: 2 });
      assert.ok(took >= 295 && took < 600, `passed after ${took}ms`);
    });

    // Regression: right after an eviction or a pod's delete (the generation unchanged) the
    // status still said ready 3/3 until the controllers caught up, and deployment_ready
    // passed before the replacement pod existed.
    it('deployment_ready counts the ready pods a listing finds: a status that still counts a pod just removed does not pass', async () => {
      // Controllers that have not reacted yet: the status stays as it was.
      fake.cluster.controllerDelayMs = 60_000;
      const { pods } = fake.addDeployment(NS, 'web', 3);
      const sts = fake.addStatefulSet(NS, 'db', 2);
      fake.deletePod(NS, pods[0]!.metadata.name!);
      fake.deletePod(NS, sts.pods[1]!.metadata.name!);
      const runner = createKubernetesCheckRunner(clients);
      const ready = (name: string, kind: RenderedKubernetesCheck['kind'] = 'deployment') => runner.run({ ...kubeCheck('deployment_ready', kind, name, NS, 100), intervalMs: 1000 }, stepContext());
      assert.deepEqual(await ready('web'), {
        ok: false,
        detail: 'Deployment production/web: ready 3/3, updated 3, total 3; but 2 ready pod(s) listed (its status lags) after 2 attempts',
        observed: '2/3',
        attempts: 2,
      });
      assert.deepEqual(await ready('db', 'statefulset'), {
        ok: false,
        detail: 'StatefulSet production/db: ready 2/2, updated 2, total 2; but 1 ready pod(s) listed (its status lags) after 2 attempts',
        observed: '1/2',
        attempts: 2,
      });
    });

    // Regression: min_ready was accepted by the loader and never read: 1 of 1 ready and a
    // deployment scaled to 0 passed a check written with min_ready: 2.
    it('deployment_ready with min_ready passes only a settled workload with at least that many ready', async () => {
      fake.addDeployment(NS, 'web1', 1);
      fake.addDeployment(NS, 'web0', 0);
      fake.addDeployment(NS, 'web2', 2);
      fake.addDeployment(NS, 'web3', 3, { readyReplicas: 2 });
      fake.addStatefulSet(NS, 'db', 1);
      const runner = createKubernetesCheckRunner(clients);
      const ready = (name: string, min?: number, kind: RenderedKubernetesCheck['kind'] = 'deployment') =>
        runner.run({ ...kubeCheck('deployment_ready', kind, name, NS, 100), intervalMs: 1000, params: min === undefined ? {} : { min_ready: min } }, stepContext());
      assert.deepEqual(await ready('web1', 2), { ok: false, detail: 'Deployment production/web1: ready 1/1, updated 1, total 1, fewer than min_ready 2 after 2 attempts', observed: '1/1', attempts: 2 });
      assert.deepEqual(await ready('web0', 1), { ok: false, detail: 'Deployment production/web0: ready 0/0, updated 0, total 0, fewer than min_ready 1 after 2 attempts', observed: '0/0', attempts: 2 });
      // Without min_ready a deployment scaled to 0 has settled: every one of its 0 replicas is ready.
      assert.deepEqual(await ready('web0'), { ok: true, detail: 'Deployment production/web0: ready 0/0, updated 0, total 0', observed: '0/0', attempts: 1 });
      assert.deepEqual(await ready('web2', 2), { ok: true, detail: 'Deployment production/web2: ready 2/2, updated 2, total 2 (min_ready 2)', observed: '2/2', attempts: 1 });
      // The floor never relaxes the settled rule: 2 of 3 ready is a rollout not done.
      assert.deepEqual(await ready('web3', 2), { ok: false, detail: 'Deployment production/web3: ready 2/3, updated 3, total 3 (min_ready 2) after 2 attempts', observed: '2/3', attempts: 2 });
      assert.deepEqual(await ready('db', 2, 'statefulset'), { ok: false, detail: 'StatefulSet production/db: ready 1/1, updated 1, total 1, fewer than min_ready 2 after 2 attempts', observed: '1/1', attempts: 2 });
      // A min_ready that is not a whole number above 0 fails at once, without a read.
      const before = fake.requests.length;
      assert.deepEqual(await runner.run({ ...kubeCheck('deployment_ready', 'deployment', 'web2', NS), params: { min_ready: 0 } }, stepContext()), {
        ok: false,
        detail: 'min_ready must be a whole number above 0, got "0"',
        attempts: 0,
      });
      assert.equal(fake.requests.length, before);
    });

    it('an unknown condition or a wrong kind fails at once without calling the API', async () => {
      const runner = createKubernetesCheckRunner(clients);
      assert.deepEqual(await runner.run(kubeCheck('healthy', 'deployment', 'x', NS), stepContext()), {
        ok: false,
        detail: 'unknown kubernetes condition "healthy" (known: deployment_ready, pod_ready, exists)',
        attempts: 0,
      });
      assert.equal((await runner.run(kubeCheck('pod_ready', 'deployment', 'x', NS), stepContext())).detail, 'condition pod_ready needs kind pod, got deployment');
      assert.equal(fake.requests.length, 0);
    });
  });

  describe('named checks (Kubernetes)', () => {
    const INC001 = { namespace: NS, pod_name: 'api-server-abc123' };

    it('replicas_greater_than_one passes for 3 replicas and fails for 1', async () => {
      fake.addDeployment(NS, 'api-server', 3, { podNames: ['api-server-abc123'] });
      fake.addDeployment(NS, 'solo', 1, { podNames: ['solo-aaaaa'] });
      const runner = createNamedCheckRunner({ kube: clients });
      const ok = await runner.run(namedCheck('replicas_greater_than_one', INC001), stepContext());
      assert.deepEqual(ok, { ok: true, detail: 'Deployment production/api-server has 3 replica(s) (3 ready); needs more than 1', observed: '3', attempts: 1 });
      const no = await runner.run(namedCheck('replicas_greater_than_one', { namespace: NS, pod_name: 'solo-aaaaa' }), stepContext());
      assert.equal(no.ok, false);
      assert.equal(no.detail, 'Deployment production/solo has 1 replica(s) (1 ready); needs more than 1 after 1 attempt');
      assert.equal(no.attempts, 1, 'a snapshot check is asked once, not polled');
      const min = await runner.run(namedCheck('replicas_greater_than_one', INC001, { min: 3 }), stepContext());
      assert.equal(min.ok, false);
    });

    it('recent_restarts_less_than_three counts restarts whose last termination is recent', async () => {
      const clock = createManualClock(Date.UTC(2026, 0, 1, 12, 0, 0));
      const recent = new Date(Date.UTC(2026, 0, 1, 11, 50, 0)).toISOString();
      const old = new Date(Date.UTC(2026, 0, 1, 9, 0, 0)).toISOString();
      fake.addDeployment(NS, 'api-server', 3, { podNames: ['api-server-abc123'], restartCount: 2, lastTerminatedAt: recent });
      fake.addDeployment(NS, 'flappy', 3, { podNames: ['flappy-aaaaa'], restartCount: 5, lastTerminatedAt: recent });
      fake.addDeployment(NS, 'healed', 3, { podNames: ['healed-aaaaa'], restartCount: 5, lastTerminatedAt: old });
      const runner = createNamedCheckRunner({ kube: clients, clock });
      const ok = await runner.run(namedCheck('recent_restarts_less_than_three', INC001), stepContext());
      assert.equal(ok.ok, true, ok.detail);
      assert.equal(ok.detail, 'pod production/api-server-abc123: 2 recent restart(s) (container main); limit 3 in 60m');
      const flappy = await runner.run(namedCheck('recent_restarts_less_than_three', { namespace: NS, pod_name: 'flappy-aaaaa' }), stepContext());
      assert.equal(flappy.ok, false);
      assert.equal(flappy.observed, '5');
      const healed = await runner.run(namedCheck('recent_restarts_less_than_three', { namespace: NS, pod_name: 'healed-aaaaa' }), stepContext());
      assert.equal(healed.ok, true, healed.detail);
      const limit = await runner.run(namedCheck('recent_restarts_less_than_three', { namespace: NS, pod_name: 'flappy-aaaaa' }, { limit: 10 }), stepContext());
      assert.equal(limit.ok, true);
      const gone = await runner.run(namedCheck('recent_restarts_less_than_three', { namespace: NS, pod_name: 'gone' }), stepContext());
      assert.equal(gone.ok, false);
      assert.match(gone.detail, /^pod production\/gone not found/);
    });

    it('pod_becomes_ready fails while the workload is short of ready replicas', async () => {
      fake.readyDelayMs = 60_000;
      fake.addDeployment(NS, 'api-server', 3, { podNames: ['api-server-abc123'], readyReplicas: 2 });
      const out = await createNamedCheckRunner({ kube: clients }).run(namedCheck('pod_becomes_ready', { ...INC001, deployment: 'api-server' }, {}, 200, 80), stepContext());
      assert.equal(out.ok, false);
      // The incident's pod is still there (nothing evicted it), so it is not counted as a replacement.
      assert.match(out.detail, /^Deployment production\/api-server: ready 2\/3, updated 3, total 3; 1 ready pod\(s\) counted; .*pod api-server-abc123 still present after \d+ attempts$/);
      assert.ok(out.attempts > 1, 'a convergence check polls');
    });

    // Regression: a deployment scaled to 0 while the run verified (its pod evicted, then a
    // person or a scale-to-zero tool) passed as "ready 0/0, updated 0, total 0; 0 ready
    // pod(s) counted": the run was recorded verified with nothing serving.
    it('pod_becomes_ready fails on a workload scaled to 0: nothing to become ready', async () => {
      fake.addDeployment(NS, 'web', 2, { podNames: ['web-aaa', 'web-bbb'] });
      const exec = createKubernetesActionExecutor(clients);
      const run = stepContext();
      const evicted = await exec.run(kubeAction('evict_pod', 'pod', 'web-aaa', NS), run);
      assert.equal(evicted.ok, true, evicted.detail);
      const zero = await exec.run(kubeAction('scale', 'deployment', 'web', NS, { replicas: '0', allow_zero: 'true' }), stepContext());
      assert.equal(zero.ok, true, zero.detail);
      await waitFor('no pods and a settled status', () => {
        const d = fake.get('deployments', NS, 'web')!;
        return fake.list('pods', NS).length === 0 && (d.status?.replicas ?? 0) === 0 && d.status?.observedGeneration === d.metadata.generation;
      });
      const out = await createNamedCheckRunner({ kube: clients }).run(namedCheck('pod_becomes_ready', { namespace: NS, pod_name: 'web-aaa', deployment: 'web' }, {}, 200, 80), run);
      assert.equal(out.ok, false, out.detail);
      assert.match(out.detail, /^Deployment production\/web: ready 0\/0, updated 0, total 0; 0 ready pod\(s\) counted; nothing to become ready: the workload is scaled to 0 after \d+ attempts$/);
      assert.equal(out.observed, '0/0');
    });

    // Regression: a StatefulSet pod deleted by a command: or http: action (nothing of the
    // run read or removed it, so no uid was known) came back under its name, and
    // pod_becomes_ready took the new web-0 for the old one: "pod web-0 still present" to the end.
    describe('pod_becomes_ready on a StatefulSet pod deleted by other means than rectify (no uid known)', () => {
      const check = (timeoutMs: number) => namedCheck('pod_becomes_ready', { namespace: NS, pod: 'web-0', statefulset: 'web' }, {}, timeoutMs, 50);
      /** What `kubectl delete pod web-0` in a command: action does: a delete through the API. */
      const deleteWeb0 = () => clients.core.deleteNamespacedPod({ namespace: NS, name: 'web-0' });
      /** StatefulSet web, its pods created 10 minutes before the run. */
      const addWeb = (): void => {
        fake.addStatefulSet(NS, 'web', 3);
        for (const p of fake.list('pods', NS)) p.metadata.creationTimestamp = new Date(Date.now() - 600_000).toISOString();
      };

      it('the pod recreated under its name (another uid, created since the run started) is the new one: ready, the check passes', async () => {
        addWeb();
        const old = fake.get('pods', NS, 'web-0')!.metadata.uid;
        // The run started 5 s before the action's delete (its command took that long):
        // a successor created within 2 s of the start would be taken for the old pod.
        const ctx = stepContext({ startedAt: Date.now() - 5_000 });
        await deleteWeb0();
        await waitFor('web-0 recreated and ready', () => {
          const now = fake.get('pods', NS, 'web-0');
          return now !== undefined && now.metadata.uid !== old && fake.get('statefulsets', NS, 'web')!.status?.readyReplicas === 3;
        });
        const out = await createNamedCheckRunner({ kube: clients }).run(check(2_000), ctx);
        assert.deepEqual([out.ok, out.detail], [true, `StatefulSet ${NS}/web: ready 3/3, updated 3, total 3; 3 ready pod(s) counted; new: web-0`]);
      });

      it('a successor not ready within the check fails it, as a ready pod short', async () => {
        addWeb();
        const old = fake.get('pods', NS, 'web-0')!.metadata.uid;
        fake.readyDelayMs = 60_000;
        const ctx = stepContext({ startedAt: Date.now() - 5_000 });
        await deleteWeb0();
        await waitFor('web-0 recreated', () => (fake.get('pods', NS, 'web-0')?.metadata.uid ?? old) !== old);
        const out = await createNamedCheckRunner({ kube: clients }).run(check(300), ctx);
        assert.equal(out.ok, false);
        // Not "still present": the new web-0 is counted as the successor, not ready yet.
        assert.match(out.detail, new RegExp(`^StatefulSet ${NS}/web: ready 2/3, updated 3, total 3; 2 ready pod\\(s\\) counted after \\d+ attempts$`));
      });

      it('the old pod still terminating, no successor yet: still present, never passed; nor one nothing deleted, nor one a cluster clock ahead makes look new', async () => {
        addWeb();
        fake.terminationDelayMs = 60_000;
        const ctx = stepContext();
        await deleteWeb0();
        assert.ok(fake.get('pods', NS, 'web-0')!.metadata.deletionTimestamp, 'terminating');
        const runner = createNamedCheckRunner({ kube: clients });
        const out = await runner.run(check(300), ctx);
        assert.equal(out.ok, false);
        assert.match(out.detail, new RegExp(`^StatefulSet ${NS}/web: ready 2/3, updated 2, total 2; 2 ready pod\\(s\\) counted; pod web-0 still present after \\d+ attempts$`));

        // Nothing deleted it, and the API server's clock is 5 minutes ahead of rectify's: web-1,
        // created a minute before the run by the cluster's clock, is still the old pod.
        fake.cluster.serverNow = () => Date.now() + 300_000;
        fake.get('pods', NS, 'web-1')!.metadata.creationTimestamp = new Date(Date.now() + 240_000).toISOString();
        const untouched = await runner.run(namedCheck('pod_becomes_ready', { namespace: NS, pod: 'web-1', statefulset: 'web' }, {}, 300, 50), stepContext());
        assert.equal(untouched.ok, false);
        assert.match(untouched.detail, new RegExp(`; pod web-1 still present after \\d+ attempts$`));
      });
    });

    // Regression: with no uid of the pod known (a command: or http: action was to delete it),
    // a pod under its name created before the run was taken for a successor, and the check
    // passed though nothing was deleted: a Deployment's pod (whose name never comes back),
    // and whenever the API server's clock led rectify's by more than was believed, by less
    // than a Date header's whole seconds tell, or no Date header told it.
    describe('pod_becomes_ready on a pod nothing deleted, no uid of it known: the pod under the name is the old one', () => {
      /**
       * Every pod created `ageMs` ago (real time), stamped by an API server clock `leadMs`
       * ahead of rectify's; then pod_becomes_ready on `pod` in a run started `runAgoMs`
       * ago, the action having deleted nothing.
       */
      const untouched = async (kind: 'deployment' | 'statefulset', leadMs: number, dateHeader: boolean, ageMs: number, runAgoMs = 0) => {
        const pod = kind === 'deployment' ? 'api-7d4b9c-xk2lp' : 'web-0';
        if (kind === 'deployment') fake.addDeployment(NS, 'api', 3, { podNames: [pod] });
        else fake.addStatefulSet(NS, 'web', 3);
        fake.cluster.serverNow = () => Date.now() + leadMs;
        fake.dateHeader = dateHeader;
        for (const p of fake.list('pods', NS)) p.metadata.creationTimestamp = new Date(Date.now() - ageMs + leadMs).toISOString();
        const uid = fake.get('pods', NS, pod)!.metadata.uid;
        const values = { namespace: NS, pod, [kind]: kind === 'deployment' ? 'api' : 'web' };
        const out = await createNamedCheckRunner({ kube: clients }).run(namedCheck('pod_becomes_ready', values, {}, 300, 50), stepContext({ startedAt: Date.now() - runAgoMs }));
        assert.equal(fake.get('pods', NS, pod)!.metadata.uid, uid, 'the pod is the one there before the run');
        return { ok: out.ok, stillPresent: new RegExp(`; pod ${pod} still present after \\d+ attempts$`).test(out.detail), detail: out.detail };
      };
      const failed = { ok: false, stillPresent: true };
      const verdict = (o: { ok: boolean; stillPresent: boolean }) => ({ ok: o.ok, stillPresent: o.stillPresent });

      it("a Deployment's pod, created since the run started by a cluster clock 20 minutes ahead: still present, failed", async () => {
        assert.deepEqual(verdict(await untouched('deployment', 20 * 60_000, true, 5 * 60_000)), failed);
      });
      it("a StatefulSet's pod, the cluster clock 20 minutes ahead (further than believed): still present, failed", async () => {
        assert.deepEqual(verdict(await untouched('statefulset', 20 * 60_000, true, 5 * 60_000)), failed);
      });
      it("a Deployment's pod, no Date header, the cluster clock 3 minutes ahead: still present, failed", async () => {
        assert.deepEqual(verdict(await untouched('deployment', 3 * 60_000, false, 60_000)), failed);
      });
      it("a StatefulSet's pod, no Date header: the clock's lead unknown, still present, failed", async () => {
        assert.deepEqual(verdict(await untouched('statefulset', 3 * 60_000, false, 60_000)), failed);
      });
      // The Date header's whole seconds hide most of a lead under 2 s: a pod created just
      // before the run looked created since it.
      it("a Deployment's pod created 50 ms before the run, the cluster clock 1.95 s ahead: still present, failed", async () => {
        assert.deepEqual(verdict(await untouched('deployment', 1_950, true, 50)), failed);
      });
      it("a StatefulSet's pod created 50 ms before the run, the cluster clock 1.95 s ahead: still present, failed", async () => {
        assert.deepEqual(verdict(await untouched('statefulset', 1_950, true, 50)), failed);
      });
      it("a Deployment's pod created since the run started, the clocks in step: a Deployment's pod under the name is the old one, failed", async () => {
        assert.deepEqual(verdict(await untouched('deployment', 0, true, 10_000, 30_000)), failed);
      });
    });

    // Regression: the checks followed the pod beside a named workload to its owner, where
    // enrichment and the runbook's action use the named one: with kube-state-metrics' pod
    // beside deployment grafana, grafana's restart was guarded by the exporter's 2 replicas.
    it('replicas_greater_than_one and pod_becomes_ready judge the deployment or statefulset named, not the owner of the pod beside it, and do not read that pod', async () => {
      fake.readyDelayMs = 60_000;
      fake.addDeployment(NS, 'grafana', 2, { readyReplicas: 0 });
      fake.addDeployment(NS, 'kube-state-metrics', 3, { podNames: ['kube-state-metrics-6c9f-x1', 'kube-state-metrics-6c9f-x2', 'kube-state-metrics-6c9f-x3'] });
      fake.addStatefulSet(NS, 'db', 1);
      fake.clearRequests();
      const runner = createNamedCheckRunner({ kube: clients });
      const exporterPod = { namespace: NS, pod: 'kube-state-metrics-6c9f-x1' };
      const replicas = await runner.run(namedCheck('replicas_greater_than_one', { ...exporterPod, deployment: 'grafana' }, { min: 2 }), stepContext());
      assert.deepEqual([replicas.ok, replicas.detail], [false, `Deployment ${NS}/grafana has 2 replica(s) (0 ready); needs more than 2 after 1 attempt`]);
      const db = await runner.run(namedCheck('replicas_greater_than_one', { ...exporterPod, statefulset: 'db' }), stepContext());
      assert.deepEqual([db.ok, db.detail], [false, `StatefulSet ${NS}/db has 1 replica(s) (1 ready); needs more than 1 after 1 attempt`]);
      const ready = await runner.run(namedCheck('pod_becomes_ready', { ...exporterPod, deployment: 'grafana' }, {}, 200, 80), stepContext());
      assert.equal(ready.ok, false);
      // grafana's own pods, none ready; the exporter's pod is neither counted nor waited on.
      assert.match(ready.detail, new RegExp(`^Deployment ${NS}/grafana: ready 0/2, updated 2, total 2; 0 ready pod\\(s\\) counted after \\d+ attempts$`));
      assert.equal(fake.requests.some((q) => q.path.includes('/pods/')), false, 'the pod beside the named workload is not read');
      // Named twice: which workload to judge cannot be told.
      const two = await runner.run(namedCheck('replicas_greater_than_one', { namespace: NS, deployment: 'grafana', statefulset: 'db' }), stepContext());
      assert.equal(two.ok, false);
      assert.match(two.detail, /^replicas_greater_than_one: the alert names a deployment "grafana" and a statefulset "db": which workload's replica counts the plan and its rollback carry cannot be told after 1 attempt$/);
      // A pod alone is still followed to its owner.
      const alone = await runner.run(namedCheck('replicas_greater_than_one', exporterPod), stepContext());
      assert.deepEqual([alone.ok, alone.detail], [true, `Deployment ${NS}/kube-state-metrics has 3 replica(s) (3 ready); needs more than 1`]);
    });

    it('current_replicas_below_max: the runbook cap, an incident may only lower it, new_replicas bounded', async () => {
      fake.addDeployment(NS, 'worker', 3);
      fake.addDeployment(NS, 'big', 10);
      const runner = createNamedCheckRunner({ kube: clients });
      const w = { namespace: NS, deployment: 'worker' };
      assert.equal((await runner.run(namedCheck('current_replicas_below_max', { ...w, new_replicas: '5' }, { max_replicas: 10 }), stepContext())).ok, true);
      const big = await runner.run(namedCheck('current_replicas_below_max', { namespace: NS, deployment: 'big' }, { max_replicas: 10 }), stepContext());
      assert.equal(big.ok, false);
      assert.match(big.detail, /^deployment production\/big has 10 replica\(s\); max 10/);
      assert.equal((await runner.run(namedCheck('current_replicas_below_max', { ...w, max_replicas: '3' }, { max_replicas: 10 }), stepContext())).ok, false);
      assert.equal((await runner.run(namedCheck('current_replicas_below_max', { ...w, max_replicas: '50' }, { max_replicas: 4 }), stepContext())).detail.startsWith('deployment production/worker has 3 replica(s); max 4'), true);
      const over = await runner.run(namedCheck('current_replicas_below_max', { ...w, new_replicas: '11' }), stepContext());
      assert.equal(over.ok, false);
      assert.match(over.detail, /^deployment production\/worker: new_replicas 11 would exceed max 10/);
    });

    it('current_replicas_below_max fails a target that is not above the current count: a scale-up never lowers replicas', async () => {
      fake.addDeployment('shop', 'checkout', 8);
      const runner = createNamedCheckRunner({ kube: clients });
      const c = { namespace: 'shop', deployment: 'checkout' };
      const check = (target: string) => runner.run(namedCheck('current_replicas_below_max', { ...c, new_replicas: target }, { max_replicas: 10 }), stepContext());
      assert.deepEqual(await check('1'), {
        ok: false,
        detail: "deployment shop/checkout: new_replicas 1 is not above its 8 replica(s); a scale-up never lowers or keeps the count after 1 attempt",
        observed: '8',
        attempts: 1,
      });
      assert.deepEqual(await check('8'), {
        ok: false,
        detail: "deployment shop/checkout: new_replicas 8 is not above its 8 replica(s); a scale-up never lowers or keeps the count after 1 attempt",
        observed: '8',
        attempts: 1,
      });
      assert.deepEqual(await check('9'), { ok: true, detail: 'deployment shop/checkout has 8 replica(s); max 10', observed: '8', attempts: 1 });
      // At the cap, the cap is the reason given.
      fake.addDeployment('shop', 'full', 10);
      const full = await runner.run(namedCheck('current_replicas_below_max', { namespace: 'shop', deployment: 'full', new_replicas: '10' }, { max_replicas: 10 }), stepContext());
      assert.equal(full.detail, 'deployment shop/full has 10 replica(s); max 10 after 1 attempt');
      assert.equal(fake.count('PUT', /.*/), 0);
    });

    it('deployment_exists and previous_revision_available (INC003)', async () => {
      fake.addDeployment(NS, 'checkout', 3, { revisions: 2 });
      fake.addDeployment(NS, 'fresh', 1, { revisions: 1 });
      const runner = createNamedCheckRunner({ kube: clients });
      const c = { namespace: NS, deployment: 'checkout' };
      assert.deepEqual(await runner.run(namedCheck('deployment_exists', c), stepContext()), { ok: true, detail: 'deployment production/checkout exists', attempts: 1 });
      const missing = await runner.run(namedCheck('deployment_exists', { namespace: NS, deployment: 'nope' }), stepContext());
      assert.equal(missing.ok, false);
      const prev = await runner.run(namedCheck('previous_revision_available', c), stepContext());
      assert.equal(prev.ok, true, prev.detail);
      assert.match(prev.detail, /^deployment production\/checkout is at revision 2; revision 1 \(ReplicaSet checkout-[a-z0-9]+\) is available$/);
      const none = await runner.run(namedCheck('previous_revision_available', { namespace: NS, deployment: 'fresh' }), stepContext());
      assert.equal(none.ok, false);
      assert.match(none.detail, /^deployment production\/fresh is at revision 1 and has no earlier revision \(revisions: 1\)/);
    });

    it('a check missing its executor, its values or its name fails with the reason, never passes', async () => {
      const noKube = createNamedCheckRunner({});
      const out = await noKube.run(namedCheck('replicas_greater_than_one', INC001), stepContext());
      assert.deepEqual(out, {
        ok: false,
        detail: 'replicas_greater_than_one needs the Kubernetes API, and rectify runs without it (give it a kubeconfig or run it in the cluster)',
        attempts: 0,
      });
      const noProm = await createNamedCheckRunner({ kube: clients }).run(namedCheck('error_rate_normalized', { namespace: NS, deployment: 'x' }), stepContext());
      assert.equal(noProm.detail, 'error_rate_normalized needs Prometheus, and no Prometheus URL is configured (--prometheus-url)');
      const unknown = await createNamedCheckRunner({ kube: clients }).run(namedCheck('pods_are_happy', {}), stepContext());
      assert.equal(unknown.ok, false);
      assert.match(unknown.detail, /^unknown named check "pods_are_happy" \(known: replicas_greater_than_one, /);
      const noValue = await createNamedCheckRunner({ kube: clients }).run(namedCheck('deployment_exists', { namespace: NS }), stepContext());
      assert.equal(noValue.ok, false);
      assert.match(noValue.detail, /^deployment_exists: needs the incident value "deployment"/);
      const bad = await createNamedCheckRunner({ kube: clients }).run(namedCheck('deployment_exists', { namespace: NS, deployment: 'A/../b' }), stepContext());
      assert.equal(bad.ok, false);
      assert.match(bad.detail, /value deployment "A\/\.\.\/b" expected a Kubernetes name/);
      assert.equal(fake.requests.length, 0);
    });
  });

  it('the client factory refuses a plain-http kubeconfig without insecure-skip-tls-verify, and auto without any source', async () => {
    const { writeFile, mkdtemp } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'rectify-kc-'));
    const file = join(dir, 'kubeconfig');
    await writeFile(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: fake.url } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    await assert.rejects(() => createKubeClients({ mode: 'kubeconfig', kubeconfigPath: file }), /is plain http; the client needs insecure-skip-tls-verify: true/);
    await assert.rejects(() => createKubeClients({ mode: 'kubeconfig' }), /^Error: kubernetes: mode kubeconfig needs a kubeconfig file: set --kubeconfig \(RECTIFY_KUBECONFIG, kubeconfig in the config file\) or KUBECONFIG$/);
    const host = process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_HOST;
    try {
      // The client would take https://undefined:undefined for the server; refused up front instead.
      await assert.rejects(() => createKubeClients({ mode: 'in-cluster' }), /^Error: kubernetes: not running in a cluster: KUBERNETES_SERVICE_HOST/);
    } finally {
      if (host !== undefined) process.env.KUBERNETES_SERVICE_HOST = host;
    }
  });
});
