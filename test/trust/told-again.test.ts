import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { MIGRATIONS_DIR } from '../../src/service.js';
import { holdFirstCall, startHttpTarget, type HttpTarget, type RecordedRequest } from '../helpers/http-target.js';
import { receiversOf, useRectifyProcesses, type RectifyProcess } from '../helpers/process.js';
import { httpRunbook, runbooksFile } from '../helpers/runbooks.js';
import { amWebhook, startTestService } from '../helpers/service.js';
import { until } from '../helpers/until.js';

/**
 * The audit log is the outbox: an event told one by one (an execution outcome, a
 * breaker trip, an expiry, a kill switch, a refused reload) whose notification a crash
 * lost, or a stop cut off, is told again at the next start, to each receiver that has
 * no record of it, with the same notification_id; at most 200, from the last 24 hours.
 */

const HOLD = { status: 204, delayMs: 120_000 };
const RESENT_NOTE = ' (sent again after a restart: rectify stopped before its delivery to this receiver was recorded)';

const runbooks = (base: string) =>
  runbooksFile(
    httpRunbook('fix', {
      trigger: 'broken',
      url: `${base}/act/{service}`,
      timeoutSeconds: 60,
      more: `    rollback:
      http: {method: POST, url: "${base}/undo/{service}"}
`,
    }),
    `  ask:
    risk: HIGH
    owner: db-team
    triggers: [scary]
    min_confidence: 0.5
    action:
      http: {method: POST, url: "${base}/act/{service}"}
`,
  );

const json = (r: RecordedRequest) => r.json() as Record<string, any>;

describe('kill -9: outcomes whose delivery was never recorded are told again at startup, to the receiver that lacks them', () => {
  const rig = useRectifyProcesses('rectify-told-again-', runbooks);
  // Two receivers: the webhook and a Slack-format one, each named by its own host in the records.
  const start = () => rig.start(['--notify-webhook', `${rig.target.url}/hook`, '--slack-webhook-url', `${rig.target.url}/slack`]);
  const hooks = (since: number) => rig.target.requests('/hook').filter((r) => r.at >= since);
  const slacks = (since: number) => rig.target.requests('/slack').filter((r) => r.at >= since).map((r) => String(json(r).text));
  const deliveries = async (p: RectifyProcess, executionId: string) =>
    (await p.get(`/api/v1/audit?execution_id=${executionId}&event=NOTIFIED`)).body.events.map((e: any) => [e.details.notifier, e.details.notification_id]);

  it('the outcome in flight to the webhook is told to it once more with the same notification_id; Slack, which had it, gets nothing; the INTERRUPTED run is told once', async () => {
    rig.target.route('POST', '/hook', { status: 204 });
    rig.target.route('POST', '/slack', { status: 200 });
    rig.target.route('POST', '/act/ok', { status: 200 });
    rig.target.route('POST', '/act/bad', { status: 500 });
    rig.target.route('POST', '/undo/bad', { status: 200 });
    rig.target.route('POST', '/act/hang', HOLD);
    let proc = await start();
    const [hook, slack] = receiversOf(proc);
    assert.match(hook!, /^webhook http:\/\/127\.0\.0\.1:\d+ #[0-9a-f]{8}$/);
    assert.match(slack!, /^slack 127\.0\.0\.1:\d+ #[0-9a-f]{8}$/);

    // Delivered to both receivers and recorded: never told again.
    const ok = await proc.post('/api/v1/incidents?wait=true', { root_cause: 'broken', service: 'ok', confidence: 1 });
    assert.equal(ok.body.event, 'SUCCESS');
    await until('SUCCESS recorded as delivered to both', async () => ((await deliveries(proc!, ok.body.execution_id)).length === 2 ? true : undefined));

    // The webhook holds the next outcome: in flight (in memory only) when rectify dies; Slack has it, recorded.
    rig.target.route('POST', '/hook', HOLD);
    const bad = await proc.post('/api/v1/incidents?wait=true', { root_cause: 'broken', service: 'bad', confidence: 1 });
    assert.equal(bad.body.rolled_back, true);
    const first = await rig.target.waitForRequest('/hook', { timeoutMs: 20_000, where: (r) => json(r).execution_id === bad.body.execution_id });
    await until('ROLLED_BACK recorded as delivered to Slack', async () => ((await deliveries(proc!, bad.body.execution_id)).length === 1 ? true : undefined));
    assert.deepEqual((await deliveries(proc, bad.body.execution_id)).map((d: string[]) => d[0]), [slack]);

    // A run in flight: recovery makes it INTERRUPTED and tells that, once.
    const hang = await proc.post('/api/v1/incidents', { root_cause: 'broken', service: 'hang', confidence: 1 });
    assert.equal(hang.body.action, 'executed');
    await rig.target.waitForRequest('/act/hang', { timeoutMs: 20_000 });
    await proc.kill9();

    rig.target.route('POST', '/hook', { status: 204 });
    const since = Date.now();
    proc = await start();
    // A kill switch turned after startup: each receiver's queue sends in order, so what startup told comes before it.
    assert.equal((await proc.post('/api/v1/pause', { by: 'alice', reason: 'barrier' })).status, 200);
    await rig.target.waitForRequest('/hook', { since, timeoutMs: 20_000, where: (r) => json(r).event === 'SERVICE_PAUSED' });
    await rig.target.waitForRequest('/slack', { since, timeoutMs: 20_000, where: (r) => String(json(r).text).includes('SERVICE_PAUSED') });

    const told = hooks(since).map(json);
    assert.deepEqual(
      told.map((t) => [t.event, t.execution_id]),
      [
        ['ROLLED_BACK', bad.body.execution_id],
        ['INTERRUPTED', hang.body.execution_id],
        ['SERVICE_PAUSED', null],
      ],
    );
    // As first told, with the same id (and Idempotency-Key): a receiver that had it drops the repeat.
    const again = told[0]!;
    const was = json(first);
    assert.equal(again.notification_id, was.notification_id);
    assert.equal(hooks(since)[0]!.headers['idempotency-key'], was.notification_id);
    assert.equal(again.reason, `${was.reason}${RESENT_NOTE}`);
    assert.deepEqual({ ...again, reason: null }, { ...was, reason: null });
    assert.equal(was.outcome, 'failed, rolled back');
    // Slack had the outcome: only what it lacked.
    const toSlack = slacks(since);
    assert.equal(toSlack.length, 2, toSlack.join('\n'));
    assert.match(toSlack[0]!, /rectify: INTERRUPTED fix/);
    assert.match(toSlack[1]!, /rectify: SERVICE_PAUSED/);
    // One delivery recorded per receiver, under the id the outcome's own row records.
    await until('ROLLED_BACK recorded as delivered to the webhook', async () => ((await deliveries(proc!, bad.body.execution_id)).length === 2 ? true : undefined));
    const rows = (await proc.get(`/api/v1/audit?execution_id=${bad.body.execution_id}&event=ROLLED_BACK`)).body.events;
    assert.equal(rows.length, 1);
    assert.equal(rows[0].details.notification_id, was.notification_id);
    assert.deepEqual((await deliveries(proc, bad.body.execution_id)).sort(), [
      [slack, was.notification_id],
      [hook, was.notification_id],
    ]);

    // Once delivered and recorded, a further crash and restart tell nobody anything again.
    await until('INTERRUPTED recorded as delivered to both', async () => ((await deliveries(proc!, hang.body.execution_id)).length === 2 ? true : undefined));
    // The barrier too: a kill before its deliveries are recorded would rightly tell it again.
    const paused = told[2]!.notification_id;
    await until('SERVICE_PAUSED recorded as delivered to both', async () =>
      (await proc!.get('/api/v1/audit?event=NOTIFIED&limit=1000')).body.events.filter((e: any) => e.details.notification_id === paused).length === 2 ? true : undefined,
    );
    await proc.kill9();
    const since2 = Date.now();
    proc = await start();
    await proc.post('/api/v1/resume', { by: 'alice', reason: 'barrier' });
    await rig.target.waitForRequest('/hook', { since: since2, timeoutMs: 20_000, where: (r) => json(r).event === 'SERVICE_RESUMED' });
    await rig.target.waitForRequest('/slack', { since: since2, timeoutMs: 20_000, where: (r) => String(json(r).text).includes('SERVICE_RESUMED') });
    assert.deepEqual(hooks(since2).map((r) => json(r).event), ['SERVICE_RESUMED']);
    assert.equal(slacks(since2).length, 1);
    assert.deepEqual([rig.target.calls('/act/ok'), rig.target.calls('/act/bad'), rig.target.calls('/undo/bad'), rig.target.calls('/act/hang')], [1, 1, 1, 1], 'nothing re-run');
    const v = await proc.get('/api/v1/audit/verify');
    assert.equal(v.body.ok, true, v.body.reason);
    await proc.stop();
  });

  it('at most 200 are told again, the newest, after one summary naming how many were not; the warning says so too', async () => {
    for (const f of [rig.db, `${rig.db}-wal`, `${rig.db}-shm`]) rmSync(f, { force: true });
    rig.target.reset();
    rig.target.route('POST', '/hook', HOLD);
    rig.target.route('POST', '/slack', HOLD);
    let proc = await start();
    // 205 turns of the kill switch, each told; the first is held in flight, the rest wait in memory.
    for (let i = 0; i < 205; i++) {
      const r = await proc.post(i % 2 === 0 ? '/api/v1/pause' : '/api/v1/resume', { by: 'alice', reason: `turn ${i}` });
      assert.equal(r.status, 200);
    }
    await rig.target.waitForRequest('/hook', { timeoutMs: 20_000 });
    const turns = (await proc.get('/api/v1/audit?limit=1000')).body.events
      .filter((e: any) => e.event === 'SERVICE_PAUSED' || e.event === 'SERVICE_RESUMED')
      .reverse();
    assert.equal(turns.length, 205);
    await proc.kill9();

    rig.target.route('POST', '/hook', { status: 204 });
    rig.target.route('POST', '/slack', { status: 200 });
    const since = Date.now();
    proc = await start();
    // The 205th turn paused it: resuming now is the barrier.
    await proc.post('/api/v1/resume', { by: 'alice', reason: 'barrier' });
    await rig.target.waitForRequest('/hook', { since, timeoutMs: 60_000, where: (r) => json(r).reason.endsWith('barrier') });
    await rig.target.waitForRequest('/slack', { since, timeoutMs: 60_000, where: (r) => String(json(r).text).endsWith('barrier') });

    const told = hooks(since).map(json);
    assert.equal(told.length, 1 + 200 + 1);
    const summary = told[0]!;
    assert.deepEqual([summary.event, summary.outcome, summary.repeated], ['NOTIFY_FAILED', 'not sent again', 5]);
    assert.equal(
      summary.reason,
      `5 notification(s) of events from ${turns[0].at} on never reached this receiver before rectify stopped and are not sent again (only the newest 200 are): read them in the audit log (GET /api/v1/audit?since=${turns[0].at})`,
    );
    // The newest 200, oldest first, each with the id its row records and the note.
    const resent = told.slice(1, 201);
    assert.deepEqual(
      resent.map((t) => t.notification_id),
      turns.slice(5).map((e: any) => e.details.notification_id),
    );
    assert.deepEqual(
      resent.map((t) => t.reason),
      turns.slice(5).map((e: any) => `automatic remediation ${e.event === 'SERVICE_PAUSED' ? 'paused' : 'resumed'} by alice: ${e.details.reason}${RESENT_NOTE}`),
    );
    assert.equal(told[201]!.reason, 'automatic remediation resumed by alice: barrier');
    // Slack gets the same: one summary, 200, the barrier.
    assert.equal(slacks(since).length, 202);
    const warned = proc
      .output()
      .split('\n')
      .filter((l) => l.includes('the older ones are not sent again'))
      .map((l) => JSON.parse(l) as Record<string, any>);
    assert.equal(warned.length, 1);
    const [hook, slack] = receiversOf(proc);
    assert.deepEqual(warned[0]!.left, { [hook!]: 5, [slack!]: 5 });

    // What the summary says is not sent again is given up for each receiver, in the audit
    // log, under each notification's id: no later start tells it after all.
    const givenUp = (await proc.get('/api/v1/audit?event=NOTIFY_FAILED&limit=1000')).body.events
      .filter((e: any) => e.details.detail.startsWith('not sent again'))
      .reverse();
    assert.deepEqual(
      givenUp.map((e: any) => [e.details.notifier, e.details.about, e.details.notification_id]),
      turns.slice(0, 5).flatMap((t: any) => [
        [hook, t.event, t.details.notification_id],
        [slack, t.event, t.details.notification_id],
      ]),
    );
    assert.equal(givenUp[0].details.detail, 'not sent again: more than 200 never delivered before a restart, only the newest 200 were');
    await proc.stop();
    const since2 = Date.now();
    proc = await start();
    await proc.post('/api/v1/pause', { by: 'alice', reason: 'barrier 2' });
    await rig.target.waitForRequest('/hook', { since: since2, timeoutMs: 20_000, where: (r) => json(r).reason.endsWith('barrier 2') });
    await rig.target.waitForRequest('/slack', { since: since2, timeoutMs: 20_000, where: (r) => String(json(r).text).endsWith('barrier 2') });
    assert.deepEqual(hooks(since2).map((r) => json(r).reason), ['automatic remediation paused by alice: barrier 2']);
    assert.equal(slacks(since2).length, 1);
    assert.equal(proc.output().includes('told to it again'), false);
    await proc.stop();
  });
});

describe('a stop: notifications cut off in flight or still waiting are told again at the next start', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
  });
  after(async () => target.close());

  it('an outcome, a breaker trip, an expiry, a runbook pause and a refused reload: each told once more, the same; then nothing', async () => {
    target.reset();
    target.route('POST', '/hook', HOLD);
    target.route('POST', '/act/bad', { status: 500 });
    target.route('POST', '/undo/bad', { status: 200 });
    let svc = await startTestService({
      runbooks: { 'r.yaml': runbooks(target.url) },
      args: ['--notify-webhook', `${target.url}/hook`, '--circuit-failure-threshold', '1'],
    });
    try {
      // FAILED (rolled back) is held in flight; its breaker trip waits behind it.
      const bad = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'broken', service: 'bad', confidence: 1 });
      assert.equal(bad.body.rolled_back, true);
      await target.waitForRequest('/hook');
      const asked = await svc.post('/api/v1/incidents', { root_cause: 'scary', service: 'db', confidence: 1 });
      assert.equal(asked.body.action, 'approval_required');
      svc.clock.advance(61 * 60_000);
      await svc.service.housekeep();
      assert.equal((await svc.get(`/api/v1/approvals/${asked.body.approval_id}`)).body.status, 'expired');
      assert.equal((await svc.post('/api/v1/runbooks/ask/pause', { by: 'bob', reason: 'db migration' })).status, 200);
      writeFileSync(join(svc.runbooksDir, 'broken.yaml'), 'runbooks: [');
      assert.equal((await svc.service.reload()).runbooks?.ok, false);
      unlinkSync(join(svc.runbooksDir, 'broken.yaml'));

      const events = ['ROLLED_BACK', 'CIRCUIT_TRIPPED', 'EXPIRED', 'RUNBOOK_PAUSED', 'RUNBOOKS_RELOAD_REFUSED'];
      const rows = (await svc.get('/api/v1/audit?limit=1000')).body.events.filter((e: any) => events.includes(e.event)).reverse();
      assert.deepEqual(rows.map((e: any) => e.event), events);
      const ids = rows.map((e: any) => e.details.notification_id);
      const first = json(target.requests('/hook')[0]!);
      assert.equal(first.notification_id, ids[0]);

      target.route('POST', '/hook', { status: 204 });
      const before = target.requests('/hook').length;
      svc = await svc.restart();
      await svc.service.drainNotifications();

      // The stop recorded them: the one in flight cut off, the others not sent. (The approval
      // request waiting behind the first is not sent, nor recorded so: its expiry came first.)
      const failed = (await svc.get('/api/v1/audit?event=NOTIFY_FAILED&limit=1000')).body.events.reverse();
      assert.deepEqual(
        failed.map((e: any) => [e.details.about, e.details.detail, e.details.notification_id ?? null]),
        [
          ['ROLLED_BACK', 'cut off: rectify shut down during delivery', ids[0]],
          ['CIRCUIT_TRIPPED', 'not sent: rectify shut down first', ids[1]],
          ['EXPIRED', 'not sent: rectify shut down first', ids[2]],
          ['RUNBOOK_PAUSED', 'not sent: rectify shut down first', ids[3]],
          ['RUNBOOKS_RELOAD_REFUSED', 'not sent: rectify shut down first', ids[4]],
        ],
      );
      // Told again in the order they happened, each as its row recorded it; the expired
      // request is not asked again (nobody can approve it any more).
      const told = target.requests('/hook').slice(before).map(json);
      assert.deepEqual(
        told.map((t) => [t.event, t.notification_id, t.reason]),
        rows.map((e: any) => [e.event, e.details.notification_id, `${e.details.told.reason}${RESENT_NOTE}`]),
      );
      assert.deepEqual({ ...told[0], reason: null }, { ...first, reason: null });
      assert.deepEqual(
        told.map((t) => [t.outcome, t.runbook, t.service, t.approval_id]),
        [
          ['failed, rolled back', 'fix', 'bad', null],
          ['circuit open', 'fix', 'bad', null],
          ['expired', 'ask', 'db', asked.body.approval_id],
          ['paused', 'ask', null, null],
          ['refused', null, null, null],
        ],
      );
      const notified = (await svc.get('/api/v1/audit?event=NOTIFIED&limit=1000')).body.events;
      assert.deepEqual(notified.map((e: any) => e.details.notification_id).sort(), [...ids].sort());

      // Recorded as delivered now: the next start tells nothing.
      const before2 = target.requests('/hook').length;
      svc = await svc.restart();
      await svc.service.drainNotifications();
      assert.equal(target.requests('/hook').length, before2);
      assert.equal((await svc.get('/api/v1/audit/verify')).body.ok, true);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('rounds spent before a stop count after it: a receiver down across restarts gets a notification’s rounds once in all (an outcome and an approval request alike), a round at each start; then it is given up, recorded, and no later start tells it', async () => {
    target.reset();
    target.route('POST', '/hook', { status: 503 });
    // Two later rounds at most (three in all); a round's wait longer than the test, so each start spends one.
    let svc = await startTestService({
      runbooks: { 'r.yaml': runbooks(target.url) },
      args: ['--notify-webhook', `${target.url}/hook`, '--approval-ttl', '24h'],
      overrides: { notifyQueue: { backoffMs: 1, approvalRetryMs: 600_000, approvalRounds: 2 } },
    });
    const failures = async (n: number) => {
      await until(`${n} NOTIFY_FAILED rows`, async () => ((await svc.get('/api/v1/audit?event=NOTIFY_FAILED&limit=1000')).body.events.length >= n ? true : undefined));
      await svc.service.drainNotifications();
    };
    try {
      const asked = await svc.post('/api/v1/incidents', { root_cause: 'scary', service: 'db', confidence: 1 });
      assert.equal(asked.body.action, 'approval_required');
      await failures(1);
      assert.equal((await svc.post('/api/v1/pause', { by: 'alice', reason: 'maintenance' })).status, 200);
      await failures(2);
      const [paused] = (await svc.get('/api/v1/audit?event=SERVICE_PAUSED')).body.events;
      const ids = { request: `ntf_${asked.body.approval_id}`, paused: paused.details.notification_id as string };
      assert.equal(target.calls('/hook', 'POST'), 4, 'the request’s three attempts; the pause, a probe of the failing receiver');

      // Each start: one round (told again at once), counted on from the rounds before.
      for (let start = 0; start < 3; start++) {
        svc.clock.advance(3_600_000);
        svc = await svc.restart();
        await svc.service.drainNotifications();
      }
      const failed = (await svc.get('/api/v1/audit?event=NOTIFY_FAILED&limit=1000')).body.events.reverse();
      const of = (id: string) => failed.filter((e: any) => e.details.notification_id === id).map((e: any) => [e.details.attempts, e.details.detail]);
      const passed = 'not tried: the delivery before it to this receiver failed (answered 503)';
      assert.deepEqual(of(ids.paused), [
        [1, 'answered 503 (tried again later)'],
        [3, 'answered 503 (tried again later)'],
        [3, 'answered 503'],
      ]);
      // Told again after the pause at each start, the request waits behind it and is passed over with it.
      assert.deepEqual(of(ids.request), [
        [3, 'answered 503 (tried again later)'],
        [0, `${passed} (tried again later)`],
        [0, passed],
      ]);
      assert.equal(target.calls('/hook', 'POST'), 10, 'nothing after the last round');
      assert.equal((await svc.get('/api/v1/audit?event=NOTIFIED')).body.events.length, 0);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('an approval request told again after a restart says when it was asked (`at`), and, coming in a later round, that it comes late from then', async () => {
    target.reset();
    target.route('POST', '/hook', { status: 503 });
    // A round's wait longer than the test: the next start spends the next round.
    let svc = await startTestService({
      runbooks: { 'r.yaml': runbooks(target.url) },
      args: ['--notify-webhook', `${target.url}/hook`, '--approval-ttl', '24h'],
      overrides: { notifyQueue: { backoffMs: 1, approvalRetryMs: 600_000, approvalRounds: 2 } },
    });
    try {
      const askedAt = svc.clock.now();
      const asked = await svc.post('/api/v1/incidents', { root_cause: 'scary', service: 'db', confidence: 1 });
      assert.equal(asked.body.action, 'approval_required');
      const id = asked.body.approval_id as string;
      assert.equal((await svc.get(`/api/v1/approvals/${id}`)).body.requested_at, new Date(askedAt).toISOString());
      await until('the first round failed', async () => ((await svc.get('/api/v1/audit?event=NOTIFY_FAILED')).body.events.length === 1 ? true : undefined));
      await svc.service.drainNotifications();
      const first = target.requests('/hook').map(json);
      assert.deepEqual(first.map((n) => [n.approval_id, n.at, n.reason]), Array(3).fill([id, new Date(askedAt).toISOString(), 'risk HIGH requires approval']));

      // Stopped while the request waits for its next round; started again 47 minutes later.
      target.reset();
      target.route('POST', '/hook', { status: 204 });
      svc.clock.advance(47 * 60_000);
      svc = await svc.restart();
      await svc.service.drainNotifications();
      const told = target.requests('/hook').map(json);
      assert.deepEqual(told.map((n) => [n.event, n.approval_id, n.at, n.reason, n.delayed]), [
        [
          'APPROVAL_REQUIRED',
          id,
          new Date(askedAt).toISOString(),
          'risk HIGH requires approval (sent again after a restart: no delivery of this request was recorded before rectify stopped)' +
            ` (delayed: happened at ${new Date(askedAt).toISOString()}, 47 min before this message)`,
          true,
        ],
      ]);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('an intake request refused as a whole (INTAKE_REFUSED), its notification cut off: told once more, the same; then nothing', async () => {
    target.reset();
    target.route('POST', '/hook', HOLD);
    let svc = await startTestService({ args: ['--notify-webhook', `${target.url}/hook`, '--body-limit', '16KiB'] });
    try {
      // A group Alertmanager will never send again: the notification is the one trace a person gets.
      const alerts = Array.from({ length: 100 }, (_, i) => ({ labels: { alertname: 'Big', service: `svc-${i}`, pad: 'x'.repeat(300) }, fingerprint: `big${i}` }));
      assert.equal((await svc.post('/api/v1/webhooks/alertmanager', amWebhook(alerts))).status, 413);
      const first = json(await target.waitForRequest('/hook', { timeoutMs: 20_000 }));
      const [row] = (await svc.get('/api/v1/audit?event=INTAKE_REFUSED')).body.events;
      assert.equal(first.event, 'INTAKE_REFUSED');
      assert.equal(first.notification_id, row.details.notification_id);

      target.route('POST', '/hook', { status: 204 });
      const before = target.requests('/hook').length;
      svc = await svc.restart();
      await svc.service.drainNotifications();
      const told = target.requests('/hook').slice(before);
      assert.deepEqual(
        told.map((r) => [json(r).event, json(r).notification_id, r.headers['idempotency-key'], json(r).reason]),
        [['INTAKE_REFUSED', first.notification_id, first.notification_id, `${first.reason}${RESENT_NOTE}`]],
      );
      assert.deepEqual({ ...json(told[0]!), reason: null }, { ...first, reason: null });

      const before2 = target.requests('/hook').length;
      svc = await svc.restart();
      await svc.service.drainNotifications();
      assert.equal(target.requests('/hook').length, before2);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('one held back from a full queue is not lost: told from its audit row once the queue has room, once, with its own id; a restart tells nothing more', async () => {
    target.reset();
    const release = holdFirstCall(target, 'POST', '/hook');
    let svc = await startTestService({
      runbooks: { 'r.yaml': runbooks(target.url) },
      args: ['--notify-webhook', `${target.url}/hook`],
      overrides: { notifyQueue: { maxQueued: 2, dropReportMs: 50 } },
    });
    try {
      // The first turn is held in flight; two wait; each later turn pushes the oldest waiting out.
      for (let i = 0; i < 5; i++) {
        assert.equal((await svc.post(i % 2 === 0 ? '/api/v1/pause' : '/api/v1/resume', { by: 'alice', reason: `turn ${i}` })).status, 200);
        if (i === 0) await target.waitForRequest('/hook');
      }
      const turns = (await svc.get('/api/v1/audit?limit=1000')).body.events
        .filter((e: any) => e.event === 'SERVICE_PAUSED' || e.event === 'SERVICE_RESUMED')
        .reverse();
      const ids = turns.map((e: any) => e.details.notification_id);
      assert.equal(ids.length, 5);
      const held = await until('the burst recorded', async () => {
        const rows = (await svc.get('/api/v1/audit?event=NOTIFY_FAILED')).body.events;
        return rows.length > 0 ? rows : undefined;
      });
      // One row for the burst, naming no notification: it settles none of them.
      assert.deepEqual(
        held.map((e: any) => [e.details.detail, e.details.dropped, e.details.about, e.details.notification_id ?? null]),
        [['held back: queue full (told from its audit row when there is room)', 2, 'SERVICE_RESUMED, SERVICE_PAUSED', null]],
      );
      release();
      await svc.service.drainNotifications();
      // The one in flight, the two that waited, then the two held back, read from their rows.
      assert.deepEqual(
        target.requests('/hook').map((r) => json(r).notification_id),
        [ids[0], ids[3], ids[4], ids[1], ids[2]],
      );
      assert.deepEqual(
        target.requests('/hook').map((r) => json(r).reason),
        [0, 3, 4, 1, 2].map((i) => turns[i].details.told.reason),
        'each as first told',
      );
      const delivered = (await svc.get('/api/v1/audit?event=NOTIFIED')).body.events.map((e: any) => e.details.notification_id).sort();
      assert.deepEqual(delivered, [...ids].sort());

      // Restarted: every one has its delivery recorded, so none is told again.
      const before = target.requests('/hook').length;
      const stopped = svc;
      await stopped.stop();
      svc = await startTestService({ dir: stopped.dir, clock: stopped.clock, args: ['--notify-webhook', `${target.url}/hook`] });
      await svc.service.drainNotifications();
      assert.equal(target.requests('/hook').length, before);
      assert.equal((await svc.get('/api/v1/audit/verify')).body.ok, true);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a receiver is its whole URL: a Slack webhook re-pointed to another channel on the same host is not told the old one’s news, nor does a delivery to it count for the old one', async () => {
    target.reset();
    target.route('POST', '/slack-a', HOLD);
    target.route('POST', '/slack-b', { status: 200 });
    const slackTo = (path: string) => ['--slack-webhook-url', `${target.url}${path}`];
    let svc = await startTestService({ runbooks: { 'r.yaml': runbooks(target.url) }, args: slackTo('/slack-a') });
    const dir = svc.dir;
    const clock = svc.clock;
    try {
      const a = svc.service.receivers[0]!;
      await svc.post('/api/v1/pause', { by: 'alice', reason: 'for channel a' });
      await target.waitForRequest('/slack-a');
      await svc.stop(); // cut off in flight: told again to channel a at its next start

      // Re-pointed to channel b (hooks.slack.com for both, in real life; one host here too).
      svc = await startTestService({ dir, clock, args: slackTo('/slack-b') });
      const b = svc.service.receivers[0]!;
      assert.notEqual(b, a);
      assert.equal(b.replace(/ #[0-9a-f]{8}$/, ''), a.replace(/ #[0-9a-f]{8}$/, ''), 'the same host shown');
      await svc.post('/api/v1/resume', { by: 'alice', reason: 'for channel b' });
      await svc.service.drainNotifications();
      assert.equal(target.calls('/slack-b'), 1, 'only what happened since it was added');
      assert.match(String(json(target.requests('/slack-b')[0]!).text), /for channel b/);
      await svc.stop();

      // Back to channel a: it still lacks the pause, and gets it now; not the resume it was never told.
      target.route('POST', '/slack-a', { status: 200 });
      const before = target.requests('/slack-a').length;
      svc = await startTestService({ dir, clock, args: slackTo('/slack-a') });
      assert.deepEqual(svc.service.receivers, [a], 'the same URL, the same name');
      await svc.service.drainNotifications();
      const told = target.requests('/slack-a').slice(before).map((r) => String(json(r).text));
      assert.equal(told.length, 1, told.join('\n'));
      assert.match(told[0]!, /for channel a/);
      assert.ok(told[0]!.includes('sent again after a restart'));
      const notified = (await svc.get('/api/v1/audit?event=NOTIFIED')).body.events.map((e: any) => [e.details.about, e.details.notifier]);
      assert.deepEqual(notified, [
        ['SERVICE_PAUSED', a],
        ['SERVICE_RESUMED', b],
      ]);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('after an upgrade, rows that named receivers by host alone count for the receiver of that kind and host: what the stop cut off is told again, once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-told-names-'));
    try {
      mkdirSync(join(dir, 'runbooks'));
      writeFileSync(join(dir, 'runbooks', 'r.yaml'), runbooks(target.url));
      // As the release before wrote them: told to `webhook <origin>`; the pause cut off by
      // its stop, the resume delivered.
      const store = openSqliteStore({ path: join(dir, 'data', 'rectify.db'), migrationsDir: MIGRATIONS_DIR });
      const at = Date.UTC(2026, 10, 24, 2, 0, 0);
      const hostOnly = `webhook ${target.url}`;
      const told = (reason: string) => ({ to: [hostOnly], outcome: reason, reason: `automatic remediation ${reason} by alice: upgrade`, service: null, approval_id: null });
      await store.transact((tx) => {
        tx.appendAudit({ at, event: 'SERVICE_PAUSED', actor: 'alice', details: { reason: 'upgrade', notification_id: 'ntf_paused', told: told('paused') } });
        tx.appendAudit({ at, event: 'SERVICE_RESUMED', actor: 'alice', details: { reason: 'upgrade', notification_id: 'ntf_resumed', told: told('resumed') } });
        tx.appendAudit({ at, event: 'NOTIFIED', actor: 'rectify', details: { notifier: hostOnly, about: 'SERVICE_RESUMED', attempts: 1, detail: 'delivered', notification_id: 'ntf_resumed' } });
        tx.appendAudit({ at, event: 'NOTIFY_FAILED', actor: 'rectify', details: { notifier: hostOnly, about: 'SERVICE_PAUSED', attempts: 0, detail: 'cut off: rectify shut down during delivery', notification_id: 'ntf_paused' } });
      });
      store.close();

      target.reset();
      target.route('POST', '/hook', { status: 204 });
      let svc = await startTestService({ dir, args: ['--notify-webhook', `${target.url}/hook`] });
      try {
        await svc.service.drainNotifications();
        assert.deepEqual(
          target.requests('/hook').map((r) => [json(r).notification_id, json(r).reason]),
          [['ntf_paused', `automatic remediation paused by alice: upgrade${RESENT_NOTE}`]],
        );
        const notified = (await svc.get('/api/v1/audit?event=NOTIFIED')).body.events[0];
        assert.deepEqual([notified.details.notifier, notified.details.notification_id], [svc.service.receivers[0], 'ntf_paused']);
        // Recorded under today's name: the next start tells nothing.
        svc = await svc.restart();
        await svc.service.drainNotifications();
        assert.equal(target.calls('/hook'), 1);
        assert.equal((await svc.get('/api/v1/audit/verify')).body.ok, true);
      } finally {
        await svc.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('only the last 24 hours: a notification older than that is left to the audit log', async () => {
    target.reset();
    target.route('POST', '/hook', HOLD);
    let svc = await startTestService({ runbooks: { 'r.yaml': runbooks(target.url) }, args: ['--notify-webhook', `${target.url}/hook`] });
    try {
      await svc.post('/api/v1/pause', { by: 'alice', reason: 'old' });
      await target.waitForRequest('/hook');
      svc.clock.advance(2 * 3_600_000);
      await svc.post('/api/v1/resume', { by: 'alice', reason: 'recent' });
      target.route('POST', '/hook', { status: 204 });
      // The restart comes 25 hours after the pause, 23 after the resume.
      svc.clock.advance(23 * 3_600_000);
      const before = target.requests('/hook').length;
      svc = await svc.restart();
      await svc.service.drainNotifications();
      assert.deepEqual(
        target.requests('/hook').slice(before).map((r) => json(r).reason),
        [`automatic remediation resumed by alice: recent${RESENT_NOTE}`],
      );
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a database written before rows recorded their notification starts as before and tells nothing again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-told-upgrade-'));
    try {
      // As the release before wrote it (migrations up to 004): a kill switch turned, its notification cut off by a stop.
      const old = join(dir, 'migrations');
      mkdirSync(old);
      for (const f of readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql') && f < '005')) copyFileSync(join(MIGRATIONS_DIR, f), join(old, f));
      mkdirSync(join(dir, 'runbooks'));
      writeFileSync(join(dir, 'runbooks', 'r.yaml'), runbooks(target.url));
      const store = openSqliteStore({ path: join(dir, 'data', 'rectify.db'), migrationsDir: old });
      const at = Date.UTC(2026, 10, 24, 2, 0, 0);
      await store.transact((tx) => {
        tx.setPaused(true, 'alice', at);
        tx.appendAudit({ at, event: 'SERVICE_PAUSED', actor: 'alice', details: { reason: 'old' } });
        tx.appendAudit({
          at,
          event: 'NOTIFY_FAILED',
          actor: 'rectify',
          details: { notifier: `webhook ${target.url}`, about: 'SERVICE_PAUSED', attempts: 0, detail: 'not sent: rectify shut down first', notification_id: 'ntf_old' },
        });
      });
      store.close();

      target.reset();
      target.route('POST', '/hook', { status: 204 });
      const svc = await startTestService({ dir, args: ['--notify-webhook', `${target.url}/hook`] });
      try {
        await svc.service.drainNotifications();
        assert.equal(target.calls('/hook'), 0);
        assert.equal((await svc.get('/api/v1/audit/verify')).body.ok, true);
        // What it writes now records its notification.
        await svc.post('/api/v1/resume', { by: 'alice' });
        await svc.service.drainNotifications();
        const row = (await svc.get('/api/v1/audit?event=SERVICE_RESUMED')).body.events[0];
        assert.equal(row.details.notification_id, json(target.requests('/hook')[0]!).notification_id);
      } finally {
        await svc.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
