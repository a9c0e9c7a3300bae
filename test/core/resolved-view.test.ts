import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';

/**
 * A resolve answers about the firing incident (its `incident_id`), so that incident's
 * view shows it was resolved: `incident.status` is "resolved" and `resolution` says
 * when and what the resolve did, beside the decision taken when it fired (unchanged),
 * and names the resolve's own record as the RESOLVED audit row does.
 */
describe('GET /api/v1/incidents/{id} after a resolve', () => {
  let target: HttpTarget;
  let svc: TestService;
  before(async () => {
    target = await startHttpTarget();
    svc = await startTestService({
      runbooks: `runbooks:
  rollback-deployment:
    risk: HIGH
    triggers: [error_rate_spike_after_deploy]
    max_per_hour: 10
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/deployments/{deployment}/undo"}
    rollback:
      http: {method: POST, url: "${target.url}/deployments/{deployment}/undo"}
`,
    });
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });

  /** The RESOLVED audit row about an incident. */
  async function resolvedRow(incidentId: string): Promise<{ at: string; incident_id: string; details: Record<string, unknown> }> {
    const rows = (await svc.get(`/api/v1/audit?incident_id=${incidentId}&event=RESOLVED`)).body.events;
    assert.equal(rows.length, 1);
    return rows[0];
  }

  it('Alertmanager: the firing incident shows the resolve beside its decision, as the answer and the audit log say', async () => {
    const labels = { alertname: 'ErrorRateSpike', root_cause: 'error_rate_spike_after_deploy', service: 'checkout', deployment: 'checkout' };
    const fired = (await svc.post('/api/v1/webhooks/alertmanager', amWebhook([{ labels, fingerprint: 'a1b2c3d4e5f60718' }]))).body.results[0];
    assert.equal(fired.action, 'approval_required');
    assert.equal((await svc.get(`/api/v1/incidents/${fired.incident_id}`)).body.resolution, null, 'firing: not resolved yet');

    svc.clock.advance(90_000);
    const resolved = (await svc.post('/api/v1/webhooks/alertmanager', amWebhook([{ labels, fingerprint: 'a1b2c3d4e5f60718', status: 'resolved' }]))).body.results[0];
    assert.deepEqual([resolved.incident_id, resolved.action, resolved.reason], [fired.incident_id, 'resolved', 'alert resolved; 1 pending approval(s) cancelled']);

    const view = (await svc.get(`/api/v1/incidents/${fired.incident_id}`)).body;
    assert.equal(view.incident.id, fired.incident_id);
    assert.equal(view.incident.status, 'resolved');
    assert.deepEqual(view.decision, { action: 'approval_required', event: 'APPROVAL_REQUIRED', runbook: 'rollback-deployment', reason: 'risk HIGH requires approval' });
    assert.equal(view.approval.status, 'cancelled');
    const row = await resolvedRow(fired.incident_id);
    assert.deepEqual(view.resolution, { at: row.at, reason: resolved.reason, incident_id: row.details.resolved_incident_id });
    assert.equal(view.resolution.at, new Date(svc.clock.now()).toISOString());

    // The resolve's own record says the same about the alert.
    const own = (await svc.get(`/api/v1/incidents/${view.resolution.incident_id}`)).body;
    assert.deepEqual([own.incident.status, own.decision.action, own.resolution], ['resolved', 'resolved', view.resolution]);
  });

  it('POST /api/v1/incidents: the posted id shows the resolve; an incident posted without an id shows none while nothing resolved it', async () => {
    const incident = { id: 'RS1', root_cause: 'error_rate_spike_after_deploy', service: 'checkout', context: { deployment: 'checkout' } };
    assert.equal((await svc.post('/api/v1/incidents', incident)).body.action, 'approval_required');
    const resolved = (await svc.post('/api/v1/incidents', { ...incident, status: 'resolved' })).body;
    assert.deepEqual([resolved.incident_id, resolved.action], ['RS1', 'resolved']);

    const view = (await svc.get('/api/v1/incidents/RS1')).body;
    assert.equal(view.incident.status, 'resolved');
    assert.equal(view.decision.action, 'approval_required');
    const row = await resolvedRow('RS1');
    assert.deepEqual(view.resolution, { at: row.at, reason: 'alert resolved; 1 pending approval(s) cancelled', incident_id: row.details.resolved_incident_id });

    const anonymous = (await svc.post('/api/v1/incidents', { ...incident, id: undefined, context: { deployment: 'other' } })).body;
    const shown = (await svc.get(`/api/v1/incidents/${anonymous.incident_id}`)).body;
    assert.deepEqual([shown.incident.status, shown.resolution], ['firing', null]);
  });

  it('a firing delivery decided after its resolve shows that resolve', async () => {
    const incident = { id: 'RS2', root_cause: 'error_rate_spike_after_deploy', service: 'checkout', context: { deployment: 'late' } };
    const resolve = (await svc.post('/api/v1/incidents', { ...incident, status: 'resolved' })).body;
    const late = (await svc.post('/api/v1/incidents', incident)).body;
    assert.deepEqual([late.incident_id, late.action], ['RS2', 'resolved']);
    const view = (await svc.get('/api/v1/incidents/RS2')).body;
    assert.equal(view.incident.status, 'resolved');
    assert.equal(view.resolution.incident_id, resolve.incident_id);
    // What the resolve said when it came: no incident had that id yet.
    assert.equal(view.resolution.reason, 'no incident RS2 is known: nothing was resolved; recorded, so a firing report of RS2 arriving later is not acted on');
  });
});
