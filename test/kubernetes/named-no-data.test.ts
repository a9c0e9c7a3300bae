import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import type { HttpTarget } from '../helpers/http-target.js';
import type { KubeFake } from '../helpers/kube-fake/index.js';
import type { TestService } from '../helpers/service.js';
import { useServiceOnFake } from './setup.js';

/**
 * `on_no_data` on the named checks that read the cluster (`pod_becomes_ready` here),
 * through the whole service against the API fake: a post-check whose last try the API
 * would not answer (5xx, 403, no answer in time) cannot tell whether the fix worked,
 * and with `on_no_data: needs_human` its rollback is held for a person.
 */
const NS = 'production';
const PODS = `/api/v1/namespaces/${NS}/pods`;
const HELD = 'the rollback was not run: the verification could not measure (on_no_data: needs_human); a person must check';

const runbook = (id: string, trigger: string, onNoData: string) => `  ${id}:
    risk: LOW
    triggers: [${trigger}]
    min_confidence: 0.5
    max_per_hour: 100
    cooldown_minutes: 0
    action: kubectl rollout restart deployment {deployment} -n {namespace}
    post_checks:
      - pod_becomes_ready: {timeout_seconds: 1, interval_seconds: 0.2${onNoData}}
    rollback:
      http: {method: POST, url: "{undo_url}"}
`;

describe('named Kubernetes checks take on_no_data', { timeout: 60_000 }, () => {
  const on = useServiceOnFake({
    prepare: (fake, target) => {
      target.route('POST', '/undo', { status: 200 });
      fake.addDeployment(NS, 'checkout', 3);
    },
    runbooks: (target) =>
      `runbooks:\n${runbook('held', 'stuck', ', on_no_data: needs_human').replace('{undo_url}', `${target.url}/undo`)}${runbook('plain', 'stuck_plain', '').replace('{undo_url}', `${target.url}/undo`)}`,
  });
  let target: HttpTarget;
  let fake: KubeFake;
  let svc: TestService | undefined;
  beforeEach(() => ({ target, fake, svc } = on));

  const run = async (trigger: string) => {
    const r = await svc!.post('/api/v1/incidents?wait=true', { root_cause: trigger, service: 'checkout', confidence: 1, context: { deployment: 'checkout', namespace: NS } });
    assert.equal(r.body.action, 'executed');
    const e = (await svc!.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    const post = e.steps.find((s: { phase: string }) => s.phase === 'post_check');
    return { r, e, post };
  };

  for (const [what, fault] of [
    ['errs (503)', (f: KubeFake) => f.injectError('GET', PODS, 503, 'ServiceUnavailable', 'the server is currently unable to handle the request', 1000)],
    ['refuses (403)', (f: KubeFake) => f.injectError('GET', PODS, 403, 'Forbidden', 'pods is forbidden: User "system:serviceaccount:rectify:rectify" cannot list resource "pods"', 1000)],
    ['does not answer in time', (f: KubeFake) => f.injectDelay('GET', PODS, 60_000, 1000)],
  ] as const) {
    it(`pod_becomes_ready whose API ${what} to its last try: with needs_human the rollback is held, FAILED, needs_human`, async () => {
      fault(fake);
      const { r, e, post } = await run('stuck');
      assert.deepEqual([r.body.success, r.body.rolled_back], [false, false]);
      assert.ok(String(r.body.reason).startsWith('verification failed: pod_becomes_ready: '), r.body.reason);
      assert.ok(String(r.body.reason).endsWith(`; ${HELD}`), r.body.reason);
      assert.equal(target.calls('/undo', 'POST'), 0, 'the rollback was not run');
      assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['failed', false, true]);
      assert.deepEqual([post.ok, post.inconclusive], [false, true]);
      const [failed] = (await svc!.get(`/api/v1/audit?execution_id=${r.body.execution_id}&event=FAILED`)).body.events;
      assert.deepEqual([failed.details.rolled_back, failed.details.rollback, failed.details.needs_human], [false, HELD, true]);
    });
  }

  it('without on_no_data (fail) the same inconclusive check rolls back', async () => {
    fake.injectError('GET', PODS, 503, 'ServiceUnavailable', 'the server is currently unable to handle the request', 1000);
    const { r, e, post } = await run('stuck_plain');
    assert.deepEqual([r.body.success, r.body.rolled_back, e.needs_human, post.inconclusive], [false, true, false, true]);
    assert.equal(target.calls('/undo', 'POST'), 1);
  });

  it('under needs_human, a state the API did answer (the new pods not ready) is a measurement: the rollback runs', async () => {
    fake.readyDelayMs = 60_000;
    const { r, e, post } = await run('stuck');
    assert.deepEqual([r.body.success, r.body.rolled_back, e.needs_human, post.inconclusive ?? null], [false, true, false, null], r.body.reason);
    assert.equal(target.calls('/undo', 'POST'), 1);
  });
});
