import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import type { KubeFake } from '../helpers/kube-fake/index.js';
import type { TestService } from '../helpers/service.js';
import { loopRunbook, useServiceOnFake } from './setup.js';

/**
 * What Kubernetes enrichment refuses, through the whole service against the API
 * fake: values that cannot name anything, or that the cluster does not have, and
 * the decision's reason says what was wrong; and which workload's counts it reads
 * when the alert names a pod and a deployment.
 */
const NS = 'kr';

describe('kubernetes enrichment refusals, through the service', { timeout: 60_000 }, () => {
  const on = useServiceOnFake({
    prepare: (fake) => {
      fake.addDeployment(NS, 'big', 8, { podNames: ['big-aa-p1'] });
      fake.addDeployment(NS, 'app2', 3);
      fake.addDeployment(NS, 'wide', 12);
      fake.addDeployment(NS, 'fat', 30);
      fake.addStatefulSet(NS, 'db', 1);
      fake.addDeployment(NS, 'db-exporter', 4, { podNames: ['db-exporter-7d9f-a1'] });
      fake.addDeployment('monitoring', 'kube-state-metrics', 1, { podNames: ['kube-state-metrics-6c9f-x1'] });
      // A pod no workload owns: the cluster has no replica count for it.
      fake.addPod(NS, 'bare-p1');
    },
    runbooks: () => `runbooks:
${loopRunbook('scale-up', 'high_cpu', `    action: kubectl scale deployment {deployment} --replicas={new_replicas} -n {namespace}
    rollback: kubectl scale deployment {deployment} --replicas={old_replicas} -n {namespace}
`)}${loopRunbook('scale-up-20', 'wide_cpu', `    pre_checks:
      - current_replicas_below_max: {max_replicas: 20}
    action: kubectl scale deployment {deployment} --replicas={new_replicas} -n {namespace}
    rollback: kubectl scale deployment {deployment} --replicas={old_replicas} -n {namespace}
`)}${loopRunbook('scale-down', 'overprovisioned', `    action: kubectl scale deployment {deployment} --replicas={target} -n {namespace}
    rollback: kubectl scale deployment {deployment} --replicas={old_replicas} -n {namespace}
`)}${loopRunbook('scale-db', 'DbLagging', `    action: kubectl scale statefulset {statefulset} --replicas={new_replicas} -n {namespace}
    rollback: kubectl scale statefulset {statefulset} --replicas={old_replicas} -n {namespace}
`)}${loopRunbook('restart-pod', 'CrashLoopBackOff', `    action: kubectl delete pod {pod_name} -n {namespace}
    rollback: null
`)}${loopRunbook('restart-noting-count', 'PodStuck', `    actions:
      - kubectl delete pod {pod_name} -n {namespace}
      - command: {argv: [/bin/echo, "{old_replicas}"]}
    rollback: null
`)}`,
  });
  let fake: KubeFake;
  let svc: TestService;
  beforeEach(() => ({ fake, svc } = on));

  const writes = (): string[] => fake.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path}`);

  it("a pod of one deployment beside another deployment's name: the named deployment is acted on with its own counts, and the pod is not read", async () => {
    const r = await svc.post('/api/v1/incidents?wait=true', {
      root_cause: 'high_cpu',
      service: 'app2',
      confidence: 1,
      context: { pod: 'big-aa-p1', deployment: 'app2', namespace: NS },
    });
    assert.equal(r.body.action, 'executed', r.body.reason);
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    // Not 8 → 9 from the pod's deployment: app2's own 3 → 4, and back to 3.
    assert.deepEqual(e.plan.actions, [`kubectl scale deployment app2 --replicas=4 -n ${NS}`]);
    assert.deepEqual(e.plan.rollback, [`kubectl scale deployment app2 --replicas=3 -n ${NS}`]);
    assert.equal(fake.requests.some((q) => q.path.includes('/pods/')), false, 'the pod is not read');
    assert.equal(fake.get('deployments', NS, 'app2')!.spec.replicas, 4);
    assert.equal(fake.get('deployments', NS, 'big')!.spec.replicas, 8);
  });

  // Regression: only a named deployment was read itself. An alert naming a statefulset and
  // the exporter's pod beside it had the pod followed to its owner: StatefulSet kr/db, at 1
  // replica, was scaled to the exporter deployment's 4 + 1, and a rollback would have set it
  // to 4; with the exporter's pod in another namespace, the alert was refused as pod not found.
  it("a statefulset the alert names is scaled from its own counts, whatever pod stands beside it, and the pod is not read", async () => {
    const scaleDb = async (pod?: string) => {
      const context: Record<string, string> = { statefulset: 'db', namespace: NS, ...(pod !== undefined ? { pod } : {}) };
      const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'DbLagging', service: 'db', confidence: 1, context });
      assert.deepEqual([r.body.action, r.body.event, r.body.success], ['executed', 'SUCCESS', true], r.body.reason);
      return (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body.plan;
    };
    // The exporter's pod, of a deployment of 4 in the same namespace: db's own 1 → 2, and back to 1.
    const exporter = await scaleDb('db-exporter-7d9f-a1');
    assert.deepEqual([exporter.actions, exporter.rollback], [[`kubectl scale statefulset db --replicas=2 -n ${NS}`], [`kubectl scale statefulset db --replicas=1 -n ${NS}`]]);
    assert.equal(fake.get('statefulsets', NS, 'db')!.spec.replicas, 2);
    assert.equal(fake.get('deployments', NS, 'db-exporter')!.spec.replicas, 4);
    // The exporter's pod in another namespace (not found in kr): db's own 2 → 3.
    const other = await scaleDb('kube-state-metrics-6c9f-x1');
    assert.deepEqual([other.actions, other.rollback], [[`kubectl scale statefulset db --replicas=3 -n ${NS}`], [`kubectl scale statefulset db --replicas=2 -n ${NS}`]]);
    // No pod at all: the statefulset alone is read.
    const alone = await scaleDb();
    assert.deepEqual([alone.actions, alone.rollback], [[`kubectl scale statefulset db --replicas=4 -n ${NS}`], [`kubectl scale statefulset db --replicas=3 -n ${NS}`]]);
    assert.equal(fake.get('statefulsets', NS, 'db')!.spec.replicas, 4);
    assert.equal(fake.requests.some((q) => q.path.includes('/pods/')), false, 'no pod is read');
  });

  it('an alert naming two workloads, or a workload that does not own the pod followed, is refused: whose counts the plan carries cannot be told', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [
        { statefulset: 'db', deployment: 'db-exporter', namespace: NS },
        `the alert names a deployment "db-exporter" and a statefulset "db": which workload's replica counts the plan and its rollback carry cannot be told; nothing was acted on`,
      ],
      [
        { statefulset: 'db', workload: 'db-exporter', namespace: NS },
        `the alert's workload "db-exporter" is not the statefulset "db" it names: which workload's replica counts the plan and its rollback carry cannot be told; nothing was acted on`,
      ],
      [
        { workload: 'db', pod: 'db-exporter-7d9f-a1', namespace: NS },
        `the alert's workload "db" does not own its pod "db-exporter-7d9f-a1" in namespace "${NS}" (its owner, read from the cluster, is Deployment "db-exporter"): ` +
          "the plan and its rollback carry the counts of the workload the alert names, never another's; nothing was acted on",
      ],
    ];
    for (const [context, reason] of cases) {
      const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'DbLagging', service: 'db', confidence: 1, context });
      assert.deepEqual([r.body.action, r.body.event, r.body.runbook, r.body.reason, r.body.execution_id], ['blocked', 'PARAM_REFUSED', 'scale-db', reason, null], JSON.stringify(context));
    }
    assert.deepEqual(writes(), []);
    assert.equal(fake.get('statefulsets', NS, 'db')!.spec.replicas, 1);
  });

  it('a pod value that is no Kubernetes name, a bad namespace or a pod that is gone is refused saying so, quoting the value', async () => {
    const NAME = 'expected a Kubernetes name (lowercase letters, digits, "-" and ".")';
    const NOTHING = 'nothing was read from the cluster or acted on';
    const cases: Array<[Record<string, string>, string]> = [
      [{ pod: 'API-Server-x', namespace: NS }, `the alert's pod "API-Server-x" is not a valid Kubernetes name: ${NAME}; ${NOTHING}`],
      [{ pod: 'a'.repeat(254), namespace: NS }, `the alert's pod "${'a'.repeat(80)}…" is not a valid Kubernetes name: it is longer than 253 characters, ${NAME}; ${NOTHING}`],
      [{ pod: '../web', namespace: NS }, `the alert's pod "../web" is not a valid Kubernetes name: ${NAME}; ${NOTHING}`],
      [{ pod: '', namespace: NS }, `the alert's pod "" is not a valid Kubernetes name: it is empty, ${NAME}; ${NOTHING}`],
      [{ pod_name: 'big-aa-p1', namespace: 'Shop' }, `the alert's namespace "Shop" is not a valid Kubernetes namespace name: expected a Kubernetes namespace (RFC 1123 label); ${NOTHING}`],
      [{ pod_name: 'big-aa-p1', namespace: 'sh.op' }, `the alert's namespace "sh.op" is not a valid Kubernetes namespace name: expected a Kubernetes namespace (RFC 1123 label); ${NOTHING}`],
      [{ pod: 'big-aa-gone', namespace: NS }, `the alert's pod "big-aa-gone" was not found in namespace "${NS}" (it may have been replaced: a new pod has a new name): nothing was acted on`],
    ];
    for (const [context, reason] of cases) {
      const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'CrashLoopBackOff', service: 'big', confidence: 1, context });
      assert.deepEqual([r.body.action, r.body.event, r.body.runbook, r.body.reason], ['blocked', 'PARAM_REFUSED', 'restart-pod', reason], JSON.stringify(context));
    }
    assert.deepEqual(writes(), []);
    // Only the gone pod was looked up: invalid values call nothing.
    assert.deepEqual(
      fake.requests.map((q) => `${q.method} ${q.path}`),
      [`GET /api/v1/namespaces/${NS}/pods/big-aa-gone`],
    );
  });

  it('a pod of the deployment the alert names is enriched as before: the counts are that deployment’s', async () => {
    const r = await svc.post('/api/v1/incidents?wait=true', {
      root_cause: 'high_cpu',
      service: 'big',
      confidence: 1,
      context: { pod: 'big-aa-p1', deployment: 'big', namespace: NS },
    });
    assert.equal(r.body.action, 'executed', r.body.reason);
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual(e.plan.actions, [`kubectl scale deployment big --replicas=9 -n ${NS}`]);
    assert.deepEqual(e.plan.rollback, [`kubectl scale deployment big --replicas=8 -n ${NS}`]);
  });

  // Regression: enrichment worked new_replicas out against the default cap of 10, so a
  // runbook capped at 20 planned a deployment at 12 to 12 (its pre-check failed every
  // run); and a scale-down from 30 to an alert's 20 was refused as above the cap of 10.
  it("new_replicas is worked out against the runbook's cap, and a scale-down from above the cap runs", async () => {
    const up = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'wide_cpu', service: 'wide', confidence: 1, context: { deployment: 'wide', namespace: NS } });
    assert.deepEqual([up.body.action, up.body.success], ['executed', true], up.body.reason);
    const e = (await svc.get(`/api/v1/executions/${up.body.execution_id}`)).body;
    assert.deepEqual(e.plan.actions, [`kubectl scale deployment wide --replicas=13 -n ${NS}`]);
    assert.equal(fake.get('deployments', NS, 'wide')!.spec.replicas, 13);
    const down = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'overprovisioned', service: 'fat', confidence: 1, context: { deployment: 'fat', namespace: NS, target: '20' } });
    assert.deepEqual([down.body.action, down.body.success], ['executed', true], down.body.reason);
    assert.equal(fake.get('deployments', NS, 'fat')!.spec.replicas, 20);
    // Above the cap and above the cluster's count: a scale-up, refused before any execution.
    const over = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'overprovisioned', service: 'app2', confidence: 1, context: { deployment: 'app2', namespace: NS, target: '20' } });
    assert.deepEqual([over.body.action, over.body.event, over.body.execution_id], ['blocked', 'PARAM_REFUSED', null]);
    assert.match(over.body.reason, /^placeholder \{target\} in action 1: value "20" would scale deployment kr\/app2 from 3 to 20 replicas, above the cap of 10 /);
    assert.equal(fake.get('deployments', NS, 'app2')!.spec.replicas, 3);
  });

  // Regression: an alert's new_replicas "0" passed the params stage and failed as an
  // execution ("refused: scaling … to 0"): three such alerts used three rate-limit units
  // and opened the circuit, and a legitimate alert was then CIRCUIT_OPEN.
  it('a replica count of 0 from an alert or a manual run is refused before any execution: no rate-limit unit, no breaker failure', async () => {
    const reason = `placeholder {new_replicas} in action 1: value "0" would scale deployment ${NS}/app2 to 0 replicas, removing every replica: rectify scales to 0 only when the runbook itself writes --replicas=0 (a HIGH-risk runbook: a person approves every run), never with a value from an alert or a run's params`;
    for (let i = 0; i < 3; i++) {
      const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'high_cpu', service: 'app2', confidence: 1, context: { deployment: 'app2', namespace: NS, new_replicas: '0' } });
      assert.deepEqual([r.body.action, r.body.event, r.body.reason, r.body.execution_id], ['blocked', 'PARAM_REFUSED', reason, null]);
    }
    const manual = await svc.post('/api/v1/runbooks/scale-up/run', { by: 'alice', params: { deployment: 'app2', namespace: NS, new_replicas: '0' } });
    assert.deepEqual([manual.body.action, manual.body.event, manual.body.reason], ['blocked', 'PARAM_REFUSED', reason]);
    const state = (await svc.get('/api/v1/runbooks/scale-up')).body;
    assert.deepEqual([state.circuit.state, state.circuit.failures, state.executions_last_hour], ['closed', 0, 0]);
    assert.deepEqual(writes(), []);
    // A legitimate alert still runs.
    const ok = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'high_cpu', service: 'app2', confidence: 1, context: { deployment: 'app2', namespace: NS } });
    assert.deepEqual([ok.body.action, ok.body.success], ['executed', true], ok.body.reason);
    assert.equal(fake.get('deployments', NS, 'app2')!.spec.replicas, 4);
  });

  // Regression: when the enrichment read hung until its deadline, the refusal said the
  // alert carried no old_replicas ("not in the incident's context or labels"), though it
  // did (dropped: the count is the cluster's) and the read timing out was the cause.
  it('a cluster read that times out or fails while enriching is the reason given for the missing count', { timeout: 30_000 }, async () => {
    const DEP = `/apis/apps/v1/namespaces/${NS}/deployments/app2`;
    const alert = { root_cause: 'high_cpu', service: 'app2', confidence: 1, context: { deployment: 'app2', namespace: NS, old_replicas: '3', new_replicas: '4' } };
    const next = 'nothing was run: check that the Kubernetes API answers, then send the alert again or run the runbook by hand';
    fake.injectDelay('GET', DEP, 20_000);
    const hung = await svc.post('/api/v1/incidents?wait=true', alert);
    fake.releaseDelays();
    // The held request is answered on a later tick: let it be, before the next fault is set.
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual([hung.body.action, hung.body.event, hung.body.execution_id], ['blocked', 'PARAM_REFUSED', null]);
    assert.equal(hung.body.reason, `no value for placeholder {old_replicas}: reading it from the cluster timed out after 5s (an alert's own old_replicas is never used: it is the cluster's to say); ${next}`);
    fake.injectError('GET', DEP, 500, 'InternalError', 'etcd unavailable');
    const failed = await svc.post('/api/v1/incidents?wait=true', alert);
    assert.equal(failed.body.event, 'PARAM_REFUSED');
    assert.equal(failed.body.reason, `no value for placeholder {old_replicas}: reading it from the cluster failed: etcd unavailable (an alert's own old_replicas is never used: it is the cluster's to say); ${next}`);
    assert.deepEqual(writes(), []);
  });

  // Regression: a read that found no count said the alert carried none ("not in the
  // incident's context or labels"), though it did (dropped: the count is the cluster's).
  it('a cluster read that finds no count is the reason given for the missing count, not the alert', async () => {
    const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'PodStuck', service: 'bare', confidence: 1, context: { pod: 'bare-p1', namespace: NS, old_replicas: '3' } });
    assert.deepEqual([r.body.action, r.body.event, r.body.execution_id], ['blocked', 'PARAM_REFUSED', null]);
    assert.equal(r.body.reason, "no value for placeholder {old_replicas}: it is read from the cluster (Kubernetes enrichment), and none was read (an alert's own old_replicas is never used: it is the cluster's to say)");
    assert.ok(fake.requests.some((q) => q.method === 'GET' && q.path.endsWith('/pods/bare-p1')), 'the pod was read');
    assert.deepEqual(writes(), []);
  });
});
