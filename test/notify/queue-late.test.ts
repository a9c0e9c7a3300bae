import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createNotifyQueue, createSlackNotifier, createWebhookNotifier, delayedNote, SETTLED_MEANWHILE, TRIED_AGAIN_LATER, type NotificationEvent, type NotifyOutcome } from '../../src/notify/index.js';
import { createTestLogger } from '../../src/observability/index.js';
import { startHttpTarget, type HttpTarget, type RecordedRequest } from '../helpers/http-target.js';
import { notification, receiver } from './events.js';

/**
 * What comes late, and what no longer holds. A notification that waited for a later round
 * (its receiver failing) reaches the receiver after notifications of later events: it
 * says so, in the reason a person reads and in a field of the webhook's payload, and Slack
 * shows every message's time. A vote on a request whose settlement was told meanwhile is
 * not sent, as the request is not: it would say another approver is needed after the
 * request is settled.
 */
describe('a notification delivered late, and one that no longer holds', () => {
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

  it('a notification delivered in a later round says it is late (the reason, and `delayed` in the payload) after the receiver recovered; one delivered in its first round does not; Slack shows when each happened', async () => {
    target.reset();
    target.route('POST', '/hook', { status: 503 });
    target.route('POST', '/slack', { status: 503 });
    const { q, recorded } = queue();
    try {
      const happened = now() - 90_000;
      q.notify({ ...notification('I1', 'ROLLED_BACK', 'rolled back'), reason: 'rolled back after a failed check', at: happened });
      q.notify({ ...notification('I1', 'CIRCUIT_TRIPPED', 'circuit open'), reason: 'the circuit tripped', at: happened + 1_000 });
      // Both receivers fail the first round: each spends its attempts on the first, the second is passed over.
      await until(() => recorded.filter((o) => o.detail.endsWith(TRIED_AGAIN_LATER)).length === 4, 10_000);
      target.route('POST', '/hook', { status: 204 });
      target.route('POST', '/slack', { status: 200 });
      // Someone closes the circuit meanwhile: told at once.
      const closedAt = now();
      q.notify({ ...notification('I1', 'CIRCUIT_CLOSED', 'circuit closed'), reason: 'closed by alice', at: closedAt });
      await until(() => recorded.filter((o) => o.ok).length === 6, 10_000);
      await q.drain();

      const hooks = target.requests('/hook', 'POST').map(json).filter((n) => n.reason !== undefined);
      const delivered = hooks.slice(-3);
      assert.deepEqual(
        delivered.map((n) => [n.event, n.delayed]),
        [
          ['CIRCUIT_CLOSED', undefined],
          ['ROLLED_BACK', true],
          ['CIRCUIT_TRIPPED', true],
        ],
        'the late ones after the close, each saying it is late',
      );
      assert.equal(delivered[0]!.reason, 'closed by alice', 'told in its first round: as it is');
      for (const [n, reason, at] of [
        [delivered[1]!, 'rolled back after a failed check', happened],
        [delivered[2]!, 'the circuit tripped', happened + 1_000],
      ] as const) {
        assert.equal(n.at, new Date(at).toISOString());
        const m = new RegExp(`^${reason} \\(delayed: happened at ${new Date(at).toISOString().replaceAll('.', '\\.')}, (\\d+) min before this message\\)$`).exec(n.reason);
        assert.ok(m, n.reason);
        assert.ok(Number(m[1]) >= 1 && Number(m[1]) <= 3, n.reason);
      }
      // The first round's failed attempts were made before it was late: none says so.
      assert.ok(hooks.slice(0, -3).every((n) => n.delayed === undefined && !String(n.reason).includes('delayed')));

      const slack = target.requests('/slack', 'POST').map(json).slice(-3);
      assert.deepEqual(
        slack.map((m) => [m.blocks[0].text.text.split(' ')[2], m.blocks[2].text.text.includes('(delayed: happened at '), m.text.includes('(delayed: happened at ')]),
        [
          ['CIRCUIT_CLOSED', false, false],
          ['ROLLED_BACK', true, true],
          ['CIRCUIT_TRIPPED', true, true],
        ],
      );
      // Every message shows when its event happened: Slack shows it in the reader's time zone, the ISO time when it cannot.
      assert.deepEqual(
        slack.map((m) => m.blocks.find((b: any) => b.type === 'context')?.elements.map((e: any) => e.text)),
        [closedAt, happened, happened + 1_000].map((at) => [`Happened <!date^${Math.floor(at / 1_000)}^{date_short_pretty} at {time_secs}|${new Date(at).toISOString()}>`]),
      );
      // What is recorded is the notification as told (the audit row's), not the late note.
      assert.ok(recorded.every((o) => !o.event.reason.includes('delayed') && o.event.delayed === undefined));
    } finally {
      await q.close();
    }
  });

  it('the late note: seconds under a minute, minutes after', () => {
    const at = Date.UTC(2025, 0, 2, 3, 4, 5);
    assert.equal(delayedNote(at, at + 42_400), ' (delayed: happened at 2025-01-02T03:04:05.000Z, 42 s before this message)');
    assert.equal(delayedNote(at, at + 47 * 60_000 + 20_000), ' (delayed: happened at 2025-01-02T03:04:05.000Z, 47 min before this message)');
    // A clock set back: never a time to come.
    assert.equal(delayedNote(at, at - 5_000), ' (delayed: happened at 2025-01-02T03:04:05.000Z, 0 s before this message)');
  });

  it('a Slack that posts each approval request but answers after the timeout is posted it once per attempt: 3 in its first round, one a later round, until its rounds are spent or it is settled', async () => {
    target.reset();
    // Slack takes each message (the target records it) and answers after the attempt's timeout.
    target.route('POST', '/slow', { status: 200, delayMs: 400 });
    const recorded: NotifyOutcome[] = [];
    const q = createNotifyQueue({
      notifiers: [createSlackNotifier(`${target.url}/slow`, undefined, { ...receiver, buttons: true })],
      log: createTestLogger({ capture: false }).logger,
      record: async (o) => void recorded.push(o),
      attemptTimeoutMs: 100,
      backoffMs: 5,
      approvalRetryMs: 150,
      approvalRounds: 3,
    });
    const request = (id: string): NotificationEvent => ({ ...notification(id, 'APPROVAL_REQUIRED', 'approval_required'), approval_id: `apr_${id}`, at: now() });
    const posts = (id: string) => target.requests('/slow', 'POST').filter((r) => JSON.stringify(r.json()).includes(`apr_${id}:approve`));
    try {
      q.notify(request('S1'));
      await until(() => recorded.length === 4, 10_000);
      await q.drain();
      const timedOut = 'delivery unknown (timed out)';
      assert.deepEqual(
        recorded.map((o) => [o.attempts, o.detail]),
        [
          [3, `${timedOut}${TRIED_AGAIN_LATER}`],
          [1, `${timedOut}${TRIED_AGAIN_LATER}`],
          [1, `${timedOut}${TRIED_AGAIN_LATER}`],
          [1, timedOut],
        ],
      );
      assert.equal(posts('S1').length, 6, 'each attempt posted a copy, with its buttons');

      // The next request, Slack still slow: a probe, one copy; settled (a click on any copy), no copy after it.
      q.notify(request('S2'));
      await until(() => recorded.length === 5, 10_000);
      q.notify({ ...notification('S2', 'REJECTED', 'rejected'), approval_id: 'apr_S2', shown_in_slack: true, at: now() });
      await new Promise((r) => setTimeout(r, 1_000));
      await q.drain();
      assert.deepEqual(recorded.slice(4).map((o) => [o.attempts, o.detail]), [[1, `${timedOut}${TRIED_AGAIN_LATER}`]]);
      assert.equal(posts('S2').length, 1, 'its first round only');
    } finally {
      await q.close();
    }
  });

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
