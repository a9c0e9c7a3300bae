import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { postAlerts, startAlertmanager } from '../helpers/alertmanager.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { freePort, type RunningDaemon } from '../helpers/prometheus.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';
import { until } from '../helpers/until.js';
import { createTruncationBudget, TRUNCATIONS_TOLD_PER_WINDOW } from '../../src/engine/truncations.js';

/**
 * A storm bigger than the receiver's `max_alerts`: Alertmanager sends that many
 * alerts and only counts the rest (`truncatedAlerts`), and never sends them later.
 * rectify cannot decide alerts it never saw, but it must not keep quiet about them.
 */

const runbooks = (base: string) => `runbooks:
  fix:
    risk: LOW
    triggers: [PodCrashLooping]
    min_confidence: 0.5
    max_per_hour: 100
    cooldown_minutes: 0
    blast_radius_limit: 10
    action:
      http: {method: POST, url: "${base}/act"}
`;

const truncatedEvents = async (svc: TestService) => (await svc.get('/api/v1/audit?event=ALERTS_TRUNCATED&limit=100')).body.events as any[];
const metric = async (svc: TestService, name: string): Promise<number> => {
  const text = (await svc.get('/metrics')).body as string;
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
};

describe('storm: alerts Alertmanager left out of a notification', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/act', { status: 200 });
    target.route('POST', '/hook', { status: 204 });
  });
  after(async () => target.close());

  it('truncatedAlerts is audited in the same commit, counted, logged and told to a person; the delivered alerts are decided as usual', async () => {
    target.reset();
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/hook`], captureLogs: true });
    const body = {
      ...amWebhook([
        { labels: { alertname: 'PodCrashLooping', service: 'shop' }, fingerprint: 'a1' },
        { labels: { alertname: 'Unrelated', service: 'shop' }, fingerprint: 'a2' },
      ]),
      groupKey: '{}:{alertname="PodCrashLooping"}',
      receiver: 'rectify',
      truncatedAlerts: 7,
    };
    const r = await svc.post('/api/v1/webhooks/alertmanager?wait=true', body);
    assert.equal(r.status, 202);
    assert.deepEqual(r.body.results.map((x: any) => x.action), ['executed', 'manual']);

    const events = await truncatedEvents(svc);
    assert.equal(events.length, 1);
    assert.equal(events[0].incident_id, null);
    assert.equal(events[0].runbook, null);
    const { notification_id: id, told: recorded, ...details } = events[0].details;
    assert.deepEqual(details, { truncated_alerts: 7, delivered_alerts: 2, group_key: '{}:{alertname="PodCrashLooping"}', receiver: 'rectify' });
    assert.equal(await metric(svc, 'rectify_alerts_truncated_total'), 7);
    assert.equal(svc.log.records().filter((l) => l.msg === 'Alertmanager left alerts out of a notification' && l.truncated_alerts === 7).length, 1);

    // Told one by one: the row records the notification, as for every event told one by one.
    await svc.service.drainNotifications();
    const told = target.requests('/hook', 'POST').map((q) => q.json() as any).filter((n) => n.event === 'ALERTS_TRUNCATED');
    assert.equal(told.length, 1);
    assert.equal(told[0].outcome, 'alerts left out');
    assert.match(told[0].reason, /sent 2 alerts and left 7 out/);
    assert.equal(told[0].notification_id, id);
    assert.deepEqual(recorded, { to: svc.service.receivers, outcome: 'alerts left out', reason: told[0].reason, service: null, approval_id: null });
    const delivered = (await svc.get('/api/v1/audit?event=NOTIFIED&limit=100')).body.events.filter((e: any) => e.details.about === 'ALERTS_TRUNCATED');
    assert.deepEqual(delivered.map((e: any) => e.details.notification_id), [id]);
    assert.equal((await svc.get('/api/v1/audit/verify')).body.ok, true);

    await svc.stop({ remove: true });
  });

  it('a re-delivery of a cut-short notification (HA pair, retry) is not counted or told again; a later one with a new alert is', async () => {
    target.reset();
    // Every notification told one by one (no repeat window): what is counted here is what the engine sent.
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/hook`, '--notify-repeat-window', '0s'], captureLogs: true });
    const told = async () => {
      await svc.service.drainNotifications();
      return target.requests('/hook', 'POST').map((q) => q.json() as any).filter((n) => n.event === 'ALERTS_TRUNCATED');
    };
    const alerts = [
      { labels: { alertname: 'PodCrashLooping', service: 'shop' }, fingerprint: 'c1' },
      { labels: { alertname: 'Unrelated', service: 'shop' }, fingerprint: 'c2' },
    ];
    const body = { ...amWebhook(alerts), groupKey: '{}:{alertname="PodCrashLooping"}', receiver: 'rectify', truncatedAlerts: 3 };
    assert.equal((await svc.post('/api/v1/webhooks/alertmanager?wait=true', body)).status, 202);

    // Both members of an HA pair deliver it, and the sender retries: the same 3 alerts were lost, once.
    for (let i = 0; i < 2; i++) {
      const again = await svc.post('/api/v1/webhooks/alertmanager', body);
      assert.equal(again.status, 202);
      assert.deepEqual(again.body.results.map((x: any) => x.action), ['duplicate', 'duplicate']);
    }
    assert.equal((await truncatedEvents(svc)).length, 1);
    assert.equal(await metric(svc, 'rectify_alerts_truncated_total'), 3);
    assert.equal((await told()).length, 1);
    assert.equal(svc.log.records().filter((l) => l.msg === 'Alertmanager left alerts out of a notification').length, 1);

    // A partial overlap is a new notification of the group (it carries an alert never seen): recorded in full.
    // The group was told one by one within the minute: this one is told as a manual notice, its row recording none.
    const later = { ...amWebhook([...alerts, { labels: { alertname: 'Unrelated', service: 'cart' }, fingerprint: 'c3' }]), groupKey: body.groupKey, receiver: body.receiver, truncatedAlerts: 2 };
    const r = await svc.post('/api/v1/webhooks/alertmanager', later);
    assert.deepEqual(r.body.results.map((x: any) => x.action), ['duplicate', 'duplicate', 'manual']);
    const events = await truncatedEvents(svc);
    assert.equal(events.length, 2);
    assert.deepEqual(events[0].details, { truncated_alerts: 2, delivered_alerts: 3, group_key: '{}:{alertname="PodCrashLooping"}', receiver: 'rectify' });
    assert.equal(await metric(svc, 'rectify_alerts_truncated_total'), 5);
    assert.deepEqual((await told()).map((n) => n.outcome), ['alerts left out', 'manual']);
    assert.equal((await svc.get('/api/v1/audit/verify')).body.ok, true);
    await svc.stop({ remove: true });
  });

  it('a storm of cut-short groups: ten groups a minute told one by one, each once; the rest summed up, recording no notification, and not told again after a restart', async () => {
    target.reset();
    let svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/hook`] });
    try {
      const told = async () => {
        await svc.service.drainNotifications();
        return target.requests('/hook', 'POST').map((q) => q.json() as any).filter((n) => n.event === 'ALERTS_TRUNCATED');
      };
      let n = 0;
      const cutShort = async (group: number) => {
        n++;
        const body = { ...amWebhook([{ labels: { alertname: 'Unrelated', service: `g${group}` }, fingerprint: `s${n}` }]), groupKey: `{}:{group="${group}"}`, receiver: 'rectify', truncatedAlerts: n };
        assert.equal((await svc.post('/api/v1/webhooks/alertmanager?wait=true', body)).status, 202);
      };
      // Twelve groups, and the first one again, within one minute.
      for (let g = 0; g < 12; g++) await cutShort(g);
      await cutShort(0);
      const rows = (await truncatedEvents(svc)).reverse();
      assert.equal(rows.length, 13);
      const recorded = rows.map((e: any) => typeof e.details.notification_id === 'string');
      assert.deepEqual(recorded, [...Array(10).fill(true), false, false, false]);
      assert.equal(await metric(svc, 'rectify_alerts_truncated_total'), (13 * 14) / 2);

      // The ten, one by one with their rows' ids; then the repeat filter's first manual notice, the other two counted.
      const first = await told();
      assert.deepEqual(
        first.map((t) => [t.outcome, t.notification_id ?? null]),
        [...rows.slice(0, 10).map((e: any) => ['alerts left out', e.details.notification_id]), ['manual', first[10]?.notification_id ?? null]],
      );
      assert.match(first[10].reason, /left 11 out/);
      assert.equal(first[10].repeated, undefined);

      // A minute on, a new window: a group is told one by one again; the summary comes when the repeat window ends.
      svc.clock.advance(61_000);
      await cutShort(5);
      svc.clock.advance(5 * 60_000);
      await svc.service.housekeep();
      const later = (await told()).slice(first.length);
      assert.deepEqual(
        later.map((t) => [t.outcome, t.repeated ?? null]),
        [
          ['alerts left out', null],
          ['manual', 2],
        ],
      );
      assert.match(later[0].reason, /left 14 out/);
      assert.match(later[1].reason, /^2 more ALERTS_TRUNCATED decision\(s\) for no runbook on no service since .*; the latest: .*left 13 out/);
      assert.equal(typeof (await truncatedEvents(svc))[0].details.notification_id, 'string');

      // Every one told is recorded as delivered or recorded nothing: a restart tells none of them again.
      const before = target.requests('/hook', 'POST').length;
      svc = await svc.restart();
      await svc.service.drainNotifications();
      assert.equal(target.requests('/hook', 'POST').length, before);
      assert.equal((await svc.get('/api/v1/audit/verify')).body.ok, true);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a whole delivery says nothing; a sender text too long is cut; a bad count is refused and changes nothing', async () => {
    target.reset();
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/hook`] });
    const whole = await svc.post('/api/v1/webhooks/alertmanager', { ...amWebhook([{ labels: { alertname: 'Unrelated', service: 'a' }, fingerprint: 'b1' }]), truncatedAlerts: 0 });
    assert.equal(whole.status, 202);
    assert.equal((await truncatedEvents(svc)).length, 0);
    assert.equal(await metric(svc, 'rectify_alerts_truncated_total'), 0);

    const long = await svc.post('/api/v1/webhooks/alertmanager', { ...amWebhook([{ labels: { alertname: 'Unrelated', service: 'a' }, fingerprint: 'b2' }]), groupKey: 'k'.repeat(5000), truncatedAlerts: 1 });
    assert.equal(long.status, 202);
    const [cut] = await truncatedEvents(svc);
    assert.equal(cut.details.group_key, `${'k'.repeat(512)}…`);

    const auditBefore = (await svc.get('/api/v1/audit?limit=100')).body.events.length;
    const bad = await svc.post('/api/v1/webhooks/alertmanager', { ...amWebhook([{ labels: { alertname: 'Unrelated', service: 'a' }, fingerprint: 'b3' }]), truncatedAlerts: -3 });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'VALIDATION_FAILED');
    assert.deepEqual(bad.body.error.details.map((d: any) => d.path), ['body.truncatedAlerts']);
    // Nothing of the body is recorded, only the refusal itself (Alertmanager drops a delivery answered 4xx).
    // (The deliveries of notifications told before are audited as they land: NOTIFIED rows.)
    const events = await until('the refusal row', async () => {
      const e = (await svc.get('/api/v1/audit?limit=100')).body.events;
      return e.some((x: any) => x.event === 'INTAKE_REFUSED') ? e : undefined;
    });
    assert.deepEqual(events.slice(0, events.length - auditBefore).map((e: any) => e.event).filter((e: string) => e !== 'NOTIFIED'), ['INTAKE_REFUSED']);
    assert.equal(await metric(svc, 'rectify_alerts_truncated_total'), 1);
    await svc.stop({ remove: true });
  });

  describe('from a real Alertmanager with max_alerts: 2', () => {
    let am: RunningDaemon;
    let svc: TestService;
    before(async () => {
      target.reset();
      const port = await freePort();
      am = await startAlertmanager({ webhookUrl: `http://127.0.0.1:${port}/api/v1/webhooks/alertmanager`, maxAlerts: 2, groupBy: ['alertname'] });
      svc = await startTestService({ realClock: true, runbooks: runbooks(target.url), args: ['--listen', `127.0.0.1:${port}`] });
      await svc.app.listen({ host: '127.0.0.1', port });
    });
    after(async () => {
      await svc?.stop({ remove: true });
      await am?.stop();
    });

    it('five alerts in one group: two decided, three reported as never seen', async () => {
      await postAlerts(
        am.url,
        ['a', 'b', 'c', 'd', 'e'].map((s) => ({ labels: { alertname: 'PodCrashLooping', service: `svc-${s}` } })),
      );
      const deadline = Date.now() + 20_000;
      let events: any[] = [];
      while (Date.now() < deadline) {
        events = await truncatedEvents(svc);
        if (events.length > 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(events.length, 1, 'Alertmanager delivered a notification cut short');
      assert.deepEqual({ t: events[0].details.truncated_alerts, d: events[0].details.delivered_alerts, r: events[0].details.receiver }, { t: 3, d: 2, r: 'webhook' });
      assert.match(events[0].details.group_key, /alertname="PodCrashLooping"/);
      // Only the delivered alerts were decided: two incidents, two runs of the action.
      const incidents = new Set((await svc.get('/api/v1/audit?runbook=fix&limit=100')).body.events.map((e: any) => e.incident_id));
      assert.equal(incidents.size, 2);
      while (Date.now() < deadline && target.requests('/act', 'POST').length < 2) await new Promise((r) => setTimeout(r, 50));
      assert.equal(target.requests('/act', 'POST').length, 2);
      assert.equal(await metric(svc, 'rectify_alerts_truncated_total'), 3);
    });
  });
});

describe('the bound on cut-short groups told one by one', () => {
  it('once per group and so many groups a window (ten in rectify); a new window, a clock set back, or a take given back frees a place', () => {
    const budget = createTruncationBudget({ windowMs: 60_000, groups: 3 });
    const t0 = Date.UTC(2026, 10, 24, 3, 0, 0);
    assert.ok(budget.take('a', t0));
    assert.equal(budget.take('a', t0 + 1), undefined, 'a group once a window');
    const b = budget.take('b', t0 + 2)!;
    assert.ok(budget.take('c', t0 + 3));
    assert.equal(budget.take('d', t0 + 4), undefined, 'three groups a window');
    // A commit that failed gives its place back.
    budget.giveBack(b);
    assert.ok(budget.take('d', t0 + 5));
    // A minute on: a new window.
    assert.ok(budget.take('a', t0 + 60_000));
    assert.ok(budget.take('b', t0 + 60_001));
    // A take from an ended window given back frees nothing in the new one.
    budget.giveBack(b);
    assert.equal(budget.take('b', t0 + 60_002), undefined);
    // A clock set back ends the window too.
    assert.ok(budget.take('a', t0 + 30_000));
    assert.equal(TRUNCATIONS_TOLD_PER_WINDOW, 10);
  });
});
