import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { amWebhook, useServiceWithTarget } from '../helpers/service.js';
import { httpRunbook, runbooksFile } from '../helpers/runbooks.js';
import { countRows } from '../storm/helpers.js';

/**
 * A service name holding a control or invisible format character reads as another
 * service (`api\u200b` as `api`) but counted its rate limit and cooldown apart: refused
 * on an incident and a manual run, passed over as a blank label is from Alertmanager,
 * refused as a blank summary is from PagerDuty.
 */
describe('service names with control or invisible characters', () => {
  const ctx = useServiceWithTarget({
    runbooks: (t) => runbooksFile(httpRunbook('poke', { trigger: 'poke_low', url: `${t.url}/poke/{target}`, maxPerHour: 1, cooldownMinutes: 60 })),
    routes: (t) => t.route('POST', '/poke/db', { status: 200 }),
    eachTest: true,
  });
  const UNREADABLE = ['api\u200b', 'api\u200c', 'api\u2060', '\ufeffapi', 'api\u00ad', '\u202eipa', 'a\u0000pi', '\u0000', 'api\u0085', 'api\u2028', '\u200dapi', 'a\u200dpi', 'caf\u00e9\u200c', '\u200c\u0645\u06cc'];

  it('an incident whose service holds one is a 400 naming it, nothing recorded; api stays RATE_LIMITED for each', async () => {
    const { svc, target } = ctx;
    const first = await svc.post('/api/v1/incidents?wait=true', { id: 'i0', root_cause: 'poke_low', service: 'api', context: { target: 'db' } });
    assert.equal(first.body.action, 'executed');
    const incidents = countRows(svc.dbPath, 'SELECT count(*) AS n FROM incidents');
    for (const [i, service] of UNREADABLE.entries()) {
      const r = await svc.post('/api/v1/incidents?wait=true', { id: `i${i + 1}`, root_cause: 'poke_low', service, context: { target: 'db' } });
      assert.equal(r.status, 400, JSON.stringify(service));
      assert.equal(r.body.error.code, 'VALIDATION_FAILED');
      assert.equal(r.body.error.details[0].path, 'body.service', JSON.stringify(service));
      assert.match(r.body.error.details[0].message, /^holds a control character or an invisible one/);
      const listed = await svc.post('/api/v1/incidents', { id: `j${i}`, root_cause: 'poke_low', services: ['web', service] });
      assert.equal(listed.status, 400);
      assert.equal(listed.body.error.details[0].path, 'body.services.1');
    }
    assert.equal(countRows(svc.dbPath, 'SELECT count(*) AS n FROM incidents'), incidents);
    const again = await svc.post('/api/v1/incidents?wait=true', { id: 'i99', root_cause: 'poke_low', service: 'api', context: { target: 'db' } });
    assert.equal(again.body.action, 'blocked');
    assert.equal(target.calls('/poke/db'), 1);
    // Letters of every script, and the joiner-free emoji, are names like any other.
    const plain = await svc.post('/api/v1/incidents', { id: 'k1', root_cause: 'nothing', service: 'café-api 🚀' });
    assert.equal(plain.status, 202);
    // A joiner between two characters beyond ASCII joins them: an emoji sequence, a Persian word.
    for (const [i, service] of ['\u{1F469}\u200d\u{1F4BB} dev', '\u0645\u06cc\u200c\u062e\u0648\u0627\u0645'].entries()) {
      const joined = await svc.post('/api/v1/incidents', { id: `k${i + 2}`, root_cause: 'nothing', service });
      assert.equal(joined.status, 202, JSON.stringify(service));
    }
  });

  const SPACED = ['api ', ' api', 'api\u00a0', '\u3000api', 'my\u00a0api', 'my\u2009api'];

  it('an incident or a manual run whose service is oddly spaced (at an end, or a space other than U+0020) is a 400 naming it; api stays RATE_LIMITED', async () => {
    const { svc, target } = ctx;
    assert.equal((await svc.post('/api/v1/incidents?wait=true', { id: 's0', root_cause: 'poke_low', service: 'api', context: { target: 'db' } })).body.action, 'executed');
    for (const [i, service] of SPACED.entries()) {
      const r = await svc.post('/api/v1/incidents?wait=true', { id: `s${i + 1}`, root_cause: 'poke_low', service, context: { target: 'db' } });
      assert.equal(r.status, 400, JSON.stringify(service));
      assert.deepEqual(r.body.error.details.map((d: { path: string }) => d.path), ['body.service'], JSON.stringify(service));
      assert.match(r.body.error.details[0].message, /^starts or ends with a space, or holds a space other than U\+0020/);
      const run = await svc.post('/api/v1/runbooks/poke/run?wait=true', { by: 'alice', service, params: { target: 'db' } });
      assert.equal(run.status, 400, JSON.stringify(service));
      assert.deepEqual(run.body.error.details.map((d: { path: string }) => d.path), ['body.service']);
    }
    assert.equal((await svc.post('/api/v1/incidents?wait=true', { id: 's99', root_cause: 'poke_low', service: 'api', context: { target: 'db' } })).body.action, 'blocked');
    assert.equal(target.calls('/poke/db'), 1);
    assert.equal(countRows(svc.dbPath, 'SELECT count(*) AS n FROM executions'), 1);
  });

  it("a manual run's service or params.service holding one is a 400 naming it; nothing runs", async () => {
    const { svc, target } = ctx;
    for (const service of UNREADABLE) {
      const body = await svc.post('/api/v1/runbooks/poke/run?wait=true', { by: 'alice', service, params: { target: 'db' } });
      assert.equal(body.status, 400, JSON.stringify(service));
      assert.equal(body.body.error.details[0].path, 'body.service');
      const param = await svc.post('/api/v1/runbooks/poke/run?wait=true', { by: 'alice', params: { service, target: 'db' } });
      assert.equal(param.status, 400, JSON.stringify(service));
      assert.deepEqual(param.body.error.details.map((d: { path: string }) => d.path), ['body.params.service']);
      assert.match(param.body.error.details[0].message, /^holds a control character or an invisible one/);
    }
    assert.equal(target.calls('/poke/db'), 0);
    assert.equal(countRows(svc.dbPath, 'SELECT count(*) AS n FROM executions'), 0);
  });

  it('Alertmanager: such a service label is passed over as a blank one is (the next label, else unknown); PagerDuty: a trigger is refused naming the summary', async () => {
    const { svc } = ctx;
    const am = await svc.post(
      '/api/v1/webhooks/alertmanager',
      amWebhook([
        { labels: { alertname: 'nothing', service: 'api\u200b', job: 'checkout' }, fingerprint: 'a1' },
        { labels: { alertname: 'nothing', service: '\u202eipa' }, fingerprint: 'a2' },
        { labels: { alertname: 'nothing', service: ' ' }, fingerprint: 'a3' },
        // Oddly spaced names the service it reads as: never refused, Alertmanager would drop the group.
        { labels: { alertname: 'nothing', service: ' checkout\u00a0' }, fingerprint: 'a4' },
        { labels: { alertname: 'nothing', service: 'my\u3000api' }, fingerprint: 'a5' },
      ]),
    );
    assert.equal(am.status, 202);
    const services = [];
    for (const r of am.body.results as Array<{ incident_id: string }>) services.push((await svc.get(`/api/v1/incidents/${r.incident_id}`)).body.incident.service);
    assert.deepEqual(services, ['checkout', 'unknown', 'unknown', 'checkout', 'my api']);

    const pd = (id: string, type: string, summary: string) => ({ event: { id, event_type: type, occurred_at: '2026-11-24T02:59:00Z', data: { id: 'P1', title: 'nothing', service: { summary } } } });
    const refused = await svc.post('/api/v1/webhooks/pagerduty', pd('e1', 'incident.triggered', 'api\u200b'));
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.details[0].path, 'body.event.data.service.summary');
    assert.match(refused.body.error.details[0].message, /^holds a control character or an invisible one/);
    const blank = await svc.post('/api/v1/webhooks/pagerduty', pd('e2', 'incident.triggered', ' '));
    assert.equal(blank.status, 400);
    assert.equal(blank.body.error.details[0].message, 'required: the PagerDuty service names the service to remediate');
    const resolve = await svc.post('/api/v1/webhooks/pagerduty', pd('e3', 'incident.resolved', '\ufeffapi'));
    assert.equal(resolve.status, 202);
    assert.equal((await svc.get(`/api/v1/incidents/${resolve.body.results[0].incident_id}`)).body.incident.service, 'unknown');
    const spaced = await svc.post('/api/v1/webhooks/pagerduty', pd('e4', 'incident.triggered', ' my\u00a0api '));
    assert.equal(spaced.status, 202);
    assert.equal((await svc.get(`/api/v1/incidents/${spaced.body.results[0].incident_id}`)).body.incident.service, 'my api');
  });
});
