import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MIGRATIONS_DIR } from '../../src/service.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { countRows } from './helpers.js';

/**
 * --max-pending refuses new intake, which the sender retries, and nothing else: an
 * execution's step records and a person's pause queue behind a full batch, because
 * refusing them would lose what is done (an action that ran, unrecorded, would end
 * its run without post-checks or rollback).
 */
test('past --max-pending, intake is refused and every other write still commits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rectify-overload-'));
  const path = join(dir, 'db.sqlite');
  const store = openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR, maxPending: 2 });
  try {
    const row = (event: string) => (tx: Parameters<Parameters<typeof store.transact>[0]>[0]) =>
      tx.appendAudit({ at: 1, event: event as never, actor: 'test', details: {} });
    // One turn of the event loop: all of these queue for the same commit.
    const intake = [store.transact(row('A'), { refusable: true }), store.transact(row('B'), { refusable: true }), store.transact(row('C'), { refusable: true })];
    const step = store.transact(row('STEP_FINISHED'));
    const pause = store.transact((tx) => tx.setPaused(true, 'oncall', 1));
    const settled = await Promise.allSettled([...intake, step, pause]);
    assert.deepEqual(
      settled.map((s) => s.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
    );
    assert.equal(((settled[2] as PromiseRejectedResult).reason as { code: string }).code, 'OVERLOADED');
    // It names the bound and the fix, and blames no disk: a burst fills the queue as well.
    assert.equal(
      ((settled[2] as PromiseRejectedResult).reason as Error).message,
      'more than 2 writes are waiting to be recorded (--max-pending 2; an intake request counts one, however many alerts it holds); nothing of this request was recorded: send it again shortly (Alertmanager retries by itself), or raise --max-pending',
    );
    assert.equal(countRows(path, "SELECT COUNT(*) AS n FROM audit WHERE event IN ('A', 'B', 'C')"), 2);
    assert.equal(countRows(path, "SELECT COUNT(*) AS n FROM audit WHERE event = 'STEP_FINISHED'"), 1);
    assert.equal(store.read((tx) => tx.paused()), true);
    // The queue drained: intake is taken again.
    await store.transact(row('D'), { refusable: true });
    assert.equal(countRows(path, "SELECT COUNT(*) AS n FROM audit WHERE event = 'D'"), 1);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
