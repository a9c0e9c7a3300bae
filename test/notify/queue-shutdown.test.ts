import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createNotifyQueue, createWebhookNotifier, NOT_SENT_AT_SHUTDOWN, type NotifyOutcome } from '../../src/notify/index.js';
import { createTestLogger } from '../../src/observability/index.js';
import { MIGRATIONS_DIR } from '../../src/service.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { notification, receiver } from './events.js';

/**
 * A stop records what is still waiting for each receiver as not sent: thousands of
 * approval requests can wait (they are kept past the queue's bound), so their rows go in
 * one commit, one fsync, not one each, and the stop ends within its bound.
 */
describe('notification queue at shutdown', () => {
  let target: HttpTarget;
  let dir: string;
  before(async () => {
    target = await startHttpTarget();
    dir = mkdtempSync(join(tmpdir(), 'rectify-notify-close-'));
  });
  after(async () => {
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("what waits for every receiver at close is recorded as not sent in one commit of the store, however many (approval requests kept past the bound)", async () => {
    target.route('POST', '/a', { status: 204, delayMs: 60_000 });
    target.route('POST', '/b', { status: 204, delayMs: 60_000 });
    const commits: number[] = [];
    const store = openSqliteStore({ path: join(dir, 'db.sqlite'), migrationsDir: MIGRATIONS_DIR, onCommit: (units) => commits.push(units) });
    // As the service records an outcome: one audit row, through the store's group commit.
    const record = async (o: NotifyOutcome) => {
      await store.transact((tx) => {
        tx.appendAudit({ at: Date.now(), event: o.ok ? 'NOTIFIED' : 'NOTIFY_FAILED', incident_id: o.event.incident_id, actor: 'rectify', details: { notifier: o.notifier, detail: o.detail } });
      });
    };
    const q = createNotifyQueue({
      notifiers: ['/a', '/b'].map((path) => createWebhookNotifier(`${target.url}${path}`, undefined, receiver)),
      log: createTestLogger({ capture: false }).logger,
      record,
      attemptTimeoutMs: 60_000,
      maxQueued: 5,
    });
    const requests = 40;
    for (let i = 1; i <= requests; i++) q.notify({ ...notification(`a${i}`, 'APPROVAL_REQUIRED', 'approval_required'), approval_id: `apr_${i}` });
    // Each receiver holds the first one; the other 39 wait for each, past the bound of 5.
    await target.waitForRequest('/a');
    await target.waitForRequest('/b');
    commits.length = 0;
    await q.close();
    const rows = store.queryAudit({ event: 'NOTIFY_FAILED', limit: 1_000 }).map((r) => (r.details as { detail: string }).detail);
    assert.equal(rows.filter((d) => d === NOT_SENT_AT_SHUTDOWN).length, 2 * (requests - 1));
    assert.equal(rows.length, 2 * requests, 'and the two cut off during delivery');
    // The deliveries cut off are recorded as their lanes end; then every row of what waited, together.
    assert.equal(commits.at(-1), 2 * (requests - 1), `rows per commit: ${commits.join(', ')}`);
    assert.equal(commits.reduce((a, b) => a + b, 0), 2 * requests);
    store.close();
  });
});
