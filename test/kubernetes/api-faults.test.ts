import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import type { HttpTarget } from '../helpers/http-target.js';
import type { KubeFake } from '../helpers/kube-fake/index.js';
import type { TestService } from '../helpers/service.js';
import { loopRunbook as runbook, useServiceOnFake } from './setup.js';

/**
 * A Kubernetes API that misbehaves mid-run, through the whole service against the API
 * fake: what was sent is recorded, what is unknown is said so, and a person is asked
 * to look when nothing rectify does afterwards can tell what happened.
 */
const NS = 'production';
const SCALE = `/apis/apps/v1/namespaces/${NS}/deployments/checkout/scale`;
const DEPLOYMENT = `/apis/apps/v1/namespaces/${NS}/deployments/checkout`;

describe('kubernetes runs when the API misbehaves mid-run', { timeout: 60_000 }, () => {
  const on = useServiceOnFake({
    prepare: (fake, target) => {
      target.route('POST', '/hook', { status: 204 });
      target.route('GET', '/healthy', { status: 200 });
      fake.addDeployment(NS, 'checkout', 3, { revisions: 2, rolledOutAt: Date.UTC(2026, 10, 24, 2, 0, 0) });
    },
    runbooks: (target) => `runbooks:
${runbook('grow', 'overloaded', `    action: kubectl scale deployment {deployment} --replicas={new_replicas} -n {namespace}
    rollback: null
`)}${runbook('grow-verified', 'overloaded_verified', `    action: kubectl scale deployment {deployment} --replicas={new_replicas} -n {namespace}
    rollback: kubectl scale deployment {deployment} --replicas={old_replicas} -n {namespace}
`)}${runbook('undo', 'bad_deploy', `    action: kubectl rollout undo deployment {deployment} -n {namespace}
    post_checks:
      - http: {url: "${target.url}/healthy", timeout_seconds: 1, interval_seconds: 0.2}
    rollback: kubectl rollout undo deployment {deployment} -n {namespace}
`)}`,
    args: (target) => ['--notify-webhook', `${target.url}/hook`],
  });
  let target: HttpTarget;
  let fake: KubeFake;
  let svc: TestService;
  beforeEach(() => ({ target, fake, svc } = on));

  const cut = (path: string) => `request to ${fake.url}${path} failed, reason: socket hang up`;
  const etcd = '500 InternalError: etcdserver: request timed out';
  /** The read after a cut write fails too. */
  const readFails = (path: string) => () => fake.injectError('GET', path, 500, 'InternalError', 'etcdserver: request timed out');

  it('a scale whose answer is lost after it was applied, and whose read after it fails, with no rollback: sent once, never reported done, and left to a person', async () => {
    fake.injectReset('PUT', SCALE, { applied: true, then: readFails(SCALE) });
    const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'overloaded', service: 'checkout', confidence: 1, context: { deployment: 'checkout', namespace: NS } });
    const detail = `scale deployment production/checkout: ${cut(SCALE)} (a write may have reached the cluster; a read after it could not tell: the read failed: ${etcd})`;
    const failure = `action 1 failed: ${detail}`;
    assert.deepEqual([r.body.action, r.body.success, r.body.rolled_back, r.body.reason], ['executed', false, false, failure]);
    // The write landed; rectify cannot know it, and does not send it again.
    assert.equal(fake.count('PUT', SCALE), 1);
    assert.equal(fake.get('deployments', NS, 'checkout')!.spec.replicas, 4);
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['failed', false, true]);
    assert.deepEqual(
      e.steps.map((s: { phase: string; ok: boolean; detail: string; unconfirmed?: boolean }) => [s.phase, s.ok, s.detail, s.unconfirmed ?? null]),
      [['action', false, detail, true]],
    );
    const audit = (await svc.get(`/api/v1/audit?execution_id=${r.body.execution_id}`)).body.events.reverse();
    assert.deepEqual(
      audit.map((a: { event: string }) => a.event),
      ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'FAILED'],
    );
    assert.equal(audit[2].details.unconfirmed, true);
    assert.deepEqual(
      [audit[3].details.reason, audit[3].details.rolled_back, audit[3].details.needs_human],
      [failure, false, true],
    );
    // Counted by the breaker, and told.
    assert.equal((await svc.get('/api/v1/runbooks/grow')).body.circuit.failures, 1);
    await target.waitForRequest('/hook');
    // A pager routing on the payload tells it from an ordinary failure: needs_human, as the
    // execution view gives it, and a reason saying a person must check.
    const told = target.requests('/hook', 'POST').map((q) => q.json() as Record<string, unknown>);
    assert.deepEqual(
      told.map((t) => [t.event, t.outcome, t.needs_human, t.reason]),
      [['FAILED', 'failed', true, `${failure}; a write got no answer saying whether it was applied, and no rollback ran after it to read the target back: a person must check`]],
    );
    assert.deepEqual(Object.keys(told[0]!).sort(), ['approval_id', 'at', 'event', 'execution_id', 'incident_id', 'links', 'needs_human', 'notification_id', 'outcome', 'reason', 'runbook', 'service']);
  });

  it('a scale answered 429 (throttled, Retry-After) changed nothing: not retried, not a person\'s to check', async () => {
    fake.injectError('PUT', SCALE, 429, 'TooManyRequests', 'Too many requests, please try again later.', 1, { 'retry-after': '1' });
    const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'overloaded', service: 'checkout', confidence: 1, context: { deployment: 'checkout', namespace: NS } });
    assert.equal(r.body.reason, 'action 1 failed: scale deployment production/checkout: 429 TooManyRequests: Too many requests, please try again later.');
    assert.equal(fake.count('PUT', SCALE), 1);
    assert.equal(fake.get('deployments', NS, 'checkout')!.spec.replicas, 3);
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual([e.state, e.needs_human, e.steps[0].unconfirmed ?? null], ['failed', false, null]);
  });

  // Regression: a scale whose answer was lost after it landed failed the run ("a write may
  // have reached the cluster") and left it to a person, though one read showed it done.
  it('a scale whose answer is lost after it was applied: a read finds the count written, the step is done, the run succeeds', async () => {
    fake.injectReset('PUT', SCALE, { applied: true });
    const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'overloaded', service: 'checkout', confidence: 1, context: { deployment: 'checkout', namespace: NS } });
    assert.deepEqual([r.body.action, r.body.event, r.body.success, r.body.rolled_back], ['executed', 'SUCCESS', true, false]);
    assert.equal(fake.count('PUT', SCALE), 1);
    assert.equal(fake.get('deployments', NS, 'checkout')!.spec.replicas, 4);
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['succeeded', false, false]);
    assert.deepEqual(
      e.steps.map((s: { phase: string; ok: boolean; detail: string; unconfirmed?: boolean }) => [s.phase, s.ok, s.detail, s.unconfirmed ?? null]),
      [
        [
          'action',
          true,
          `scaled Deployment production/checkout from 3 to 4 replicas (its answer was lost: ${cut(SCALE)}; a read then found that the write landed: Deployment production/checkout has 4 replicas)`,
          null,
        ],
      ],
    );
  });

  it('a scale whose answer is lost before it was applied: a read finds the count from before, the step failed having changed nothing, no rollback, no person needed', async () => {
    fake.injectReset('PUT', SCALE, { applied: false });
    const r = await svc.post('/api/v1/incidents?wait=true', {
      root_cause: 'overloaded_verified',
      service: 'checkout',
      confidence: 1,
      context: { deployment: 'checkout', namespace: NS },
    });
    const detail = `scale deployment production/checkout: ${cut(SCALE)}; a read then found that the write did not land (Deployment production/checkout has 3 replicas)`;
    assert.equal(r.body.reason, `action 1 failed: ${detail}; nothing was changed: no rollback`);
    assert.deepEqual([fake.count('PUT', SCALE), fake.get('deployments', NS, 'checkout')!.spec.replicas], [1, 3]);
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['failed', false, false]);
    await target.waitForRequest('/hook');
    const told = target.requests('/hook', 'POST').map((q) => q.json() as Record<string, unknown>);
    assert.deepEqual(told.map((t) => [t.event, t.needs_human, t.reason]), [['FAILED', false, r.body.reason]]);
    assert.deepEqual(
      e.steps.map((s: { phase: string; ok: boolean; detail: string; unconfirmed?: boolean }) => [s.phase, s.ok, s.detail, s.unconfirmed ?? null]),
      [['action', false, detail, null]],
    );
  });

  const image = () => fake.get('deployments', NS, 'checkout')!.spec.template.spec.containers[0].image as string;
  const patches = () => fake.count('PATCH', DEPLOYMENT);
  const undo = () => svc.post('/api/v1/incidents?wait=true', { root_cause: 'bad_deploy', service: 'checkout', confidence: 1, context: { deployment: 'checkout', namespace: NS } });

  // Regression: the undo's PATCH landed, its answer was lost, and the rollback ran at once:
  // it wrote revision 2's template back (the bad deploy) with no post-check run and no
  // person asked.
  it('a rollout undo whose answer is lost after it landed: a read finds the template written, the post-checks run, the bad deploy stays undone', async () => {
    assert.equal(image(), 'example/checkout:v2');
    const rs1 = fake.list('replicasets', NS).find((x) => x.metadata.annotations?.['deployment.kubernetes.io/revision'] === '1')!.metadata.name;
    fake.injectReset('PATCH', DEPLOYMENT, { applied: true });
    const r = await undo();
    assert.deepEqual([r.body.action, r.body.event, r.body.success, r.body.rolled_back], ['executed', 'SUCCESS', true, false], r.body.reason);
    assert.deepEqual([patches(), image(), target.calls('/healthy')], [1, 'example/checkout:v1', 1]);
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['succeeded', false, false]);
    assert.deepEqual(
      e.steps.map((s: { phase: string; ok: boolean; detail: string; unconfirmed?: boolean }) => [s.phase, s.ok, s.unconfirmed ?? null]),
      [
        ['action', true, null],
        ['post_check', true, null],
      ],
    );
    assert.equal(
      e.steps[0].detail,
      `rolled deployment production/checkout back from revision 2 to revision 1 (ReplicaSet ${rs1}) (its answer was lost: ${cut(DEPLOYMENT)}; a read then found that the write landed: deployment production/checkout has revision 1's pod template)`,
    );
  });

  it('a rollout undo whose answer is lost before it landed: a read finds the template from before, nothing changed, no rollback', async () => {
    fake.injectReset('PATCH', DEPLOYMENT, { applied: false });
    const r = await undo();
    const detail = `rollout_undo deployment production/checkout: ${cut(DEPLOYMENT)}; a read then found that the write did not land (deployment production/checkout still has revision 2's pod template, as before the undo)`;
    assert.equal(r.body.reason, `action 1 failed: ${detail}; nothing was changed: no rollback`);
    assert.deepEqual([patches(), image()], [1, 'example/checkout:v2']);
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['failed', false, false]);
  });

  it('a rollout undo whose answer is lost and whose read after it fails: its rollback is held, not run, and a person is asked', async () => {
    fake.injectReset('PATCH', DEPLOYMENT, { applied: true, then: readFails(DEPLOYMENT) });
    const r = await undo();
    const detail = `rollout_undo deployment production/checkout: ${cut(DEPLOYMENT)} (a write may have reached the cluster; a read after it could not tell: the read failed: ${etcd})`;
    const why =
      "the rollback was not run: the undo's answer was lost and rectify could not tell whether it landed; the rollback would put back revision 2's template, the one the undo was taking away, on no evidence; a person must check";
    assert.equal(r.body.reason, `action 1 failed: ${detail}; ${why}`);
    // The one PATCH is the undo's: no rollback wrote revision 2's template back.
    assert.deepEqual([patches(), image()], [1, 'example/checkout:v1']);
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['failed', false, true]);
    assert.deepEqual(
      e.steps.map((s: { phase: string; ok: boolean; detail: string; unconfirmed?: boolean }) => [s.phase, s.ok, s.detail, s.unconfirmed ?? null]),
      [['action', false, detail, true]],
    );
    const [failed] = (await svc.get(`/api/v1/audit?execution_id=${r.body.execution_id}&event=FAILED`)).body.events;
    const { reason, rolled_back, rollback, needs_human } = failed.details;
    assert.deepEqual({ reason, rolled_back, rollback, needs_human }, { reason: `action 1 failed: ${detail}`, rolled_back: false, rollback: why, needs_human: true });
  });
});
