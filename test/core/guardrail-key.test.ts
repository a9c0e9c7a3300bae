import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { placeholderValue, placeholderValues } from '../../src/domain/index.js';
import { holdFirstCall, startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';

/**
 * The service a run acts on ({service} in its steps) and the service its guardrails
 * (rate limit, cooldown, blast radius, circuit, the approval plan key) count against
 * are one value: the incident's service. Were they two, repeated incidents could act
 * on one service again and again while each counted against another.
 */
describe('the service acted on is the service counted', () => {
  let target: HttpTarget;
  let svc: TestService;
  before(async () => {
    target = await startHttpTarget();
    for (const s of ['checkout', 'a', 'b', 'c', 'kube-state-metrics']) target.route('POST', `/restart/${s}`, { status: 200 });
    svc = await startTestService({
      runbooks: `runbooks:
  restart:
    risk: LOW
    triggers: [crashloop, KubePodCrashLooping]
    max_per_hour: 1
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/restart/{service}"}
`,
    });
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });

  it('{service} is always the incident service, never a context or label of that name', () => {
    const incident = { id: 'inc_1', service: 'checkout', context: { service: 'a' }, labels: { service: 'b' } };
    assert.equal(placeholderValues(incident).service, 'checkout');
    assert.equal(placeholderValue(incident, 'service'), 'checkout');
    const am = { id: 'inc_2', service: 'checkout', context: { service: 'kube-state-metrics' }, labels: {} };
    am.labels = am.context;
    assert.equal(placeholderValues(am).service, 'checkout');
    assert.equal(placeholderValue(am, 'service'), 'checkout');
  });

  it('an incident whose context.service or labels.service differs from its service is refused with 400 naming the field; nothing runs', async () => {
    for (const [i, s] of ['a', 'b', 'c'].entries()) {
      const r = await svc.post('/api/v1/incidents?wait=true', { id: `INC-CTX-${i}`, service: 'checkout', root_cause: 'crashloop', context: { service: s } });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error.details[0].path, 'body.context.service');
      assert.match(r.body.error.details[0].message, /differs from service "checkout"/);
    }
    const lab = await svc.post('/api/v1/incidents?wait=true', { id: 'INC-LAB', service: 'checkout', root_cause: 'crashloop', labels: { service: 'a' } });
    assert.equal(lab.status, 400);
    assert.equal(lab.body.error.details[0].path, 'body.labels.service');
    const first = await svc.post('/api/v1/incidents?wait=true', { id: 'INC-SVCS', services: ['checkout', 'a'], root_cause: 'crashloop', context: { service: 'a' } });
    assert.equal(first.status, 400);
    assert.equal(first.body.error.details[0].path, 'body.context.service');
    // The other way round: one target, a service of its own each time (each under its own rate limit).
    for (const [i, s] of ['x1', 'x2', 'x3'].entries()) {
      const r = await svc.post('/api/v1/incidents?wait=true', { id: `INC-DODGE-${i}`, service: s, root_cause: 'crashloop', context: { service: 'checkout' } });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error.details[0].path, 'body.context.service');
    }
    for (const s of ['a', 'b', 'c', 'checkout']) assert.equal(target.calls(`/restart/${s}`, 'POST'), 0);
    assert.equal((await svc.get('/api/v1/incidents/INC-CTX-0')).status, 404);
    assert.equal((await svc.get('/api/v1/incidents/INC-DODGE-0')).status, 404);
  });

  it('the same service given in both places is one service: accepted, and the rate limit holds across them', async () => {
    const one = await svc.post('/api/v1/incidents?wait=true', { id: 'INC-SAME-1', service: 'checkout', root_cause: 'crashloop', context: { service: 'checkout' } });
    assert.equal(one.status, 202);
    assert.equal(one.body.action, 'executed');
    const two = await svc.post('/api/v1/incidents?wait=true', { id: 'INC-SAME-2', service: 'checkout', root_cause: 'crashloop', labels: { service: 'checkout' } });
    assert.equal(two.status, 202);
    assert.equal(two.body.action, 'blocked');
    assert.equal(target.calls('/restart/checkout', 'POST'), 1);
  });

  it("an Alertmanager alert whose service label names an exporter acts on the service it is counted against, not the exporter", async () => {
    const r = await svc.post(
      '/api/v1/webhooks/alertmanager?wait=true',
      amWebhook([{ labels: { alertname: 'KubePodCrashLooping', job: 'kube-state-metrics', service: 'kube-state-metrics', namespace: 'shop', deployment: 'b' }, fingerprint: 'ksm1' }]),
    );
    assert.equal(r.status, 202);
    assert.equal(r.body.results[0].action, 'executed');
    const incident = (await svc.get(`/api/v1/incidents/${r.body.results[0].incident_id}`)).body.incident;
    assert.equal(incident.service, 'b');
    assert.equal(target.calls('/restart/b', 'POST'), 1);
    assert.equal(target.calls('/restart/kube-state-metrics', 'POST'), 0);
  });
});

/**
 * A service name that is not well-formed text (a lone surrogate, JSON "\ud800") is
 * stored as U+FFFD: the key the guardrails read back from the store must be the key
 * the decision compares with, or a run still under way on that service is not seen.
 */
describe('a service with a lone surrogate is one key, in the decision and in the store', () => {
  const MIN = 60_000;
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
  });
  after(async () => {
    await target.close();
  });

  for (const source of ['alertmanager', 'pagerduty', 'manual'] as const) {
    it(`${source}: a cooldown lasts while the last run on that service still runs`, async () => {
      target.reset();
      const release = holdFirstCall(target, 'POST', `/long/${source}`, 200);
      const svc = await startTestService({
        runbooks: `runbooks:
  long:
    risk: LOW
    triggers: [Crash, crash]
    max_per_hour: 10
    cooldown_minutes: 5
    blast_radius_limit: 2
    action:
      http: {method: POST, url: "${target.url}/long/${source}"}
`,
      });
      try {
        const service = 'shop\ud800';
        const send = async (n: number) => {
          if (source === 'manual') {
            const r = await svc.post('/api/v1/runbooks/long/run', { service, by: 'alice' });
            return { status: r.status, body: { results: [r.body] } };
          }
          return source === 'alertmanager'
            ? svc.post('/api/v1/webhooks/alertmanager', amWebhook([{ labels: { alertname: 'Crash', service }, fingerprint: `lone${n}` }]))
            : svc.post('/api/v1/webhooks/pagerduty', { event: { id: `EV${n}`, event_type: 'incident.triggered', data: { id: `PD${n}`, title: 'crash', service: { summary: service } } } });
        };
        const first = await send(1);
        assert.equal(first.status, 202, JSON.stringify(first.body));
        assert.equal(first.body.results[0].action, 'executed');
        await target.waitForRequest(`/long/${source}`);
        svc.clock.advance(6 * MIN);
        const second = await send(2);
        assert.equal(second.status, 202);
        assert.deepEqual(
          [second.body.results[0].action, second.body.results[0].event, second.body.results[0].reason],
          // An Alertmanager alert is decided again at a later delivery, and its reason says so.
          ['blocked', 'RATE_LIMITED', `Cooldown active (the last run of long on shop\ufffd is still running)${source === 'alertmanager' ? "; decided again at the alert's first delivery after the cooldown is over" : ''}`],
        );
        release();
        assert.equal((await svc.get(`/api/v1/incidents/${first.body.results[0].incident_id}`)).body.incident.service, 'shop\ufffd');
      } finally {
        release();
        await svc.stop({ remove: true });
      }
    });
  }
});
