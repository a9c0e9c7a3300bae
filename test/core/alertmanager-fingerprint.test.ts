import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { LABELS_DIFFER } from '../../src/engine/apply.js';
import { fingerprintOf } from '../../src/ingest/alertmanager.js';
import { httpRunbook, postRunbook, runbooksFile } from '../helpers/runbooks.js';
import { startHttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService, useServiceWithTarget, type TestService } from '../helpers/service.js';

// Regression: an alert's key is its sender's fingerprint and startsAt. Two alerts in one
// body with the same fingerprint and other labels: the second was answered `duplicate`
// of the first, never decided, and nothing said it was another alert.
describe('Alertmanager: an alert with the fingerprint of another but other labels', () => {
  let svc: TestService;
  const on = useServiceWithTarget({ runbooks: (t) => runbooksFile(postRunbook('failover', { trigger: 'db_down', url: `${t.url}/failover/{service}`, maxPerHour: 1000 })) });
  beforeEach(() => ({ svc } = on));

  it('is answered duplicate saying its labels differ and that it was not decided; audited with its labels; the same alert re-sent is a plain duplicate', async () => {
    const a = { labels: { alertname: 'db_down', service: 'orders' }, fingerprint: '0123456789abcdef' };
    const b = { labels: { alertname: 'db_down', service: 'payments' }, fingerprint: '0123456789abcdef' };
    const r = await svc.post('/api/v1/webhooks/alertmanager?wait=true', amWebhook([a, b]));
    assert.equal(r.status, 202);
    const [first, second] = r.body.results;
    assert.deepEqual([first.action, first.event], ['approval_required', 'APPROVAL_REQUIRED']);
    assert.deepEqual([second.action, second.event, second.incident_id], ['duplicate', 'DUPLICATE', first.incident_id]);
    assert.equal(second.reason, `already decided: approval_required (APPROVAL_REQUIRED); ${LABELS_DIFFER}`);
    const dups = (await svc.get('/api/v1/audit?event=DUPLICATE')).body.events;
    assert.equal(dups.length, 1);
    assert.equal(dups[0].details.labels_differ, true);
    assert.deepEqual(dups[0].details.labels, b.labels);
    // Alertmanager re-sending the first alert (same labels): its key is unchanged, a plain duplicate.
    const again = await svc.post('/api/v1/webhooks/alertmanager?wait=true', amWebhook([a]));
    assert.deepEqual([again.body.results[0].action, again.body.results[0].reason], ['duplicate', 'already decided: approval_required (APPROVAL_REQUIRED)']);
    const dups2 = (await svc.get('/api/v1/audit?event=DUPLICATE')).body.events;
    assert.equal(dups2.length, 2);
    assert.equal(dups2.filter((e: { details: Record<string, unknown> }) => e.details.labels_differ === true).length, 1);
  });

  // Regression: labels were stored as sent, a lone surrogate kept, and compared well formed
  // (U+FFFD) with a re-delivery: the same alert sent twice was said to be another one.
  it('the same alert re-sent with a lone surrogate in a label is a plain duplicate; the label is stored well formed', async () => {
    const alert = { labels: { alertname: 'db_down', service: 'lone', pod: 'p\ud800' }, fingerprint: 'fedcba9876543210' };
    const first = (await svc.post('/api/v1/webhooks/alertmanager?wait=true', amWebhook([alert]))).body.results[0];
    assert.equal(first.action, 'approval_required');
    const stored = (await svc.get(`/api/v1/incidents/${first.incident_id}`)).body.incident;
    assert.deepEqual([stored.labels.pod, stored.context.pod], ['p\ufffd', 'p\ufffd']);
    const again = (await svc.post('/api/v1/webhooks/alertmanager?wait=true', amWebhook([alert]))).body.results[0];
    assert.deepEqual([again.action, again.incident_id, again.reason], ['duplicate', first.incident_id, 'already decided: approval_required (APPROVAL_REQUIRED)']);
    const dup = (await svc.get(`/api/v1/audit?event=DUPLICATE&incident_id=${first.incident_id}`)).body.events;
    assert.equal(dup.length, 1);
    assert.equal(dup[0].details.labels_differ, undefined);
  });

  // Regression: without a fingerprint an alert's key hashed each label as key NUL value NUL,
  // so a value holding NULs could spell other labels: the second alert was a duplicate of the first.
  it('two alerts without a fingerprint whose labels spell the same with NULs are two alerts; a usual alert keeps its key', async () => {
    const withNul = { alertname: 'db_down', service: 'nul', zone: 'x\u0000zz\u0000y' };
    const plain = { alertname: 'db_down', service: 'nul', zone: 'x', zz: 'y' };
    // The key a usual label set (no NUL) had before, unchanged: alerts stored under it are still found.
    assert.equal(fingerprintOf({ alertname: 'Crash', service: 'x', sz: 'y' }), '4c9f3499bd1ab0b7');
    assert.equal(fingerprintOf(plain), 'e4171a55ea881a65');
    assert.notEqual(fingerprintOf(withNul), fingerprintOf(plain));
    const noFingerprint = (labels: Record<string, string>) => {
      const body = amWebhook([{ labels }]);
      delete (body.alerts[0] as { fingerprint?: string }).fingerprint;
      return body;
    };
    const a = (await svc.post('/api/v1/webhooks/alertmanager?wait=true', noFingerprint(withNul))).body.results[0];
    const b = (await svc.post('/api/v1/webhooks/alertmanager?wait=true', noFingerprint(plain))).body.results[0];
    assert.deepEqual([a.action, b.action], ['approval_required', 'approval_required']);
    assert.notEqual(a.incident_id, b.incident_id);
    assert.equal(on.target.calls('/failover/nul', 'POST'), 0);
  });
});

// An alert firing again with the same startsAt after Alertmanager resolved it (Prometheus
// missed its resends past endsAt) is answered `duplicate` of its first decision and not
// decided again: not fixed here (it needs a second decision per key), but warned of.
describe('Alertmanager: an alert firing again after its resolve, with the same startsAt', () => {
  const warned = (svc: TestService) => svc.log.records().filter((l) => String(l.msg).startsWith('Alertmanager alert firing again after it was resolved'));

  it('is a duplicate, and warned of once the resolve is more than a minute old; an HA copy within the minute is not', async () => {
    const target = await startHttpTarget();
    const svc = await startTestService({ captureLogs: true, runbooks: runbooksFile(postRunbook('failover', { trigger: 'db_down', url: `${target.url}/failover/{service}`, maxPerHour: 1000 })) });
    try {
      const alert = { labels: { alertname: 'db_down', service: 'orders' }, fingerprint: 'aaaabbbbccccdddd' };
      const post = async (status: 'firing' | 'resolved') => (await svc.post('/api/v1/webhooks/alertmanager?wait=true', amWebhook([{ ...alert, status }]))).body.results[0];
      const fired = await post('firing');
      assert.equal(fired.action, 'approval_required');
      svc.clock.advance(5_000);
      assert.equal((await post('resolved')).action, 'resolved');
      // The other member of an HA pair, 60 s after the resolve: a duplicate, no warning.
      svc.clock.advance(60_000);
      assert.equal((await post('firing')).action, 'duplicate');
      assert.equal(warned(svc).length, 0);
      // Firing again later: still a duplicate of the first decision, and warned of, naming it.
      svc.clock.advance(1_000);
      const again = await post('firing');
      assert.deepEqual([again.action, again.incident_id, again.reason], [
        'duplicate',
        fired.incident_id,
        `already decided: approval_required (APPROVAL_REQUIRED); request ${fired.approval_id} was cancelled`,
      ]);
      const w = warned(svc);
      assert.equal(w.length, 1);
      assert.deepEqual([w[0]!.alertname, w[0]!.service, w[0]!.dedup_key], ['db_down', 'orders', `am:aaaabbbbccccdddd:2026-11-24T03:00:00.000Z:firing`]);
    } finally {
      await svc.stop({ remove: true });
      await target.close();
    }
  });
});

// An alert sent without a startsAt (Alertmanager always sends one; other senders to its
// route may not) had one key for all its firings: after its first resolve every later
// firing was answered `duplicate` of the first decision, never decided, nobody asked.
describe('Alertmanager: an alert without a startsAt firing again after its resolve', () => {
  it('is a new occurrence, decided, once the resolve is more than a minute old; its re-delivery is a duplicate and its resolve resolves it', async () => {
    const target = await startHttpTarget();
    const svc = await startTestService({ captureLogs: true, runbooks: runbooksFile(postRunbook('failover', { trigger: 'db_down', url: `${target.url}/failover/{service}`, maxPerHour: 1000 })) });
    try {
      const post = async (status: 'firing' | 'resolved') =>
        (await svc.post('/api/v1/webhooks/alertmanager?wait=true', { version: '4', alerts: [{ status, labels: { alertname: 'db_down', service: 'orders' } }] })).body.results[0];
      const summary = (r: { action: string; event: string; reason: string | null }) => [r.action, r.event, r.reason];
      const approval = async (id: string) => (await svc.get(`/api/v1/approvals/${id}`)).body.status;
      const fired = await post('firing');
      assert.deepEqual(summary(fired), ['approval_required', 'APPROVAL_REQUIRED', 'risk HIGH requires approval']);
      svc.clock.advance(5_000);
      assert.deepEqual(summary(await post('resolved')), ['resolved', 'RESOLVED', 'alert resolved; 1 pending approval(s) cancelled']);
      // An HA pair's copies within the minute: the same occurrence, answered as before.
      svc.clock.advance(60_000);
      const copy = await post('firing');
      assert.deepEqual([copy.action, copy.incident_id], ['duplicate', fired.incident_id]);
      assert.equal((await post('resolved')).action, 'duplicate');
      // Firing again later: a new occurrence, decided, a new request asked.
      svc.clock.advance(1_000);
      const second = await post('firing');
      assert.deepEqual(summary(second), ['approval_required', 'APPROVAL_REQUIRED', 'risk HIGH requires approval']);
      assert.notEqual(second.incident_id, fired.incident_id);
      assert.notEqual(second.approval_id, fired.approval_id);
      assert.equal(await approval(second.approval_id), 'pending');
      // Its re-delivery while it fires (and its request is pending) is a duplicate of it.
      svc.clock.advance(5 * 60_000);
      const again = await post('firing');
      assert.deepEqual([again.action, again.event, again.incident_id], ['duplicate', 'DUPLICATE', second.incident_id]);
      // Its resolve resolves it, cancelling its request; the first one's stays as it was.
      svc.clock.advance(5_000);
      const resolved = await post('resolved');
      assert.deepEqual([...summary(resolved), resolved.incident_id], ['resolved', 'RESOLVED', 'alert resolved; 1 pending approval(s) cancelled', second.incident_id]);
      assert.deepEqual([await approval(fired.approval_id), await approval(second.approval_id)], ['cancelled', 'cancelled']);
      // And a third firing is a third occurrence.
      svc.clock.advance(10 * 60_000);
      const third = await post('firing');
      assert.deepEqual(summary(third), ['approval_required', 'APPROVAL_REQUIRED', 'risk HIGH requires approval']);
      assert.equal(new Set([fired.incident_id, second.incident_id, third.incident_id]).size, 3);
      assert.equal(svc.log.records().filter((l) => String(l.msg).startsWith('Alertmanager alert firing again after it was resolved')).length, 0);
      assert.equal(target.calls('/failover/orders', 'POST'), 0);
    } finally {
      await svc.stop({ remove: true });
      await target.close();
    }
  });
});

// A firing delivery that comes after its own resolve (its first attempt refused, say by
// rectify's 503 OVERLOADED in a storm, and retried after the resolve got through) and
// more than a minute after it was taken for a new occurrence when the alert had no
// startsAt, and its runbook ran against an alert already resolved.
describe('Alertmanager: an alert without a startsAt whose firing comes after its own resolve', () => {
  it('is answered resolved, nothing runs, as with a startsAt; its copy is a duplicate; a later firing is a new occurrence', async () => {
    const target = await startHttpTarget();
    target.route('POST', '/restart/orders', { status: 200, body: { ok: true } });
    const svc = await startTestService({ runbooks: runbooksFile(httpRunbook('restart', { trigger: 'db_down', url: `${target.url}/restart/{service}` })) });
    try {
      const post = async (status: 'firing' | 'resolved') =>
        (await svc.post('/api/v1/webhooks/alertmanager?wait=true', { version: '4', alerts: [{ status, labels: { alertname: 'db_down', service: 'orders', confidence: '0.9' } }] })).body.results[0];
      const summary = (r: { action: string; event: string; reason: string | null; incident_id: string }) => [r.action, r.event, r.reason, r.incident_id];
      const resolve = await post('resolved');
      assert.deepEqual(summary(resolve), ['resolved', 'RESOLVED', 'alert resolved', resolve.incident_id]);
      svc.clock.advance(90_000);
      const late = await post('firing');
      assert.deepEqual(summary(late), ['resolved', 'RESOLVED', `the alert was resolved (${resolve.incident_id}) before this firing delivery was decided: nothing to fix`, late.incident_id]);
      assert.notEqual(late.incident_id, resolve.incident_id);
      // Another copy of that late firing (the other of an HA pair, a retry) within its minute: a duplicate of it.
      svc.clock.advance(30_000);
      const copy = await post('firing');
      assert.deepEqual([copy.action, copy.event, copy.incident_id], ['duplicate', 'DUPLICATE', late.incident_id]);
      assert.equal(target.calls('/restart/orders', 'POST'), 0);
      // Firing again later: a new occurrence, decided and run.
      svc.clock.advance(10 * 60_000);
      const next = await post('firing');
      assert.deepEqual([next.action, next.event, next.runbook], ['executed', 'SUCCESS', 'restart']);
      assert.equal(new Set([resolve.incident_id, late.incident_id, next.incident_id]).size, 3);
      assert.equal(target.calls('/restart/orders', 'POST'), 1);
    } finally {
      await svc.stop({ remove: true });
      await target.close();
    }
  });
});
