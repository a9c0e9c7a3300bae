import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS_DIR } from '../../src/service.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { AuditQuery, Store } from '../../src/store/ports.js';
import { cli } from '../cli/capture.js';
import { startTestService } from '../helpers/service.js';

const T0 = Date.UTC(2026, 10, 24, 3, 0, 0);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/**
 * Audit rows are kept by a time filter (`since`) by their own time, and pages end
 * where the rows end. Times need not rise with seq: here the clock was stepped back
 * 150 s at row 101 and caught up again at row 201. Read in steps of 10 seqs, 30 a page.
 */
describe('audit pages: the last page, and time filters when the clock was stepped back', () => {
  let dir: string;
  let store: Store;
  const atOf = (seq: number): number => T0 + (seq <= 100 ? seq : seq <= 200 ? seq - 150 : seq - 100) * 1000;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rectify-audit-time-'));
    store = openSqliteStore({ path: join(dir, 'db.sqlite'), migrationsDir: MIGRATIONS_DIR, auditScan: { budget: 30, step: 10 } });
    await store.transact((tx) => {
      for (let i = 1; i <= 300; i++) {
        tx.appendAudit({ at: atOf(i), event: i % 50 === 0 ? 'CIRCUIT_TRIPPED' : 'RATE_LIMITED', incident_id: `inc_${i}`, runbook: i % 2 ? 'odd' : 'even', actor: 'rectify' });
      }
    });
  });
  after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function walk(q: Omit<AuditQuery, 'limit' | 'before'>, limit: number): { seqs: number[]; cursors: Array<number | null> } {
    const seqs: number[] = [];
    const cursors: Array<number | null> = [];
    let before: number | undefined;
    for (;;) {
      const page = store.auditPage({ ...q, limit, ...(before !== undefined ? { before } : {}) });
      seqs.push(...page.events.map((e) => e.seq));
      cursors.push(page.nextBefore);
      if (page.nextBefore === null) return { seqs, cursors };
      before = page.nextBefore;
      assert.ok(cursors.length < 1000, 'paging ends');
    }
  }

  it('a full last page has no cursor: one is given only when an older row exists', () => {
    const last = store.auditPage({ limit: 3, before: 4 });
    assert.deepEqual(last.events.map((e) => e.seq), [3, 2, 1]);
    assert.equal(last.nextBefore, null);
    const notLast = store.auditPage({ limit: 3, before: 5 });
    assert.deepEqual(notLast.events.map((e) => e.seq), [4, 3, 2]);
    assert.equal(notLast.nextBefore, 2);
    const whole = store.auditPage({ limit: 300 });
    assert.equal(whole.events.length, 300);
    assert.equal(whole.nextBefore, null);
    const runbook = store.auditPage({ runbook: 'odd', limit: 2, before: 4 });
    assert.deepEqual(runbook.events.map((e) => e.seq), [3, 1]);
    assert.equal(runbook.nextBefore, null);
    // Read in steps: the page fills with the oldest rows, and the log ends there.
    const stepped = store.auditPage({ event: 'RATE_LIMITED', limit: 4, before: 5 });
    assert.deepEqual(stepped.events.map((e) => e.seq), [4, 3, 2, 1]);
    assert.equal(stepped.nextBefore, null);
  });

  it('since keeps each row by its own time: rows written after the clock went back are skipped, rows after it caught up are kept', () => {
    const since = T0 + 95 * 1000;
    const expected = [...range(201, 300).reverse(), ...range(95, 100).reverse()];
    for (const limit of [1, 7, 50, 106, 500]) {
      const { seqs, cursors } = walk({ since }, limit);
      assert.deepEqual(seqs, expected, `limit ${limit}`);
      assert.ok(cursors.slice(0, -1).every((c) => c !== null));
    }
    // The last rows fill the page exactly: no cursor to an empty page.
    const exact = store.auditPage({ since, limit: 6, before: 201 });
    assert.deepEqual(exact.events.map((e) => e.seq), range(95, 100).reverse());
    assert.equal(exact.nextBefore, null);
  });

  it('since reaching into the rows written while the clock was behind keeps those at or after it', () => {
    const since = T0 + 40 * 1000;
    const expected = [...range(201, 300), ...range(190, 200), ...range(40, 100)].sort((a, b) => b - a);
    assert.deepEqual(walk({ since }, 25).seqs, expected);
    assert.deepEqual(walk({ since, event: 'CIRCUIT_TRIPPED' }, 10).seqs, [300, 250, 200, 100, 50]);
    assert.deepEqual(walk({ since, runbook: 'even', event: 'RATE_LIMITED' }, 10).seqs, expected.filter((s) => s % 2 === 0 && s % 50 !== 0));
    // Newest rows all from before the step forward: nothing at or after a time past every row.
    assert.deepEqual(walk({ since: T0 + 201 * 1000 }, 10), { seqs: [], cursors: [null] });
  });

  it('the export from a time keeps each row by its own time, paging on by seq', () => {
    const seqs = (q: { afterSeq: number; since?: number; limit: number }) => store.auditRecords(q).map((r) => r.seq);
    const since = T0 + 95 * 1000;
    assert.deepEqual(seqs({ afterSeq: 0, since, limit: 8 }), [95, 96, 97, 98, 99, 100, 201, 202]);
    assert.deepEqual(seqs({ afterSeq: 100, since, limit: 2 }), [201, 202]);
    assert.deepEqual(seqs({ afterSeq: 0, since: T0 + 40 * 1000, limit: 1000 }), [...range(40, 100), ...range(190, 300)]);
    assert.deepEqual(seqs({ afterSeq: 0, since: T0 + 201 * 1000, limit: 5 }), []);
  });
});

describe('rectify audit export --since on the database file', () => {
  it('keeps each row by its own time, also on a file from before the index on the time (read without migrating)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-audit-export-'));
    const path = join(dir, 'db.sqlite');
    try {
      const store = openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR });
      // Rows 1-5 at T0+1..5 s, then the clock back: 6-10 at T0-5..-1 s, then 11-12 at T0+6, +7 s.
      const times = [1, 2, 3, 4, 5, -5, -4, -3, -2, -1, 6, 7];
      await store.transact((tx) => times.forEach((s, i) => tx.appendAudit({ at: T0 + s * 1000, event: 'SERVICE_PAUSED', actor: `a${i + 1}`, details: {} })));
      store.close();
      const since = new Date(T0 + 3000).toISOString();
      const seqs = async () => {
        const r = await cli(['audit', 'export', path, '--since', since]);
        assert.equal(r.code, 0, r.err.join('\n'));
        return r.out.filter((l) => l).map((l) => (JSON.parse(l) as { seq: number }).seq);
      };
      assert.deepEqual(await seqs(), [3, 4, 5, 11, 12]);
      const db = new Database(path);
      db.exec('DROP INDEX audit_at');
      db.close();
      assert.deepEqual(await seqs(), [3, 4, 5, 11, 12]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('audit pages through the API and the CLI', () => {
  it('a clock stepped back: since through the API and the CLI keeps the rows written before the step; the last page has no cursor', async () => {
    const svc = await startTestService({ args: ['--listen', '127.0.0.1:0'] });
    try {
      const env = { RECTIFY_SERVER: await svc.service.listen() };
      assert.equal((await cli(['pause', '--by', 'day-shift'], { env })).code, 0);
      assert.equal((await cli(['resume', '--by', 'day-shift'], { env })).code, 0);
      svc.clock.advance(-3_600_000);
      assert.equal((await cli(['pause', '--by', 'night-shift'], { env })).code, 0);
      assert.equal((await cli(['resume', '--by', 'night-shift'], { env })).code, 0);

      const since = new Date(T0).toISOString();
      const page = await svc.get(`/api/v1/audit?since=${encodeURIComponent(since)}&limit=10`);
      assert.equal(page.status, 200);
      assert.deepEqual(page.body.events.map((e: { event: string; actor: string }) => `${e.event} ${e.actor}`), ['SERVICE_RESUMED day-shift', 'SERVICE_PAUSED day-shift']);
      assert.equal(page.body.next_cursor, null);

      const all = await svc.get('/api/v1/audit?limit=1000');
      const total = all.body.events.length as number;
      const full = await svc.get(`/api/v1/audit?limit=${total}`);
      assert.equal(full.body.events.length, total);
      assert.equal(full.body.next_cursor, null, 'a full last page');
      const short = await svc.get(`/api/v1/audit?limit=${total - 1}`);
      assert.equal(short.body.next_cursor, String(all.body.events[total - 2].seq));

      const table = await cli(['audit', '--since', since, '--limit', '2'], { env });
      assert.equal(table.code, 0);
      assert.equal(table.out.length, 3, table.out.join('\n'));
      assert.match(table.out[1]!, /SERVICE_PAUSED\s+-\s+-\s+day-shift\s/);
      assert.match(table.out[2]!, /SERVICE_RESUMED\s+-\s+-\s+day-shift\s/);
      const whole = await cli(['audit', '--limit', String(total)], { env });
      assert.equal(whole.out.length, total + 1, 'every row, and no line pointing to older rows');
      const paged = await cli(['audit', '--limit', String(total - 1)], { env });
      assert.equal(paged.out[paged.out.length - 1], `(older rows: add --cursor ${all.body.events[total - 2].seq})`);
    } finally {
      await svc.stop({ remove: true });
    }
  });
});
