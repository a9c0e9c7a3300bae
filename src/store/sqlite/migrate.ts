import type Database from 'better-sqlite3';
import { readMigrations, type Migration } from '../migrate.js';

/**
 * Migrations edited after builds had applied them, before the rule that a shipped
 * migration is never edited was kept: the SHA-256 of each earlier text, accepted as that
 * migration applied. Migration 017 brings a database one of those builds wrote to the
 * schema and rows the current texts make. Nothing is added here for a new edit: a
 * change is a new migration (migrations/README.md).
 */
const EARLIER_CHECKSUMS: ReadonlyMap<number, readonly string[]> = new Map([
  // 003_storm_indexes without the indexes executions_finished and approvals_decided.
  [3, ['dbaaf6a6781c39a1c5574e02b594828d1e758aec91f1d46c23eccd96b952a680']],
  // 004_approval_alerts without setting a manual run's request to 0 alerts.
  [4, ['eb7a41cc180f02158fb0080342e80933811b8a31e858af08363affaa66fd1b6a']],
  // 009_incidents_seen_at setting seen_at to received_at, indexed in place of received_at.
  [9, ['d4b27211096ec7ef85b04dbe27e2b89f7214402b5edfa0f9eeb058a66433d763']],
  // 013_told_alerts_truncated indexing every ALERTS_TRUNCATED row in audit_told (015 rebuilds it).
  [13, ['3abb5eb79f23994149fe91c91281c0456d2b5d20253a6a1e7a455e6b5a7c9481']],
]);

interface Applied {
  version: number;
  name: string;
  checksum: string;
}

/**
 * The refusals of a database, read only: another application's file, a schema newer than
 * this build, a migration applied with a text this build does not have. Writes nothing,
 * so a refused start leaves the file as it was. Returns the migrations applied, or null
 * for a file rectify has not written to yet (no schema_migrations, no tables).
 */
export function checkSqlite(db: Database.Database, known: readonly Migration[]): Applied[] | null {
  // rectify makes schema_migrations before any table of its own: a file with tables and
  // without it is another application's, which the migrations would write into.
  const ledger = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  if (!ledger) {
    const other = db.prepare("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' LIMIT 1").get();
    if (other) throw new Error(`the database ${db.name} is not a rectify database (it has tables and no schema_migrations): give rectify its own file`);
    return null;
  }
  const applied = db.prepare('SELECT version, name, checksum FROM schema_migrations ORDER BY version').all() as Applied[];
  const newest = known.length;
  for (const row of applied) {
    if (row.version > newest) {
      throw new Error(
        `the database has schema version ${row.version} (${row.name}), newer than this rectify knows (${newest}): run the newer rectify, or restore a backup made for this version`,
      );
    }
    const mine = known[row.version - 1]!;
    if (mine.checksum !== row.checksum && !EARLIER_CHECKSUMS.get(row.version)?.includes(row.checksum)) {
      const file = `${String(row.version).padStart(3, '0')}_${row.name}`;
      throw new Error(
        `the database ${db.name} was written by a rectify whose migration ${file} differs from this one's (checksum differs): its schema may not be what this rectify reads, so it does not start on it. ` +
          `Run the rectify that wrote it, restore a backup made for this version, or ask rectify's maintainers. ` +
          `(Developing rectify: the file was changed after it was applied: restore the original file and add a new migration instead.)`,
      );
    }
  }
  return applied;
}

/**
 * Applies pending migrations, each in its own transaction, and refuses a database
 * that is newer than this build or whose applied files were edited afterwards.
 */
export function migrateSqlite(db: Database.Database, dir: string): { applied: number[] } {
  const known = readMigrations(dir);
  const applied = checkSqlite(db, known) ?? [];
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
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
