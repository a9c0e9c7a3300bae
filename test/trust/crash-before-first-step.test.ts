import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { cli } from '../cli/capture.js';
import { useRectifyProcesses, type RectifyProcess } from '../helpers/process.js';
import { httpRunbook, runbooksFile } from '../helpers/runbooks.js';
import { until } from '../helpers/until.js';

/**
 * A run killed (kill -9) after it was claimed, before it recorded its first step. The
 * runner records every step (a pre-check's too) durably before it starts it, so such a
 * run changed nothing: found unfinished at the next start, it is INTERRUPTED, audited and
 * told as cut off before its first step with nothing changed, left to no one
 * (needs_human false), no failure for the breaker; a half-open circuit's trial so cut off
 * goes back to open with the wait it had served.
 *
 * Not so in a copy of the database (a backup put back by rectify restore, a file copied
 * while a rectify had it open): the service it was copied from went on with the run after
 * the copy was taken. Found under way there, it is INTERRUPTED with its outcome unknown,
 * left to a person (needs_human true), and a trial so cut off re-opens its circuit with a
 * new wait, as a trial cut off in a step does.
 *
 * The test holds the run there with a trigger in the real database file that refuses
 * every write to a run's row after its claim (its first step, its end): the runner keeps
 * retrying to record its end while the process lives, as it does for a store that fails
 * under it. The trigger is dropped before the restart.
 */

const runbooks = (base: string) =>
  runbooksFile(
    httpRunbook('call', { trigger: 'broken', url: `${base}/act/{service}` }),
    httpRunbook('gated', {
      trigger: 'gated',
      url: `${base}/act/{service}`,
      more: `    pre_checks:
      - http: {url: "${base}/ready/{service}"}
`,
    }),
  );

const HOLD_FIRST_STEP = `CREATE TRIGGER test_hold_first_step BEFORE UPDATE ON executions WHEN NEW.steps <> '[]' OR NEW.state <> 'running'
  BEGIN SELECT RAISE(ABORT, 'the test holds every run before its first step'); END`;

/** The INTERRUPTED row's reason (and the notification's, without a trial) for a run cut off before its first step. */
const REASON =
  'rectify stopped before this execution started its first step (each step is recorded before it starts), so nothing was changed; it will not be re-run';
const TRIAL_ENDED =
  'it was the circuit\'s trial run, and it changed nothing, which says nothing about the runbook: the circuit is open again without a new recovery wait, and the next incident may be its trial';

describe('kill -9 after a run was claimed, before it recorded its first step', () => {
  const rig = useRectifyProcesses('rectify-crash-first-step-', runbooks);
  before(() => {
    rig.target.route('POST', '/hook', { status: 204 });
    rig.target.route('POST', '/act/s1', { status: 200 });
    rig.target.route('GET', '/ready/g1', { status: 200 });
    rig.target.route('POST', '/act/g1', { status: 200 });
  });

  // Threshold 1: a run counted as a failure would open the circuit at once.
  const start = () => rig.start(['--notify-webhook', `${rig.target.url}/hook`, '--circuit-failure-threshold', '1']);
  const sql = (statement: string): void => {
    const db = new Database(rig.db);
    try {
      db.exec(statement);
    } finally {
      db.close();
    }
  };
  /** The run's audit rows, oldest first, without the records of notifications' deliveries. */
  const rows = async (p: RectifyProcess, executionId: string) =>
    ((await p.get(`/api/v1/audit?execution_id=${executionId}&limit=100`)).body.events as Array<{ event: string; details: Record<string, any> }>)
      .reverse()
      .filter((e) => e.event !== 'NOTIFIED' && e.event !== 'NOTIFY_FAILED');
  const circuitOf = async (p: RectifyProcess, runbook: string) => {
    const c = (await p.get(`/api/v1/runbooks/${runbook}`)).body.circuit;
    return { state: c.state, failures: c.failures, opened_at: c.opened_at };
  };
  const breakerRowsOf = async (p: RectifyProcess, runbook: string) =>
    ((await p.get(`/api/v1/audit?runbook=${runbook}&limit=1000`)).body.events as Array<{ event: string; execution_id: string | null }>)
      .filter((e) => e.event.startsWith('CIRCUIT'))
      .map((e) => [e.event, e.execution_id])
      .reverse();
  /** An open circuit for the runbook whose recovery wait ended long ago: the next alert is its trial. */
  const openLongAgo = (runbook: string) => {
    const openedAt = Date.now() - 3_600_000;
    sql(`INSERT OR REPLACE INTO circuits (runbook, state, failures, opened_at, trial_execution_id, updated_at) VALUES ('${runbook}', 'open', 3, ${openedAt}, NULL, ${openedAt})`);
    return { state: 'open', failures: 3, opened_at: new Date(openedAt).toISOString() };
  };
  /** The notifications of run `executionId` since `since`: event, outcome, reason. */
  const toldOf = async (since: number, executionId: string) => {
    await rig.target.waitForRequest('/hook', { since, timeoutMs: 20_000, where: (r) => (r.json() as any).execution_id === executionId });
    return rig.target
      .requests('/hook')
      .filter((r) => r.at >= since)
      .map((r) => r.json() as any)
      .filter((t) => t.execution_id === executionId)
      .map((t) => [t.event, t.outcome, t.reason]);
  };

  /** Starts the alert's run with every write of a run held after its claim, waits until its first step is refused, and kills the process; the run's row is left running with no step. */
  async function killedBeforeItsFirstStep(p: RectifyProcess, incident: object): Promise<string> {
    sql(HOLD_FIRST_STEP);
    const r = await p.post('/api/v1/incidents', incident);
    assert.equal(r.body.action, 'executed');
    const executionId = r.body.execution_id as string;
    await until('the first step refused, and the end tried again', async () => (p.output().includes('the interruption could not be recorded yet') ? true : undefined), 20_000);
    await p.kill9();
    sql('DROP TRIGGER test_hold_first_step');
    const db = new Database(rig.db, { readonly: true });
    const left = db.prepare('SELECT state, steps FROM executions WHERE id = ?').get(executionId);
    db.close();
    assert.deepEqual(left, { state: 'running', steps: '[]' }, 'what the crash left: a run claimed, no step recorded');
    return executionId;
  }

  it('INTERRUPTED, audited and told as cut off before its first step with nothing changed; no human needed, no breaker failure, its slot free', async () => {
    let proc = await start();
    const cut = await killedBeforeItsFirstStep(proc, { id: 'N1', root_cause: 'broken', service: 's1', confidence: 1 });

    const since = Date.now();
    proc = await start();
    const e = (await proc.get(`/api/v1/executions/${cut}`)).body;
    assert.deepEqual([e.state, e.outcome, e.needs_human, e.steps], ['interrupted', 'interrupted before its first step: nothing was changed', false, []]);
    assert.equal((await proc.get('/api/v1/incidents/N1')).body.execution.needs_human, false);
    const audit = await rows(proc, cut);
    assert.deepEqual(audit.map((a) => a.event), ['EXECUTING', 'INTERRUPTED']);
    const { notification_id: _id, told: _told, ...interrupted } = audit[1]!.details;
    assert.deepEqual(interrupted, { reason: REASON, last_step: null, nothing_changed: true });
    assert.deepEqual(await toldOf(since, cut), [['INTERRUPTED', 'interrupted', REASON]]);
    // Not counted: with a threshold of 1, a failure would have opened the circuit.
    const c = await circuitOf(proc, 'call');
    assert.deepEqual([c.state, c.failures], ['closed', 0]);
    assert.deepEqual(await breakerRowsOf(proc, 'call'), []);
    assert.equal(rig.target.calls('/act/s1'), 0, 'never run, and not re-run');
    // Posted again: a duplicate, whose answer and row say how its run ended.
    const again = await proc.post('/api/v1/incidents', { id: 'N1', root_cause: 'broken', service: 's1', confidence: 1 });
    assert.deepEqual([again.body.action, again.body.reason], ['duplicate', `already decided: executed (EXECUTING); its run ${cut} ended interrupted before its first step: nothing was changed`]);
    const dup = ((await proc.get('/api/v1/audit?incident_id=N1&event=DUPLICATE')).body.events as Array<{ details: { reason: string } }>).map((e) => e.details.reason);
    assert.deepEqual(dup, [`already decided: executed; its run ${cut} ended interrupted before its first step: nothing was changed`]);

    // Its slot and its service are free: the next alert runs.
    const next = await proc.post('/api/v1/incidents?wait=true', { id: 'N2', root_cause: 'broken', service: 's1', confidence: 1 });
    assert.deepEqual([next.body.action, next.body.success], ['executed', true]);
    await proc.stop();
  });

  it('the half-open circuit’s trial, cut off before its first step (its pre-check): the circuit open again with the wait it had served; no CIRCUIT_TRIPPED, and the row and the notification say so', async () => {
    let proc = await start();
    const served = openLongAgo('gated');
    const trial = await killedBeforeItsFirstStep(proc, { id: 'T1', root_cause: 'gated', service: 'g1', confidence: 1 });

    const since = Date.now();
    proc = await start();
    assert.deepEqual(await circuitOf(proc, 'gated'), served);
    assert.deepEqual(await breakerRowsOf(proc, 'gated'), [['CIRCUIT_HALF_OPEN', trial]], 'no CIRCUIT_TRIPPED: the circuit was not re-opened with a new wait');
    const e = (await proc.get(`/api/v1/executions/${trial}`)).body;
    assert.deepEqual([e.state, e.needs_human], ['interrupted', false]);
    const audit = await rows(proc, trial);
    assert.deepEqual(audit.map((a) => a.event), ['CIRCUIT_HALF_OPEN', 'EXECUTING', 'INTERRUPTED']);
    const { notification_id: _id, told: _told, ...interrupted } = audit[2]!.details;
    assert.deepEqual(interrupted, { reason: REASON, last_step: null, nothing_changed: true, circuit_trial: TRIAL_ENDED });
    assert.deepEqual(await toldOf(since, trial), [['INTERRUPTED', 'interrupted', `${REASON}; ${TRIAL_ENDED}`]]);
    assert.equal(rig.target.calls('/ready/g1'), 0, 'its pre-check never ran');

    // The next alert is the circuit's trial at once; it succeeds and closes the circuit.
    const next = await proc.post('/api/v1/incidents?wait=true', { id: 'T2', root_cause: 'gated', service: 'g1', confidence: 1 });
    assert.deepEqual([next.body.action, next.body.success], ['executed', true]);
    assert.deepEqual(await breakerRowsOf(proc, 'gated'), [
      ['CIRCUIT_HALF_OPEN', trial],
      ['CIRCUIT_HALF_OPEN', next.body.execution_id],
      ['CIRCUIT_CLOSED', next.body.execution_id],
    ]);
    await proc.stop();
  });
  /** The reason given of a run found under way, before its first step, in a copy marked `copy`. */
  const inCopy = (copy: string) =>
    `this database is a copy (${copy}), taken while this execution was under way: what happened to it after the copy was taken is not known (the service it was copied from may have run it, or gone on with it)`;
  const IN_COPY_OUTCOME = 'interrupted: under way when this database was copied; what happened to it after is not known';

  /** Backs the database up, and puts the backup back in its place with rectify restore: its mark. */
  async function backedUpAndRestored(name: string): Promise<string> {
    const backup = join(rig.dir, `${name}.db`);
    const made = await cli(['backup', backup, '--db', `sqlite:${rig.db}`], { cwd: rig.dir });
    assert.equal(made.code, 0, made.err.join('\n'));
    const restored = await cli(['restore', backup, '--db', `sqlite:${rig.db}`], { cwd: rig.dir });
    assert.equal(restored.code, 0, restored.err.join('\n'));
    return backup;
  }
  /** The database's mark of a copy, read without writing. */
  const markOf = (): string | undefined => {
    const db = new Database(rig.db, { readonly: true });
    try {
      return (db.prepare("SELECT value FROM settings WHERE key = 'recovery:database-copy'").pluck().get() as string | undefined) ?? undefined;
    } finally {
      db.close();
    }
  };

  it('in a restored backup: INTERRUPTED with its outcome unknown, left to a person, told so; nothing said of nothing changed', async () => {
    let proc = await start();
    const cut = await killedBeforeItsFirstStep(proc, { id: 'R1', root_cause: 'broken', service: 's1', confidence: 1 });
    const backup = await backedUpAndRestored('backup-r1');
    const copy = markOf();
    assert.match(copy ?? '', new RegExp(`^restored by rectify restore from ${backup.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$`));

    const since = Date.now();
    proc = await start();
    const e = (await proc.get(`/api/v1/executions/${cut}`)).body;
    assert.deepEqual([e.state, e.outcome, e.needs_human, e.steps], ['interrupted', IN_COPY_OUTCOME, true, []]);
    assert.equal((await proc.get('/api/v1/incidents/R1')).body.execution.needs_human, true);
    const audit = await rows(proc, cut);
    assert.deepEqual(audit.map((a) => a.event), ['EXECUTING', 'INTERRUPTED']);
    const { notification_id: _id, told: _told, ...interrupted } = audit[1]!.details;
    assert.deepEqual(interrupted, { reason: `${inCopy(copy!)}; it will not be re-run: a human must check`, last_step: null, database_copy: copy });
    assert.deepEqual(await toldOf(since, cut), [['INTERRUPTED', 'interrupted', `${inCopy(copy!)} (no step recorded yet); it will not be re-run: a person must check`]]);
    const told = rig.target.requests('/hook').filter((r) => r.at >= since).map((r) => r.json() as any).find((t) => t.execution_id === cut);
    assert.equal(told.needs_human, true);
    // Consumed by that recovery: the next start is no copy's.
    assert.equal(markOf(), undefined);
    // No failure counted: nothing shows how it went.
    const c = await circuitOf(proc, 'call');
    assert.deepEqual([c.state, c.failures], ['closed', 0]);
    await proc.stop();
  });

  it('in a file copied while rectify had it open (a clone of a live database): the same, the copy named by the record of the rectify that had it', async () => {
    let proc = await start();
    const cut = await killedBeforeItsFirstStep(proc, { id: 'C1', root_cause: 'broken', service: 's1', confidence: 1 });
    // Another file with the same bytes (and -wal) in the database's place.
    for (const s of ['', '-wal']) if (existsSync(`${rig.db}${s}`)) copyFileSync(`${rig.db}${s}`, `${rig.db}.clone${s}`);
    for (const s of ['', '-wal', '-shm']) rmSync(`${rig.db}${s}`, { force: true });
    for (const s of ['', '-wal']) if (existsSync(`${rig.db}.clone${s}`)) renameSync(`${rig.db}.clone${s}`, `${rig.db}${s}`);

    const since = Date.now();
    proc = await start();
    const e = (await proc.get(`/api/v1/executions/${cut}`)).body;
    assert.deepEqual([e.state, e.outcome, e.needs_human, e.steps], ['interrupted', IN_COPY_OUTCOME, true, []]);
    const audit = await rows(proc, cut);
    assert.deepEqual(audit.map((a) => a.event), ['EXECUTING', 'INTERRUPTED']);
    const { notification_id: _id, told: _told, ...interrupted } = audit[1]!.details;
    const copy = interrupted.database_copy as string;
    assert.match(copy, /^copied while rectify serve, pid \d+ on .+ since .+ had it open, or after it stopped without closing it \(its record names device \d+ inode \d+, this file is device \d+ inode \d+\), found at .+Z$/);
    assert.deepEqual(interrupted, { reason: `${inCopy(copy)}; it will not be re-run: a human must check`, last_step: null, database_copy: copy });
    assert.deepEqual(await toldOf(since, cut), [['INTERRUPTED', 'interrupted', `${inCopy(copy)} (no step recorded yet); it will not be re-run: a person must check`]]);
    assert.equal(markOf(), undefined);
    await proc.stop();
  });

  it('the half-open circuit’s trial in a restored backup: the circuit opens again with a new wait, as for a trial cut off in a step', async () => {
    let proc = await start();
    const served = openLongAgo('gated');
    const trial = await killedBeforeItsFirstStep(proc, { id: 'RT1', root_cause: 'gated', service: 'g1', confidence: 1 });
    await backedUpAndRestored('backup-rt1');
    const copy = markOf()!;

    const since = Date.now();
    proc = await start();
    const c = await circuitOf(proc, 'gated');
    assert.deepEqual([c.state, c.failures], ['open', served.failures]);
    assert.ok(Date.parse(c.opened_at) >= since, `opened again with a new wait (opened_at ${c.opened_at}, not ${served.opened_at})`);
    const breaker = await breakerRowsOf(proc, 'gated');
    assert.deepEqual(breaker.slice(-2), [['CIRCUIT_HALF_OPEN', trial], ['CIRCUIT_TRIPPED', trial]]);
    const e = (await proc.get(`/api/v1/executions/${trial}`)).body;
    assert.deepEqual([e.state, e.outcome, e.needs_human], ['interrupted', IN_COPY_OUTCOME, true]);
    const audit = await rows(proc, trial);
    assert.deepEqual(audit.map((a) => a.event), ['CIRCUIT_HALF_OPEN', 'EXECUTING', 'INTERRUPTED', 'CIRCUIT_TRIPPED']);
    const { notification_id: _id, told: _told, ...interrupted } = audit[2]!.details;
    assert.deepEqual(interrupted, { reason: `${inCopy(copy)}; it will not be re-run: a human must check`, last_step: null, database_copy: copy });
    assert.deepEqual(await toldOf(since, trial), [
      ['INTERRUPTED', 'interrupted', `${inCopy(copy)} (no step recorded yet); it will not be re-run: a person must check`],
      ['CIRCUIT_TRIPPED', 'circuit open', 'the trial run of runbook gated was cut off (rectify stopped) before it ended: the circuit is open again, and the next trial waits the circuit recovery time again'],
    ]);
    // Its wait not served: the next alert is refused by the open circuit, not run.
    const checks = rig.target.calls('/ready/g1');
    const next = await proc.post('/api/v1/incidents', { id: 'RT2', root_cause: 'gated', service: 'g1', confidence: 1 });
    assert.deepEqual([next.body.action, next.body.execution_id ?? null], ['blocked', null]);
    assert.equal(rig.target.calls('/ready/g1'), checks, 'no pre-check ran');
    await proc.stop();
  });
});
