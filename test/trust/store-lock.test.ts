import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { MIGRATIONS_DIR } from '../../src/service.js';
import { firstStepUnrecordedOutcome, firstStepUnrecordedReason } from '../../src/execute/before-first-step.js';
import type { Store } from '../../src/store/ports.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { holdDatabaseLock } from '../helpers/db-lock.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService } from '../helpers/service.js';
import { until } from '../helpers/until.js';

/**
 * A write lock held by another process (an operator's sqlite3 shell, a second
 * program) for longer than --db-busy-timeout. The wait for it must not hold the event
 * loop: every request, /readyz included, is answered while the lock stands, and each
 * intake request within about --db-busy-timeout of its arrival, however many wait.
 */

const runbooks = (base: string) => `runbooks:
  fix:
    risk: LOW
    triggers: [broken]
    min_confidence: 0.5
    max_per_hour: 100
    cooldown_minutes: 0
    actions:
      - http: {method: POST, url: "${base}/act/{service}"}
`;
const broken = (service: string, id: string) => ({ root_cause: 'broken', service, confidence: 1, id });
/** A run's outcome names the fault, not the store's "retry later" meant for a request's sender. */
const COMMIT_FAILED = 'the database could not commit (SQLITE_BUSY: database is locked)';
const LOCKED = 'SQLITE_BUSY: database is locked (another connection holds its write lock; a commit waits for it up to 1000 ms)';

describe('a database locked by another process', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
    for (const s of ['ready', 'wait', 'locked', 'first']) target.route('POST', `/act/${s}`, { status: 200 });
  });
  after(async () => target.close());

  it('once a commit failed on the lock, /readyz answers at once 503 naming it, until a write succeeds again', async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--db-busy-timeout', '1s'] });
    const lock = await holdDatabaseLock(svc.dbPath);
    try {
      const r = await svc.post('/api/v1/incidents?wait=true', broken('ready', 'READY-1'));
      assert.deepEqual([r.status, r.body.error.code, r.headers['retry-after']], [503, 'STORE_UNAVAILABLE', '5']);
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        const ready = await svc.get('/readyz');
        const took = performance.now() - t0;
        // Before, the probe waited out the busy timeout on the event loop (and every
        // request with it), and answered 200 if the lock went meanwhile.
        assert.ok(took < 300, `/readyz answered after ${Math.round(took)} ms`);
        assert.equal(ready.status, 503);
        assert.deepEqual({ ready: ready.body.ready, store: ready.body.store, store_error: ready.body.store_error }, { ready: false, store: 'unavailable', store_error: LOCKED });
        await delay(100);
      }
    } finally {
      await lock.release();
    }
    await until('readyz 200', async () => ((await svc.get('/readyz')).status === 200 ? true : undefined));
    const again = await svc.post('/api/v1/incidents?wait=true', broken('ready', 'READY-1'));
    assert.deepEqual([again.status, again.body.action, again.body.success], [202, 'executed', true]);
    assert.equal(target.calls('/act/ready'), 1);
    await svc.stop({ remove: true });
  });

  it('within --db-busy-timeout of the lock, before any commit failed on it, /readyz answers 503 naming it; ready again once it goes', async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--db-busy-timeout', '60s'] });
    const waitingFor = 'SQLITE_BUSY: database is locked (another connection holds its write lock; a commit waits for it up to 60000 ms)';
    assert.equal((await svc.get('/readyz')).status, 200);
    const lock = await holdDatabaseLock(svc.dbPath);
    let released = false;
    try {
      // Nothing waits to be written yet: the probe finds the lock taken.
      const idle = await svc.get('/readyz');
      assert.equal(idle.status, 503);
      assert.deepEqual({ ready: idle.body.ready, store: idle.body.store, store_error: idle.body.store_error }, { ready: false, store: 'unavailable', store_error: waitingFor });
      // A request waits for the lock (well within its busy timeout): still not ready, and the wait goes on.
      const waiting = svc.post('/api/v1/incidents?wait=true', broken('locked', 'LOCKED-1'));
      await until('the request waits for the lock', async () => (svc.service.store.pending() > 0 ? true : undefined));
      const busy = await svc.get('/readyz');
      assert.deepEqual([busy.status, busy.body.store, busy.body.store_error], [503, 'unavailable', waitingFor]);
      await lock.release();
      released = true;
      const r = await waiting;
      assert.deepEqual([r.status, r.body.action, r.body.success], [202, 'executed', true]);
    } finally {
      if (!released) await lock.release();
    }
    const ready = await svc.get('/readyz');
    assert.deepEqual([ready.status, ready.body.ready, ready.body.store, ready.body.store_error], [200, true, 'ok', undefined]);
    assert.equal(target.calls('/act/locked'), 1);
    await svc.stop({ remove: true });
  });

  it('each request waits about --db-busy-timeout at most, however many wait: 503 with nothing recorded, or 202 when the lock goes in time', async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--db-busy-timeout', '1s'] });
    const lock = await holdDatabaseLock(svc.dbPath);
    let released = false;
    try {
      // Four requests a quarter of a second apart, each timed from when it was due:
      // before, each commit batch waited its whole busy timeout in turn on the event
      // loop, so the later ones were not even read until the earlier ones gave up.
      const t0 = performance.now();
      const answers = await Promise.all(
        [0, 250, 500, 750].map(async (at, k) => {
          await delay(at);
          const r = await svc.post('/api/v1/incidents?wait=true', broken('wait', `WAIT-${k}`));
          return { status: r.status, code: r.body.error?.code, waited: performance.now() - (t0 + at) };
        }),
      );
      for (const [k, a] of answers.entries()) {
        assert.deepEqual([a.status, a.code], [503, 'STORE_UNAVAILABLE'], `WAIT-${k}`);
        assert.ok(a.waited >= 950 && a.waited < 1_500, `WAIT-${k} answered after ${Math.round(a.waited)} ms`);
      }
      // A request still waiting when the lock goes is committed and decided: nothing answered 503 was, nothing accepted is lost.
      const sent = performance.now();
      const late = svc.post('/api/v1/incidents?wait=true', broken('wait', 'WAIT-LATE'));
      await delay(300);
      await lock.release();
      released = true;
      const r = await late;
      assert.deepEqual([r.status, r.body.action, r.body.success], [202, 'executed', true]);
      assert.ok(performance.now() - sent < 1_000);
    } finally {
      if (!released) await lock.release();
    }
    for (let k = 0; k < 4; k++) assert.equal((await svc.get(`/api/v1/incidents/WAIT-${k}`)).status, 404, `WAIT-${k} was not recorded`);
    assert.equal(target.calls('/act/wait'), 1, 'only the committed request acted');
    // The sender retries a refused one: decided now, once.
    const retried = await svc.post('/api/v1/incidents?wait=true', broken('wait', 'WAIT-0'));
    assert.deepEqual([retried.status, retried.body.action], [202, 'executed']);
    assert.equal(target.calls('/act/wait'), 2);
    assert.equal((await svc.get('/api/v1/audit/verify')).body.ok, true);
    await svc.stop({ remove: true });
  });

  it('closing the store while units wait for the lock answers them once, after one last wait', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-lock-'));
    const path = join(dir, 'db.sqlite');
    const store = openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR, busyTimeoutMs: 200 });
    const lock = await holdDatabaseLock(path);
    try {
      const waiting = store.transact((tx) => tx.appendAudit({ at: 1, event: 'SERVICE_PAUSED', actor: 'waiting', details: {} }));
      await delay(20);
      assert.equal(store.pending(), 1, 'the unit waits in the queue, not in SQLite');
      store.close();
      await assert.rejects(waiting, { code: 'STORE_UNAVAILABLE' });
    } finally {
      await lock.release();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a unit given a shorter lockWaitMs (a Slack click) is refused once it is up, nothing of it recorded, while the others wait on and are recorded when the lock goes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-lock-'));
    const path = join(dir, 'db.sqlite');
    const store = openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR, busyTimeoutMs: 60_000 });
    const lock = await holdDatabaseLock(path);
    try {
      const waits = store.transact((tx) => tx.appendAudit({ at: 1, event: 'SERVICE_PAUSED', actor: 'waits', details: {} }));
      const short = store.transact((tx) => tx.appendAudit({ at: 2, event: 'SERVICE_PAUSED', actor: 'short', details: {} }), { lockWaitMs: 200 });
      await assert.rejects(short, { code: 'STORE_UNAVAILABLE', message: 'the database could not commit; nothing was recorded, retry later' });
      assert.equal(store.pending(), 1, 'the other unit still waits');
      await lock.release();
      await waits;
      assert.deepEqual(store.queryAudit({ event: 'SERVICE_PAUSED', limit: 5 }).map((e) => e.actor), ['waits']);
    } finally {
      await lock.release();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a /metrics scrape does not wait for the expiry of an approval request past its deadline: answered while the lock is held, the request not counted pending', async () => {
    const ask = `runbooks:
  ask:
    risk: HIGH
    triggers: [scary]
    min_confidence: 0.5
    action:
      http: {method: POST, url: "${target.url}/act/ask"}
    rollback: none
    rollback_reason: test
`;
    const svc = await startTestService({ runbooks: ask, args: ['--db-busy-timeout', '8s'] });
    const pending = async () => /^rectify_approvals_pending (\S+)$/m.exec((await svc.get('/metrics')).body)?.[1];
    try {
      const asked = await svc.post('/api/v1/incidents', { root_cause: 'scary', service: 'db', confidence: 1 });
      assert.equal(asked.body.action, 'approval_required');
      assert.equal(await pending(), '1');
      svc.clock.advance(2 * 3600_000);
      // Held for less than the busy timeout: a scrape that waited for the expiry's write would answer only once it is gone.
      const lock = await holdDatabaseLock(svc.dbPath, 4_000);
      try {
        assert.equal(await pending(), '0');
        assert.equal(lock.held(), true);
        // The expiry is still waiting for the lock (a housekeeping pass may wait beside it).
        assert.ok(svc.service.store.pending() >= 1);
      } finally {
        await lock.release();
      }
      const approval = await until('the expiry written once the lock went', async () => {
        const a = await svc.get(`/api/v1/approvals/${asked.body.approval_id}`);
        return a.body.status === 'expired' ? a.body : undefined;
      });
      assert.equal(approval.status, 'expired');
      assert.equal(await pending(), '0');
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a run whose first step\'s start could not be recorded (the lock taken right after its claim) ran nothing: it ends INTERRUPTED before its first step naming the lock, needs_human true, no breaker failure, and no "retry later"', async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--circuit-failure-threshold', '1', '--db-busy-timeout', '100ms'], captureLogs: true });
    const other = new Database(svc.dbPath);
    try {
      // The lock is taken by another connection in the instant after the claim (intake's
      // commit) and before the run's first write: the record of its first step's start.
      const store = svc.service.store as Store;
      const transact = store.transact.bind(store);
      let armed = false;
      let held = false;
      store.transact = ((work: Parameters<Store['transact']>[0], opts?: Parameters<Store['transact']>[1]) => {
        if (opts?.refusable) armed = true;
        else if (armed && !held) {
          held = true;
          other.exec('BEGIN EXCLUSIVE');
        }
        return transact(work, opts);
      }) as Store['transact'];
      const r = await svc.post('/api/v1/incidents', broken('first', 'bf1'));
      assert.deepEqual([r.status, r.body.action, r.body.event], [202, 'executed', 'EXECUTING']);
      const executionId = r.body.execution_id as string;
      await until('the failed record of the first step', async () => svc.log.lines.some((l) => l.includes('execution could not record its progress')) || undefined);
      other.exec('ROLLBACK');
      const e = await until('the end recorded', async () => {
        const g = await svc.get(`/api/v1/executions/${executionId}`);
        return g.body.state === 'running' ? undefined : g.body;
      });
      // rectify did not stop it: the fault is named, and the remediation that did not happen is left to a person.
      assert.deepEqual([e.state, e.outcome, e.needs_human, e.steps], ['interrupted', firstStepUnrecordedOutcome(COMMIT_FAILED), true, []]);
      assert.equal(e.outcome, `interrupted before its first step: its start could not be recorded (${COMMIT_FAILED}); nothing was run`);
      assert.equal(target.calls('/act/first'), 0);
      const rows = (await svc.get(`/api/v1/audit?execution_id=${executionId}&limit=50`)).body.events.reverse();
      assert.deepEqual(rows.map((a: { event: string }) => a.event), ['EXECUTING', 'INTERRUPTED']);
      assert.equal(rows[1].details.reason, firstStepUnrecordedReason(COMMIT_FAILED));
      assert.deepEqual([rows[1].details.last_step, rows[1].details.nothing_changed, rows[1].details.needs_human], [null, true, true]);
      assert.equal(JSON.stringify(e).includes('retry later'), false);
      // No breaker failure: with a threshold of 1, the next alert still runs.
      assert.equal((await svc.get('/api/v1/runbooks/fix')).body.circuit.state, 'closed');
      const again = await svc.post('/api/v1/incidents', broken('first', 'bf1'));
      assert.deepEqual([again.body.event, again.body.reason], ['DUPLICATE', `already decided: executed (EXECUTING); its run ${executionId} ended interrupted: a person must check`]);
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      await svc.stop({ remove: true });
    }
  });

  it('a run whose action failed, then found the database locked when recording it, ends INTERRUPTED with that failure and is counted by the breaker', async () => {
    let go: () => void = () => {};
    const gate = new Promise<void>((r) => (go = r));
    target.route('POST', '/act/failing', async () => (await gate, { status: 500 }));
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--circuit-failure-threshold', '1', '--db-busy-timeout', '200ms'] });
    try {
      const run = svc.post('/api/v1/incidents?wait=true', broken('failing', 'lk1'));
      await target.waitForRequest('/act/failing', { since: 0 });
      const lock = await holdDatabaseLock(svc.dbPath, 10_000);
      try {
        go();
        // The action's failure cannot be recorded while the lock stands (each try waits 200 ms).
        await delay(1_500);
      } finally {
        await lock.release();
      }
      const r = (await run).body;
      const failure = `action 1 failed: POST ${target.url}/act/failing → 500, expected 200-299`;
      assert.deepEqual([r.action, r.event, r.success], ['aborted', 'INTERRUPTED', false]);
      const rows = (await svc.get('/api/v1/audit?runbook=fix&limit=50')).body.events.reverse();
      assert.deepEqual(
        rows.map((e: any) => e.event),
        ['EXECUTING', 'STEP_STARTED', 'INTERRUPTED', 'CIRCUIT_TRIPPED'],
      );
      assert.deepEqual(rows[2].details, { reason: `progress could not be recorded: ${COMMIT_FAILED}`, failure, steps: 1 });
      assert.deepEqual([rows[3].details.reason, rows[3].details.failures], ['1 consecutive failures (threshold 1)', 1]);
      assert.equal(r.reason, `recording failed after: ${failure}; ${COMMIT_FAILED}`);
      assert.deepEqual((await svc.get('/api/v1/runbooks/fix')).body.circuit.state, 'open');
      const next = await svc.post('/api/v1/incidents', broken('failing', 'lk2'));
      assert.deepEqual([next.body.action, next.body.event], ['blocked', 'CIRCUIT_OPEN']);
    } finally {
      go();
      await svc.stop({ remove: true });
    }
  });
});

/**
 * A stop (the service's close, as at SIGTERM) that aborts a run's step while the database
 * cannot record the step's end, or the run's end. The step the stop's abort ended says
 * nothing of the runbook: the breaker's count stays as it was before the stop, as it does
 * when the store takes those records. A step that failed on its own before the stop is
 * still counted.
 */
describe('a stop while the database cannot record the run', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/act/bad', { status: 500 });
    target.route('POST', '/act/hang', { status: 200, delayMs: 120_000 });
    target.route('POST', '/act/hang2', { status: 200, delayMs: 120_000 });
    target.route('POST', '/act/hang3', { status: 200, delayMs: 120_000 });
    target.route('POST', '/act/own2', { status: 500 });
  });
  after(async () => target.close());

  const start = (busyTimeout = '200ms') =>
    startTestService({ runbooks: runbooks(target.url), args: ['--circuit-failure-threshold', '3', '--db-busy-timeout', busyTimeout, '--shutdown-grace', '0s'], captureLogs: true });
  /** One failed run of `fix`: the breaker's count is 1 before each stop. */
  async function failOnce(svc: Awaited<ReturnType<typeof start>>): Promise<void> {
    const r = await svc.post('/api/v1/incidents?wait=true', broken('bad', 'bad-1'));
    assert.deepEqual([r.body.action, r.body.success], ['executed', false]);
    assert.deepEqual((await svc.get('/api/v1/runbooks/fix')).body.circuit.state, 'closed');
  }
  /** What the database holds after the stop: the circuit, the run's row and its audit rows. */
  function stored(dbPath: string, executionId: string) {
    const d = new Database(dbPath, { readonly: true });
    try {
      return {
        circuit: d.prepare('SELECT state, failures FROM circuits WHERE runbook = ?').get('fix'),
        execution: d.prepare('SELECT state, outcome FROM executions WHERE id = ?').get(executionId) as { state: string; outcome: string },
        events: (d.prepare('SELECT event, details FROM audit WHERE execution_id = ? ORDER BY seq').all(executionId) as Array<{ event: string; details: string }>).map((a) => ({
          event: a.event,
          details: JSON.parse(a.details) as Record<string, unknown>,
        })),
        tripped: (d.prepare("SELECT COUNT(*) AS n FROM audit WHERE event IN ('CIRCUIT_TRIPPED', 'CIRCUIT_WAIT_RESTARTED')").get() as { n: number }).n,
      };
    } finally {
      d.close();
    }
  }
  /** Once the step's end (STEP_FINISHED) is committed, `other` takes the write lock, before the run's end. */
  function lockAfterStepEnd(svc: Awaited<ReturnType<typeof start>>, other: Database.Database): { held: boolean } {
    const lock = { held: false };
    const store = svc.service.store as Store;
    const transact = store.transact.bind(store);
    store.transact = ((work: Parameters<Store['transact']>[0], opts?: Parameters<Store['transact']>[1]) => {
      let stepEnd = false;
      const p = transact((tx) => {
        const seen = new Proxy(tx, {
          get(t, k) {
            if (k === 'appendAudit') return (row: { event: string }) => ((stepEnd ||= row.event === 'STEP_FINISHED'), t.appendAudit(row as Parameters<typeof t.appendAudit>[0]));
            const v = (t as unknown as Record<string | symbol, unknown>)[k];
            return typeof v === 'function' ? v.bind(t) : v;
          },
        });
        return work(seen);
      }, opts);
      void p.then(() => {
        if (stepEnd && !lock.held) {
          lock.held = true;
          other.exec('BEGIN EXCLUSIVE');
        }
      }, () => undefined);
      return p;
    }) as Store['transact'];
    return lock;
  }
  const progressUnrecorded = (svc: Awaited<ReturnType<typeof start>>) =>
    until('the failed record', async () => svc.log.lines.some((l) => l.includes('execution could not record its progress')) || undefined);

  it("a step the stop's abort ended, whose end the database could not record (its write lock held elsewhere): INTERRUPTED, no breaker failure, the count as before the stop", async () => {
    const svc = await start();
    const other = new Database(svc.dbPath);
    try {
      await failOnce(svc);
      const r = await svc.post('/api/v1/incidents', broken('hang', 'hang-1'));
      assert.deepEqual([r.body.action, r.body.event], ['executed', 'EXECUTING']);
      await target.waitForRequest('/act/hang', { since: 0 });
      other.exec('BEGIN EXCLUSIVE');
      const closing = svc.service.close();
      await progressUnrecorded(svc);
      other.exec('ROLLBACK');
      assert.deepEqual(await closing, { unrecorded: [] });
      const s = stored(svc.dbPath, r.body.execution_id as string);
      assert.deepEqual(s.circuit, { state: 'closed', failures: 1 });
      assert.equal(s.tripped, 0);
      assert.deepEqual([s.execution.state, s.execution.outcome], ['interrupted', `recording failed: ${COMMIT_FAILED}`]);
      assert.deepEqual(
        s.events.map((e) => e.event),
        ['EXECUTING', 'STEP_STARTED', 'INTERRUPTED'],
      );
      assert.deepEqual(s.events[2]!.details, { reason: `progress could not be recorded: ${COMMIT_FAILED}`, steps: 1 });
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      await svc.stop({ remove: true });
    }
  });

  it("a step the stop's abort ended, its end recorded, then the run's end not at first: INTERRUPTED, no breaker failure, the count as before the stop", async () => {
    const svc = await start();
    const other = new Database(svc.dbPath);
    try {
      await failOnce(svc);
      const r = await svc.post('/api/v1/incidents', broken('hang2', 'hang-2'));
      assert.deepEqual([r.body.action, r.body.event], ['executed', 'EXECUTING']);
      await target.waitForRequest('/act/hang2', { since: 0 });
      const lock = lockAfterStepEnd(svc, other);
      const closing = svc.service.close();
      await progressUnrecorded(svc);
      assert.equal(lock.held, true);
      other.exec('ROLLBACK');
      assert.deepEqual(await closing, { unrecorded: [] });
      const s = stored(svc.dbPath, r.body.execution_id as string);
      assert.deepEqual(s.circuit, { state: 'closed', failures: 1 });
      assert.equal(s.tripped, 0);
      assert.deepEqual([s.execution.state, s.execution.outcome], ['interrupted', `recording failed: ${COMMIT_FAILED}`]);
      assert.deepEqual(
        s.events.map((e) => e.event),
        ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'INTERRUPTED'],
      );
      assert.equal(s.events[2]!.details.detail, `POST ${target.url}/act/hang2: aborted (the request may have reached the target)`);
      assert.deepEqual(s.events[3]!.details, { reason: `progress could not be recorded: ${COMMIT_FAILED}`, steps: 1 });
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      await svc.stop({ remove: true });
    }
  });

  /** The run's recorded steps, as the next start's recovery reads them. */
  function storedSteps(dbPath: string, executionId: string): unknown[] {
    const d = new Database(dbPath, { readonly: true });
    try {
      return JSON.parse((d.prepare('SELECT steps FROM executions WHERE id = ?').get(executionId) as { steps: string }).steps) as unknown[];
    } finally {
      d.close();
    }
  }

  it("a step the stop's abort ended, its end recorded, then the database locked for the whole stop: the next start ends the run INTERRUPTED, no breaker failure, the count as before the stop", async () => {
    const svc = await start();
    let again: Awaited<ReturnType<typeof start>> | undefined;
    const other = new Database(svc.dbPath);
    try {
      await failOnce(svc);
      const r = await svc.post('/api/v1/incidents', broken('hang3', 'hang-3'));
      assert.deepEqual([r.body.action, r.body.event], ['executed', 'EXECUTING']);
      const id = r.body.execution_id as string;
      await target.waitForRequest('/act/hang3', { since: 0 });
      const lock = lockAfterStepEnd(svc, other);
      // The lock stays held until the stop gives up on the run's end: it is left running.
      assert.deepEqual(await svc.service.close(), { unrecorded: [id] });
      assert.equal(lock.held, true);
      other.exec('ROLLBACK');
      const aborted = `POST ${target.url}/act/hang3: aborted (the request may have reached the target)`;
      assert.deepEqual(stored(svc.dbPath, id).execution, { state: 'running', outcome: null });
      assert.deepEqual(
        storedSteps(svc.dbPath, id).map((st) => (({ phase, index, ok, detail, stopped }: Record<string, unknown>) => ({ phase, index, ok, detail, stopped }))(st as Record<string, unknown>)),
        [{ phase: 'action', index: 0, ok: false, detail: aborted, stopped: true }],
      );
      // The next start's recovery reads the step as the stop did: cut off, no failure.
      again = await svc.restart();
      const s = stored(svc.dbPath, id);
      assert.deepEqual(s.circuit, { state: 'closed', failures: 1 });
      assert.equal(s.tripped, 0);
      assert.deepEqual([s.execution.state, s.execution.outcome], ['interrupted', 'interrupted: rectify stopped while it ran']);
      assert.deepEqual(
        s.events.map((e) => e.event),
        ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'INTERRUPTED'],
      );
      assert.deepEqual([s.events[2]!.details.ok, s.events[2]!.details.detail, s.events[2]!.details.stopped], [false, aborted, true]);
      assert.deepEqual(s.events[3]!.details, {
        reason: 'rectify stopped while this execution ran; its outcome is unknown and it will not be re-run: a human must check',
        last_step: { phase: 'action', index: 0, summary: `POST ${target.url}/act/hang3`, finished: true },
      });
      const view = (await again.get(`/api/v1/executions/${id}`)).body;
      assert.deepEqual([view.state, view.steps[0].stopped], ['interrupted', true]);
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      if (again) await again.stop({ remove: true });
      else await svc.stop({ remove: true });
    }
  });

  it('an action that failed on its own, its end recorded, then the database locked for the whole stop: the next start ends the run INTERRUPTED with that failure, counted by the breaker', async () => {
    const svc = await start();
    let again: Awaited<ReturnType<typeof start>> | undefined;
    const other = new Database(svc.dbPath);
    try {
      await failOnce(svc);
      const lock = lockAfterStepEnd(svc, other);
      const r = await svc.post('/api/v1/incidents', broken('own2', 'own-2'));
      assert.deepEqual([r.body.action, r.body.event], ['executed', 'EXECUTING']);
      const id = r.body.execution_id as string;
      await progressUnrecorded(svc);
      assert.equal(lock.held, true);
      assert.deepEqual(await svc.service.close(), { unrecorded: [id] });
      other.exec('ROLLBACK');
      const failed = `POST ${target.url}/act/own2 → 500, expected 200-299`;
      assert.deepEqual(
        storedSteps(svc.dbPath, id).map((st) => (({ phase, ok, detail, stopped }: Record<string, unknown>) => ({ phase, ok, detail, stopped }))(st as Record<string, unknown>)),
        [{ phase: 'action', ok: false, detail: failed, stopped: undefined }],
      );
      again = await svc.restart();
      const s = stored(svc.dbPath, id);
      assert.deepEqual(s.circuit, { state: 'closed', failures: 2 });
      assert.equal(s.tripped, 0);
      assert.deepEqual([s.execution.state, s.execution.outcome], ['interrupted', 'interrupted: rectify stopped while it ran']);
      assert.deepEqual(
        s.events.map((e) => e.event),
        ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'INTERRUPTED'],
      );
      assert.equal(s.events[2]!.details.stopped, undefined);
      assert.equal(s.events[3]!.details.failure, `action 1 failed: ${failed}`);
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      if (again) await again.stop({ remove: true });
      else await svc.stop({ remove: true });
    }
  });

  it('a step that failed on its own, whose end the database could not record, then the stop: INTERRUPTED with that failure, counted by the breaker', async () => {
    let go: () => void = () => {};
    const gate = new Promise<void>((r) => (go = r));
    target.route('POST', '/act/own', async () => (await gate, { status: 500 }));
    const svc = await start();
    const other = new Database(svc.dbPath);
    try {
      await failOnce(svc);
      const r = await svc.post('/api/v1/incidents', broken('own', 'own-1'));
      assert.deepEqual([r.body.action, r.body.event], ['executed', 'EXECUTING']);
      await target.waitForRequest('/act/own', { since: 0 });
      other.exec('BEGIN EXCLUSIVE');
      go();
      await progressUnrecorded(svc);
      const closing = svc.service.close();
      await until('the stop retrying the record', async () => svc.log.lines.some((l) => l.includes('the interruption could not be recorded yet; retrying')) || undefined);
      other.exec('ROLLBACK');
      assert.deepEqual(await closing, { unrecorded: [] });
      const failure = `action 1 failed: POST ${target.url}/act/own → 500, expected 200-299`;
      const s = stored(svc.dbPath, r.body.execution_id as string);
      assert.deepEqual(s.circuit, { state: 'closed', failures: 2 });
      assert.equal(s.tripped, 0);
      assert.deepEqual([s.execution.state, s.execution.outcome], ['interrupted', `recording failed after: ${failure}; ${COMMIT_FAILED}`]);
      assert.deepEqual(
        s.events.map((e) => e.event),
        ['EXECUTING', 'STEP_STARTED', 'INTERRUPTED'],
      );
      assert.deepEqual(s.events[2]!.details, { reason: `progress could not be recorded: ${COMMIT_FAILED}`, failure, steps: 1 });
    } finally {
      go();
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      await svc.stop({ remove: true });
    }
  });
  it("an action that failed on its own, whose end's commit waited for the write lock while the stop's abort came: INTERRUPTED with that failure, counted by the breaker, as the next start would count it", async () => {
    let go: () => void = () => {};
    const gate = new Promise<void>((r) => (go = r));
    target.route('POST', '/act/own3', async () => (await gate, { status: 500 }));
    // The stop's abort (each run's controller aborted 'shutting down'), seen as it comes.
    const abort = AbortController.prototype.abort;
    let stopAborted: () => void = () => {};
    const aborted = new Promise<void>((r) => (stopAborted = r));
    AbortController.prototype.abort = function (this: AbortController, reason?: unknown) {
      abort.call(this, reason);
      if (reason instanceof Error && reason.message === 'shutting down') stopAborted();
    };
    // The step's end waits for the lock as long as the test holds it.
    const svc = await start('60s');
    const other = new Database(svc.dbPath);
    try {
      await failOnce(svc);
      const store = svc.service.store as Store;
      const r = await svc.post('/api/v1/incidents', broken('own3', 'own-3'));
      assert.deepEqual([r.body.action, r.body.event], ['executed', 'EXECUTING']);
      const id = r.body.execution_id as string;
      await target.waitForRequest('/act/own3', { since: 0 });
      other.exec('BEGIN EXCLUSIVE');
      assert.equal(store.pending(), 0);
      go();
      // The 500 came before the stop: its end (STEP_FINISHED) waits for the lock.
      await until('the step end waiting for the lock', async () => store.pending() > 0 || undefined);
      const closing = svc.service.close();
      await aborted;
      other.exec('ROLLBACK');
      assert.deepEqual(await closing, { unrecorded: [] });
      const failed = `POST ${target.url}/act/own3 → 500, expected 200-299`;
      assert.deepEqual(
        storedSteps(svc.dbPath, id).map((st) => (({ phase, ok, detail, stopped }: Record<string, unknown>) => ({ phase, ok, detail, stopped }))(st as Record<string, unknown>)),
        [{ phase: 'action', ok: false, detail: failed, stopped: undefined }],
      );
      const s = stored(svc.dbPath, id);
      assert.deepEqual(s.circuit, { state: 'closed', failures: 2 });
      assert.equal(s.tripped, 0);
      assert.deepEqual([s.execution.state, s.execution.outcome], ['interrupted', `interrupted during an action, after: action 1 failed: ${failed}`]);
      assert.deepEqual(
        s.events.map((e) => e.event),
        ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'INTERRUPTED'],
      );
      assert.deepEqual([s.events[2]!.details.ok, s.events[2]!.details.stopped], [false, undefined]);
      assert.deepEqual(s.events[3]!.details, {
        reason: 'rectify was shutting down during an action; a human must check the state',
        failure: `action 1 failed: ${failed}`,
        steps: 1,
      });
    } finally {
      AbortController.prototype.abort = abort;
      go();
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      await svc.stop({ remove: true });
    }
  });
});
