import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';

/**
 * What rectify_decisions_total counts, as the README defines it: a decision per
 * incident taken in (re-deliveries and resolves included) and per manual run, which
 * is what rectify_incidents_total counts, plus one per approval that carries its
 * request out. Dashboards divide one by the other: the relation is held here.
 */

const runbooks = (base: string) => `runbooks:
  restart:
    risk: LOW
    triggers: [CrashLoopBackOff]
    max_per_hour: 100
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/restart/{service}"}
  rollback:
    risk: HIGH
    triggers: [bad_deploy]
    max_per_hour: 100
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/undo/{service}"}
  rollback-two:
    risk: HIGH
    triggers: [bad_schema]
    approvals_required: 2
    action:
      http: {method: POST, url: "${base}/undo/{service}"}
`;

function samples(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

const total = (lines: string[]): number => lines.reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);

describe('rectify_decisions_total', () => {
  let target: HttpTarget;
  let svc: TestService;
  before(async () => {
    target = await startHttpTarget();
    for (const s of ['a', 'b', 'shop']) {
      target.route('POST', `/restart/${s}`, { status: 200 });
      target.route('POST', `/undo/${s}`, { status: 200 });
    }
    svc = await startTestService({ runbooks: runbooks(target.url) });
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });

  it('counts each incident taken in and each manual run once, and an approval carried out once more; a rejection or a first vote of two adds nothing', async () => {
    const low = { id: 'INC-LOW', root_cause: 'CrashLoopBackOff', service: 'a' };
    assert.equal((await svc.post('/api/v1/incidents?wait=true', low)).body.action, 'executed');
    assert.equal((await svc.post('/api/v1/incidents', low)).body.action, 'duplicate');
    const approved = (await svc.post('/api/v1/incidents', { id: 'INC-A', root_cause: 'bad_deploy', service: 'a' })).body.approval_id;
    const rejected = (await svc.post('/api/v1/incidents', { id: 'INC-B', root_cause: 'bad_deploy', service: 'b' })).body.approval_id;
    const voted = (await svc.post('/api/v1/incidents', { id: 'INC-C', root_cause: 'bad_schema', service: 'b' })).body.approval_id;
    assert.equal((await svc.post(`/api/v1/approvals/${approved}/approve?wait=true`, { by: 'alice' })).body.result.action, 'executed');
    assert.equal((await svc.post(`/api/v1/approvals/${rejected}/reject`, { by: 'alice' })).status, 200);
    const vote = await svc.post(`/api/v1/approvals/${voted}/approve`, { by: 'alice' });
    assert.deepEqual([vote.status, vote.body.status], [202, 'pending']);
    assert.equal((await svc.post('/api/v1/runbooks/restart/run?wait=true', { params: { service: 'shop' }, by: 'dave' })).body.action, 'executed');
    // An alert no runbook matches, then its resolve: two incidents taken in, two decisions.
    const labels = { alertname: 'DiskFull', service: 'b' };
    assert.equal((await svc.post('/api/v1/webhooks/alertmanager', amWebhook([{ labels, fingerprint: 'fp-disk' }]))).body.results[0].action, 'manual');
    assert.equal((await svc.post('/api/v1/webhooks/alertmanager', amWebhook([{ labels, fingerprint: 'fp-disk', status: 'resolved' }]))).body.results[0].action, 'resolved');

    const text = (await svc.get('/metrics')).body as string;
    assert.deepEqual(samples(text, 'rectify_incidents_total'), [
      'rectify_incidents_total{source="api"} 5',
      'rectify_incidents_total{source="manual"} 1',
      'rectify_incidents_total{source="alertmanager"} 2',
    ]);
    const decisions = samples(text, 'rectify_decisions_total');
    assert.deepEqual(decisions, [
      'rectify_decisions_total{action="executed",reason="EXECUTING"} 3',
      'rectify_decisions_total{action="duplicate",reason="DUPLICATE"} 1',
      'rectify_decisions_total{action="approval_required",reason="APPROVAL_REQUIRED"} 3',
      'rectify_decisions_total{action="manual",reason="NO_RUNBOOK"} 1',
      'rectify_decisions_total{action="resolved",reason="RESOLVED"} 1',
    ]);
    // The incidents, and the one approval that was carried out.
    assert.equal(total(decisions), total(samples(text, 'rectify_incidents_total')) + 1);
    assert.ok(
      text.includes(
        '# HELP rectify_decisions_total Decisions recorded, by action and by the audit event that explains it (reason): one per incident or alert taken in (re-deliveries and resolves included) and per manual run, as rectify_incidents_total counts them, plus one per approval that carries its request out, with what came of it (executed, say).',
      ),
    );
  });
});
