import Database from 'better-sqlite3';
import { closeSync, fsyncSync, linkSync, openSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * A copy of a rectify database taken while the service runs and writes (`rectify backup`).
 *
 * The copy is SQLite's `VACUUM INTO` on a read-only connection of its own: one read
 * transaction, so the copy is the database as of one commit, compact, and in WAL mode it
 * neither takes nor waits for the write lock (the service's commits go on; the WAL grows
 * meanwhile and is checkpointed after). Not the online backup API (`.backup()`): it
 * starts over at every commit of another connection, so under the service's steady
 * writes it may never finish. The serve lock (`<db>.serve-lock`) is not taken: a backup
 * is no second writer.
 *
 * The copy is written under a temporary name beside the target, checked there, fsync'd,
 * then linked to the target's name (a link, not a rename: a file that appeared at the
 * target meanwhile is kept, not replaced) and the folder fsync'd. A crash, a full disk or
 * a failed check never leaves a half-written or unchecked file under the target's name.
 * The copy, its check and its fsync run in a worker thread, so the caller hears a signal
 * meanwhile and can take the unfinished copy back (`discard`) before the process ends.
 */

/** One applied migration, as schema_migrations records it. */
export interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
}

/** What the copy holds, read back from the copy itself. */
export interface BackupContents {
  /** The newest migration applied (the schema version). */
  schemaVersion: number;
  incidents: number;
  auditRows: number;
  /** The newest audit row's seq and hash (null: an empty log; its hash null: a row from before the chain). */
  auditHead: { seq: number; hash: string | null } | null;
}

export type BackupResult =
  | ({ ok: true; path: string; bytes: number } & BackupContents)
  /** The source cannot be backed up (not a SQLite database, not rectify's): nothing was written. */
  | { ok: false; kind: 'source'; message: string }
  /** A file appeared at the target while the copy was made: it is left as it is, the copy removed. */
  | { ok: false; kind: 'target_exists'; message: string }
  /** The copy could not be written (a full disk, a folder not writable) or failed its check: it was removed. */
  | { ok: false; kind: 'failed'; message: string };

/** The temporary name the copy is written under, beside the target. */
export const partialPath = (target: string): string => `${target}.partial-${process.pid}`;

/** A backup under way: its result, and a way to take back its unfinished copy. */
export interface SqliteBackup {
  /** The temporary name the copy is written under (`<target>.partial-<pid>`). */
  partial: string;
  /** Settles once the copy has the target's name or has failed and was removed; its thread has ended by then. */
  done: Promise<BackupResult>;
  /**
   * Removes the unfinished copy and its journal now, for a process about to end on a
   * signal: the copy's thread may still be writing into them (the space is freed when the
   * process exits). The files that could not be removed, with why; none once the copy
   * has the target's name, or when this process never made one.
   */
  discard(): Array<{ path: string; reason: string }>;
}

/**
 * Copies the rectify database at `source` (an existing file) to `target` (which must not
 * exist; its folder must). The copy, its check and its fsync run in a worker thread with
 * a read-only connection of its own, so this thread stays free to hear a signal (Ctrl-C)
 * meanwhile: VACUUM INTO on this thread would hold it until the copy ended, and the
 * process would die of the signal with the unfinished copy left on the disk.
 */
export function startSqliteBackup(source: string, target: string): SqliteBackup {
  const partial = partialPath(target);
  let made = false;
  let discarded = false;
  const files = [partial, `${partial}-journal`];
  const removeMade = (): void => {
    // With its journal: VACUUM INTO keeps one beside the file it writes, left behind when a write fails (a full disk).
    if (made) for (const f of files) removeQuietly(f);
    made = false;
  };
  const discard = (): Array<{ path: string; reason: string }> => {
    if (!made) return [];
    made = false;
    discarded = true;
    const left: Array<{ path: string; reason: string }> = [];
    for (const f of files) {
      try {
        unlinkSync(f);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') left.push({ path: f, reason: err instanceof Error ? err.message : String(err) });
      }
    }
    return left;
  };

  const run = async (): Promise<BackupResult> => {
    let before: AppliedMigration[];
    let db: Database.Database;
    try {
      // fileMustExist: a mistyped path is refused, not made into an empty database.
      db = new Database(source, { readonly: true, fileMustExist: true });
    } catch (err) {
      return { ok: false, kind: 'source', message: `cannot open ${source}: ${sqliteReason(err)}` };
    }
    try {
      // Long enough for a WAL recovery or a checkpoint's brief hold; a read never waits on a writer.
      db.pragma('busy_timeout = 5000');
      before = appliedMigrations(db);
    } catch (err) {
      // Not a database, or not rectify's, is the wrong file named; anything else (a lock held past the timeout, an I/O error) is a failure to read it.
      const wrongFile = (err as { code?: unknown }).code === 'SQLITE_NOTADB' || /^no such table: schema_migrations$/.test(err instanceof Error ? err.message : '');
      return { ok: false, kind: wrongFile ? 'source' : 'failed', message: `cannot back up ${source}: ${notRectify(err)}` };
    } finally {
      db.close();
    }
    if (before.length === 0) return { ok: false, kind: 'source', message: `cannot back up ${source}: no migration was ever applied to it (not a rectify database)` };
    try {
      // The copy keeps the database's permissions (umask applied; writable by its owner, who
      // writes it next): it holds the same audit log. Made empty and exclusively first (VACUUM
      // INTO takes an empty file): the file removed on a failure is always this process's
      // own, never another backup's.
      closeSync(openSync(partial, 'wx', (statSync(source).mode & 0o777) | 0o600));
      made = true;
      const copied = await copyInWorker(source, partial);
      if (discarded) return { ok: false, kind: 'failed', message: `the copy ${partial} was removed before it was finished` };
      if (!copied.ok) {
        const reason = sqliteReason(copied.error);
        return { ok: false, kind: 'failed', message: copied.step === 'copy' ? `cannot write the copy ${partial}: ${reason}` : `the copy ${partial} failed its check: ${reason}` };
      }
      const integrity = copied.integrity;
      if (integrity.length !== 1 || integrity[0] !== 'ok') {
        const problem = `PRAGMA integrity_check: ${integrity.slice(0, 5).join('; ')}${integrity.length > 5 ? ` (and ${integrity.length - 5} more)` : ''}`;
        return { ok: false, kind: 'failed', message: `the copy ${partial} failed its check: ${problem}` };
      }
      // A migration applied between the read above and the copy (a newer rectify starting) is the one case the ledgers differ.
      const checked = checkCopy(partial, [before, copied.after]);
      if (!checked.ok) return { ok: false, kind: 'failed', message: `the copy ${partial} failed its check: ${checked.problem}` };

      const placed = place(partial, target);
      if (placed) return { ok: false, kind: 'target_exists', message: placed };
      made = false;
      try {
        fsyncFile(dirname(target));
      } catch (err) {
        // The name may not survive a power cut: taken back, so the failure is whole (nothing at the target).
        removeQuietly(target);
        return { ok: false, kind: 'failed', message: `cannot fsync the folder ${dirname(target)}: ${sqliteReason(err)}; the copy was removed` };
      }
      return { ok: true, path: target, bytes: statSync(target).size, ...checked.contents };
    } catch (err) {
      return { ok: false, kind: 'failed', message: `cannot write the copy ${partial}: ${sqliteReason(err)}` };
    } finally {
      removeMade();
    }
  };
  return { partial, done: run(), discard };
}

/** What the copy's thread reports: the ledger read right after the copy and the copy's integrity_check, or the step that failed. */
type WorkerOutcome =
  | { ok: true; after: AppliedMigration[]; integrity: string[] }
  | { ok: false; step: 'copy' | 'check'; error: { code?: string; message: string } };

/**
 * The copy's thread, as CommonJS source: a file of its own would need tsx in the thread
 * when rectify runs from its TypeScript sources, and no build step copies a .cjs to dist/.
 * It loads the same better-sqlite3 this module does (its resolved path is passed in).
 * VACUUM INTO on a read-only connection of its own, the ledger read on that connection
 * right after, then the copy's integrity_check and an fsync of it: the long parts.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { closeSync, fsyncSync, openSync } = require('node:fs');
const Database = require(workerData.driver);
const failure = (step, err) => ({ ok: false, step, error: { code: err && typeof err.code === 'string' ? err.code : undefined, message: err instanceof Error ? err.message : String(err) } });
function run() {
  let after;
  try {
    const db = new Database(workerData.source, { readonly: true, fileMustExist: true });
    try {
      db.pragma('busy_timeout = 5000');
      db.prepare('VACUUM INTO ?').run(workerData.partial);
      after = db.prepare(workerData.ledger).all();
    } finally {
      db.close();
    }
  } catch (err) {
    return failure('copy', err);
  }
  let integrity;
  try {
    const copy = new Database(workerData.partial, { readonly: true, fileMustExist: true });
    try {
      integrity = copy.pragma('integrity_check').map((r) => r.integrity_check);
    } finally {
      copy.close();
    }
  } catch (err) {
    return failure('check', err);
  }
  try {
    const fd = openSync(workerData.partial, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  } catch (err) {
    return failure('copy', err);
  }
  return { ok: true, after, integrity };
}
parentPort.postMessage(run());
`;

const LEDGER = 'SELECT version, name, checksum FROM schema_migrations ORDER BY version';

/** Runs the copy in a worker thread; settles once the thread has ended. */
function copyInWorker(source: string, partial: string): Promise<WorkerOutcome> {
  return new Promise((resolve) => {
    let outcome: WorkerOutcome | undefined;
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver: createRequire(import.meta.url).resolve('better-sqlite3'), source, partial, ledger: LEDGER } });
    worker.on('message', (m: WorkerOutcome) => (outcome = m));
    worker.on('error', (err) => (outcome ??= { ok: false, step: 'copy', error: { message: `its thread failed: ${err.message}` } }));
    worker.on('exit', (code) => resolve(outcome ?? { ok: false, step: 'copy', error: { message: `its thread ended (exit ${code}) without a result` } }));
  });
}

function appliedMigrations(db: Database.Database): AppliedMigration[] {
  return db.prepare(LEDGER).all() as AppliedMigration[];
}

/**
 * Opens the copy read-only (its integrity_check was done in the copy's thread) and checks
 * it holds the migrations the source did (so it is a rectify database of the same
 * schema); reads its counts and audit head.
 */
function checkCopy(path: string, ledgers: AppliedMigration[][]): { ok: true; contents: BackupContents } | { ok: false; problem: string } {
  let copy: Database.Database | undefined;
  try {
    copy = new Database(path, { readonly: true, fileMustExist: true });
    const ledger = JSON.stringify(appliedMigrations(copy));
    if (!ledgers.some((l) => JSON.stringify(l) === ledger)) {
      return { ok: false, problem: 'its schema_migrations differ from the database\'s (not the schema it was copied from)' };
    }
    const count = (table: string): number => (copy!.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number);
    // `*`: a database from before the chain (schema 1) has no hash column.
    const head = copy.prepare('SELECT * FROM audit ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash?: string | null } | undefined;
    const versions = ledgers.find((l) => JSON.stringify(l) === ledger)!;
    return {
      ok: true,
      contents: {
        schemaVersion: versions[versions.length - 1]!.version,
        incidents: count('incidents'),
        auditRows: count('audit'),
        auditHead: head ? { seq: head.seq, hash: head.hash ?? null } : null,
      },
    };
  } catch (err) {
    return { ok: false, problem: sqliteReason(err) };
  } finally {
    copy?.close();
  }
}

/**
 * Gives the checked copy the target's name, or says why not. A hard link fails when the
 * name is taken, so a file made at the target since the command started is never
 * replaced; where a file system has no hard links, a rename after a last look.
 */
function place(partial: string, target: string): string | undefined {
  const taken = `${target} exists (made while the copy was written): it was left as it is, and the copy removed`;
  try {
    linkSync(partial, target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return taken;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
    if (exists(target)) return taken;
    renameSync(partial, target);
    return undefined;
  }
  // The copy is in place under its name; a temporary name that would not go is only clutter.
  removeQuietly(partial);
  return undefined;
}

export function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** fsync of a file or a folder (a folder: so the new name survives a power cut). */
export function fsyncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* gone already */
  }
}

/** Why a file is not a rectify database, in the words of someone who named the wrong file. */
function notRectify(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/^no such table: schema_migrations$/.test(message)) return 'a SQLite database without a schema_migrations table (not a rectify database)';
  return sqliteReason(err);
}

/** SQLite's (or the file system's) reason; `err` may be an error passed back from the copy's thread as `{ code, message }`. */
export function sqliteReason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_NOTADB') return 'not a SQLite database (file is not a database)';
  if (code === 'SQLITE_FULL') return 'the disk is full (database or disk is full)';
  if (err instanceof Error) return err.message;
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(err);
}
