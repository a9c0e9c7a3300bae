import Database from 'better-sqlite3';
import { chmodSync, chownSync, constants, copyFileSync, linkSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import type { Migration } from '../migrate.js';
import { DATABASE_COPY_KEY } from '../ports.js';
import { checkSqlite } from './migrate.js';
import { exists, fsyncFile, sqliteReason, type BackupContents } from './backup.js';

/**
 * Putting a backup in place of a stopped service's database (`rectify restore`), in steps
 * that leave the database as it was until the last one:
 * 1. `copyForRestore`: the backup copied, byte for byte, to a temporary name in the
 *    database's folder (`<db>.restoring-<pid>`), with the database's permissions, fsync'd;
 * 2. `checkRestoreCopy`: that copy checked (integrity_check; a rectify database whose
 *    schema this rectify knows); the caller walks its audit chain;
 * 3. `placeRestored`: the database kept aside under `<db>.before-restore-<time>` with its
 *    -wal, -shm and -journal (renamed, never deleted: a -wal left beside the backup would
 *    be replayed onto it, and make it "database disk image is malformed"), and the copy
 *    renamed to the database's name; the folder fsync'd.
 * The caller holds the serve lock throughout, so no rectify serve or run --local has the
 * database open meanwhile.
 */

/** The files SQLite keeps beside a database, named by the database's name and these endings. */
export const SIDE_FILES = ['-wal', '-shm', '-journal'] as const;

/**
 * The temporary name the backup is copied to, beside the database: the pid and a random
 * part, so a name left by an earlier restore that crashed (or by another container whose
 * process had the same pid, on a shared volume) is never this one's, and never removed by it.
 */
export const restoringPath = (db: string): string => `${db}.restoring-${process.pid}-${randomBytes(4).toString('hex')}`;

export type RestoreCheck =
  | { ok: true; contents: BackupContents }
  /** Not readable as a SQLite database, or its integrity_check fails. */
  | { ok: false; kind: 'damaged'; message: string }
  /** A SQLite database this rectify must not run on: not rectify's, a newer schema, changed migrations. */
  | { ok: false; kind: 'refused'; message: string };

/**
 * Copies `backup` to `copy` (a new file) in one go, gives it the permissions (and, where
 * this user may, the owner) of the database it is to replace, and fsyncs it. What the
 * owner could not be given is returned, to be said.
 */
export function copyForRestore(backup: string, copy: string, replaced: { mode: number; uid: number; gid: number } | undefined): { ownerNote?: string } {
  copyFileSync(backup, copy, constants.COPYFILE_EXCL);
  let ownerNote: string | undefined;
  if (replaced) {
    chmodSync(copy, replaced.mode & 0o777);
    const now = statSync(copy);
    if (now.uid !== replaced.uid || now.gid !== replaced.gid) {
      try {
        chownSync(copy, replaced.uid, replaced.gid);
      } catch (err) {
        ownerNote = `it is owned by uid ${now.uid} (gid ${now.gid}), not by uid ${replaced.uid} (gid ${replaced.gid}) as the database it replaced (${(err as NodeJS.ErrnoException).code ?? String(err)}): give it to the user rectify runs as (chown) before starting rectify`;
      }
    }
  } else {
    // Writable by its owner, who writes it next.
    chmodSync(copy, (statSync(copy).mode & 0o777) | 0o600);
  }
  fsyncFile(copy);
  return ownerNote ? { ownerNote } : {};
}


/**
 * The copy's integrity_check, and its migrations against those this rectify has: a rectify
 * database, of a schema no newer than this rectify knows, whose applied migrations are
 * this rectify's (the start would refuse it otherwise); with its counts and audit head.
 */
export function checkRestoreCopy(path: string, known: readonly Migration[]): RestoreCheck {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    return { ok: false, kind: 'damaged', message: sqliteReason(err) };
  }
  try {
    let integrity: string[];
    try {
      integrity = (db.pragma('integrity_check') as Array<{ integrity_check: string }>).map((r) => r.integrity_check.replace(/\s*\n\s*/g, ' '));
    } catch (err) {
      return { ok: false, kind: 'damaged', message: sqliteReason(err) };
    }
    if (integrity.length !== 1 || integrity[0] !== 'ok') {
      return { ok: false, kind: 'damaged', message: `PRAGMA integrity_check: ${integrity.slice(0, 5).join('; ')}${integrity.length > 5 ? ` (and ${integrity.length - 5} more)` : ''}` };
    }
    // The start's own refusals, read only (checkSqlite): a backup of a database this
    // rectify starts on (migrations written with an earlier text it accepts among them) is
    // restored, and one it would refuse is refused, in the start's words.
    let applied: ReturnType<typeof checkSqlite>;
    try {
      applied = checkSqlite(db, known);
    } catch (err) {
      return { ok: false, kind: 'refused', message: err instanceof Error ? err.message : String(err) };
    }
    if (!applied || applied.length === 0) return { ok: false, kind: 'refused', message: 'it is a SQLite database, but no rectify migration was ever applied to it (not a rectify database)' };
    const count = (table: string): number => db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;
    // `*`: a database from before the chain (schema 1) has no hash column.
    const head = db.prepare('SELECT * FROM audit ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash?: string | null } | undefined;
    return {
      ok: true,
      contents: {
        schemaVersion: applied[applied.length - 1]!.version,
        incidents: count('incidents'),
        auditRows: count('audit'),
        auditHead: head ? { seq: head.seq, hash: head.hash ?? null } : null,
      },
    };
  } catch (err) {
    return { ok: false, kind: 'damaged', message: sqliteReason(err) };
  } finally {
    db.close();
  }
}

/**
 * Marks the checked copy as a restored backup (DATABASE_COPY_KEY, in its settings), for
 * the first start's recovery: a run under way when the backup was taken went on in the
 * service it was taken from, and how it ended is not known here. Fsync'd; a mark left by
 * an earlier restore of the same backup is replaced.
 */
export function markRestored(copy: string, backup: string, now: number): void {
  const db = new Database(copy, { fileMustExist: true });
  try {
    db.prepare(
      `INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, 'rectify restore')
       ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
    ).run(DATABASE_COPY_KEY, `restored by rectify restore from ${backup} at ${new Date(now).toISOString()}`, now);
  } finally {
    db.close();
  }
  fsyncFile(copy);
}

/** The name the database is kept under: `<db>.before-restore-20261207T131500Z`, with `-2`, `-3`… when taken. */
export function asideName(db: string, now: number, taken: (path: string) => boolean): string {
  const stamp = new Date(now).toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
  const base = `${db}.before-restore-${stamp}`;
  const free = (name: string) => ![name, ...SIDE_FILES.map((s) => `${name}${s}`)].some(taken);
  for (let n = 1; ; n++) {
    const name = n === 1 ? base : `${base}-${n}`;
    if (free(name)) return name;
  }
}

/** What was kept aside: the files that were beside (and at) the database's name. */
export interface Placed {
  /** The database's old file, under its new name; null when there was none. */
  aside: string | null;
  /** The side files moved with it (`-wal`, `-shm`, `-journal`), as their endings. */
  sideFiles: string[];
}

/**
 * Keeps the database (and its side files) aside under `aside`, and renames `copy` to the
 * database's name; then fsyncs the folder. The side files go first: the copy must never
 * sit beside the old -wal. The old file is kept with a hard link where the file system has
 * them, so the database's name is never without a file; else renamed. A step that fails
 * puts back what the steps before it moved, and throws.
 */
export function placeRestored(copy: string, db: string, aside: string): Placed {
  const undo: Array<() => void> = [];
  const sideFiles: string[] = [];
  let kept: string | null = null;
  try {
    for (const suffix of SIDE_FILES) {
      if (!exists(`${db}${suffix}`)) continue;
      renameSync(`${db}${suffix}`, `${aside}${suffix}`);
      undo.push(() => renameSync(`${aside}${suffix}`, `${db}${suffix}`));
      sideFiles.push(suffix);
    }
    if (exists(db)) {
      try {
        linkSync(db, aside);
        undo.push(() => unlinkSync(aside));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
        renameSync(db, aside);
        undo.push(() => renameSync(aside, db));
      }
      kept = aside;
    }
    renameSync(copy, db);
  } catch (err) {
    for (const step of undo.reverse()) step();
    throw err;
  }
  fsyncFile(dirname(db));
  return { aside: kept, sideFiles };
}

/** Removes the copy and the side files a reader of it left (they are this process's own). */
export function removeCopy(copy: string): void {
  for (const f of [copy, ...SIDE_FILES.map((s) => `${copy}${s}`)]) {
    try {
      unlinkSync(f);
    } catch {
      /* gone already */
    }
  }
}

/** Removes only the side files a reader of the copy left beside it (an empty -wal and -shm of a copy in WAL mode). */
export function removeCopySideFiles(copy: string): void {
  for (const s of SIDE_FILES) {
    try {
      unlinkSync(`${copy}${s}`);
    } catch {
      /* none */
    }
  }
}
