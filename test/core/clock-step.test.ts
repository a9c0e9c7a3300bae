import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { httpRunbook, runbooksFile } from '../helpers/runbooks.js';
import { countRows, stormAlert, webhook } from '../storm/helpers.js';

/**
 * The wall clock stepped (NTP after a bad RTC, an operator's `date -s`) rather than time
 * passing, on the manual clock: `step` moves the wall clock alone, `advance` is time
 * passing. Dedup keys and rate-limit rows are pruned by their age; a forward step then
 * corrected must not make rectify forget them, or a re-delivered alert is decided again
 * and its fix runs twice.
 */
const HOUR = 3_600_000;

/** The target the runbook restarts: POST /restart/api answers 200 at the start of each test. */
let target: HttpTarget;
/** The service under test, stopped after each test. */
let svc: TestService;
before(async () => {
  target = await startHttpTarget();
});
after(async () => target.close());
beforeEach(() => {
  target.reset();
  target.route('POST', '/restart/api', { status: 200 });
});
afterEach(async () => svc.stop({ remove: true }));

/** A service whose one runbook, restart-api (LOW, on ApiDown), restarts the alert's service by a POST to the target. */
const start = (maxPerHour: number, cooldownMinutes: number, args: string[] = []) =>
  startTestService({
    runbooks: runbooksFile(httpRunbook('restart-api', { trigger: 'ApiDown', url: `${target.url}/restart/{service}`, maxPerHour, cooldownMinutes, expectStatus: [200, 299] })),
    args,
  });
/** The breaker opened by one failure, its recovery wait 5 minutes. */
const CIRCUIT = ['--circuit-failure-threshold', '1', '--circuit-recovery', '5m'];
/** The decision on alert `n` of the storm helpers for `service`, delivered and waited for. */
const deliver = async (n: number, service = 'api') => (await svc.post('/api/v1/webhooks/alertmanager?wait=true', webhook([stormAlert('ApiDown', service, n)]))).body.results[0];

/** A service allowed five runs an hour, and five runs (alerts 1 to 5) a minute apart: the last a minute ago. */
async function fiveRunsAMinuteApart(): Promise<void> {
  svc = await start(5, 0);
  for (let n = 1; n <= 5; n++) {
    assert.equal((await deliver(n)).action, 'executed', `run ${n}`);
    svc.clock.advance(60_000);
  }
}
/** After fiveRunsAMinuteApart, time passes until the first run is an hour old: alert 7 a millisecond before is still held back, alert 8 then runs. */
async function firstRunLeavesTheHour(): Promise<void> {
  svc.clock.advance(HOUR - 5 * 60_000 - 1);
  assert.equal((await deliver(7)).event, 'RATE_LIMITED', 'the first run started an hour ago less a millisecond: it still counts');
  svc.clock.advance(1);
  assert.equal((await deliver(8)).action, 'executed');
  assert.equal(target.calls('/restart/api', 'POST'), 6);
}
/** A service allowed one run an hour, the wall clock stepped a day forward, and alert 1 run on it. */
async function runOnSteppedClock(): Promise<void> {
  svc = await start(1, 0);
  svc.clock.step(24 * HOUR);
  assert.equal((await deliver(1)).action, 'executed', 'no run before: nothing to hold it');
}
/** A service whose breaker opens at the first failure (CIRCUIT), its target failing until it is put right. */
async function startFailing(): Promise<void> {
  target.route('POST', '/restart/api', { status: 500 });
  svc = await start(100, 0, CIRCUIT);
}
/** A circuit opened (startFailing) by alert 1's run failing. */
async function openCircuit(): Promise<void> {
  await startFailing();
  assert.equal((await deliver(1)).event, 'FAILED');
}
/**
 * The circuit opened by alert 1, its recovery wait judged by the time passed: the target put
 * right, alert 3 finds it open a millisecond before the five minutes end, and alert 4 is the trial, run.
 */
async function trialAfterFiveMinutes(): Promise<void> {
  target.route('POST', '/restart/api', { status: 200 });
  svc.clock.advance(5 * 60_000 - 1);
  assert.equal((await deliver(3)).event, 'CIRCUIT_OPEN');
  svc.clock.advance(1);
  assert.deepEqual([(await deliver(4)).action, target.calls('/restart/api', 'POST')], ['executed', 2]);
}
/** What a reason says while the clock reads a day ahead, the step taken as the time `settlesIn` seconds from now. */
const ahead = (settlesIn: number) =>
  `the clock reads 86400s ahead of the time passed, so the time passed is what counts until the step is taken as the time in ${settlesIn}s: was it stepped forward?`;
/** How the reasons of an Alertmanager alert's rate limit and cooldown end: it is decided again at a later delivery. */
const LIMIT_AGAIN = "; decided again at the alert's first delivery after this limit frees";
const COOL_AGAIN = "; decided again at the alert's first delivery after the cooldown is over";

describe('a wall clock stepped forward, then corrected', () => {
  const count = (table: string) => countRows(svc.dbPath, `SELECT COUNT(*) AS n FROM ${table}`);

  beforeEach(async () => {
    svc = await start(1, 0, ['--dedup-retention', '1h', '--history-retention', '2h']);
  });

  it('a re-delivered alert stays a duplicate and the rate limit still counts its run: the fix runs once', async () => {
    const first = await deliver(1);
    assert.equal(first.action, 'executed');
    // A day forward, housekeeping runs on it, and the clock is put right.
    svc.clock.step(24 * HOUR);
    await svc.service.housekeep();
    svc.clock.step(-24 * HOUR);
    await svc.service.housekeep();
    assert.deepEqual([count('incidents'), count('rate_events')], [1, 1], 'nothing pruned: no time passed');
    const again = await deliver(1);
    assert.deepEqual([again.action, again.incident_id], ['duplicate', first.incident_id]);
    // Another alert for the service: the hour's one run still counts.
    const other = await deliver(2);
    assert.deepEqual([other.action, other.event], ['blocked', 'RATE_LIMITED']);
    assert.equal(target.calls('/restart/api', 'POST'), 1);
    // Time passing still prunes: past the retention the alert is decided again.
    svc.clock.advance(2 * HOUR + 1);
    await svc.service.housekeep();
    assert.deepEqual([count('incidents'), count('rate_events')], [0, 0]);
    assert.equal((await deliver(1)).action, 'executed');
    assert.equal(target.calls('/restart/api', 'POST'), 2);
  });

  it('a forward step that holds for the longest retention of time passing is taken as the time: pruning then follows it', async () => {
    assert.equal((await deliver(1)).action, 'executed');
    svc.clock.step(24 * HOUR);
    await svc.service.housekeep();
    assert.deepEqual([count('incidents'), count('rate_events')], [1, 1], 'the step is not time passed');
    // An alert decided on the stepped clock (another service: the first run still counts
    // for its own, see below): its rows carry the stepped time.
    target.route('POST', '/restart/web', { status: 200 });
    assert.equal((await deliver(2, 'web')).action, 'executed');
    svc.clock.advance(HOUR);
    await svc.service.housekeep();
    assert.deepEqual([count('incidents'), count('rate_events')], [2, 2], 'an hour of time passing: both keys are within their retention');
    // Two hours (the history retention, the longest here) after the step, it is taken as
    // the time: every row from before it is past its retention in real time too, and the
    // rows recorded since are judged by the clock that stamped them.
    svc.clock.advance(HOUR);
    await svc.service.housekeep();
    assert.deepEqual([count('incidents'), count('rate_events')], [0, 0]);
  });
});

describe('a wall clock set back', () => {
  it('the rate limit counts the runs stamped after now, and its reason says how many, why and when it frees', async () => {
    svc = await start(2, 0);
    const t0 = svc.clock.now();
    assert.equal((await deliver(1)).action, 'executed');
    // The clock is set a day back: run 1 is stamped a day after now, and still counts.
    svc.clock.step(-24 * HOUR);
    assert.equal((await deliver(2)).action, 'executed', 'one of the two runs an hour is left');
    const held = await deliver(3);
    assert.deepEqual([held.action, held.event], ['blocked', 'RATE_LIMITED']);
    // Run 2, the older by its stamp, leaves the hour an hour after it: the limit frees then.
    const note = (left: number) =>
      `Rate limit exceeded (2/hour); 1 run it counts is recorded as started after now (the latest at ${new Date(t0).toISOString()}): was the clock set back? A run counts until an hour after its recorded start, so the limit frees in ${left}s${LIMIT_AGAIN}`;
    assert.equal(held.reason, note(3600));
    svc.clock.advance(HOUR - 1000);
    assert.equal((await deliver(4)).reason, note(1));
    svc.clock.advance(1000);
    assert.equal((await deliver(5)).action, 'executed');
    // Run 1 still counts with alert 5's run: until alert 5's run leaves the hour.
    assert.equal((await deliver(6)).reason, note(3600));
    assert.equal(target.calls('/restart/api', 'POST'), 3);
  });

  it('two runs before the step: both are said, and the limit frees when the older is an hour old by the clock', async () => {
    svc = await start(2, 0);
    const t0 = svc.clock.now();
    assert.equal((await deliver(1)).action, 'executed');
    svc.clock.advance(30 * 60_000);
    assert.equal((await deliver(2)).action, 'executed');
    svc.clock.step(-24 * HOUR);
    const held = await deliver(3);
    assert.deepEqual(
      [held.event, held.reason],
      [
        'RATE_LIMITED',
        `Rate limit exceeded (2/hour); 2 runs it counts are recorded as started after now (the latest at ${new Date(t0 + 30 * 60_000).toISOString()}): was the clock set back? A run counts until an hour after its recorded start, so the limit frees in ${24 * 3600 + 1800}s${LIMIT_AGAIN}`,
      ],
    );
    svc.clock.set(t0 + HOUR - 1);
    assert.equal((await deliver(4)).event, 'RATE_LIMITED');
    svc.clock.advance(1);
    assert.equal((await deliver(5)).action, 'executed');
    assert.equal(target.calls('/restart/api', 'POST'), 3);
  });

  it('a runbook with no cooldown shows none from a run stamped after now, as the stage and a clearing judge it', async () => {
    svc = await start(100, 0);
    assert.equal((await deliver(1)).action, 'executed');
    svc.clock.step(-24 * HOUR);
    const view = await svc.get('/api/v1/runbooks/restart-api');
    assert.deepEqual([view.body.cooldown_minutes, view.body.cooldowns, view.body.cooldown_end], [0, [], null]);
    const clear = await svc.post('/api/v1/runbooks/restart-api/cooldown/clear', { by: 'alice', reason: 'clock fixed' });
    assert.deepEqual([clear.status, clear.body.error.message], [409, 'runbook restart-api has no cooldown (cooldown_minutes: 0): there is nothing to end']);
    assert.equal((await deliver(2)).action, 'executed');
  });
});

/**
 * The guardrail windows (the rate limit's hour, a cooldown) judge how long ago a run
 * started by the time passed while the wall clock is ahead of it: a forward step does
 * not make the runs before it look old, so it lets no more runs through.
 */
describe('the guardrail windows while the wall clock is stepped forward', () => {
  it('the rate limit still counts the hour\'s runs a day after a step forward, and frees as time passes', async () => {
    await fiveRunsAMinuteApart();
    // Five runs in the last five minutes; the clock is set a day forward.
    svc.clock.step(24 * HOUR);
    const next = await deliver(6);
    assert.deepEqual([next.action, next.event], ['blocked', 'RATE_LIMITED']);
    // The step is first seen now: it is taken as the time once it has held for an hour and a minute.
    assert.equal(next.reason, `Rate limit exceeded (5/hour); ${ahead(3660)}${LIMIT_AGAIN}`);
    assert.equal(target.calls('/restart/api', 'POST'), 5);
    // Time passing frees the window as before: the first run is an hour old an hour after it.
    await firstRunLeavesTheHour();
  });

  it('a cooldown holds through a step forward for as long as time has not passed, and ends by time passing or by hand', async () => {
    svc = await start(100, 10);
    assert.equal((await deliver(1)).action, 'executed');
    svc.clock.advance(60_000);
    svc.clock.step(24 * HOUR);
    const next = await deliver(2);
    assert.deepEqual([next.action, next.event], ['blocked', 'RATE_LIMITED']);
    assert.equal(next.reason, `Cooldown active (540s remaining; ${ahead(3660)})${COOL_AGAIN}`);
    // The runbook's live state shows the cooldown the stage holds to.
    const state = (await svc.get('/api/v1/runbooks/restart-api')).body;
    assert.deepEqual(state.cooldowns.map((c: { service: string }) => c.service), ['api']);
    assert.equal(state.executions_last_hour, 1);
    svc.clock.advance(9 * 60_000 - 1);
    assert.equal((await deliver(3)).event, 'RATE_LIMITED');
    svc.clock.advance(1);
    assert.equal((await deliver(4)).action, 'executed', 'ten minutes passed since the run');
    assert.equal(target.calls('/restart/api', 'POST'), 2);
    // The run just made carries the stepped clock's time: its cooldown is in force, and a
    // person may end it by hand as the stage judges it.
    svc.clock.advance(60_000);
    assert.equal((await deliver(5)).event, 'RATE_LIMITED');
    const cleared = await svc.post('/api/v1/runbooks/restart-api/cooldown/clear', { by: 'oncall', reason: 'the clock was stepped; api is fine', service: 'api' });
    assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
    assert.equal((await deliver(6)).action, 'executed');
    assert.equal(target.calls('/restart/api', 'POST'), 3);
  });

  it('a run recorded on the stepped clock counts until the step has held for the longest window, then the clock is taken as it is', async () => {
    await runOnSteppedClock();
    svc.clock.advance(HOUR);
    // Judged by the wall clock the run is an hour old; by the time passed it is stamped
    // a day ahead, so it still counts until the step is taken as the time.
    assert.equal((await deliver(2)).event, 'RATE_LIMITED');
    svc.clock.advance(60_000);
    assert.equal((await deliver(3)).action, 'executed', 'held for an hour and a minute: the clock is taken as it is');
    assert.equal(target.calls('/restart/api', 'POST'), 2);
  });

  it('an open circuit\'s recovery wait is not ended by a step forward: the trial comes after the time passed', async () => {
    await openCircuit();
    svc.clock.step(24 * HOUR);
    const open = await deliver(2);
    assert.deepEqual(
      [open.event, open.reason],
      ['CIRCUIT_OPEN', `Circuit OPEN (too many failures); trial allowed in 300s (${ahead(3660)})`],
    );
    await trialAfterFiveMinutes();
  });

  it('an open circuit opened on the stepped clock soon after the step: its trial is allowed when the step is taken as the time, and the reason says so', async () => {
    await startFailing();
    svc.clock.step(24 * HOUR);
    // Seen by the housekeeping pass that follows it; taken as the time once it has held for
    // an hour and a minute (the hour is the longest window here).
    await svc.service.housekeep();
    svc.clock.advance(5 * 60_000);
    assert.equal((await deliver(1)).event, 'FAILED');
    // Opened on the stepped clock, a day ahead of the time passed: its five minutes are not
    // reached by the time passed before the step is taken as the time, 56 minutes from now.
    const open = await deliver(2);
    assert.deepEqual([open.event, open.reason], ['CIRCUIT_OPEN', `Circuit OPEN (too many failures); trial allowed in 3360s (${ahead(3360)})`]);
    svc.clock.advance(56 * 60_000 - 1);
    const last = await deliver(3);
    assert.deepEqual([last.event, last.reason], ['CIRCUIT_OPEN', `Circuit OPEN (too many failures); trial allowed in 1s (${ahead(1)})`]);
    target.route('POST', '/restart/api', { status: 200 });
    svc.clock.advance(1);
    assert.deepEqual([(await deliver(4)).action, target.calls('/restart/api', 'POST')], ['executed', 2]);
  });

  it('under time passing alone the windows are exact', async () => {
    svc = await start(2, 0);
    assert.equal((await deliver(1)).action, 'executed');
    assert.equal((await deliver(2)).action, 'executed');
    assert.equal((await deliver(3)).event, 'RATE_LIMITED');
    svc.clock.advance(HOUR - 1);
    assert.equal((await deliver(4)).event, 'RATE_LIMITED', 'an hour less a millisecond: the runs still count');
    svc.clock.advance(1);
    assert.equal((await deliver(5)).action, 'executed');
  });
});

/**
 * A restart while the wall clock is stepped forward (a crash loop, a deploy): the guard time
 * is saved at each housekeeping pass and at a stop, with the boot id and the monotonic
 * time, and a start on the same boot goes on from it. The manual clock stands for the
 * machine: the same clock across a restart is the same boot, `reboot()` a new one.
 */
describe('a restart while the wall clock is stepped forward', () => {

  /** Services left running by a crash (below), stopped after the test. */
  let crashed: TestService[] = [];
  /**
   * A kill -9 of `from` now: a new service on a copy of what its database file holds (what
   * was committed, nothing of a stop's own saves), on the same clock (the same boot). The
   * serve lock allows one service per file, so the one "killed" is left running on its own
   * file, and stopped after the test.
   */
  async function afterCrash(from: TestService): Promise<TestService> {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-crashed-'));
    mkdirSync(join(dir, 'data'));
    cpSync(from.runbooksDir, join(dir, 'runbooks'), { recursive: true });
    const db = new Database(from.dbPath, { readonly: true });
    try {
      db.exec(`VACUUM INTO '${join(dir, 'data', 'rectify.db')}'`);
    } finally {
      db.close();
    }
    crashed.push(from);
    return startTestService({ dir, clock: from.clock, captureLogs: true });
  }
  const warnedAhead = (s: TestService) =>
    s.log.records().filter((r) => typeof r.msg === 'string' && r.msg.startsWith('the clock reads ahead of the time passed since the last run on this boot')).map((r) => r.ahead_s);

  afterEach(async () => {
    for (const s of crashed) await s.stop({ remove: true });
    crashed = [];
  });

  it('a crash loop: a cooldown still holds after a kill -9 on the same boot, from the guard time the last housekeeping pass saved', async () => {
    svc = await start(100, 10);
    assert.equal((await deliver(1)).action, 'executed');
    svc.clock.advance(60_000);
    svc.clock.step(24 * HOUR);
    // The pass after the step saves the guard time; then the process dies, with no stop to save it.
    await svc.service.housekeep();
    svc = await afterCrash(svc);
    const next = await deliver(2);
    assert.deepEqual([next.action, next.event, next.reason], ['blocked', 'RATE_LIMITED', `Cooldown active (540s remaining; ${ahead(3660)})${COOL_AGAIN}`]);
    assert.deepEqual(warnedAhead(svc), [86400]);
    // Time passes, a pass, and it dies again: the time passed before each crash still counts.
    svc.clock.advance(9 * 60_000 - 1);
    await svc.service.housekeep();
    svc = await afterCrash(svc);
    const again = await deliver(3);
    assert.deepEqual([again.action, again.event, again.reason], ['blocked', 'RATE_LIMITED', `Cooldown active (1s remaining; ${ahead(3121)})${COOL_AGAIN}`]);
    assert.deepEqual(warnedAhead(svc), [86400]);
    svc.clock.advance(1);
    assert.equal((await deliver(4)).action, 'executed', 'ten minutes passed since the run');
    assert.equal(target.calls('/restart/api', 'POST'), 2);
  });

  it('a cooldown still holds after a restart on the same boot, and ends by time passing', async () => {
    svc = await start(100, 10);
    assert.equal((await deliver(1)).action, 'executed');
    svc.clock.advance(60_000);
    svc.clock.step(24 * HOUR);
    await svc.service.housekeep();
    svc = await svc.restart();
    const next = await deliver(2);
    assert.deepEqual([next.action, next.event, next.reason], ['blocked', 'RATE_LIMITED', `Cooldown active (540s remaining; ${ahead(3660)})${COOL_AGAIN}`]);
    // Housekeeping on the restarted service goes on from the saved time too.
    await svc.service.housekeep();
    svc = await svc.restart();
    svc.clock.advance(9 * 60_000 - 1);
    assert.equal((await deliver(3)).reason, `Cooldown active (1s remaining; ${ahead(3121)})${COOL_AGAIN}`);
    svc.clock.advance(1);
    assert.equal((await deliver(4)).action, 'executed', 'ten minutes passed since the run');
    assert.equal(target.calls('/restart/api', 'POST'), 2);
  });

  it('the rate limit still counts the hour\'s runs after a step made while rectify was stopped, through housekeeping', async () => {
    await fiveRunsAMinuteApart();
    await svc.stop();
    // Stopped (the stop saved the guard time); the clock is set a day forward; started again.
    svc.clock.step(24 * HOUR);
    svc = await startTestService({ dir: svc.dir, clock: svc.clock, captureLogs: true });
    assert.deepEqual(warnedAhead(svc), [86400]);
    await svc.service.housekeep();
    assert.equal(countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM rate_events'), 5, 'nothing pruned: no time passed');
    const next = await deliver(6);
    assert.deepEqual([next.action, next.event, next.reason], ['blocked', 'RATE_LIMITED', `Rate limit exceeded (5/hour); ${ahead(3660)}${LIMIT_AGAIN}`]);
    await firstRunLeavesTheHour();
  });

  it('a step held across a restart is taken as the time once it has held for the longest window and a minute in all', async () => {
    await runOnSteppedClock();
    svc.clock.advance(HOUR / 2);
    await svc.service.housekeep();
    svc = await svc.restart();
    svc.clock.advance(HOUR / 2);
    assert.equal((await deliver(2)).event, 'RATE_LIMITED', 'the run is stamped a day ahead of the time passed');
    svc.clock.advance(60_000);
    assert.equal((await deliver(3)).action, 'executed', 'held for an hour and a minute, half of it before the restart: the clock is taken as it is');
    assert.equal(target.calls('/restart/api', 'POST'), 2);
  });

  it('an open circuit\'s recovery wait still holds after a restart on the same boot', async () => {
    await openCircuit();
    svc.clock.step(24 * HOUR);
    svc = await svc.restart();
    const open = await deliver(2);
    assert.deepEqual([open.event, open.reason], ['CIRCUIT_OPEN', `Circuit OPEN (too many failures); trial allowed in 300s (${ahead(3660)})`]);
    await trialAfterFiveMinutes();
  });

  it('on another boot the saved time says nothing: the clock is taken as it is at the start', async () => {
    svc = await start(100, 10);
    assert.equal((await deliver(1)).action, 'executed');
    svc.clock.advance(60_000);
    await svc.service.housekeep();
    await svc.stop();
    // The machine boots again; its monotonic clock starts again, and reads past the saved one two minutes later.
    svc.clock.reboot();
    svc.clock.advance(2 * 60_000);
    svc.clock.step(24 * HOUR);
    svc = await startTestService({ dir: svc.dir, clock: svc.clock, captureLogs: true });
    assert.equal((await deliver(2)).action, 'executed', 'the wall clock at the start is taken as it is, as on a first start');
    assert.equal(svc.log.records().filter((r) => r.msg === 'the guard time starts from the wall clock as it is').map((r) => r.why).join(), 'saved on another boot');
  });
});

describe('a cooldown\'s end as shown while the wall clock is stepped forward', () => {
  const iso = (ms: number) => new Date(ms).toISOString();

  beforeEach(async () => {
    svc = await start(100, 10);
  });

  it('the runbook view and a clearing show the wall-clock time the cooldown actually ends: later by the step while it is judged by the time passed', async () => {
    const t0 = svc.clock.now();
    assert.equal((await deliver(1)).action, 'executed');
    svc.clock.advance(60_000);
    svc.clock.step(24 * HOUR);
    // Judged by the time passed, the cooldown has nine minutes left: on the wall clock, it ends a day and ten minutes after the run.
    const end = iso(t0 + 24 * HOUR + 10 * 60_000);
    const state = (await svc.get('/api/v1/runbooks/restart-api')).body;
    assert.deepEqual([state.cooldowns, state.cooldown_end], [[{ service: 'api', until: end }], end]);
    // It does end then.
    svc.clock.advance(9 * 60_000 - 1);
    assert.equal((await deliver(2)).event, 'RATE_LIMITED');
    assert.deepEqual((await svc.get('/api/v1/runbooks/restart-api')).body.cooldown_end, end);
    const cleared = await svc.post('/api/v1/runbooks/restart-api/cooldown/clear', { by: 'oncall', reason: 'the clock was stepped; api is fine', service: 'api' });
    assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
    assert.deepEqual(cleared.body.cleared, [{ kind: 'service', subject: 'api', last_started_at: iso(t0), until: end }]);
  });

  it('a run on the stepped clock soon after the step: its cooldown ends when the step is taken as the time, and that is the end shown', async () => {
    target.route('POST', '/restart/web', { status: 200 });
    svc.clock.step(24 * HOUR);
    // Seen by the housekeeping pass that follows it (every 5 s); it is taken as the time once
    // it has held for an hour and a minute (the hour is the longest window here).
    await svc.service.housekeep();
    svc.clock.advance(5 * 60_000);
    const at = svc.clock.now();
    assert.equal((await deliver(1)).action, 'executed');
    assert.equal((await deliver(2, 'web')).action, 'executed');
    // By the time passed the runs are a day ahead: their ten minutes are not reached before
    // the step is taken as the time, 56 minutes from now (61 after the step), and they end then.
    const end = iso(at + 56 * 60_000);
    const view = async () => (await svc.get('/api/v1/runbooks/restart-api')).body;
    const state = await view();
    assert.deepEqual(
      [[...state.cooldowns].sort((a: { service: string }, b: { service: string }) => a.service.localeCompare(b.service)), state.cooldown_end],
      [[{ service: 'api', until: end }, { service: 'web', until: end }], end],
    );
    // The reasons state the wall-clock time left, as shown: not the day and ten minutes the
    // time passed has to go, but until the step is taken as the time. Half an hour on:
    svc.clock.advance(30 * 60_000);
    const mid = await deliver(10);
    assert.deepEqual([mid.action, mid.event, mid.reason], ['blocked', 'RATE_LIMITED', `Cooldown active (1560s remaining; ${ahead(1560)})${COOL_AGAIN}`]);
    // A millisecond before the end, a second (rounded up) is left.
    svc.clock.advance(26 * 60_000 - 1);
    const last = await deliver(3);
    assert.deepEqual([last.action, last.event, last.reason], ['blocked', 'RATE_LIMITED', `Cooldown active (1s remaining; ${ahead(1)})${COOL_AGAIN}`]);
    assert.deepEqual((await view()).cooldown_end, end);
    const cleared = await svc.post('/api/v1/runbooks/restart-api/cooldown/clear', { by: 'oncall', reason: 'the clock was stepped; api is fine', service: 'api' });
    assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
    assert.deepEqual(cleared.body.cleared, [{ kind: 'service', subject: 'api', last_started_at: iso(at), until: end }]);
    // The one not cleared does end then.
    assert.equal((await deliver(4, 'web')).event, 'RATE_LIMITED');
    svc.clock.advance(1);
    assert.equal((await deliver(5, 'web')).action, 'executed');
    assert.deepEqual([target.calls('/restart/api', 'POST'), target.calls('/restart/web', 'POST')], [1, 2]);
  });

  it('a run on the stepped clock shortly before the step is taken as the time: its cooldown ends when written, by the clock that stamped it', async () => {
    svc.clock.step(24 * HOUR);
    // Seen by the housekeeping pass that follows it (every 5 s), then held for 55 minutes of
    // the hour and a minute it must hold (the hour is the longest window here).
    await svc.service.housekeep();
    svc.clock.advance(55 * 60_000);
    const at = svc.clock.now();
    assert.equal((await deliver(1)).action, 'executed');
    const state = (await svc.get('/api/v1/runbooks/restart-api')).body;
    assert.equal(state.cooldown_end, iso(at + 10 * 60_000), 'the step is taken as the time six minutes from now, before the time passed reaches the end');
    svc.clock.advance(10 * 60_000 - 1);
    assert.equal((await deliver(2)).event, 'RATE_LIMITED');
    svc.clock.advance(1);
    assert.equal((await deliver(3)).action, 'executed');
  });
});
