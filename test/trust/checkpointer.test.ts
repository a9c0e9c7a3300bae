import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { startCheckpointer } from '../../src/store/sqlite/checkpointer.js';

/** The WAL checkpointer: a worker thread with its own connection, off the writer's event loop. */
describe('WAL checkpointer', () => {
  it('copies committed pages into the database file while the writer never checkpoints, and stop() closes its connection', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-ckpt-'));
    const path = join(dir, 'x.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (v TEXT)');
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    db.transaction(() => {
      for (let i = 0; i < 2_000; i++) insert.run('x'.repeat(200));
    })();
    const before = statSync(path).size;
    const ckpt = startCheckpointer({ path, intervalMs: 10, onExit: () => assert.fail('the checkpointer stopped on its own') });
    const deadline = Date.now() + 10_000;
    while (statSync(path).size <= before + 200_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(statSync(path).size > before + 200_000, `database file ${statSync(path).size} bytes, was ${before}`);
    ckpt.stop();
    // The writer is now the last connection: closing it removes the WAL, which it
    // could not do were the worker's connection still open.
    db.close();
    assert.equal(existsSync(`${path}-wal`), false);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a worker that cannot open the file is reported once, so the writer checkpoints again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-ckpt-'));
    const reports: unknown[] = [];
    startCheckpointer({ path: join(dir, 'missing.db'), onExit: (err) => reports.push(err) });
    const deadline = Date.now() + 10_000;
    while (reports.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(reports.length, 1);
    assert.match(String((reports[0] as { message?: unknown }).message), /^WAL checkpointer cannot open .*missing\.db: unable to open database file$/);
    rmSync(dir, { recursive: true, force: true });
  });
});
