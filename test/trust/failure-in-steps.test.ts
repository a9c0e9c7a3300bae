import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cutOffVerdict, failureInSteps, stepsAsCutOff, withoutVerdictInSteps } from '../../src/execute/breaker.js';
import type { StepRecord } from '../../src/store/ports.js';

// What crash recovery reads from a run's recorded steps: whether the run had failed
// before rectify died, so the circuit breaker counts it as a stop at that point would.
const step = (phase: StepRecord['phase'], index: number, ok: boolean | null, detail: string | null = null): StepRecord => ({
  phase,
  index,
  summary: `${phase} ${index + 1}`,
  started_at: 1,
  finished_at: ok === null ? null : 2,
  ok,
  detail,
});

test('a post-check recorded as failed is a failure, even when the crash came before the rollback started', () => {
  const steps = [step('pre_check', 0, true), step('action', 0, true), step('post_check', 0, false, 'error rate 0.4 > 0.05')];
  assert.equal(failureInSteps(steps), 'verification 1 failed: error rate 0.4 > 0.05');
});

test('a failed action is named before a failed post-check; a started rollback still reads as failed', () => {
  assert.equal(failureInSteps([step('action', 0, false, 'HTTP 500'), step('post_check', 0, false, 'x')]), 'action 1 failed: HTTP 500');
  assert.equal(failureInSteps([step('action', 0, true), step('rollback', 0, null)]), 'the rollback had started: an action or a verification had failed');
});

test('a failed pre-check, a post-check still running or passed, and a clean run are not failures', () => {
  assert.equal(failureInSteps([step('pre_check', 0, false, 'replicas < 2')]), undefined);
  assert.equal(failureInSteps([step('action', 0, true), step('post_check', 0, null)]), undefined);
  assert.equal(failureInSteps([step('action', 0, true), step('post_check', 0, true)]), undefined);
  assert.equal(failureInSteps([]), undefined);
});

test('an action refused before anything changed is no failure, by rectify’s rule or the target’s "not now"; after a change, or with anything after it, it is', () => {
  const refused = (index: number, why: 'rule' | 'not_now'): StepRecord => ({ ...step('action', index, false, 'refused: no controller'), unchanged: true, refused: why });
  const without = (index: number): StepRecord => ({ ...step('action', index, true, 'already gone'), unchanged: true });
  for (const why of ['rule', 'not_now'] as const) {
    assert.equal(failureInSteps([step('pre_check', 0, true), refused(0, why)]), undefined);
    assert.deepEqual(withoutVerdictInSteps([step('pre_check', 0, true), without(0), refused(1, why)])?.why, why);
    assert.equal(failureInSteps([without(0), refused(1, why)]), undefined);
  }
  // An earlier action that may have changed something: the run had acted, and failed.
  assert.equal(failureInSteps([step('action', 0, true), refused(1, 'rule')]), 'action 2 failed: refused: no controller');
  assert.equal(withoutVerdictInSteps([step('action', 0, true), refused(1, 'rule')]), undefined);
  // A failed action not refused, and one recorded before steps said so: failures as ever.
  assert.equal(failureInSteps([step('action', 0, false, 'HTTP 500')]), 'action 1 failed: HTTP 500');
  assert.equal(withoutVerdictInSteps([step('action', 0, false, 'refused: no controller')]), undefined);
});

test('a pre-check finished failed before any action started ends the run without a verdict; one cut off in its check, or anything after it, does not', () => {
  const ended = withoutVerdictInSteps([step('pre_check', 0, true), step('pre_check', 1, false, 'replicas < 2')]);
  assert.deepEqual([ended?.why, ended?.index, ended?.detail], ['pre_check', 1, 'replicas < 2']);
  assert.equal(failureInSteps([step('pre_check', 0, true), step('pre_check', 1, false, 'replicas < 2')]), undefined);
  // Cut off in the check: its verdict was never given (a trial so cut off re-opens with a new wait, as a stop there does).
  assert.equal(withoutVerdictInSteps([step('pre_check', 0, null)]), undefined);
  assert.equal(withoutVerdictInSteps([step('pre_check', 0, true), step('pre_check', 1, null)]), undefined);
  // Every pre-check passed, the next not started: nothing ended the run.
  assert.equal(withoutVerdictInSteps([step('pre_check', 0, true)]), undefined);
  assert.equal(withoutVerdictInSteps([]), undefined);
  // The runner goes on only after every pre-check passed: steps that say otherwise are read as nothing known.
  assert.equal(withoutVerdictInSteps([step('pre_check', 0, false, 'x'), step('pre_check', 1, false, 'y')]), undefined);
  assert.equal(withoutVerdictInSteps([step('pre_check', 0, false, 'x'), step('action', 0, null)]), undefined);
  assert.equal(withoutVerdictInSteps([step('pre_check', 0, true), step('action', 0, null)]), undefined);
});

test('a stop reads the steps as a crash at that point leaves them: the step it cut off has no verdict, whatever its abort made it answer', () => {
  const held = step('post_check', 0, false, 'no data');
  const aborted = step('post_check', 1, false, 'aborted');
  // Post-check 1 had failed (held) before the stop cut post-check 2 off: a failure either way.
  assert.deepEqual(cutOffVerdict(stepsAsCutOff([step('action', 0, true), held, aborted])), { count: 'failure', failure: 'verification 1 failed: no data' });
  assert.deepEqual(cutOffVerdict([step('action', 0, true), held, step('post_check', 1, null)]), { count: 'failure', failure: 'verification 1 failed: no data' });
  // The only post-check, cut off: nothing had failed, as after a crash in it.
  assert.deepEqual(cutOffVerdict(stepsAsCutOff([step('action', 0, true), step('post_check', 0, false, 'aborted')])), { count: 'cut_off' });
  assert.deepEqual(cutOffVerdict(stepsAsCutOff([step('action', 0, false, 'aborted (the request may have reached the target)')])), { count: 'cut_off' });
  assert.deepEqual(cutOffVerdict(stepsAsCutOff([step('pre_check', 0, false, 'aborted')])), { count: 'cut_off' });
  assert.equal(cutOffVerdict([step('pre_check', 0, false, 'replicas < 2')]).count, 'without_verdict');
});

test("a step recorded as ended by a stop's abort (stopped) is read as cut off, by the stop and by crash recovery alike; one that failed on its own is not", () => {
  const stopped = (s: StepRecord): StepRecord => ({ ...s, stopped: true });
  const cut = 'aborted (the request may have reached the target)';
  // The only action, cut by the stop: nothing had failed.
  assert.deepEqual(cutOffVerdict([stopped(step('action', 0, false, cut))]), { count: 'cut_off' });
  assert.equal(failureInSteps([step('pre_check', 0, true), stopped(step('action', 0, false, cut))]), undefined);
  // A pre-check the stop cut off gave no verdict: cut off, not ended by a failed pre-check.
  assert.deepEqual(cutOffVerdict([stopped(step('pre_check', 0, false, 'aborted'))]), { count: 'cut_off' });
  assert.equal(withoutVerdictInSteps([stopped(step('pre_check', 0, false, 'aborted'))]), undefined);
  // A post-check failed before the one the stop cut off: a failure either way.
  assert.deepEqual(cutOffVerdict([step('action', 0, true), step('post_check', 0, false, 'no data'), stopped(step('post_check', 1, false, 'aborted'))]), {
    count: 'failure',
    failure: 'verification 1 failed: no data',
  });
  // The rollback the stop cut off had started after a failed action: still that failure.
  assert.deepEqual(cutOffVerdict([step('action', 0, false, 'HTTP 500'), stopped(step('rollback', 0, false, cut))]), { count: 'failure', failure: 'action 1 failed: HTTP 500' });
  // The same action failed on its own (no mark): a failure, as ever.
  assert.deepEqual(cutOffVerdict([step('action', 0, false, 'HTTP 500')]), { count: 'failure', failure: 'action 1 failed: HTTP 500' });
});
