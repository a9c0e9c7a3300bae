import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';
import { countRows } from '../storm/helpers.js';

/**
 * Regression: a JSON body giving a key twice in one object was read as its last value
 * (JSON.parse's rule) on every route: `"confidence": 0.1, "confidence": 0.99` executed,
 * `"dry_run": true, "dry_run": false` ran for real, a label given twice passed a runbook's
 * matcher on its last value. Such a body is now refused 400 naming the key's path, and
 * nothing of it is recorded or run. Over real HTTP: the bytes are sent as written.
 */
const message = (key: string) => `the key "${key}" is given twice in one object: which value is meant cannot be told; send each key once`;
const refusal = (path: string, key: string) => ({
  error: { code: 'BAD_REQUEST', message: `invalid body: ${path}: ${message(key)}`, details: [{ path, message: message(key) }] },
});

describe('a JSON body giving a key twice in one object is refused, on every route', () => {
  let target: HttpTarget;
  let svc: TestService;
  let base: string;
  const incidents = () => countRows(svc.dbPath, 'SELECT count(*) AS n FROM incidents');
  const executions = () => countRows(svc.dbPath, 'SELECT count(*) AS n FROM executions');
  const send = async (path: string, body: string) => {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: res.status, body: (await res.json()) as unknown };
  };

  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/poke/api', { status: 200 });
    target.route('POST', '/restart/production/shop', { status: 200 });
    target.route('POST', '/scale/worker', { status: 200 });
    svc = await startTestService({
      runbooks: `runbooks:
  poke:
    risk: LOW
    triggers: [poke_low]
    min_confidence: 0.5
    max_per_hour: 100
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/poke/{service}"}
  restart:
    risk: LOW
    triggers: [PodCrash]
    match: ['namespace!~"kube-system"']
    max_per_hour: 100
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/restart/{namespace}/{service}"}
  scale-up:
    risk: LOW
    triggers: [high_cpu]
    max_per_hour: 10
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/scale/{service}"}
`,
    });
    await svc.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(svc.app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });

  it('POST /api/v1/incidents: confidence 0.1 then 0.99 is refused, not executed; with 0.1 alone it is LOW_CONFIDENCE', async () => {
    const before = incidents();
    const twice = await send('/api/v1/incidents?wait=true', '{"id":"dupc1","root_cause":"poke_low","service":"api","confidence":0.1,"confidence":0.99}');
    assert.deepEqual(twice, { status: 400, body: refusal('body.confidence', 'confidence') });
    // Written escaped, the key is the same key.
    const escaped = await send('/api/v1/incidents?wait=true', '{"id":"dupc2","root_cause":"poke_low","service":"api","confidence":0.1,"\\u0063onfidence":0.99}');
    assert.deepEqual(escaped, { status: 400, body: refusal('body.confidence', 'confidence') });
    const nested = await send('/api/v1/incidents?wait=true', '{"id":"dupc3","root_cause":"poke_low","service":"api","context":{"target":"a","target":"b"}}');
    assert.deepEqual(nested, { status: 400, body: refusal('body.context.target', 'target') });
    assert.equal(incidents(), before);
    assert.equal(target.calls('/poke/api', 'POST'), 0);

    const once = await send('/api/v1/incidents?wait=true', '{"id":"dupc0","root_cause":"poke_low","service":"api","confidence":0.1}');
    assert.equal(once.status, 202);
    assert.deepEqual([(once.body as { action: string }).action, (once.body as { event: string }).event], ['manual', 'LOW_CONFIDENCE']);
    assert.equal(incidents(), before + 1);
    assert.equal(target.calls('/poke/api', 'POST'), 0);
  });

  it('a manual run with dry_run true then false is refused and nothing runs', async () => {
    const before = executions();
    const r = await send('/api/v1/runbooks/poke/run', '{"params":{"service":"api"},"by":"alice","dry_run":true,"dry_run":false}');
    assert.deepEqual(r, { status: 400, body: refusal('body.dry_run', 'dry_run') });
    const params = await send('/api/v1/runbooks/poke/run', '{"params":{"service":"web","service":"api"},"by":"alice","dry_run":true}');
    assert.deepEqual(params, { status: 400, body: refusal('body.params.service', 'service') });
    assert.equal(executions(), before);
    assert.equal(target.calls('/poke/api', 'POST'), 0);
  });

  it('Alertmanager: a label given twice (kube-system, then production) is refused naming it, and no incident is recorded', async () => {
    const before = incidents();
    const body = JSON.stringify(
      amWebhook([
        { labels: { alertname: 'PodCrash', namespace: 'production', service: 'shop' }, fingerprint: 'dupk-0' },
        { labels: { alertname: 'PodCrash', namespace: 'production', service: 'shop' }, fingerprint: 'dupk-1' },
      ]),
    );
    // The second alert's: the last "namespace" of the body.
    const at = body.lastIndexOf('"namespace":"production"');
    const twice = `${body.slice(0, at)}"namespace":"kube-system",${body.slice(at)}`;
    assert.notEqual(twice, body, 'the second alert carries the label twice');
    const r = await send('/api/v1/webhooks/alertmanager?wait=true', twice);
    assert.deepEqual(r, { status: 400, body: refusal('body.alerts.1.labels.namespace', 'namespace') });
    assert.equal(incidents(), before);
    assert.equal(target.calls('/restart/production/shop', 'POST'), 0);
    // The same body with the label once is decided.
    const once = await send('/api/v1/webhooks/alertmanager?wait=true', body);
    assert.equal(once.status, 202);
    assert.equal(incidents(), before + 2);
  });

  it('PagerDuty: event_type resolved then triggered is refused, not read as a trigger', async () => {
    const before = incidents();
    const fixture = readFileSync(new URL('../fixtures/payloads/incident-triggered.json', import.meta.url), 'utf8');
    const body = JSON.stringify(JSON.parse(fixture)).replace('"event_type":"incident.triggered"', '"event_type":"incident.resolved","event_type":"incident.triggered"');
    const r = await send('/api/v1/webhooks/pagerduty?wait=true', body);
    assert.deepEqual(r, { status: 400, body: refusal('body.event.event_type', 'event_type') });
    assert.equal(incidents(), before);
    assert.equal(target.calls('/scale/worker', 'POST'), 0);
  });

  it('the same key in sibling objects, and a key that looks like structure, are taken', async () => {
    const r = await send('/api/v1/incidents', '{"id":"sib1","root_cause":"nothing_matches","service":"api","context":{"a{,}":"x","b":"{\\"a{,}\\":1,"},"labels":{"a{,}":"y"}}');
    assert.equal(r.status, 202, JSON.stringify(r.body));
  });
});
