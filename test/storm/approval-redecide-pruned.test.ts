import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';
import { countRows } from './helpers.js';

/**
 * An alert whose approval request expired is decided again at its next re-delivery
 * (Alertmanager's repeat_interval, 4h by default), however short the history retention:
 * a decided request is kept while an incident it stands for (the one that opened it, or
 * one that joined it) is stored. Once those incidents are gone (the dedup retention from
 * their last delivery), it is pruned at the history retention as before.
 */

// Regression: with --history-retention shorter than the gap to the next delivery,
// housekeeping pruned the expired request first, and every re-delivery was answered
// `duplicate` "already decided: approval_required (APPROVAL_REQUIRED)" naming a request
// that no longer existed (404), nobody asked, for as long as the alert fired.

const MIN = 60_000;
const HOUR = 60 * MIN;

const runbooks = (base: string) => `runbooks:
  restart-low:
    description: low risk runs by itself
    risk: LOW
    triggers: [LowThing]
    max_per_hour: 5
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/restart/{service}"}
  rollback-high:
    description: high risk needs approval
    risk: HIGH
    triggers: [HighThing]
    max_per_hour: 5
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/undo/{service}"}
`;

type Alert = { labels: Record<string, string>; fingerprint: string };
const alert = (service: string, n = 0): Alert => ({ labels: { alertname: 'HighThing', service }, fingerprint: `fp-${service}-${n}` });
const decision = (res: { body: any }) => res.body.results.map((r: any) => [r.action, r.event, r.reason]);
const ASKED = ['approval_required', 'APPROVAL_REQUIRED', 'risk HIGH requires approval'];

async function start(approvalTtl: string): Promise<{ target: HttpTarget; svc: TestService }> {
  const target = await startHttpTarget();
  const svc = await startTestService({
    runbooks: runbooks(target.url),
    args: ['--approval-ttl', approvalTtl, '--history-retention', '1h', '--dedup-retention', '5h'],
  });
  return { target, svc };
}

describe('an expired request is kept while its alert is, so the re-delivery asks again', () => {
  let target: HttpTarget;
  let svc: TestService;
  before(async () => ({ target, svc } = await start('1h')));
  after(async () => {
    await svc?.stop({ remove: true });
    await target?.close();
  });
  const post = (alerts: Alert[]) => svc.post('/api/v1/webhooks/alertmanager', amWebhook(alerts));
  const count = (table: string, where = '1') => countRows(svc.dbPath, `SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`);
  const pending = async () => ((await svc.get('/api/v1/approvals?status=pending')).body.approvals as Array<{ id: string }>).map((a) => a.id);
  /** Housekeeping about once a minute over `ms`. */
  const passes = async (ms: number) => {
    for (let t = 0; t < ms; t += MIN) {
      svc.clock.advance(MIN);
      await svc.service.housekeep();
    }
  };

  it('expired, then 4h of housekeeping at a 1h history retention: the repeat opens a new request', async () => {
    const first = await post([alert('shop')]);
    assert.deepEqual(decision(first), [ASKED]);
    const { incident_id: incident, approval_id: expired } = first.body.results[0];

    await passes(4 * HOUR);
    const again = await post([alert('shop')]);
    assert.deepEqual(decision(again), [ASKED]);
    const r = again.body.results[0];
    assert.equal(r.incident_id, incident);
    assert.notEqual(r.approval_id, expired);
    assert.deepEqual(await pending(), [r.approval_id]);
    assert.equal((await svc.get(`/api/v1/approvals/${expired}`)).body.status, 'expired', 'kept: its incident is still stored');
  });

  it('once its incident is gone (dedup retention), a decided request is pruned at the history retention', async () => {
    assert.equal(count('approvals'), 2);
    // The new request expires after 1h; the incident goes 5h after its last delivery.
    await passes(5 * HOUR + 2 * MIN);
    assert.equal(count('incidents'), 0);
    assert.equal(count('approvals'), 0, 'both requests pruned');
    assert.equal(count('approval_alerts'), 0);
  });
});

describe('a request kept by an alert that joined it, after the alert that opened it is gone', () => {
  let target: HttpTarget;
  let svc: TestService;
  before(async () => ({ target, svc } = await start('4h')));
  after(async () => {
    await svc?.stop({ remove: true });
    await target?.close();
  });
  const post = (alerts: Alert[]) => svc.post('/api/v1/webhooks/alertmanager', amWebhook(alerts));
  const passes = async (ms: number) => {
    for (let t = 0; t < ms; t += MIN) {
      svc.clock.advance(MIN);
      await svc.service.housekeep();
    }
  };

  it('the joined alert re-delivered after the opener was pruned asks again', async () => {
    // One plan: the second alert joins the first one's request.
    const first = await post([alert('pay', 0), alert('pay', 1)]);
    const [opened, joined] = first.body.results;
    assert.equal(opened.action, 'approval_required');
    assert.equal(joined.approval_id, opened.approval_id);
    const request = opened.approval_id as string;

    // The joined alert is re-delivered while the request is pending (a duplicate that
    // keeps its key); the opener is not. The request expires at 4h.
    await passes(3 * HOUR + 59 * MIN);
    assert.equal((await post([alert('pay', 1)])).body.results[0].action, 'duplicate');
    // 5h: the opener's incident goes; 5h10: the request is past the history retention.
    await passes(HOUR + 11 * MIN);
    assert.equal(countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents WHERE id = ?', opened.incident_id), 0, 'the opener is pruned');
    assert.equal((await svc.get(`/api/v1/approvals/${request}`)).body.status, 'expired', 'kept by the alert that joined it');

    const again = await post([alert('pay', 1)]);
    assert.deepEqual(decision(again), [ASKED]);
    assert.equal(again.body.results[0].incident_id, joined.incident_id);
    assert.notEqual(again.body.results[0].approval_id, request);
  });
});

describe('a run pruned at the history retention while its alert is still delivered', () => {
  let target: HttpTarget;
  let svc: TestService;
  before(async () => ({ target, svc } = await start('1h')));
  after(async () => {
    await svc?.stop({ remove: true });
    await target?.close();
  });

  it('the duplicate says the run is no longer kept, not nothing (as if it still ran)', async () => {
    target.route('POST', '/restart/web', { status: 200 });
    const low = { labels: { alertname: 'LowThing', service: 'web' }, fingerprint: 'fp-web' };
    const first = await svc.post('/api/v1/webhooks/alertmanager?wait=true', amWebhook([low]));
    assert.equal(first.body.results[0].action, 'executed');
    const run = first.body.results[0].execution_id as string;
    svc.clock.advance(2 * HOUR);
    await svc.service.housekeep();
    assert.equal(countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM executions'), 0);

    const again = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([low]));
    assert.deepEqual(decision(again), [
      ['duplicate', 'DUPLICATE', `already decided: executed (EXECUTING); its run ${run} is no longer kept (history retention)`],
    ]);
  });
});
