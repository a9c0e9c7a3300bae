import Database from 'better-sqlite3';
import { copiedWhileHeld, HOLDER_ROWS, holderRecord, holderStale, holdLocalLock, holdServeLock, lockOwner, SERVE_OWNER_KEY, serveLockHolder, type ServeLock } from './serve-lock.js';
import { existsSync, mkdirSync, realpathSync, statfsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { MAX_COOLDOWN_MS, OUTCOME_UNKNOWN, RectifyError } from '../../domain/index.js';
import type {
  ApprovalPage,
  ApprovalQuery,
  AuditQuery,
  AuditRecordQuery,
  AuditRow,
  PruneResult,
  PruneRetention,
  RunbookStats,
  Store,
  StoreHealth,
  TransactOptions,
  Tx,
} from '../ports.js';
import { DATABASE_COPY_KEY } from '../ports.js';
import { AuditLogDamaged, type AuditKey, type AuditRecord } from '../audit-verify.js';
import { AuditKeyMismatch, AuditKeyRefused, auditKeyProblem, createAuditChain, type AuditKeyNames } from './audit-chain.js';
import { startCheckpointer, type Checkpointer } from './checkpointer.js';
import { checkSqlite, migrateSqlite } from './migrate.js';
import { readMigrations } from '../migrate.js';
import { createSqliteTx } from './tx.js';
import { APPROVAL_COLUMNS, rowToApproval, rowToAudit } from './rows.js';

/** A fault only a restart clears: a commit whose outcome is not known (a restart settles it), or the database file lost (a restart alone would start on an empty one). */
export type LastingFaultKind = 'commit_unknown' | 'file_lost' | 'audit_key';

export interface SqliteStoreOptions {
  /** File path, or ':memory:'. */
  path: string;
  migrationsDir: string;
  /** Refuse new intake (`refusable` units) past this many units waiting for a commit (answered 503). */
  maxPending?: number;
  /** Called after every group commit, for metrics. */
  onCommit?: (units: number, seconds: number) => void;
  /**
   * Called with how many approval requests are pending: once when the store opens, then
   * after each commit that opened a request or changed one's status (an alert joining a
   * request changes neither), for the rectify_approvals_pending gauge.
   */
  onApprovalsPending?: (pending: number) => void;
  /**
   * How long a write waits for another connection's lock before the store reports itself
   * unavailable (default 5000): each unit at most this long from when it was queued,
   * polled off the event loop (see `flush`).
   */
  busyTimeoutMs?: number;
  /** Called once if the WAL checkpoint thread stops; the writer then checkpoints inside its commits again. */
  onCheckpointerStopped?: (err: unknown) => void;
  /** HMAC key for new audit rows' hashes (see audit-verify.ts); plain sha256 without it. */
  auditKey?: AuditKey;
  /** Keys the log was written with before `auditKey`: a newest row under one of them is accepted (the log then moves to `auditKey`). */
  auditPreviousKeys?: readonly AuditKey[];
  /** How a refusal names the key settings (the flags when not given): the setting that set them. */
  auditKeyNames?: AuditKeyNames;
  /**
   * Audit rows one page may scan for a filter no index serves (event, since), in
   * steps of `step` seqs (defaults 200,000 and 50,000: about 25 ms on this project's
   * machine). Past it the page ends short, with a cursor to go on from.
   */
  auditScan?: { budget: number; step: number };
  /**
   * Which lock on the database the process holds (see serve-lock.ts): `serve` alone
   * may take it (opening fails, naming the holder, while another serve or a local run
   * has it); `local` (`rectify run --local`) shares it with other local runs, and
   * fails while a serve has it. Without it, none.
   */
  lock?: 'serve' | 'local';
  /**
   * Called once with a fault only a restart clears: the database file found removed or
   * replaced under the running store (see `lostFile`), or a commit whose outcome is not
   * known (see `unknownOutcome`).
   */
  onLastingFault?: (message: string, kind: LastingFaultKind) => void;
  /** Called with the seq of an audit row read back whose details are not JSON (changed behind rectify's back): it is read as having none. */
  onUnreadableAuditDetails?: (seq: number) => void;
}

/** The writer's own checkpoint threshold while the worker checkpoints: 16,384 pages (64 MiB at the default 4 KiB page). */
const BACKSTOP_PAGES = 16_384;

/** The writer connection's page cache, in KiB (see openSqliteStore). */
const CACHE_KIB = 2_000;

/**
 * Free space a full disk must have again before the readiness probe may say the store
 * takes writes: the probe's one-row write fits in the space the WAL already holds,
 * where a storm's commit (about a megabyte of rows for a thousand alerts) does not.
 */
export const MIN_FREE_AFTER_FULL = 8 * 1024 * 1024;

/** Bytes an unprivileged writer may still use on the file system holding `dir`, or null when unknown. */
function freeBytes(dir: string): number | null {
  try {
    const f = statfsSync(dir);
    return f.bavail * f.bsize;
  } catch {
    return null;
  }
}

/**
 * SQLite result codes that mean the database cannot take writes now (a fault of
 * the disk, the file or another connection), as opposed to a bug in a statement.
 * They are answered 503 STORE_UNAVAILABLE, and the caller may retry.
 */
const FAULT_CODES = /^SQLITE_(BUSY|LOCKED|READONLY|FULL|IOERR|CANTOPEN|CORRUPT|NOTADB|PROTOCOL|NOMEM|PERM)/;

export function isStoreFault(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && FAULT_CODES.test(code);
}

/** Another connection holds the write lock (SQLITE_BUSY and its extended codes): waiting may end it. */
function isLockBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/** The longest pause between two attempts to take a lock another connection holds. */
const MAX_LOCK_POLL_MS = 100;

function unavailable(err: unknown): RectifyError {
  return new RectifyError('STORE_UNAVAILABLE', 'the database could not commit; nothing was recorded, retry later', { cause: err });
}

/**
 * An I/O error raised by COMMIT itself (SQLITE_IOERR_FSYNC above all): in WAL mode the
 * frames and their commit marker may have been written and only their sync failed, so
 * the transaction is in the file or not, and the connection cannot tell; the WAL
 * recovery of the next open settles it. Not "nothing was recorded". Except a failed
 * write (SQLITE_IOERR_WRITE, a read-only or immutable file): the commit marker is in
 * the frame written last, so a write that failed left none, and recovery ignores the
 * frames before it.
 */
function isCommitIoError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_IOERR') && code !== 'SQLITE_IOERR_WRITE';
}

function outcomeUnknown(err: unknown): RectifyError {
  const code = (err as { code?: string }).code;
  return new RectifyError(
    'STORE_UNAVAILABLE',
    `the database could not confirm its commit (${code}): whether this was recorded is not known until rectify restarts, and nothing more is accepted until then; after the restart, look whether it was before doing it again`,
    { cause: err, details: [OUTCOME_UNKNOWN] },
  );
}

const AUDIT_RECORD_COLUMNS = 'seq, at, event, incident_id, runbook, execution_id, actor, details, prev_hash, hash';
/** Seqs read per step by an export from a time (a step holding none of its rows is skipped through the index). */
const AUDIT_RECORD_WINDOW = 50_000;

/** Reads the audit log and its chain from a database file without migrating or writing it (`rectify audit verify`). */
export function openSqliteAuditReader(path: string): {
  auditRecords(q: AuditRecordQuery): AuditRecord[];
  auditHighWater(): number;
  close(): void;
} {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  const reader = auditReader(db);
  return { auditRecords: reader.auditRecords, auditHighWater: reader.auditHighWater, close: () => db.close() };
}

/**
 * The columns an audit record is read from. A database from before the hash chain
 * (schema 1, read without migrating: `rectify audit verify`, `rectify backup` of an old
 * file) has no prev_hash or hash: read as NULL, rows written before the chain began.
 */
function auditRecordColumns(db: Database.Database): string {
  const have = new Set((db.pragma('table_info(audit)') as Array<{ name: string }>).map((c) => c.name));
  if (have.size === 0) return AUDIT_RECORD_COLUMNS; // no audit table: the read names it
  return AUDIT_RECORD_COLUMNS.split(', ')
    .map((c) => ((c === 'prev_hash' || c === 'hash') && !have.has(c) ? `NULL AS ${c}` : c))
    .join(', ');
}

function auditReader(db: Database.Database) {
  const columns = auditRecordColumns(db);
  const page = db.prepare(`SELECT ${columns} FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`);
  const highWater = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'audit'");
  const maxSeq = db.prepare('SELECT MAX(seq) AS seq FROM audit');
  // Prepared at first use. A database read without migrating (`rectify audit export`
  // on the file) may predate the index on `at` (migration 010): the same queries then
  // read the table, slower but the same rows.
  let sinceStmts: { window: Database.Statement; firstAbove: Database.Statement; lastBelow: Database.Statement; anyBelow: Database.Statement } | undefined;
  const since = () => {
    if (sinceStmts) return sinceStmts;
    const indexed = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'audit_at'").get() !== undefined;
    const byAt = indexed ? 'INDEXED BY audit_at' : '';
    return (sinceStmts = {
      window: db.prepare(`SELECT ${columns} FROM audit WHERE seq > ? AND seq <= ? AND at >= ? ORDER BY seq LIMIT ?`),
      firstAbove: db.prepare(`SELECT MIN(seq) FROM audit ${byAt} WHERE at >= ? AND seq > ?`).pluck(),
      lastBelow: db.prepare(`SELECT MAX(seq) FROM audit ${byAt} WHERE at >= ? AND seq < ?`).pluck(),
      // Read in the index's order, oldest time first: the rows of lowest seqs come first
      // when times mostly rise, so a row below is found at once; only "none" reads them all.
      anyBelow: db.prepare(`SELECT 1 FROM audit ${byAt} WHERE at >= ? AND seq < ? LIMIT 1`).pluck(),
    });
  };

  /** The newest row's seq (0 for an empty log). */
  const newestSeq = (): number => (maxSeq.get() as { seq: number | null }).seq ?? 0;
  /**
   * The lowest seq above `after` whose row was written at or after `since` (null when
   * none): read from the index on `at`, each row by its own time. Times need not rise
   * with seq: a clock stepped back writes older times after newer ones.
   */
  const firstSinceAbove = (after: number, at: number): number | null => since().firstAbove.get(at, after) as number | null;
  /** The highest seq below `before` whose row was written at or after `since` (null when none). */
  const lastSinceBelow = (before: number, at: number): number | null => since().lastBelow.get(at, before) as number | null;
  /** Whether a row below `before` was written at or after `since`. */
  const anySinceBelow = (before: number, at: number): boolean => since().anyBelow.get(at, before) !== undefined;

  return {
    newestSeq,
    lastSinceBelow,
    anySinceBelow,
    auditRecords: (q: AuditRecordQuery): AuditRecord[] => readable(() => auditRecords(q)),
    auditHighWater: (): number => readable(auditHighWater),
  };

  function auditRecords(q: AuditRecordQuery): AuditRecord[] {
    if (q.since === undefined) return page.all(q.afterSeq, q.limit) as AuditRecord[];
    // Read by seq in windows, keeping the rows at or after `since`; a window with
    // none of them (the rows before `since`, or written while the clock was behind
    // it) is passed over in one step through the index on `at`, not read row by row.
    const rows: AuditRecord[] = [];
    let after = q.afterSeq;
    const newest = newestSeq();
    while (rows.length < q.limit && after < newest) {
      const upTo = Math.min(newest, after + AUDIT_RECORD_WINDOW);
      const got = since().window.all(after, upTo, q.since, q.limit - rows.length) as AuditRecord[];
      rows.push(...got);
      if (got.length === 0) {
        const next = firstSinceAbove(upTo, q.since);
        if (next === null) break;
        after = next - 1;
      } else after = upTo;
    }
    return rows;
  }
  function auditHighWater(): number {
    const hw = (highWater.get() as { seq: number } | undefined)?.seq ?? 0;
    return Math.max(hw, newestSeq());
  }
}

/** A read of the audit log, with a damaged file (SQLITE_CORRUPT, SQLITE_NOTADB) reported as AuditLogDamaged (verify and export name it). */
function readable<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(code)) throw new AuditLogDamaged((err as Error).message, { cause: err });
    throw err;
  }
}

interface Unit {
  work: (tx: Tx) => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  /** Until when (performance.now()) it waits for a lock held elsewhere: `busyTimeoutMs` after it was queued, or its own `lockWaitMs`. */
  deadline: number;
  /** Whether it waits the whole `busyTimeoutMs`: one that waited it out shows the fault at /readyz. */
  full: boolean;
}

/**
 * The database's folder and the missing ones above it, one level at a time. Node's
 * `mkdirSync(…, { recursive: true })` never returns where mkdir answers ENOENT for a
 * parent that exists (a path under /proc): the start hung without a word. A folder
 * another process makes meanwhile (local runs started together) is no error.
 */
function makeFolder(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d) && dirname(d) !== d; d = dirname(d)) missing.push(d);
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'EEXIST') throw err;
    }
  }
}

/**
 * The refusals of an existing database file (another application's, a schema newer than
 * this build, a migration text it does not have, an audit log whose newest row this
 * start's audit key may not append after: AuditKeyRefused), read before anything is written to it
 * or beside it: the WAL journal mode (set in the file's header), the lock file, the
 * migrations. A refused start leaves the file as it was. With a -wal file beside it (a
 * database in use, or one left from another file after a restore), the read is read-only:
 * what the WAL holds is read, and never checkpointed into the file by this connection's
 * close. Without one, a connection of SQLite's defaults only reads (a database in WAL mode
 * gets an empty -wal for the read, removed at the close). A file that is not there or has
 * 0 bytes is a new database; one that cannot be read is left to the open that follows.
 */
function refuseBeforeWriting(opts: SqliteStoreOptions, busyTimeoutMs: number): void {
  const path = opts.path;
  const found = statSync(path, { throwIfNoEntry: false });
  if (!found?.isFile() || found.size === 0) return;
  const known = readMigrations(opts.migrationsDir);
  let db: Database.Database;
  try {
    // SQLite keeps the -wal beside the file a symbolic link names.
    db = new Database(path, { readonly: existsSync(`${realpathSync(path)}-wal`), fileMustExist: true });
  } catch {
    return;
  }
  try {
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    checkSqlite(db, known);
    const keyProblem = auditKeyProblem(db, opts.auditKey, opts.auditPreviousKeys, opts.auditKeyNames);
    if (keyProblem) throw new AuditKeyRefused(keyProblem);
  } finally {
    db.close();
  }
}

/**
 * SQLite store with group commit: units of work that arrive together run in one
 * IMMEDIATE transaction and share one fsync (WAL, synchronous=FULL), each inside its
 * own savepoint so one unit's error does not undo the others. A caller's promise
 * resolves only after the commit that holds its rows returned: answered means durable.
 */
export function openSqliteStore(opts: SqliteStoreOptions): Store {
  const busyTimeoutMs = Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000));
  if (opts.path !== ':memory:') {
    makeFolder(dirname(opts.path));
    refuseBeforeWriting(opts, busyTimeoutMs);
  }
  // The lock is taken before the database is opened: an open sets WAL mode, and creates the
  // file, its -wal and -shm where there are none, which must not happen while another
  // rectify has the database, or while rectify restore puts a backup in its place.
  // A name that is not a file (a folder, say) is left to the open to refuse, with nothing made beside it.
  let serveLock: ServeLock | null = null;
  const found = opts.path === ':memory:' ? undefined : statSync(opts.path, { throwIfNoEntry: false });
  if (opts.lock && opts.path !== ':memory:' && (!found || found.isFile())) {
    if (found) refuseHardLinks(opts.path);
    const held = opts.lock === 'serve' ? holdServeLock(opts.path) : holdLocalLock(opts.path);
    if ('heldBy' in held) {
      const owner = held.holder ?? serveLockHolder(opts.path) ?? `see who holds ${opts.path}.serve-lock`;
      throw new Error(
        opts.lock === 'serve'
          ? `the database ${opts.path} is in use by another rectify (${owner}): stop that one first (or let it finish), or give this one its own --db`
          : `the database ${opts.path} is in use by a rectify serve (${owner}): run the runbook through it (rectify run, without --local)`,
      );
    }
    serveLock = held;
  }
  // Every way out of the open once the lock is taken (a refusal found in the database, a
  // statement that cannot be prepared) releases it and undoes what the open had started
  // (the connection, the checkpoint thread): a later start, in this process or another, is
  // not refused as a second rectify, and a thread left running does not keep the process
  // (and its lock) alive after its refusal.
  const undo: Array<() => void> = [];
  try {
    return openLocked(opts, busyTimeoutMs, serveLock, undo);
  } catch (err) {
    for (const step of undo.reverse()) {
      try {
        step();
      } catch {
        // The open's own error is the one to report.
      }
    }
    serveLock?.release();
    throw err;
  }
}

/** The rest of openSqliteStore, once the lock (if any) is held: each thing it starts is pushed on `undo`, run if it throws. */
function openLocked(opts: SqliteStoreOptions, busyTimeoutMs: number, serveLock: ServeLock | null, undo: Array<() => void>): Store {
  const db = new Database(opts.path);
  undo.push(() => db.close());
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  // SQLite's own default page cache (2 MiB) rather than the 16 MiB better-sqlite3 builds
  // in: the cache fills to its size as the database grows, so under an alert storm the
  // larger one is 14 MiB more resident memory, for no measured gain in CPU per alert
  // (the pages it would keep are read back from the OS's file cache). bench/README.md.
  db.pragma(`cache_size = -${CACHE_KIB}`);
  // While opening (migrations, the owner row) a lock held elsewhere is waited for in
  // SQLite itself; once the store is open, writes wait off the event loop (see flush).
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  db.pragma('foreign_keys = ON');
  migrateSqlite(db, opts.migrationsDir);
  // This store's holder record, removed at a clean close (see close).
  let holderWritten: string | undefined;
  if (serveLock) {
    const command = opts.lock === 'serve' ? 'rectify serve' : 'rectify run --local';
    const now = Date.now();
    const upsert = db.prepare(
      `INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, 'rectify')
       ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
    );
    // What a refusal names, and what tells a later rectify whether this one still runs
    // (see serve-lock.ts): a row of its own, beside the other local runs' rows.
    const record = holderRecord(opts.path, command, now);
    db.transaction(() => {
      upsert.run(SERVE_OWNER_KEY, lockOwner(command, now), now);
      if (opts.lock === 'serve') {
        // A serve holds the lock alone: the other records are a crash's (or cannot be checked here), and go.
        const rows = db.prepare(`SELECT key, value FROM settings WHERE ${HOLDER_ROWS}`).all() as Array<{ key: string; value: string }>;
        const drop = db.prepare('DELETE FROM settings WHERE key = ?');
        // A record naming another file: this one is a copy taken while that rectify had it
        // open. Marked before the record goes, for the start's recovery (Tx.databaseCopy):
        // what its runs under way did after the copy is not known. A mark already there
        // (rectify restore's) is kept.
        const copied = rows.map((row) => (row.key !== record?.key ? copiedWhileHeld(opts.path, row.value) : undefined)).find((c) => c !== undefined);
        if (copied) {
          db.prepare("INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, 'rectify') ON CONFLICT(key) DO NOTHING").run(DATABASE_COPY_KEY, `${copied}, found at ${new Date(now).toISOString()}`, now);
        }
        for (const row of rows) if (row.key !== record?.key && holderStale(opts.path, row.value)) drop.run(row.key);
      }
      if (record) upsert.run((holderWritten = record.key), record.value, now);
    })();
  }
  // Checked before anything was written (refuseBeforeWriting); again here, for a log another
  // rectify wrote to since, and for a database that was not there to read.
  const chain = createAuditChain(db, opts.auditKey, opts.auditPreviousKeys, opts.auditKeyNames);
  const keyProblem = chain.keyProblem();
  if (keyProblem) throw new AuditKeyRefused(keyProblem);
  // The file the connection writes to. Removed (its folder deleted, say) or replaced,
  // SQLite would go on writing to the unlinked file, and everything accepted from then
  // on would be gone at the next start: checked before every commit.
  const identity = opts.path === ':memory:' ? null : statSync(opts.path);
  const lostFile = (): string | null => {
    if (!identity) return null;
    const now = statSync(opts.path, { throwIfNoEntry: false });
    if (now && now.dev === identity.dev && now.ino === identity.ino) return null;
    return `the database file ${opts.path} was ${now ? 'replaced' : 'removed'} while rectify ran: what it writes now would be lost at the next start. Nothing is accepted; put the file back (or restore it) and restart rectify`;
  };
  // Checkpoints run in a worker thread (see checkpointer.ts); the writer's own is a
  // backstop past 64 MiB of WAL, which also bounds the file when it starts over.
  let checkpointer: Checkpointer | null = null;
  if (opts.path !== ':memory:') {
    db.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
    db.pragma(`journal_size_limit = ${BACKSTOP_PAGES * (db.pragma('page_size', { simple: true }) as number)}`);
    checkpointer = startCheckpointer({
      path: opts.path,
      onExit: (err) => {
        if (closed) return;
        db.pragma('wal_autocheckpoint = 1000');
        opts.onCheckpointerStopped?.(err);
      },
    });
    const started = checkpointer;
    undo.push(() => started.stop());
  }

  const tx = createSqliteTx(db, chain, opts.onUnreadableAuditDetails);
  const audit = auditReader(db);
  opts.onApprovalsPending?.(tx.pendingApprovalCount());
  /**
   * The last write fault, until a later commit succeeds: what /readyz reports. `full`:
   * the disk was full (nothing is written, the probe's row included, until
   * MIN_FREE_AFTER_FULL is free again: see stillFull); `lasting`:
   * nothing but a restart clears it (the file is gone, or a commit's outcome is not known).
   */
  let fault: { at: number; message: string; full?: boolean; lasting?: boolean } | null = null;
  /** Records a fault only a restart clears, told once through onLastingFault. */
  const lastingFault = (message: string, kind: LastingFaultKind): void => {
    fault = { at: Date.now(), message, lasting: true };
    opts.onLastingFault?.(message, kind);
  };
  /** A commit whose outcome is not known (see isCommitIoError): a lasting fault. */
  const commitNotKnown = (err: unknown): void =>
    lastingFault(
      `the database could not confirm a commit (${errorText(err)}): whether it was recorded is not known until rectify restarts and SQLite recovers the file. Nothing is accepted until then; check the disk (the kernel log), then restart rectify`,
      'commit_unknown',
    );
  /**
   * A write of the store's own, outside flush (pruning, the readiness probe), in a
   * transaction of its own: an I/O error from its COMMIT is judged as flush judges a
   * batch's (a commit not known, lasting until a restart), then thrown on.
   */
  const ownWrite = <A extends unknown[], R>(body: (...args: A) => R): ((...args: A) => R) => {
    let done = false;
    const write = db.transaction((...args: A): R => {
      const result = body(...args);
      done = true;
      return result;
    });
    return (...args: A): R => {
      done = false;
      try {
        return write.immediate(...args);
      } catch (err) {
        if (done && isCommitIoError(err)) commitNotKnown(err);
        throw err;
      }
    };
  };
  /**
   * Why the database can no longer be written to: the file found removed or replaced,
   * or a commit whose outcome is not known. A lasting fault, so the file is not looked
   * at again; null while there is none.
   */
  const cannotWrite = (): string | null => {
    if (fault?.lasting) return fault.message;
    const lost = lostFile();
    if (!lost) return null;
    lastingFault(lost, 'file_lost');
    return lost;
  };
  /**
   * While a full disk's fault stands and the database's file system has less than
   * MIN_FREE_AFTER_FULL free: why nothing is written (what /readyz says); else null.
   * A small write that fits (the probe's row, a saved clock) does not end it: a storm's
   * commit would fill the disk again, so intake and /readyz wait for room alike.
   */
  const stillFull = (): string | null => {
    if (!fault?.full) return null;
    const free = freeBytes(dirname(opts.path));
    if (free === null || free >= MIN_FREE_AFTER_FULL) return null;
    return `${fault.message} (${(free / 1048576).toFixed(1)} MiB free where the database is; ready again from ${MIN_FREE_AFTER_FULL / 1048576} MiB)`;
  };
  const faultOf = (err: unknown): { at: number; message: string; full?: boolean } => ({
    at: Date.now(),
    message: isLockBusy(err) ? `${errorText(err)} (another connection holds its write lock; a commit waits for it up to ${busyTimeoutMs} ms)` : errorText(err),
    ...((err as { code?: unknown } | null)?.code === 'SQLITE_FULL' ? { full: true } : {}),
  });
  const maxPending = opts.maxPending ?? 20_000;
  let queue: Unit[] = [];
  /** A flush is due: on the next check phase, or on `lockTimer` while a lock held elsewhere is waited for. */
  let scheduled = false;
  let closed = false;
  /**
   * Set while the queued units wait for another connection's write lock: the last
   * refusal and how many attempts met it. Cleared by a commit.
   */
  let lockWait: { err: unknown; attempts: number } | null = null;
  let lockTimer: ReturnType<typeof setTimeout> | null = null;
  /** Set by a batch's transaction once it holds the write lock: a failure before that ran no unit. */
  let batchRan = false;
  /** Set by a batch's transaction once every unit ran: a failure after that came from COMMIT itself. */
  let batchDone = false;

  // Nested call of a transaction function = SAVEPOINT (better-sqlite3 semantics).
  const runUnit = db.transaction((work: (t: Tx) => unknown) => work(tx));
  const runBatch = db.transaction((batch: Unit[], results: Array<{ ok: boolean; value: unknown }>) => {
    batchRan = true;
    // The chain tip is re-read from committed rows: a batch that failed to commit
    // before this one must not have left its hashes in memory.
    chain.sync();
    for (const unit of batch) {
      const tip = chain.mark();
      try {
        results.push({ ok: true, value: runUnit(unit.work) });
      } catch (err) {
        chain.reset(tip);
        tx.forgetReads();
        // SQLite rolls the whole transaction back on some faults (disk full, I/O
        // error). A unit run after that would run in autocommit, outside the batch:
        // stop here, and the batch is reported as not committed.
        if (!db.inTransaction) throw err;
        results.push({ ok: false, value: isStoreFault(err) ? unavailable(err) : err });
      }
    }
    batchDone = true;
  });

  // The commit runs in the check phase (setImmediate) of the turn of the event loop in
  // which its first unit arrived: every request read in that turn's I/O phase shares
  // it. Waiting longer for stragglers makes commits bigger but keeps every waiting
  // request's incidents alive through more scavenges; measured, it cost more CPU per
  // alert than the fsyncs it saved.
  //
  // A write lock held by another connection is not waited for inside SQLite: its busy
  // handler sleeps on the event loop, so every batch, readiness probe and prune waited
  // out the whole busy timeout in turn while no request (not even /readyz) was read,
  // and a request waited a multiple of it. The connection's busy timeout is 0 once the
  // store is open; a batch that finds the lock taken ran nothing, and is tried again on
  // a timer (`waitForLock`) until the lock is free or its units have waited
  // `busyTimeoutMs`, when they are answered 503 without another attempt.
  function flush(): void {
    scheduled = false;
    lockTimer = null;
    let batch = queue;
    queue = [];
    if (batch.length === 0) return;
    // The file lost, a commit not known, or a full disk not yet with room again: nothing is written.
    const refused = cannotWrite() ?? stillFull();
    if (refused) {
      lockWait = null;
      const failure = unavailable(new Error(refused));
      for (const unit of batch) unit.reject(failure);
      return;
    }
    if (lockWait) {
      batch = answerTimedOut(batch, lockWait.err);
      if (batch.length === 0) return;
    }
    const results: Array<{ ok: boolean; value: unknown }> = [];
    const t0 = performance.now();
    // Left set by a batch that did not commit: what it changed is gone.
    tx.takeApprovalsChanged();
    batchRan = false;
    batchDone = false;
    try {
      tx.memoReads(true);
      runBatch.immediate(batch, results);
      chain.committed();
    } catch (err) {
      // The lock is taken elsewhere and nothing of the batch ran: it waits its turn.
      if (!batchRan && !closed && isLockBusy(err)) {
        waitForLock(batch, err);
        return;
      }
      lockWait = null;
      if (err instanceof AuditKeyMismatch) {
        // Another rectify keyed the log otherwise: no later batch could append either,
        // until a restart with the log's key (the open then checks it). Nothing was written.
        lastingFault(err.message, 'audit_key');
        const failure = unavailable(err);
        for (const unit of batch) unit.reject(failure);
        return;
      }
      if (batchDone && isCommitIoError(err)) {
        // COMMIT wrote the batch and could not sync it (or failed midway): it may come
        // back at the next open, or not. Every caller is told it is not known, and
        // nothing more is written until a restart settles it: a later commit would
        // overwrite the frames in the WAL, or build on rows that may not exist.
        const failure = outcomeUnknown(err);
        commitNotKnown(err);
        for (const unit of batch) unit.reject(failure);
        return;
      }
      // The commit failed before writing (disk full, read-only file, locked): nothing of
      // this batch is durable, so every caller is told so and nothing acts on it.
      const failure = unavailable(err);
      fault = faultOf(err);
      for (const unit of batch) unit.reject(failure);
      return;
    } finally {
      tx.memoReads(false);
    }
    lockWait = null;
    const unitFault = results.find((r) => !r.ok && (r.value as { code?: string }).code === 'STORE_UNAVAILABLE');
    fault = unitFault ? faultOf((unitFault.value as Error).cause) : null;
    opts.onCommit?.(batch.length, (performance.now() - t0) / 1000);
    if (tx.takeApprovalsChanged()) opts.onApprovalsPending?.(tx.pendingApprovalCount());
    batch.forEach((unit, i) => {
      const r = results[i]!;
      if (r.ok) unit.resolve(r.value);
      else unit.reject(r.value);
    });
  }

  /**
   * The units whose wait for the lock is up (`busyTimeoutMs`, or their own shorter
   * `lockWaitMs`) are answered 503 (nothing of theirs ran, so nothing of theirs is
   * recorded); the rest are returned, in their order. One that waited the whole
   * `busyTimeoutMs` shows the fault at /readyz until a write succeeds: a shorter wait
   * given up says nothing of the store the busy timeout would not.
   */
  function answerTimedOut(batch: Unit[], err: unknown): Unit[] {
    const now = performance.now();
    const waited = batch.filter((unit) => now >= unit.deadline);
    if (waited.length === 0) return batch;
    const failure = unavailable(err);
    if (waited.some((unit) => unit.full)) fault = faultOf(err);
    for (const unit of waited) unit.reject(failure);
    return batch.filter((unit) => now < unit.deadline);
  }

  /**
   * Puts a batch the lock refused back at the head of the queue and tries again after a
   * pause growing from 1 ms to MAX_LOCK_POLL_MS, or when the first of its units' waits is up.
   * Units queued meanwhile join the next attempt: one attempt at a time, however many
   * requests wait, and the event loop stays free for them and for /readyz.
   */
  function waitForLock(batch: Unit[], err: unknown): void {
    lockWait = { err, attempts: (lockWait?.attempts ?? 0) + 1 };
    queue = queue.length ? batch.concat(queue) : batch;
    const untilTimedOut = Math.min(...batch.map((unit) => unit.deadline)) - performance.now();
    const pause = Math.min(MAX_LOCK_POLL_MS, 2 ** Math.min(lockWait.attempts - 1, 7));
    scheduled = true;
    lockTimer = setTimeout(flush, Math.max(0, Math.min(pause, untilTimedOut)));
  }

  // last_hour counts as the rate limit does (after now - 1h): a run started exactly an
  // hour ago is no longer counted there, so the live state must not count it either.
  const statsStmt = db.prepare(
    `SELECT
       SUM(CASE WHEN started_at > ? THEN 1 ELSE 0 END) AS last_hour,
       SUM(CASE WHEN state = 'succeeded' THEN 1 ELSE 0 END) AS succeeded,
       SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END) AS failed,
       MAX(started_at) AS last_at
     FROM executions WHERE runbook = ?`,
  );
  // As the rate limit counts (tx.ts rateTimes): rate_events after now - 1h, per service.
  const busiestStmt = db.prepare(
    'SELECT service, COUNT(*) AS n FROM rate_events WHERE runbook = ? AND at > ? GROUP BY service ORDER BY n DESC, service LIMIT 1',
  );
  // A write that changes nothing visible: proves the lock, the file and the disk take writes again.
  const probeWrite = db.prepare(
    `INSERT INTO settings (key, value, updated_at, updated_by) VALUES ('store_probe', ?, ?, 'rectify')
     ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
  );
  const probe = ownWrite((now: number) => void probeWrite.run(String(now), now));
  // Pruning deletes in bounded chunks (rowid IN (… LIMIT n)), each an index range scan:
  // a million-row backlog is worked off between requests, not in one long stall.
  const pruneRateRows = db.prepare('DELETE FROM rate_events WHERE rowid IN (SELECT rowid FROM rate_events WHERE at < ? LIMIT ?)');
  // Each chunk commits on its own (ownWrite), so a commit that cannot be synced is told apart.
  const pruneRate = ownWrite((before: number, limit: number): number => pruneRateRows.run(before, limit).changes);
  // The last start per runbook and service (what a cooldown runs from) is kept for the
  // longest cooldown a runbook may have, not the longest loaded: one lengthened by a
  // reload or a restart still finds the run it holds off from. One row per runbook and
  // service (or object) that ran within the year; its index on the time makes a pass
  // with nothing to prune one lookup. Prepared at first use (last_starts is migration 019's,
  // see incidentSeen in tx.ts).
  let pruneStartRows: Database.Statement | undefined;
  const pruneStarts = ownWrite((before: number, limit: number): number => {
    pruneStartRows ??= db.prepare('DELETE FROM last_starts WHERE rowid IN (SELECT rowid FROM last_starts WHERE at < ? LIMIT ?)');
    return pruneStartRows.run(before, limit).changes;
  });
  // A dedup key is kept the retention from its last delivery: its first (received_at,
  // through its index) or a re-delivery (seen_at, 0 until one comes); a long-firing
  // alert re-delivered every repeat_interval is passed over. The incidents a pending
  // request stands for are kept past the dedup retention; a decided request's alerts
  // are only counted (alerts_open) and keep nothing. Prepared at first use (see
  // incidentSeen in tx.ts).
  let pruneIncidentRows: Database.Statement | undefined;
  const pruneIncidentsSql =
    `DELETE FROM incidents WHERE rowid IN (SELECT rowid FROM incidents WHERE received_at < ? AND seen_at < ?
       AND id NOT IN (SELECT incident_id FROM approvals WHERE status = 'pending')
       AND id NOT IN (SELECT m.incident_id FROM approval_alerts m JOIN approvals a ON a.id = m.approval_id WHERE a.status = 'pending') LIMIT ?)`;
  const pruneExecutionRows = db.prepare(
    "DELETE FROM executions WHERE rowid IN (SELECT rowid FROM executions WHERE state <> 'running' AND finished_at < ? LIMIT ?)",
  );
  const pruneExecutions = ownWrite((before: number, limit: number): number => pruneExecutionRows.run(before, limit).changes);
  const pruneIncidents = ownWrite((before: number, limit: number): number => {
    pruneIncidentRows ??= db.prepare(pruneIncidentsSql);
    return pruneIncidentRows.run(before, before, limit).changes;
  });
  // A decided request is kept while an incident it stands for is stored (the one that
  // opened it, or one that joined it: approval_alerts), however old its decision: a
  // re-delivery of that alert reads it to know whether it ended unanswered (expired, or
  // cancelled as its runbook changed) and asks again. Both lookups are by primary key or
  // index (incidents.id, approval_alerts_approval). Incidents go with the dedup retention
  // from their last delivery (pruned first, in the same pass): a request outlives the
  // history retention only while an alert of it is still delivered.
  const pruneApprovalRows = db.prepare(
    `DELETE FROM approvals WHERE rowid IN (SELECT a.rowid FROM approvals a WHERE a.status <> 'pending' AND a.decided_at < ?
       AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.id = a.incident_id)
       AND NOT EXISTS (SELECT 1 FROM approval_alerts m JOIN incidents i ON i.id = m.incident_id WHERE m.approval_id = a.id) LIMIT ?) RETURNING id`,
  );
  const pruneApprovalAlerts = db.prepare('DELETE FROM approval_alerts WHERE approval_id = ?');
  // A decided request keeps its alerts not resolved yet (alerts_open); they go with it.
  const pruneApprovals = ownWrite((before: number, limit: number): number => {
    const ids = pruneApprovalRows.pluck().all(before, limit) as string[];
    for (const id of ids) pruneApprovalAlerts.run(id);
    return ids.length;
  });

  const scan = opts.auditScan ?? { budget: 200_000, step: 50_000 };
  const sinceInStep = db.prepare('SELECT 1 FROM audit WHERE seq < ? AND seq >= ? AND at >= ? LIMIT 1').pluck();

  /**
   * Filters an index serves (incident, runbook, execution), or none, are one query.
   * `event` has no index (it would cost every alert of a storm one more B-tree
   * insert), and on a long log a query with it would read the log whole on the event
   * loop: it is read in steps of seqs, newest first, at most `scan.budget` rows per
   * page. `since` keeps each row by its own time, whatever its seq (a clock stepped
   * back writes older times after newer ones): a step holding no row at or after it
   * is passed over through the index on `at` (migration 010), and the walk ends
   * where that index has no such row below it.
   *
   * Each page reads one row more than `limit`: a cursor is given only when a row
   * follows the page, or when the budget ended the walk before it knew.
   */
  function auditPage(q: AuditQuery): { events: AuditRow[]; nextBefore: number | null } {
    const where: string[] = [];
    const args: unknown[] = [];
    const filter = (sql: string, value: unknown): void => {
      where.push(sql);
      args.push(value);
    };
    if (q.incident_id) filter('incident_id = ?', q.incident_id);
    if (q.runbook) filter('runbook = ?', q.runbook);
    if (q.execution_id) filter('execution_id = ?', q.execution_id);
    const indexed = where.length > 0;
    if (q.event) filter('event = ?', q.event);
    if (q.since !== undefined) filter('at >= ?', q.since);
    const statement = (extra: string[]) => {
      const all = [...where, ...extra];
      return db.prepare(`SELECT * FROM audit ${all.length ? `WHERE ${all.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`);
    };
    const rows = (stmt: Database.Statement, ...bounds: unknown[]): AuditRow[] =>
      (stmt.all(...args, ...bounds) as Array<Record<string, unknown>>).map(rowToAudit);
    // `read` holds up to limit + 1 rows: the one past the page says a next page exists.
    const full = (read: AuditRow[]) => {
      const events = read.slice(0, q.limit);
      return { events, nextBefore: read.length > q.limit ? events[events.length - 1]!.seq : null };
    };
    // An incident or an execution has a handful of rows, and no other filter makes the
    // one query long. A runbook may have millions (a storm writes a row per alert): with
    // event or since as well, the index would hand over every one of them to test, so
    // that query is read in bounded steps like the unindexed ones.
    const narrow = Boolean(q.incident_id || q.execution_id);
    const unindexed = q.event !== undefined || q.since !== undefined;
    if (where.length === 0 || narrow || (indexed && !unindexed)) {
      return full(q.before !== undefined ? rows(statement(['seq < ?']), q.before, q.limit + 1) : rows(statement([]), q.limit + 1));
    }

    const step = statement(['seq < ?', 'seq >= ?']);
    // Whether a step holds a row at or after `since` at all (it may hold none of the event asked for).
    const sinceIn = q.event !== undefined || q.runbook !== undefined ? sinceInStep : null;
    // A cursor above the newest row starts at the newest row: the seqs above it hold no
    // row, and walking them would answer empty pages, budget by budget.
    const top = audit.newestSeq() + 1;
    let hi = q.before === undefined ? top : Math.min(q.before, top);
    const events: AuditRow[] = [];
    let scanned = 0;
    while (events.length <= q.limit) {
      // Below seq 1 only rows inserted outside the chain (which verify reports): listed as an unfiltered page lists them.
      if (hi <= 1) return full([...events, ...rows(statement(['seq < ?']), hi, q.limit + 1 - events.length)]);
      if (scanned >= scan.budget) {
        // With `since`, a next page only when a row below is at or after it.
        if (q.since !== undefined && !audit.anySinceBelow(hi, q.since)) return full(events);
        return { events: events.slice(0, q.limit), nextBefore: hi };
      }
      const lo = Math.max(1, hi - scan.step);
      const got = rows(step, hi, lo, q.limit + 1 - events.length);
      events.push(...got);
      scanned += hi - lo;
      const stepHeldSince = got.length > 0 || (sinceIn !== null && sinceIn.get(hi, lo, q.since) !== undefined);
      hi = lo;
      if (q.since !== undefined && !stepHeldSince) {
        // No row of the step is at or after `since`: the walk goes on from the newest
        // one below it, or ends when there is none.
        const top = audit.lastSinceBelow(lo, q.since);
        if (top === null) return full(events);
        hi = top + 1;
      }
    }
    return full(events);
  }

  // Served by the indexes of migration 006: a page seeks to its cursor and reads `limit`
  // rows, whatever the number of requests kept.
  const approvalRows = (where: string[]) =>
    db.prepare(`SELECT ${APPROVAL_COLUMNS} FROM approvals ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY requested_at DESC, id DESC LIMIT ?`);
  const approvalPageStmt = {
    first: approvalRows([]),
    after: approvalRows(['(requested_at, id) < (?, ?)']),
    firstOf: approvalRows(['status = ?']),
    afterOf: approvalRows(['status = ?', '(requested_at, id) < (?, ?)']),
    count: db.prepare('SELECT COUNT(*) FROM approvals').pluck(),
    countOf: db.prepare('SELECT COUNT(*) FROM approvals WHERE status = ?').pluck(),
  };

  function approvalPage(q: ApprovalQuery): ApprovalPage {
    const s = approvalPageStmt;
    const after = q.after ? [q.after.requested_at, q.after.id] : [];
    const status = q.status ? [q.status] : [];
    const stmt = q.status ? (q.after ? s.afterOf : s.firstOf) : q.after ? s.after : s.first;
    // One row more than asked tells whether a next page exists, so the last page says so
    // (a full last page with a cursor to an empty one would cost a client a request).
    const raw = stmt.all(...status, ...after, q.limit + 1) as Array<Record<string, unknown>>;
    const approvals = raw.slice(0, q.limit).map(rowToApproval);
    const last = approvals[approvals.length - 1];
    const next = raw.length > q.limit && last ? { requested_at: last.requested_at, id: last.id } : null;
    const total = (q.status ? s.countOf.get(q.status) : s.count.get()) as number;
    return { approvals, next, total };
  }

  /**
   * Takes the write lock and lets it go at once (BEGIN IMMEDIATE, ROLLBACK): nothing is
   * written, nothing synced. With the busy timeout at 0 a lock held by another
   * connection is answered at once (SQLITE_BUSY), never waited for. The error, or null.
   */
  function lockProbe(): unknown {
    if (db.inTransaction) return null;
    try {
      db.exec('BEGIN IMMEDIATE');
      db.exec('ROLLBACK');
      return null;
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      return err;
    }
  }

  function ping(): boolean {
    try {
      db.prepare('SELECT 1').get();
      return true;
    } catch {
      return false;
    }
  }

  // From here on no statement waits for a lock inside SQLite, on the event loop: a batch
  // waits in flush, the readiness probe and pruning fail at once and are tried again
  // later. Reads do not wait in WAL mode (a writer does not block them).
  db.pragma('busy_timeout = 0');

  return {
    transact<T>(work: (t: Tx) => T, o?: TransactOptions): Promise<T> {
      if (closed) return Promise.reject(new RectifyError('SHUTTING_DOWN', 'the store is closed'));
      if (o?.refusable && queue.length >= maxPending) {
        // Not "for the disk": a burst of alerts in one turn fills this queue as well as a slow fsync does.
        return Promise.reject(new RectifyError('OVERLOADED', `more than ${maxPending} writes are waiting to be recorded (--max-pending ${maxPending}; an intake request counts one, however many alerts it holds); nothing of this request was recorded: send it again shortly (Alertmanager retries by itself), or raise --max-pending`));
      }
      return new Promise<T>((resolve, reject) => {
        const wait = o?.lockWaitMs !== undefined ? Math.max(0, Math.min(busyTimeoutMs, o.lockWaitMs)) : busyTimeoutMs;
        queue.push({ work, resolve: resolve as (v: unknown) => void, reject, deadline: performance.now() + wait, full: wait === busyTimeoutMs });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    read<T>(work: (t: Tx) => T): T {
      return work(tx);
    },
    queryAudit(q: AuditQuery): AuditRow[] {
      return auditPage(q).events;
    },
    auditPage,
    approvalPage,
    runbookStats(runbook: string, now: number): RunbookStats {
      const r = statsStmt.get(now - 3_600_000, runbook) as Record<string, number | null>;
      const busiest = busiestStmt.get(runbook, now - 3_600_000) as { service: string; n: number } | undefined;
      return {
        executionsLastHour: r.last_hour ?? 0,
        busiestServiceLastHour: busiest ? { service: busiest.service, executions: busiest.n } : null,
        succeeded: r.succeeded ?? 0,
        failed: r.failed ?? 0,
        lastExecutionAt: r.last_at ?? null,
      };
    },
    prune(now: number, retention: PruneRetention, limit = 5_000): PruneResult {
      // Nothing is written under a lasting fault (already told): it would not be kept, or would settle a commit whose outcome is not known.
      if (fault?.lasting) return { rateEvents: 0, incidents: 0, executions: 0, approvals: 0, more: false };
      // Rate-limit rows are kept while the rate limit reads them (the last hour), or the
      // longest cooldown loaded when longer, and a minute more.
      const rateEvents = pruneRate(now - Math.max(3_600_000, retention.cooldownMs ?? 0) - 60_000, limit);
      // Pruned in the same bounded chunks; not counted in the result, whose counts are of the tables it always named.
      const starts = pruneStarts(now - MAX_COOLDOWN_MS - 60_000, limit);
      const incidents = pruneIncidents(now - retention.dedupMs, limit);
      const executions = pruneExecutions(now - retention.historyMs, limit);
      const approvals = pruneApprovals(now - retention.historyMs, limit);
      const more = rateEvents >= limit || starts >= limit || incidents >= limit || executions >= limit || approvals >= limit;
      return { rateEvents, incidents, executions, approvals, more };
    },
    ping,
    health(): StoreHealth {
      if (closed) return { ok: false, detail: 'closed' };
      const lost = cannotWrite();
      if (lost) return { ok: false, detail: lost };
      const full = stillFull();
      if (full) return { ok: false, detail: full };
      if (fault) {
        // Probed only while degraded, so a store that recovered says so even when
        // no request arrives (a probe that failed keeps the pod out of rotation,
        // which would otherwise never send the request that clears the fault). It does
        // not wait for a lock held elsewhere (busy timeout 0): /readyz answers at once.
        try {
          probe(Date.now());
          fault = null;
        } catch (err) {
          // Unless the probe's own commit could not be confirmed: then the fault lasts.
          if (!fault?.lasting) fault = faultOf(err);
        }
      }
      if (fault) return { ok: false, detail: fault.message };
      // No commit has failed (yet), but one would wait: the lock is held elsewhere now.
      // Not ready from the first moment, not only once a commit gave up after the busy timeout.
      const busy = lockProbe();
      if (busy) return { ok: false, detail: faultOf(busy).message };
      return ping() ? { ok: true, detail: null } : { ok: false, detail: 'the database does not answer' };
    },
    faultKind: () => (closed || !fault ? null : fault.lasting ? 'lasting' : 'transient'),
    auditRecords: (q) => audit.auditRecords(q),
    auditHighWater: () => audit.auditHighWater(),
    auditKeyRowNeeded: () => chain.keyRowNeeded(),
    pending: () => queue.length,
    close(): void {
      if (closed) return;
      closed = true;
      if (lockTimer) clearTimeout(lockTimer);
      if (queue.length) {
        // The last commit may wait for the lock in SQLite: nothing else is served any more.
        db.pragma(`busy_timeout = ${busyTimeoutMs}`);
        flush();
      }
      checkpointer?.stop();
      if (holderWritten) {
        // A clean close says it no longer holds the database: the process may live on (a
        // test, a program embedding rectify) and must not keep a later start out. A record
        // left by a crash is judged by the process it names (serve-lock.ts). Its row is this
        // process's own, kept while another store of this process still holds the database.
        try {
          if (serveLock?.aloneHere() !== false) db.prepare('DELETE FROM settings WHERE key = ?').run(holderWritten);
        } catch {
          // The database cannot take it now (its lock held elsewhere, a full disk): the record stays, judged by the process it names as a crash's is.
        }
      }
      db.close();
      serveLock?.release();
    },
  };
}

/**
 * The lock is found by the file's path (its symbolic links resolved): another name for
 * the same file, a hard link, would find a lock of its own and get past it. A database
 * with more than one name is refused.
 */
function refuseHardLinks(path: string): void {
  const links = statSync(path).nlink;
  if (links > 1) {
    throw new Error(
      `the database ${path} has ${links} hard links (names for the same file): a rectify started on another of them would get past the lock that keeps two rectify off one database. Give the file one name (remove the other links; a symbolic link is fine), or give rectify a copy`,
    );
  }
}

function errorText(err: unknown): string {
  if (err instanceof Error) return (err as { code?: string }).code ? `${(err as { code?: string }).code}: ${err.message}` : err.message;
  return String(err);
}
