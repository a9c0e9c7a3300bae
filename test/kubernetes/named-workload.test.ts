import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import type { KubeFake } from '../helpers/kube-fake/index.js';
import type { TestService } from '../helpers/service.js';
import { loopRunbook, useServiceOnFake } from './setup.js';

/**
 * Which workload the named checks judge when the alert names a deployment and a pod of
 * another workload beside it (kube-state-metrics' alerts carry the exporter's own pod):
 * the named one, as enrichment reads it and the runbook acts on it, through the whole
 * service against the API fake.
 */
const NS = 'monitoring';

describe('named checks judge the workload the alert names, through the service', { timeout: 60_000 }, () => {
  const on = useServiceOnFake({
    prepare: (fake) => {
      fake.addDeployment(NS, 'grafana', 1);
      fake.addDeployment(NS, 'kube-state-metrics', 2, { podNames: ['kube-state-metrics-6c9f-x1', 'kube-state-metrics-6c9f-x2'] });
    },
    runbooks: () => `runbooks:
${loopRunbook('restart-deploy', 'KubeDeploymentReplicasMismatch', `    params:
      deployment: the deployment
      namespace: its namespace
    pre_checks:
      - replicas_greater_than_one
    action: kubectl rollout restart deployment {deployment} -n {namespace}
    rollback: null
`)}`,
  });
  let fake: KubeFake;
  let svc: TestService;
  beforeEach(() => ({ fake, svc } = on));

  it("replicas_greater_than_one judges the named deployment, not the owner of the exporter's pod beside it: 1 replica fails, nothing is restarted", async () => {
    const r = await svc.post('/api/v1/incidents?wait=true', {
      root_cause: 'KubeDeploymentReplicasMismatch',
      service: 'grafana',
      confidence: 1,
      context: { namespace: NS, deployment: 'grafana', pod: 'kube-state-metrics-6c9f-x1', job: 'kube-state-metrics' },
    });
    assert.deepEqual([r.body.action, r.body.event, r.body.success], ['aborted', 'PRE_CHECK_FAILED', false], r.body.reason);
    assert.equal(r.body.reason, `pre-check failed: replicas_greater_than_one: Deployment ${NS}/grafana has 1 replica(s) (1 ready); needs more than 1 after 1 attempt`);
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    const pre = e.steps.filter((s: { phase: string }) => s.phase === 'pre_check');
    assert.equal(pre.length, 1, JSON.stringify(e.steps));
    assert.equal(pre[0].ok, false);
    assert.equal(pre[0].detail, `Deployment ${NS}/grafana has 1 replica(s) (1 ready); needs more than 1 after 1 attempt`);
    assert.deepEqual(e.steps.filter((s: { phase: string }) => s.phase === 'action'), []);
    assert.deepEqual(fake.requests.filter((q) => q.method === 'PATCH').map((q) => q.path), []);
    assert.equal(fake.requests.some((q) => q.path.includes('/pods/')), false, 'the pod is not read');
  });
});
