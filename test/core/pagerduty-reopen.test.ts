import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { beforeEach, describe, it } from 'node:test';
import type { HttpTarget } from '../helpers/http-target.js';
import { postRunbook, runbooksFile } from '../helpers/runbooks.js';
import { useServiceWithTarget, type TestService } from '../helpers/service.js';
import { countRows } from '../storm/helpers.js';

const fixture = () => JSON.parse(readFileSync(new URL('../fixtures/payloads/incident-triggered.json', import.meta.url), 'utf8'));

/** A PagerDuty V3 event about incident `incident`, titled `title`. */
function pdEvent(eventId: string, type: string, incident: string, title: string) {
  const body = fixture();
  body.event.id = eventId;
  body.event.event_type = type;
  body.event.data.id = incident;
  body.event.data.title = title;
  body.event.data.status = type === 'incident.resolved' ? 'resolved' : 'triggered';
  return body;
}

/** The LOW runbook the PagerDuty events below run: a POST to `<base>/scale/{service}`. */
const scaleUp = (base: string): string => postRunbook('scale-up', { risk: 'LOW', trigger: 'high_cpu', maxPerHour: 50, url: `${base}/scale/{service}` });
/** The route the scale-up runbook calls, answered 200. */
const scaleRoutes = (target: HttpTarget): void => target.route('POST', '/scale/worker', { status: 200 });

describe('PagerDuty: a reopened incident is a new occurrence', () => {
  let target: HttpTarget;
  let svc: TestService;
  const url = '/api/v1/webhooks/pagerduty?wait=true';
  const post = async (body: unknown) => {
    const r = await svc.post(url, body);
    assert.equal(r.status, 202);
    assert.equal(r.body.results.length, 1);
    return r.body.results[0];
  };
  const on = useServiceWithTarget({
    routes: scaleRoutes,
    runbooks: (t) => runbooksFile(scaleUp(t.url), postRunbook('failover', { trigger: 'db_down', url: `${t.url}/failover/{service}` })),
  });
  beforeEach(() => ({ svc, target } = on));

  it('trigger, resolve, reopen, resolve, reopen: each reopen runs the fix once more, re-deliveries run nothing', async () => {
    const t = await post(pdEvent('EV-T', 'incident.triggered', 'PREOPEN1', 'high_cpu on worker'));
    assert.equal(t.action, 'executed');
    assert.equal(target.calls('/scale/worker', 'POST'), 1);
    const s1 = await post(pdEvent('EV-S1', 'incident.resolved', 'PREOPEN1', 'high_cpu on worker'));
    assert.equal(s1.action, 'resolved');
    assert.equal(s1.incident_id, t.incident_id);

    const r1 = await post(pdEvent('EV-R1', 'incident.reopened', 'PREOPEN1', 'high_cpu on worker'));
    assert.equal(r1.action, 'executed');
    assert.equal(r1.runbook, 'scale-up');
    assert.notEqual(r1.incident_id, t.incident_id);
    assert.equal(target.calls('/scale/worker', 'POST'), 2);
    // PagerDuty delivers an event again (same event id): a duplicate of the reopen, nothing runs.
    const r1again = await post(pdEvent('EV-R1', 'incident.reopened', 'PREOPEN1', 'high_cpu on worker'));
    assert.equal(r1again.action, 'duplicate');
    assert.equal(r1again.incident_id, r1.incident_id);
    assert.equal(target.calls('/scale/worker', 'POST'), 2);

    const s2 = await post(pdEvent('EV-S2', 'incident.resolved', 'PREOPEN1', 'high_cpu on worker'));
    assert.equal(s2.action, 'resolved');
    assert.equal(s2.incident_id, r1.incident_id);
    // The first resolve delivered again is its duplicate: it resolves nothing new.
    assert.equal((await post(pdEvent('EV-S1', 'incident.resolved', 'PREOPEN1', 'high_cpu on worker'))).action, 'duplicate');

    const r2 = await post(pdEvent('EV-R2', 'incident.reopened', 'PREOPEN1', 'high_cpu on worker'));
    assert.equal(r2.action, 'executed');
    assert.equal(target.calls('/scale/worker', 'POST'), 3);
    // The first reopen delivered again after later events is still its duplicate.
    assert.equal((await post(pdEvent('EV-R1', 'incident.reopened', 'PREOPEN1', 'high_cpu on worker'))).action, 'duplicate');
    // A late trigger (delivered after resolves and reopens) acts on nothing, as before.
    assert.equal((await post(pdEvent('EV-T', 'incident.triggered', 'PREOPEN1', 'high_cpu on worker'))).action, 'duplicate');
    assert.equal(target.calls('/scale/worker', 'POST'), 3);
    // Other event types about the reopened incident are still acknowledged and ignored.
    for (const type of ['incident.acknowledged', 'incident.annotated', 'incident.priority_updated']) {
      const r = await svc.post(url, pdEvent(`EV-${type}`, type, 'PREOPEN1', 'high_cpu on worker'));
      assert.equal(r.status, 202);
      assert.deepEqual(r.body.results, []);
    }
    const s3 = await post(pdEvent('EV-S3', 'incident.resolved', 'PREOPEN1', 'high_cpu on worker'));
    assert.equal(s3.action, 'resolved');
    assert.equal(s3.incident_id, r2.incident_id);
  });

  it('a trigger delivered only after its resolve acts on nothing; a reopen after that is decided', async () => {
    const s1 = await post(pdEvent('EV-LATE-S1', 'incident.resolved', 'PLATE1', 'high_cpu on worker'));
    assert.equal(s1.action, 'resolved');
    const t = await post(pdEvent('EV-LATE-T', 'incident.triggered', 'PLATE1', 'high_cpu on worker'));
    assert.equal(t.action, 'resolved');
    const before = target.calls('/scale/worker', 'POST');
    const r1 = await post(pdEvent('EV-LATE-R1', 'incident.reopened', 'PLATE1', 'high_cpu on worker'));
    assert.equal(r1.action, 'executed');
    assert.equal(target.calls('/scale/worker', 'POST'), before + 1);
  });

  it('a reopen delivered after the resolve that ended it (by occurred_at) acts on nothing; a later reopen is decided', async () => {
    const at = (e: ReturnType<typeof pdEvent>, minute: number) => {
      e.event.occurred_at = new Date(Date.UTC(2026, 10, 24, 3, minute)).toISOString();
      return e;
    };
    const t = await post(at(pdEvent('EV-O-T', 'incident.triggered', 'PORDER1', 'high_cpu on worker'), 0));
    assert.equal(t.action, 'executed');
    const calls = target.calls('/scale/worker', 'POST');
    assert.equal((await post(at(pdEvent('EV-O-S1', 'incident.resolved', 'PORDER1', 'high_cpu on worker'), 1))).action, 'resolved');
    // PagerDuty delivers the second resolve (03:04) before the reopen it ends (03:03).
    assert.equal((await post(at(pdEvent('EV-O-S2', 'incident.resolved', 'PORDER1', 'high_cpu on worker'), 4))).action, 'resolved');
    const r1 = await post(at(pdEvent('EV-O-R1', 'incident.reopened', 'PORDER1', 'high_cpu on worker'), 3));
    assert.equal(r1.action, 'resolved');
    assert.equal(target.calls('/scale/worker', 'POST'), calls);
    // Delivered again, it is its duplicate.
    assert.equal((await post(at(pdEvent('EV-O-R1', 'incident.reopened', 'PORDER1', 'high_cpu on worker'), 3))).action, 'duplicate');
    // A reopen after that resolve is a problem back: decided, and the fix runs.
    const r2 = await post(at(pdEvent('EV-O-R2', 'incident.reopened', 'PORDER1', 'high_cpu on worker'), 5));
    assert.equal(r2.action, 'executed');
    assert.equal(target.calls('/scale/worker', 'POST'), calls + 1);
    const s3 = await post(at(pdEvent('EV-O-S3', 'incident.resolved', 'PORDER1', 'high_cpu on worker'), 6));
    assert.equal(s3.incident_id, r2.incident_id);
  });

  it('two reopens delivered with no resolve between them are two occurrences; the resolves end them in order', async () => {
    assert.equal((await post(pdEvent('EV-2R-T', 'incident.triggered', 'PTWO1', 'high_cpu on worker'))).action, 'executed');
    assert.equal((await post(pdEvent('EV-2R-S1', 'incident.resolved', 'PTWO1', 'high_cpu on worker'))).action, 'resolved');
    const calls = target.calls('/scale/worker', 'POST');
    const r1 = await post(pdEvent('EV-2R-R1', 'incident.reopened', 'PTWO1', 'high_cpu on worker'));
    assert.equal(r1.action, 'executed');
    // The resolve between the two reopens is still on its way.
    const r2 = await post(pdEvent('EV-2R-R2', 'incident.reopened', 'PTWO1', 'high_cpu on worker'));
    assert.equal(r2.action, 'executed');
    assert.notEqual(r2.incident_id, r1.incident_id);
    assert.equal(target.calls('/scale/worker', 'POST'), calls + 2);
    // Re-deliveries of either are duplicates.
    assert.equal((await post(pdEvent('EV-2R-R2', 'incident.reopened', 'PTWO1', 'high_cpu on worker'))).incident_id, r2.incident_id);
    assert.equal((await post(pdEvent('EV-2R-R1', 'incident.reopened', 'PTWO1', 'high_cpu on worker'))).action, 'duplicate');
    const s2 = await post(pdEvent('EV-2R-S2', 'incident.resolved', 'PTWO1', 'high_cpu on worker'));
    assert.equal(s2.incident_id, r1.incident_id);
    const s3 = await post(pdEvent('EV-2R-S3', 'incident.resolved', 'PTWO1', 'high_cpu on worker'));
    assert.equal(s3.incident_id, r2.incident_id);
    assert.equal(target.calls('/scale/worker', 'POST'), calls + 2);
  });

  it('a HIGH runbook: the reopen asks again, and the resolve after it cancels that request', async () => {
    const t = await post(pdEvent('EV-H-T', 'incident.triggered', 'PHIGH1', 'db_down on orders'));
    assert.equal(t.action, 'approval_required');
    const s1 = await post(pdEvent('EV-H-S1', 'incident.resolved', 'PHIGH1', 'db_down on orders'));
    assert.equal(s1.action, 'resolved');
    assert.equal((await svc.get(`/api/v1/approvals/${t.approval_id}`)).body.status, 'cancelled');

    const r1 = await post(pdEvent('EV-H-R1', 'incident.reopened', 'PHIGH1', 'db_down on orders'));
    assert.equal(r1.action, 'approval_required');
    assert.notEqual(r1.approval_id, t.approval_id);
    assert.equal((await svc.get(`/api/v1/approvals/${r1.approval_id}`)).body.status, 'pending');
    assert.equal((await post(pdEvent('EV-H-R1', 'incident.reopened', 'PHIGH1', 'db_down on orders'))).action, 'duplicate');

    const s2 = await post(pdEvent('EV-H-S2', 'incident.resolved', 'PHIGH1', 'db_down on orders'));
    assert.equal(s2.action, 'resolved');
    assert.equal(s2.incident_id, r1.incident_id);
    assert.match(s2.reason, /1 pending approval\(s\) cancelled/);
    assert.equal((await svc.get(`/api/v1/approvals/${r1.approval_id}`)).body.status, 'cancelled');
    assert.equal(target.calls('/failover/orders', 'POST'), 0);
  });

  it('an incident id holding "#" is a 400 naming event.data.id: it cannot resolve another incident\'s reopen', async () => {
    const t = await post(pdEvent('EV-HASH-T', 'incident.triggered', 'PHASH1', 'db_down on orders'));
    assert.equal((await post(pdEvent('EV-HASH-S1', 'incident.resolved', 'PHASH1', 'db_down on orders'))).action, 'resolved');
    const r1 = await post(pdEvent('EV-HASH-R1', 'incident.reopened', 'PHASH1', 'db_down on orders'));
    assert.equal(r1.action, 'approval_required');
    assert.notEqual(r1.approval_id, t.approval_id);
    const incidents = () => countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents');
    const before = incidents();
    // `pd:PHASH1#1` is PHASH1's first reopen: an incident "PHASH1#1" would be it.
    for (const type of ['incident.resolved', 'incident.triggered', 'incident.reopened']) {
      const r = await svc.post(url, pdEvent(`EV-HASH-X-${type}`, type, 'PHASH1#1', 'db_down on orders'));
      assert.deepEqual(
        { status: r.status, body: r.body },
        {
          status: 400,
          body: {
            error: {
              code: 'VALIDATION_FAILED',
              message: 'invalid body: body.event.data.id: must not contain "#": a PagerDuty incident id is letters and digits',
              details: [{ path: 'body.event.data.id', message: 'must not contain "#": a PagerDuty incident id is letters and digits' }],
            },
          },
        },
        type,
      );
    }
    assert.equal(incidents(), before, 'nothing stored');
    assert.equal((await svc.get(`/api/v1/approvals/${r1.approval_id}`)).body.status, 'pending');
    // PHASH1's own resolve still ends its reopen.
    const s2 = await post(pdEvent('EV-HASH-S2', 'incident.resolved', 'PHASH1', 'db_down on orders'));
    assert.deepEqual([s2.action, s2.incident_id], ['resolved', r1.incident_id]);
    assert.equal((await svc.get(`/api/v1/approvals/${r1.approval_id}`)).body.status, 'cancelled');
  });

  it('a resolve needs only the incident id: one without a title or service ends its occurrence and cancels its request; a trigger without them is a 400', async () => {
    const t = await post(pdEvent('EV-BARE-T', 'incident.triggered', 'PBARE1', 'db_down on orders'));
    assert.equal(t.action, 'approval_required');
    const bare = pdEvent('EV-BARE-S', 'incident.resolved', 'PBARE1', 'unused');
    delete bare.event.data.title;
    delete bare.event.data.service;
    const s = await svc.post(url, bare);
    assert.equal(s.status, 202, JSON.stringify(s.body));
    assert.deepEqual(
      s.body.results.map((r: any) => [r.action, r.event, r.incident_id, r.reason]),
      [['resolved', 'RESOLVED', t.incident_id, 'alert resolved; 1 pending approval(s) cancelled']],
    );
    assert.equal((await svc.get(`/api/v1/approvals/${t.approval_id}`)).body.status, 'cancelled');
    const events = (await svc.get(`/api/v1/audit?incident_id=${t.incident_id}`)).body.events.map((e: any) => e.event);
    assert.deepEqual(events.filter((e: string) => e === 'CANCELLED' || e === 'RESOLVED'), ['RESOLVED', 'CANCELLED'], 'newest first');
    const view = (await svc.get(`/api/v1/incidents/${t.incident_id}`)).body;
    assert.equal(view.incident.status, 'resolved');
    assert.equal(target.calls('/failover/orders', 'POST'), 0);
    // A service summary given empty is none either.
    const emptied = pdEvent('EV-BARE-S2', 'incident.resolved', 'PBARE2', '');
    emptied.event.data.service.summary = '';
    const s2 = await svc.post(url, emptied);
    assert.deepEqual([s2.status, s2.body.results?.[0]?.action], [202, 'resolved']);

    const incidents = () => countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents');
    const before = incidents();
    for (const [drop, path] of [['title', 'body.event.data.title'], ['service', 'body.event.data.service.summary']] as const) {
      const trigger = pdEvent(`EV-BARE-T-${drop}`, 'incident.triggered', `PBARE-${drop}`, 'db_down on orders');
      delete trigger.event.data[drop];
      const r = await svc.post(url, trigger);
      assert.equal(r.status, 400, drop);
      assert.deepEqual(r.body.error.details.map((d: any) => d.path), [path]);
    }
    assert.equal(incidents(), before);
  });
});

// Regression: a PagerDuty incident's occurrences are found by walking its rows from the
// first (pd:<id>, then #1, #2…), and each row was pruned the dedup retention after it
// was written. Once the first occurrence's rows were pruned and a later one's were not,
// the next reopen was placed on that later occurrence and answered `duplicate` of it:
// the problem back once more ran no fix and was told to nobody.
describe('PagerDuty: reopens after the dedup retention of the first occurrence', () => {
  let target: HttpTarget;
  let svc: TestService;
  const MIN = 60_000;
  const post = async (body: unknown) => (await svc.post('/api/v1/webhooks/pagerduty?wait=true', body)).body.results[0];
  const on = useServiceWithTarget({ routes: scaleRoutes, runbooks: (t) => runbooksFile(scaleUp(t.url)), args: ['--dedup-retention', '1h'] });
  beforeEach(() => ({ svc, target } = on));

  it('a reopen while a later occurrence is still remembered is a new occurrence; with every one forgotten, too', async () => {
    const ev = (id: string, type: string) => pdEvent(id, type, 'PKEEP1', 'high_cpu on worker');
    assert.equal((await post(ev('EV-K-T', 'incident.triggered'))).action, 'executed');
    svc.clock.advance(MIN);
    assert.equal((await post(ev('EV-K-S1', 'incident.resolved'))).action, 'resolved');
    svc.clock.advance(49 * MIN);
    const r1 = await post(ev('EV-K-R1', 'incident.reopened'));
    assert.equal(r1.action, 'executed');
    svc.clock.advance(MIN);
    assert.equal((await post(ev('EV-K-S2', 'incident.resolved'))).incident_id, r1.incident_id);
    // 70 minutes after the trigger: past the retention of the first occurrence's own rows.
    svc.clock.advance(19 * MIN);
    await svc.service.housekeep();
    svc.clock.advance(5 * MIN);
    const r2 = await post(ev('EV-K-R2', 'incident.reopened'));
    assert.deepEqual([r2.action, r2.event], ['executed', 'SUCCESS']);
    assert.notEqual(r2.incident_id, r1.incident_id);
    assert.equal(target.calls('/scale/worker', 'POST'), 3);
    svc.clock.advance(MIN);
    assert.equal((await post(ev('EV-K-S3', 'incident.resolved'))).incident_id, r2.incident_id);
    // Nothing about the incident for longer than the retention: all of it is forgotten, and a reopen is decided.
    svc.clock.advance(2 * 60 * MIN);
    await svc.service.housekeep();
    const r3 = await post(ev('EV-K-R3', 'incident.reopened'));
    assert.equal(r3.action, 'executed');
    assert.equal((await post(ev('EV-K-R3', 'incident.reopened'))).action, 'duplicate');
    assert.equal(target.calls('/scale/worker', 'POST'), 4);
    // Its resolve ends it (the first occurrence it would have gone to is forgotten), and the next reopen is decided.
    svc.clock.advance(MIN);
    const s4 = await post(ev('EV-K-S4', 'incident.resolved'));
    assert.deepEqual([s4.action, s4.incident_id], ['resolved', r3.incident_id]);
    assert.equal((await svc.get(`/api/v1/incidents/${r3.incident_id}`)).body.incident.status, 'resolved');
    const r4 = await post(ev('EV-K-R4', 'incident.reopened'));
    assert.equal(r4.action, 'executed');
    assert.equal(target.calls('/scale/worker', 'POST'), 5);
  });

  it('an incident flapping for hours past the retention: older occurrences go by their own age, and every reopen is still decided, its resolve ending it', async () => {
    const ev = (id: string, type: string) => pdEvent(id, type, 'PFLAP1', 'high_cpu on worker');
    const t = await post(ev('EV-F-T', 'incident.triggered'));
    assert.equal(t.action, 'executed');
    let open = t.incident_id as string;
    const calls = target.calls('/scale/worker', 'POST');
    for (let i = 1; i <= 40; i++) {
      svc.clock.advance(5 * MIN);
      const s = await post(ev(`EV-F-S${i}`, 'incident.resolved'));
      assert.deepEqual([s.action, s.incident_id], ['resolved', open], `resolve ${i}`);
      svc.clock.advance(5 * MIN);
      const r = await post(ev(`EV-F-R${i}`, 'incident.reopened'));
      assert.deepEqual([r.action, r.event], ['executed', 'SUCCESS'], `reopen ${i}`);
      assert.equal((await post(ev(`EV-F-R${i}`, 'incident.reopened'))).action, 'duplicate', `reopen ${i} again`);
      open = r.incident_id;
      await svc.service.housekeep();
    }
    assert.equal(target.calls('/scale/worker', 'POST'), calls + 40);
    // Its keys: the 40th reopen is pd:PFLAP1#40, whose resolve ends it.
    assert.equal(countRows(svc.dbPath, "SELECT COUNT(*) AS n FROM incidents WHERE id = ? AND alert_key = 'pd:PFLAP1#40' AND dedup_key = 'pd:PFLAP1#40:firing'", open), 1);
    // Forgotten by their own age: older occurrences, but those that find the last.
    const kept = (n: number) => countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents WHERE alert_key = ?', `pd:PFLAP1#${n}`);
    assert.deepEqual([3, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 17].map(kept), Array(12).fill(0));
    // Kept: the powers of two up to the last, by which the last is found, and the latest.
    assert.deepEqual([1, 2, 4, 8, 16, 32, 33, 39, 40].map(kept), [2, 2, 2, 2, 2, 2, 2, 2, 1]);
    assert.equal((await svc.get(`/api/v1/incidents/${open}`)).body.incident.labels.pagerduty_event, 'EV-F-R40');
    svc.clock.advance(MIN);
    const last = await post(ev('EV-F-S41', 'incident.resolved'));
    assert.deepEqual([last.action, last.incident_id], ['resolved', open]);
  });

  it('a reopen delivered before the trigger and the resolve that came before it (by occurred_at): the resolve is the first occurrence\'s, and the late trigger acts on nothing', async () => {
    const ev = (id: string, type: string, minute: number) => {
      const e = pdEvent(id, type, 'PFIRST1', 'high_cpu on worker');
      e.event.occurred_at = new Date(Date.UTC(2026, 10, 24, 3, minute)).toISOString();
      return e;
    };
    const calls = target.calls('/scale/worker', 'POST');
    const r1 = await post(ev('EV-F-R1', 'incident.reopened', 3));
    assert.equal(r1.action, 'executed');
    assert.equal((await post(ev('EV-F-S1', 'incident.resolved', 1))).action, 'resolved');
    assert.equal((await post(ev('EV-F-T', 'incident.triggered', 0))).action, 'resolved');
    const s2 = await post(ev('EV-F-S2', 'incident.resolved', 4));
    assert.equal(s2.incident_id, r1.incident_id);
    assert.equal(target.calls('/scale/worker', 'POST'), calls + 1);
  });
});
