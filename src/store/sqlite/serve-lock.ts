import Database from 'better-sqlite3';
import { realpathSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * One serving rectify per database. A second `rectify serve` started on the same
 * file by mistake would take the first one's running executions for a crash's
 * leftovers (INTERRUPTED, their blast-radius slots released) while they still run.
 * So would a `rectify serve` started while `rectify run --local` runs one.
 *
 * The lock is a small SQLite file beside the database, `<db>.serve-lock` (beside the
 * file itself when the path given is a symbolic link to it), held for
 * the life of the process: the operating system drops it when the process ends,
 * however it ends, so a crash never leaves a stale lock.
 * - `serve` holds it exclusively (EXCLUSIVE locking mode): a second serve, or a
 *   serve while a local run holds it, is refused.
 * - `run --local` holds it shared (an open read transaction): local runs do not
 *   exclude each other, and one is refused while a serve holds it (run the runbook
 *   through that service): a serve restarted during a lockless local run would take
 *   the local run's execution for a leftover.
 * Who holds it (which command, process, host, since when) is written in the
 * database's settings, to be named in a refusal.
 */
export interface ServeLock {
  release(): void;
}

export const SERVE_OWNER_KEY = 'serve.owner';

/** The exclusive lock of `rectify serve`, or `held` when another process has the lock. */
export function holdServeLock(dbPath: string): ServeLock | { heldBy: 'another' } {
  return holdWith(dbPath, (lock) => {
    lock.pragma('busy_timeout = 0');
    lock.pragma('locking_mode = EXCLUSIVE');
    // An exclusive lock, kept after the commit in this locking mode until the connection closes.
    lock.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS held (pid INTEGER); COMMIT;');
  });
}

/** The shared lock of `rectify run --local`, or `held` when a serve has the lock. */
export function holdLocalLock(dbPath: string): ServeLock | { heldBy: 'another' } {
  return holdWith(dbPath, (lock) => {
    // Long enough to outwait another start's brief write, not a serve's lasting hold.
    lock.pragma('busy_timeout = 250');
    // A read transaction left open holds a SHARED lock (no write: local runs starting
    // together all get it): no serve can take it exclusively meanwhile.
    lock.exec('BEGIN');
    lock.prepare('SELECT COUNT(*) FROM sqlite_master').get();
  });
}

/** Opens the lock file and takes the lock with `take`; a busy file means another process holds it. */
function holdWith(dbPath: string, take: (lock: Database.Database) => void): ServeLock | { heldBy: 'another' } {
  const path = `${lockBase(dbPath)}.serve-lock`;
  let lock: Database.Database | undefined;
  try {
    lock = new Database(path);
    take(lock);
  } catch (err) {
    lock?.close();
    if (isBusy(err)) return { heldBy: 'another' };
    throw unusableLock(path, err);
  }
  return { release: () => lock.close() };
}

/**
 * A lock file that cannot be opened or locked (made by another user, say a `rectify run
 * --local` under sudo; overwritten with something else) is named as such. SQLite's own
 * words ("file is not a database", "attempt to write a readonly database") would be
 * taken for the database's, and the operator sent to a database that is fine.
 */
function unusableLock(path: string, err: unknown): Error {
  const code = String((err as { code?: unknown }).code ?? '');
  const hint = code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code === 'SQLITE_PERM'
    ? ' (it or its folder is not writable for this user: was it made by another user, a rectify run --local under sudo?)'
    : '';
  return new Error(
    `cannot use the lock file ${path}, beside the database: ${err instanceof Error ? err.message : String(err)}${hint}. It holds nothing but the lock that keeps two rectify off one database: once no rectify uses the database, remove it (it is made again) or give it to this user`,
    { cause: err },
  );
}

/**
 * The database file's own path, its symbolic links resolved: a second rectify given a
 * link to the file (`--db sqlite:/data/current.db` → `/data/rectify.db`) opens the same
 * database, so it must find the same lock, not a `current.db.serve-lock` of its own
 * beside the link. (The file exists by now: the store opened it first.)
 */
function lockBase(dbPath: string): string {
  try {
    return realpathSync(dbPath);
  } catch {
    return dbPath;
  }
}

const isBusy = (err: unknown): boolean => /^SQLITE_BUSY/.test(String((err as { code?: string }).code ?? ''));

/** What the settings row names of the process holding the lock: `rectify serve, pid 123 on host-a since 2026-12-05T11:00:00.000Z`. */
export function lockOwner(command: 'rectify serve' | 'rectify run --local', now: number): string {
  return `${command}, pid ${process.pid} on ${hostname()} since ${new Date(now).toISOString()}`;
}

/** Who holds the serve lock of `db`, as that process wrote it in the database's settings; undefined when it cannot be read. */
export function serveLockHolder(db: string): string | undefined {
  try {
    const conn = new Database(db, { readonly: true, fileMustExist: true });
    try {
      conn.pragma('busy_timeout = 2000');
      return (conn.prepare('SELECT value FROM settings WHERE key = ?').pluck().get(SERVE_OWNER_KEY) as string | undefined) ?? undefined;
    } finally {
      conn.close();
    }
  } catch {
    return undefined;
  }
}
