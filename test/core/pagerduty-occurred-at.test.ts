import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { postRunbook, runbooksFile } from '../helpers/runbooks.js';
import { useServiceWithTarget } from '../helpers/service.js';
import { countRows } from '../storm/helpers.js';

/**
 * PagerDuty's occurred_at places an event among its incident's others. Read by Date.parse,
 * 2026-02-30 was March 2nd, "07/12/2026 09:00" a local July 12th, and an unreadable one
 * was taken as absent (a late trigger then acted after its resolve): each is refused now,
 * naming event.occurred_at and why, as another unreadable field of the event is.
 */
describe('PagerDuty: occurred_at is an RFC 3339 time that exists, or the event is refused', () => {
  const ctx = useServiceWithTarget({
    runbooks: (t) => runbooksFile(postRunbook('failover', { trigger: 'db_down', url: `${t.url}/failover/{service}` })),
  });
  const event = (id: string, type: string, incident: string, occurred: string | undefined) => ({
    event: { id, event_type: type, resource_type: 'incident', ...(occurred === undefined ? {} : { occurred_at: occurred }), data: { id: incident, type: 'incident', title: 'db_down on primary', service: { summary: 'db' } } },
  });

  it('a day or time that does not exist, another form, or text is a 400 naming event.occurred_at; nothing is recorded', async () => {
    const { svc } = ctx;
    const incidents = countRows(svc.dbPath, 'SELECT count(*) AS n FROM incidents');
    const refused: Array<[string, string, string]> = [
      ['2026-02-30T10:00:00Z', 'incident.triggered', '2026-02-30 does not exist: February 2026 has 28 days'],
      ['2026-11-24T24:00:00Z', 'incident.reopened', '24:00:00 is not a time of day (00:00:00 to 23:59:59): write 00:00:00 of the next day'],
      ['07/12/2026 09:00', 'incident.triggered', 'expected an RFC 3339 time such as 2026-11-24T03:00:00Z, got "07/12/2026 09:00"'],
      ['2026-12-07T09:00:00 UTC+0', 'incident.triggered', 'expected an RFC 3339 time such as 2026-11-24T03:00:00Z, got "2026-12-07T09:00:00 UTC+0"'],
      ['2026-12-07T09:00:00', 'incident.resolved', 'expected an RFC 3339 time such as 2026-11-24T03:00:00Z, got "2026-12-07T09:00:00"'],
      ['', 'incident.resolved', 'expected an RFC 3339 time such as 2026-11-24T03:00:00Z, got ""'],
    ];
    for (const [i, [occurred, type, message]] of refused.entries()) {
      const r = await svc.post('/api/v1/webhooks/pagerduty', event(`e${i}`, type, `PBAD${i}`, occurred));
      const path = 'body.event.occurred_at';
      assert.deepEqual({ status: r.status, body: r.body }, { status: 400, body: { error: { code: 'VALIDATION_FAILED', message: `invalid body: ${path}: ${message}`, details: [{ path, message }] } } }, occurred);
    }
    assert.equal(countRows(svc.dbPath, 'SELECT count(*) AS n FROM incidents'), incidents);
  });

  it('an RFC 3339 time with an offset or fractions is read as that instant, and a late trigger after its resolve acts on nothing; one without occurred_at is taken as it comes', async () => {
    const { svc, target } = ctx;
    const resolved = await svc.post('/api/v1/webhooks/pagerduty', event('r1', 'incident.resolved', 'POK1', '2026-12-07T10:05:00.250+01:00'));
    assert.equal(resolved.status, 202);
    const late = await svc.post('/api/v1/webhooks/pagerduty', event('t1', 'incident.triggered', 'POK1', '2026-12-07T09:00:00Z'));
    assert.equal(late.status, 202);
    assert.equal(late.body.results[0].action, 'resolved');
    const view = await svc.get(`/api/v1/incidents/${late.body.results[0].incident_id}`);
    assert.equal(view.body.incident.labels.pagerduty_occurred_at, '2026-12-07T09:00:00.000Z');
    const resolveView = await svc.get(`/api/v1/incidents/${resolved.body.results[0].incident_id}`);
    assert.equal(resolveView.body.incident.labels.pagerduty_occurred_at, '2026-12-07T09:05:00.250Z');
    const unstamped = await svc.post('/api/v1/webhooks/pagerduty', event('t2', 'incident.triggered', 'POK2', undefined));
    assert.equal(unstamped.body.results[0].action, 'approval_required');
    assert.equal(target.calls('/failover/db'), 0);
  });
});
