import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createNotifyQueue, createWebhookNotifier, DROPPED, type NotificationEvent, type NotifyOutcome } from '../../src/notify/index.js';
import { createTestLogger } from '../../src/observability/index.js';
import { holdFirstCall, startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { notification, receiver } from './events.js';

const range = (prefix: string, from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${from + i}`);

/**
 * Past the queue's bound (1,000 waiting per receiver), with approval requests kept beyond
 * it: what a full queue drops, and the order the rest goes in, are exactly the rules the
 * README states, however many wait.
 */
describe('a notification queue past its bound', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
  });
  after(async () => target.close());

  it('drops the oldest blocked or manual decision first (the newcomer when none waits), then the oldest outcome, never an approval request; requests go first, in order; a settled one is taken out', async () => {
    const release = holdFirstCall(target, 'POST', '/hook');
    const recorded: NotifyOutcome[] = [];
    const q = createNotifyQueue({
      notifiers: [createWebhookNotifier(`${target.url}/hook`, undefined, receiver)],
      log: createTestLogger({ capture: false }).logger,
      record: async (o) => void recorded.push(o),
      attempts: 1,
      dropReportMs: 600_000,
    });
    const request = (id: string): NotificationEvent => ({ ...notification(id, 'APPROVAL_REQUIRED', 'approval_required'), approval_id: `apr_${id}` });
    const outcome = (id: string) => notification(id, 'FAILED', 'failed');
    const blocked = (id: string) => notification(id, 'RATE_LIMITED', 'blocked');
    q.notify(outcome('first')); // being delivered, held
    await target.waitForRequest('/hook');
    // 1,000 waiting: the queue is full.
    for (const id of range('a', 1, 600)) q.notify(request(id));
    for (const id of range('o', 1, 300)) q.notify(outcome(id));
    for (const id of range('b', 1, 100)) q.notify(blocked(id));
    assert.equal(q.dropped(), 0);
    // Requests push out the blocked decisions, then the oldest outcomes.
    for (const id of range('a', 601, 900)) q.notify(request(id));
    assert.equal(q.dropped(), 300);
    // A blocked decision with none waiting: the newcomer goes. An outcome: the oldest outcome goes.
    q.notify(blocked('b101'));
    q.notify(outcome('o301'));
    assert.equal(q.dropped(), 302);
    // Requests push out the outcomes left, then are kept past the bound: 1,200 wait.
    for (const id of range('a', 901, 1200)) q.notify(request(id));
    assert.equal(q.dropped(), 402);
    // Only requests wait: anything else coming is dropped, a settlement too; its request is taken out.
    q.notify(outcome('o302'));
    q.notify(blocked('b102'));
    q.notify({ ...notification('a5', 'APPROVED', 'approved'), approval_id: 'apr_a5' });
    assert.equal(q.dropped(), 405);
    release();
    await q.drain();
    const received = target.requests('/hook', 'POST').map((r) => (r.json() as { incident_id: string }).incident_id);
    assert.deepEqual(received, ['first', ...range('a', 1, 1200).filter((id) => id !== 'a5')]);
    const drops = recorded.filter((o) => o.detail === DROPPED);
    // The storm's decisions summed up in one row; each outcome (and the settlement) in a row of its own, in the order dropped.
    const summed = drops.filter((o) => o.dropped!.about.includes('RATE_LIMITED'));
    assert.equal(summed.length, 1);
    assert.deepEqual(summed[0]!.dropped, { count: 102, about: ['RATE_LIMITED'], incident_ids: range('b', 1, 20) });
    assert.deepEqual(
      drops.filter((o) => o !== summed[0]).map((o) => o.event.incident_id),
      [...range('o', 1, 200), 'o201', ...range('o', 202, 301), 'o302', 'a5'],
    );
    await q.close();
  });
});
