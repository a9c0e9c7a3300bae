import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { beforeEach, describe, it } from 'node:test';
import type { HttpTarget } from '../helpers/http-target.js';
import type { KubeFake } from '../helpers/kube-fake/index.js';
import type { TestService } from '../helpers/service.js';
import { loopRunbook as runbook, useServiceOnFake, waitFor } from './setup.js';

/**
 * What a run's rollback may undo, through the whole service against the API fake:
 * only what the run itself may have changed. A rollback after nothing changed, or an
 * "undo" of a change somebody else made, is a change nobody decided on.
 */
const NS = 'production';
const DEP_PATH = `/apis/apps/v1/namespaces/${NS}/deployments/checkout`;
const RS_PATH = `/apis/apps/v1/namespaces/${NS}/replicasets`;

describe('kubernetes runs: the rollback undoes only what the run changed', { timeout: 60_000 }, () => {
  const on = useServiceOnFake({
    runbooks: (target) => `runbooks:
${runbook('drain-node', 'node_broken', `    actions:
      - http: {method: POST, url: "${target.url}/notify"}
      - kubectl drain {node} --ignore-daemonsets --timeout=5s
    rollback: kubectl uncordon {node}
`)}${runbook('undo-deploy', 'bad_deploy', `    action: kubectl rollout undo deployment {deployment} -n {namespace}
    rollback: kubectl rollout undo deployment {deployment} -n {namespace}
`)}${runbook('undo-verified', 'bad_deploy_verified', `    action: kubectl rollout undo deployment {deployment} -n {namespace}
    post_checks:
      - http: {url: "${target.url}/healthy", timeout_seconds: 1, interval_seconds: 0.2}
    rollback: kubectl rollout undo deployment {deployment} -n {namespace}
`)}  undo-approved:
    risk: HIGH
    triggers: [bad_deploy_approved]
    min_confidence: 0.5
    max_per_hour: 100
    cooldown_minutes: 0
    action: kubectl rollout undo deployment {deployment} -n {namespace}
    rollback: kubectl rollout undo deployment {deployment} -n {namespace}
${runbook('grow-verified', 'overloaded', `    action: kubectl scale deployment {deployment} --replicas={new_replicas} -n {namespace}
    post_checks:
      - http: {url: "${target.url}/healthy", timeout_seconds: 1, interval_seconds: 0.2}
    rollback: kubectl scale deployment {deployment} --replicas={old_replicas} -n {namespace}
`)}${runbook('notify-undo', 'bad_deploy_notify', `    action:
      http: {method: POST, url: "${target.url}/notify"}
    rollback: kubectl rollout undo deployment {deployment} -n {namespace}
`)}${runbook('force-restart', 'stuck_pod', `    force_delete: true
    action: kubectl delete pod {pod_name} -n {namespace}
    rollback:
      http: {method: POST, url: "${target.url}/undo"}
`)}${runbook('evict', 'crashloop', `    action: kubectl delete pod {pod_name} -n {namespace}
    post_checks:
      - pod_becomes_ready: {timeout_seconds: 5, interval_seconds: 0.2}
    rollback:
      http: {method: POST, url: "${target.url}/undo"}
`)}${runbook('evict-ordinal', 'stuck_ordinal', `    action: kubectl delete pod {pod_name} -n {namespace}
    rollback:
      http: {method: POST, url: "${target.url}/undo"}
`)}${runbook('grow-guarded', 'web_slow', `    max_unavailable: "25%"
    action: kubectl scale deployment {deployment} --replicas={new_replicas} -n {namespace}
    post_checks:
      - kubernetes: {condition: deployment_ready, name: "{deployment}", namespace: "{namespace}", timeout_seconds: 1, interval_seconds: 0.2}
    rollback: kubectl scale deployment {deployment} --replicas={old_replicas} -n {namespace}
`)}${runbook('shrink', 'too_big', `    max_unavailable: 1
    action: kubectl scale deployment {deployment} --replicas={replicas} -n {namespace}
    rollback: kubectl scale deployment {deployment} --replicas={old_replicas} -n {namespace}
`)}${runbook('notify-grow', 'overloaded_notify', `    actions:
      - http: {method: POST, url: "${target.url}/notify"}
      - kubectl scale deployment {deployment} --replicas={new_replicas} -n {namespace}
    rollback: kubectl scale deployment {deployment} --replicas={old_replicas} -n {namespace}
`)}${runbook('shrink-db', 'db_too_big', `    action: kubectl scale statefulset {statefulset} --replicas={replicas} -n {namespace}
    rollback: kubectl scale statefulset {statefulset} --replicas={old_replicas} -n {namespace}
`)}`,
  });
  let target: HttpTarget;
  let fake: KubeFake;
  let svc: TestService;
  beforeEach(() => ({ target, fake, svc } = on));

  /** A minute before an alert posted now is received (by the service's clock): when a deployment's bad rollout was. */
  const BEFORE_ALERT = (): number => svc.clock.now() - 60_000;
  const events = async (executionId: string): Promise<string[]> =>
    (await svc.get(`/api/v1/audit?execution_id=${executionId}`)).body.events.map((e: { event: string }) => e.event).reverse();

  it("a drain that never ran leaves the operator's cordon: the rollback uncordons nothing", async () => {
    fake.addNode('node-a', { unschedulable: true }); // an operator cordoned it before the run
    target.route('POST', '/notify', { status: 503 });
    const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'node_broken', service: 'infra', confidence: 1, context: { node: 'node-a' } });
    assert.equal(r.body.action, 'executed');
    // The rollback ran and changed nothing: not reported as a restore.
    assert.deepEqual([r.body.success, r.body.rolled_back], [false, false]);
    const failure = `action 1 failed: POST ${target.url}/notify → 503, expected 200-299`;
    const why = 'the rollback changed nothing: node node-a left as it is: this run did not cordon it';
    assert.equal(r.body.reason, `${failure}; ${why}`);
    assert.equal(target.calls('/notify'), 1);
    assert.equal(fake.get('nodes', undefined, 'node-a')!.spec.unschedulable, true, 'still cordoned');
    assert.equal(fake.count('PATCH', /.*/), 0);
    assert.equal(fake.count('POST', /eviction$/), 0);
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual(
      e.steps.map((s: { phase: string; summary: string; ok: boolean; detail: string }) => [s.phase, s.summary, s.ok, s.detail]),
      [
        ['action', `POST ${target.url}/notify`, false, `POST ${target.url}/notify → 503, expected 200-299`],
        ['rollback', 'kubectl uncordon node-a', true, 'node node-a left as it is: this run did not cordon it'],
      ],
    );
    assert.deepEqual(await events(r.body.execution_id), ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'STEP_STARTED', 'STEP_FINISHED', 'FAILED']);
    const [failed] = (await svc.get(`/api/v1/audit?execution_id=${r.body.execution_id}&event=FAILED`)).body.events;
    assert.deepEqual(failed.details, { reason: failure, rolled_back: false, rollback: why });
    assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['failed', false, false]);
  });

  // Regression: after a drain stopped by a PodDisruptionBudget, the rollback's uncordon put
  // the node back in service, and the outcome, the ROLLED_BACK and FAILED rows and the
  // notification still ended "the node stays cordoned". And a --timeout=5s drain read
  // "not evicted within 4500ms", naming no timeout it was given.
  it('a drain a budget stops, rolled back by its uncordon: the outcome no longer says the node stays cordoned; the step still does, and names its trimmed deadline', async () => {
    fake.addNode('node-a');
    fake.addDeployment(NS, 'db', 2, { nodeName: 'node-a', podNames: ['db-a', 'db-b'] });
    fake.addPdb(NS, 'db-pdb', { matchLabels: { app: 'db' }, disruptionsAllowed: 0 });
    target.route('POST', '/notify', { status: 200 });
    const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'node_broken', service: 'infra', confidence: 1, context: { node: 'node-a' } });
    assert.deepEqual([r.body.action, r.body.success, r.body.rolled_back], ['executed', false, true]);
    const refused = "eviction refused by PodDisruptionBudget (429): Cannot evict pod as it would violate the pod's disruption budget.";
    const drain = `drain node node-a: 2 pod(s) not evicted within 4500ms (the drain's 5s timeout less 500ms the step keeps to report): ${NS}/db-a (${refused}); ${NS}/db-b (${refused}); evicted 0`;
    const failure = `action 2 failed: ${drain}`;
    assert.equal(r.body.reason, failure);
    assert.equal(fake.get('nodes', undefined, 'node-a')!.spec.unschedulable, undefined, 'uncordoned');
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual([e.state, e.rolled_back, e.needs_human, e.outcome], ['failed', true, false, failure]);
    assert.deepEqual(
      e.steps.map((s: { phase: string; ok: boolean; detail: string }) => [s.phase, s.ok, s.detail]),
      [
        ['action', true, e.steps[0].detail],
        ['action', false, `${drain}; the node stays cordoned`],
        ['rollback', true, 'uncordoned node node-a'],
      ],
    );
    const rows = (await svc.get(`/api/v1/audit?execution_id=${r.body.execution_id}`)).body.events.reverse();
    assert.deepEqual(
      rows.filter((x: { event: string }) => x.event === 'ROLLED_BACK' || x.event === 'FAILED').map((x: { event: string; details: { reason: string } }) => [x.event, x.details.reason]),
      [
        ['ROLLED_BACK', failure],
        ['FAILED', failure],
      ],
    );
  });

  it('a rollout undo that fails on a read changed nothing: no rollback, so no undo at all', async () => {
    fake.addDeployment(NS, 'checkout', 3, { revisions: 2 });
    // The ReplicaSets are read for the rollout history, after the deployment and before the patch.
    fake.injectError('GET', RS_PATH, 500, 'InternalError', 'etcdserver: request timed out');
    const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'bad_deploy', service: 'checkout', confidence: 1, context: { deployment: 'checkout', namespace: NS } });
    assert.equal(r.body.action, 'executed');
    assert.deepEqual([r.body.success, r.body.rolled_back], [false, false]);
    const failure = 'action 1 failed: rollout_undo deployment production/checkout: 500 InternalError: etcdserver: request timed out';
    assert.equal(r.body.reason, `${failure}; nothing was changed: no rollback`);
    assert.equal(fake.count('GET', RS_PATH), 1, 'read once, by the action');
    assert.equal(fake.count('PATCH', DEP_PATH), 0);
    assert.equal(fake.get('deployments', NS, 'checkout')!.spec.template.spec.containers[0].image, 'example/checkout:v2');
    assert.deepEqual(await events(r.body.execution_id), ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'FAILED']);
    const [failed] = (await svc.get(`/api/v1/audit?execution_id=${r.body.execution_id}&event=FAILED`)).body.events;
    assert.deepEqual(failed.details, { reason: failure, rolled_back: false, rollback: 'nothing was changed: no rollback' });
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual([e.state, e.rolled_back, e.needs_human, e.steps.length], ['failed', false, false, 1]);
    // The runbook did fail: the breaker counts it.
    assert.equal((await svc.get('/api/v1/runbooks/undo-deploy')).body.circuit.failures, 1);
  });

  it('a rollout undo whose PATCH failed with a 500 that did not land: a read after it says so, nothing was changed, no rollback, never a second undo', async () => {
    fake.addDeployment(NS, 'checkout', 3, { revisions: 2, rolledOutAt: BEFORE_ALERT() });
    fake.injectError('PATCH', DEP_PATH, 500, 'InternalError', 'etcd timeout');
    const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'bad_deploy', service: 'checkout', confidence: 1, context: { deployment: 'checkout', namespace: NS } });
    assert.equal(r.body.action, 'executed');
    assert.deepEqual([r.body.success, r.body.rolled_back], [false, false]);
    const failure =
      "action 1 failed: rollout_undo deployment production/checkout: 500 InternalError: etcd timeout; a read then found that the write did not land (deployment production/checkout still has revision 2's pod template, as before the undo)";
    const why = 'nothing was changed: no rollback';
    assert.equal(r.body.reason, `${failure}; ${why}`);
    // Only the action's PATCH (which failed): a second relative undo would have sent v1's template.
    assert.equal(fake.count('PATCH', DEP_PATH), 1);
    const dep = fake.get('deployments', NS, 'checkout')!;
    assert.equal(dep.spec.template.spec.containers[0].image, 'example/checkout:v2');
    assert.equal(dep.metadata.annotations?.['deployment.kubernetes.io/revision'], '2');
    assert.deepEqual(await events(r.body.execution_id), ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'FAILED']);
    const [failed] = (await svc.get(`/api/v1/audit?execution_id=${r.body.execution_id}&event=FAILED`)).body.events;
    assert.deepEqual(failed.details, { reason: failure, rolled_back: false, rollback: why });
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['failed', false, false]);
    assert.deepEqual(
      e.steps.map((s: { phase: string; ok: boolean; unchanged?: boolean }) => [s.phase, s.ok, s.unchanged ?? null]),
      [['action', false, true]],
    );
  });

  it('a rollout undo that landed and failed its post-check is rolled back to the revision before the run (one PATCH each)', async () => {
    fake.addDeployment(NS, 'checkout', 3, { revisions: 2, rolledOutAt: BEFORE_ALERT() });
    target.route('GET', '/healthy', { status: 503 });
    const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'bad_deploy_verified', service: 'checkout', confidence: 1, context: { deployment: 'checkout', namespace: NS } });
    assert.equal(r.body.action, 'executed');
    assert.deepEqual([r.body.success, r.body.rolled_back], [false, true]);
    assert.match(r.body.reason, new RegExp(`^verification failed: http GET ${target.url}/healthy: `));
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['failed', true, false]);
    const [action, , rollback] = e.steps;
    assert.deepEqual([action.phase, action.ok, action.facts], ['action', true, { from_revision: '2', to_revision: '1' }]);
    assert.deepEqual([rollback.phase, rollback.ok, rollback.facts], ['rollback', true, { from_revision: '3', to_revision: '2' }]);
    assert.equal(rollback.detail, "rolled deployment production/checkout back from revision 3 to the template of revision 2 (the revision before this run's undo)");
    assert.equal(fake.count('PATCH', DEP_PATH), 2);
    assert.equal(fake.get('deployments', NS, 'checkout')!.spec.template.spec.containers[0].image, 'example/checkout:v2');
    assert.deepEqual(await events(r.body.execution_id), ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'STEP_STARTED', 'STEP_FINISHED', 'STEP_STARTED', 'STEP_FINISHED', 'ROLLED_BACK', 'FAILED']);
  });

  /** While the run verifies, someone else changes the deployment (a person, an autoscaler, a CI deploy). */
  const changedMeanwhile = (name: string, change: (d: any) => void) => {
    target.route('GET', '/healthy', (_req, call) => {
      if (call === 1) {
        const d = JSON.parse(JSON.stringify(fake.get('deployments', NS, name)));
        change(d);
        fake.cluster.put('deployments', d);
      }
      return { status: 503 };
    });
  };

  // Regression: a scale-up that failed its verification scaled the deployment back to its
  // count from before the run even after someone else had scaled it (3 → 4 by the run, 8 by
  // a person meanwhile, then 3 by the rollback): five replicas removed under load.
  it('a scale whose workload someone else scaled since is not rolled back over that change: left to a human', async () => {
    fake.addDeployment(NS, 'worker', 3);
    changedMeanwhile('worker', (d) => (d.spec.replicas = 8));
    const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'overloaded', service: 'worker', confidence: 1, context: { deployment: 'worker', namespace: NS } });
    assert.equal(r.body.action, 'executed');
    assert.deepEqual([r.body.success, r.body.rolled_back], [false, false]);
    const refusal = `refused: Deployment ${NS}/worker has 8 replicas, not the 4 this run set: it was scaled by someone else since, and rectify does not scale it back to 3 over that change: a person must check it`;
    assert.ok(r.body.reason.startsWith(`verification failed: http GET ${target.url}/healthy: `), r.body.reason);
    assert.ok(r.body.reason.endsWith(`; rollback failed: ${refusal}`), r.body.reason);
    assert.equal(fake.count('PUT', `/apis/apps/v1/namespaces/${NS}/deployments/worker/scale`), 1, "the action's scale only");
    assert.equal(fake.get('deployments', NS, 'worker')!.spec.replicas, 8);
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['failed', false, true]);
    assert.deepEqual((await events(r.body.execution_id)).slice(-2), ['ROLLBACK_FAILED', 'FAILED']);
  });

  // Regression: a run whose scale never ran (the step before it failed) was rolled back with
  // the rendered --replicas={old_replicas}, enrichment's count from when the plan was made:
  // a person's 3 → 8 meanwhile was scaled back to 3 ("scaled Deployment production/worker
  // from 8 to 3 replicas").
  it("a scale that never ran leaves a person's scale since: the rollback scales nothing", async () => {
    fake.addDeployment(NS, 'worker', 3);
    // While the run is at its first step, a person scales worker 3 -> 8; the step then fails.
    target.route('POST', '/notify', () => {
      const d = JSON.parse(JSON.stringify(fake.get('deployments', NS, 'worker')));
      d.spec.replicas = 8;
      fake.cluster.put('deployments', d);
      return { status: 503 };
    });
    const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'overloaded_notify', service: 'worker', confidence: 1, context: { deployment: 'worker', namespace: NS } });
    assert.equal(r.body.action, 'executed');
    assert.deepEqual([r.body.success, r.body.rolled_back], [false, false]);
    const failure = `action 1 failed: POST ${target.url}/notify → 503, expected 200-299`;
    const why = `the rollback changed nothing: Deployment ${NS}/worker left as it is: this run did not scale it`;
    assert.equal(r.body.reason, `${failure}; ${why}`);
    assert.equal(fake.get('deployments', NS, 'worker')!.spec.replicas, 8);
    assert.equal(fake.count('PUT', /.*/), 0);
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual(
      e.steps.map((s: { phase: string; summary: string; ok: boolean; detail: string }) => [s.phase, s.summary, s.ok, s.detail]),
      [
        ['action', `POST ${target.url}/notify`, false, `POST ${target.url}/notify → 503, expected 200-299`],
        ['rollback', `kubectl scale deployment worker --replicas=3 -n ${NS}`, true, `Deployment ${NS}/worker left as it is: this run did not scale it`],
      ],
    );
    assert.deepEqual(await events(r.body.execution_id), ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'STEP_STARTED', 'STEP_FINISHED', 'FAILED']);
    const [failed] = (await svc.get(`/api/v1/audit?execution_id=${r.body.execution_id}&event=FAILED`)).body.events;
    assert.deepEqual(failed.details, { reason: failure, rolled_back: false, rollback: why });
    assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['failed', false, false]);
  });

  // Regression: with max_unavailable, the rollback of a scale-up whose new pod never became
  // ready was refused (the replica already not ready counted as disruption): ROLLBACK_FAILED,
  // and the extra replica stayed.
  it('a scale-up under max_unavailable whose new pod never becomes ready is rolled back to the count before the run', async () => {
    fake.readyDelayMs = 600_000;
    fake.addDeployment(NS, 'web', 3, { readyReplicas: 2 });
    const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'web_slow', service: 'web', confidence: 1, context: { deployment: 'web', namespace: NS } });
    assert.equal(r.body.action, 'executed');
    assert.deepEqual([r.body.success, r.body.rolled_back], [false, true], r.body.reason);
    assert.match(r.body.reason, /^verification failed: kubernetes deployment_ready deployment\/web: Deployment production\/web: ready 2\/4, updated 4, total 4 after \d+ attempts$/);
    assert.equal(fake.count('PUT', `/apis/apps/v1/namespaces/${NS}/deployments/web/scale`), 2, 'the scale and its rollback');
    assert.equal(fake.get('deployments', NS, 'web')!.spec.replicas, 3);
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['failed', true, false]);
    assert.deepEqual((await events(r.body.execution_id)).slice(-2), ['ROLLED_BACK', 'FAILED']);
  });

  // Regression: the rollback of a rollout undo put the template from before the run back
  // over a rollout someone else made while the run verified (a hotfix, overwritten by the bad deploy).
  it("an undo's rollback leaves a rollout someone else made since: left to a human", async () => {
    fake.addDeployment(NS, 'checkout', 3, { revisions: 2, rolledOutAt: BEFORE_ALERT() });
    changedMeanwhile('checkout', (d) => (d.spec.template.spec.containers[0].image = 'example/checkout:v3-hotfix'));
    const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'bad_deploy_verified', service: 'checkout', confidence: 1, context: { deployment: 'checkout', namespace: NS } });
    assert.equal(r.body.action, 'executed');
    assert.deepEqual([r.body.success, r.body.rolled_back], [false, false]);
    // Revision 4, or 3 when the fake's controller had not yet given the undo's template a
    // revision of its own when the hotfix came (its controllers notice changes a moment later).
    const refusal = new RegExp(
      `; rollback failed: refused: deployment ${NS}/checkout is on revision [34], whose template is neither the one this run's undo wrote nor the one before it: someone else rolled it out since, and rectify does not put revision 2's template back over it: a person must check the deployment$`,
    );
    assert.match(r.body.reason, refusal);
    assert.equal(fake.count('PATCH', DEP_PATH), 1, "the action's undo only");
    assert.equal(fake.get('deployments', NS, 'checkout')!.spec.template.spec.containers[0].image, 'example/checkout:v3-hotfix');
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['failed', false, true]);
    assert.deepEqual((await events(r.body.execution_id)).slice(-2), ['ROLLBACK_FAILED', 'FAILED']);
  });

  it("a rollback undo with no record of the run's own read is refused and left to a human: no undo at all", async () => {
    fake.addDeployment(NS, 'checkout', 3, { revisions: 2 });
    target.route('POST', '/notify', { status: 503 });
    const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'bad_deploy_notify', service: 'checkout', confidence: 1, context: { deployment: 'checkout', namespace: NS } });
    assert.equal(r.body.action, 'executed');
    assert.deepEqual([r.body.success, r.body.rolled_back], [false, false]);
    const refusal =
      'refused: this run has no record of the template deployment production/checkout had before it changed it, so it cannot tell what to restore; rectify does not undo once more blindly (that could make the very change that failed): a person must check the deployment';
    assert.equal(r.body.reason, `action 1 failed: POST ${target.url}/notify → 503, expected 200-299; rollback failed: ${refusal}`);
    assert.equal(fake.count('PATCH', /.*/), 0);
    assert.equal(fake.get('deployments', NS, 'checkout')!.spec.template.spec.containers[0].image, 'example/checkout:v2');
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['failed', false, true]);
    assert.deepEqual(await events(r.body.execution_id), ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'STEP_STARTED', 'STEP_FINISHED', 'ROLLBACK_FAILED', 'FAILED']);
  });

  it("force_delete refused by the last-replica guard is blocked, like an eviction: no rollback, no breaker failure", async () => {
    fake.addDeployment(NS, 'solo', 1, { podNames: ['solo-aaaaa'] });
    target.route('POST', '/undo', { status: 200 });
    const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'stuck_pod', service: 'solo', confidence: 1, context: { pod_name: 'solo-aaaaa', namespace: NS } });
    assert.equal(r.body.action, 'blocked');
    assert.equal(r.body.event, 'DISRUPTION_BLOCKED');
    assert.equal(r.body.reason, 'blocked: refused: pod production/solo-aaaaa is the last ready replica of Deployment production/solo (ready 1/1); rectify never removes it');
    assert.equal(fake.count('DELETE', /.*/), 0);
    assert.equal(target.calls('/undo'), 0);
    assert.deepEqual(await events(r.body.execution_id), ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'DISRUPTION_BLOCKED']);
    assert.equal((await svc.get('/api/v1/runbooks/force-restart')).body.circuit.failures, 0);
  });

  it('the last-replica guard refusing a half-open circuit’s trial: DISRUPTION_BLOCKED says the circuit is open again, with the wait it had served', async () => {
    fake.addDeployment(NS, 'solo', 1, { podNames: ['solo-aaaaa'] });
    target.route('POST', '/undo', { status: 200 });
    // An open circuit whose recovery wait (5 minutes by default) ended an hour ago: the next alert is its trial.
    const openedAt = svc.clock.now() - 3_600_000;
    const db = new Database(svc.dbPath);
    try {
      db.prepare('INSERT OR REPLACE INTO circuits (runbook, state, failures, opened_at, trial_execution_id, updated_at) VALUES (?, ?, ?, ?, NULL, ?)').run('force-restart', 'open', 3, openedAt, openedAt);
    } finally {
      db.close();
    }
    const served = { state: 'open', failures: 3, opened_at: new Date(openedAt).toISOString() };
    const circuit = async () => {
      const c = (await svc.get('/api/v1/runbooks/force-restart')).body.circuit;
      return { state: c.state, failures: c.failures, opened_at: c.opened_at };
    };
    const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'stuck_pod', service: 'solo', confidence: 1, context: { pod_name: 'solo-aaaaa', namespace: NS } });
    assert.deepEqual([r.body.action, r.body.event], ['blocked', 'DISRUPTION_BLOCKED']);
    assert.equal(fake.count('DELETE', /.*/), 0);
    assert.deepEqual(await circuit(), served);
    const rows = (await svc.get(`/api/v1/audit?execution_id=${r.body.execution_id}`)).body.events.reverse();
    assert.deepEqual(
      rows.map((e: { event: string }) => e.event),
      ['CIRCUIT_HALF_OPEN', 'EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'DISRUPTION_BLOCKED'],
    );
    assert.deepEqual(rows[4].details, {
      reason: 'refused: pod production/solo-aaaaa is the last ready replica of Deployment production/solo (ready 1/1); rectify never removes it',
      action: rows[3].details.summary,
      circuit_trial:
        "it was the circuit's trial run, and it changed nothing, which says nothing about the runbook: the circuit is open again without a new recovery wait, and the next incident may be its trial",
    });
    const circuitRows = (await svc.get('/api/v1/audit?runbook=force-restart&limit=100')).body.events.filter((e: { event: string }) => e.event.startsWith('CIRCUIT_'));
    assert.deepEqual(circuitRows.map((e: { event: string }) => e.event), ['CIRCUIT_HALF_OPEN'], 'no CIRCUIT_TRIPPED: no new wait');
  });

  // Regression: a pod gone (404) before its eviction failed the step, and three such runs
  // opened the circuit: a pod its controller replaced between the alert and the action
  // switched the runbook off, though what the action is for (that pod gone) held.
  it('a pod already gone before its eviction or delete: the step is done without effect, the run verifies and succeeds, no breaker failure', async () => {
    fake.addDeployment(NS, 'checkout', 3);
    target.route('POST', '/undo', { status: 200 });
    for (let i = 1; i <= 3; i++) {
      const pod = `checkout-gone-${i}`;
      // The alert names the deployment: its counts are read, not the pod, which is gone by the action.
      const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'crashloop', service: 'checkout', confidence: 1, context: { deployment: 'checkout', pod_name: pod, namespace: NS } });
      assert.deepEqual([r.body.action, r.body.event, r.body.success, r.body.rolled_back, r.body.reason], ['executed', 'SUCCESS', true, false, 'risk LOW: guardrails passed']);
      const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
      assert.deepEqual(
        e.steps.map((s: { phase: string; ok: boolean; detail: string; unconfirmed?: boolean }) => [s.phase, s.ok, s.detail, s.unconfirmed ?? null]),
        [
          ['action', true, `pod ${NS}/${pod} was already gone (404 when read): nothing to evict; done without effect`, null],
          ['post_check', true, e.steps[1].detail, null],
        ],
      );
    }
    assert.equal(fake.count('POST', /eviction$/), 0);
    assert.equal(target.calls('/undo'), 0);
    const circuit = (await svc.get('/api/v1/runbooks/evict')).body.circuit;
    assert.deepEqual([circuit.state, circuit.failures], ['closed', 0]);
    // force_delete's plain delete the same.
    const del = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'stuck_pod', service: 'checkout', confidence: 1, context: { deployment: 'checkout', pod_name: 'checkout-gone-9', namespace: NS } });
    assert.deepEqual([del.body.event, del.body.success], ['SUCCESS', true]);
    const [step] = (await svc.get(`/api/v1/executions/${del.body.execution_id}`)).body.steps;
    assert.deepEqual([step.ok, step.detail], [true, `pod ${NS}/checkout-gone-9 was already gone (404 when read): nothing to delete; done without effect`]);
    assert.equal(fake.count('DELETE', /.*/), 0);
    assert.equal((await svc.get('/api/v1/runbooks/force-restart')).body.circuit.failures, 0);
  });

  // Regression: a 429 to the eviction while a same-named successor held the name (the
  // budget asked about the new pod, not ready yet) blocked the run as "not now", though the
  // pod it was to evict no longer existed.
  it('a 429 to an eviction after a StatefulSet recreated the pod under its name: done without effect, the run succeeds, never a delete, no rollback, no breaker failure', async () => {
    fake.addNode('node-a');
    fake.addStatefulSet(NS, 'web', 3);
    fake.addPdb(NS, 'web-pdb', { matchLabels: { app: 'web' }, maxUnavailable: 1 });
    target.route('POST', '/undo', { status: 200 });
    const EVICT = `/api/v1/namespaces/${NS}/pods/web-0/eviction`;
    const old = fake.get('pods', NS, 'web-0')!.metadata.uid;
    fake.readyDelayMs = 60_000;
    fake.injectDelay('POST', EVICT, 30_000);
    const running = svc.post('/api/v1/incidents?wait=true', { root_cause: 'stuck_ordinal', service: 'web', confidence: 1, context: { pod_name: 'web-0', namespace: NS } });
    await waitFor('the eviction sent', () => fake.count('POST', EVICT) === 1);
    fake.deletePod(NS, 'web-0');
    await waitFor('the successor created', () => (fake.get('pods', NS, 'web-0')?.metadata.uid ?? old) !== old);
    const successor = fake.get('pods', NS, 'web-0')!.metadata.uid;
    fake.releaseDelays();
    const r = await running;
    assert.deepEqual([r.body.action, r.body.event, r.body.success, r.body.rolled_back, r.body.reason], ['executed', 'SUCCESS', true, false, 'risk LOW: guardrails passed']);
    const detail = `pod ${NS}/web-0 (uid ${old}) was already gone: a new pod (uid ${successor}) now holds the name (429 to its eviction, which removed nothing): nothing to evict; done without effect`;
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual(
      e.steps.map((s: { phase: string; ok: boolean; detail: string; unconfirmed?: boolean }) => [s.phase, s.ok, s.detail, s.unconfirmed ?? null]),
      [['action', true, detail, null]],
    );
    assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['succeeded', false, false]);
    assert.deepEqual(await events(r.body.execution_id), ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'SUCCESS']);
    const [finished] = (await svc.get(`/api/v1/audit?execution_id=${r.body.execution_id}&event=STEP_FINISHED`)).body.events;
    assert.deepEqual([finished.details.ok, finished.details.detail], [true, detail]);
    // The budget answered about the successor, not yet ready: 429.
    assert.deepEqual(fake.requests.filter((q) => q.path === EVICT).map((q) => q.status), [429]);
    assert.deepEqual([fake.count('POST', /eviction$/), fake.count('DELETE', /.*/), target.calls('/undo')], [1, 0, 0]);
    assert.equal(fake.get('pods', NS, 'web-0')!.metadata.uid, successor);
    assert.equal(fake.get('pods', NS, 'web-0')!.metadata.deletionTimestamp, undefined);
    const circuit = (await svc.get('/api/v1/runbooks/evict-ordinal')).body.circuit;
    assert.deepEqual([circuit.state, circuit.failures], ['closed', 0]);
  });

  // Regression: a pod already terminating (someone deleted it, its kubelet still stopping
  // it) failed the step ("is already terminating"), and three such runs opened the circuit,
  // though the pod on its way out is what the action is for.
  it('a pod already terminating before its eviction or delete: the step is done without effect, the post-checks judge the workload, no breaker failure', async () => {
    fake.addNode('node-a');
    fake.addDeployment(NS, 'checkout', 3, { podNames: ['checkout-t1', 'checkout-t2', 'checkout-t3'] });
    target.route('POST', '/undo', { status: 200 });
    // Its kubelet confirms a while after the action has read it.
    fake.terminationDelayMs = 1_500;
    for (let i = 1; i <= 3; i++) {
      const pod = `checkout-t${i}`;
      fake.deletePod(NS, pod);
      const ts = new Date(fake.get('pods', NS, pod)!.metadata.deletionTimestamp!).toISOString();
      const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'crashloop', service: 'checkout', confidence: 1, context: { deployment: 'checkout', pod_name: pod, namespace: NS } });
      assert.deepEqual([r.body.action, r.body.event, r.body.success, r.body.rolled_back], ['executed', 'SUCCESS', true, false], r.body.reason);
      const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
      assert.deepEqual(
        e.steps.map((s: { phase: string; ok: boolean; detail: string; unconfirmed?: boolean }) => [s.phase, s.ok, s.detail, s.unconfirmed ?? null]),
        [
          ['action', true, `pod ${NS}/${pod} was already terminating (deletionTimestamp ${ts} when read): nothing to evict; done without effect`, null],
          // The post-check waited for the pod to go and the workload to be whole again.
          ['post_check', true, e.steps[1].detail, null],
        ],
      );
      assert.equal(fake.get('pods', NS, pod), undefined);
    }
    assert.equal(fake.count('POST', /eviction$/), 0);
    assert.equal(target.calls('/undo'), 0);
    const circuit = (await svc.get('/api/v1/runbooks/evict')).body.circuit;
    assert.deepEqual([circuit.state, circuit.failures], ['closed', 0]);
    // force_delete's plain delete the same; the circuit's failures stay 0.
    const [victim] = fake.list('pods', NS).filter((p) => !p.metadata.deletionTimestamp);
    fake.deletePod(NS, victim!.metadata.name);
    const del = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'stuck_pod', service: 'checkout', confidence: 1, context: { deployment: 'checkout', pod_name: victim!.metadata.name, namespace: NS } });
    assert.deepEqual([del.body.event, del.body.success], ['SUCCESS', true]);
    const [step] = (await svc.get(`/api/v1/executions/${del.body.execution_id}`)).body.steps;
    assert.deepEqual([step.ok, step.detail.replace(/\(deletionTimestamp [^ ]+ /, '(deletionTimestamp T ')], [true, `pod ${NS}/${victim!.metadata.name} was already terminating (deletionTimestamp T when read): nothing to delete; done without effect`]);
    assert.equal(fake.count('DELETE', /.*/), 0);
    assert.equal((await svc.get('/api/v1/runbooks/force-restart')).body.circuit.failures, 0);
  });

  it("an approved undo after a person's hotfix rolled out while the request waited: refused before any write, no rollback, no breaker failure", async () => {
    // The API server's clock in step with the service's (no pod deletion times here to judge by rectify's own).
    fake.serverNow = () => svc.clock.now();
    fake.addDeployment(NS, 'checkout', 3, { revisions: 2, rolledOutAt: BEFORE_ALERT() }); // v2, the bad rollout
    const asked = await svc.post('/api/v1/incidents', { root_cause: 'bad_deploy_approved', service: 'checkout', confidence: 1, context: { deployment: 'checkout', namespace: NS } });
    assert.equal(asked.body.action, 'approval_required');
    const received = (await svc.get(`/api/v1/incidents/${asked.body.incident_id}`)).body.incident.received_at as string;
    // Seven minutes later, while the request waits, a person rolls out a hotfix: revision 3.
    svc.clock.advance(7 * 60_000);
    const d = JSON.parse(JSON.stringify(fake.get('deployments', NS, 'checkout')));
    d.spec.template.spec.containers[0].image = 'example/checkout:v3-hotfix';
    fake.cluster.put('deployments', d);
    await waitFor('the hotfix rolled out', () => fake.get('deployments', NS, 'checkout')!.metadata.annotations?.['deployment.kubernetes.io/revision'] === '3');
    const rs3 = fake.list('replicasets', NS).find((rs) => rs.metadata.annotations?.['deployment.kubernetes.io/revision'] === '3')!;
    fake.clearRequests();
    const ok = await svc.post(`/api/v1/approvals/${asked.body.approval_id}/approve?wait=true`, { by: 'alice' });
    const refusal =
      `refused: deployment ${NS}/checkout was rolled out after the alert began: its revision 3 (ReplicaSet ${rs3.metadata.name}) was created at ${new Date(rs3.metadata.creationTimestamp).toISOString()}, ` +
      `and the alert this run acts for was received at ${received} (its received time: rectify does not keep an alert's startsAt); a relative undo from there would roll back that rollout (a fix someone made since, perhaps) instead of the one the alert is about; nothing was written: a person must check the deployment`;
    const failure = `action 1 failed: ${refusal}`;
    const r = ok.body.result;
    assert.deepEqual([r.action, r.event, r.success, r.rolled_back, r.reason], ['executed', 'FAILED', false, false, `${failure}; nothing was changed: no rollback`]);
    assert.equal(fake.requests.filter((q) => q.method === 'PATCH' || q.method === 'PUT' || q.method === 'POST').length, 0);
    assert.equal(fake.get('deployments', NS, 'checkout')!.spec.template.spec.containers[0].image, 'example/checkout:v3-hotfix');
    const e = (await svc.get(`/api/v1/executions/${r.execution_id}`)).body;
    assert.deepEqual(
      e.steps.map((s: { phase: string; ok: boolean; detail: string; refused?: string }) => [s.phase, s.ok, s.detail, s.refused]),
      [['action', false, refusal, 'rule']],
    );
    assert.deepEqual(await events(r.execution_id), ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'FAILED']);
    const [failed] = (await svc.get(`/api/v1/audit?execution_id=${r.execution_id}&event=FAILED`)).body.events;
    assert.deepEqual(failed.details, { reason: failure, rolled_back: false, rollback: 'nothing was changed: no rollback', circuit: 'not counted: rectify refused the step by its own rule, before anything changed' });
    assert.equal((await svc.get('/api/v1/runbooks/undo-approved')).body.circuit.failures, 0);
  });

  // Regression: a step rectify refused by its own rule, having changed nothing, counted
  // against the breaker like a target that failed: runs the target never saw opened the
  // circuit and switched the runbook off.
  it("a step rectify refuses by its own rule fails the run without its rollback and is no breaker failure; the target's failures still are", async () => {
    fake.addPod(NS, 'lonely'); // no controller: nothing would replace it
    fake.addDeployment(NS, 'web', 3);
    const counted = async (id: string) => (await svc.get(`/api/v1/runbooks/${id}`)).body.circuit;
    const NOT_COUNTED = 'not counted: rectify refused the step by its own rule, before anything changed';
    for (let i = 0; i < 3; i++) {
      const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'stuck_pod', service: 'lonely', confidence: 1, context: { pod_name: 'lonely', namespace: NS } });
      const failure = `action 1 failed: refused: pod ${NS}/lonely has no controller: nothing would replace it`;
      assert.deepEqual([r.body.action, r.body.event, r.body.success, r.body.rolled_back, r.body.reason], ['executed', 'FAILED', false, false, `${failure}; nothing was changed: no rollback`]);
      const [failed] = (await svc.get(`/api/v1/audit?execution_id=${r.body.execution_id}&event=FAILED`)).body.events;
      assert.deepEqual(failed.details.circuit, NOT_COUNTED);
    }
    assert.equal(target.calls('/undo'), 0);
    assert.equal(fake.count('DELETE', /.*/), 0);
    assert.deepEqual([(await counted('force-restart')).state, (await counted('force-restart')).failures], ['closed', 0]);
    // A scale-down past max_unavailable: refused by rectify before the write, and not rolled back either.
    const shrink = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'too_big', service: 'web', confidence: 1, context: { deployment: 'web', namespace: NS, replicas: '1' } });
    assert.deepEqual([shrink.body.success, shrink.body.rolled_back], [false, false]);
    assert.match(shrink.body.reason, /^action 1 failed: refused: max_unavailable 1 allows removing 1 of 3 replicas of Deployment production\/web; .*; nothing was changed: no rollback$/);
    assert.equal(fake.get('deployments', NS, 'web')!.spec.replicas, 3);
    assert.equal((await counted('shrink')).failures, 0);
    // The target failing is what the breaker is for, even when it changed nothing: a read that failed counts.
    fake.injectError('GET', `/apis/apps/v1/namespaces/${NS}/deployments/web/scale`, 500, 'InternalError', 'etcd unavailable');
    const broken = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'too_big', service: 'web', confidence: 1, context: { deployment: 'web', namespace: NS, replicas: '4' } });
    assert.deepEqual([broken.body.success, broken.body.rolled_back], [false, false]);
    assert.match(broken.body.reason, /etcd unavailable; nothing was changed: no rollback$/);
    assert.equal((await counted('shrink')).failures, 1);
  });

  // Regression: without max_unavailable, a scale-down that removed a StatefulSet's one
  // ready pod (db-2, db-0 and db-1 not ready) went through and left it none.
  it('a scale-down without max_unavailable that would remove the last ready pod is refused as one past the cap: FAILED, no rollback, no breaker failure, nothing written', async () => {
    fake.readyDelayMs = 60_000;
    fake.cluster.controllerDelayMs = 600_000; // the pods stay as set while the test runs
    fake.addStatefulSet(NS, 'db', 3);
    fake.setPodReady(NS, 'db-0', false);
    fake.setPodReady(NS, 'db-1', false);
    fake.clearRequests();
    const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'db_too_big', service: 'db', confidence: 1, context: { statefulset: 'db', namespace: NS, replicas: '2' } });
    const failure = `action 1 failed: refused: scaling StatefulSet ${NS}/db from 3 to 2 would leave it no ready pod: ready now 1 (db-2), and the scale-down removes db-2, keeping db-0, db-1, none ready; nothing was written: a person must check it`;
    assert.deepEqual(
      [r.body.action, r.body.event, r.body.success, r.body.rolled_back, r.body.reason],
      ['executed', 'FAILED', false, false, `${failure}; nothing was changed: no rollback`],
    );
    assert.deepEqual(await events(r.body.execution_id), ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'FAILED']);
    const [failed] = (await svc.get(`/api/v1/audit?execution_id=${r.body.execution_id}&event=FAILED`)).body.events;
    assert.deepEqual(failed.details, {
      reason: failure,
      rolled_back: false,
      rollback: 'nothing was changed: no rollback',
      circuit: 'not counted: rectify refused the step by its own rule, before anything changed',
    });
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual([e.state, e.rolled_back, e.steps.length, e.steps[0].ok], ['failed', false, 1, false]);
    assert.equal(fake.count('PUT', /.*/) + fake.count('PATCH', /.*/), 0);
    assert.equal(fake.get('statefulsets', NS, 'db')!.spec.replicas, 3);
    assert.equal((await svc.get('/api/v1/runbooks/shrink-db')).body.circuit.failures, 0);
  });
});

describe('kubernetes runs: a stop after a refusal was recorded', { timeout: 60_000 }, () => {
  const on = useServiceOnFake({
    runbooks: (target) => `runbooks:
${runbook('evict-ordinal', 'stuck_ordinal', `    action: kubectl delete pod {pod_name} -n {namespace}
    rollback:
      http: {method: POST, url: "${target.url}/undo"}
`)}`,
    // Runs are cut off at once by a stop.
    args: () => ['--shutdown-grace', '0s'],
  });

  // Regression: a stop that came while the eviction's "not now" was being confirmed (the
  // read after the 429, cut off by the stop, keeps the refusal) ended the trial INTERRUPTED
  // and re-opened its circuit with a new wait, where crash recovery, finding the same
  // recorded steps, ends it as refused: nothing changed, nothing about the target is unknown.
  it('a half-open trial whose eviction was refused (429) as rectify stopped ends DISRUPTION_BLOCKED, its circuit open with the wait it had served', async () => {
    const { fake, svc, target } = on;
    fake.addStatefulSet(NS, 'web', 3);
    target.route('POST', '/undo', { status: 200 });
    const openedAt = svc.clock.now() - 3_600_000;
    const db = new Database(svc.dbPath);
    try {
      db.prepare('INSERT OR REPLACE INTO circuits (runbook, state, failures, opened_at, trial_execution_id, updated_at) VALUES (?, ?, ?, ?, NULL, ?)').run('evict-ordinal', 'open', 3, openedAt, openedAt);
    } finally {
      db.close();
    }
    const POD = `/api/v1/namespaces/${NS}/pods/web-0`;
    const EVICTION = `${POD}/eviction`;
    // The eviction is held, then refused by the budget; the read after it is held until the stop cuts it off.
    fake.injectDelay('POST', EVICTION, 30_000);
    fake.injectError('POST', EVICTION, 429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.", 1, {});
    const run = svc.post('/api/v1/incidents?wait=true', { root_cause: 'stuck_ordinal', service: 'web', confidence: 1, context: { pod_name: 'web-0', namespace: NS } });
    await waitFor('the eviction sent', () => fake.count('POST', EVICTION) === 1);
    fake.injectDelay('GET', POD, 30_000);
    fake.releaseDelays();
    await waitFor('the pod read again after the 429', () => fake.count('GET', POD) === 2);
    await svc.stop();
    await run.catch(() => undefined);

    const c = new Database(svc.dbPath, { readonly: true });
    try {
      const circuit = c.prepare("SELECT state, failures, opened_at, trial_execution_id FROM circuits WHERE runbook = 'evict-ordinal'").get();
      assert.deepEqual(circuit, { state: 'open', failures: 3, opened_at: openedAt, trial_execution_id: null });
      const exe = c.prepare("SELECT id, state FROM executions WHERE runbook = 'evict-ordinal'").get() as { id: string; state: string };
      assert.equal(exe.state, 'aborted');
      const rows = c.prepare('SELECT event, details FROM audit WHERE execution_id = ? ORDER BY seq').all(exe.id) as Array<{ event: string; details: string }>;
      assert.deepEqual(
        rows.map((r) => r.event),
        ['CIRCUIT_HALF_OPEN', 'EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'DISRUPTION_BLOCKED'],
      );
      assert.equal(
        JSON.parse(rows[4]!.details).circuit_trial,
        "it was the circuit's trial run, and it changed nothing, which says nothing about the runbook: the circuit is open again without a new recovery wait, and the next incident may be its trial",
      );
      const tripped = c.prepare("SELECT count(*) FROM audit WHERE runbook = 'evict-ordinal' AND event IN ('CIRCUIT_TRIPPED', 'INTERRUPTED')").pluck().get();
      assert.equal(tripped, 0);
    } finally {
      c.close();
    }
    // Nothing removed, nothing undone.
    assert.equal(fake.count('DELETE', /.*/), 0);
    assert.equal(target.calls('/undo'), 0);
    assert.ok(fake.get('pods', NS, 'web-0'));
  });
});
