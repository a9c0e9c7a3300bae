import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failureInSteps, refusedInSteps } from '../../src/execute/breaker.js';
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
    assert.deepEqual(refusedInSteps([step('pre_check', 0, true), without(0), refused(1, why)])?.refused, why);
    assert.equal(failureInSteps([without(0), refused(1, why)]), undefined);
  }
  // An earlier action that may have changed something: the run had acted, and failed.
  assert.equal(failureInSteps([step('action', 0, true), refused(1, 'rule')]), 'action 2 failed: refused: no controller');
  assert.equal(refusedInSteps([step('action', 0, true), refused(1, 'rule')]), undefined);
  // A failed action not refused, and one recorded before steps said so: failures as ever.
  assert.equal(failureInSteps([step('action', 0, false, 'HTTP 500')]), 'action 1 failed: HTTP 500');
  assert.equal(refusedInSteps([step('action', 0, false, 'refused: no controller')]), undefined);
});
