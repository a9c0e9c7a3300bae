import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createNotifyQueue, createRepeatFilter, createWebhookNotifier, type NotificationEvent } from '../../src/notify/index.js';
import { createRepeatsCheckpointer } from '../../src/engine/repeats-readback.js';
import { REPEAT_REASON_MAX, type RepeatState } from '../../src/notify/repeats.js';
import { createTestLogger } from '../../src/observability/index.js';
import type { Store, Tx } from '../../src/store/ports.js';
import { holdFirstCall, startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { notification, receiver } from './events.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';

const runbooks = (base: string) => `runbooks:
  fix:
    risk: LOW
    triggers: [broken]
    max_per_hour: 1
    cooldown_minutes: 0
    blast_radius_limit: 5
    action:
      http: {method: POST, url: "${base}/act/{service}"}
`;

const storm = () =>
  amWebhook([
    ...Array.from({ length: 20 }, (_, i) => ({ labels: { alertname: 'broken', service: 'shop', pod: `shop-${i}` }, fingerprint: `shop${i}` })),
    ...Array.from({ length: 5 }, (_, i) => ({ labels: { alertname: 'broken', service: 'cart', pod: `cart-${i}` }, fingerprint: `cart${i}` })),
    ...Array.from({ length: 3 }, (_, i) => ({ labels: { alertname: 'mystery', service: 'shop', pod: `m-${i}` }, fingerprint: `mystery${i}` })),
  ]);

/** A rate-limited decision of runbook "fix" on service "shop", with `over` in place of what it names. */
const event = (over: Partial<NotificationEvent>): NotificationEvent => ({
  event: 'RATE_LIMITED',
  incident_id: 'inc_1',
  runbook: 'fix',
  service: 'shop',
  execution_id: null,
  approval_id: null,
  outcome: 'blocked',
  reason: 'Rate limit exceeded (1/hour)',
  at: 0,
  ...over,
});

type Told = { event: string; service: string; outcome: string; repeated?: number; incident_id: string; reason: string };

describe('notifications in an alert storm: told once per runbook and service, then summed up', () => {
  let target: HttpTarget;
  let svc: TestService | undefined;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/act/shop', { status: 200 });
    target.route('POST', '/act/cart', { status: 200 });
    target.route('POST', '/hook', { status: 204 });
  });
  after(async () => {
    await svc?.stop({ remove: true });
    await target.close();
  });
  const told = (): Told[] => target.requests('/hook', 'POST').map((r) => r.json() as Told);

  it('28 alerts: two executions, and the first of each repeated decision, are told at once; the repeats after the window, as one summary each', async () => {
    svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/hook`] });
    const res = await svc.post('/api/v1/webhooks/alertmanager?wait=true', storm());
    assert.equal(res.status, 202);
    const actions = (res.body.results as Array<{ action: string }>).map((r) => r.action);
    assert.equal(actions.filter((a) => a === 'executed').length, 2);
    assert.equal(actions.filter((a) => a === 'blocked').length, 23);
    assert.equal(actions.filter((a) => a === 'manual').length, 3);
    await svc.service.drainNotifications();
    const first = told()
      .map((t) => `${t.event} ${t.service} ${t.repeated ?? '-'}`)
      .sort();
    assert.deepEqual(first, ['NO_RUNBOOK shop -', 'RATE_LIMITED cart -', 'RATE_LIMITED shop -', 'SUCCESS cart -', 'SUCCESS shop -']);

    // The window has not ended: a housekeeping pass tells nothing more.
    svc.clock.advance(4 * 60_000);
    await svc.service.housekeep();
    await svc.service.drainNotifications();
    assert.equal(told().length, 5);

    svc.clock.advance(60_000);
    await svc.service.housekeep();
    await svc.service.drainNotifications();
    const summaries = told().slice(5);
    assert.deepEqual(summaries.map((t) => `${t.event} ${t.service} ${t.repeated}`).sort(), ['NO_RUNBOOK shop 2', 'RATE_LIMITED cart 3', 'RATE_LIMITED shop 18']);
    const shop = summaries.find((t) => t.event === 'RATE_LIMITED' && t.service === 'shop')!;
    const last = (res.body.results as Array<{ incident_id: string; action: string }>).filter((r) => r.action === 'blocked')[18]!;
    assert.equal(shop.incident_id, last.incident_id, 'a summary names the latest incident it stands for');
    assert.match(shop.reason, /^18 more RATE_LIMITED decision\(s\) for fix on shop since 2026-11-24T03:00:00\.000Z; the latest: /);
    // Every message sent is audited; the decisions themselves each have their own audit row.
    assert.equal((await svc.get('/api/v1/audit?event=NOTIFIED&limit=100')).body.events.length, 8);
    assert.equal((await svc.get('/api/v1/audit?event=RATE_LIMITED&limit=100')).body.events.length, 23);

    // After the window a repeat starts a new one: told at once.
    const again = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([{ labels: { alertname: 'broken', service: 'shop' }, fingerprint: 'shop-late' }]));
    assert.equal(again.body.results[0].action, 'blocked');
    await svc.service.drainNotifications();
    assert.deepEqual(told().slice(8).map((t) => `${t.event} ${t.service} ${t.repeated ?? '-'}`), ['RATE_LIMITED shop -']);
    await svc.stop({ remove: true });
    svc = undefined;
  });

  it('a storm over many services: per event and runbook, the first services are told one by one, the rest summed up in one message', async () => {
    target.reset();
    target.route('POST', '/hook', { status: 204 });
    for (const s of ['a', 'b', 'c', 'd', 'e']) target.route('POST', `/act/${s}`, { status: 200 });
    svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/hook`, '--notify-repeat-services', '2', '--max-concurrent-executions', '10'] });
    // Five services, three alerts each: one execution each, then two rate-limited decisions each.
    const body = amWebhook(
      ['a', 'b', 'c', 'd', 'e'].flatMap((s) => [0, 1, 2].map((i) => ({ labels: { alertname: 'broken', service: s }, fingerprint: `${s}${i}` }))),
    );
    const res = await svc.post('/api/v1/webhooks/alertmanager?wait=true', body);
    assert.deepEqual(
      (res.body.results as Array<{ action: string }>).map((r) => r.action),
      ['executed', 'blocked', 'blocked', 'executed', 'blocked', 'blocked', 'executed', 'blocked', 'blocked', 'executed', 'blocked', 'blocked', 'executed', 'blocked', 'blocked'],
    );
    await svc.service.drainNotifications();
    const line = (t: Told & { repeated_services?: number }) => `${t.event} ${t.service ?? '*'} ${t.repeated ?? '-'} ${t.repeated_services ?? '-'}`;
    // Outcomes are always told; of the rate-limited decisions, those of a and b (the first two services).
    assert.deepEqual(told().map(line).sort(), ['RATE_LIMITED a - -', 'RATE_LIMITED b - -', 'SUCCESS a - -', 'SUCCESS b - -', 'SUCCESS c - -', 'SUCCESS d - -', 'SUCCESS e - -']);
    svc.clock.advance(5 * 60_000);
    await svc.service.housekeep();
    await svc.service.drainNotifications();
    const summaries = told().slice(7) as Array<Told & { repeated_services?: number }>;
    assert.deepEqual(summaries.map(line).sort(), ['RATE_LIMITED * 6 3', 'RATE_LIMITED a 1 -', 'RATE_LIMITED b 1 -']);
    const all = summaries.find((t) => t.repeated_services === 3)!;
    assert.match(all.reason, /^6 RATE_LIMITED decision\(s\) for fix on 3 more service\(s\) than the 2 told since 2026-11-24T03:00:00\.000Z; the latest, on e: /);
    await svc.stop({ remove: true });
    svc = undefined;
  });

  it('--notify-repeat-window 0s tells every decision', async () => {
    target.reset();
    target.route('POST', '/act/shop', { status: 200 });
    target.route('POST', '/act/cart', { status: 200 });
    target.route('POST', '/hook', { status: 204 });
    svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/hook`, '--notify-repeat-window', '0s'] });
    await svc.post('/api/v1/webhooks/alertmanager?wait=true', storm());
    await svc.service.drainNotifications();
    const byEvent = new Map<string, number>();
    for (const t of told()) byEvent.set(t.event, (byEvent.get(t.event) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(byEvent), { SUCCESS: 2, RATE_LIMITED: 23, NO_RUNBOOK: 3 });
    await svc.stop({ remove: true });
    svc = undefined;
  });
});

describe('the repeat filter', () => {
  it('never holds back approval requests, execution outcomes or breaker trips', () => {
    const sent: NotificationEvent[] = [];
    const f = createRepeatFilter((e) => sent.push(e), { windowMs: 60_000, now: () => 0 });
    for (let i = 0; i < 3; i++) {
      f.notify(event({ event: 'APPROVAL_REQUIRED', outcome: 'approval_required', incident_id: `a${i}` }));
      f.notify(event({ event: 'FAILED', outcome: 'failed', incident_id: `f${i}` }));
      f.notify(event({ event: 'CIRCUIT_TRIPPED', outcome: 'circuit open', incident_id: `c${i}` }));
    }
    assert.equal(sent.length, 9);
    assert.equal(f.pending(), 0);
  });

  // Regression: a window ended only once the clock read its start plus the window, so a
  // clock stepped back (an NTP correction of an hour, a VM restored) held every repeat
  // of a blocked decision, untold, for the whole step: 5 minutes became 65.
  it('a clock stepped back ends the windows it started: their counts are told, the next decision is told at once', () => {
    const sent: NotificationEvent[] = [];
    let now = 10 * 3_600_000;
    const f = createRepeatFilter((e) => sent.push(e), { windowMs: 5 * 60_000, now: () => now, servicesPerWindow: 1 });
    f.notify(event({ service: 'a' }));
    f.notify(event({ service: 'a', incident_id: 'inc_2' }));
    f.notify(event({ service: 'b', incident_id: 'inc_3' }));
    assert.deepEqual(sent.map((e) => [e.service, e.repeated]), [['a', undefined]]);
    now -= 3_600_000;
    f.flush();
    assert.deepEqual(sent.slice(1).map((e) => [e.service, e.repeated, e.incident_id]), [['a', 1, 'inc_2'], [null, 1, 'inc_3']]);
    assert.equal(f.pending(), 0);
    f.notify(event({ service: 'a', incident_id: 'inc_4' }));
    assert.deepEqual(sent.slice(3).map((e) => [e.service, e.repeated, e.incident_id]), [['a', undefined, 'inc_4']]);
  });

  it('counts per event, runbook and service; at shutdown every count is told; past its key limit it tells each', () => {
    const sent: NotificationEvent[] = [];
    const f = createRepeatFilter((e) => sent.push(e), { windowMs: 60_000, now: () => 1_000, maxKeys: 2, servicesPerWindow: 100 });
    f.notify(event({ service: 'a' }));
    f.notify(event({ service: 'a', incident_id: 'inc_2' }));
    f.notify(event({ service: 'b' }));
    f.notify(event({ service: 'c' }));
    f.notify(event({ service: 'c' }));
    assert.deepEqual(sent.map((e) => e.service), ['a', 'b', 'c', 'c'], 'a third key is past the limit: told each time');
    f.flush();
    assert.equal(sent.length, 4, 'the windows have not ended');
    f.flush(true);
    assert.deepEqual(sent.slice(4).map((e) => [e.service, e.repeated, e.incident_id]), [['a', 1, 'inc_2']]);
    assert.equal(f.pending(), 0);
  });

  it('restored from a snapshot and the decisions after it (as a start reads them back), it holds what the filter held, telling none of them', () => {
    // What the filter did live: a storm on three services (one told per runbook window), windows
    // ending on the way (their summaries told then); the snapshot taken half way through.
    const decisions = [
      event({ service: 'a', incident_id: 'i1', at: 1_000 }),
      event({ service: 'a', incident_id: 'i2', at: 2_000 }),
      event({ service: 'b', incident_id: 'i3', at: 3_000 }),
      event({ service: 'a', incident_id: 'i4', at: 4_000 }),
      event({ service: 'b', incident_id: 'i5', at: 70_000 }),
      event({ service: 'a', incident_id: 'i6', at: 75_000 }),
      event({ service: 'a', incident_id: 'i7', at: 76_000 }),
      event({ service: 'c', incident_id: 'i8', at: 77_000 }),
    ];
    let now = 0;
    const live: NotificationEvent[] = [];
    const f = createRepeatFilter((e) => live.push(e), { windowMs: 60_000, now: () => now, servicesPerWindow: 1 });
    let snapshot: ReturnType<typeof f.snapshot> | undefined;
    for (const [i, e] of decisions.entries()) {
      now = e.at;
      f.notify(e);
      if (i === 3) snapshot = JSON.parse(JSON.stringify(f.snapshot()));
    }
    const toldLive = live.length;
    assert.deepEqual(live.map((e) => [e.incident_id, e.repeated]), [['i1', undefined], ['i3', 1], ['i5', undefined], ['i4', 2]]);

    const sent: NotificationEvent[] = [];
    const g = createRepeatFilter((e) => sent.push(e), { windowMs: 60_000, now: () => now, servicesPerWindow: 1 });
    g.restore(snapshot!.state, decisions.slice(4));
    assert.equal(sent.length, 0, 'nothing told again: told, or counted, before');
    assert.deepEqual(g.snapshot().state, f.snapshot().state);
    f.flush(true);
    g.flush(true, ' (after a restart)');
    assert.deepEqual(sent.map((e) => [e.service, e.repeated, e.repeated_services, e.incident_id]), live.slice(toldLive).map((e) => [e.service, e.repeated, e.repeated_services, e.incident_id]));
    assert.deepEqual(sent.map((e) => [e.service, e.repeated, e.repeated_services, e.incident_id]), [[null, 3, 2, 'i8']]);
    assert.ok(sent.every((e) => e.reason.endsWith(' (after a restart)')));
  });
});

describe('a full notification queue', () => {
  it('drops the oldest blocked or manual decision first (or the newcomer if it is one), then the oldest outcome; never an approval request', async () => {
    const target = await startHttpTarget();
    const release = holdFirstCall(target, 'POST', '/hook');
    const recorded: string[] = [];
    const q = createNotifyQueue({
      notifiers: [createWebhookNotifier(`${target.url}/hook`, undefined, receiver)],
      log: createTestLogger({ capture: false }).logger,
      record: async (o) => void recorded.push(`${o.ok ? 'ok' : 'failed'} ${o.event.incident_id}`),
      attempts: 1,
      maxQueued: 3,
    });
    const ev = notification;
    q.notify(ev('a1', 'APPROVAL_REQUIRED', 'approval_required')); // being delivered, held
    await target.waitForRequest('/hook');
    q.notify(ev('b1', 'RATE_LIMITED', 'blocked'));
    q.notify(ev('b2', 'NO_RUNBOOK', 'manual'));
    q.notify(ev('o1', 'FAILED', 'failed'));
    q.notify(ev('a2', 'APPROVAL_REQUIRED', 'approval_required')); // full: b1 goes
    q.notify(ev('b3', 'RATE_LIMITED', 'blocked')); // full: b2 goes
    q.notify(ev('t1', 'CIRCUIT_TRIPPED', 'circuit open')); // full: b3 goes
    q.notify(ev('b4', 'RATE_LIMITED', 'blocked')); // full of what matters: b4 itself is dropped
    assert.equal(q.dropped(), 4);
    q.notify(ev('a3', 'APPROVAL_REQUIRED', 'approval_required')); // full, nothing repeatable: the oldest outcome (o1) goes
    q.notify(ev('a4', 'APPROVAL_REQUIRED', 'approval_required')); // then t1
    q.notify(ev('o2', 'FAILED', 'failed')); // full of approval requests: the outcome is dropped
    q.notify(ev('a5', 'APPROVAL_REQUIRED', 'approval_required')); // an approval request is never dropped: kept past the bound
    assert.equal(q.dropped(), 7);
    release();
    await q.drain();
    assert.deepEqual(
      target.requests('/hook', 'POST').map((r) => (r.json() as { incident_id: string }).incident_id),
      ['a1', 'a2', 'a3', 'a4', 'a5'],
    );
    // The seven drops, one burst: each outcome on a row of its own (told again after a
    // restart otherwise), the four decisions on one, with no incident of its own.
    // (Delivered rows are committed in batches, so the two kinds of rows may interleave.)
    assert.deepEqual(
      recorded.filter((r) => r.startsWith('ok')),
      ['ok a1', 'ok a2', 'ok a3', 'ok a4', 'ok a5'],
    );
    assert.deepEqual(
      recorded.filter((r) => r.startsWith('failed')),
      ['failed o1', 'failed t1', 'failed o2', 'failed null'],
    );
    await q.close();
    await target.close();
  });
});

describe("the repeat filter's checkpoint", () => {
  const N = 200;
  const long = 'x'.repeat(20_000);
  /** A store answering the audit head and keeping the checkpoints written. */
  const fakeStore = (head: () => number) => {
    const written: string[] = [];
    const store = {
      read: <T>(work: (tx: Tx) => T): T => work({ auditHead: head } as unknown as Tx),
      transact: async <T>(work: (tx: Tx) => T): Promise<T> => work({ setRepeatsCheckpoint: (json: string) => void written.push(json) } as unknown as Tx),
    } as unknown as Pick<Store, 'read' | 'transact'>;
    return { store, written };
  };
  /** N windows (one runbook each), each with a repeat counted whose reason is 20,000 characters. */
  const stormed = (sent: NotificationEvent[]) => {
    const f = createRepeatFilter((e) => void sent.push(e), { windowMs: 60_000, now: () => 1_000 });
    for (let i = 0; i < N; i++) for (const id of ['a', 'b']) f.notify(event({ runbook: `rb${i}`, service: 'shop', incident_id: `i${i}${id}`, reason: long, at: 1_000 }));
    return f;
  };

  it('is written only when the filter changed, without copying its state otherwise; a storm of long reasons stays small; a restore from it tells the same counts', async () => {
    const live: NotificationEvent[] = [];
    const f = stormed(live);
    let snapshots = 0;
    const snapshot = f.snapshot;
    f.snapshot = () => (snapshots++, snapshot());
    const { store, written } = fakeStore(() => 42);
    const checkpoint = createRepeatsCheckpointer(store, f, () => 5_000);

    await checkpoint();
    await checkpoint();
    await checkpoint();
    assert.deepEqual([written.length, snapshots], [1, 1], 'nothing changed after the first: no write, no copy');
    // Each window keeps at most REPEAT_REASON_MAX characters of its latest reason: the row
    // stays within N times that and a few hundred characters, not N times the reason.
    const bound = N * (REPEAT_REASON_MAX + 400);
    assert.ok(written[0]!.length <= bound, `${written[0]!.length} > ${bound}`);
    const stored = JSON.parse(written[0]!) as { through: number; state: RepeatState };
    assert.equal(stored.through, 42);
    assert.deepEqual(Object.keys(stored.state.windows[0]![1].latest!).sort(), ['approval_id', 'at', 'event', 'execution_id', 'incident_id', 'outcome', 'reason', 'runbook', 'service']);

    f.notify(event({ runbook: 'rb0', service: 'shop', incident_id: 'i0c', reason: 'r', at: 1_000 }));
    await checkpoint();
    assert.deepEqual([written.length, snapshots], [2, 2], 'a decision counted: written again');

    const sent: NotificationEvent[] = [];
    const g = createRepeatFilter((e) => void sent.push(e), { windowMs: 60_000, now: () => 1_000 });
    g.restore((JSON.parse(written[1]!) as { state: RepeatState }).state, []);
    f.flush(true);
    g.flush(true);
    const told = live.slice(N);
    assert.deepEqual(
      sent.map((e) => [e.runbook, e.service, e.repeated, e.incident_id]),
      told.map((e) => [e.runbook, e.service, e.repeated, e.incident_id]),
    );
    assert.equal(sent.length, N);
    assert.deepEqual(sent[0]!.repeated, 2);
    const cut = `${long.slice(0, REPEAT_REASON_MAX - 1)}\u2026`;
    assert.ok(sent.every((e) => e.reason.endsWith(`the latest: ${e.runbook === 'rb0' ? 'r' : cut}`)));
  });

  it('with holdSummaries, tells a summary once the checkpoint recording its window closed is written, never before; a write that fails tells it all the same', async () => {
    const sent: NotificationEvent[] = [];
    let now = 1_000;
    const f = createRepeatFilter((e) => void sent.push(e), { windowMs: 60_000, now: () => now, holdSummaries: true });
    const told = () => sent.map((e) => [e.incident_id, e.repeated]);
    for (const id of ['a', 'b', 'c']) f.notify(event({ incident_id: id, at: now }));
    // Each write waits until the test ends it, as a commit waiting for the disk or a lock.
    const written: string[] = [];
    let end: (ok: boolean) => void = () => assert.fail('no write begun');
    const store = {
      read: <T>(work: (tx: Tx) => T): T => work({ auditHead: () => 7 } as unknown as Tx),
      transact: <T>(work: (tx: Tx) => T): Promise<T> =>
        new Promise<T>((resolve, reject) => {
          end = (ok) => (ok ? resolve(work({ setRepeatsCheckpoint: (json: string) => void written.push(json) } as unknown as Tx)) : reject(new Error('disk full')));
        }),
    } as unknown as Pick<Store, 'read' | 'transact'>;
    const checkpoint = createRepeatsCheckpointer(store, f, () => now);

    // The window ends at a housekeeping pass: its summary waits for the write.
    now = 61_000;
    f.flush();
    const writing = checkpoint();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(told(), [['a', undefined]], 'not told while its checkpoint is being written');
    end(true);
    await writing;
    assert.deepEqual(told(), [['a', undefined], ['c', 2]]);
    assert.deepEqual(JSON.parse(written[0]!), { through: 7, state: { windows: [], runbooks: [] } });

    // A window closed at intake (a decision after its end) waits for the next checkpoint too;
    // that write fails: told all the same.
    for (const id of ['d', 'e']) f.notify(event({ incident_id: id, at: now }));
    now = 122_000;
    f.notify(event({ incident_id: 'f', at: now }));
    assert.deepEqual(told().slice(2), [['d', undefined], ['f', undefined]]);
    const failing = checkpoint();
    end(false);
    await assert.rejects(failing, /disk full/);
    assert.deepEqual(told().slice(2), [['d', undefined], ['f', undefined], ['e', 1]]);
    assert.equal(written.length, 1);
  });
});
