import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MIGRATIONS_DIR } from '../../src/service.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { holdCalls, startHttpTarget, type HttpTarget, type RecordedRequest } from '../helpers/http-target.js';
import { receiversOf, useRectifyProcesses, type RectifyProcess } from '../helpers/process.js';
import { amWebhook, startTestService } from '../helpers/service.js';
import { until } from '../helpers/until.js';

/**
 * An automatic run stopped before its next action by a kill switch (PAUSED) or by its
 * alert's resolve (RESOLVED_BEFORE_ACTION) is an outcome told one by one: its row
 * records its notification, so one a crash lost or a stop cut off is told again at the
 * next start, once. The PAUSED decisions of alerts held off by a pause (a storm's
 * `blocked` notifications) record none, and are never told again.
 */

const HOLD = { status: 204, delayMs: 120_000 };
const RESENT_NOTE = ' (sent again after a restart: rectify stopped before its delivery to this receiver was recorded)';

/** Two runbooks, each with a pre-check a test holds while it pauses the runbook or resolves the alert. */
const runbooks = (base: string) => `runbooks:
  pz:
    risk: LOW
    triggers: [pz]
    min_confidence: 0.5
    max_per_hour: 100
    cooldown_minutes: 0
    pre_checks:
      - http: {url: "${base}/ready/pz", timeout_seconds: 60}
    action:
      http: {method: POST, url: "${base}/act/{service}"}

  rz:
    risk: LOW
    triggers: [rz]
    min_confidence: 0.5
    max_per_hour: 100
    cooldown_minutes: 0
    pre_checks:
      - http: {url: "${base}/ready/rz", timeout_seconds: 60}
    action:
      http: {method: POST, url: "${base}/act/{service}"}
`;

const json = (r: RecordedRequest) => r.json() as Record<string, any>;

interface Api {
  post(path: string, body: unknown): Promise<{ status: number; body: any }>;
  get(path: string): Promise<{ status: number; body: any }>;
}

/**
 * The two stopped runs and the decisions a pause holds off, the receiver holding every
 * delivery: an automatic run of pz paused in its pre-check, three alerts of pz held off by
 * the pause (PAUSED decisions), and an automatic run of rz whose alert resolves in its
 * pre-check. Answers the two runs' decisions.
 */
async function stopRuns(target: HttpTarget, api: Api): Promise<{ paused: any; resolved: any }> {
  const inPreCheck = async (path: string, send: () => Promise<{ body: any }>, meanwhile: () => Promise<unknown>) => {
    const release = holdCalls(target, 'GET', path);
    const since = Date.now();
    const answer = send();
    await target.waitForRequest(path, { since, timeoutMs: 20_000 });
    await meanwhile();
    release();
    return (await answer).body;
  };
  const paused = await inPreCheck(
    '/ready/pz',
    () => api.post('/api/v1/incidents?wait=true', { root_cause: 'pz', service: 'a', confidence: 1 }),
    async () => assert.equal((await api.post('/api/v1/runbooks/pz/pause', { by: 'bob', reason: 'maintenance' })).status, 200),
  );
  assert.deepEqual([paused.action, paused.event], ['blocked', 'PAUSED']);
  assert.match(paused.execution_id, /^exe_/);
  for (const service of ['b', 'c', 'd']) {
    const held = (await api.post('/api/v1/incidents?wait=true', { root_cause: 'pz', service, confidence: 1 })).body;
    assert.deepEqual([held.action, held.event, held.execution_id], ['blocked', 'PAUSED', null]);
  }
  const alert = (status: 'firing' | 'resolved') => amWebhook([{ labels: { alertname: 'rz', service: 'r' }, fingerprint: 'fp-rz', status }]);
  const resolved = (
    await inPreCheck(
      '/ready/rz',
      () => api.post('/api/v1/webhooks/alertmanager?wait=true', alert('firing')),
      async () => assert.equal((await api.post('/api/v1/webhooks/alertmanager?wait=true', alert('resolved'))).body.results[0].action, 'resolved'),
    )
  ).results[0];
  assert.deepEqual([resolved.action, resolved.event], ['aborted', 'RESOLVED_BEFORE_ACTION']);
  assert.equal(target.calls('/act/a', 'POST') + target.calls('/act/r', 'POST'), 0, 'no action ran');
  return { paused, resolved };
}

/** The audit rows of the two runs' ends and of the decisions held off, oldest first: the runs' rows record their notification, the decisions' none. */
async function endRows(api: Api, hook: string, runs: { paused: any; resolved: any }) {
  const rows = (await api.get('/api/v1/audit?limit=1000')).body.events.filter((e: any) => e.event === 'PAUSED' || e.event === 'RESOLVED_BEFORE_ACTION').reverse();
  assert.deepEqual(
    rows.map((e: any) => [e.event, e.execution_id, e.details.told?.to ?? null, e.details.told?.outcome ?? null, typeof e.details.notification_id]),
    [
      ['PAUSED', runs.paused.execution_id, [hook], 'aborted', 'string'],
      ['PAUSED', null, null, null, 'undefined'],
      ['PAUSED', null, null, null, 'undefined'],
      ['PAUSED', null, null, null, 'undefined'],
      ['RESOLVED_BEFORE_ACTION', runs.resolved.execution_id, [hook], 'aborted', 'string'],
    ],
  );
  return { paused: rows[0], resolved: rows[4] };
}

describe('kill -9: a run stopped by a pause and one stopped by its alert’s resolve, never delivered, are told again at the next start, once', () => {
  const rig = useRectifyProcesses('rectify-told-again-stopped-', runbooks);
  const start = () => rig.start(['--notify-webhook', `${rig.target.url}/hook`, '--notify-repeat-window', '0s']);
  const hooks = (since: number) => rig.target.requests('/hook').filter((r) => r.at >= since);
  const delivered = async (p: RectifyProcess, ids: string[]) =>
    (await p.get('/api/v1/audit?event=NOTIFIED&limit=1000')).body.events.filter((e: any) => ids.includes(e.details.notification_id)).length === ids.length ? true : undefined;

  it('the receiver holds every delivery when rectify is killed: startup tells both outcomes, as first told, and none of the decisions held off by the pause', async () => {
    rig.target.route('POST', '/hook', HOLD);
    let proc = await start();
    const [hook] = receiversOf(proc);
    const runs = await stopRuns(rig.target, proc);
    const rows = await endRows(proc, hook!, runs);
    // Told as they ended, and stuck behind the delivery the receiver holds.
    await rig.target.waitForRequest('/hook', { timeoutMs: 20_000 });
    assert.deepEqual((await proc.get('/api/v1/audit?event=NOTIFIED')).body.events, []);
    await proc.kill9();

    rig.target.route('POST', '/hook', { status: 204 });
    const since = Date.now();
    proc = await start();
    // A barrier: the receiver's queue sends in order, so what startup told comes before it.
    assert.equal((await proc.post('/api/v1/pause', { by: 'alice', reason: 'barrier' })).status, 200);
    await rig.target.waitForRequest('/hook', { since, timeoutMs: 20_000, where: (r) => json(r).event === 'SERVICE_PAUSED' });
    const told = hooks(since);
    assert.deepEqual(
      told.map((r) => [json(r).event, json(r).execution_id]),
      [
        ['RUNBOOK_PAUSED', null],
        ['PAUSED', runs.paused.execution_id],
        ['RESOLVED_BEFORE_ACTION', runs.resolved.execution_id],
        ['SERVICE_PAUSED', null],
      ],
    );
    for (const [i, row] of [
      [1, rows.paused],
      [2, rows.resolved],
    ] as const) {
      const again = json(told[i]!);
      assert.equal(again.notification_id, row.details.notification_id);
      assert.equal(told[i]!.headers['idempotency-key'], row.details.notification_id);
      assert.deepEqual(
        [again.outcome, again.reason, again.runbook, again.service],
        ['aborted', `${row.details.reason}${RESENT_NOTE}`, row.runbook, row.event === 'PAUSED' ? 'a' : 'r'],
      );
    }

    // Delivered and recorded: a further kill and start tell nobody anything again.
    await until('the deliveries recorded', () => delivered(proc, told.map((r) => json(r).notification_id as string)));
    await proc.kill9();
    const since2 = Date.now();
    proc = await start();
    assert.equal((await proc.post('/api/v1/resume', { by: 'alice', reason: 'barrier' })).status, 200);
    await rig.target.waitForRequest('/hook', { since: since2, timeoutMs: 20_000, where: (r) => json(r).event === 'SERVICE_RESUMED' });
    assert.deepEqual(hooks(since2).map((r) => json(r).event), ['SERVICE_RESUMED']);
    assert.equal((await proc.get('/api/v1/audit/verify')).body.ok, true);
    await proc.stop();
  });
});

describe('a stop: a run stopped by a pause and one stopped by its alert’s resolve, cut off in flight or not sent, are told again at the next start, once', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
  });
  after(async () => target.close());

  it('each told once more, the same; the decisions held off by the pause are not; then nothing', async () => {
    target.route('POST', '/hook', HOLD);
    let svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/hook`, '--notify-repeat-window', '0s'] });
    try {
      const [hook] = svc.service.receivers;
      const runs = await stopRuns(target, svc);
      const rows = await endRows(svc, hook!, runs);
      await target.waitForRequest('/hook', { timeoutMs: 20_000 });

      target.route('POST', '/hook', { status: 204 });
      const before = target.requests('/hook').length;
      svc = await svc.restart();
      await svc.service.drainNotifications();

      // The stop recorded what it cut off or never sent; startup tells the runs' ends again, with their ids.
      const stopped = (await svc.get('/api/v1/audit?event=NOTIFY_FAILED&limit=1000')).body.events.reverse();
      assert.deepEqual(
        stopped.filter((e: any) => e.execution_id !== null).map((e: any) => [e.details.about, e.details.detail, e.details.notification_id]),
        [
          ['PAUSED', 'not sent: rectify shut down first', rows.paused.details.notification_id],
          ['RESOLVED_BEFORE_ACTION', 'not sent: rectify shut down first', rows.resolved.details.notification_id],
        ],
      );
      const told = target.requests('/hook').slice(before).map(json);
      assert.deepEqual(
        told.map((t) => [t.event, t.execution_id, t.notification_id, t.outcome, t.reason]),
        [
          ['RUNBOOK_PAUSED', null, told[0]!.notification_id, 'paused', told[0]!.reason],
          ['PAUSED', runs.paused.execution_id, rows.paused.details.notification_id, 'aborted', `${rows.paused.details.reason}${RESENT_NOTE}`],
          ['RESOLVED_BEFORE_ACTION', runs.resolved.execution_id, rows.resolved.details.notification_id, 'aborted', `${rows.resolved.details.reason}${RESENT_NOTE}`],
        ],
      );
      const notified = (await svc.get('/api/v1/audit?event=NOTIFIED&limit=1000')).body.events;
      assert.deepEqual(notified.map((e: any) => e.details.notification_id).sort(), told.map((t) => t.notification_id).sort());

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
});

describe('the told rows startup examines: a PAUSED row only when it records its notification', () => {
  it('a run’s PAUSED and RESOLVED_BEFORE_ACTION rows are read back as told; the PAUSED decisions of alerts held off by a pause (recording none) are not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-told-stopped-rows-'));
    const store = openSqliteStore({ path: join(dir, 'rectify.db'), migrationsDir: MIGRATIONS_DIR });
    try {
      const at = Date.UTC(2026, 11, 6, 6, 0, 0);
      const told = (outcome: string) => ({ to: ['webhook x'], outcome, reason: 'r', service: 'a', approval_id: null });
      await store.transact((tx) => {
        tx.appendAudit({ at, event: 'PAUSED', runbook: 'pz', execution_id: 'exe_1', actor: 'rectify', details: { reason: 'r', notification_id: 'ntf_paused', told: told('aborted') } });
        for (let i = 1; i <= 3; i++) tx.appendAudit({ at: at + i, event: 'PAUSED', incident_id: `inc_${i}`, runbook: 'pz', actor: 'rectify', details: { reason: 'runbook pz is paused' } });
        tx.appendAudit({ at: at + 4, event: 'RESOLVED_BEFORE_ACTION', runbook: 'rz', execution_id: 'exe_2', actor: 'rectify', details: { reason: 'r', notification_id: 'ntf_resolved', told: told('aborted') } });
      });
      const [since, after] = await store.transact((tx) => [tx.toldSince(0, 100), tx.toldAfter({ at: 0, seq: 0 }, 100)]);
      const named = (rows: typeof since) => rows.map((r) => [r.event, r.details.notification_id ?? null]);
      assert.deepEqual(named(since), [
        ['RESOLVED_BEFORE_ACTION', 'ntf_resolved'],
        ['PAUSED', 'ntf_paused'],
      ]);
      assert.deepEqual(named(after), [
        ['PAUSED', 'ntf_paused'],
        ['RESOLVED_BEFORE_ACTION', 'ntf_resolved'],
      ]);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
