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

describe('kubernetes runs when the API misbehaves mid-run', { timeout: 60_000 }, () => {
  const on = useServiceOnFake({
    prepare: (fake, target) => {
      target.route('POST', '/hook', { status: 204 });
      fake.addDeployment(NS, 'checkout', 3);
    },
    runbooks: () => `runbooks:
${runbook('grow', 'overloaded', `    action: kubectl scale deployment {deployment} --replicas={new_replicas} -n {namespace}
    rollback: null
`)}${runbook('grow-verified', 'overloaded_verified', `    action: kubectl scale deployment {deployment} --replicas={new_replicas} -n {namespace}
    rollback: kubectl scale deployment {deployment} --replicas={old_replicas} -n {namespace}
`)}`,
    args: (target) => ['--notify-webhook', `${target.url}/hook`],
  });
  let target: HttpTarget;
  let fake: KubeFake;
  let svc: TestService;
  beforeEach(() => ({ target, fake, svc } = on));

  const lost = `scale deployment production/checkout: request to \${url}${SCALE} failed, reason: socket hang up (a write may have reached the cluster)`;

  it('a scale whose answer is lost after it was applied, with no rollback: sent once, never reported done, and left to a person', async () => {
    fake.injectReset('PUT', SCALE, { applied: true });
    const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'overloaded', service: 'checkout', confidence: 1, context: { deployment: 'checkout', namespace: NS } });
    const detail = lost.replace('${url}', fake.url);
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

  it('a lost answer followed by a rollback that read the workload back: the rollback settles it, no person needed', async () => {
    // Cut before the API server applied it: the rollback finds the count from before the run.
    fake.injectReset('PUT', SCALE, { applied: false });
    const r = await svc.post('/api/v1/incidents?wait=true', {
      root_cause: 'overloaded_verified',
      service: 'checkout',
      confidence: 1,
      context: { deployment: 'checkout', namespace: NS },
    });
    const detail = lost.replace('${url}', fake.url);
    assert.equal(
      r.body.reason,
      `action 1 failed: ${detail}; the rollback changed nothing: Deployment production/checkout already has 3 replicas (the count it had before this run's scale)`,
    );
    assert.equal(fake.count('PUT', SCALE), 1);
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['failed', false, false]);
    await target.waitForRequest('/hook');
    const told = target.requests('/hook', 'POST').map((q) => q.json() as Record<string, unknown>);
    assert.deepEqual(told.map((t) => [t.event, t.needs_human, t.reason]), [['FAILED', false, r.body.reason]]);
    assert.deepEqual(
      e.steps.map((s: { phase: string; ok: boolean; unconfirmed?: boolean }) => [s.phase, s.ok, s.unconfirmed ?? null]),
      [
        ['action', false, true],
        ['rollback', true, null],
      ],
    );
  });
});
