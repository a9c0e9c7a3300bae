import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeError, poll, type Attempt } from '../../src/checks/poll.js';

const never = new AbortController().signal;

/** An evaluator answering from a script, one entry per call (the last repeats). */
function scripted(answers: Array<Attempt | Error | 'hang'>): { evaluate: (s: AbortSignal) => Promise<Attempt>; calls: () => number } {
  let n = 0;
  return {
    calls: () => n,
    evaluate: async () => {
      const a = answers[Math.min(n, answers.length - 1)]!;
      n++;
      if (a === 'hang') return new Promise<Attempt>(() => undefined);
      if (a instanceof Error) throw a;
      return a;
    },
  };
}
const pass = (v = '0.01'): Attempt => ({ pass: true, detail: `expected < 0.05, got ${v}`, observed: v });
const fail = (v = '0.2'): Attempt => ({ pass: false, detail: `expected < 0.05, got ${v}`, observed: v });

describe('poll', () => {
  it('passes on the first passing attempt', async () => {
    const s = scripted([pass()]);
    const out = await poll(s.evaluate, { intervalMs: 10, timeoutMs: 1000, signal: never });
    assert.deepEqual(out, { ok: true, detail: 'expected < 0.05, got 0.01', observed: '0.01', attempts: 1 });
  });

  it('keeps polling until the evaluation passes', async () => {
    const s = scripted([fail(), fail(), pass()]);
    const out = await poll(s.evaluate, { intervalMs: 10, timeoutMs: 1000, signal: never });
    assert.equal(out.ok, true);
    assert.equal(out.attempts, 3);
  });

  it('fails at the timeout with the last reason and the attempt count', async () => {
    const s = scripted([fail()]);
    const out = await poll(s.evaluate, { intervalMs: 50, timeoutMs: 300, signal: never });
    assert.equal(out.ok, false);
    assert.equal(out.attempts, 6);
    assert.equal(out.detail, 'expected < 0.05, got 0.2 after 6 attempts');
    assert.equal(out.observed, '0.2');
  });

  // Regression: setTimeout fires up to 1 ms early, so a fifth attempt started with a
  // 1 ms budget and its "no answer within 1ms" replaced the real reason.
  it('does not start an attempt the deadline leaves no time for', async () => {
    for (let i = 0; i < 5; i++) {
      const s = scripted([fail()]);
      const out = await poll(s.evaluate, { intervalMs: 50, timeoutMs: 200, signal: never });
      assert.equal(out.detail, 'expected < 0.05, got 0.2 after 4 attempts');
    }
  });

  it('counts a thrown error as a failed attempt, never a pass', async () => {
    const err = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    const s = scripted([err]);
    const out = await poll(s.evaluate, { intervalMs: 20, timeoutMs: 60, signal: never });
    assert.equal(out.ok, false);
    assert.equal(out.detail, 'connection refused after 3 attempts');
  });

  it('gives each attempt its own deadline, even when the evaluation ignores its signal', async () => {
    const s = scripted(['hang']);
    const started = performance.now();
    const out = await poll(s.evaluate, { intervalMs: 100, timeoutMs: 300, attemptTimeoutMs: 100, signal: never });
    const took = performance.now() - started;
    assert.equal(out.ok, false);
    // The third attempt's budget is what is left of the 300 ms: at most its own 100 ms,
    // less when the first two ran late (timers fire late on a loaded machine).
    const m = /^no answer within (\d+)ms after 3 attempts$/.exec(out.detail);
    assert.ok(m, out.detail);
    assert.ok(Number(m[1]) > 0 && Number(m[1]) <= 100, out.detail);
    assert.ok(took < 600, `took ${took}ms`);
  });

  it('does not trust a pass that arrives after the attempt deadline', async () => {
    const late = async (signal: AbortSignal): Promise<Attempt> => {
      await new Promise((r) => setTimeout(r, 80));
      void signal;
      return pass();
    };
    const out = await poll(late, { intervalMs: 50, timeoutMs: 60, attemptTimeoutMs: 30, signal: never });
    assert.equal(out.ok, false);
    assert.match(out.detail, /^no answer within \d+ms after \d attempts?$/);
  });

  it('with forMs needs consecutive passes for that long; a failure restarts the count', async () => {
    // pass, fail, then passes: the run that counts starts at attempt 3.
    const s = scripted([pass(), fail(), pass()]);
    const out = await poll(s.evaluate, { intervalMs: 50, timeoutMs: 2000, forMs: 150, signal: never });
    assert.equal(out.ok, true);
    assert.equal(out.attempts, 6, 'attempts 3,4,5,6 at 0,50,100,150 ms into the run');
    assert.equal(out.detail, 'expected < 0.05, got 0.01, held for 150ms');
  });

  it('with forMs fails when the condition cannot be held long enough', async () => {
    const s = scripted([fail(), fail(), pass()]);
    const out = await poll(s.evaluate, { intervalMs: 50, timeoutMs: 200, forMs: 1000, signal: never });
    assert.equal(out.ok, false);
    assert.match(out.detail, /^expected < 0.05, got 0.01, but held only \d+ms of the required 1s after 3 attempts$/);
  });

  it('stops promptly when the signal aborts', async () => {
    const ac = new AbortController();
    const s = scripted([fail()]);
    setTimeout(() => ac.abort(), 50);
    const started = performance.now();
    const out = await poll(s.evaluate, { intervalMs: 1000, timeoutMs: 10_000, signal: ac.signal });
    assert.ok(performance.now() - started < 500);
    assert.equal(out.ok, false);
    assert.equal(out.detail, 'aborted after 1 attempt');
  });

  it('does not start when already aborted', async () => {
    const s = scripted([pass()]);
    const out = await poll(s.evaluate, { intervalMs: 10, timeoutMs: 100, signal: AbortSignal.abort() });
    assert.deepEqual(out, { ok: false, detail: 'aborted before the first attempt', attempts: 0 });
    assert.equal(s.calls(), 0);
  });

  it('survives an evaluation that throws synchronously', async () => {
    const out = await poll(
      () => {
        throw new Error('boom');
      },
      { intervalMs: 10, timeoutMs: 5, signal: never },
    );
    assert.deepEqual(out, { ok: false, detail: 'boom after 1 attempt', attempts: 1 });
  });
});

describe('describeError', () => {
  it('turns fetch failures into their cause', () => {
    const err = new TypeError('fetch failed', { cause: Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND' }) });
    assert.equal(describeError(err), 'host not found');
    assert.equal(describeError(new TypeError('fetch failed', { cause: new Error('other thing') })), 'other thing');
    assert.equal(describeError('text'), 'text');
  });
});
