import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useServiceWithTarget } from '../helpers/service.js';
import { httpRunbook, postRunbook, runbooksFile } from '../helpers/runbooks.js';
import { countRows } from '../storm/helpers.js';

/**
 * A query parameter rectify does not read is refused on every /api/v1 route, naming it:
 * dropped, `?dry_run=true` ran a plan for real and `POST /pause?runbook=x` paused all.
 */
describe('unknown query parameters on the routes that act', () => {
  const ctx = useServiceWithTarget({
    runbooks: (t) => runbooksFile(httpRunbook('poke', { trigger: 'poke_low', url: `${t.url}/poke/{target}` }), postRunbook('gate', { trigger: 'poke_high', url: `${t.url}/gate` })),
    routes: (t) => {
      t.route('POST', '/poke/q1', { status: 200 });
      t.route('POST', '/poke/q2', { status: 200 });
      t.route('POST', '/gate', { status: 200 });
    },
    eachTest: true,
  });
  const reads = (known: string) => (known ? `this route reads ${known}` : 'this route reads no query parameter');

  it('a run, an incident, a webhook, an approval with ?dry_run=true or ?wiat=true is refused (400 naming it) and nothing runs or is recorded', async () => {
    const { svc, target } = ctx;
    const incidentsBefore = countRows(svc.dbPath, 'SELECT count(*) AS n FROM incidents');
    const auditBefore = countRows(svc.dbPath, 'SELECT count(*) AS n FROM audit');
    const cases: Array<[string, unknown, string, string]> = [
      ['/api/v1/runbooks/poke/run?dry_run=true&wait=true', { by: 'alice', params: { service: 'api', target: 'q1' } }, 'query.dry_run', reads('wait')],
      ['/api/v1/runbooks/poke/run?dryRun=1', { by: 'alice', params: { service: 'api', target: 'q1' } }, 'query.dryRun', reads('wait')],
      ['/api/v1/incidents?dry_run=true&wait=true', { id: 'qi1', root_cause: 'poke_low', service: 'api', context: { target: 'q2' } }, 'query.dry_run', reads('wait')],
      ['/api/v1/incidents?wiat=true', { id: 'qi2', root_cause: 'poke_low', service: 'api', context: { target: 'q2' } }, 'query.wiat', 'unknown query parameter (did you mean "wait"?): this route reads wait'],
      [
        '/api/v1/webhooks/alertmanager?dry_run=1',
        { version: '4', status: 'firing', alerts: [{ status: 'firing', labels: { alertname: 'poke_low', service: 'api', target: 'q2' }, startsAt: '2026-11-24T02:59:00Z', fingerprint: 'f1' }] },
        'query.dry_run',
        reads('wait'),
      ],
      ['/api/v1/webhooks/pagerduty?dry_run=1', { event: { id: 'e1', event_type: 'incident.triggered', data: { id: 'P1', title: 'poke_low' } } }, 'query.dry_run', reads('wait')],
    ];
    for (const [url, body, path, tail] of cases) {
      const r = await svc.post(url, body);
      assert.equal(r.status, 400, url);
      assert.equal(r.body.error.code, 'VALIDATION_FAILED', url);
      const message = tail.startsWith('unknown') ? tail : `unknown query parameter: ${tail}`;
      assert.deepEqual(r.body.error.details, [{ path, message }], url);
      assert.equal(r.body.error.message, `invalid query: ${path}: ${message}`, url);
    }
    assert.equal(target.calls('/poke/q1') + target.calls('/poke/q2'), 0);
    assert.equal(countRows(svc.dbPath, 'SELECT count(*) AS n FROM incidents'), incidentsBefore);
    assert.equal(countRows(svc.dbPath, "SELECT count(*) AS n FROM audit WHERE event <> 'INTAKE_REFUSED'"), auditBefore);

    // Asked for properly, they run.
    const run = await svc.post('/api/v1/runbooks/poke/run?wait=true', { by: 'alice', params: { service: 'api', target: 'q1' } });
    assert.equal(run.status, 202);
    assert.equal(run.body.success, true);
    assert.equal(target.calls('/poke/q1'), 1);
    // Each webhook's refusal is an intake refusal (reason invalid), audited as one (committed by now, before the run's rows).
    assert.equal(countRows(svc.dbPath, "SELECT count(*) AS n FROM audit WHERE event = 'INTAKE_REFUSED' AND json_extract(details, '$.reason') = 'invalid'"), 2);
  });

  it('approve and reject refuse an unknown parameter and leave the request pending', async () => {
    const { svc, target } = ctx;
    const asked = await svc.post('/api/v1/incidents', { id: 'h1', root_cause: 'poke_high', service: 'api' });
    const id = asked.body.approval_id as string;
    for (const verdict of ['approve', 'reject']) {
      const r = await svc.post(`/api/v1/approvals/${id}/${verdict}?dry_run=true`, { by: 'bob' });
      assert.equal(r.status, 400, verdict);
      assert.deepEqual(r.body.error.details, [{ path: 'query.dry_run', message: `unknown query parameter: ${reads('wait')}` }], verdict);
    }
    assert.equal((await svc.get(`/api/v1/approvals/${id}`)).body.status, 'pending');
    assert.equal(target.calls('/gate'), 0);
  });

  it('a route that reads no query refuses any key: a global pause with ?runbook= pauses nothing', async () => {
    const { svc } = ctx;
    const none = `unknown query parameter: ${reads('')}`;
    const cases: Array<[string, unknown, string]> = [
      ['/api/v1/pause?runbook=poke', { by: 'alice', reason: 'only poke' }, 'query.runbook'],
      ['/api/v1/resume?runbook=poke', { by: 'alice' }, 'query.runbook'],
      ['/api/v1/runbooks/poke/pause?dry_run=1', { by: 'alice' }, 'query.dry_run'],
      ['/api/v1/runbooks/poke/resume?x=1', { by: 'alice' }, 'query.x'],
      ['/api/v1/runbooks/poke/circuit/close?force=1', { by: 'alice', reason: 'fixed' }, 'query.force'],
      ['/api/v1/runbooks/poke/cooldown/clear?service=api', { by: 'alice', reason: 'fixed' }, 'query.service'],
    ];
    for (const [url, body, path] of cases) {
      const r = await svc.post(url, body);
      assert.equal(r.status, 400, url);
      assert.deepEqual(r.body.error.details, [{ path, message: none }], url);
    }
    const runbooks = await svc.get('/api/v1/runbooks');
    assert.equal(runbooks.body.paused, null);
    assert.equal(runbooks.body.runbooks.find((r: { id: string }) => r.id === 'poke').paused, null);
    assert.equal(countRows(svc.dbPath, "SELECT count(*) AS n FROM audit WHERE event IN ('SERVICE_PAUSED', 'RUNBOOK_PAUSED')"), 0);
    // The reads of /api/v1 too; the probes and the metrics outside it ignore a query (a scrape's params).
    for (const url of ['/api/v1/runbooks?x=1', '/api/v1/runbooks/poke?x=1', '/api/v1/audit/verify?x=1', '/api/v1/incidents/h1?x=1']) {
      const r = await svc.get(url);
      assert.equal(r.status, 400, url);
      assert.deepEqual(r.body.error.details, [{ path: 'query.x', message: none }], url);
    }
    for (const url of ['/healthz?x=1', '/readyz?x=1', '/metrics?x=1']) assert.equal((await svc.get(url)).status, 200, url);
  });
});
