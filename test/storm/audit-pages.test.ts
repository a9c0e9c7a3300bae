import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MIGRATIONS_DIR } from '../../src/service.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { Store } from '../../src/store/ports.js';
import { cli } from '../cli/capture.js';
import { startTestService } from '../helpers/service.js';

/**
 * The audit log is never pruned, and a storm writes a row per alert, so it grows
 * into the millions. A page filtered only by `event` (no index serves it) or
 * `since` reads a bounded number of rows, so a dashboard asking for a rare event does
 * not hold the event loop while it reads the whole log; paging on from the cursor
 * still finds every row, once, newest first. Here the budget is 30 rows in steps
 * of 10, over 300 rows.
 */
describe('audit pages on a long log', () => {
  const T0 = Date.UTC(2026, 10, 24, 3, 0, 0);
  let dir: string;
  let store: Store;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rectify-audit-pages-'));
    store = openSqliteStore({ path: join(dir, 'db.sqlite'), migrationsDir: MIGRATIONS_DIR, auditScan: { budget: 30, step: 10 } });
    await store.transact((tx) => {
      for (let i = 1; i <= 300; i++) {
        tx.appendAudit({ at: T0 + i * 1000, event: i % 50 === 0 ? 'CIRCUIT_TRIPPED' : 'RATE_LIMITED', incident_id: `inc_${i}`, runbook: i % 2 ? 'odd' : 'even', actor: 'rectify' });
      }
    });
  });
  after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function walk(q: { event?: string; since?: number; runbook?: string }, limit: number): { pages: number[][]; cursors: Array<number | null> } {
    const pages: number[][] = [];
    const cursors: Array<number | null> = [];
    let before: number | undefined;
    for (;;) {
      const page = store.auditPage({ ...q, limit, ...(before !== undefined ? { before } : {}) });
      pages.push(page.events.map((e) => e.seq));
      cursors.push(page.nextBefore);
      if (page.nextBefore === null) return { pages, cursors };
      before = page.nextBefore;
      assert.ok(pages.length < 100, 'paging ends');
    }
  }

  it('a rare event: each page reads at most the budget, and paging on finds every row once, newest first', () => {
    const { pages, cursors } = walk({ event: 'CIRCUIT_TRIPPED' }, 50);
    assert.deepEqual(pages.flat(), [300, 250, 200, 150, 100, 50]);
    // 300 rows read 30 at a time: ten pages, most of them short (or empty) with a cursor.
    assert.equal(pages.length, 10);
    assert.deepEqual(cursors, [271, 241, 211, 181, 151, 121, 91, 61, 31, null]);
    assert.deepEqual(pages.slice(0, 4), [[300], [250], [], [200]]);
  });

  it('a common event fills its page within the budget; the cursor is then the last row, as for any full page', () => {
    const page = store.auditPage({ event: 'RATE_LIMITED', limit: 5 });
    assert.deepEqual(page.events.map((e) => e.seq), [299, 298, 297, 296, 295]);
    assert.equal(page.nextBefore, 295);
    const next = store.auditPage({ event: 'RATE_LIMITED', limit: 5, before: 295 });
    assert.deepEqual(next.events.map((e) => e.seq), [294, 293, 292, 291, 290]);
  });

  it('a cursor above the newest row reads from the newest row: the real rows, newest first, not a walk through seqs no row has', () => {
    const huge = 999_999_999_999_999;
    const rare = store.auditPage({ event: 'CIRCUIT_TRIPPED', limit: 2, before: huge });
    assert.deepEqual([rare.events.map((e) => e.seq), rare.nextBefore], [[300], 271]);
    const common = store.auditPage({ event: 'RATE_LIMITED', limit: 3, before: huge });
    assert.deepEqual([common.events.map((e) => e.seq), common.nextBefore], [[299, 298, 297], 297]);
    const ofRunbook = store.auditPage({ runbook: 'even', event: 'RATE_LIMITED', limit: 2, before: huge });
    assert.deepEqual([ofRunbook.events.map((e) => e.seq), ofRunbook.nextBefore], [[298, 296], 296]);
    const since = store.auditPage({ since: T0 + 298 * 1000, event: 'RATE_LIMITED', limit: 5, before: huge });
    assert.deepEqual([since.events.map((e) => e.seq), since.nextBefore], [[299, 298], null]);
    // Just above the newest row, as before.
    assert.deepEqual(store.auditPage({ event: 'RATE_LIMITED', limit: 1, before: 301 }).events.map((e) => e.seq), [299]);
  });

  it('since: the walk ends where no older row is at or after it (the index on the time says so), without reading back to the start', () => {
    const { pages, cursors } = walk({ since: T0 + 275 * 1000, event: 'RATE_LIMITED' }, 100);
    assert.deepEqual(pages.flat(), Array.from({ length: 26 }, (_, i) => 300 - i).filter((s) => s % 50 !== 0));
    assert.equal(pages.length, 1, 'one page: no row below the third step is at or after since');
    assert.deepEqual(cursors, [null]);
  });

  it('the SIEM export from a time starts at its first row (found through the index on the time), then pages on by seq', () => {
    const seqs = (q: { afterSeq: number; since?: number; limit: number }) => store.auditRecords(q).map((r) => r.seq);
    const since = T0 + 275 * 1000;
    assert.deepEqual(seqs({ afterSeq: 0, since, limit: 5 }), [275, 276, 277, 278, 279]);
    assert.deepEqual(seqs({ afterSeq: 279, since, limit: 3 }), [280, 281, 282]);
    assert.deepEqual(seqs({ afterSeq: 290, since: T0, limit: 20 }), [291, 292, 293, 294, 295, 296, 297, 298, 299, 300]);
    assert.deepEqual(seqs({ afterSeq: 0, since: T0 - 1, limit: 2 }), [1, 2]);
    assert.deepEqual(seqs({ afterSeq: 0, since: T0 + 301 * 1000, limit: 5 }), []);
    assert.deepEqual(seqs({ afterSeq: 0, since: T0 + 300 * 1000, limit: 5 }), [300]);
  });

  it('an incident or an execution (a handful of rows), a runbook alone, or nothing: one query, whatever the log length', () => {
    const one = store.auditPage({ incident_id: 'inc_250', event: 'CIRCUIT_TRIPPED', limit: 10 });
    assert.deepEqual(one.events.map((e) => e.seq), [250]);
    assert.equal(one.nextBefore, null);
    const rb = store.auditPage({ runbook: 'even', limit: 4 });
    assert.deepEqual(rb.events.map((e) => e.seq), [300, 298, 296, 294]);
    assert.equal(rb.nextBefore, 294);
    const all = store.auditPage({ limit: 3 });
    assert.deepEqual(all.events.map((e) => e.seq), [300, 299, 298]);
    assert.equal(all.nextBefore, 298);
  });

  it('a runbook with event or since (a storm gives a runbook millions of rows) is read in bounded steps, and paging finds every row once', () => {
    const { pages, cursors } = walk({ runbook: 'even', event: 'CIRCUIT_TRIPPED' }, 10);
    assert.deepEqual(pages.flat(), [300, 250, 200, 150, 100, 50]);
    assert.equal(pages.length, 10);
    assert.deepEqual(cursors, [271, 241, 211, 181, 151, 121, 91, 61, 31, null]);
  });
});

describe('audit pages through the API and the CLI', () => {
  it('a rare event under many newer rows: the API answers short pages with a cursor; the CLI table follows them and finds it', async () => {
    const svc = await startTestService({ args: ['--listen', '127.0.0.1:0'], overrides: { auditScan: { budget: 20, step: 10 } } });
    try {
      const env = { RECTIFY_SERVER: await svc.service.listen() };
      assert.equal((await cli(['pause', '--by', 'ops', '--reason', 'maintenance'], { env })).code, 0);
      assert.equal((await cli(['resume', '--by', 'ops'], { env })).code, 0);
      for (let i = 0; i < 60; i++) assert.equal((await svc.post('/api/v1/incidents', { id: `P${i}`, root_cause: 'unmatched', service: 'api' })).status, 202);

      const first = await svc.get('/api/v1/audit?event=SERVICE_PAUSED&limit=5');
      assert.equal(first.status, 200);
      assert.deepEqual(first.body.events, [], 'the newest 20 rows hold no such event');
      assert.notEqual(first.body.next_cursor, null, 'but the page says there is more to read');

      const table = await cli(['audit', '--event', 'SERVICE_PAUSED'], { env });
      assert.equal(table.code, 0);
      assert.equal(table.out.length, 2, table.out.join('\n'));
      assert.match(table.out[1]!, /SERVICE_PAUSED\s+-\s+-\s+ops\s/);
      const none = await cli(['audit', '--event', 'EXPIRED'], { env });
      assert.deepEqual(none.out, ['no audit rows match']);

      // A tail starts at the newest row of the whole log: the old pause, out of the first
      // page's reach, is not printed as new; a pause after the start is, once.
      const stop = new AbortController();
      const out: string[] = [];
      const tail = cli(['audit', '--follow', '--event', 'SERVICE_PAUSED', '--interval', '20ms', '--json'], { env, signal: stop.signal, out });
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await cli(['pause', '--by', 'night-shift'], { env })).code, 0);
      for (let i = 0; i < 200 && out.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 100));
      stop.abort();
      assert.equal((await tail).code, 0);
      assert.deepEqual(out.map((l) => (JSON.parse(l) as { actor: string }).actor), ['night-shift']);
    } finally {
      await svc.stop({ remove: true });
    }
  });
});
