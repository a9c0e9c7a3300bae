import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';
import { until } from '../helpers/until.js';

/**
 * An approval request can end with nobody deciding it: it expires, or rectify cancels it
 * when someone tries to approve it after its runbook changed ("the next alert asks
 * again"). Alertmanager keeps sending the alert every repeat_interval while it fires: that
 * re-delivery is decided again, under the same incident, and asks again. A request still
 * pending is joined; one a person approved or rejected stays decided, as does an alert
 * whose resolve is recorded.
 */

// Regression: the re-delivery was answered `duplicate` ("already decided: approval_required
// (APPROVAL_REQUIRED)") pointing at the dead request, and opened none, until the dedup
// retention passed or the alert fired anew.

const runbooks = (base: string, path = 'undo') => `runbooks:
  rollback-high:
    description: high risk needs approval
    risk: HIGH
    triggers: [HighThing]
    max_per_hour: 5
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/${path}/{service}"}
`;

type Alert = { labels: Record<string, string>; fingerprint: string; status?: 'firing' | 'resolved' };
const alert = (service: string, n = 0): Alert => ({ labels: { alertname: 'HighThing', service }, fingerprint: `fp-${service}-${n}` });
const decisions = (res: { body: any }) => res.body.results.map((r: any) => [r.action, r.event, r.reason]);
const ASKED = ['approval_required', 'APPROVAL_REQUIRED', 'risk HIGH requires approval'];
const DUPLICATE = (status?: string, id?: string) => [
  'duplicate',
  'DUPLICATE',
  `already decided: approval_required (APPROVAL_REQUIRED)${status ? `; request ${id} was ${status}` : ''}`,
];

describe('a re-delivery of an alert whose approval request ended unanswered asks again', () => {
  let target: HttpTarget;
  let svc: TestService;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/hook', { status: 204 });
    svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/hook`, '--approval-ttl', '1h'] });
  });
  after(async () => {
    await svc?.stop({ remove: true });
    await target?.close();
  });
  const post = (alerts: Alert[]) => svc.post('/api/v1/webhooks/alertmanager', amWebhook(alerts));
  const pending = async () => ((await svc.get('/api/v1/approvals?status=pending')).body.approvals as Array<{ id: string; service: string; incident_id: string }>).map((a) => [a.service, a.id, a.incident_id]).sort();
  const auditOf = async (incident: string) =>
    ((await svc.get(`/api/v1/audit?incident_id=${incident}&limit=100`)).body.events as any[])
      .reverse()
      .filter((e) => e.event !== 'NOTIFIED')
      .map((e) => [e.event, e.details.approval_id ?? null, e.details.decided_again ?? false]);
  const approval = async (id: string) => {
    const a = (await svc.get(`/api/v1/approvals/${id}`)).body;
    return [a.status, a.decided_by, a.incident_id];
  };

  it('expired: the repeat opens a new request under the same incident; while pending it is joined', async () => {
    const first = await post([alert('e1'), alert('e2')]);
    assert.deepEqual(decisions(first), [ASKED, ASKED]);
    const [e1, e2] = first.body.results.map((r: any) => [r.incident_id, r.approval_id]) as Array<[string, string]>;

    // Still pending: a repeat joins it (a duplicate pointing at it), as before.
    const joined = await post([alert('e1')]);
    assert.deepEqual(decisions(joined), [DUPLICATE()]);
    assert.deepEqual(joined.body.results.map((r: any) => [r.incident_id, r.approval_id]), [e1]);

    // Past the deadline: e1's expiry recorded by housekeeping, e2's not yet.
    svc.clock.advance(61 * 60_000);
    await svc.service.housekeep();
    assert.deepEqual(await approval(e1![1]), ['expired', 'rectify', e1![0]]);
    assert.deepEqual(await approval(e2![1]), ['expired', 'rectify', e2![0]]);
    svc.clock.advance(1_000);

    // The repeats (a second copy of e1 in the body): decided again, each under its incident; the copy is a duplicate of that.
    const again = await post([alert('e1'), alert('e2'), alert('e1')]);
    assert.deepEqual(decisions(again).map((d: string[]) => d.slice(0, 2)), [ASKED.slice(0, 2), ASKED.slice(0, 2), ['duplicate', 'DUPLICATE']]);
    const [r1, r2, r3] = again.body.results;
    assert.deepEqual([r1.incident_id, r2.incident_id, r3.incident_id], [e1![0], e2![0], e1![0]]);
    assert.notEqual(r1.approval_id, e1![1]);
    assert.notEqual(r2.approval_id, e2![1]);
    assert.equal(r3.approval_id, r1.approval_id);
    assert.equal(r3.reason, 'already decided: approval_required (APPROVAL_REQUIRED)');
    assert.deepEqual(await pending(), [['e1', r1.approval_id, e1![0]], ['e2', r2.approval_id, e2![0]]].sort());
    const view = (await svc.get(`/api/v1/incidents/${e1![0]}`)).body;
    assert.deepEqual([view.decision.action, view.decision.event, view.approval?.id], ['approval_required', 'APPROVAL_REQUIRED', r1.approval_id]);

    // Its repeat now joins the new request.
    const dup = await post([alert('e1')]);
    assert.deepEqual(decisions(dup), [DUPLICATE()]);
    assert.equal(dup.body.results[0].approval_id, r1.approval_id);

    assert.deepEqual(await auditOf(e1![0]), [
      ['APPROVAL_REQUIRED', e1![1], false],
      ['DUPLICATE', null, false],
      ['EXPIRED', e1![1], false],
      ['APPROVAL_REQUIRED', r1.approval_id, true],
      ['DUPLICATE', null, false],
      ['DUPLICATE', null, false],
    ]);
  });

  it('pending past its deadline, its expiry not yet recorded: the repeat asks again', async () => {
    const first = await post([alert('p1')]);
    const [incident, request] = [first.body.results[0].incident_id, first.body.results[0].approval_id];
    svc.clock.advance(60 * 60_000);
    const again = await post([alert('p1')]);
    assert.deepEqual(decisions(again), [ASKED]);
    assert.equal(again.body.results[0].incident_id, incident);
    assert.notEqual(again.body.results[0].approval_id, request);
    await svc.service.housekeep();
    assert.deepEqual(await approval(request), ['expired', 'rectify', incident]);
    assert.deepEqual((await pending()).filter(([s]) => s === 'p1'), [['p1', again.body.results[0].approval_id, incident]]);
  });

  it('cancelled by rectify as its runbook changed: the repeat asks again with the runbook as it is now', async () => {
    target.route('POST', '/v2-undo/c1', { status: 200 });
    const first = await post([alert('c1')]);
    const [incident, request] = [first.body.results[0].incident_id, first.body.results[0].approval_id];
    writeFileSync(join(svc.runbooksDir, 'runbooks.yaml'), runbooks(target.url, 'v2-undo'));
    assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 1, added: [], removed: [], changed: ['rollback-high'], reordered: false });
    const tried = await svc.post(`/api/v1/approvals/${request}/approve`, { by: 'carol' });
    assert.equal(tried.status, 409);
    assert.match(tried.body.error.message, /changed since this request was made: .* the next alert asks again/);
    assert.deepEqual(await approval(request), ['cancelled', 'rectify', incident]);

    const again = await post([alert('c1')]);
    assert.deepEqual(decisions(again), [ASKED]);
    const renewed = again.body.results[0].approval_id;
    assert.equal(again.body.results[0].incident_id, incident);
    assert.notEqual(renewed, request);
    assert.deepEqual((await pending()).filter(([s]) => s === 'c1'), [['c1', renewed, incident]]);
    assert.deepEqual(await auditOf(incident), [
      ['APPROVAL_REQUIRED', request, false],
      ['CANCELLED', request, false],
      ['APPROVAL_REQUIRED', renewed, true],
    ]);
    // Approved now, it runs the runbook as it is now.
    const ok = await svc.post(`/api/v1/approvals/${renewed}/approve?wait=true`, { by: 'carol' });
    assert.equal(ok.status, 200);
    assert.equal(target.calls('/v2-undo/c1', 'POST'), 1);
    // Decided by a person: its repeat is a duplicate saying so.
    assert.deepEqual(decisions(await post([alert('c1')])), [DUPLICATE('approved', renewed)]);
    writeFileSync(join(svc.runbooksDir, 'runbooks.yaml'), runbooks(target.url));
    await svc.service.reload();
  });

  it('rejected by a person, cancelled as its alert resolved, or labels that differ: the repeat stays a duplicate', async () => {
    // A person said no.
    const r = await post([alert('r1')]);
    const rejected = r.body.results[0].approval_id;
    assert.equal((await svc.post(`/api/v1/approvals/${rejected}/reject`, { by: 'bob', comment: 'no' })).status, 200);
    const dupR = await post([alert('r1')]);
    assert.deepEqual(decisions(dupR), [DUPLICATE('rejected', rejected)]);
    assert.deepEqual(dupR.body.results.map((x: any) => [x.incident_id, x.approval_id]), [[r.body.results[0].incident_id, rejected]]);

    // Resolved: its request is cancelled; a late firing copy is a duplicate.
    const d = await post([alert('d1')]);
    const resolvedReq = d.body.results[0].approval_id;
    assert.deepEqual(decisions(await post([{ ...alert('d1'), status: 'resolved' }])), [['resolved', 'RESOLVED', 'alert resolved; 1 pending approval(s) cancelled']]);
    assert.deepEqual(decisions(await post([alert('d1')])), [DUPLICATE('cancelled', resolvedReq)]);

    // Expired, but the repeat's labels differ from those stored under its key: not decided again.
    const l = await post([alert('l1')]);
    const expired = l.body.results[0].approval_id;
    svc.clock.advance(61 * 60_000);
    await svc.service.housekeep();
    const differ = await post([{ labels: { alertname: 'HighThing', service: 'l1', extra: 'x' }, fingerprint: 'fp-l1-0' }]);
    assert.deepEqual(differ.body.results.map((x: any) => [x.action, x.approval_id]), [['duplicate', expired]]);
    assert.match(differ.body.results[0].reason, /^already decided: approval_required \(APPROVAL_REQUIRED\); request apr_\w+ was expired; /);

    assert.deepEqual((await pending()).filter(([s]) => ['r1', 'd1', 'l1'].includes(s!)), []);
    assert.equal(target.calls('/undo/r1', 'POST') + target.calls('/undo/d1', 'POST') + target.calls('/undo/l1', 'POST'), 0);
  });
});

// Regression: startup found a request's deliveries by its incident alone, so the request an
// alert decided again opened counted as told by its expired request's delivery: cut off by a
// stop, it was never told, and nobody approved it.
describe('the request of an alert decided again is its own notification', () => {
  let target: HttpTarget;
  let svc: TestService;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/hook', { status: 204 });
    svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/hook`, '--approval-ttl', '1h'] });
  });
  after(async () => {
    await svc?.stop({ remove: true });
    await target?.close();
  });
  const post = (alerts: Alert[]) => svc.post('/api/v1/webhooks/alertmanager', amWebhook(alerts));
  const hook = (where: (b: any) => boolean, since?: number) =>
    target.waitForRequest('/hook', { timeoutMs: 10_000, ...(since !== undefined ? { since } : {}), where: (r) => where(r.json()) });

  it('cut off by a stop, it is told again at the next start, with its own notification_id', async () => {
    const first = await post([alert('n1')]);
    const [incident, expired] = [first.body.results[0].incident_id, first.body.results[0].approval_id];
    await hook((b) => b.event === 'APPROVAL_REQUIRED' && b.approval_id === expired);
    await until('its delivery recorded', async () =>
      ((await svc.get(`/api/v1/audit?incident_id=${incident}&event=NOTIFIED`)).body.events as any[]).some((e) => e.details.about === 'APPROVAL_REQUIRED') ? true : undefined,
    );
    svc.clock.advance(61 * 60_000);
    await svc.service.housekeep();
    await hook((b) => b.event === 'EXPIRED' && b.approval_id === expired);

    // The webhook holds the next request: in flight when the service stops.
    target.route('POST', '/hook', { status: 204, delayMs: 120_000 });
    const again = await post([alert('n1')]);
    assert.deepEqual(decisions(again), [ASKED]);
    const renewed = again.body.results[0].approval_id;
    assert.equal(again.body.results[0].incident_id, incident);
    const cut = await hook((b) => b.event === 'APPROVAL_REQUIRED' && b.approval_id === renewed);
    target.route('POST', '/hook', { status: 204 });
    const since = Date.now();
    svc = await svc.restart();
    const note = ' (sent again after a restart: no delivery of this request was recorded before rectify stopped)';
    const told = (await hook((b) => b.event === 'APPROVAL_REQUIRED' && b.approval_id === renewed && String(b.reason).endsWith(note), since)).json() as any;
    assert.equal(told.notification_id, `ntf_${renewed}`);
    assert.equal(told.notification_id, (cut.json() as any).notification_id);
    assert.equal(told.reason, `risk HIGH requires approval${note}`);
  });
});
