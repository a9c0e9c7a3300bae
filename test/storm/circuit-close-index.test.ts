import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MIGRATIONS_DIR } from '../../src/service.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { CIRCUIT_CLOSED_SINCE_START } from '../../src/store/sqlite/tx.js';

/**
 * A failed run is not counted by the breaker when its circuit closed after it started
 * (execute/breaker.ts startedBeforeClose), read in the transaction that ends the run. Through
 * audit_runbook that read walked every row of the runbook since the run started: a storm
 * writes one per alert (about 80 ms for 300,000 rows, on the event loop). Migration 016's
 * partial index makes it one lookup; the answer stays the same.
 */
test("a run's last circuit close since it started is found through audit_circuit_closed, among a storm's rows, and is the last one", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rectify-circuit-close-'));
  const path = join(dir, 'db.sqlite');
  const store = openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR });
  try {
    const row = (event: string, details: Record<string, unknown> = {}, execution_id: string | null = null, runbook = 'restart') => ({
      at: 1_000,
      event: event as never,
      incident_id: null,
      runbook,
      execution_id,
      actor: 'rectify',
      details,
    });
    await store.transact((tx) => {
      tx.appendAudit(row('CIRCUIT_CLOSED', { trial_execution_id: 'exe_before' }));
      tx.appendAudit(row('EXECUTING', {}, 'exe_run'));
      for (let i = 0; i < 2_000; i++) tx.appendAudit(row('RATE_LIMITED', { reason: 'Rate limit exceeded (5/hour)' }));
    });
    // No close since the run started: the one before it does not count.
    assert.equal(await store.transact((tx) => tx.circuitClosedSinceStart('restart', 'exe_run')), undefined);
    await store.transact((tx) => {
      tx.appendAudit(row('CIRCUIT_CLOSED', { trial_execution_id: 'exe_first' }));
      tx.appendAudit(row('CIRCUIT_CLOSED', {}, null, 'other'));
      for (let i = 0; i < 2_000; i++) tx.appendAudit(row('RATE_LIMITED', { reason: 'Rate limit exceeded (5/hour)' }));
      tx.appendAudit(row('CIRCUIT_CLOSED', { by: 'alice' }));
    });
    // The last close of this runbook (a person's, with no trial), not another runbook's.
    assert.deepEqual(await store.transact((tx) => tx.circuitClosedSinceStart('restart', 'exe_run')), { trialExecutionId: null });
    assert.equal(await store.transact((tx) => tx.circuitClosedSinceStart('restart', 'exe_unknown')), undefined);
  } finally {
    store.close();
  }
  const db = new Database(path, { readonly: true });
  try {
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${CIRCUIT_CLOSED_SINCE_START}`).all({ runbook: 'restart', id: 'exe_run' }) as Array<{ detail: string }>).map((r) => r.detail);
    assert.ok(plan.some((d) => /USING (COVERING )?INDEX audit_circuit_closed \(runbook=\? AND rowid>\?\)/.test(d)), plan.join(' | '));
    assert.ok(!plan.some((d) => d.includes('audit_runbook')), plan.join(' | '));
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
