import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createNotifyQueue, createOutbox, createSlackNotifier, createWebhookNotifier, deliverySettled, hostOnlyName, receiverName, toldDetails, type NotificationEvent } from '../../src/notify/index.js';
import { NOT_SENT_AGAIN, planResends, RESEND_MAX, RESENT_NOTE, unsettledFor } from '../../src/engine/resend.js';
import { createTestLogger } from '../../src/observability/index.js';
import type { DeliveryRecord, ToldRow } from '../../src/store/ports.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { receiver } from './events.js';

/**
 * The audit log as the outbox, in parts: what an event's row records of its
 * notification, which records settle a delivery, and which notifications startup
 * tells again to whom (engine/resend.ts). The whole, through kill -9 and stops, is in
 * test/trust/told-again.test.ts.
 */

const A = receiverName('webhook', 'http://a.test/hook', receiver.receiverKey);
const B = receiverName('slack', 'https://b.test/services/T0/B0/secret', receiver.receiverKey);

const event = (over: Partial<NotificationEvent> = {}): NotificationEvent => ({
  event: 'FAILED',
  incident_id: 'inc1',
  runbook: 'fix',
  service: 'shop',
  execution_id: 'exe1',
  approval_id: null,
  outcome: 'failed',
  reason: 'action 1 failed',
  at: Date.UTC(2026, 10, 24, 3, 0, 0),
  ...over,
});

/** A told row as the store gives it, recorded with `announce` as the engine and runner do. */
function row(seq: number, deliveries: DeliveryRecord[], over: { to?: string[]; execution_id?: string | null; event?: NotificationEvent['event'] } = {}): ToldRow {
  const outbox = createOutbox({ receivers: over.to ?? [A, B], resend: () => undefined });
  const e = event({ execution_id: over.execution_id === undefined ? `exe${seq}` : over.execution_id, event: over.event ?? 'FAILED', at: 1_000 * seq });
  const told = outbox.announce(e);
  return {
    seq,
    at: e.at,
    event: e.event,
    incident_id: e.incident_id,
    runbook: e.runbook,
    execution_id: e.execution_id,
    details: { reason: 'as audited', ...told.details },
    deliveries: deliveries.map((d) => ({ ...d })),
  };
}
const delivered = (notifier: string): DeliveryRecord => ({ ok: true, notifier, detail: 'delivered', at: 0 });
const failed = (notifier: string, detail: string): DeliveryRecord => ({ ok: false, notifier, detail, at: 0 });
/** Newest first, as toldSince gives them. */
const newestFirst = (rows: ToldRow[]) => [...rows].sort((x, y) => y.seq - x.seq);

describe('the audit log as the outbox', () => {
  it("an event's row records its notification: the id the receivers get, what was told and to whom", () => {
    const outbox = createOutbox({ receivers: [A, B], resend: () => undefined });
    const a = outbox.announce(event());
    assert.match(a.event.notification_id, /^ntf_/);
    assert.deepEqual(a.details, {
      notification_id: a.event.notification_id,
      told: { to: [A, B], outcome: 'failed', reason: 'action 1 failed', service: 'shop', approval_id: null },
    });
    assert.deepEqual(toldDetails(JSON.parse(JSON.stringify({ reason: 'x', ...a.details }))), a.details);
    // An id given already is kept.
    assert.equal(outbox.announce(event({ notification_id: 'ntf_given' })).event.notification_id, 'ntf_given');
    // A row written before rows recorded their notification has none.
    assert.equal(toldDetails({ reason: 'x' }), undefined);
    assert.equal(toldDetails({ notification_id: 'ntf_1' }), undefined);
  });

  it('a delivery is settled when delivered or given up, not when a stop cut it off nor while it waits for a later round', () => {
    assert.equal(deliverySettled({ ok: true, detail: 'delivered' }), true);
    assert.equal(deliverySettled({ ok: false, detail: 'answered 410' }), true);
    assert.equal(deliverySettled({ ok: false, detail: 'delivery unknown (timed out)' }), true);
    assert.equal(deliverySettled({ ok: false, detail: 'dropped: queue full' }), true);
    assert.equal(deliverySettled({ ok: false, detail: 'not sent: rectify shut down first' }), false);
    assert.equal(deliverySettled({ ok: false, detail: 'cut off: rectify shut down during delivery' }), false);
    assert.equal(deliverySettled({ ok: false, detail: 'answered 503 (tried again later)' }), false);
  });

  it('told again to each receiver it was told to that has no settled record of it, as first told, with the same id', () => {
    const rows = newestFirst([
      row(1, [delivered(A), delivered(B)]),
      row(2, [delivered(B)]),
      row(3, [failed(A, 'not sent: rectify shut down first'), failed(B, 'answered 404')]),
      row(4, [failed(A, 'cut off: rectify shut down during delivery'), delivered(A), failed(B, 'not sent: rectify shut down first')]),
      row(5, []),
    ]);
    const plan = planResends(rows, [A, B], new Set());
    assert.deepEqual(
      plan.resend.map((r) => [r.event.execution_id, r.to]),
      [
        ['exe2', [A]],
        ['exe3', [A]],
        ['exe4', [B]],
        ['exe5', [A, B]],
      ],
    );
    const first = plan.resend[0]!.event;
    assert.deepEqual(first, { ...event({ execution_id: 'exe2', at: 2_000 }), reason: `action 1 failed${RESENT_NOTE}`, notification_id: rows[3]!.details.notification_id });
    assert.equal(plan.left.size, 0);
    assert.equal(plan.truncated, false);
  });

  it('not to a receiver added since (it was never told), nor to one no longer configured; not the runs recovery tells itself; not rows without a notification', () => {
    const added = row(1, [], { to: [A] });
    const recovered = row(2, [], { execution_id: 'exe-running' });
    const old: ToldRow = { ...row(3, []), details: { reason: 'written by an older rectify' } };
    const plan = planResends(newestFirst([added, recovered, old]), [A, B], new Set(['exe-running']));
    assert.deepEqual(plan.resend.map((r) => [r.event.execution_id, r.to]), [['exe1', [A]]]);
    assert.deepEqual(planResends([row(4, [])], ['webhook http://elsewhere.test'], new Set()).resend, []);
  });

  it('read back for one receiver: the rounds it spent on each and when the last was recorded, from which its next round is reckoned', () => {
    const rows = [
      row(1, [
        { ...failed(A, 'answered 503 (tried again later)'), at: 5_000 },
        { ...failed(A, 'not tried: the delivery before it to this receiver failed (answered 503) (tried again later)'), at: 9_000 },
        { ...failed(B, 'answered 503 (tried again later)'), at: 12_000 },
        { ...failed(A, 'held back: queue full (told from its audit row when there is room)'), at: 13_000 },
      ]),
      row(2, []),
      row(3, [delivered(A)]),
    ];
    assert.deepEqual(
      unsettledFor(rows, A).map((u) => [u.event.notification_id, u.rounds, u.lastRoundAt]),
      [
        [toldDetails(rows[0]!.details)!.notification_id, 2, 9_000],
        [toldDetails(rows[1]!.details)!.notification_id, 0, null],
      ],
    );
  });

  it(`at most ${RESEND_MAX}, the newest, oldest first; the rest counted per receiver`, () => {
    const rows = newestFirst(Array.from({ length: RESEND_MAX + 3 }, (_, i) => row(i + 1, i === 1 ? [delivered(B)] : [])));
    const plan = planResends(rows, [A, B], new Set());
    assert.equal(plan.resend.length, RESEND_MAX);
    assert.deepEqual(
      plan.resend.map((r) => r.event.execution_id),
      Array.from({ length: RESEND_MAX }, (_, i) => `exe${i + 4}`),
    );
    // exe1..exe3 left out: exe2 only for A (B had it).
    assert.deepEqual([...plan.left], [
      [A, 3],
      [B, 2],
    ]);
    assert.equal(plan.leftSince, 1_000);
    // Those left out are given up, oldest first, for the receivers that lack them: a record
    // of that settles them, so the next start does not tell them after all.
    assert.deepEqual(
      plan.givenUp.map((g) => [g.execution_id, g.notification_id, g.to]),
      [
        ['exe1', rows.at(-1)!.details.notification_id, [A, B]],
        ['exe2', rows.at(-2)!.details.notification_id, [A]],
        ['exe3', rows.at(-3)!.details.notification_id, [A, B]],
      ],
    );
    assert.equal(deliverySettled({ ok: false, detail: NOT_SENT_AGAIN }), true);
    const recorded = (r: ToldRow): ToldRow => {
      const g = plan.givenUp.find((x) => x.notification_id === r.details.notification_id);
      return g ? { ...r, deliveries: [...r.deliveries, ...g.to.map((n) => failed(n, NOT_SENT_AGAIN))] } : r;
    };
    const next = planResends(rows.map(recorded), [A, B], new Set());
    assert.equal(next.resend.length, RESEND_MAX);
    assert.deepEqual([next.givenUp, next.left.size], [[], 0]);
    assert.equal(planResends(rows, [A, B], new Set(), { examined: rows.length }).truncated, true);
  });
});

describe('a receiver is known by its whole URL, named by its host and a keyed hash of the URL', () => {
  const slackA = 'https://hooks.slack.com/services/T000/B111/aaaaaaaaaaaaaaaaaaaaaaaa';
  const slackB = 'https://hooks.slack.com/services/T000/B222/bbbbbbbbbbbbbbbbbbbbbbbb';

  it('two Slack webhooks (every one is on hooks.slack.com) are two receivers; nothing of the URL but the host is shown', () => {
    const a = createSlackNotifier(slackA, undefined, receiver).name;
    const b = createSlackNotifier(slackB, undefined, receiver).name;
    assert.match(a, /^slack hooks\.slack\.com #[0-9a-f]{8}$/);
    assert.match(b, /^slack hooks\.slack\.com #[0-9a-f]{8}$/);
    assert.notEqual(a, b);
    // The same URL, the same key: the same name at every start.
    assert.equal(createSlackNotifier(slackA, undefined, { receiverKey: 'a test key' }).name, a);
    // Keyed: another database's key gives another hash, so the hash alone cannot be checked against a guess.
    assert.notEqual(createSlackNotifier(slackA, undefined, { receiverKey: 'another key' }).name, a);
    const hook = createWebhookNotifier('https://hooks.example.com:8443/rectify?token=s3cret', undefined, receiver).name;
    assert.match(hook, /^webhook https:\/\/hooks\.example\.com:8443 #[0-9a-f]{8}$/);
    assert.notEqual(hook, createWebhookNotifier('https://hooks.example.com:8443/rectify?token=other', undefined, receiver).name);
    // The names rows written before the hash gave them.
    assert.equal(hostOnlyName(a), 'slack hooks.slack.com');
    assert.equal(hostOnlyName(hook), 'webhook https://hooks.example.com:8443');
    assert.equal(hostOnlyName('slack hooks.slack.com'), undefined);
  });

  it('a new URL on the same host is not told what the old one lacked, and a delivery to the old one does not count for it', () => {
    const old = createSlackNotifier(slackA, undefined, receiver).name;
    const now = createSlackNotifier(slackB, undefined, receiver).name;
    const rows = newestFirst([row(1, [], { to: [A, old] }), row(2, [delivered(old)], { to: [A, old] })]);
    assert.deepEqual(
      planResends(rows, [A, now], new Set()).resend.map((r) => [r.event.execution_id, r.to]),
      [
        ['exe1', [A]],
        ['exe2', [A]],
      ],
    );
  });

  it('rows written before names carried the hash count for the receiver of that kind and host, as they did then', () => {
    const now = [A, B];
    const [oldA, oldB] = [hostOnlyName(A)!, hostOnlyName(B)!];
    const rows = newestFirst([
      row(1, [], { to: [oldA, oldB] }),
      row(2, [delivered(oldB), failed(oldA, 'not sent: rectify shut down first')], { to: [oldA, oldB] }),
      // Told again after the upgrade: recorded under today's name.
      row(3, [failed(oldA, 'cut off: rectify shut down during delivery'), delivered(A)], { to: [oldA] }),
      row(4, [], { to: ['webhook http://elsewhere.test'] }),
    ]);
    assert.deepEqual(
      planResends(rows, now, new Set()).resend.map((r) => [r.event.execution_id, r.to]),
      [
        ['exe1', [A, B]],
        ['exe2', [A]],
      ],
    );
  });
});

describe('the queue tells a notification again to the named receivers only', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
  });
  after(async () => target.close());

  it('with its own id, as the Idempotency-Key too', async () => {
    target.route('POST', '/a', { status: 204 });
    target.route('POST', '/b', { status: 204 });
    // Two webhooks on one host: two receivers, each told only what it lacks.
    const a = createWebhookNotifier(`${target.url}/a`, undefined, receiver);
    const b = createWebhookNotifier(`${target.url}/b`, undefined, receiver);
    const recorded: Array<[string, string | undefined]> = [];
    const q = createNotifyQueue({ notifiers: [a, b], log: createTestLogger({ capture: false }).logger, record: async (o) => void recorded.push([o.notifier, o.event.notification_id]) });
    q.resend({ ...event(), notification_id: 'ntf_again' }, [b.name]);
    await q.drain();
    assert.equal(target.calls('/a'), 0);
    assert.deepEqual(
      target.requests('/b').map((r) => [(r.json() as NotificationEvent).notification_id, r.headers['idempotency-key']]),
      [['ntf_again', 'ntf_again']],
    );
    assert.deepEqual(recorded, [[b.name, 'ntf_again']]);
    await q.close();
  });
});
