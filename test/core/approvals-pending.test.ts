import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';

/**
 * rectify_approvals_pending is what an alert rule `rectify_approvals_pending > 0`
 * watches: it must follow every request opened and every one that leaves the pending
 * state, and be right from the first scrape after a start.
 */

const MIN = 60_000;

const runbooks = (base: string, path = 'undo') => `runbooks:
  rollback-deployment:
    risk: HIGH
    triggers: [ErrorRateSpike]
    max_per_hour: 200
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/deployments/{deployment}/${path}"}
`;

/** An alert for one deployment: one plan, so one request per deployment. */
const alert = (deployment: string, n = 0, status: 'firing' | 'resolved' = 'firing') => ({
  labels: { alertname: 'ErrorRateSpike', service: 'checkout', deployment, namespace: 'production' },
  fingerprint: `fp-${deployment}-${n}`,
  status,
});

async function pendingGauge(svc: TestService): Promise<string[]> {
  const text = (await svc.get('/metrics')).body as string;
  return text.split('\n').filter((l) => l.startsWith('rectify_approvals_pending'));
}

describe('rectify_approvals_pending', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
    for (const d of ['d0', 'd1']) target.route('POST', `/deployments/${d}/undo`, { status: 200 });
  });
  after(async () => target.close());

  it('counts requests opened and leaves out those approved, rejected, cancelled by a resolve and expired; joins and re-deliveries add nothing', async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--approval-ttl', '1h', '--max-pending-approvals', '1000'] });
    try {
      assert.deepEqual(await pendingGauge(svc), ['rectify_approvals_pending 0']);
      const one = await svc.post('/api/v1/incidents', { root_cause: 'ErrorRateSpike', service: 'checkout', context: { deployment: 'solo' } });
      assert.equal(one.body.action, 'approval_required');
      assert.deepEqual(await pendingGauge(svc), ['rectify_approvals_pending 1']);

      // A storm of 150 plans in one body: one count for its one commit, not one per alert.
      const counted = mock.method(svc.service.metrics, 'approvalsPending');
      const storm = amWebhook(Array.from({ length: 150 }, (_, i) => alert(`d${i}`)));
      const fired = await svc.post('/api/v1/webhooks/alertmanager', storm);
      assert.equal(fired.status, 202);
      assert.equal(new Set(fired.body.results.map((r: any) => r.approval_id)).size, 150);
      assert.deepEqual(counted.mock.calls.map((c) => c.arguments), [[151]]);
      counted.mock.restore();
      assert.deepEqual(await pendingGauge(svc), ['rectify_approvals_pending 151']);

      // The same body again (re-delivery), and an alert joining the request for d0.
      assert.deepEqual(new Set((await svc.post('/api/v1/webhooks/alertmanager', storm)).body.results.map((r: any) => r.action)), new Set(['duplicate']));
      const joined = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert('d0', 1)]));
      assert.equal(joined.body.results[0].approval_id, fired.body.results[0].approval_id);
      assert.deepEqual(await pendingGauge(svc), ['rectify_approvals_pending 151']);

      const id = (i: number): string => fired.body.results[i].approval_id;
      const approved = await svc.post(`/api/v1/approvals/${id(0)}/approve?wait=true`, { by: 'alice' });
      assert.equal(approved.body.result.action, 'executed');
      assert.deepEqual(await pendingGauge(svc), ['rectify_approvals_pending 150']);
      assert.equal((await svc.post(`/api/v1/approvals/${id(1)}/reject`, { by: 'alice' })).status, 200);
      assert.deepEqual(await pendingGauge(svc), ['rectify_approvals_pending 149']);
      // The only alert of d2's request resolves: the request is cancelled.
      const resolved = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert('d2', 0, 'resolved')]));
      assert.equal(resolved.body.results[0].reason, 'alert resolved; 1 pending approval(s) cancelled');
      assert.deepEqual(await pendingGauge(svc), ['rectify_approvals_pending 148']);
      // A refused approval changes nothing.
      assert.equal((await svc.post(`/api/v1/approvals/${id(1)}/approve`, { by: 'alice' })).status, 409);
      assert.deepEqual(await pendingGauge(svc), ['rectify_approvals_pending 148']);

      svc.clock.advance(61 * MIN);
      assert.equal(await svc.service.engine.expireApprovals(), 148);
      assert.deepEqual(await pendingGauge(svc), ['rectify_approvals_pending 0']);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('is right from the first scrape after a restart, and drops when an approval finds its runbook changed (cancelled)', async () => {
    let svc = await startTestService({ runbooks: runbooks(target.url), args: ['--approval-ttl', '3h'] });
    try {
      const fired = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert('d0'), alert('d1'), alert('d2')]));
      assert.equal(new Set(fired.body.results.map((r: any) => r.approval_id)).size, 3);
      assert.equal((await svc.post(`/api/v1/approvals/${fired.body.results[2].approval_id}/reject`, { by: 'bob' })).status, 200);

      svc = await svc.restart();
      assert.deepEqual(await pendingGauge(svc), ['rectify_approvals_pending 2']);

      writeFileSync(join(svc.runbooksDir, 'runbooks.yaml'), runbooks(target.url, 'v2-undo'));
      svc = await svc.restart();
      assert.deepEqual(await pendingGauge(svc), ['rectify_approvals_pending 2']);
      const stale = await svc.post(`/api/v1/approvals/${fired.body.results[0].approval_id}/approve`, { by: 'erin' });
      assert.equal(stale.status, 409);
      assert.match(stale.body.error.message, /is cancelled, nothing ran/);
      assert.deepEqual(await pendingGauge(svc), ['rectify_approvals_pending 1']);
    } finally {
      await svc.stop({ remove: true });
    }
  });
});
