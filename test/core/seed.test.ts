import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService, type TestService } from '../helpers/service.js';

const SEED_INCIDENTS = JSON.parse(readFileSync(new URL('../fixtures/seed/incidents.json', import.meta.url), 'utf8')) as Array<Record<string, unknown> & { expected: { action: string; runbook?: string; reason?: string } }>;

/** The seed's three runbooks, the same shape, with http actions against a real local server. */
function seedShapedRunbooks(base: string): string {
  return `
runbooks:
  restart-pod:
    risk: LOW
    triggers: [CrashLoopBackOff, OOMKilled]
    min_confidence: 0.8
    max_per_hour: 5
    cooldown_minutes: 5
    pre_checks:
      - http: {url: "${base}/pods/{pod_name}/replicas-ok", timeout_seconds: 2, interval_seconds: 1}
    action:
      http: {method: POST, url: "${base}/namespaces/{namespace}/pods/{pod_name}/restart"}
    post_checks:
      - http: {url: "${base}/pods/{pod_name}/ready", timeout_seconds: 5, interval_seconds: 1}
    rollback: null
  scale-up:
    risk: LOW
    triggers: [high_cpu, high_memory, queue_backlog]
    min_confidence: 0.7
    max_per_hour: 3
    cooldown_minutes: 10
    action:
      http: {method: POST, url: "${base}/deployments/{deployment}/scale", body: {replicas: "{new_replicas}"}}
    post_checks:
      - http: {url: "${base}/deployments/{deployment}/healthy", timeout_seconds: 5, interval_seconds: 1}
    rollback:
      http: {method: POST, url: "${base}/deployments/{deployment}/scale", body: {replicas: "{old_replicas}"}}
  rollback-deployment:
    risk: HIGH
    triggers: [error_rate_spike_after_deploy]
    min_confidence: 0.9
    max_per_hour: 1
    cooldown_minutes: 30
    action:
      http: {method: POST, url: "${base}/deployments/{deployment}/undo"}
    rollback:
      http: {method: POST, url: "${base}/deployments/{deployment}/undo"}
`;
}

describe('the seed incidents get the seed answers', () => {
  let target: HttpTarget;
  let svc: TestService;
  before(async () => {
    target = await startHttpTarget();
    target.route('GET', '/pods/api-server-abc123/replicas-ok', { status: 200 });
    target.route('POST', '/namespaces/production/pods/api-server-abc123/restart', { status: 200 });
    target.route('GET', '/pods/api-server-abc123/ready', { status: 200 });
    target.route('POST', '/deployments/worker/scale', { status: 200 });
    target.route('GET', '/deployments/worker/healthy', { status: 200 });
    svc = await startTestService({ runbooks: seedShapedRunbooks(target.url) });
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });

  for (const inc of SEED_INCIDENTS) {
    it(`${String(inc.id)} → ${inc.expected.action}`, async () => {
      const { expected, ...body } = inc;
      const res = await svc.post('/api/v1/incidents?wait=true', body);
      assert.equal(res.status, 202);
      assert.equal(res.body.incident_id, inc.id);
      assert.equal(res.body.action, expected.action);
      if (expected.runbook) assert.equal(res.body.runbook, expected.runbook);
      if (expected.reason) assert.equal(res.body.reason.toLowerCase(), expected.reason);
      if (expected.action === 'executed') {
        assert.equal(res.body.success, true);
        assert.equal(res.body.rolled_back, false);
      }
    });
  }

  it('ran exactly the actions the decisions allowed', () => {
    assert.equal(target.calls('/namespaces/production/pods/api-server-abc123/restart', 'POST'), 1);
    const scale = target.requests('/deployments/worker/scale', 'POST');
    assert.equal(scale.length, 1);
    assert.deepEqual(scale[0]!.json(), { replicas: '5' });
    assert.equal(target.calls('/deployments/checkout/undo'), 0, 'HIGH risk waits for approval');
  });

  it('INC003 is pending approval with the rendered plan', async () => {
    const res = await svc.get('/api/v1/approvals?status=pending');
    assert.equal(res.status, 200);
    assert.equal(res.body.approvals.length, 1);
    const a = res.body.approvals[0];
    assert.equal(a.incident_id, 'INC003');
    assert.equal(a.runbook, 'rollback-deployment');
    assert.deepEqual(a.actions, [`POST ${target.url}/deployments/checkout/undo`]);
  });

  it('records the seed vocabulary in the audit log', async () => {
    const res = await svc.get('/api/v1/audit?limit=100');
    const byIncident = (id: string) => res.body.events.filter((e: any) => e.incident_id === id).map((e: any) => e.event).reverse();
    // The pre-check, the action and the post-check: each a step of its own.
    assert.deepEqual(byIncident('INC001'), ['EXECUTING', ...Array(3).fill(['STEP_STARTED', 'STEP_FINISHED']).flat(), 'SUCCESS']);
    assert.deepEqual(byIncident('INC003'), ['APPROVAL_REQUIRED']);
    assert.deepEqual(byIncident('INC004'), ['NO_RUNBOOK']);
  });
});
