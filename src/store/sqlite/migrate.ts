import type Database from 'better-sqlite3';
import { readMigrations } from '../migrate.js';

/**
 * Applies pending migrations, each in its own transaction, and refuses a database
 * that is newer than this build or whose applied files were edited afterwards.
 */
export function migrateSqlite(db: Database.Database, dir: string): { applied: number[] } {
  const known = readMigrations(dir);
  // rectify makes schema_migrations before any table of its own: a file with tables and
  // without it is another application's, which the migrations would write into.
  const ledger = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  const other = ledger ? undefined : db.prepare("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' LIMIT 1").get();
  if (other) {
    throw new Error(`the database ${db.name} is not a rectify database (it has tables and no schema_migrations): give rectify its own file`);
  }
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const applied = db.prepare('SELECT version, name, checksum FROM schema_migrations ORDER BY version').all() as Array<{
    version: number;
    name: string;
    checksum: string;
  }>;
  const newest = known.length;
  for (const row of applied) {
    if (row.version > newest) {
      throw new Error(
        `the database has schema version ${row.version} (${row.name}), newer than this rectify knows (${newest}): run the newer rectify, or restore a backup made for this version`,
      );
    }
    const mine = known[row.version - 1]!;
    if (mine.checksum !== row.checksum) {
      throw new Error(
        `migration ${String(row.version).padStart(3, '0')}_${row.name} was changed after it was applied (checksum differs): restore the original file and add a new migration instead`,
      );
    }
  }
  const done: number[] = [];
  const record = db.prepare('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)');
  for (const m of known.slice(applied.length)) {
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name, m.checksum, Date.now());
    }).immediate();
    done.push(m.version);
  }
  return { applied: done };
}
