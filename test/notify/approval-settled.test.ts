import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { slackSignature } from '../../src/api/slack-signature.js';
import { SETTLED_MEANWHILE, SHOWN_BY_CLICK_ANSWER } from '../../src/notify/index.js';
import { startHttpTarget, type HttpTarget, type RecordedRequest } from '../helpers/http-target.js';
import { amWebhook, startTestService, type TestService, type TestServiceOptions } from '../helpers/service.js';
import { until } from '../helpers/until.js';

/**
 * Every way a pending approval request leaves the pending state is told to the
 * receivers, one by one, like an expiry: approved (who, and that the run starts),
 * rejected (who, the comment), cancelled (its runbook changed, or its alerts
 * resolved). Each is recorded in its own audit row (the outbox), so the channel that
 * showed the request with live buttons, and the webhook receiver, learn it is settled.
 */

const SECRET = 'x'.repeat(32);
const RESPOND = '/actions/T000/1/xyz';
const RESENT_NOTE = ' (sent again after a restart: rectify stopped before its delivery to this receiver was recorded)';

const runbooks = (base: string, risky = '') => `runbooks:
  risky:
    risk: HIGH
    owner: security-team
    triggers: [scary, Scary]
    max_per_hour: 100
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/act/{service}"${risky}}
  twice:
    risk: HIGH
    approvals_required: 2
    triggers: [grave]
    max_per_hour: 100
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/act/{service}"}
`;

const json = (r: RecordedRequest) => r.json() as Record<string, any>;
const SETTLED = new Set(['APPROVED', 'REJECTED', 'CANCELLED', 'EXPIRED']);

/** Every receiver and a signed Slack click, on one test service. */
async function start(target: HttpTarget, extra: string[] = [], notifyQueue?: NonNullable<TestServiceOptions['overrides']>['notifyQueue']): Promise<TestService> {
  return startTestService({
    runbooks: runbooks(target.url),
    args: [
      '--notify-webhook',
      `${target.url}/hook`,
      '--slack-webhook-url',
      `${target.url}/slack`,
      '--slack-signing-secret',
      SECRET,
      '--public-url',
      'https://rectify.example.com',
      ...extra,
    ],
    overrides: { slackResponseOrigins: [target.url], ...(notifyQueue ? { notifyQueue } : {}) },
  });
}

/** The audit row of `event` for one approval request, newest first. */
async function rowsFor(svc: TestService, event: string, approvalId: string): Promise<any[]> {
  return (await svc.get(`/api/v1/audit?event=${event}&limit=1000`)).body.events.filter((e: any) => e.details.approval_id === approvalId);
}

/** The NOTIFIED rows of one notification (by its notification_id): one per receiver it was delivered to. */
async function notifiedRows(svc: TestService, notificationId: string): Promise<any[]> {
  return (await svc.get('/api/v1/audit?event=NOTIFIED&limit=1000')).body.events.filter((e: any) => e.details.notification_id === notificationId);
}

/** Each receiver one notification was delivered to, and how (its NOTIFIED rows' notifier and detail), sorted. */
async function deliveries(svc: TestService, notificationId: string): Promise<Array<[string, string]>> {
  return (await notifiedRows(svc, notificationId)).map((e: any): [string, string] => [e.details.notifier, e.details.detail]).sort();
}

/** The notification the webhook got for one approval request and event: exactly one. */
function one(target: HttpTarget, event: string, approvalId: string): Record<string, any> {
  const got = target.requests('/hook', 'POST').map(json).filter((n) => n.event === event && n.approval_id === approvalId);
  assert.equal(got.length, 1, `${event} for ${approvalId}: told once`);
  return got[0]!;
}

/** Its audit row records exactly the notification the receivers got, to every receiver. */
async function recordedAs(svc: TestService, event: string, n: Record<string, any>, headers?: RecordedRequest['headers'], to: readonly string[] = svc.service.receivers): Promise<void> {
  const rows = await rowsFor(svc, event, n.approval_id);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].details.notification_id, n.notification_id);
  assert.deepEqual(rows[0].details.told, { to: [...to], outcome: n.outcome, reason: n.reason, service: n.service, approval_id: n.approval_id });
  if (headers) assert.equal(headers['idempotency-key'], n.notification_id);
  const notified = await notifiedRows(svc, n.notification_id);
  assert.deepEqual(notified.map((e: any) => e.details.notifier).sort(), [...to].sort(), 'delivered to every receiver it was told to');
}

/** The Slack message of one settled request: its own, with no buttons; values as one-line code. */
function slackOf(target: HttpTarget, event: string, approvalId: string): Record<string, any> {
  const got = target
    .requests('/slack', 'POST')
    .map(json)
    .filter((m) => String(m.blocks[0].text.text).includes(`rectify: ${event} `) && JSON.stringify(m).includes(approvalId));
  assert.equal(got.length, 1, `one Slack message for ${event} of ${approvalId}`);
  const m = got[0]!;
  assert.equal(
    m.blocks.some((b: any) => b.type === 'actions'),
    false,
    'no buttons: the request is settled',
  );
  return m;
}

describe('an approval request leaving the pending state is told: approved, rejected, cancelled', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
  });
  after(async () => target.close());

  function reset(): void {
    target.reset();
    target.route('POST', '/hook', { status: 204 });
    target.route('POST', '/slack', { status: 200 });
    target.route('POST', RESPOND, { status: 200 });
    target.route('POST', '/act/vault', { status: 200 });
    target.route('POST', '/act/db', { status: 200 });
  }

  it('APPROVED through the API: who approved, and that the run starts; the outcome follows; a first vote of two is told on its own (who, one more approver needed), the approval names both', async () => {
    reset();
    const svc = await start(target);
    try {
      const asked = await svc.post('/api/v1/incidents', { id: 'A1', root_cause: 'scary', service: 'vault' });
      const id = asked.body.approval_id as string;
      const ok = await svc.post(`/api/v1/approvals/${id}/approve?wait=true`, { by: 'alice', comment: 'go ahead' });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.result.action, 'executed');
      const exe = ok.body.result.execution_id as string;
      await svc.service.drainNotifications();
      const hooks = target.requests('/hook', 'POST');
      assert.deepEqual(
        hooks.map((r) => json(r).event),
        ['APPROVAL_REQUIRED', 'APPROVED', 'SUCCESS'],
      );
      const approved = one(target, 'APPROVED', id);
      assert.deepEqual(
        [approved.incident_id, approved.runbook, approved.service, approved.approval_id, approved.execution_id, approved.outcome],
        ['A1', 'risky', 'vault', id, exe, 'approved'],
      );
      assert.equal(approved.reason, `approved by alice ("go ahead"): the run starts (execution ${exe}); its outcome is told when it ends`);
      assert.deepEqual(approved.links, {
        incident: 'https://rectify.example.com/api/v1/incidents/A1',
        execution: `https://rectify.example.com/api/v1/executions/${exe}`,
        approval: `https://rectify.example.com/api/v1/approvals/${id}`,
      });
      await recordedAs(svc, 'APPROVED', approved, hooks[1]!.headers);
      assert.equal((await rowsFor(svc, 'APPROVED', id))[0].details.execution_id, exe, 'its row names the run it starts');
      // The run's outcome names the request it carries out, as the approval named the run.
      const outcome = json(hooks[2]!);
      assert.deepEqual(
        [outcome.event, outcome.incident_id, outcome.execution_id, outcome.approval_id, outcome.outcome],
        ['SUCCESS', 'A1', exe, id, 'succeeded'],
      );
      assert.deepEqual(outcome.links, {
        incident: 'https://rectify.example.com/api/v1/incidents/A1',
        execution: `https://rectify.example.com/api/v1/executions/${exe}`,
        approval: `https://rectify.example.com/api/v1/approvals/${id}`,
      });
      const success = (await svc.get(`/api/v1/audit?event=SUCCESS&execution_id=${exe}`)).body.events;
      assert.equal(success.length, 1);
      assert.equal(success[0].details.told.approval_id, id, 'the audit row records it told');
      assert.equal((await svc.get(`/api/v1/approvals/${id}`)).body.execution_id, exe, 'the run named is the run that started');

      // Slack: the request had buttons; its approval is a message of its own without them.
      const request = target.requests('/slack', 'POST').map(json)[0]!;
      assert.equal(request.blocks.some((b: any) => b.type === 'actions'), true);
      const m = slackOf(target, 'APPROVED', id);
      assert.equal(m.blocks[0].text.text, ':ballot_box_with_check: rectify: APPROVED risky');
      assert.deepEqual(
        m.blocks[1].fields.map((f: any) => f.text),
        ['*Incident*\n`A1`', '*Service*\n`vault`', '*Runbook*\n`risky`', '*Outcome*\n`approved`'],
      );

      // Two approvers: the first vote leaves the request pending, its buttons live, and is
      // told on its own: who approved, and that one more approver is needed.
      const grave = await svc.post('/api/v1/incidents', { id: 'A2', root_cause: 'grave', service: 'db' });
      const id2 = grave.body.approval_id as string;
      const vote = await svc.post(`/api/v1/approvals/${id2}/approve`, { by: 'alice', comment: 'looks right' });
      assert.equal(vote.status, 202);
      assert.deepEqual([vote.body.status, vote.body.votes.length], ['pending', 1]);
      await svc.service.drainNotifications();
      assert.deepEqual(
        target
          .requests('/hook', 'POST')
          .map(json)
          .filter((n) => n.approval_id === id2)
          .map((n) => n.event),
        ['APPROVAL_REQUIRED', 'APPROVAL_VOTE'],
      );
      const voted = one(target, 'APPROVAL_VOTE', id2);
      assert.deepEqual(
        [voted.incident_id, voted.runbook, voted.service, voted.approval_id, voted.execution_id, voted.outcome, voted.notification_id],
        ['A2', 'twice', 'db', id2, null, 'pending', `ntf_${id2}_vote1`],
      );
      const expiresAt = (await svc.get(`/api/v1/approvals/${id2}`)).body.expires_at as string;
      assert.equal(voted.reason, `approved by alice ("looks right"), 1 of 2 approvals: one more approver is needed before it runs; the request stays pending until then (it expires at ${expiresAt})`);
      const votedHook = target.requests('/hook', 'POST').find((r) => json(r).event === 'APPROVAL_VOTE')!;
      await recordedAs(svc, 'APPROVAL_VOTE', voted, votedHook.headers);
      // In Slack: a message of its own, without buttons (those of the request's message still ask).
      const votedInSlack = slackOf(target, 'APPROVAL_VOTE', id2);
      assert.equal(votedInSlack.blocks[0].text.text, ':ballot_box_with_ballot: rectify: APPROVAL_VOTE twice');
      assert.equal(votedInSlack.blocks[2].text.text, voted.reason);

      const second = await svc.post(`/api/v1/approvals/${id2}/approve?wait=true`, { by: 'bob' });
      assert.equal(second.body.result.action, 'executed');
      await svc.service.drainNotifications();
      // The second vote approves it: told as APPROVED, not as a vote; the run's outcome names the request.
      assert.deepEqual(
        target
          .requests('/hook', 'POST')
          .map(json)
          .filter((n) => n.approval_id === id2)
          .map((n) => n.event),
        ['APPROVAL_REQUIRED', 'APPROVAL_VOTE', 'APPROVED', 'SUCCESS'],
      );
      const both = one(target, 'APPROVED', id2);
      assert.equal(both.reason, `approved by alice ("looks right") and bob: the run starts (execution ${second.body.result.execution_id}); its outcome is told when it ends`);
      await recordedAs(svc, 'APPROVED', both);
      assert.equal(target.calls('/act/db', 'POST'), 1);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('REJECTED through the API and from a Slack click: by whom, the comment, nothing ran; each told, none summed up as a repeat', async () => {
    reset();
    const svc = await start(target);
    try {
      // Manual runs ask one by one (they never join a request): three for one runbook and service.
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await svc.post('/api/v1/runbooks/risky/run', { params: { service: 'vault' }, by: 'carol' });
        assert.equal(r.body.action, 'approval_required');
        ids.push(r.body.approval_id as string);
      }
      const [first, second, third] = ids as [string, string, string];
      assert.equal((await svc.post(`/api/v1/approvals/${first}/reject`, { by: 'bob', comment: 'not during the freeze' })).status, 200);
      assert.equal((await svc.post(`/api/v1/approvals/${second}/reject`, { by: 'dave' })).status, 200);

      // A click on Reject in Slack: the message clicked is replaced, as before, and the receivers are told.
      const ts = String(Math.floor(svc.clock.now() / 1000));
      const payload = {
        type: 'block_actions',
        user: { id: 'U0ALICE', username: 'alice' },
        response_url: `${target.url}${RESPOND}`,
        actions: [{ type: 'button', block_id: 'b', action_id: 'rectify_reject', value: `${third}:reject`, action_ts: '1700000000.1' }],
      };
      const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
      const click = await svc.app.inject({
        method: 'POST',
        url: '/api/v1/slack/interactions',
        payload: body,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': slackSignature(SECRET, ts, body) },
      });
      assert.equal(click.statusCode, 200);
      assert.equal(JSON.parse(click.body).ok, true);
      await svc.service.drainNotifications();
      const [replaced] = target.requests(RESPOND, 'POST').map(json);
      assert.ok(replaced);
      assert.deepEqual([replaced.replace_original, replaced.text], [true, 'Rejected by slack:U0ALICE (alice): nothing will run.']);

      const told = target
        .requests('/hook', 'POST')
        .map(json)
        .filter((n) => n.event === 'REJECTED');
      assert.deepEqual(
        told.map((n) => [n.approval_id, n.outcome, n.runbook, n.service, n.reason, n.repeated ?? null]),
        [
          [first, 'rejected', 'risky', 'vault', 'rejected by bob ("not during the freeze"): nothing ran', null],
          [second, 'rejected', 'risky', 'vault', 'rejected by dave: nothing ran', null],
          [third, 'rejected', 'risky', 'vault', 'rejected by slack:U0ALICE: nothing ran', null],
        ],
      );
      // The click's rejection: sent to the webhook, and shown in Slack by the replaced message,
      // which is recorded as its delivery to Slack (owed to both, delivered to both).
      for (const n of told) await recordedAs(svc, 'REJECTED', n);
      const m = slackOf(target, 'REJECTED', first);
      assert.equal(m.blocks[0].text.text, ':no_entry_sign: rectify: REJECTED risky');
      assert.equal(m.blocks[2].text.text, 'rejected by bob ("not during the freeze"): nothing ran');
      assert.equal(target.calls('/act/vault'), 0);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  /** A signed click on one of an approval message's buttons, its response_url on the test's receiver. */
  async function click(svc: TestService, approvalId: string, verb: 'approve' | 'reject', user: { id: string; username: string }, respond = RESPOND): Promise<any> {
    const ts = String(Math.floor(svc.clock.now() / 1000));
    const payload = {
      type: 'block_actions',
      user,
      response_url: `${target.url}${respond}`,
      actions: [{ type: 'button', block_id: 'b', action_id: `rectify_${verb}`, value: `${approvalId}:${verb}`, action_ts: '1700000000.1' }],
    };
    const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
    const r = await svc.app.inject({
      method: 'POST',
      url: '/api/v1/slack/interactions',
      payload: body,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': slackSignature(SECRET, ts, body) },
    });
    assert.equal(r.statusCode, 200);
    return JSON.parse(r.body);
  }

  it('a Slack click that decides a request shows one message in the channel: the request’s own, replaced with the outcome; the Slack receiver is not told it again, the webhook is', async () => {
    reset();
    const svc = await start(target);
    try {
      const [webhook, slack] = svc.service.receivers as [string, string];
      const approved = (await svc.post('/api/v1/incidents', { id: 'K1', root_cause: 'scary', service: 'vault' })).body.approval_id as string;
      const rejected = (await svc.post('/api/v1/incidents', { id: 'K2', root_cause: 'grave', service: 'db' })).body.approval_id as string;
      await svc.service.drainNotifications();
      const sinceSlack = target.requests('/slack', 'POST').length;

      const yes = await click(svc, approved, 'approve', { id: 'U0ALICE', username: 'alice' });
      assert.equal(yes.ok, true, yes.text);
      assert.equal((await svc.post(`/api/v1/approvals/${rejected}/approve`, { by: 'bob' })).status, 202);
      const no = await click(svc, rejected, 'reject', { id: 'U0CAROL', username: 'carol' });
      assert.equal(no.ok, true, no.text);
      await svc.service.drainNotifications();

      // The channel: each request's message replaced with its outcome, no buttons left ...
      const replaced = target.requests(RESPOND, 'POST').map(json);
      assert.deepEqual(
        replaced.map((m) => [m.replace_original, m.text.split(':')[0], m.blocks.some((b: any) => b.type === 'actions')]),
        [
          [true, 'Approved by slack', false],
          [true, 'Rejected by slack', false],
        ],
      );
      // ... and no message of its own for either settlement; the vote in between is told.
      const posted = target.requests('/slack', 'POST').slice(sinceSlack).map(json);
      assert.deepEqual(
        posted.map((m) => String(m.blocks[0].text.text).replace(/^:[a-z_]+: rectify: /, '')),
        ['APPROVAL_VOTE twice', 'SUCCESS risky'],
      );
      // The webhook is told both, as for a decision through the API, with no word of Slack's.
      // Each row names Slack among those owed it, and the replaced message is recorded as its
      // delivery to Slack: a restart does not tell Slack again.
      for (const [event, id] of [['APPROVED', approved], ['REJECTED', rejected]] as const) {
        const n = one(target, event, id);
        assert.equal('shown_in_slack' in n, false);
        const [row] = await rowsFor(svc, event, id);
        assert.deepEqual(row.details.told.to, [webhook, slack]);
        assert.deepEqual(await deliveries(svc, n.notification_id), [[slack, SHOWN_BY_CLICK_ANSWER], [webhook, 'delivered']].sort());
      }
      assert.equal(slack.startsWith('slack '), true);
      // A restart tells Slack none of it.
      const restarted = await svc.restart();
      try {
        await restarted.service.drainNotifications();
        assert.deepEqual(target.requests('/slack', 'POST').slice(sinceSlack).length, posted.length);
      } finally {
        await restarted.stop({ remove: true });
      }
    } catch (err) {
      await svc.stop({ remove: true });
      throw err;
    }
  });

  it('an approval request Slack is failing, its later round under way when a Slack click settles it: posted to Slack no more after the click’s answer, no later round', async () => {
    reset();
    // Slack fails the request's first round (3 attempts) and holds its second round's probe, then fails it.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const asked = (r: RecordedRequest) => JSON.stringify(r.json()).includes('rectify: APPROVAL_REQUIRED ');
    target.route('POST', '/slack', async (req) => {
      if (!asked(req)) return { status: 200 };
      if (target.requests('/slack', 'POST').filter(asked).length === 4) await released;
      return { status: 503 };
    });
    const svc = await start(target, [], { backoffMs: 5, approvalRetryMs: 50 });
    try {
      const [, slack] = svc.service.receivers as [string, string];
      const id = (await svc.post('/api/v1/incidents', { id: 'K5', root_cause: 'grave', service: 'db' })).body.approval_id as string;
      await target.waitForRequest('/slack', { timeoutMs: 15_000, where: (r) => asked(r) && target.requests('/slack', 'POST').filter(asked).length === 4 });
      const no = await click(svc, id, 'reject', { id: 'U0CAROL', username: 'carol' });
      assert.equal(no.ok, true, no.text);
      const answer = await target.waitForRequest(RESPOND, { timeoutMs: 15_000 });
      release();
      await svc.service.drainNotifications();
      // Past the times its later rounds would have come (100, 200 ms on).
      await new Promise((r) => setTimeout(r, 600));
      await svc.service.drainNotifications();
      const posts = target.requests('/slack', 'POST').filter(asked);
      assert.equal(posts.length, 4, 'three attempts of the first round, the second round’s probe; nothing after');
      assert.ok(posts.every((p) => p.at <= answer.at));
      assert.deepEqual(
        target.requests('/slack', 'POST').filter((r) => !asked(r)),
        [],
        'the settlement is shown by the click’s answer, not posted',
      );
      const failed = (await svc.get('/api/v1/audit?event=NOTIFY_FAILED&limit=1000')).body.events.filter((e: any) => e.details.notifier === slack);
      assert.deepEqual(
        failed.map((e: any) => [e.details.attempts, e.details.detail]).reverse(),
        [
          [3, 'answered 503 (tried again later)'],
          [1, `answered 503${SETTLED_MEANWHILE}`],
        ],
      );
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a Slack click whose answer through response_url fails: its settlement is told to Slack after all, once, as a message of its own with its notification_id', async () => {
    reset();
    target.route('POST', '/gone', { status: 404 });
    const svc = await start(target);
    try {
      const [, slack] = svc.service.receivers as [string, string];
      const id = (await svc.post('/api/v1/incidents', { id: 'K3', root_cause: 'grave', service: 'db' })).body.approval_id as string;
      await svc.service.drainNotifications();
      const no = await click(svc, id, 'reject', { id: 'U0CAROL', username: 'carol' }, '/gone');
      assert.equal(no.ok, true, no.text);
      await svc.service.drainNotifications();
      await svc.service.drainNotifications();
      const n = one(target, 'REJECTED', id);
      const m = slackOf(target, 'REJECTED', id);
      assert.equal(m.blocks[2].text.text, n.reason);
      const notified = await notifiedRows(svc, n.notification_id);
      assert.deepEqual(notified.map((e: any) => e.details.notifier).sort(), [...svc.service.receivers].sort());
      assert.ok(notified.some((e: any) => e.details.notifier === slack));
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a Slack click whose answer fails, rectify killed while Slack is told after all: the audit row names Slack as owed, and the next start tells it, once', async () => {
    reset();
    target.route('POST', '/gone', { status: 404 });
    const svc = await start(target);
    const crashed = mkdtempSync(join(tmpdir(), 'rectify-crashed-'));
    let stopped = false;
    let restarted: TestService | undefined;
    try {
      const [webhook, slack] = svc.service.receivers as [string, string];
      const id = (await svc.post('/api/v1/incidents', { id: 'K4', root_cause: 'grave', service: 'db' })).body.approval_id as string;
      await svc.service.drainNotifications();
      // From now on Slack's webhook takes the message and never answers: the message of its own is under way.
      target.route('POST', '/slack', { status: 200, delayMs: 120_000 });
      const since = Date.now();
      const no = await click(svc, id, 'reject', { id: 'U0CAROL', username: 'carol' }, '/gone');
      assert.equal(no.ok, true, no.text);
      await target.waitForRequest('/slack', { since, timeoutMs: 15_000, where: (r) => JSON.stringify(r.json()).includes('REJECTED') });
      const [row] = await rowsFor(svc, 'REJECTED', id);
      assert.deepEqual(row.details.told.to, [webhook, slack], 'owed to Slack too, though not sent to it at first');
      await until('the webhook’s delivery recorded', async () =>
        (await svc.get('/api/v1/audit?event=NOTIFIED&limit=1000')).body.events.find((e: any) => e.details.notification_id === row.details.notification_id),
      );

      // A kill -9 now: what is on disk is what was committed, nothing of the stop's own records.
      mkdirSync(join(crashed, 'data'));
      cpSync(svc.runbooksDir, join(crashed, 'runbooks'), { recursive: true });
      const db = new Database(svc.dbPath, { readonly: true });
      db.exec(`VACUUM INTO '${join(crashed, 'data', 'rectify.db')}'`);
      db.close();
      stopped = true;
      await svc.stop();

      target.reset();
      target.route('POST', '/hook', { status: 204 });
      target.route('POST', '/slack', { status: 200 });
      restarted = await startTestService({
        dir: crashed,
        args: ['--notify-webhook', `${target.url}/hook`, '--slack-webhook-url', `${target.url}/slack`, '--slack-signing-secret', SECRET, '--public-url', 'https://rectify.example.com'],
        overrides: { slackResponseOrigins: [target.url] },
      });
      await restarted.service.drainNotifications();
      assert.deepEqual(target.requests('/hook'), [], 'the webhook had it: not told again');
      const m = slackOf(target, 'REJECTED', id);
      assert.equal(m.blocks[2].text.text, `${row.details.told.reason}${RESENT_NOTE}`);
      assert.deepEqual(await deliveries(restarted, row.details.notification_id), [
        [slack, 'delivered'],
        [webhook, 'delivered'],
      ]);

      // Delivered now: the next start tells nobody.
      restarted = await restarted.restart();
      await restarted.service.drainNotifications();
      assert.equal(target.requests('/slack').length, 1);
      assert.equal(target.requests('/hook').length, 0);
    } finally {
      if (!stopped) await svc.stop();
      await restarted?.stop();
      rmSync(svc.dir, { recursive: true, force: true });
      rmSync(crashed, { recursive: true, force: true });
    }
  });

  it('a stop with a Slack click’s answer still under way past the stop’s 2 s waits for it and records it: the next start does not post the settlement to Slack again', async () => {
    reset();
    // Slack takes 4 s to answer the click's response (within --notify-timeout).
    target.route('POST', RESPOND, { status: 200, delayMs: 4_000 });
    const svc = await start(target, ['--notify-timeout', '10s']);
    let restarted: TestService | undefined;
    try {
      const [webhook, slack] = svc.service.receivers as [string, string];
      const id = (await svc.post('/api/v1/incidents', { id: 'K6', root_cause: 'grave', service: 'db' })).body.approval_id as string;
      await svc.service.drainNotifications();
      const sinceSlack = target.requests('/slack', 'POST').length;
      const no = await click(svc, id, 'reject', { id: 'U0CAROL', username: 'carol' });
      assert.equal(no.ok, true, no.text);
      await target.waitForRequest(RESPOND, { timeoutMs: 15_000 });
      // Stopped while the answer is under way, and started again.
      restarted = await svc.restart();
      await restarted.service.drainNotifications();
      assert.equal(target.requests('/slack', 'POST').length, sinceSlack, 'the settlement is not posted to Slack after the restart');
      const n = one(target, 'REJECTED', id);
      assert.deepEqual(await deliveries(restarted, n.notification_id), [[slack, SHOWN_BY_CLICK_ANSWER], [webhook, 'delivered']].sort());
    } finally {
      if (restarted) await restarted.stop({ remove: true });
      else await svc.stop({ remove: true });
    }
  });

  /** The Slack message that asked for one approval request (posted by the Slack webhook, with its buttons). */
  function requestIn(approvalId: string): Record<string, any> {
    const got = target
      .requests('/slack', 'POST')
      .map(json)
      .filter((m) => String(m.blocks[0].text.text).includes('rectify: APPROVAL_REQUIRED ') && JSON.stringify(m).includes(approvalId));
    assert.equal(got.length, 1);
    return got[0]!;
  }

  it('a first vote of two from a Slack click replaces the request’s message with the request as it stands: who approved, one more needed, the deadline, the buttons still there; the vote is told to the webhook, not posted to Slack again; the second click settles it', async () => {
    reset();
    const svc = await start(target);
    try {
      const [webhook, slack] = svc.service.receivers as [string, string];
      const id = (await svc.post('/api/v1/incidents', { id: 'W1', root_cause: 'grave', service: 'db' })).body.approval_id as string;
      await svc.service.drainNotifications();
      const request = requestIn(id);
      const sinceSlack = target.requests('/slack', 'POST').length;

      const first = await click(svc, id, 'approve', { id: 'U0ALICE', username: 'alice' });
      assert.deepEqual([first.ok, first.text], [true, 'slack:U0ALICE (alice) approved (1 of 2); another person must approve too.']);
      await svc.service.drainNotifications();

      // The channel: the request's own message, replaced once, as it stands now.
      const replaced = target.requests(RESPOND, 'POST').map(json);
      assert.equal(replaced.length, 1, 'one answer through the response_url');
      const m = replaced[0]!;
      const expiresAt = (await svc.get(`/api/v1/approvals/${id}`)).body.expires_at as string;
      const status = `Approved by slack:U0ALICE (alice): 1 of 2 approvals. One more approver is needed before it runs, someone other than slack:U0ALICE (alice): the same person cannot approve it twice. Approve or reject it by ${expiresAt}, when the request expires.`;
      assert.equal(m.replace_original, true);
      assert.equal('response_type' in m, false, 'not an ephemeral line: the message everyone sees');
      assert.equal(m.text, `:ballot_box_with_ballot: rectify: APPROVAL_REQUIRED twice: 1 of 2 approvals: ${status}`);
      assert.equal(m.blocks[0].text.text, ':ballot_box_with_ballot: rectify: APPROVAL_REQUIRED twice: 1 of 2 approvals');
      assert.deepEqual(m.blocks[2], { type: 'section', text: { type: 'plain_text', text: status } });
      // Everything else is the request as it was asked: its values, reason, link, plan and
      // both buttons, tied to this request (the outcome says it is still pending).
      const rest = [m.blocks[1], ...m.blocks.slice(3)];
      const asked = structuredClone(request.blocks.slice(1)) as any[];
      asked[0].fields[3].text = '*Outcome*\n`pending`';
      // But when it was asked: the status line says where it stands now.
      const context = asked.find((b) => b.type === 'context');
      context.elements = context.elements.filter((e: any) => !String(e.text).startsWith('Happened '));
      assert.deepEqual(rest, asked);
      const buttons = m.blocks.find((b: any) => b.type === 'actions');
      assert.deepEqual(
        buttons.elements.map((b: any) => [b.action_id, b.value]),
        [
          ['rectify_approve', `${id}:approve`],
          ['rectify_reject', `${id}:reject`],
        ],
      );
      assert.equal(JSON.stringify(m).includes(`https://rectify.example.com/api/v1/approvals/${id}`), true);

      // Slack is not posted the vote as a message of its own; the webhook is told it, once.
      assert.deepEqual(target.requests('/slack', 'POST').slice(sinceSlack), []);
      const voted = one(target, 'APPROVAL_VOTE', id);
      assert.equal('shown_in_slack' in voted, false);
      assert.equal(voted.reason, `approved by slack:U0ALICE, 1 of 2 approvals: one more approver is needed before it runs; the request stays pending until then (it expires at ${expiresAt})`);
      // Its row names Slack among those owed it, and the replaced message is its delivery to Slack.
      const [row] = await rowsFor(svc, 'APPROVAL_VOTE', id);
      assert.deepEqual(row.details.told.to, [webhook, slack]);
      assert.deepEqual(await deliveries(svc, voted.notification_id), [[slack, SHOWN_BY_CLICK_ANSWER], [webhook, 'delivered']].sort());

      // The second approver's click settles it: the message replaced with the outcome, no buttons.
      const second = await click(svc, id, 'approve', { id: 'U0BOB', username: 'bob' });
      assert.equal(second.ok, true, second.text);
      await until('the run’s outcome told', async () => target.requests('/hook', 'POST').map(json).find((n) => n.event === 'SUCCESS' && n.incident_id === 'W1'));
      await svc.service.drainNotifications();
      const settled = target.requests(RESPOND, 'POST').map(json);
      assert.equal(settled.length, 2);
      const decided = settled[1]!;
      assert.equal(decided.replace_original, true);
      assert.match(decided.text, /^Approved by slack:U0ALICE, slack:U0BOB: executed \(execution exe_/);
      assert.equal(decided.blocks.some((b: any) => b.type === 'actions'), false);
      one(target, 'APPROVED', id);
      assert.deepEqual(
        target
          .requests('/hook', 'POST')
          .map(json)
          .filter((n) => n.approval_id === id)
          .map((n) => n.event),
        ['APPROVAL_REQUIRED', 'APPROVAL_VOTE', 'APPROVED', 'SUCCESS'],
      );
      // Of all this, Slack was posted the run's outcome only.
      assert.deepEqual(
        target
          .requests('/slack', 'POST')
          .slice(sinceSlack)
          .map((r) => String(json(r).blocks[0].text.text)),
        [':white_check_mark: rectify: SUCCESS twice'],
      );
      assert.equal(target.calls('/act/db', 'POST'), 1);

      // A restart tells Slack neither the vote nor the approval.
      const restarted = await svc.restart();
      try {
        await restarted.service.drainNotifications();
        assert.equal(target.requests('/slack', 'POST').length, sinceSlack + 1);
        assert.equal(target.requests('/hook', 'POST').map(json).filter((n) => n.approval_id === id).length, 4, 'the request, the vote, the approval and the run it started: none told again');
      } finally {
        await restarted.stop({ remove: true });
      }
    } catch (err) {
      await svc.stop({ remove: true });
      throw err;
    }
  });

  it('a vote from a Slack click whose answer through response_url fails: Slack is told the vote as a message of its own, once; the request’s message keeps its buttons', async () => {
    reset();
    target.route('POST', '/gone', { status: 404 });
    const svc = await start(target);
    try {
      const [, slack] = svc.service.receivers as [string, string];
      const id = (await svc.post('/api/v1/incidents', { id: 'W2', root_cause: 'grave', service: 'db' })).body.approval_id as string;
      await svc.service.drainNotifications();
      const yes = await click(svc, id, 'approve', { id: 'U0ALICE', username: 'alice' }, '/gone');
      assert.equal(yes.ok, true, yes.text);
      await svc.service.drainNotifications();
      await svc.service.drainNotifications();
      assert.equal(target.calls('/gone', 'POST'), 1, 'refused with a 404: not tried again');
      const n = one(target, 'APPROVAL_VOTE', id);
      const m = slackOf(target, 'APPROVAL_VOTE', id);
      assert.equal(m.blocks[2].text.text, n.reason);
      const notified = await notifiedRows(svc, n.notification_id);
      assert.deepEqual(notified.map((e: any) => [e.details.notifier, e.details.detail]).sort(), [...svc.service.receivers].map((r) => [r, 'delivered']).sort());
      assert.ok(notified.some((e: any) => e.details.notifier === slack));
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('CANCELLED because its runbook changed or is no longer loaded: found when someone approves it, told, nothing ran', async () => {
    reset();
    const svc = await start(target);
    try {
      const a = (await svc.post('/api/v1/incidents', { id: 'C1', root_cause: 'scary', service: 'vault' })).body.approval_id as string;
      const b = (await svc.post('/api/v1/incidents', { id: 'C2', root_cause: 'grave', service: 'db' })).body.approval_id as string;
      // risky is edited, twice removed.
      writeFileSync(join(svc.runbooksDir, 'runbooks.yaml'), runbooks(target.url, ', timeout_seconds: 7').replace(/ {2}twice:[\s\S]*$/, ''));
      assert.equal((await svc.service.reload()).runbooks?.ok, true);

      const refused = await svc.post(`/api/v1/approvals/${a}/approve`, { by: 'alice' });
      assert.equal(refused.status, 409);
      assert.equal((await svc.post(`/api/v1/approvals/${b}/approve`, { by: 'bob' })).status, 409);
      await svc.service.drainNotifications();

      const changed = one(target, 'CANCELLED', a);
      assert.deepEqual([changed.incident_id, changed.runbook, changed.service, changed.outcome, changed.execution_id], ['C1', 'risky', 'vault', 'cancelled', null]);
      assert.equal(
        changed.reason,
        'runbook risky changed since this request was made: rectify cancelled the request when alice tried to approve it, and nothing ran; the next alert asks again with the runbook as it is now',
      );
      await recordedAs(svc, 'CANCELLED', changed);
      const gone = one(target, 'CANCELLED', b);
      assert.equal(
        gone.reason,
        'runbook twice is no longer loaded: rectify cancelled the request when bob tried to approve it, and nothing ran; the next alert asks again with the runbook as it is now',
      );
      await recordedAs(svc, 'CANCELLED', gone);
      // The row keeps who tried, and rectify as the actor.
      const [row] = await rowsFor(svc, 'CANCELLED', a);
      assert.deepEqual([row.actor, row.details.attempted_by, row.details.reason], ['rectify', 'alice', 'runbook risky changed since this request was made']);
      assert.equal(slackOf(target, 'CANCELLED', a).blocks[0].text.text, ':heavy_multiplication_x: rectify: CANCELLED risky');
      assert.equal(target.calls('/act/vault') + target.calls('/act/db'), 0);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('CANCELLED because its alerts resolved: an alert storm’s request is told once, when its last alert resolves; resolves before cost no notification', async () => {
    reset();
    const svc = await start(target);
    const alert = (service: string, n: number, status: 'firing' | 'resolved' = 'firing') => ({
      labels: { alertname: 'Scary', service, pod: `${service}-${n}` },
      fingerprint: `fp-${service}-${n.toString(16).padStart(6, '0')}`,
      status,
    });
    const range = (n: number) => Array.from({ length: n }, (_, i) => i);
    try {
      // One alert, one request: its resolve cancels it.
      const lone = (await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert('lone', 0)]))).body.results[0];
      // A storm of 20 alerts asking one plan: one request.
      const storm = await svc.post('/api/v1/webhooks/alertmanager', amWebhook(range(20).map((i) => alert('vault', i))));
      const vault = new Set(storm.body.results.map((r: any) => r.approval_id));
      assert.equal(vault.size, 1);
      const v = [...vault][0] as string;
      // Another storm of 10, which resolves in one body.
      const db = (await svc.post('/api/v1/webhooks/alertmanager', amWebhook(range(10).map((i) => alert('db', i))))).body.results[0].approval_id as string;
      await svc.service.drainNotifications();
      const before = target.requests('/hook', 'POST').length;
      assert.equal(before, 3, 'three requests, each told once');

      await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert('lone', 0, 'resolved')]));
      // 19 of the 20 resolve, in one body and then one by one: the request stays, nothing is told.
      await svc.post('/api/v1/webhooks/alertmanager', amWebhook(range(15).map((i) => alert('vault', i, 'resolved'))));
      for (const i of range(4)) await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert('vault', 15 + i, 'resolved')]));
      await svc.post('/api/v1/webhooks/alertmanager', amWebhook(range(10).map((i) => alert('db', i, 'resolved'))));
      await svc.service.drainNotifications();
      assert.deepEqual(
        target
          .requests('/hook', 'POST')
          .slice(before)
          .map((r) => [json(r).event, json(r).approval_id]),
        [
          ['CANCELLED', lone.approval_id],
          ['CANCELLED', db],
        ],
      );
      assert.equal((await svc.get(`/api/v1/approvals/${v}`)).body.status, 'pending');
      assert.equal((await rowsFor(svc, 'CANCELLED', v)).length, 0);

      // The last one resolves (and again: a duplicate changes nothing).
      await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert('vault', 19, 'resolved')]));
      await svc.post('/api/v1/webhooks/alertmanager', amWebhook([alert('vault', 19, 'resolved')]));
      await svc.service.drainNotifications();
      const settled = target
        .requests('/hook', 'POST')
        .slice(before)
        .map(json)
        .filter((n) => SETTLED.has(n.event));
      assert.equal(settled.length, 3, 'one per request');

      const first = one(target, 'CANCELLED', lone.approval_id);
      assert.deepEqual([first.incident_id, first.service, first.runbook, first.outcome], [lone.incident_id, 'lone', 'risky', 'cancelled']);
      assert.equal(first.reason, 'alert resolved before approval: the request is cancelled and nothing ran');
      assert.equal(one(target, 'CANCELLED', db).reason, 'all 10 alerts resolved before approval: the request is cancelled and nothing ran');
      const last = one(target, 'CANCELLED', v);
      assert.deepEqual([last.incident_id, last.service], [storm.body.results[0].incident_id, 'vault']);
      assert.equal(last.reason, 'all 20 alerts resolved before approval: the request is cancelled and nothing ran');
      for (const n of [first, one(target, 'CANCELLED', db), last]) await recordedAs(svc, 'CANCELLED', n);
      assert.equal(slackOf(target, 'CANCELLED', v).blocks[1].fields[1].text, '*Service*\n`vault`');
    } finally {
      await svc.stop({ remove: true });
    }
  });
});

describe('a stop before delivery: an approval request’s settlement is told again at the next start, with the same notification_id', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
  });
  after(async () => target.close());

  it('approved, rejected, cancelled as stale and cancelled by a resolve: each told once more, the same; then nothing', async () => {
    target.route('POST', '/hook', { status: 204, delayMs: 120_000 });
    target.route('POST', '/act/vault', { status: 200 });
    let svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/hook`] });
    try {
      const ask = async (id: string, rootCause = 'scary') => (await svc.post('/api/v1/incidents', { id, root_cause: rootCause, service: 'vault' })).body.approval_id as string;
      const approved = await ask('S1');
      // The first delivery hangs: everything after it waits behind it.
      await target.waitForRequest('/hook');
      const ok = await svc.post(`/api/v1/approvals/${approved}/approve?wait=true`, { by: 'alice' });
      assert.equal(ok.body.result.action, 'executed');
      const rejected = await ask('S2', 'grave');
      assert.equal((await svc.post(`/api/v1/approvals/${rejected}/reject`, { by: 'bob', comment: 'no' })).status, 200);
      const resolved = (
        await svc.post(
          '/api/v1/webhooks/alertmanager',
          amWebhook([{ labels: { alertname: 'Scary', service: 'vault', pod: 'p' }, fingerprint: 'fp-s3' }]),
        )
      ).body.results[0].approval_id as string;
      await svc.post('/api/v1/webhooks/alertmanager', amWebhook([{ labels: { alertname: 'Scary', service: 'vault', pod: 'p' }, fingerprint: 'fp-s3', status: 'resolved' }]));
      const stale = await ask('S4', 'grave');
      writeFileSync(join(svc.runbooksDir, 'runbooks.yaml'), runbooks(target.url).replace(/ {2}twice:[\s\S]*$/, ''));
      assert.equal((await svc.service.reload()).runbooks?.ok, true);
      assert.equal((await svc.post(`/api/v1/approvals/${stale}/approve`, { by: 'carol' })).status, 409);

      const order: Array<[string, string]> = [
        ['APPROVED', approved],
        ['REJECTED', rejected],
        ['CANCELLED', resolved],
        ['CANCELLED', stale],
      ];
      const rows = [];
      for (const [event, id] of order) rows.push(...(await rowsFor(svc, event, id)));
      assert.equal(rows.length, 4);
      const ids = rows.map((r) => r.details.notification_id as string);
      assert.equal(new Set(ids).size, 4);

      target.route('POST', '/hook', { status: 204 });
      const since = target.requests('/hook').length;
      svc = await svc.restart();
      await svc.service.drainNotifications();

      // The stop recorded each as not sent, under its notification_id.
      const failed = (await svc.get('/api/v1/audit?event=NOTIFY_FAILED&limit=1000')).body.events;
      for (const [k, [event]] of order.entries()) {
        const f = failed.filter((e: any) => e.details.notification_id === ids[k]);
        assert.deepEqual(
          f.map((e: any) => [e.details.about, e.details.detail]),
          [[event, 'not sent: rectify shut down first']],
        );
      }
      const again = target
        .requests('/hook')
        .slice(since)
        .map(json)
        .filter((n) => SETTLED.has(n.event));
      assert.deepEqual(
        again.map((n) => [n.event, n.approval_id, n.notification_id, n.reason, n.outcome, n.service]),
        rows.map((r) => [r.event, r.details.approval_id, r.details.notification_id, `${r.details.told.reason}${RESENT_NOTE}`, r.details.told.outcome, 'vault']),
      );
      // The approval told again still names the run it started.
      assert.deepEqual(
        again.map((n) => n.execution_id),
        [ok.body.result.execution_id, null, null, null],
      );
      assert.deepEqual(
        again.map((n) => n.outcome),
        ['approved', 'rejected', 'cancelled', 'cancelled'],
      );
      const notified = (await svc.get('/api/v1/audit?event=NOTIFIED&limit=1000')).body.events.map((e: any) => e.details.notification_id);
      for (const id of ids) assert.equal(notified.filter((n: string) => n === id).length, 1);

      // Recorded as delivered now: the next start tells none of them.
      const since2 = target.requests('/hook').length;
      svc = await svc.restart();
      await svc.service.drainNotifications();
      assert.equal(target.requests('/hook').length, since2);
      assert.equal(target.calls('/act/vault', 'POST'), 1);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a first vote of two: its notification a stop cut off is told again at the next start, with the same notification_id; the second vote tells APPROVED, no vote; then nothing', async () => {
    target.reset();
    target.route('POST', '/hook', { status: 204, delayMs: 120_000 });
    target.route('POST', '/act/db', { status: 200 });
    let svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/hook`] });
    try {
      const id = (await svc.post('/api/v1/incidents', { id: 'V1', root_cause: 'grave', service: 'db' })).body.approval_id as string;
      // The request's delivery hangs: the vote waits behind it.
      await target.waitForRequest('/hook');
      assert.equal((await svc.post(`/api/v1/approvals/${id}/approve`, { by: 'alice', comment: 'agreed' })).status, 202);
      const rows = (await svc.get('/api/v1/audit?event=APPROVAL_VOTE&limit=10')).body.events;
      const expiresAt = (await svc.get(`/api/v1/approvals/${id}`)).body.expires_at as string;
      assert.deepEqual(
        rows.map((r: any) => [r.actor, r.details.votes, r.details.notification_id, r.details.told]),
        [
          [
            'alice',
            1,
            `ntf_${id}_vote1`,
            {
              to: [...svc.service.receivers],
              outcome: 'pending',
              reason: `approved by alice ("agreed"), 1 of 2 approvals: one more approver is needed before it runs; the request stays pending until then (it expires at ${expiresAt})`,
              service: 'db',
              approval_id: id,
            },
          ],
        ],
      );

      target.route('POST', '/hook', { status: 204 });
      const since = target.requests('/hook').length;
      svc = await svc.restart();
      await svc.service.drainNotifications();
      const again = target
        .requests('/hook')
        .slice(since)
        .map(json)
        .filter((n) => n.event === 'APPROVAL_VOTE');
      assert.deepEqual(
        again.map((n) => [n.approval_id, n.notification_id, n.outcome, n.reason]),
        rows.map((r: any) => [id, r.details.notification_id, 'pending', `${r.details.told.reason}${RESENT_NOTE}`]),
      );
      // The stop recorded it as not sent, under its notification_id.
      const failed = (await svc.get('/api/v1/audit?event=NOTIFY_FAILED&limit=1000')).body.events.filter((e: any) => e.details.notification_id === `ntf_${id}_vote1`);
      assert.deepEqual(
        failed.map((e: any) => [e.details.about, e.details.detail]),
        [['APPROVAL_VOTE', 'not sent: rectify shut down first']],
      );
      // The second vote carries it out: APPROVED, no vote told.
      const second = await svc.post(`/api/v1/approvals/${id}/approve?wait=true`, { by: 'bob' });
      assert.equal(second.body.result.action, 'executed');
      await svc.service.drainNotifications();
      assert.equal(target.requests('/hook').map(json).filter((n) => n.event === 'APPROVAL_VOTE').length, 1);
      assert.equal(target.requests('/hook').map(json).filter((n) => n.event === 'APPROVED' && n.approval_id === id).length, 1);

      // Recorded as delivered now: the next start tells none of them.
      const since2 = target.requests('/hook').length;
      svc = await svc.restart();
      await svc.service.drainNotifications();
      assert.equal(target.requests('/hook').length, since2);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a first vote whose delivery failed and waits for its later round when the second vote approves: not sent after APPROVED, nor told again at the next start', async () => {
    target.reset();
    const vote = (r: RecordedRequest) => json(r).event === 'APPROVAL_VOTE';
    // The webhook refuses the vote for now (a passing failure): it waits for a later round.
    target.route('POST', '/hook', (r) => ({ status: vote(r) ? 503 : 204 }));
    target.route('POST', '/act/db', { status: 200 });
    const args = ['--notify-webhook', `${target.url}/hook`];
    const svc = await startTestService({ runbooks: runbooks(target.url), args, overrides: { notifyQueue: { backoffMs: 5, approvalRetryMs: 60_000 } } });
    let restarted: TestService | undefined;
    try {
      const id = (await svc.post('/api/v1/incidents', { id: 'V2', root_cause: 'grave', service: 'db' })).body.approval_id as string;
      assert.equal((await svc.post(`/api/v1/approvals/${id}/approve`, { by: 'alice' })).status, 202);
      await until('the vote’s first round failed', async () =>
        (await svc.get('/api/v1/audit?event=NOTIFY_FAILED&limit=100')).body.events.find((e: any) => e.details.notification_id === `ntf_${id}_vote1`),
      );
      const second = await svc.post(`/api/v1/approvals/${id}/approve?wait=true`, { by: 'bob' });
      assert.equal(second.body.result.action, 'executed');
      await svc.service.drainNotifications();
      assert.equal(one(target, 'APPROVED', id).approval_id, id);
      await svc.stop();

      // The next start, the webhook answering everything, the vote's next round due at once.
      target.route('POST', '/hook', { status: 204 });
      restarted = await startTestService({ dir: svc.dir, clock: svc.clock, args, captureLogs: true, overrides: { notifyQueue: { backoffMs: 5, approvalRetryMs: 20 } } });
      await restarted.service.drainNotifications();
      await new Promise((r) => setTimeout(r, 300));
      await restarted.service.drainNotifications();
      const votes = target.requests('/hook', 'POST').filter(vote);
      assert.equal(votes.length, 3, 'the vote’s first round only: not told after its approval, nor at the restart');
      assert.ok(
        restarted.log.records().some((l: any) => l.msg === 'approval vote not told again: its approval is settled' && l.notification_id === `ntf_${id}_vote1`),
        'the start says why it is not told again',
      );
    } finally {
      await restarted?.stop();
      rmSync(svc.dir, { recursive: true, force: true });
    }
  });
});
