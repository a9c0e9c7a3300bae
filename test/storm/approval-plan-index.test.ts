import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MIGRATIONS_DIR } from '../../src/service.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { APPROVAL_FOR_PLAN } from '../../src/store/sqlite/tx.js';
import type { ApprovalRow } from '../../src/store/ports.js';

/**
 * Every alert of a storm that asks approval looks for the pending request of its plan
 * to join. With thousands of requests pending (one per service), that look-up must
 * read the few requests of its plan by the plan-key index (migration 004), not every
 * pending request sorted: a 16,000-alert body took 38 s that way. And it still finds
 * exactly the request to join: the oldest pending one of that plan, not expired.
 */
const row = (id: string, planKey: string | null, requestedAt: number, expiresAt: number, status: ApprovalRow['status'] = 'pending'): ApprovalRow => ({
  id,
  incident_id: `inc_${id}`,
  alert_key: `am:${id}`,
  runbook: 'rollback',
  service: id,
  status,
  reason: 'risk HIGH requires approval',
  plan: { actions: [] },
  requested_at: requestedAt,
  requested_by: 'rectify',
  expires_at: expiresAt,
  approvals_required: 1,
  votes: [],
  decided_at: status === 'pending' ? null : requestedAt,
  decided_by: status === 'pending' ? null : 'bob',
  comment: null,
  execution_id: null,
  asked_by: [],
  plan_key: planKey,
  alerts: 1,
  alerts_open: 1,
});

test('the pending request of a plan is found by the plan-key index among 3,000 pending, and it is the oldest live one of that plan', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rectify-plankey-'));
  const path = join(dir, 'db.sqlite');
  const store = openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR });
  try {
    await store.transact((tx) => {
      for (let i = 0; i < 3_000; i++) tx.insertApproval(row(`apr_${i}`, `plan-${i}`, 1_000 + i, 100_000));
      // Plan "p": one expired, one decided, two live (the older one is joined), one manual (no plan key).
      tx.insertApproval(row('apr_expired', 'p', 10, 2_000));
      tx.insertApproval(row('apr_rejected', 'p', 20, 100_000, 'rejected'));
      tx.insertApproval(row('apr_newer', 'p', 40, 100_000));
      tx.insertApproval(row('apr_older', 'p', 30, 100_000));
      tx.insertApproval(row('apr_manual', null, 5, 100_000));
    });
    const found = await store.transact((tx) => [3_000, 1_000].map((now) => tx.pendingApprovalForPlan('p', now)?.id ?? null));
    assert.deepEqual(found, ['apr_older', 'apr_expired']);
    assert.equal(await store.transact((tx) => tx.pendingApprovalForPlan('plan-2999', 3_000)?.id), 'apr_2999');
    assert.equal(await store.transact((tx) => tx.pendingApprovalForPlan('none', 3_000)), undefined);
  } finally {
    await store.close();
  }
  const db = new Database(path, { readonly: true });
  try {
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${APPROVAL_FOR_PLAN}`).all('p', 3_000) as Array<{ detail: string }>).map((r) => r.detail);
    assert.equal(plan[0], 'SEARCH approvals USING INDEX approvals_plan_key (plan_key=?)');
    assert.ok(!plan.some((d) => d.includes('approvals_status')), plan.join(' | '));
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
