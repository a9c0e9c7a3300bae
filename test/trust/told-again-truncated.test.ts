import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MIGRATIONS_DIR } from '../../src/service.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { type RecordedRequest } from '../helpers/http-target.js';
import { receiversOf, useRectifyProcesses, type RectifyProcess } from '../helpers/process.js';
import { httpRunbook, runbooksFile } from '../helpers/runbooks.js';
import { amWebhook } from '../helpers/service.js';
import { until } from '../helpers/until.js';

/**
 * An Alertmanager notification cut short by max_alerts (ALERTS_TRUNCATED) is the one
 * trace of alerts rectify never saw. Told one by one, its audit row records the
 * notification: a receiver that is down gets later rounds, and one rectify is killed
 * before it could deliver is told again at the next start, once.
 */

const RESENT_NOTE = ' (sent again after a restart: rectify stopped before its delivery to this receiver was recorded)';
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const runbooks = (base: string) => runbooksFile(httpRunbook('fix', { trigger: 'broken', url: `${base}/act/{service}` }));

const json = (r: RecordedRequest) => r.json() as Record<string, any>;

describe('kill -9: a cut-short group told to a receiver that is down is told again after the restart, once', () => {
  const rig = useRectifyProcesses('rectify-told-again-truncated-', runbooks);
  const start = () => rig.start(['--notify-webhook', `${rig.target.url}/hook`]);
  const truncatedTold = (since: number) =>
    rig.target
      .requests('/hook')
      .filter((r) => r.at >= since && json(r).event === 'ALERTS_TRUNCATED');
  const records = async (p: RectifyProcess, id: string) =>
    (await p.get('/api/v1/audit?limit=1000')).body.events.filter((e: any) => (e.event === 'NOTIFIED' || e.event === 'NOTIFY_FAILED') && e.details.notification_id === id);

  it('its row records the notification; rounds spent on the receiver down do not settle it; after SIGKILL it is delivered once, then never again', async () => {
    rig.target.route('POST', '/hook', { status: 503 });
    rig.target.route('POST', '/act/shop', { status: 200 });
    let proc = await start();
    const [hook] = receiversOf(proc);

    const body = {
      ...amWebhook([{ labels: { alertname: 'broken', service: 'shop' }, fingerprint: 'tr1' }]),
      groupKey: '{}:{alertname="broken"}',
      receiver: 'rectify',
      truncatedAlerts: 40,
    };
    assert.equal((await proc.post('/api/v1/webhooks/alertmanager?wait=true', body)).status, 202);
    const [row] = (await proc.get('/api/v1/audit?event=ALERTS_TRUNCATED')).body.events;
    const id = row.details.notification_id as string;
    assert.match(id, /^ntf_/);
    assert.deepEqual(row.details.told.to, [hook]);
    assert.equal(row.details.told.outcome, 'alerts left out');

    // The receiver is down: its attempts spent, the notice waits for a later round, which does not settle it.
    const failed = await until('a round spent on the receiver down', async () => {
      const r = await records(proc, id);
      return r.length > 0 ? r : undefined;
    });
    assert.deepEqual(
      failed.map((e: any) => [e.event, e.details.notifier, e.details.detail.endsWith(' (tried again later)')]),
      [['NOTIFY_FAILED', hook, true]],
    );
    const first = json(truncatedTold(0)[0]!);
    assert.equal(first.notification_id, id);
    await proc.kill9();

    // The receiver is back: startup tells it the notice, as first told, with the same id.
    rig.target.route('POST', '/hook', { status: 204 });
    const since = Date.now();
    proc = await start();
    // A barrier: the receiver's queue sends in order, so what startup queued comes before it.
    // Not told at once: its next round is reckoned from the one it spent before the kill
    // (30 s on), so a start spends no round of its own.
    assert.equal((await proc.post('/api/v1/pause', { by: 'alice', reason: 'barrier' })).status, 200);
    await rig.target.waitForRequest('/hook', { since, timeoutMs: 20_000, where: (r) => json(r).event === 'SERVICE_PAUSED' });
    assert.deepEqual(truncatedTold(since), []);
    await rig.target.waitForRequest('/hook', { since, timeoutMs: 60_000, where: (r) => json(r).event === 'ALERTS_TRUNCATED' });
    const again = truncatedTold(since);
    assert.equal(again.length, 1);
    assert.equal(again[0]!.headers['idempotency-key'], id);
    // Its round after the one it spent: late, and it says so (when it happened, how long before).
    const { reason, ...told } = json(again[0]!);
    const { reason: firstReason, ...asFirst } = first;
    assert.deepEqual(told, { ...asFirst, delayed: true });
    assert.match(reason, new RegExp(`^${escape(`${firstReason}${RESENT_NOTE} (delayed: happened at ${first.at}, `)}\\d+ s before this message\\)$`));
    await until('the delivery recorded', async () => ((await records(proc, id)).some((e: any) => e.event === 'NOTIFIED') ? true : undefined));
    assert.equal(rig.target.calls('/act/shop'), 1, 'the delivered alert was decided and run once');

    // Recorded as delivered: a further kill and start tell it nobody again.
    await proc.kill9();
    const since2 = Date.now();
    proc = await start();
    assert.equal((await proc.post('/api/v1/resume', { by: 'alice', reason: 'barrier' })).status, 200);
    await rig.target.waitForRequest('/hook', { since: since2, timeoutMs: 20_000, where: (r) => json(r).event === 'SERVICE_RESUMED' });
    assert.deepEqual(truncatedTold(since2), []);
    const v = await proc.get('/api/v1/audit/verify');
    assert.equal(v.body.ok, true, v.body.reason);
    await proc.stop();
  });
});

describe('the told rows startup examines: an ALERTS_TRUNCATED row only when it records its notification', () => {
  it('a manual notice past the bound (its row records none) is not read back as told; one told one by one is, with the rows before and after it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-told-truncated-rows-'));
    const store = openSqliteStore({ path: join(dir, 'rectify.db'), migrationsDir: MIGRATIONS_DIR });
    try {
      const at = Date.UTC(2026, 11, 6, 6, 0, 0);
      const told = (outcome: string) => ({ to: ['webhook x'], outcome, reason: 'r', service: null, approval_id: null });
      await store.transact((tx) => {
        tx.appendAudit({ at, event: 'SUCCESS', actor: 'rectify', details: { notification_id: 'ntf_success', told: told('success') } });
        tx.appendAudit({ at: at + 1, event: 'ALERTS_TRUNCATED', actor: 'rectify', details: { truncated_alerts: 3, notification_id: 'ntf_told', told: told('alerts left out') } });
        tx.appendAudit({ at: at + 2, event: 'ALERTS_TRUNCATED', actor: 'rectify', details: { truncated_alerts: 5 } });
        tx.appendAudit({ at: at + 3, event: 'FAILED', actor: 'rectify', details: { notification_id: 'ntf_failed', told: told('failed') } });
      });
      const [since, after] = await store.transact((tx) => [tx.toldSince(0, 100), tx.toldAfter({ at: 0, seq: 0 }, 100)]);
      const named = (rows: typeof since) => rows.map((r) => [r.event, r.details.notification_id ?? null]);
      assert.deepEqual(named(since), [
        ['FAILED', 'ntf_failed'],
        ['ALERTS_TRUNCATED', 'ntf_told'],
        ['SUCCESS', 'ntf_success'],
      ]);
      assert.deepEqual(named(after), [
        ['SUCCESS', 'ntf_success'],
        ['ALERTS_TRUNCATED', 'ntf_told'],
        ['FAILED', 'ntf_failed'],
      ]);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
