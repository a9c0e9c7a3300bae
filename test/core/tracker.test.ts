import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createExecutionTracker } from '../../src/engine/index.js';
import type { RunOutcome, RunRequest } from '../../src/execute/runner.js';

/**
 * Shutdown: running executions get a grace period, then are aborted (and record
 * INTERRUPTED). A decision committed just as intake stopped may start a run after
 * the drain began; it must be waited for, or aborted, never cut off by the exit.
 */
describe('execution tracker drain', () => {
  // A run that lasts `ms` unless aborted, and says which.
  const runFor = (ms: number) => (req: RunRequest, signal: AbortSignal): Promise<RunOutcome> =>
    new Promise((resolve) => {
      const done = (state: RunOutcome['state']) => resolve({ executionId: req.id, state, success: state === 'succeeded', rolledBack: false, outcome: state, event: state === 'succeeded' ? 'SUCCESS' : 'INTERRUPTED' });
      if (signal.aborted) return done('interrupted');
      const t = setTimeout(() => done('succeeded'), ms);
      signal.addEventListener('abort', () => {
        clearTimeout(t);
        done('interrupted');
      });
    });
  const req = (id: string) => ({ id }) as RunRequest;

  it('a run started during the grace period is waited for too', async () => {
    const tracker = createExecutionTracker(runFor(50));
    const first = tracker.start(req('a'));
    const drained = tracker.drain(1_000);
    await new Promise((r) => setTimeout(r, 20));
    const late = tracker.start(req('b'));
    assert.deepEqual(await drained, { finished: 2, interrupted: 0, unrecorded: [] });
    assert.equal((await first).state, 'succeeded');
    assert.equal((await late).state, 'succeeded');
    assert.equal(tracker.size(), 0);
  });

  it('after the grace period, runs are aborted, and one that starts after the drain is aborted at once', async () => {
    const tracker = createExecutionTracker(runFor(10_000));
    const slow = tracker.start(req('a'));
    assert.deepEqual(await tracker.drain(30), { finished: 0, interrupted: 1, unrecorded: [] });
    assert.equal((await slow).state, 'interrupted');
    assert.equal((await tracker.start(req('b'))).state, 'interrupted');
  });

  it('a run cut off whose INTERRUPTED could not be recorded is counted apart, by id, never as interrupted', async () => {
    const tracker = createExecutionTracker((r: RunRequest, signal: AbortSignal) =>
      r.id === 'lost'
        ? new Promise<RunOutcome>((resolve) => signal.addEventListener('abort', () => resolve({ executionId: r.id, state: 'interrupted', success: false, rolledBack: false, outcome: 'unrecorded', event: 'INTERRUPTED', unrecorded: true })))
        : runFor(10_000)(r, signal),
    );
    const runs = [tracker.start(req('lost')), tracker.start(req('kept'))];
    assert.deepEqual(await tracker.drain(30), { finished: 0, interrupted: 1, unrecorded: ['lost'] });
    assert.deepEqual((await Promise.all(runs)).map((o) => o.unrecorded === true), [true, false]);
  });

  it('with nothing running, drain returns at once and later runs are aborted', async () => {
    const tracker = createExecutionTracker(runFor(10_000));
    assert.deepEqual(await tracker.drain(5_000), { finished: 0, interrupted: 0, unrecorded: [] });
    assert.equal((await tracker.start(req('c'))).state, 'interrupted');
  });

  it('a grace period longer than a timer can hold waits for the runs, not 1 ms', async () => {
    const tracker = createExecutionTracker(runFor(50));
    const run = tracker.start(req('d'));
    assert.deepEqual(await tracker.drain(30 * 24 * 3_600_000), { finished: 1, interrupted: 0, unrecorded: [] });
    assert.equal((await run).state, 'succeeded');
  });
});
