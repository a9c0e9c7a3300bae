import Database from 'better-sqlite3';
import { hostname } from 'node:os';

/**
 * One serving rectify per database. A second `rectify serve` started on the same
 * file by mistake would take the first one's running executions for a crash's
 * leftovers (INTERRUPTED, their blast-radius slots released) while they still run.
 *
 * The lock is a small SQLite file beside the database, `<db>.serve-lock`, held in
 * EXCLUSIVE locking mode for the life of the service: the operating system drops it
 * when the process ends, however it ends, so a crash never leaves a stale lock.
 * Who holds it (process, host, since when) is written in the database's settings,
 * to be named in the refusal. `rectify run --local` takes no lock: it never touches
 * executions another process may be running.
 */
export interface ServeLock {
  release(): void;
}

export const SERVE_OWNER_KEY = 'serve.owner';

export function holdServeLock(dbPath: string): ServeLock | { heldBy: 'another' } {
  const lock = new Database(`${dbPath}.serve-lock`);
  try {
    lock.pragma('busy_timeout = 0');
    lock.pragma('locking_mode = EXCLUSIVE');
    // An exclusive lock, kept after the commit in this locking mode until the connection closes.
    lock.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS held (pid INTEGER); COMMIT;');
  } catch (err) {
    lock.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') return { heldBy: 'another' };
    throw err;
  }
  return { release: () => lock.close() };
}

/** What the settings row names of the process holding the lock: `pid 123 on host-a since 2026-12-05T11:00:00.000Z`. */
export function serveOwner(now: number): string {
  return `pid ${process.pid} on ${hostname()} since ${new Date(now).toISOString()}`;
}
