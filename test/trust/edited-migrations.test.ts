import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { MIGRATIONS_DIR } from '../../src/service.js';
import { readMigrations } from '../../src/store/migrate.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';

/**
 * Migrations 003, 004, 009 and 013 were edited after builds had applied them. A database
 * one of those builds wrote records the earlier text's checksum: it starts, reaches the
 * current schema (the one a fresh database has, exactly) and keeps its rows. The earlier
 * texts, as first committed, are in test/fixtures/edited-migrations (tests cannot run git).
 * A migration whose text this build does not have at all is still refused, in words for
 * an operator as well as for a developer.
 */

const EARLIER = fileURLToPath(new URL('../fixtures/edited-migrations', import.meta.url));
const known = readMigrations(MIGRATIONS_DIR);

const dir = mkdtempSync(join(tmpdir(), 'rectify-edited-migrations-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The schema as sqlite_master holds it. */
function schemaOf(path: string): Array<{ type: string; name: string; sql: string | null }> {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all() as Array<{
      type: string;
      name: string;
      sql: string | null;
    }>;
  } finally {
    db.close();
  }
}

/**
 * A database as a build wrote it: migrations 1 to `upTo` applied, with the earlier text
 * of those in `earlier`, recorded with that text's checksum, as the migrator of the time did.
 */
function written(name: string, upTo: number, earlier: number[]): string {
  const path = join(dir, `${name}.db`);
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
    for (const m of known.slice(0, upTo)) {
      const sql = earlier.includes(m.version) ? readFileSync(join(EARLIER, `${String(m.version).padStart(3, '0')}_${m.name}.sql`), 'utf8') : m.sql;
      db.exec(sql);
      db.prepare('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)').run(
        m.version,
        m.name,
        createHash('sha256').update(sql).digest('hex'),
        1,
      );
    }
    // Rows the build wrote: an alert's incident and a manual run's, an execution, and
    // an approval request for each (a build with the earlier 004 counted 1 alert for both).
    const seen = upTo >= 9 ? ', seen_at' : '';
    const incident = db.prepare(
      `INSERT INTO incidents (id, dedup_key, alert_key, source, received_at, status, service, root_cause, confidence, body, action, event, runbook, reason${seen})
       VALUES (?, ?, ?, 'api', ?, 'open', 'shop', 'broken', 1, '{}', 'approval_required', 'APPROVAL_REQUIRED', 'ask', 'asked'${seen ? ', ?' : ''})`,
    );
    const at = 1_800_000_000_000;
    incident.run(...['inc_alert', 'dk-alert', 'ak-1', at, ...(seen ? [earlier.includes(9) ? at : 0] : [])]);
    incident.run(...['inc_manual', 'dk-manual', null, at + 1, ...(seen ? [earlier.includes(9) ? at + 1 : 0] : [])]);
    db.prepare(
      `INSERT INTO executions (id, incident_id, runbook, service, state, trigger, actor, plan, started_at, finished_at, success)
       VALUES ('exe_1', 'inc_alert', 'fix', 'shop', 'succeeded', 'auto', 'rectify', '{}', ?, ?, 1)`,
    ).run(at, at + 5);
    const alerts = upTo >= 4 ? ', plan_key, alerts' : '';
    const approval = db.prepare(
      `INSERT INTO approvals (id, incident_id, alert_key, runbook, service, status, reason, plan, requested_at, requested_by, expires_at${alerts})
       VALUES (?, ?, ?, 'ask', 'shop', 'pending', 'asked', '{}', ?, 'rectify', ?${alerts ? ', NULL, ?' : ''})`,
    );
    approval.run(...['apr_alert', 'inc_alert', 'ak-1', at, at + 3_600_000, ...(alerts ? [1] : [])]);
    approval.run(...['apr_manual', 'inc_manual', null, at + 1, at + 3_600_000, ...(alerts ? [earlier.includes(4) ? 1 : 0] : [])]);
  } finally {
    db.close();
  }
  return path;
}

function rowsOf(path: string) {
  const db = new Database(path, { readonly: true });
  try {
    return {
      versions: db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all(),
      incidents: db.prepare('SELECT id, dedup_key, alert_key, received_at FROM incidents ORDER BY id').all(),
      executions: db.prepare('SELECT id, state, finished_at FROM executions ORDER BY id').all(),
      approvals: db.prepare('SELECT id, status, alert_key, requested_at FROM approvals ORDER BY id').all(),
    };
  } finally {
    db.close();
  }
}

describe('a database written by a build whose migration text was edited since', () => {
  let current: ReturnType<typeof schemaOf>;
  before(() => {
    const fresh = join(dir, 'fresh.db');
    openSqliteStore({ path: fresh, migrationsDir: MIGRATIONS_DIR }).close();
    current = schemaOf(fresh);
  });
  const everyVersion = known.map((m) => m.version);

  it('the migration that brings such a database to the current schema changes nothing on one that has it', () => {
    // Migrations 1 to 16 as they are now: the schema a fresh database had before 017, and has with it.
    const path = written('current-texts', 16, []);
    assert.deepEqual(schemaOf(path), schemaOf(written('through-017', 17, [])));
  });

  const cases: Array<[string, number, number[]]> = [
    ['003 as first shipped (its last migration)', 3, [3]],
    ['004 as first shipped', 4, [4]],
    ['009 as first shipped', 9, [9]],
    ['013 as first shipped', 13, [13]],
    ['every edited migration as first shipped', 13, [3, 4, 9, 13]],
  ];
  for (const [what, upTo, earlier] of cases) {
    it(`${what}: starts, reaches the current schema and keeps its rows`, () => {
      const path = written(`upto-${upTo}-${earlier.join('-')}`, upTo, earlier);
      const before = rowsOf(path);
      const store = openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR, lock: 'serve' });
      store.close();
      const upgraded = rowsOf(path);
      assert.deepEqual(upgraded.versions, everyVersion);
      assert.deepEqual(schemaOf(path), current);
      assert.deepEqual(upgraded.incidents, before.incidents);
      assert.deepEqual(upgraded.executions, before.executions);
      assert.deepEqual(upgraded.approvals, before.approvals);
      // A manual run's request stands for no alert, as the current 004 makes it.
      const db = new Database(path, { readonly: true });
      assert.deepEqual(db.prepare('SELECT id, alerts FROM approvals ORDER BY id').all(), [
        { id: 'apr_alert', alerts: 1 },
        { id: 'apr_manual', alerts: 0 },
      ]);
      db.close();
      // A second start applies nothing and is not refused.
      openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR, lock: 'serve' }).close();
      assert.deepEqual(rowsOf(path), upgraded);
    });
  }

  it('a migration text this build does not have is refused, saying what it means for an operator and for a developer', () => {
    const path = written('unknown-text', 16, []);
    const db = new Database(path);
    db.prepare("UPDATE schema_migrations SET checksum = 'f00d' WHERE version = 5").run();
    db.close();
    assert.throws(() => openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR }), {
      message:
        `the database ${path} was written by a rectify whose migration 005_told_notifications differs from this one's (checksum differs): its schema may not be what this rectify reads, so it does not start on it. ` +
        "Run the rectify that wrote it, restore a backup made for this version, or ask rectify's maintainers. " +
        '(Developing rectify: the file was changed after it was applied: restore the original file and add a new migration instead.)',
    });
    assert.deepEqual(rowsOf(path).versions, everyVersion.slice(0, 16));
  });
});
