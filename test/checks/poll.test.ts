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
    // 0, 50, …, 250 ms, and the last at the timeout, 300 ms.
    assert.equal(out.attempts, 7);
    assert.equal(out.detail, 'expected < 0.05, got 0.2 after 7 attempts');
    assert.equal(out.observed, '0.2');
  });

  // Regression: setTimeout fires up to 1 ms early, so the attempt planned at the
  // deadline started just before it with a 1 ms budget, and its "no answer within
  // 1ms" replaced the real reason. The last attempt has its own time instead.
  it('the attempt planned at the deadline has its own time, never a sliver', async () => {
    for (let i = 0; i < 5; i++) {
      const s = scripted([fail()]);
      const out = await poll(s.evaluate, { intervalMs: 50, timeoutMs: 200, signal: never });
      assert.equal(out.detail, 'expected < 0.05, got 0.2 after 5 attempts');
    }
  });

  it('counts a thrown error as a failed attempt, never a pass', async () => {
    const err = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    const s = scripted([err]);
    const out = await poll(s.evaluate, { intervalMs: 20, timeoutMs: 60, signal: never });
    assert.equal(out.ok, false);
    assert.equal(out.detail, 'connection refused after 4 attempts');
  });

  it('gives each attempt its own deadline, even when the evaluation ignores its signal', async () => {
    const s = scripted(['hang']);
    const started = performance.now();
    const out = await poll(s.evaluate, { intervalMs: 100, timeoutMs: 300, attemptTimeoutMs: 100, signal: never });
    const took = performance.now() - started;
    assert.equal(out.ok, false);
    // Attempts at 0, 100 and 200 ms, each cut off by its 100 ms (or the timeout), and
    // the last at the timeout with its own whole 100 ms.
    assert.equal(out.detail, 'no answer within 100ms after 4 attempts');
    assert.equal(s.calls(), 4);
    assert.ok(took >= 399 && took < 700, `took ${took}ms`);
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

  it('with forMs, a hold short of the requirement by less than a second is not shown as the requirement', async () => {
    // A fake monotonic clock each attempt moves on (and only they): a failure ending 9.6 s in,
    // then passes starting at 9.6 s and at 69.2 s (the first answered late); the last, at the
    // timeout, starts at 69.2 s on this clock too. Held between the starts: 59.6 s.
    let t = 0;
    const answers: Array<[Attempt, number]> = [
      [fail(), 9_600],
      [pass(), 69_200],
      [pass(), 69_200],
      [pass(), 69_200],
    ];
    const evaluate = async () => {
      const [a, end] = answers.shift()!;
      t = end;
      return a;
    };
    const out = await poll(evaluate, { intervalMs: 10_000, timeoutMs: 70_000, forMs: 60_000, now: () => t, signal: never });
    assert.equal(out.ok, false);
    assert.equal(out.detail, 'expected < 0.05, got 0.01, but held only 59.6s of the required 1m after 4 attempts');
  });

  it('stops promptly when the signal aborts', async () => {
    const ac = new AbortController();
    const s = scripted([fail()]);
    setTimeout(() => ac.abort(), 50);
    const started = performance.now();
    const out = await poll(s.evaluate, { intervalMs: 1000, timeoutMs: 10_000, signal: ac.signal });
    assert.ok(performance.now() - started < 500);
    assert.equal(out.ok, false);
    assert.equal(out.detail, 'aborted after 1 attempt; last: expected < 0.05, got 0.2');
  });

  // Regression: a check stopped by a stop (SIGTERM) said only "aborted after 3 attempts",
  // dropping what it had last measured; a timeout keeps it. The attempt the stop cut
  // short is counted, and is no reading: the one before it is the last.
  it('keeps the last reading when aborted during an attempt', async () => {
    const ac = new AbortController();
    let n = 0;
    const evaluate = async (): Promise<Attempt> => {
      n++;
      if (n === 1) return fail('0.4');
      if (n === 2) return fail('0.3');
      ac.abort();
      return new Promise<Attempt>(() => undefined);
    };
    const out = await poll(evaluate, { intervalMs: 10, timeoutMs: 10_000, signal: ac.signal });
    assert.deepEqual(out, { ok: false, detail: 'aborted after 3 attempts; last: expected < 0.05, got 0.3', observed: '0.3', attempts: 3 });
  });

  it('keeps the last passing reading when aborted while a hold is under way', async () => {
    const ac = new AbortController();
    const s = scripted([fail(), pass('0.02')]);
    const out = await poll(
      async (signal) => {
        const a = await s.evaluate(signal);
        if (s.calls() === 2) setTimeout(() => ac.abort(), 0);
        return a;
      },
      { intervalMs: 1000, timeoutMs: 10_000, forMs: 5000, signal: ac.signal },
    );
    assert.deepEqual(out, { ok: false, detail: 'aborted after 2 attempts; last: expected < 0.05, got 0.02', observed: '0.02', attempts: 2 });
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
    // At 0 ms, and at the timeout (5 ms) since the next interval falls past it.
    assert.deepEqual(out, { ok: false, detail: 'boom after 2 attempts', attempts: 2 });
  });
});

/**
 * An evaluator that records when each attempt started (ms since `t0`) and answers
 * with `answer(msSinceFirstAttempt)`.
 */
function timed(answer: (sinceFirst: number) => Attempt | 'hang'): { evaluate: () => Promise<Attempt>; at: number[]; t0: number } {
  const rec = { at: [] as number[], t0: performance.now() };
  let first: number | undefined;
  return {
    ...rec,
    get t0() {
      return rec.t0;
    },
    evaluate: async () => {
      const t = performance.now();
      first ??= t;
      rec.at.push(Math.round(t - rec.t0));
      const a = answer(t - first);
      if (a === 'hang') return new Promise<Attempt>(() => undefined);
      return a;
    },
  };
}

/** `at` is within [lo, hi] ms (timers fire late on a loaded machine, never much early). */
function near(at: number | undefined, lo: number, hi: number, what: string): void {
  assert.ok(at !== undefined && at >= lo && at <= hi, `${what} at ${at}ms, expected ${lo}-${hi}ms`);
}

describe('poll: a check is polled until it passes or its timeout is used up', () => {
  // Regression (the black-box probe): timeout 4 s, interval 5 s, a target healthy 1 s
  // after its first hit. The check tried once, at 0 s, failed "after 1 attempt" and the
  // fix was rolled back. The next interval falls past the timeout, so the last attempt
  // is made at the timeout. At a tenth of the scale: 400 ms and 500 ms.
  it('a timeout shorter than the interval: a second attempt at the timeout', async () => {
    const s = timed((t) => (t >= 100 ? pass() : fail()));
    const started = performance.now();
    const out = await poll(s.evaluate, { intervalMs: 500, timeoutMs: 400, signal: never });
    assert.deepEqual(out, { ok: true, detail: 'expected < 0.05, got 0.01', observed: '0.01', attempts: 2 });
    assert.equal(s.at.length, 2);
    near(s.at[0], 0, 30, 'the first attempt');
    near(s.at[1], 395, 480, 'the last attempt');
    near(performance.now() - started, 395, 500, 'the pass');
  });

  // The tail: timeout 8 s, interval 5 s gave up at about 5 s. Attempts at 0, 500 and 800 ms.
  it('the tail after the last interval is used: a last attempt at the timeout', async () => {
    const s = timed((t) => (t >= 700 ? pass() : fail()));
    const out = await poll(s.evaluate, { intervalMs: 500, timeoutMs: 800, signal: never });
    assert.deepEqual(out, { ok: true, detail: 'expected < 0.05, got 0.01', observed: '0.01', attempts: 3 });
    near(s.at[1], 495, 580, 'the second attempt');
    near(s.at[2], 795, 880, 'the last attempt');
  });

  it('a check that never passes fails at about its timeout, with the exact attempt count', async () => {
    const s = timed(() => fail());
    const started = performance.now();
    const out = await poll(s.evaluate, { intervalMs: 500, timeoutMs: 800, signal: never });
    const took = performance.now() - started;
    assert.deepEqual(out, { ok: false, detail: 'expected < 0.05, got 0.2 after 3 attempts', observed: '0.2', attempts: 3 });
    near(s.at[2], 795, 880, 'the last attempt');
    near(took, 795, 900, 'the failure');
    // A timeout that is a whole number of intervals: the last interval's attempt is the one at the timeout.
    const even = timed(() => fail());
    const out2 = await poll(even.evaluate, { intervalMs: 200, timeoutMs: 600, signal: never });
    assert.equal(out2.detail, 'expected < 0.05, got 0.2 after 4 attempts');
    near(even.at[3], 595, 680, 'the last attempt');
  });

  it('an attempt before the timeout is cut off at it; the last one has its own attempt time', async () => {
    const s = timed(() => 'hang');
    const started = performance.now();
    const out = await poll(s.evaluate, { intervalMs: 500, timeoutMs: 300, attemptTimeoutMs: 250, signal: never });
    const took = performance.now() - started;
    // At 0 ms (cut off at its 250 ms), and the last at the timeout, 300 ms, with its own 250 ms.
    assert.deepEqual(out, { ok: false, detail: 'no answer within 250ms after 2 attempts', attempts: 2 });
    near(s.at[1], 295, 380, 'the last attempt');
    near(took, 545, 700, 'the failure');
    // An attempt that would run past the timeout is cut off there, so the last one starts on time.
    const cut = timed(() => 'hang');
    const out2 = await poll(cut.evaluate, { intervalMs: 500, timeoutMs: 300, attemptTimeoutMs: 1_000, signal: never });
    assert.deepEqual(out2, { ok: false, detail: 'no answer within 1s after 2 attempts', attempts: 2 });
    near(cut.at[1], 295, 380, 'the last attempt');
  });

  it('with limitMs (a guardrail budget), the last attempt gets only what is left of it, and none when nothing is', async () => {
    const s = timed(() => 'hang');
    const started = performance.now();
    const out = await poll(s.evaluate, { intervalMs: 500, timeoutMs: 300, limitMs: 450, attemptTimeoutMs: 1_000, signal: never });
    const took = performance.now() - started;
    assert.equal(out.ok, false);
    // The last attempt, at 300 ms (a little later on a loaded machine), has what is left of the 450 ms.
    const m = /^no answer within (\d+)ms after 2 attempts$/.exec(out.detail);
    assert.ok(m, out.detail);
    near(Number(m[1]), 100, 150, 'the last attempt\'s budget');
    near(took, 445, 550, 'the failure');
    // A timeout as long as the limit: no attempt is started at it with nothing left.
    const full = timed(() => fail());
    const out2 = await poll(full.evaluate, { intervalMs: 500, timeoutMs: 300, limitMs: 300, signal: never });
    assert.equal(out2.detail, 'expected < 0.05, got 0.2 after 1 attempt');
    // A timeout longer than the limit is cut to it.
    const over = timed(() => fail());
    const t0 = performance.now();
    const out3 = await poll(over.evaluate, { intervalMs: 100, timeoutMs: 10_000, limitMs: 300, signal: never });
    assert.equal(out3.detail, 'expected < 0.05, got 0.2 after 3 attempts');
    assert.ok(performance.now() - t0 < 400);
  });

  it('maxAttempts: 1 asks once, whatever the interval', async () => {
    const s = scripted([fail()]);
    const out = await poll(s.evaluate, { intervalMs: 50, timeoutMs: 300, maxAttempts: 1, signal: never });
    assert.deepEqual(out, { ok: false, detail: 'expected < 0.05, got 0.2 after 1 attempt', observed: '0.2', attempts: 1 });
  });

  it('with forMs a hold can be seen by the last attempt, at the timeout', async () => {
    // Passing from the first attempt (0, 200, 400 ms): held 500 ms only at the last attempt, at 550 ms.
    const s = timed(() => pass());
    const out = await poll(s.evaluate, { intervalMs: 200, timeoutMs: 550, forMs: 500, signal: never });
    assert.deepEqual(out, { ok: true, detail: 'expected < 0.05, got 0.01, held for 500ms', observed: '0.01', attempts: 4 });
    near(s.at[3], 545, 630, 'the last attempt');
  });

  it('stops at once when aborted while waiting for the last attempt', async () => {
    const ac = new AbortController();
    const s = scripted([fail()]);
    setTimeout(() => ac.abort(), 100);
    const started = performance.now();
    const out = await poll(s.evaluate, { intervalMs: 5_000, timeoutMs: 4_000, signal: ac.signal });
    assert.ok(performance.now() - started < 500);
    assert.equal(out.detail, 'aborted after 1 attempt; last: expected < 0.05, got 0.2');
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

describe('poll: a timeout equal to the shortest useful attempt', () => {
  it('is not taken for less by floating point: the first attempt is not the last, the second comes at the timeout', async () => {
    // (start + 100) - start is 99.99999999976717 for this start: the first attempt was
    // taken for the last one, about once in a hundred runs of a 100 ms check.
    const start = 2097138.0936964846;
    assert.ok(start + 100 - start < 100);
    const { evaluate, calls } = scripted([fail(), fail()]);
    const out = await poll(evaluate, { timeoutMs: 100, intervalMs: 1_000, signal: never, now: () => start });
    assert.equal(calls(), 2);
    assert.deepEqual([out.ok, out.attempts], [false, 2]);
  });
});


describe("poll: the first attempt's budget", () => {
  it('is the timeout given, exactly, whatever the start: a 2 s check gives its first attempt 2000 ms, not 2001', async () => {
    // (start + 2000) - start is 2000.000000000001 for this start: rounded up, the first
    // attempt of a 2 s check told Prometheus `timeout=2001ms`.
    const start = 6947.988715522347;
    assert.ok(start + 2000 - start > 2000);
    const budgets: number[] = [];
    let t = start;
    const out = await poll(
      async (_signal, budgetMs) => {
        budgets.push(budgetMs);
        t += 2_000;
        return fail();
      },
      { timeoutMs: 2_000, intervalMs: 5_000, attemptTimeoutMs: 5_000, signal: never, now: () => t },
    );
    // The first attempt, cut off at the timeout; the last, at the timeout, has the cap.
    assert.deepEqual(budgets, [2_000, 5_000]);
    assert.equal(out.attempts, 2);
  });
});
