import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createManualClock, createPruneHorizon, impossibleTime, parseRfc3339, parseSince, resumeGuardClock, saveGuardClock, sinceProblem, systemClock, type ManualClock } from '../../src/lib/index.js';

describe('RFC 3339 times', () => {
  it('reads a time that exists, with an offset or fractions, and a leap day of a leap year', () => {
    assert.equal(parseRfc3339('2026-11-24T03:00:00Z'), Date.UTC(2026, 10, 24, 3));
    assert.equal(parseRfc3339('2026-11-24T03:00:00.250+01:00'), Date.UTC(2026, 10, 24, 2, 0, 0, 250));
    assert.equal(parseRfc3339('2028-02-29T00:00:00Z'), Date.UTC(2028, 1, 29));
    assert.equal(parseRfc3339('2000-02-29T23:59:59Z'), Date.UTC(2000, 1, 29, 23, 59, 59));
    assert.equal(impossibleTime('2026-12-31T23:59:59-23:59'), undefined);
  });

  it('refuses a date or time that does not exist, saying why, where Date.parse would move it', () => {
    const cases: Array<[string, string]> = [
      ['2026-02-31T12:00:00Z', '2026-02-31 does not exist: February 2026 has 28 days'],
      ['2026-04-31T00:00:00Z', '2026-04-31 does not exist: April 2026 has 30 days'],
      ['2026-02-29T00:00:00Z', '2026-02-29 does not exist: February 2026 has 28 days'],
      ['2100-02-29T00:00:00Z', '2100-02-29 does not exist: February 2100 has 28 days'],
      ['2026-13-01T00:00:00Z', '2026-13-01 does not exist: there is no month 13'],
      ['2026-01-00T00:00:00Z', '2026-01-00 does not exist: there is no day 00'],
      ['2026-01-01T24:00:00Z', '24:00:00 is not a time of day (00:00:00 to 23:59:59): write 00:00:00 of the next day'],
      ['2026-01-01T12:60:00Z', '12:60:00 is not a time of day (00:00:00 to 23:59:59)'],
      ['2026-01-01T00:00:00+24:00', 'the offset +24:00 does not exist (-23:59 to +23:59)'],
    ];
    for (const [text, why] of cases) {
      assert.equal(parseRfc3339(text), undefined, text);
      assert.equal(impossibleTime(text), why, text);
    }
    // Not written as a time at all: no reason of this kind (the caller says what form it expects).
    assert.equal(impossibleTime('yesterday'), undefined);
    assert.equal(parseRfc3339('yesterday'), undefined);
  });

  it('--since: a duration back from now or a time that exists; the problem names a day that does not exist', () => {
    const now = Date.UTC(2026, 5, 1);
    assert.equal(parseSince('1h', now), now - 3_600_000);
    assert.equal(sinceProblem('1h', now), undefined);
    assert.equal(parseSince('2026-02-31T12:00:00Z', now), undefined);
    assert.equal(sinceProblem('2026-02-31T12:00:00Z', now), '2026-02-31 does not exist: February 2026 has 28 days');
    // Ten years back at most, as a duration in the config: a longer one is before the first date JavaScript can hold.
    assert.equal(parseSince('3650d', now), now - 3650 * 86_400_000);
    assert.equal(parseSince('3651d', now), undefined);
    assert.equal(sinceProblem('999999999d', now), 'expected a duration back from now of at most 3650d (ten years), got "999999999d"');
    assert.equal(sinceProblem('soon', now), 'expected an RFC 3339 time (2026-11-24T03:00:00Z) or a duration back from now (1h, 30m), got "soon"');
  });
});

describe('the prune horizon', () => {
  const H = 3_600_000;
  it('moves with time passing, not with a forward step of the wall clock, until the step has held for settleMs', () => {
    const clock = createManualClock(0);
    const horizon = createPruneHorizon(clock);
    clock.advance(H);
    assert.equal(horizon.now(2 * H), H);
    clock.step(24 * H);
    assert.equal(horizon.now(2 * H), H, 'a step is no time passed');
    clock.advance(H);
    assert.equal(horizon.now(2 * H), 2 * H);
    clock.advance(H);
    assert.equal(horizon.now(2 * H), 27 * H, 'held for settleMs: taken as the time');
    clock.advance(H);
    assert.equal(horizon.now(2 * H), 28 * H);
  });

  it('a forward step corrected again costs nothing; a step back is followed at once; small jitter is taken as it is', () => {
    const clock = createManualClock(0);
    const horizon = createPruneHorizon(clock);
    clock.step(24 * H);
    assert.equal(horizon.now(2 * H), 0, 'stepped before the first pass: still a step');
    clock.step(-24 * H);
    clock.advance(H);
    assert.equal(horizon.now(2 * H), H);
    clock.step(-H / 2);
    assert.equal(horizon.now(2 * H), H / 2);
    clock.step(500);
    assert.equal(horizon.now(2 * H), H / 2 + 500);
    // A step that came back before settleMs: the wait starts again with the next one.
    clock.step(24 * H);
    clock.advance(H);
    assert.equal(horizon.now(2 * H), 1.5 * H + 500);
    clock.step(-24 * H);
    assert.equal(horizon.now(2 * H), 1.5 * H + 500);
    clock.step(24 * H);
    clock.advance(H);
    assert.equal(horizon.now(2 * H), 2.5 * H + 500);
    clock.advance(H);
    assert.equal(horizon.now(2 * H), 3.5 * H + 500, 'held an hour since it was seen: not yet taken');
    clock.advance(H);
    assert.equal(horizon.now(2 * H), 28.5 * H + 500);
  });

  it('the wall-clock time a time is reached: by the time passed, or when the step is taken as the time, whichever comes first', () => {
    const M = 60_000;
    const clock = createManualClock(0);
    const horizon = createPruneHorizon(clock);
    assert.equal(horizon.wallTimeOf(10 * M, 61 * M), 10 * M, 'no step: the time itself');
    clock.step(24 * H);
    assert.equal(horizon.now(61 * M), 0);
    clock.advance(5 * M);
    const wall = clock.now();
    // The horizon is 5 minutes, the wall clock a day ahead of it; the step is taken in 56 minutes.
    assert.equal(horizon.wallTimeOf(30 * M, 61 * M), wall + 25 * M, 'reached by the time passed first: later on the wall clock by the step');
    assert.equal(horizon.wallTimeOf(wall + 10 * M, 61 * M), wall + 56 * M, 'not reached by the time passed before the step is taken: then');
    assert.equal(horizon.wallTimeOf(wall + 70 * M, 61 * M), wall + 70 * M, 'after the step is taken: the time itself');
    clock.advance(56 * M);
    assert.equal(horizon.now(61 * M), wall + 56 * M, 'taken as the time then');
    assert.equal(horizon.wallTimeOf(wall + 70 * M, 61 * M), wall + 70 * M);
  });

  it('a clock without monotonic time is taken as it is', () => {
    let t = 0;
    const horizon = createPruneHorizon({ now: () => t });
    t = 24 * H;
    assert.equal(horizon.now(2 * H), 24 * H);
  });
});

describe('the guard clock saved for the next start', () => {
  const H = 3_600_000;
  const save = (clock: ManualClock, horizon: ReturnType<typeof createPruneHorizon>) => saveGuardClock(clock, horizon.state(), horizon.state())!;

  it('resumed on the same boot: the time passed goes on from the saved time, a step before or after the stop is still a step, and its hold goes on', () => {
    const clock = createManualClock(0);
    let horizon = createPruneHorizon(clock);
    clock.advance(H);
    clock.step(24 * H);
    assert.equal(horizon.now(2 * H), H);
    clock.advance(H);
    assert.equal(horizon.now(2 * H), 2 * H);
    const text = save(clock, horizon);
    assert.deepEqual(JSON.parse(text), { boot: 'manual-boot-1', wall: 26 * H, mono: 2 * H, guard: { at: 2 * H, mono: 2 * H, aheadSince: H }, prune: { at: 2 * H, mono: 2 * H, aheadSince: H } });
    // Stopped for half an hour; the clock is stepped another day meanwhile.
    clock.advance(H / 2);
    clock.step(24 * H);
    const resumed = resumeGuardClock(clock, text);
    assert.ok('saved' in resumed);
    horizon = createPruneHorizon(clock, resumed.saved.guard);
    assert.equal(horizon.now(2 * H), 2.5 * H);
    clock.advance(H / 2 - 1);
    assert.equal(horizon.now(2 * H), 3 * H - 1, 'held two hours less a millisecond since it was first seen');
    clock.advance(1);
    assert.equal(horizon.now(2 * H), 51 * H, 'held two hours: taken as the time');
  });

  it('never ahead of the wall clock: a clock set back while stopped is followed', () => {
    const clock = createManualClock(10 * H);
    const horizon = createPruneHorizon(clock);
    const text = save(clock, horizon);
    clock.advance(H);
    clock.step(-5 * H);
    const resumed = resumeGuardClock(clock, text);
    assert.ok('saved' in resumed);
    assert.equal(createPruneHorizon(clock, resumed.saved.guard).now(2 * H), 6 * H);
  });

  it('not resumed: nothing saved, another boot, a monotonic clock that went back, or not as rectify writes it', () => {
    const clock = createManualClock(0);
    clock.advance(H);
    const text = save(clock, createPruneHorizon(clock));
    assert.deepEqual(resumeGuardClock(clock, null), { why: 'nothing saved' });
    assert.deepEqual(resumeGuardClock({ now: () => 0, monotonic: () => H }, text), { why: 'this system gives no boot id or monotonic clock' });
    assert.deepEqual(resumeGuardClock(clock, '{'), { why: 'the saved state is not JSON' });
    assert.deepEqual(resumeGuardClock(clock, JSON.stringify({ ...JSON.parse(text), guard: { at: 'x' } })), { why: 'the saved state is not as rectify writes it' });
    assert.deepEqual(resumeGuardClock(clock, 'null'), { why: 'the saved state is not as rectify writes it' });
    // Changed by hand or damaged: a step "ahead since" a monotonic time yet to come (it
    // would never settle, holding every window back for good), a horizon read after the
    // save, or ahead of the save's wall clock.
    const saved = JSON.parse(text) as { wall: number; mono: number; guard: object; prune: object };
    for (const guard of [
      { at: 0, mono: H, aheadSince: 1e15 },
      { at: 0, mono: H, aheadSince: H + 1 },
      { at: 0, mono: H + 1, aheadSince: null },
      { at: saved.wall + 2_000, mono: H, aheadSince: null },
    ]) {
      assert.deepEqual([guard, resumeGuardClock(clock, JSON.stringify({ ...saved, guard }))], [guard, { why: 'the saved state is not as rectify writes it' }]);
    }
    assert.ok('saved' in resumeGuardClock(clock, JSON.stringify({ ...saved, guard: { at: 0, mono: H, aheadSince: H } })));
    assert.deepEqual(resumeGuardClock({ ...clock, monotonic: () => H - 1 }, text), { why: 'the monotonic clock reads less than when saved' });
    clock.reboot();
    clock.advance(2 * H);
    assert.deepEqual(resumeGuardClock(clock, text), { why: 'saved on another boot' });
  });

  it('the system clock: the boot id is Linux\'s, and the monotonic time is the system\'s, read on by a process started later', () => {
    assert.equal(systemClock.bootId?.(), readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    const before = systemClock.monotonic!();
    const child = Number(
      execFileSync(process.execPath, ['--import', 'tsx', '-e', "import('./src/lib/clock.ts').then((m) => process.stdout.write(String(m.systemClock.monotonic())))"], { encoding: 'utf8' }),
    );
    const after = systemClock.monotonic!();
    assert.ok(before <= child && child <= after, `${before} <= ${child} <= ${after}`);
  });
});
