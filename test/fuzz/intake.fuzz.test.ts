import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { DECISION_ACTIONS } from '../../src/domain/index.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { anyJson, count, evilString, labels, report, runs, targetLabels, wrongType } from './arbitraries.js';

/**
 * The three intake routes under random and hostile bodies, through the real
 * routes (`inject`) of a real service: never a crash or a 5xx; a 4xx names what
 * was wrong and stores nothing of the request; a 202 carries valid decisions; and whatever the
 * label values, the only calls that reach the target are on the runbook's path
 * with a safe segment.
 */

const ACTIONS = new Set<string>(DECISION_ACTIONS);
const ROOTS = ['broken', 'KubePodCrashLooping', 'nothing', 'HighErrorRate'];

const runbooks = (base: string) => `runbooks:
  restart:
    risk: LOW
    triggers: [broken, KubePodCrashLooping]
    min_confidence: 0.1
    max_per_hour: 100000
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/act/{pod}?ns={namespace}", body: {note: "{summary}"}}
  scale:
    risk: HIGH
    triggers: [HighErrorRate]
    min_confidence: 0.1
    action: kubectl scale deployment {deployment} --replicas={replicas} -n {namespace}
`;

const amAlert = fc.record(
  {
    status: fc.oneof(fc.constantFrom('firing', 'resolved'), wrongType),
    labels: fc.oneof({ weight: 5, arbitrary: fc.tuple(labels, targetLabels, fc.constantFrom(...ROOTS)).map(([l, t, root]) => ({ alertname: root, ...l, ...t })) }, { weight: 1, arbitrary: wrongType }),
    annotations: fc.oneof(labels, wrongType),
    startsAt: fc.oneof(fc.constant('2026-11-24T03:00:00.000Z'), fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), evilString),
    endsAt: fc.constant('0001-01-01T00:00:00Z'),
    generatorURL: evilString,
    fingerprint: fc.oneof(fc.stringMatching(/^[0-9a-f]{16}$/), evilString),
  },
  { requiredKeys: ['labels'] },
);

const amBody = fc.oneof(
  { weight: 6, arbitrary: fc.record({ version: fc.oneof(fc.constant('4'), evilString), status: fc.constantFrom('firing', 'resolved'), receiver: evilString, groupKey: evilString, alerts: fc.array(amAlert, { maxLength: 5 }) }, { requiredKeys: ['alerts'] }) },
  { weight: 1, arbitrary: anyJson },
);

const pdBody = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      event: fc.record(
        {
          id: evilString,
          event_type: fc.oneof(fc.constantFrom('incident.triggered', 'incident.resolved', 'incident.acknowledged'), evilString),
          data: fc.record(
            {
              id: evilString,
              title: fc.oneof(fc.constantFrom(...ROOTS), evilString),
              urgency: evilString,
              service: fc.oneof(fc.record({ summary: evilString }), wrongType),
              incident_key: fc.oneof(evilString, fc.constant(null)),
            },
            { requiredKeys: ['id'] },
          ),
        },
        { requiredKeys: ['event_type', 'data'] },
      ),
    }),
  },
  { weight: 1, arbitrary: anyJson },
);

/** Plausible incidents with hostile values only where the placeholders read: most reach rendering. */
const plausibleIncident = fc.record({
  id: fc.uuid(),
  root_cause: fc.constant('broken'),
  confidence: fc.constant(1),
  service: fc.stringMatching(/^[a-z]{1,8}$/),
  context: fc.record({ pod: fc.oneof(fc.stringMatching(/^[a-z0-9]{1,8}$/), evilString), namespace: fc.oneof(fc.stringMatching(/^[a-z]{1,8}$/), evilString), summary: evilString }),
});

const incidentBody = fc.oneof(
  { weight: 4, arbitrary: plausibleIncident },
  {
    weight: 6,
    arbitrary: fc.record(
      {
        id: fc.oneof(evilString, fc.uuid()),
        root_cause: fc.oneof(fc.constantFrom(...ROOTS), evilString),
        confidence: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.double(), wrongType),
        service: evilString,
        services: fc.array(evilString, { maxLength: 3 }),
        symptoms: fc.array(evilString, { maxLength: 3 }),
        context: fc.oneof(targetLabels, labels, fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string(), fc.integer(), fc.boolean(), wrongType), { maxKeys: 4 })),
        labels,
        status: fc.oneof(fc.constantFrom('firing', 'resolved'), evilString),
      },
      { requiredKeys: ['root_cause'] },
    ),
  },
  { weight: 1, arbitrary: anyJson },
);

/** Not JSON at all, or JSON cut short, sent as application/json. */
const rawText = fc.oneof(fc.string({ maxLength: 60 }), fc.jsonValue().map((v) => JSON.stringify(v).slice(0, -1)), fc.constantFrom('{', '[', '{"alerts":', 'null', '"x"', '\u0000', '{"a":1}{'));

describe('intake under random and hostile bodies', () => {
  let target: HttpTarget;
  let svc: TestService;
  before(async () => {
    target = await startHttpTarget();
    svc = await startTestService({ runbooks: runbooks(target.url), args: ['--max-concurrent-executions', '1000', '--circuit-failure-threshold', '1000000'] });
  });
  after(async () => {
    await svc.stop({ remove: true });
    // Every call that reached the outside: the runbook's path, one safe segment, a safe query value.
    for (const r of target.requests()) {
      assert.match(r.path, /^\/act\/(?!\.{1,2}$)[A-Za-z0-9._~-]+$/, `unexpected call ${r.path}`);
      assert.match(r.query.ns ?? '', /^[A-Za-z0-9._~-]+$/);
    }
    await target.close();
    console.log(`# intake cases tried: ${report()}; calls that reached the target: ${target.requests().length}`);
  });

  async function send(url: string, payload: string, name: string): Promise<void> {
    count(name);
    const before = svc.service.store.auditHighWater();
    // wait=true: runs end inside the request, so no background write blurs "a refusal stores nothing".
    const res = await svc.app.inject({ method: 'POST', url: `${url}?wait=true`, payload, headers: { 'content-type': 'application/json' } });
    assert.ok(res.statusCode < 500, `${name}: ${res.statusCode} ${res.body}`);
    const body = JSON.parse(res.body) as any;
    if (res.statusCode === 202) {
      const results = url.endsWith('/incidents') ? [body] : body.results;
      assert.ok(Array.isArray(results));
      for (const r of results) {
        if (r.action === 'executed') count('executed');
        assert.ok(ACTIONS.has(r.action), `${name}: action ${r.action}`);
        assert.equal(typeof r.reason, 'string');
        assert.equal(typeof r.incident_id, 'string');
      }
      return;
    }
    // 409: an incident id posted before with other content (the fuzzer's ids can repeat).
    assert.ok([400, 409, 413, 415].includes(res.statusCode), `${name}: ${res.statusCode}`);
    assert.equal(typeof body.error.code, 'string');
    if (res.statusCode === 409) assert.ok(name === 'incidents' && body.error.code === 'CONFLICT', `${name}: ${res.body}`);
    assert.ok(body.error.message.length > 0);
    if (body.error.code === 'VALIDATION_FAILED') assert.ok(body.error.details.length > 0 && body.error.details.every((d: { path: string }) => /^(body|query)/.test(d.path)), res.body);
    // Nothing of the request: a webhook's refused delivery leaves only the row that records the refusal (INTAKE_REFUSED, once a minute per route and reason).
    const added = svc.service.store.auditRecords({ afterSeq: before, limit: 10 }).map((r) => r.event);
    assert.ok(added.every((e) => e === 'INTAKE_REFUSED'), `${name}: a refusal stores nothing of the request, but ${added.join(', ')}`);
  }

  it('Alertmanager webhooks', async () => {
    await fc.assert(fc.asyncProperty(amBody, async (b) => send('/api/v1/webhooks/alertmanager', JSON.stringify(b), 'alertmanager')), { numRuns: runs(600) });
  });

  it('PagerDuty webhooks', async () => {
    await fc.assert(fc.asyncProperty(pdBody, async (b) => send('/api/v1/webhooks/pagerduty', JSON.stringify(b), 'pagerduty')), { numRuns: runs(400) });
  });

  it('incidents', async () => {
    await fc.assert(fc.asyncProperty(incidentBody, async (b) => send('/api/v1/incidents', JSON.stringify(b), 'incidents')), { numRuns: runs(600) });
  });

  it('bodies that are not JSON, on every intake route', async () => {
    const routes = ['/api/v1/webhooks/alertmanager', '/api/v1/webhooks/pagerduty', '/api/v1/incidents'];
    await fc.assert(fc.asyncProperty(rawText, fc.constantFrom(...routes), async (text, url) => send(url, text, 'raw')), { numRuns: runs(300) });
  });

  it('the audit chain still verifies after all of it', async () => {
    const v = await svc.get('/api/v1/audit/verify');
    assert.equal(v.body.ok, true, v.body.reason);
  });
});
