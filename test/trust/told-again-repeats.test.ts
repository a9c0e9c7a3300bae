import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { createRepeatsCheckpointer, readBackRepeats, repeatableEvent, REPEATS_CHECKPOINT_EVERY_MS, REPEATS_RESTART_NOTE } from '../../src/engine/repeats-readback.js';
import { truncatedReason } from '../../src/engine/truncations.js';
import { createRepeatFilter } from '../../src/notify/repeats.js';
import type { NotificationEvent } from '../../src/notify/types.js';
import { createTestLogger } from '../../src/observability/index.js';
import { MIGRATIONS_DIR } from '../../src/service.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { type RecordedRequest } from '../helpers/http-target.js';
import { holdDatabaseLock, type HeldLock } from '../helpers/db-lock.js';
import { useRectifyProcesses, type RectifyProcess } from '../helpers/process.js';
import { httpRunbook, runbooksFile } from '../helpers/runbooks.js';
import { amWebhook, startTestService } from '../helpers/service.js';
import { until } from '../helpers/until.js';

/** The store takes writes: serving, not ready only for the runbooks it holds none of (`runbooks: {}`). */
const readiness = (b: { ready: boolean; store: string; runbooks: number }) => ({ ready: b.ready, store: b.store, runbooks: b.runbooks });
const NOT_READY_NO_RUNBOOK = { ready: false, store: 'ok', runbooks: 0 };

/**
 * A storm's repeated decisions are told once per runbook and service, and the repeats
 * counted into a summary told when the window ends (--notify-repeat-window, 5 minutes).
 * The counts live in memory: a kill -9 before the window ends must not lose them. The
 * next start counts them again from the audit log (after the filter's last checkpoint)
 * and tells the summary owed, with the exact count, once: not again after a clean stop
 * and another start.
 */

const runbooks = (base: string) => runbooksFile(httpRunbook('fix', { trigger: 'broken', url: `${base}/act/{service}`, maxPerHour: 1 }));

const json = (r: RecordedRequest) => r.json() as Record<string, any>;

describe('kill -9 in a storm of repeats: the summary owed is told at the next start, with the exact count, once', () => {
  const rig = useRectifyProcesses('rectify-told-again-repeats-', runbooks);
  const start = () => rig.start(['--notify-webhook', `${rig.target.url}/hook`]);
  const storm = async (p: RectifyProcess, service: string, from: number, n: number): Promise<string[]> => {
    const alerts = Array.from({ length: n }, (_, i) => ({ labels: { alertname: 'broken', service, n: String(from + i) }, fingerprint: `${service}-${from + i}` }));
    const r = await p.post('/api/v1/webhooks/alertmanager', amWebhook(alerts));
    assert.equal(r.status, 202);
    return r.body.results.map((x: { incident_id: string }) => x.incident_id);
  };
  /** What the filter's checkpoint holds, as the process wrote it to the database. */
  const checkpoint = (): { through: number; state: { windows: Array<[string, { repeats: number }]> } } | undefined => {
    const db = new Database(rig.db, { readonly: true });
    try {
      const row = db.prepare("SELECT value FROM settings WHERE key = 'notify_repeats'").get() as { value: string } | undefined;
      return row ? JSON.parse(row.value) : undefined;
    } finally {
      db.close();
    }
  };
  const summaries = (since: number) => rig.target.requests('/hook').filter((r) => r.at >= since && json(r).repeated !== undefined);

  it('49 RATE_LIMITED repeats counted (28 in a checkpoint, 21 after it), then SIGKILL: one summary of 49 after the restart, none after the next', async () => {
    rig.target.route('POST', '/hook', { status: 204 });
    rig.target.route('POST', '/act/shop', { status: 200 });
    rig.target.route('POST', '/act/cart', { status: 200 });
    let proc = await start();

    // The first alert runs (max_per_hour 1); the second is RATE_LIMITED and told; 28 more are counted.
    const first = await storm(proc, 'shop', 0, 30);
    const told = await rig.target.waitForRequest('/hook', { timeoutMs: 20_000, where: (r) => json(r).event === 'RATE_LIMITED' });
    assert.deepEqual([json(told).incident_id, json(told).repeated], [first[1], undefined]);
    // A housekeeping pass writes the filter's state, the 28 among it.
    await until('a checkpoint holding the 28 repeats', async () => (checkpoint()?.state.windows.some(([, w]) => w.repeats === 28) ? true : undefined), 20_000);
    // 21 more after the checkpoint, then the kill: what the process counted of them is in memory only.
    const second = await storm(proc, 'shop', 30, 21);
    await proc.kill9();
    assert.deepEqual(summaries(0), [], 'the window (5 minutes) had not ended: no summary was told before the kill');

    const restarted = Date.now();
    proc = await start();
    const [summary] = await until('the summary owed', async () => (summaries(restarted).length ? summaries(restarted) : undefined), 20_000);
    const s = json(summary!);
    assert.deepEqual([s.event, s.outcome, s.runbook, s.service, s.repeated, s.incident_id], ['RATE_LIMITED', 'blocked', 'fix', 'shop', 49, second[20]]);
    assert.match(s.reason, /^49 more RATE_LIMITED decision\(s\) for fix on shop since \d{4}-\d\d-\d\dT[\d:.]+Z; the latest: /);
    assert.ok(s.reason.endsWith(REPEATS_RESTART_NOTE), s.reason);
    // Nothing else of the storm is told again: the decisions told one by one were told.
    assert.equal(rig.target.requests('/hook').filter((r) => r.at >= restarted && json(r).event === 'RATE_LIMITED').length, 1);
    const cp = checkpoint()!;
    assert.deepEqual(cp.state.windows, [], 'nothing owed once told');

    // A clean stop and another start: told once, never again. A decision told one by one
    // after the start is queued behind anything that start told.
    assert.equal(await proc.stop(), 0);
    const again = Date.now();
    proc = await start();
    const cart = await storm(proc, 'cart', 0, 2);
    await rig.target.waitForRequest('/hook', { since: again, timeoutMs: 20_000, where: (r) => json(r).incident_id === cart[1] });
    assert.deepEqual(summaries(again), [], 'no summary told twice');
    assert.equal(summaries(0).length, 1);
    await proc.stop();
  });
});

describe('a summary told before a crash is not told again; one owed and not told is told once', () => {
  // The checkpoint recording a window closed is written in the housekeeping pass that closed
  // it; another connection holding the database's write lock (a backup, `rectify run
  // --local`) makes that write wait, long enough to crash in between, as a slow disk could.
  const rig = useRectifyProcesses('rectify-repeats-told-once-', runbooks);
  const WINDOW_MS = 2_000;
  const PASS_MS = REPEATS_CHECKPOINT_EVERY_MS;
  const start = (db: string) =>
    rig.start(['--notify-webhook', `${rig.target.url}/hook`, '--notify-repeat-window', `${WINDOW_MS / 1000}s`, '--db-busy-timeout', '120s'], db);
  let sent = 0;
  const storm = async (p: RectifyProcess, service: string, n: number): Promise<string[]> => {
    const alerts = Array.from({ length: n }, () => ({ labels: { alertname: 'broken', service, n: String(++sent) }, fingerprint: `${service}-${sent}` }));
    const r = await p.post('/api/v1/webhooks/alertmanager', amWebhook(alerts));
    assert.equal(r.status, 202);
    return r.body.results.map((x: { incident_id: string }) => x.incident_id);
  };
  const sql = <T>(db: string, query: string): T => {
    const c = new Database(db, { readonly: true });
    try {
      return c.prepare(query).pluck().get() as T;
    } finally {
      c.close();
    }
  };
  const summaries = (service: string) => rig.target.requests('/hook').filter((r) => json(r).repeated !== undefined && json(r).service === service);

  /**
   * A storm on `service` begun just after a housekeeping pass ended (its save of the guard
   * time seen): the first alert runs, the second is told, 28 are counted. Once what was told is
   * recorded, another connection takes the write lock, before the next pass: that pass comes
   * after the window ended, closes it and cannot write its checkpoint. Resolves when that pass
   * has had its time, the lock still held. With `crashOnSummary`, the
   * process is killed (SIGKILL) the moment the receiver has a summary.
   */
  async function stormThenLock(db: string, service: string, crashOnSummary = false): Promise<{ proc: RectifyProcess; incidents: string[]; lock: HeldLock }> {
    const proc = await start(db);
    crash = crashOnSummary ? () => process.kill(proc.pid, 'SIGKILL') : undefined;
    const passAt = () => sql<number | undefined>(db, "SELECT updated_at FROM settings WHERE key = 'guard:clock'");
    const before = passAt();
    await until('a housekeeping pass ending', async () => (passAt() !== before ? true : undefined), 3 * PASS_MS);
    const passEnded = Date.now();
    const incidents = await storm(proc, service, 30);
    await until('the run and the first repeat told and recorded', async () => (sql<number>(db, "SELECT count(*) FROM audit WHERE event = 'NOTIFIED'") >= 2 ? true : undefined), PASS_MS);
    const lock = await holdDatabaseLock(db, 30_000);
    const locked = Date.now();
    assert.ok(locked < passEnded + PASS_MS - 500, `the lock came ${locked - passEnded} ms after the pass: too late to come before the next one`);
    // The next pass (the window ended before it) closes the window and waits for the lock.
    const passed = passEnded + PASS_MS + 2_000;
    await new Promise((r) => setTimeout(r, passed - Date.now()));
    return { proc, incidents, lock };
  }

  /** A decision told one by one after a start, queued behind what the start told: once it is in, so is all the start told. */
  async function afterRestart(proc: RectifyProcess): Promise<void> {
    const since = Date.now();
    const other = await storm(proc, 'other', 2);
    await rig.target.waitForRequest('/hook', { since, timeoutMs: 20_000, where: (r) => json(r).incident_id === other[1] });
  }

  /** Called the moment the receiver has a summary. */
  let crash: (() => void) | undefined;
  before(() => {
    rig.target.route('POST', '/hook', (r) => {
      if (json(r).repeated !== undefined) crash?.();
      return { status: 204 };
    });
    for (const s of ['shop', 'cart', 'other']) rig.target.route('POST', `/act/${s}`, { status: 200 });
  });

  it('kill -9 the moment the receiver has a summary: the next start does not tell it again (one post across the crash)', async () => {
    const db = join(rig.dir, 'told.db');
    const { proc, incidents, lock } = await stormThenLock(db, 'shop', true);
    // Told while its checkpoint waited for the lock, the crash would come before that write;
    // told once it is written, the crash comes after it.
    await lock.release();
    await rig.target.waitForRequest('/hook', { since: 0, timeoutMs: 20_000, where: (r) => json(r).repeated !== undefined && json(r).service === 'shop' });
    await proc.kill9();
    crash = undefined;

    const again = await start(db);
    await afterRestart(again);
    assert.deepEqual(
      summaries('shop').map((r) => [json(r).repeated, json(r).incident_id, json(r).reason.endsWith(REPEATS_RESTART_NOTE)]),
      [[28, incidents[29], false]],
      'told once across the crash, before it',
    );
    await again.stop();
  });

  it('a summary whose checkpoint was never written (kill -9 while it waits) is told at the next start, once (one post)', async () => {
    const db = join(rig.dir, 'owed.db');
    const { proc, incidents, lock } = await stormThenLock(db, 'cart');
    await proc.kill9();
    await lock.release();
    assert.deepEqual(summaries('cart'), [], 'no summary told before the crash');

    const again = await start(db);
    await afterRestart(again);
    assert.equal(summaries('cart').length, 1, 'the summary owed is told, once');
    const s = json(summaries('cart')[0]!);
    assert.deepEqual([s.repeated, s.incident_id], [28, incidents[29]]);
    assert.ok(s.reason.endsWith(REPEATS_RESTART_NOTE), s.reason);
    // Its checkpoint is written now: a clean stop and another start tell it no more.
    assert.equal(await again.stop(), 0);
    const third = await start(db);
    await afterRestart(third);
    assert.equal(summaries('cart').length, 1);
    await third.stop();
  });
});

describe('the read-back at a start is bounded by the repeat window, not by rows', () => {
  const WINDOW = 300_000;
  const week = 7 * 86_400_000;
  const T0 = Date.UTC(2026, 11, 6, 6, 0, 0);
  const T1 = T0 + week;
  const horizon = T1 - WINDOW - 2 * REPEATS_CHECKPOINT_EVERY_MS;
  /** An ALERTS_TRUNCATED notice past the bound of those told one by one (a row recording no notification): one the filter counts. */
  const notice = (runbook: string, at: number, left: number) => ({ at, event: 'ALERTS_TRUNCATED' as const, runbook, actor: 'rectify', details: { truncated_alerts: left, delivered_alerts: 1 } });
  const open = () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-repeats-readback-'));
    return { dir, store: openSqliteStore({ path: join(dir, 'rectify.db'), migrationsDir: MIGRATIONS_DIR }) };
  };
  const filterTelling = (sent: NotificationEvent[], now: number) => createRepeatFilter((e) => void sent.push(e), { windowMs: WINDOW, now: () => now });

  it('a checkpoint a week old is stale: its counts and the old rows after it are dropped, not told; the rows within the window are counted exactly, page by page', async () => {
    const { dir, store } = open();
    try {
      // A week ago: a storm of notices for runbook `old`, checkpointed after its second row,
      // then three more rows the checkpoint does not hold (its writes failing, say).
      const old = [0, 1, 2, 3, 4].map((i) => notice('old', T0 + i * 1_000, 10 + i));
      await store.transact((tx) => old.forEach((r) => tx.appendAudit(r)));
      const live = filterTelling([], T0);
      for (const r of old.slice(0, 2)) live.notify(repeatableEvent({ seq: 0, at: r.at, event: r.event, incident_id: null, runbook: r.runbook, service: null, outcome: 'manual', details: r.details }));
      assert.equal(live.owed(), 1);
      await store.transact((tx) => tx.setRepeatsCheckpoint(JSON.stringify({ through: 2, state: live.snapshot().state }), T0 + 1_000));
      // Now: one row just before the horizon (the window and two housekeeping passes before
      // the newest row), then three within it, the newest at T1.
      const recent = [notice('new', horizon - 1, 20), notice('new', T1 - 250_000, 21), notice('new', T1 - 200_000, 22), notice('new', T1, 24)];
      await store.transact((tx) => recent.forEach((r) => tx.appendAudit(r)));

      const sent: NotificationEvent[] = [];
      const log = createTestLogger({ capture: true });
      const result = readBackRepeats(store, filterTelling(sent, T1), WINDOW, log.logger, 2);
      assert.deepEqual(result, { rows: 3, owed: 1, stale: true });
      // The first row within the horizon was told (the first of its window), the two after it counted.
      assert.deepEqual(
        sent.map((e) => [e.event, e.runbook, e.repeated, e.at, e.reason]),
        [['ALERTS_TRUNCATED', 'new', 2, T1, `2 more ALERTS_TRUNCATED decision(s) for new on no service since ${new Date(T1 - 250_000).toISOString()}; the latest: ${truncatedReason(24, 1)}${REPEATS_RESTART_NOTE}`]],
      );
      const warned = log.records().filter((r) => r.level === 'warn');
      assert.deepEqual(
        warned.map((r) => [r.msg, r.checkpoint_through, r.from]),
        [['the checkpoint of the repeated decisions counted is older than the repeat window: its counts are dropped, not told; those of the rows within the window are counted again', 2, 7]],
      );
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a checkpoint within the window is taken: its counts and every row after it, as the filter counted them', async () => {
    const { dir, store } = open();
    try {
      const rows = [0, 1, 2, 3, 4, 5].map((i) => notice('new', T1 - 200_000 + i * 1_000, 30 + i));
      await store.transact((tx) => rows.forEach((r) => tx.appendAudit(r)));
      const told: NotificationEvent[] = [];
      let now = 0;
      const live = createRepeatFilter((e) => void told.push(e), { windowMs: WINDOW, now: () => now });
      const events = rows.map((r, i) => repeatableEvent({ seq: i + 1, at: r.at, event: r.event, incident_id: null, runbook: r.runbook, service: null, outcome: 'manual', details: r.details }));
      for (const e of events.slice(0, 3)) {
        now = e.at;
        live.notify(e);
      }
      await store.transact((tx) => tx.setRepeatsCheckpoint(JSON.stringify({ through: 3, state: live.snapshot().state }), T1));
      for (const e of events.slice(3)) {
        now = e.at;
        live.notify(e);
      }
      live.flush(true, REPEATS_RESTART_NOTE);

      const sent: NotificationEvent[] = [];
      assert.deepEqual(readBackRepeats(store, filterTelling(sent, T1), WINDOW, createTestLogger().logger, 2), { rows: 3, owed: 1, stale: false });
      assert.deepEqual(sent, told.slice(1));
      assert.deepEqual(sent.map((e) => e.repeated), [5]);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the read-back of a window closed after the checkpoint', () => {
  it('a window a decision after the checkpoint closed held its summary for a later checkpoint, never written: owed, told at the start once, and not at the next', async () => {
    const WINDOW = 300_000;
    const T = Date.UTC(2026, 11, 6, 6, 0, 0);
    const dir = mkdtempSync(join(tmpdir(), 'rectify-repeats-closed-'));
    const store = openSqliteStore({ path: join(dir, 'rectify.db'), migrationsDir: MIGRATIONS_DIR });
    try {
      const notice = (at: number, left: number) => ({ at, event: 'ALERTS_TRUNCATED' as const, runbook: 'cart', actor: 'rectify', details: { truncated_alerts: left, delivered_alerts: 1 } });
      const asEvent = (r: ReturnType<typeof notice>) => repeatableEvent({ seq: 0, at: r.at, event: r.event, incident_id: null, runbook: r.runbook, service: null, outcome: 'manual', details: r.details });
      const live: NotificationEvent[] = [];
      let now = T;
      const filter = createRepeatFilter((e) => void live.push(e), { windowMs: WINDOW, now: () => now, holdSummaries: true });
      // Three rows in a window (the first told, two counted), checkpointed; then one after the
      // window's end, which closes it at intake: its summary waits for the next checkpoint, and
      // the crash comes first.
      const rows = [notice(T, 50), notice(T + 1_000, 51), notice(T + 2_000, 52)];
      await store.transact((tx) => rows.forEach((r) => tx.appendAudit(r)));
      for (const r of rows) filter.notify(asEvent(r));
      await createRepeatsCheckpointer(store, filter, () => now)();
      const late = notice(T + WINDOW + 1_000, 53);
      await store.transact((tx) => tx.appendAudit(late));
      now = late.at;
      filter.notify(asEvent(late));
      assert.deepEqual(live.map((e) => [e.at, e.repeated]), [[T, undefined], [late.at, undefined]], 'the summary was held, not told');

      const start = (sent: NotificationEvent[]) => {
        const g = createRepeatFilter((e) => void sent.push(e), { windowMs: WINDOW, now: () => late.at + 60_000, holdSummaries: true });
        const result = readBackRepeats(store, g, WINDOW, createTestLogger().logger, 2);
        return { g, result };
      };
      const sent: NotificationEvent[] = [];
      const first = start(sent);
      assert.deepEqual(first.result, { rows: 1, owed: 1, stale: false });
      assert.equal(sent.length, 0, 'held until the start writes its checkpoint');
      await createRepeatsCheckpointer(store, first.g, () => late.at + 60_000)(true);
      assert.deepEqual(sent.map((e) => [e.runbook, e.repeated, e.at, e.reason.endsWith(REPEATS_RESTART_NOTE)]), [['cart', 2, T + 2_000, true]]);

      const again: NotificationEvent[] = [];
      assert.deepEqual(start(again).result, { rows: 0, owed: 0, stale: false });
      assert.deepEqual(again, []);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the read-back after a crash and a long downtime', () => {
  it('reckons its horizon from the log as the crash left it, not from a row the start writes (an INTERRUPTED, an audit key): the summary owed is told', async () => {
    const WINDOW = 300_000;
    const T = Date.UTC(2026, 11, 6, 6, 0, 0);
    const dir = mkdtempSync(join(tmpdir(), 'rectify-repeats-downtime-'));
    const store = openSqliteStore({ path: join(dir, 'rectify.db'), migrationsDir: MIGRATIONS_DIR });
    try {
      const notice = (at: number, left: number) => ({ at, event: 'ALERTS_TRUNCATED' as const, runbook: 'cart', actor: 'rectify', details: { truncated_alerts: left, delivered_alerts: 1 } });
      // Six rows of a storm, the checkpoint after the fourth (the first told, three counted), two after it.
      const rows = [0, 1, 2, 3, 4, 5].map((i) => notice(T + i * 1_000, 40 + i));
      await store.transact((tx) => rows.forEach((r) => tx.appendAudit(r)));
      const live = createRepeatFilter(() => undefined, { windowMs: WINDOW, now: () => T + 3_000 });
      for (const r of rows.slice(0, 4)) live.notify(repeatableEvent({ seq: 0, at: r.at, event: r.event, incident_id: null, runbook: r.runbook, service: null, outcome: 'manual', details: r.details }));
      await store.transact((tx) => tx.setRepeatsCheckpoint(JSON.stringify({ through: 4, state: live.snapshot().state }), T + 3_000));
      // The crash; the log as it left it. Ten minutes later the start writes a row of its own.
      const left = store.read((tx) => tx.auditNewest());
      await store.transact((tx) => tx.appendAudit({ at: T + 600_000, event: 'INTERRUPTED', runbook: 'cart', actor: 'rectify', details: { reason: 'cut off by the last stop' } }));
      const sent: NotificationEvent[] = [];
      const result = readBackRepeats(store, createRepeatFilter((e) => void sent.push(e), { windowMs: WINDOW, now: () => T + 600_000 }), WINDOW, createTestLogger().logger, 2, left ?? null);
      assert.deepEqual(result, { rows: 2, owed: 1, stale: false });
      assert.deepEqual(sent.map((e) => [e.event, e.runbook, e.repeated]), [['ALERTS_TRUNCATED', 'cart', 5]]);
      // Reckoned from the newest row now (the start's own), the checkpoint read as stale and nothing was told.
      const fromNow: NotificationEvent[] = [];
      assert.deepEqual(readBackRepeats(store, createRepeatFilter((e) => void fromNow.push(e), { windowMs: WINDOW, now: () => T + 600_000 }), WINDOW, createTestLogger().logger, 2), { rows: 0, owed: 0, stale: true });
      assert.deepEqual(fromNow, []);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a start whose checkpoint of the repeats is damaged', () => {
  it('logs it and goes on, nothing told as owed: a row that is not JSON, or names no audit row', async () => {
    const first = await startTestService({ runbooks: 'runbooks: {}\n', captureLogs: true });
    await first.stop();
    for (const [value, why] of [
      ['{"through": 12, "state"', /JSON/],
      ['{"through": "x", "state": null}', /its audit row is "x", not a seq/],
    ] as const) {
      const db = new Database(first.dbPath);
      db.prepare("UPDATE settings SET value = ? WHERE key = 'notify_repeats'").run(value);
      db.close();
      // A receiver: only then are the repeats read back.
      const again = await startTestService({ dir: first.dir, clock: first.clock, captureLogs: true, args: ['--notify-webhook', 'http://127.0.0.1:9/hook'] });
      try {
        assert.deepEqual(readiness((await again.get('/readyz')).body), NOT_READY_NO_RUNBOOK);
        const warned = again.log.records().filter((r) => r.msg === 'the checkpoint of the repeated decisions counted cannot be read: taken as none, nothing is told as owed');
        assert.equal(warned.length, 1, value);
        assert.match((warned[0]!.err as { message: string }).message, why);
      } finally {
        await again.stop();
      }
    }
    await first.stop({ remove: true }).catch(() => undefined);
  });
});

describe('a start whose checkpoint of the repeats cannot be written', () => {
  it('logs it and goes on: the service starts and serves, as when a housekeeping pass or a stop cannot write it', async () => {
    const first = await startTestService({ runbooks: 'runbooks: {}\n', captureLogs: true });
    await first.stop();
    // The database refuses that row from now on (a full disk, a broken settings table...).
    const db = new Database(first.dbPath);
    db.exec(`CREATE TRIGGER refuse_repeats_insert BEFORE INSERT ON settings WHEN NEW.key = 'notify_repeats' BEGIN SELECT RAISE(ABORT, 'settings write refused'); END;
             CREATE TRIGGER refuse_repeats_update BEFORE UPDATE ON settings WHEN NEW.key = 'notify_repeats' BEGIN SELECT RAISE(ABORT, 'settings write refused'); END;`);
    db.close();
    const again = await startTestService({ dir: first.dir, clock: first.clock, captureLogs: true });
    try {
      assert.deepEqual(readiness((await again.get('/readyz')).body), NOT_READY_NO_RUNBOOK);
      const warned = again.log.records().filter((r) => r.msg === 'could not write the checkpoint of the repeated decisions counted');
      assert.deepEqual(
        warned.map((r) => [r.level, (r.err as { message: string }).message]),
        [['warn', 'settings write refused']],
      );
    } finally {
      await again.stop({ remove: true });
    }
  });
});
