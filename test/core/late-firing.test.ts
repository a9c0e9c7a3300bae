import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';

/**
 * A firing delivery that arrives after its own resolve (an Alertmanager HA pair, a
 * retry, an API caller posting out of order) is about an alert that is over. Whether
 * its decision would act or only tell a person (paused, low confidence, circuit
 * open, no runbook), it is answered `resolved` and nobody is told.
 */
describe('a firing delivery decided after its own resolve', () => {
  let target: HttpTarget;
  let svc: TestService;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/hook', { status: 204 });
    target.route('POST', '/act', { status: 200 });
    target.route('POST', '/broken', { status: 500 });
    svc = await startTestService({
      runbooks: `runbooks:
  restart:
    risk: LOW
    triggers: [Crash]
    min_confidence: 0.8
    max_per_hour: 1
    cooldown_minutes: 0
    blast_radius_limit: 10
    action:
      http: {method: POST, url: "${target.url}/act"}
  broken:
    risk: LOW
    triggers: [Broken]
    max_per_hour: 10
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/broken", expect_status: [200, 299]}
`,
      // Every decision told one by one: the counts below are exact.
      args: ['--notify-webhook', `${target.url}/hook`, '--notify-repeat-window', '0s', '--circuit-failure-threshold', '1'],
    });
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });
  beforeEach(async () => {
    await svc.post('/api/v1/resume', { by: 'test' });
  });

  /** The notifications about each incident, after the queue drained. */
  async function told(ids: string[]): Promise<Record<string, string[]>> {
    await svc.service.drainNotifications();
    const all = target.requests('/hook', 'POST').map((q) => q.json() as { incident_id: string | null; event: string });
    return Object.fromEntries(ids.map((id) => [id, all.filter((n) => n.incident_id === id).map((n) => n.event)]));
  }
  const decision = (r: { action: string; event: string; runbook: string | null; execution_id: string | null }) => [r.action, r.event, r.runbook, r.execution_id];

  it('while paused (POST /api/v1/incidents): resolved, not blocked PAUSED, and nobody is told; a new incident is still blocked and told', async () => {
    assert.equal((await svc.post('/api/v1/pause', { by: 'test', reason: 'maintenance' })).status, 200);
    const resolve = await svc.post('/api/v1/incidents', { id: 'RS3', root_cause: 'Crash', service: 'rs3', status: 'resolved' });
    assert.equal(resolve.body.action, 'resolved');
    const late = await svc.post('/api/v1/incidents', { id: 'RS3', root_cause: 'Crash', service: 'rs3' });
    assert.equal(late.status, 202);
    assert.deepEqual(decision(late.body), ['resolved', 'RESOLVED', 'restart', null]);
    assert.equal(late.body.incident_id, 'RS3');
    assert.match(late.body.reason, /^the alert was resolved \(inc_\w+\) before this firing delivery was decided: nothing to fix$/);
    const fresh = await svc.post('/api/v1/incidents', { id: 'RS4', root_cause: 'Crash', service: 'rs4' });
    assert.deepEqual(decision(fresh.body), ['blocked', 'PAUSED', 'restart', null]);
    assert.deepEqual(await told(['RS3', resolve.body.incident_id, 'RS4']), { RS3: [], [resolve.body.incident_id]: [], RS4: ['PAUSED'] });
    // Audited as resolved; a later copy is a duplicate of that.
    const audit = (await svc.get('/api/v1/audit?incident_id=RS3')).body.events.map((e: { event: string }) => e.event);
    assert.deepEqual(audit, ['RESOLVED']);
    const again = await svc.post('/api/v1/incidents', { id: 'RS3', root_cause: 'Crash', service: 'rs3' });
    assert.deepEqual([again.body.action, again.body.reason], ['duplicate', 'already decided: resolved (RESOLVED)']);
    assert.equal(target.calls('/act', 'POST'), 0);
  });

  it('low confidence and no runbook (Alertmanager): resolved and untold; their fresh occurrences are manual and told once each', async () => {
    const low = { labels: { alertname: 'Crash', service: 'low', confidence: '0.5' }, fingerprint: 'late00000000low1', startsAt: '2026-11-24T02:00:00.000Z' };
    const none = { labels: { alertname: 'Nothing', service: 'none' }, fingerprint: 'late0000000none1', startsAt: '2026-11-24T02:00:00.000Z' };
    const resolved = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([{ ...low, status: 'resolved' }, { ...none, status: 'resolved' }]));
    assert.deepEqual(resolved.body.results.map((r: { action: string }) => r.action), ['resolved', 'resolved']);
    const late = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([low, none]));
    assert.deepEqual(late.body.results.map(decision), [
      ['resolved', 'RESOLVED', 'restart', null],
      ['resolved', 'RESOLVED', null, null],
    ]);
    const next = '2026-11-24T03:00:00.000Z';
    const fresh = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([{ ...low, startsAt: next }, { ...none, startsAt: next }]));
    assert.deepEqual(fresh.body.results.map(decision), [
      ['manual', 'LOW_CONFIDENCE', 'restart', null],
      ['manual', 'NO_RUNBOOK', null, null],
    ]);
    const ids = [...late.body.results, ...fresh.body.results].map((r: { incident_id: string }) => r.incident_id);
    const notes = await told(ids);
    assert.deepEqual(ids.map((id) => notes[id]), [[], [], ['LOW_CONFIDENCE'], ['NO_RUNBOOK']]);
  });

  it('circuit open: resolved and untold; a fresh alert is blocked CIRCUIT_OPEN and told', async () => {
    const trip = await svc.post('/api/v1/webhooks/alertmanager?wait=true', amWebhook([{ labels: { alertname: 'Broken', service: 'b0' }, fingerprint: 'broken0000000000' }]));
    assert.deepEqual([trip.body.results[0].action, trip.body.results[0].event], ['executed', 'FAILED']);
    const alert = { labels: { alertname: 'Broken', service: 'b1' }, fingerprint: 'broken0000000001' };
    await svc.post('/api/v1/webhooks/alertmanager', amWebhook([{ ...alert, status: 'resolved' }]));
    const late = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert]));
    assert.deepEqual(decision(late.body.results[0]), ['resolved', 'RESOLVED', 'broken', null]);
    const fresh = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([{ labels: { alertname: 'Broken', service: 'b2' }, fingerprint: 'broken0000000002' }]));
    assert.deepEqual(decision(fresh.body.results[0]), ['blocked', 'CIRCUIT_OPEN', 'broken', null]);
    const [lateId, freshId] = [late.body.results[0].incident_id, fresh.body.results[0].incident_id];
    assert.deepEqual(await told([lateId, freshId]), { [lateId]: [], [freshId]: ['CIRCUIT_OPEN'] });
    assert.equal(target.calls('/broken', 'POST'), 1);
  });

  it('rate limited: decided without the lookup (a storm pays no read per alert), so it stays blocked RATE_LIMITED', async () => {
    const first = await svc.post('/api/v1/webhooks/alertmanager?wait=true', amWebhook([{ labels: { alertname: 'Crash', service: 'rl' }, fingerprint: 'ratelimit0000001' }]));
    assert.deepEqual([first.body.results[0].action, first.body.results[0].event], ['executed', 'SUCCESS']);
    const alert = { labels: { alertname: 'Crash', service: 'rl' }, fingerprint: 'ratelimit0000002' };
    await svc.post('/api/v1/webhooks/alertmanager', amWebhook([{ ...alert, status: 'resolved' }]));
    const late = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert]));
    assert.deepEqual(decision(late.body.results[0]), ['blocked', 'RATE_LIMITED', 'restart', null]);
  });
});
