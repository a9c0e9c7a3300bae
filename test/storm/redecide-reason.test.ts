import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { holdCalls, startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';
import { until } from '../helpers/until.js';

/**
 * The reason of a block by a limit that clears by itself (the engine-wide bound on runs
 * under way, the blast radius, the rate limit, the cooldown) says the alert is decided
 * again, where it is: an Alertmanager alert at its next delivery (repeat_interval), an
 * incident posted with an id when it is posted again with that id. Not where nothing
 * decides it again: an incident posted without an id (posted again, it is another), a
 * PagerDuty event (sent again only when its delivery failed), a manual run. The start of
 * each reason is as it was.
 */

const runbooks = (base: string) => `runbooks:
  hold:
    risk: LOW
    triggers: [HoldThing]
    max_per_hour: 10
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/hold/{service}"}
  fix:
    risk: LOW
    triggers: [FixThing]
    max_per_hour: 10
    cooldown_minutes: 0
    blast_radius_limit: 10
    action:
      http: {method: POST, url: "${base}/fix/{service}"}
  cool:
    risk: LOW
    triggers: [CoolThing]
    max_per_hour: 10
    cooldown_minutes: 5
    action:
      http: {method: POST, url: "${base}/cool/{service}"}
`;

const LIMIT = 'Max concurrent actions (1) reached';
const pagerduty = () => {
  const body = JSON.parse(readFileSync(new URL('../fixtures/payloads/incident-triggered.json', import.meta.url), 'utf8'));
  body.event.data.title = 'FixThing on worker';
  return body;
};

describe('the reason of a block that is decided again at a re-delivery', () => {
  let target: HttpTarget;
  let svc: TestService;
  before(async () => {
    target = await startHttpTarget();
    for (const s of ['a', 'b', 'worker']) target.route('POST', `/fix/${s}`, { status: 200 });
    target.route('POST', '/cool/e', { status: 200 });
    svc = await startTestService({ runbooks: runbooks(target.url), args: ['--max-concurrent-executions', '1'] });
  });
  after(async () => {
    await svc?.stop({ remove: true });
    await target?.close();
  });
  const ended = (executionId: string) =>
    until(`run ${executionId} ended`, async () => ((await svc.get(`/api/v1/executions/${executionId}`)).body.state !== 'running' ? true : undefined));

  it('--max-concurrent-executions: said for an Alertmanager alert and an incident posted with an id, which are decided again; not for one without an id, a PagerDuty event or a manual run', async () => {
    const release = holdCalls(target, 'POST', '/hold/h');
    const holding = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([{ labels: { alertname: 'HoldThing', service: 'h' }, fingerprint: 'fp-h' }]));
    assert.equal(holding.body.results[0].action, 'executed');

    const alert = amWebhook([{ labels: { alertname: 'FixThing', service: 'a' }, fingerprint: 'fp-a' }]);
    const am = await svc.post('/api/v1/webhooks/alertmanager', alert);
    assert.deepEqual([am.body.results[0].action, am.body.results[0].event, am.body.results[0].reason], ['blocked', 'BLAST_LIMITED', `${LIMIT}; decided again at the alert's next delivery`]);

    const posted = { id: 'INC-7', root_cause: 'FixThing', service: 'b' };
    const api = await svc.post('/api/v1/incidents', posted);
    assert.deepEqual([api.body.action, api.body.event, api.body.reason], ['blocked', 'BLAST_LIMITED', `${LIMIT}; decided again if it is posted again with the same id`]);
    // The audit row says so too.
    const rows = (await svc.get('/api/v1/audit?incident_id=INC-7&event=BLAST_LIMITED&limit=10')).body.events;
    assert.deepEqual(rows.map((e: any) => e.details.reason), [`${LIMIT}; decided again if it is posted again with the same id`]);

    const once = await svc.post('/api/v1/incidents', { root_cause: 'FixThing', service: 'c' });
    assert.deepEqual([once.body.event, once.body.reason], ['BLAST_LIMITED', LIMIT]);
    const pd = await svc.post('/api/v1/webhooks/pagerduty', pagerduty());
    assert.deepEqual([pd.body.results[0].event, pd.body.results[0].reason], ['BLAST_LIMITED', LIMIT]);
    const manual = await svc.post('/api/v1/runbooks/fix/run', { by: 'bob', params: { service: 'd' } });
    assert.deepEqual([manual.body.event, manual.body.reason], ['BLAST_LIMITED', LIMIT]);

    // What it says is so: once the run has ended, each is decided again and runs.
    release();
    await ended(holding.body.results[0].execution_id);
    const again = await svc.post('/api/v1/incidents?wait=true', posted);
    assert.deepEqual([again.body.action, again.body.incident_id], ['executed', 'INC-7']);
    const amAgain = await svc.post('/api/v1/webhooks/alertmanager?wait=true', alert);
    assert.deepEqual([amAgain.body.results[0].action, amAgain.body.results[0].incident_id], ['executed', am.body.results[0].incident_id]);
    assert.deepEqual([target.calls('/fix/a', 'POST'), target.calls('/fix/b', 'POST')], [1, 1]);
  });

  it('a cooldown: said for an incident posted with an id, with when', async () => {
    const ran = await svc.post('/api/v1/incidents?wait=true', { id: 'INC-8', root_cause: 'CoolThing', service: 'e' });
    assert.equal(ran.body.action, 'executed');
    const cooled = await svc.post('/api/v1/incidents', { id: 'INC-9', root_cause: 'CoolThing', service: 'e' });
    assert.deepEqual(
      [cooled.body.event, cooled.body.reason],
      ['RATE_LIMITED', 'Cooldown active (300s remaining); decided again if it is posted again with the same id after the cooldown is over'],
    );
    const unnamed = await svc.post('/api/v1/incidents', { root_cause: 'CoolThing', service: 'e' });
    assert.deepEqual([unnamed.body.event, unnamed.body.reason], ['RATE_LIMITED', 'Cooldown active (300s remaining)']);
  });
});
