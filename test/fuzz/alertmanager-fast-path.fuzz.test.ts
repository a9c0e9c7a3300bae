import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { alertmanagerToIncidents, alertmanagerWebhookSchema, isPlainAlertmanagerWebhook } from '../../src/ingest/index.js';
import { anyJson, evilString, labels, runs, wrongType } from './arbitraries.js';

/**
 * The hand-written check on the Alertmanager intake is only ever a shortcut: when it
 * says yes, the schema says yes too, and the incidents made from the raw body equal
 * those made from the schema's output. Anything it declines goes to the schema.
 */
const maybe = <T>(a: fc.Arbitrary<T>) => fc.oneof({ weight: 30, arbitrary: a }, { weight: 1, arbitrary: wrongType });
// Mostly plain label sets, some hostile ones (the shared arbitraries), a few with non-string values.
const plain = fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 12 }), { maxKeys: 4 });
const anyLabels = fc.oneof({ weight: 4, arbitrary: plain }, { weight: 1, arbitrary: labels });
const labelSet = fc.oneof(
  { weight: 8, arbitrary: anyLabels.map((l) => ({ alertname: 'A', service: 's', ...l })) },
  { weight: 1, arbitrary: fc.dictionary(fc.string(), wrongType, { maxKeys: 2 }) },
);
const alert = fc.record(
  {
    status: maybe(fc.constantFrom('firing', 'resolved')),
    labels: maybe(labelSet),
    annotations: maybe(anyLabels),
    startsAt: maybe(evilString),
    endsAt: maybe(fc.string()),
    generatorURL: maybe(fc.string()),
    fingerprint: maybe(fc.oneof({ weight: 6, arbitrary: fc.stringMatching(/^[0-9a-f]{16}$/) }, { weight: 1, arbitrary: fc.string({ minLength: 120, maxLength: 140 }) })),
    extra: anyJson,
  },
  { requiredKeys: ['status', 'labels'] },
);
const body = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record(
      {
        version: maybe(fc.constantFrom('4', '4', '4', '3')),
        groupKey: maybe(fc.string()),
        truncatedAlerts: maybe(fc.oneof({ weight: 6, arbitrary: fc.nat() }, { weight: 1, arbitrary: fc.oneof(fc.integer({ min: -3, max: -1 }), fc.double(), fc.constant(2 ** 60)) })),
        status: maybe(fc.constantFrom('firing', 'resolved', 'firing', 'pending')),
        receiver: maybe(fc.string()),
        groupLabels: maybe(anyLabels),
        commonLabels: maybe(anyLabels),
        commonAnnotations: maybe(anyLabels),
        externalURL: maybe(fc.string()),
        alerts: maybe(fc.array(alert, { maxLength: 4 })),
      },
      { requiredKeys: ['alerts'] },
    ),
  },
  { weight: 1, arbitrary: anyJson },
);

describe('fuzz: the Alertmanager fast path agrees with the schema', () => {
  it('a body the fast path accepts is accepted by the schema and decides the same', () => {
    let accepted = 0;
    fc.assert(
      fc.property(body, (raw) => {
        const v = JSON.parse(JSON.stringify(raw)) as unknown; // what a request body can be
        const parsed = alertmanagerWebhookSchema.safeParse(v);
        if (!isPlainAlertmanagerWebhook(v)) return;
        accepted++;
        assert.ok(parsed.success, `fast path accepted what the schema refuses: ${JSON.stringify(v).slice(0, 300)}`);
        const ids = () => {
          let n = 0;
          return () => `inc_${++n}`;
        };
        assert.deepEqual(alertmanagerToIncidents(v, { now: 1, newId: ids() }), alertmanagerToIncidents(parsed.data, { now: 1, newId: ids() }));
      }),
      { numRuns: runs(600) },
    );
    assert.ok(accepted > 20, `the fast path was exercised (${accepted} bodies)`);
  });

  it('ordinary Alertmanager bodies take the fast path', () => {
    const ok = { version: '4', status: 'firing', receiver: 'r', groupLabels: {}, commonLabels: {}, commonAnnotations: {}, externalURL: 'http://am', truncatedAlerts: 0, alerts: [{ status: 'firing', labels: { alertname: 'A', service: 's' }, annotations: {}, startsAt: 'x', endsAt: 'y', generatorURL: 'z', fingerprint: 'f' }] };
    assert.equal(isPlainAlertmanagerWebhook(ok), true);
    assert.equal(isPlainAlertmanagerWebhook({ ...ok, alerts: [] }), false);
    assert.equal(isPlainAlertmanagerWebhook({ ...ok, truncatedAlerts: -1 }), false);
    assert.equal(isPlainAlertmanagerWebhook({ ...ok, alerts: [{ ...ok.alerts[0], labels: { a: 1 } }] }), false);
    assert.equal(isPlainAlertmanagerWebhook({ ...ok, alerts: [{ ...ok.alerts[0], fingerprint: 'f'.repeat(129) }] }), false);
  });
});
