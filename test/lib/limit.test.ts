import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLimiter } from '../../src/lib/index.js';

function deferred() {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('limiter', () => {
  it('runs at most `concurrency` tasks, the rest in arrival order', async () => {
    const l = createLimiter(2, 10);
    const gates = Array.from({ length: 5 }, deferred);
    const started: number[] = [];
    const done = gates.map((g, i) => l.run(() => (started.push(i), g.promise)));
    await tick();
    assert.deepEqual(started, [0, 1]);
    assert.equal(l.active(), 2);
    assert.equal(l.waiting(), 3);
    gates[1]!.resolve();
    await tick();
    assert.deepEqual(started, [0, 1, 2]);
    gates[0]!.reject(new Error('boom'));
    await assert.rejects(done[0]!, /boom/);
    await tick();
    assert.deepEqual(started, [0, 1, 2, 3], 'a failed task gives its slot back');
    for (const g of gates.slice(2)) g.resolve();
    await Promise.all(done.slice(1));
    assert.equal(l.active(), 0);
    assert.equal(l.waiting(), 0);
  });

  it('a task that throws before its promise gives its slot back', async () => {
    const l = createLimiter(1, 10);
    await assert.rejects(
      l.run(() => {
        throw new Error('sync');
      }),
      /sync/,
    );
    assert.equal(l.active(), 0);
    assert.equal(await l.run(async () => 7), 7);
  });

  it('admits only what fits the free slots and the waiting bound', async () => {
    const l = createLimiter(2, 3);
    assert.equal(l.admits(5), true);
    assert.equal(l.admits(6), false);
    const gate = deferred();
    const running = [l.run(() => gate.promise), l.run(() => gate.promise)];
    assert.equal(l.admits(3), true);
    assert.equal(l.admits(4), false);
    gate.resolve();
    await Promise.all(running);
    assert.throws(() => createLimiter(0, 1), /at least 1/);
  });

  it('acquire: a slot at once when one is free, else in arrival order; an abort gives up the place in line, a second release nothing', async () => {
    const l = createLimiter(1);
    const first = await l.acquire();
    const order: string[] = [];
    const gone = new AbortController();
    const a = l.acquire(gone.signal).then((r) => (order.push('a'), r));
    const b = l.acquire().then((r) => (order.push('b'), r));
    assert.equal(l.waiting(), 2);
    gone.abort(new Error('deadline'));
    await assert.rejects(a, /deadline/);
    assert.deepEqual([l.active(), l.waiting()], [1, 1]);
    first();
    first();
    const second = await b;
    assert.deepEqual(order, ['b']);
    assert.deepEqual([l.active(), l.waiting()], [1, 0], 'the double release gave one slot back');
    second();
    assert.deepEqual([l.active(), l.waiting()], [0, 0]);
    const aborted = new AbortController();
    aborted.abort(new Error('late'));
    const free = await l.acquire(aborted.signal);
    assert.equal(l.active(), 1, 'a free slot is taken whatever the signal');
    free();
    const held = await l.acquire();
    await assert.rejects(l.acquire(aborted.signal), /late/);
    assert.equal(l.waiting(), 0);
    held();
  });
});
