import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../../src/cli/index.js';
import { holdServeLock } from '../../src/store/sqlite/serve-lock.js';
import { useRectifyProcesses } from '../helpers/process.js';

const runbooks = (base: string) => `runbooks:
  fix:
    risk: LOW
    triggers: [broken]
    min_confidence: 0.5
    max_per_hour: 2
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/act/{service}"}
`;

describe('one serve per database, its lock file removed or not', () => {
  const rig = useRectifyProcesses('rectify-serve-lock-', runbooks);

  it('a start refused after it took the lock (a table missing from the database) releases it: the next serve starts', async () => {
    const db = join(rig.dir, 'late.db');
    const first = await rig.start([], db);
    assert.equal(await first.stop(), 0);
    // A table dropped behind rectify's back: found only once the database is open, the lock taken.
    const conn = new Database(db);
    const schema = conn.prepare("SELECT sql FROM sqlite_master WHERE tbl_name = 'rate_events' AND sql IS NOT NULL ORDER BY type DESC").pluck().all() as string[];
    conn.exec('DROP TABLE rate_events');
    conn.close();

    const err: string[] = [];
    const code = await runCli(['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${db}`, '--runbooks', rig.runbooks, '--log-level', 'error'], { out: () => {}, err: (l) => err.push(l), env: {}, cwd: rig.dir });
    assert.equal(code, 1);
    assert.deepEqual(err, [`rectify: cannot start: cannot open the database ${db} (set by --db): no such table: rate_events`]);
    // The lock is free again in this process (the one that was refused) and in others.
    const lock = holdServeLock(db);
    assert.ok(!('heldBy' in lock));
    lock.release();

    const repair = new Database(db);
    for (const sql of schema) repair.exec(sql);
    repair.close();
    const next = await rig.start([], db);
    assert.equal(await next.stop(), 0);
  });
});
