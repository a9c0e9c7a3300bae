import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MIGRATIONS_DIR } from '../../src/service.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { Tx } from '../../src/store/ports.js';

/**
 * Inside one group commit, guard-state reads are remembered and each write forgets
 * the answers it changes. These units share one batch (queued in one turn of the
 * event loop), so every read after a write must see that write, and a unit rolled
 * back must leave no remembered answer behind.
 */
test('within one group commit, every guard read sees the writes before it, and only those', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rectify-memo-'));
  const batches: number[] = [];
  const store = openSqliteStore({ path: join(dir, 'db.sqlite'), migrationsDir: MIGRATIONS_DIR, onCommit: (units) => batches.push(units) });
  try {
    const snapshot = (tx: Tx) => ({
      a: tx.executionsSince('rb', 'a', 0),
      b: tx.executionsSince('rb', 'b', 0),
      lastA: tx.lastExecutionAt('rb', 'a'),
      active: tx.activeExecutions(),
      services: [...tx.activeServices('rb').keys()],
      circuit: tx.circuit('rb').state,
      paused: tx.paused(),
      rbPaused: tx.runbookPaused('rb') !== null,
    });
    const first = store.transact(snapshot);
    const second = store.transact((tx) => {
      tx.consumeRate('rb', 'a', 1_000, 'e1');
      tx.claimBlastRadius('e1', 'rb', 'a', 1_000);
      return snapshot(tx);
    });
    const third = store.transact((tx) => {
      tx.setCircuit('rb', { state: 'open', failures: 3, openedAt: 1_000, trialExecutionId: null }, 1_000);
      tx.setPaused(true, 'alice', 1_000);
      tx.setRunbookPaused('rb', { by: 'alice', reason: null, at: 1_000 });
      return snapshot(tx);
    });
    const failed = store.transact((tx) => {
      tx.consumeRate('rb', 'b', 2_000, 'e2');
      tx.claimBlastRadius('e2', 'rb', 'b', 2_000);
      assert.equal(tx.executionsSince('rb', 'b', 0), 1);
      throw new Error('this unit fails after writing');
    });
    const last = store.transact((tx) => {
      const before = snapshot(tx);
      tx.releaseBlastRadius('e1');
      // Later window starts are counted from the times already read; an earlier one reads again.
      const since = [999, 1_000, -1].map((start) => tx.executionsSince('rb', 'a', start));
      return { before, after: snapshot(tx), since };
    });
    await assert.rejects(failed, /this unit fails after writing/);
    assert.deepEqual(batches, [5], 'the five units shared one group commit');
    assert.deepEqual(await first, { a: 0, b: 0, lastA: null, active: 0, services: [], circuit: 'closed', paused: false, rbPaused: false });
    assert.deepEqual(await second, { a: 1, b: 0, lastA: 1_000, active: 1, services: ['a'], circuit: 'closed', paused: false, rbPaused: false });
    assert.deepEqual(await third, { a: 1, b: 0, lastA: 1_000, active: 1, services: ['a'], circuit: 'open', paused: true, rbPaused: true });
    const l = await last;
    assert.deepEqual(l.before, { a: 1, b: 0, lastA: 1_000, active: 1, services: ['a'], circuit: 'open', paused: true, rbPaused: true });
    assert.deepEqual(l.after, { ...l.before, active: 0, services: [] });
    assert.deepEqual(l.since, [1, 0, 1]);
    // And the database agrees with what the units saw.
    assert.deepEqual(store.read(snapshot), l.after);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Blast-radius answers are kept in step with claims and releases inside one
 * transaction (not read again after each): two executions on one service keep it
 * claimed until both are released, and the in-flight count follows every write.
 */
test('within one group commit, blast-radius answers follow each claim and release, per service', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rectify-memo-'));
  const store = openSqliteStore({ path: join(dir, 'db.sqlite'), migrationsDir: MIGRATIONS_DIR });
  try {
    const view = (tx: Tx) => ({ active: tx.activeExecutions(), rb: [...tx.activeServices('rb').keys()].sort(), other: [...tx.activeServices('other').keys()] });
    await store.transact((tx) => tx.claimBlastRadius('e0', 'rb', 'z', 500));
    const seen = await store.transact((tx) => {
      const steps = [view(tx)];
      tx.claimBlastRadius('e1', 'rb', 'a', 1_000);
      steps.push(view(tx));
      tx.claimBlastRadius('e2', 'rb', 'a', 1_000);
      tx.claimBlastRadius('e3', 'other', 'a', 1_000);
      steps.push(view(tx));
      tx.releaseBlastRadius('e1');
      steps.push(view(tx));
      tx.releaseBlastRadius('e2');
      tx.releaseBlastRadius('e0');
      steps.push(view(tx));
      // Releasing an execution that holds no claim changes nothing.
      tx.releaseBlastRadius('e-unknown');
      steps.push(view(tx));
      return steps;
    });
    assert.deepEqual(seen, [
      { active: 1, rb: ['z'], other: [] },
      { active: 2, rb: ['a', 'z'], other: [] },
      { active: 4, rb: ['a', 'z'], other: ['a'] },
      { active: 3, rb: ['a', 'z'], other: ['a'] },
      { active: 1, rb: [], other: ['a'] },
      { active: 1, rb: [], other: ['a'] },
    ]);
    assert.deepEqual(store.read(view), seen[seen.length - 1], 'the database agrees with what the unit saw');
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The runs under way on a Kubernetes object are kept in step with claims and releases
 * inside one transaction: the one claimed last answers; a release frees its objects, and
 * another run still claimed on one of them answers again. The blast radius does not count them.
 */
test('within one group commit, the run under way on an object follows each claim and release', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rectify-memo-'));
  const store = openSqliteStore({ path: join(dir, 'db.sqlite'), migrationsDir: MIGRATIONS_DIR });
  const D = 'deployment production/checkout';
  const N = 'node node-a';
  try {
    const view = (tx: Tx) => ({
      d: tx.runUnderWayOn('rb', D),
      n: tx.runUnderWayOn('rb', N),
      other: tx.runUnderWayOn('other', D),
      active: tx.activeExecutions(),
      services: [...tx.activeServices('rb').keys()].sort(),
    });
    await store.transact((tx) => tx.claimBlastRadius('e0', 'rb', 'api', 500, [D]));
    const seen = await store.transact((tx) => {
      const steps = [view(tx)];
      tx.claimBlastRadius('e1', 'rb', 'web', 1_000, [D, N]);
      steps.push(view(tx));
      tx.releaseBlastRadius('e1');
      steps.push(view(tx));
      tx.releaseBlastRadius('e0');
      steps.push(view(tx));
      return steps;
    });
    assert.deepEqual(seen, [
      { d: { executionId: 'e0', service: 'api' }, n: null, other: null, active: 1, services: ['api'] },
      { d: { executionId: 'e1', service: 'web' }, n: { executionId: 'e1', service: 'web' }, other: null, active: 2, services: ['api', 'web'] },
      { d: { executionId: 'e0', service: 'api' }, n: null, other: null, active: 1, services: ['api'] },
      { d: null, n: null, other: null, active: 0, services: [] },
    ]);
    assert.deepEqual(store.read(view), seen[seen.length - 1], 'the database agrees with what the unit saw');
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
