import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { Store, Tx } from '../../src/store/ports.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { until } from '../helpers/until.js';

/**
 * Store faults through the whole service: a database locked by another
 * connection, a full disk (a real tmpfs filled to the brim) and a file made
 * immutable under the running process. Each time rectify must fail closed (503
 * STORE_UNAVAILABLE with Retry-After, no action without its audit row) and recover
 * by itself once the fault clears.
 */

const runbooks = (base: string) => `runbooks:
  fix:
    risk: LOW
    triggers: [broken]
    min_confidence: 0.5
    max_per_hour: 100
    cooldown_minutes: 0
    actions:
      - http: {method: POST, url: "${base}/first/{service}"}
      - http: {method: POST, url: "${base}/second/{service}"}
`;
const broken = (service: string, id?: string) => ({ root_cause: 'broken', service, confidence: 1, ...(id ? { id } : {}) });

/** The refusal every store fault must produce: at intake, and at /readyz. */
async function assertRefused(svc: TestService, body: unknown): Promise<void> {
  const r = await svc.post('/api/v1/incidents?wait=true', body);
  assert.equal(r.status, 503);
  assert.equal(r.body.error.code, 'STORE_UNAVAILABLE');
  assert.equal(r.headers['retry-after'], '5');
  const ready = await svc.get('/readyz');
  assert.equal(ready.status, 503);
  assert.equal(ready.body.store, 'unavailable');
}

async function assertRecovered(svc: TestService, target: HttpTarget, service: string): Promise<void> {
  const ready = await until('readyz 200', async () => {
    const r = await svc.get('/readyz');
    return r.status === 200 ? r : undefined;
  });
  assert.equal(ready.body.store, 'ok');
  const r = await svc.post('/api/v1/incidents?wait=true', broken(service));
  assert.equal(r.status, 202);
  assert.equal(r.body.action, 'executed');
  assert.equal(r.body.success, true);
  assert.equal(target.calls(`/first/${service}`), 1);
  assert.equal(target.calls(`/second/${service}`), 1);
  const v = await svc.get('/api/v1/audit/verify');
  assert.equal(v.body.ok, true, v.body.reason);
}

function canRun(file: string, args: string[]): boolean {
  try {
    execFileSync(file, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('store faults: fail closed, answer 503, recover by itself', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
    for (const p of ['/first', '/second']) for (const s of ['locked', 'after-lock', 'mid', 'mid-next', 'full', 'after-full', 'ro', 'after-ro', 'before-rm', 'gone']) target.route('POST', `${p}/${s}`, { status: 200 });
  });
  after(async () => target.close());

  it('a database locked by another connection: intake 503 with nothing stored and nothing run; the next request after the lock goes is 202', async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--db-busy-timeout', '100ms'] });
    const other = new Database(svc.dbPath);
    other.exec('BEGIN EXCLUSIVE');
    await assertRefused(svc, broken('locked', 'LOCKED-1'));
    assert.equal(target.calls('/first/locked'), 0, 'no action without its audit row');
    other.exec('ROLLBACK');
    other.close();
    assert.equal((await svc.get('/api/v1/incidents/LOCKED-1')).status, 404, 'the refused incident was not stored');
    await assertRecovered(svc, target, 'after-lock');
    // Alertmanager retries the refused delivery: it is decided now, once.
    const retried = await svc.post('/api/v1/incidents?wait=true', broken('locked', 'LOCKED-1'));
    assert.equal(retried.body.action, 'executed');
    assert.equal(target.calls('/first/locked'), 1);
    await svc.stop({ remove: true });
  });

  it('a step that cannot be recorded stops the run: the next action never starts, and the run ends INTERRUPTED for a human once the store is back', async () => {
    target.route('POST', '/first/mid', { status: 200, delayMs: 400 });
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--db-busy-timeout', '50ms', '--max-concurrent-executions', '1'] });
    const r = await svc.post('/api/v1/incidents', broken('mid'));
    assert.equal(r.body.action, 'executed');
    const executionId = r.body.execution_id as string;
    await target.waitForRequest('/first/mid');
    // The action is in flight; the lock makes recording its end (STEP_FINISHED) fail.
    const other = new Database(svc.dbPath);
    other.exec('BEGIN EXCLUSIVE');
    await until('the failed record', async () => ((await svc.get('/readyz')).status === 503 ? true : undefined));
    // Held long enough for several retries of the INTERRUPTED record to fail too.
    await new Promise((res) => setTimeout(res, 600));
    assert.equal(target.calls('/second/mid'), 0, 'the second action never starts after a failed record');
    other.exec('ROLLBACK');
    other.close();
    const e = await until('the INTERRUPTED record', async () => {
      const g = await svc.get(`/api/v1/executions/${executionId}`);
      return g.body.state === 'interrupted' ? g.body : undefined;
    });
    assert.equal(e.needs_human, true);
    assert.match(e.outcome, /^recording failed: /);
    assert.equal(target.calls('/first/mid'), 1);
    assert.equal(target.calls('/second/mid'), 0);
    const audit = (await svc.get(`/api/v1/audit?execution_id=${executionId}&limit=100`)).body.events.map((a: { event: string }) => a.event).reverse();
    assert.deepEqual(audit, ['EXECUTING', 'STEP_STARTED', 'INTERRUPTED']);
    // Its claim is released: with a limit of one concurrent execution, the next runs.
    await assertRecovered(svc, target, 'mid-next');
    await svc.stop({ remove: true });
  });

  it('a full disk (a real tmpfs filled up): 503 and nothing run, nor taken in, until 8 MiB are free again; then it recovers by itself', async (t) => {
    const mnt = mkdtempSync(join(tmpdir(), 'rectify-full-'));
    if (!canRun('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mnt])) {
      rmSync(mnt, { recursive: true, force: true });
      t.skip('mounting a tmpfs needs privileges this environment lacks');
      return;
    }
    let stop = async (): Promise<void> => {};
    try {
      const dir = join(mnt, 'svc');
      mkdirSync(join(dir, 'runbooks'), { recursive: true });
      writeFileSync(join(dir, 'runbooks', 'r.yaml'), runbooks(target.url));
      const svc = await startTestService({ dir, args: ['--db-busy-timeout', '100ms'] });
      stop = () => svc.stop();
      assert.equal((await svc.post('/api/v1/incidents?wait=true', broken('after-full', 'warm-up'))).body.success, true);
      target.reset();
      const filler = join(mnt, 'filler');
      canRun('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k']);
      // Several incidents: the first pages may still fit in space the WAL already holds.
      let refused = 0;
      for (let i = 0; i < 200 && refused === 0; i++) {
        const r = await svc.post('/api/v1/incidents?wait=true', { ...broken('full'), root_cause: 'no runbook', context: { pad: 'x'.repeat(20_000) } });
        if (r.status === 503) refused++;
        else assert.equal(r.status, 202);
      }
      assert.equal(refused, 1, 'the full disk was reached');
      await assertRefused(svc, { ...broken('full'), context: { pad: 'x'.repeat(200_000) } });
      // The probe's one-row write would fit in the space the WAL holds: readiness waits for room.
      assert.match((await svc.get('/readyz')).body.store_error, /^SQLITE_FULL: .* \([0-9.]+ MiB free where the database is; ready again from 8 MiB\)$/);
      assert.equal(target.calls('/first/full'), 0, 'no action without its audit row');
      // Some room again, less than 8 MiB: a small write would fit, a storm's commit would
      // not. Intake and /readyz agree: nothing is taken in until 8 MiB are free.
      truncateSync(filler, statSync(filler).size - 2 * 1024 * 1024);
      for (const id of ['ROOM-1', 'ROOM-2']) {
        const small = await svc.post('/api/v1/incidents?wait=true', broken('full', id));
        assert.deepEqual([small.status, small.body.error?.code], [503, 'STORE_UNAVAILABLE'], id);
        const ready = await svc.get('/readyz');
        assert.equal(ready.status, 503, id);
        assert.match(ready.body.store_error, /^SQLITE_FULL: .* \([0-9.]+ MiB free where the database is; ready again from 8 MiB\)$/);
      }
      assert.equal((await svc.get('/api/v1/incidents/ROOM-1')).status, 404, 'nothing taken in below 8 MiB');
      unlinkSync(filler);
      await assertRecovered(svc, target, 'after-full');
    } finally {
      await stop();
      canRun('umount', [mnt]);
      rmSync(mnt, { recursive: true, force: true });
    }
  });

  it('the database folder removed under the running process: 503 and nothing run, /readyz says why, an error is logged; only a restart clears it', async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url), captureLogs: true });
    try {
      assert.equal((await svc.post('/api/v1/incidents?wait=true', broken('before-rm'))).body.success, true);
      // SQLite would go on writing to the unlinked file: accepted, and gone at the next start.
      rmSync(dirname(svc.dbPath), { recursive: true, force: true });
      for (const id of ['GONE-1', 'GONE-2']) {
        const r = await svc.post('/api/v1/incidents?wait=true', broken('gone', id));
        assert.deepEqual([r.status, r.body.error.code], [503, 'STORE_UNAVAILABLE'], id);
      }
      assert.equal(target.calls('/first/gone'), 0, 'nothing run');
      const ready = await svc.get('/readyz');
      assert.equal(ready.status, 503);
      assert.equal(
        ready.body.store_error,
        `the database file ${svc.dbPath} was removed while rectify ran: what it writes now would be lost at the next start. Nothing is accepted; put the file back (or restore it) and restart rectify`,
      );
      const told = svc.log.records().filter((r) => String(r.msg).includes('was removed while rectify ran'));
      assert.deepEqual(told.map((r) => r.level), ['error'], 'logged once, as an error');
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a database file made read-only under the running process: 503 and nothing run; writable again, it recovers by itself', async (t) => {
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--db-busy-timeout', '100ms'] });
    const files = [svc.dbPath, `${svc.dbPath}-wal`];
    if (!canRun('chattr', ['+i', ...files])) {
      await svc.stop({ remove: true });
      t.skip('chattr +i needs CAP_LINUX_IMMUTABLE and a filesystem that supports it');
      return;
    }
    try {
      await assertRefused(svc, broken('ro'));
      assert.equal(target.calls('/first/ro'), 0, 'no action without its audit row');
    } finally {
      canRun('chattr', ['-i', ...files]);
    }
    await assertRecovered(svc, target, 'after-ro');
    await svc.stop({ remove: true });
  });
});

/**
 * A store fault at the commit that records a run's first step's start (a full disk as a
 * storm fills it, after the commit that claimed the run): the run started no step, so
 * nothing was changed, but rectify did not stop, and the remediation it decided on did not
 * happen. Its end names the fault and leaves it to a person, in its row, the execution view,
 * the answer and the notification; not "rectify stopped", not needs_human false.
 */
describe("a store fault at the record of a run's first step", () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/hook', { status: 204 });
    for (const p of ['/first', '/second']) target.route('POST', `${p}/full-first`, { status: 200 });
  });
  after(async () => target.close());

  /** Makes the first STEP_STARTED written fail as a full disk fails a write (SQLITE_FULL), once. */
  function failFirstStepStart(store: Store): () => boolean {
    const transact = store.transact.bind(store);
    let failed = false;
    const full = (t: Tx): Tx =>
      new Proxy(t, {
        get(target, key) {
          if (key === 'appendAudit')
            return (rec: Parameters<Tx['appendAudit']>[0]) => {
              if (!failed && rec.event === 'STEP_STARTED') {
                failed = true;
                throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
              }
              return target.appendAudit(rec);
            };
          const v = Reflect.get(target, key) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    store.transact = ((work: Parameters<Store['transact']>[0], opts?: Parameters<Store['transact']>[1]) => transact((t) => work(failed ? t : full(t)), opts)) as Store['transact'];
    return () => failed;
  }

  it('ends INTERRUPTED naming the fault, needs_human true, told so; nothing run, no breaker failure, its rate-limit slot kept', async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/hook`, '--circuit-failure-threshold', '1'] });
    try {
      const failed = failFirstStepStart(svc.service.store as Store);
      const since = Date.now();
      const r = await svc.post('/api/v1/incidents?wait=true', broken('full-first', 'FF1'));
      assert.equal(failed(), true, 'the fault was injected');
      const executionId = r.body.execution_id as string;
      const FAULT = 'the database could not commit (SQLITE_FULL: database or disk is full)';
      const OUTCOME = `interrupted before its first step: its start could not be recorded (${FAULT}); nothing was run`;
      const REASON = `its first step could not be recorded (${FAULT}), so it was not started and nothing was changed; the run still counts against the runbook's max_per_hour and cooldown; the remediation rectify decided on did not happen: a person must act on the alert`;
      assert.deepEqual([r.status, r.body.action, r.body.event, r.body.success, r.body.reason], [202, 'aborted', 'INTERRUPTED', false, OUTCOME]);
      assert.deepEqual([target.calls('/first/full-first'), target.calls('/second/full-first')], [0, 0], 'nothing was run');

      const e = (await svc.get(`/api/v1/executions/${executionId}`)).body;
      assert.deepEqual([e.state, e.outcome, e.needs_human, e.steps], ['interrupted', OUTCOME, true, []]);
      assert.equal((await svc.get('/api/v1/incidents/FF1')).body.execution.needs_human, true);

      const rows = (await svc.get(`/api/v1/audit?execution_id=${executionId}&limit=50`)).body.events.reverse().filter((a: { event: string }) => !a.event.startsWith('NOTIF'));
      assert.deepEqual(rows.map((a: { event: string }) => a.event), ['EXECUTING', 'INTERRUPTED']);
      const { notification_id: _id, told: _told, ...row } = rows[1].details;
      assert.deepEqual(row, { reason: REASON, last_step: null, nothing_changed: true, needs_human: true });

      await target.waitForRequest('/hook', { since, timeoutMs: 10_000, where: (q) => (q.json() as { event?: string }).event === 'INTERRUPTED' });
      const told = target.requests('/hook').filter((q) => q.at >= since).map((q) => q.json() as Record<string, unknown>).filter((n) => n.event === 'INTERRUPTED');
      assert.equal(told.length, 1);
      const { at: _at, notification_id: _nid, ...payload } = told[0]!;
      assert.deepEqual(payload, { event: 'INTERRUPTED', incident_id: 'FF1', runbook: 'fix', service: 'full-first', execution_id: executionId, approval_id: null, outcome: 'interrupted', reason: REASON, needs_human: true, links: {} });

      // No breaker failure (threshold 1); the run holds its rate-limit slot: counted in the last hour.
      const rb = (await svc.get('/api/v1/runbooks/fix')).body;
      assert.deepEqual([rb.circuit.state, rb.executions_last_hour], ['closed', 1]);
      const again = await svc.post('/api/v1/incidents', broken('full-first', 'FF1'));
      assert.deepEqual([again.body.event, again.body.reason], ['DUPLICATE', `already decided: executed (EXECUTING); its run ${executionId} ended interrupted: a person must check`]);
    } finally {
      await svc.stop({ remove: true });
    }
  });
});
