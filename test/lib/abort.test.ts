import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { errorMessage, sleep, timerMs, withTimeout } from '../../src/lib/abort.js';

/** AbortSignal.timeout() does not keep the process alive: hold it open while waiting. */
async function aborted(signal: AbortSignal): Promise<void> {
  const keepAlive = setTimeout(() => undefined, 10_000);
  try {
    if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  } finally {
    clearTimeout(keepAlive);
  }
}

describe('withTimeout', () => {
  it('accepts a fractional deadline (as computed from a clock) and times out', async () => {
    const signal = withTimeout(undefined, 12.7);
    await aborted(signal);
    assert.equal(errorMessage(signal.reason), 'timed out');
  });

  it('treats a deadline already passed as an immediate timeout, not an exception', async () => {
    const signal = withTimeout(undefined, -5);
    await aborted(signal);
    assert.equal(signal.aborted, true);
  });

  it("still fires after a garbage collection, combined with a caller's signal that never aborts", async () => {
    // With AbortSignal.any([caller, AbortSignal.timeout(ms)]) nothing held the timeout
    // strongly: collected before it fired, it never did, and the request it bounded
    // waited for as long as the other side liked (nodejs/node#57736).
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const caller = new AbortController();
    const signals = Array.from({ length: 20 }, () => withTimeout(caller.signal, 150));
    await new Promise((r) => setTimeout(r, 10));
    gc();
    gc();
    await new Promise((r) => setTimeout(r, 600));
    assert.deepEqual(signals.map((s) => s.aborted), signals.map(() => true));
    assert.deepEqual([...new Set(signals.map((s) => errorMessage(s.reason)))], ['timed out']);
    assert.equal(caller.signal.aborted, false);
  });

  it("aborts with the caller's reason when the caller aborts first", () => {
    const ctl = new AbortController();
    const signal = withTimeout(ctl.signal, 60_000);
    ctl.abort(new Error('shutting down'));
    assert.equal(signal.aborted, true);
    assert.equal(errorMessage(signal.reason), 'shutting down');
  });

  it('a deadline longer than a timer can hold (about 24.8 days) waits, instead of firing at once', async () => {
    const month = 30 * 24 * 3_600_000;
    assert.equal(timerMs(month), 2_147_483_647);
    assert.equal(timerMs(-5), 0);
    assert.equal(timerMs(1.2), 2);
    const ctl = new AbortController();
    const signal = withTimeout(ctl.signal, month);
    const slept = sleep(month, ctl.signal).then(
      () => 'woke',
      (err: unknown) => errorMessage(err),
    );
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(signal.aborted, false);
    ctl.abort(new Error('done waiting'));
    assert.equal(await slept, 'done waiting');
  });
});
