import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createNotifyQueue, createSlackNotifier, createWebhookNotifier, SETTLED_MEANWHILE, TRIED_AGAIN_LATER, type NotificationEvent, type NotifyOutcome } from '../../src/notify/index.js';
import { createTestLogger } from '../../src/observability/index.js';
import { startHttpTarget, type HttpTarget, type RecordedRequest } from '../helpers/http-target.js';
import { notification, receiver } from './events.js';

/**
 * What no longer holds when a receiver failed and its later round comes: a vote on a
 * request whose settlement was told meanwhile is not sent, as the request is not: it would
 * say another approver is needed after the request is settled.
 */
describe('a notification that no longer holds when its later round comes', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
  });
  after(async () => target.close());

  /** Waits until `done` holds, at most `ms`. */
  const until = async (done: () => boolean, ms: number) => {
    for (const end = Date.now() + ms; !done(); await new Promise((r) => setTimeout(r, 10))) if (Date.now() > end) throw new Error('timed out');
  };
  const json = (r: RecordedRequest) => r.json() as Record<string, any>;
  const now = () => Date.now();
  /** A webhook at /hook and Slack at /slack on the target, what the queue records kept in order. */
  const queue = (opts: Partial<Parameters<typeof createNotifyQueue>[0]> = {}) => {
    const recorded: NotifyOutcome[] = [];
    const q = createNotifyQueue({
      notifiers: [createWebhookNotifier(`${target.url}/hook`, undefined, receiver), createSlackNotifier(`${target.url}/slack`, undefined, { ...receiver, buttons: true })],
      log: createTestLogger({ capture: false }).logger,
      record: async (o) => void recorded.push(o),
      attempts: 3,
      backoffMs: 5,
      approvalRetryMs: 400,
      ...opts,
    });
    return { q, recorded };
  };

  it('a vote waiting for its later round is not sent once its approval’s settlement is told: its round is cancelled; one queued behind is dropped; a delivery under way makes no further attempt', async () => {
    target.reset();
    target.route('POST', '/hook', { status: 503 });
    target.route('POST', '/slack', { status: 503 });
    const { q, recorded } = queue();
    const vote = (id: string): NotificationEvent => ({ ...notification(id, 'APPROVAL_VOTE', 'pending'), approval_id: `apr_${id}`, reason: 'approved by alice: one more approver is needed', at: now() });
    const approved = (id: string): NotificationEvent => ({ ...notification(id, 'APPROVED', 'approved'), approval_id: `apr_${id}`, reason: 'approved by alice and bob', at: now() });
    try {
      // V1 spends its first round's attempts, V2 is passed over behind it: both wait for a later round.
      q.notify(vote('V1'));
      q.notify(vote('V2'));
      await until(() => recorded.filter((o) => o.detail.endsWith(TRIED_AGAIN_LATER)).length === 4, 10_000);
      target.route('POST', '/hook', { status: 204 });
      target.route('POST', '/slack', { status: 200 });
      q.notify(approved('V1'));
      q.notify(approved('V2'));
      await until(() => recorded.filter((o) => o.ok).length === 4, 10_000);
      // Past the time their later round would have come.
      await new Promise((r) => setTimeout(r, 900));
      await q.drain();
      const told = [...target.requests('/hook', 'POST').map(json), ...target.requests('/slack', 'POST').map(json)].filter((n) => (n.event ?? '') === 'APPROVAL_VOTE' || String(n.text ?? '').includes('APPROVAL_VOTE'));
      assert.equal(told.length, 2 * 3 + 0, 'the votes’ first round only (3 attempts of V1 to each receiver): no later round after the approval');
      assert.deepEqual(recorded.filter((o) => o.event.event === 'APPROVAL_VOTE' && o.ok), [], 'no vote delivered after its approval');

      // A vote queued behind something and settled before its turn: dropped, not sent.
      target.reset();
      target.route('POST', '/hook', { status: 204, delayMs: 300 });
      target.route('POST', '/slack', { status: 200, delayMs: 300 });
      q.notify(notification('busy', 'FAILED', 'failed'));
      q.notify(vote('V3'));
      q.notify(approved('V3'));
      await q.drain();
      assert.deepEqual(
        target.requests('/hook', 'POST').map(json).map((n) => n.event),
        ['FAILED', 'APPROVED'],
      );
      assert.equal(target.requests('/slack', 'POST').length, 2);

      // A vote whose attempt fails as its settlement is told: no further attempt, no later round.
      target.reset();
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      target.route('POST', '/hook', async (req) => {
        if (json(req).event !== 'APPROVAL_VOTE') return { status: 204 };
        await released;
        return { status: 503 };
      });
      target.route('POST', '/slack', { status: 200 });
      const before = recorded.length;
      q.notify(vote('V4'));
      await target.waitForRequest('/hook', { where: (r) => json(r).event === 'APPROVAL_VOTE' });
      q.notify(approved('V4'));
      release();
      await until(() => recorded.slice(before).some((o) => o.ok && o.event.event === 'APPROVED' && o.notifier.startsWith('webhook')), 10_000);
      await new Promise((r) => setTimeout(r, 900));
      await q.drain();
      assert.equal(target.requests('/hook', 'POST').filter((r) => json(r).event === 'APPROVAL_VOTE').length, 1);
      assert.deepEqual(
        recorded
          .slice(before)
          .filter((o) => o.notifier.startsWith('webhook') && o.event.event === 'APPROVAL_VOTE')
          .map((o) => [o.ok, o.attempts, o.detail]),
        [[false, 1, `answered 503${SETTLED_MEANWHILE}`]],
      );
    } finally {
      await q.close();
    }
  });
});
