import Database from 'better-sqlite3';
import { existsSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { processStart, procStat, systemClock } from '../../lib/index.js';

/**
 * One serving rectify per database. A second `rectify serve` started on the same
 * file by mistake would take the first one's running executions for a crash's
 * leftovers (INTERRUPTED, their blast-radius slots released) while they still run,
 * and decide beside it with guardrails (rate limits, cooldowns) counted in a memory
 * of its own. So would a `rectify serve` started while `rectify run --local` runs one.
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
 *
 * The lock is on the lock file's inode, not on its name: a lock file removed while a
 * rectify holds it (an operator cleaning up, a tmp cleaner) or replaced would let the
 * next rectify make a new one and lock that. So every holder also records itself in the
 * database, in a settings row of its own (`serve.holder:<host>/<pid namespace>/<pid>.<start
 * time>`, see holderKey: local runs hold the lock together, and one must not overwrite or
 * remove another's): its pid, its start time in /proc/<pid>/stat, the machine's boot id,
 * its pid namespace, the database file's device and inode. A rectify that got the lock
 * file's lock is still refused while a record names a process that runs: that pid alive,
 * not a zombie, with the recorded start time (a pid taken again by another process has
 * another), on this host, boot and pid namespace, holding this very file (a copy of the
 * database, a restored backup, names another inode). A serve is refused by any such
 * record, a local run by a serve's only. A record that cannot be checked so (another host
 * or boot, another pid namespace, no /proc) is taken for stale: the lock file alone keeps
 * those apart. The records are read only when a -wal is beside the database: a holder has
 * the database open in WAL mode, and SQLite removes the -wal only at the last
 * connection's close. A clean close removes the holder's own record; a serve, which holds
 * the lock alone, removes the stale ones (a crash's) at its start; a local run removes
 * none but its own. The single `serve.holder` row an earlier version wrote is read as one
 * more record, and removed as the others are. (Node has no flock(2); a pid file would
 * need the same liveness check, and SQLite's own locks on the database are taken by every
 * reader.)
 */
export interface ServeLock {
  release(): void;
  /** Whether it is the only lock this process holds on the database (a process may open it more than once: each local run's store). */
  aloneHere(): boolean;
}

export const SERVE_OWNER_KEY = 'serve.owner';
/**
 * The settings key of a holder's record (see HolderRecord) as an earlier version wrote it,
 * one for the database; each holder now writes its own under holderKey, `serve.holder:…`.
 */
export const SERVE_HOLDER_KEY = 'serve.holder';
/** Selects every holder record of the settings table: the earlier single row and each holder's own. */
export const HOLDER_ROWS = `key = '${SERVE_HOLDER_KEY}' OR key LIKE '${SERVE_HOLDER_KEY}:%'`;

type LockCommand = 'rectify serve' | 'rectify run --local';

/** Another process has the lock; `holder` names it when its record in the database was found live. */
export type LockHeld = { heldBy: 'another'; holder?: string };

/** The exclusive lock of `rectify serve`, or `held` when another process has the lock. */
export function holdServeLock(dbPath: string): ServeLock | LockHeld {
  return holdWith(dbPath, 'rectify serve', (lock) => {
    lock.pragma('busy_timeout = 0');
    lock.pragma('locking_mode = EXCLUSIVE');
    // An exclusive lock, kept after the commit in this locking mode until the connection closes.
    lock.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS held (pid INTEGER); COMMIT;');
  });
}

/** The shared lock of `rectify run --local`, or `held` when a serve has the lock. */
export function holdLocalLock(dbPath: string): ServeLock | LockHeld {
  return holdWith(dbPath, 'rectify run --local', (lock) => {
    // Long enough to outwait another start's brief write, not a serve's lasting hold.
    lock.pragma('busy_timeout = 250');
    // A read transaction left open holds a SHARED lock (no write: local runs starting
    // together all get it): no serve can take it exclusively meanwhile.
    lock.exec('BEGIN');
    lock.prepare('SELECT COUNT(*) FROM sqlite_master').get();
  });
}

/** Locks this process holds, by the database's own path (see lockBase): how many. */
const heldHere = new Map<string, number>();

/**
 * Opens the lock file and takes the lock with `take`; a busy file means another process
 * holds it, and so does a live holder's record in the database (its lock file removed).
 * The lock is released once, however often `release` is called.
 */
function holdWith(dbPath: string, command: LockCommand, take: (lock: Database.Database) => void): ServeLock | LockHeld {
  const base = lockBase(dbPath);
  const path = `${base}.serve-lock`;
  let lock: Database.Database | undefined;
  try {
    lock = new Database(path);
    take(lock);
  } catch (err) {
    lock?.close();
    // The lock file's holder is named by its record when it is found live (the serve.owner
    // row names the last rectify that started, which may be another local run gone since).
    if (isBusy(err)) return { heldBy: 'another', ...holderOf(liveHolders(dbPath, base), command) };
    throw unusableLock(path, err);
  }
  // Local runs share the lock: only a serve's record keeps a local run out.
  const blocking = holderOf(liveHolders(dbPath, base), command);
  if (blocking) {
    lock.close();
    return { heldBy: 'another', ...blocking };
  }
  heldHere.set(base, (heldHere.get(base) ?? 0) + 1);
  let released = false;
  return {
    aloneHere: () => (heldHere.get(base) ?? 0) <= 1,
    release: () => {
      if (released) return;
      released = true;
      const n = (heldHere.get(base) ?? 1) - 1;
      if (n > 0) heldHere.set(base, n);
      else heldHere.delete(base);
      lock.close();
    },
  };
}

/** What a holder records of itself in the database's settings (SERVE_HOLDER_KEY). */
interface HolderRecord {
  command: LockCommand;
  pid: number;
  /** Its start time, clock ticks after boot (/proc/<pid>/stat). */
  start: number;
  boot: string;
  /** Its pid namespace (/proc/self/ns/pid): a pid means the same process only within one. */
  pidns: string;
  host: string;
  /** When it took the lock (ms). */
  since: number;
  /** The database file's `<device>:<inode>` (a record with the inode alone is compared by inode, see copiedWhileHeld). */
  file: string;
}

/** This process's pid namespace, as /proc/self/ns/pid names it (`pid:[4026531836]`); undefined without /proc. */
function pidNamespace(): string | undefined {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}

const fileIdentity = (path: string): string | undefined => {
  const st = statSync(path, { bigint: true, throwIfNoEntry: false });
  return st ? `${st.dev}:${st.ino}` : undefined;
};

/**
 * The record the holder of the lock writes in the database once it is open (under its
 * own key, see holderKey), or undefined where this process cannot be told from another
 * (no /proc, no boot id): then none is written, and the lock file alone keeps rectify apart.
 */
export function holderRecord(dbPath: string, command: LockCommand, now: number): { key: string; value: string } | undefined {
  const start = processStart(process.pid);
  const boot = systemClock.bootId?.();
  const pidns = pidNamespace();
  const file = fileIdentity(dbPath);
  if (!start || !boot || !pidns || !file) return undefined;
  const record: HolderRecord = { command, pid: process.pid, start, boot, pidns, host: hostname(), since: now, file };
  return { key: holderKey(record), value: JSON.stringify(record) };
}

/**
 * A holder's own settings key: `serve.holder:<host>/<pid namespace>/<pid>.<start time>`,
 * one process wherever the database is shared (another host, another container).
 */
const holderKey = (h: HolderRecord): string => `${SERVE_HOLDER_KEY}:${h.host}/${h.pidns}/${h.pid}.${h.start}`;

/** Names a holder as a refusal does: `rectify serve, pid 123 on host-a since 2026-12-05T11:00:00.000Z`. */
function describeHolder(h: HolderRecord): string {
  return `${h.command}, pid ${h.pid} on ${h.host} since ${new Date(h.since).toISOString()}`;
}

/**
 * Of the live holders, the one that keeps a `command` start out, named: for a serve any
 * (a serve's first, then the earliest), for a local run a serve only; undefined for none.
 */
function holderOf(live: HolderRecord[], command: LockCommand): { holder: string } | undefined {
  const h = live
    .filter((r) => command === 'rectify serve' || r.command === 'rectify serve')
    .sort((a, b) => Number(b.command === 'rectify serve') - Number(a.command === 'rectify serve') || a.since - b.since)[0];
  return h && { holder: describeHolder(h) };
}

/**
 * The holders the database records that still run and hold this file (see the comment
 * at the top); none when there is no -wal beside it or the settings cannot be read.
 */
function liveHolders(dbPath: string, base: string): HolderRecord[] {
  if (!existsSync(`${base}-wal`)) return [];
  const live: HolderRecord[] = [];
  for (const { value } of readHolderRows(dbPath)) {
    const h = liveHolder(dbPath, value);
    if (h) live.push(h);
  }
  return live;
}

/**
 * Whether a holder record read in the database (`value` of a HOLDER_ROWS row) is stale:
 * it does not name a process that runs and holds this file, or cannot be checked here.
 */
export function holderStale(dbPath: string, value: string): boolean {
  return liveHolder(dbPath, value) === undefined;
}

/**
 * Where this process finds the database, as copiedWhileHeld compares a holder record with
 * it: the file's `<device>:<inode>` (undefined when it cannot be read), the host name and
 * the boot id (undefined without one).
 */
export interface FileHere {
  file: string | undefined;
  host: string;
  boot: string | undefined;
}

/** Where this process finds the database `dbPath` (see FileHere). */
const fileHere = (dbPath: string): FileHere => ({ file: fileIdentity(dbPath), host: hostname(), boot: systemClock.bootId?.() });

/** A `<device>:<inode>` (or a bare `<inode>`, a record without its device) split: dev undefined when not given. */
function splitFile(file: string): { dev: string | undefined; ino: string } {
  const at = file.lastIndexOf(':');
  if (at < 0) return { dev: undefined, ino: file };
  const dev = file.slice(0, at);
  return { dev: dev === '' ? undefined : dev, ino: file.slice(at + 1) };
}

/**
 * What a holder record read in the database (`value` of a HOLDER_ROWS row) says when it
 * names another file than `dbPath`: the database was copied (a plain copy, a clone, a
 * restored backup) while that rectify had it open, or after it stopped without closing it
 * (killed, crashed: its record stays in the file), since every holder records the file it
 * opened, and a clean close removes its record. Undefined when it names this file (a
 * crash of this database's own rectify leaves that), or names none.
 * The record written on this host in this boot (same host name, same boot id) is compared
 * by device and inode: within one boot a file keeps its device number, so another device
 * is another file (a copy to another volume, whose inode numbers may well match: a fresh
 * file system hands them out in order). A record from another host or boot is compared by
 * inode only: the device number of the same volume may differ on another node or after a
 * remount (a Kubernetes pod started again elsewhere on its volume), and so may the host
 * name, while a copy on the same volume is another file, with another inode. So is a
 * record without the device. (A file-system snapshot restored keeps its inodes: it is not
 * told so; restore its file with rectify restore.) `here` is where this process finds the
 * database, read when not given.
 */
export function copiedWhileHeld(dbPath: string, value: string, here: FileHere = fileHere(dbPath)): string | undefined {
  let h: HolderRecord;
  try {
    h = JSON.parse(value) as HolderRecord;
  } catch {
    return undefined;
  }
  if (typeof h !== 'object' || h === null || typeof h.file !== 'string' || !here.file) return undefined;
  const was = splitFile(h.file);
  const is = splitFile(here.file);
  if (was.ino === '') return undefined;
  const sameBoot = typeof h.host === 'string' && h.host === here.host && typeof h.boot === 'string' && here.boot !== undefined && h.boot === here.boot;
  const byDevice = sameBoot && was.dev !== undefined && is.dev !== undefined;
  if (byDevice ? was.dev === is.dev && was.ino === is.ino : was.ino === is.ino) return undefined;
  const who = typeof h.command === 'string' && Number.isInteger(h.pid) && typeof h.host === 'string' && typeof h.since === 'number' ? describeHolder(h) : 'a rectify';
  const names = byDevice
    ? `its record names device ${was.dev} inode ${was.ino}, this file is device ${is.dev} inode ${is.ino}`
    : `its record names inode ${was.ino}, this file is inode ${is.ino}`;
  return `copied while ${who} had it open, or after it stopped without closing it (${names})`;
}

/** The holder a record names, when it still runs and holds this file; undefined when it is gone, or cannot be told. */
function liveHolder(dbPath: string, raw: string): HolderRecord | undefined {
  let h: HolderRecord;
  try {
    h = JSON.parse(raw) as HolderRecord;
  } catch {
    return undefined;
  }
  if (typeof h !== 'object' || h === null || !Number.isInteger(h.pid) || h.pid <= 0 || typeof h.start !== 'number' || !h.start) return undefined;
  if (h.command !== 'rectify serve' && h.command !== 'rectify run --local') return undefined;
  if (typeof h.since !== 'number' || !Number.isFinite(h.since)) return undefined;
  if (h.file !== fileIdentity(dbPath) || h.host !== hostname() || h.boot !== systemClock.bootId?.() || h.pidns !== pidNamespace()) return undefined;
  if (h.pid === process.pid) {
    // This process: live while it holds a lock on the database (a store closed released it).
    return h.start === processStart(process.pid) && (heldHere.get(lockBase(dbPath)) ?? 0) > 0 ? h : undefined;
  }
  // A zombie (killed, not yet collected by its parent) keeps its pid and start time but holds nothing.
  const st = procStat(h.pid);
  return st && st.start === h.start && st.state !== 'Z' && st.state !== 'X' ? h : undefined;
}

/** The holder records of the database's settings, read without writing; none when they cannot be read. */
function readHolderRows(db: string): Array<{ key: string; value: string }> {
  try {
    const conn = new Database(db, { readonly: true, fileMustExist: true });
    try {
      conn.pragma('busy_timeout = 2000');
      return conn.prepare(`SELECT key, value FROM settings WHERE ${HOLDER_ROWS}`).all() as Array<{ key: string; value: string }>;
    } finally {
      conn.close();
    }
  } catch {
    return [];
  }
}

/** A settings value of the database, read without writing; undefined when it cannot be read. */
function readSetting(db: string, key: string): string | undefined {
  try {
    const conn = new Database(db, { readonly: true, fileMustExist: true });
    try {
      conn.pragma('busy_timeout = 2000');
      return (conn.prepare('SELECT value FROM settings WHERE key = ?').pluck().get(key) as string | undefined) ?? undefined;
    } finally {
      conn.close();
    }
  } catch {
    return undefined;
  }
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
export function lockOwner(command: LockCommand, now: number): string {
  return `${command}, pid ${process.pid} on ${hostname()} since ${new Date(now).toISOString()}`;
}

/** Who holds the serve lock of `db`, as that process wrote it in the database's settings; undefined when it cannot be read. */
export function serveLockHolder(db: string): string | undefined {
  return readSetting(db, SERVE_OWNER_KEY);
}
