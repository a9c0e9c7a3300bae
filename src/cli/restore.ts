import { existsSync, realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { loadConfig, parseCommandArgs, shownArg } from '../config/index.js';
import { formatProblem } from '../domain/index.js';
import { MIGRATIONS_DIR } from '../service.js';
import { verifyAuditChain, type AuditVerification } from '../store/audit-verify.js';
import { readMigrations } from '../store/migrate.js';
import { openSqliteAuditReader } from '../store/sqlite/index.js';
import { asideName, checkRestoreCopy, copyForRestore, markRestored, placeRestored, removeCopy, removeCopySideFiles, restoringPath, SIDE_FILES } from '../store/sqlite/restore.js';
import { serveLockHolder } from '../store/sqlite/serve-lock.js';
import { holdServeLock } from '../store/sqlite/serve-lock.js';
import { accessReason, look, readProblem } from './files.js';
import { commandHelp } from './help.js';
import { auditKeysOf } from './audit-keys.js';
import { EXIT, type CliIO } from './io.js';

export const restoreHelp = commandHelp({
  usage: 'rectify restore <backup> [--db sqlite:<path>] [--audit-key key] [--audit-previous-keys keys] [--config file]',
  about: [
    'Puts a backup (a file rectify backup wrote) in place of the database, with rectify stopped: it takes',
    'the lock rectify serve holds (<db>.serve-lock), so it is refused while a serve or a run --local has the',
    'database, naming it. The backup is copied into the database\'s folder under a temporary name',
    '(<db>.restoring-<pid>-<random>) with the database\'s permissions, fsync\'d and checked there: PRAGMA integrity_check,',
    'a rectify database this rectify would start on, and its audit chain walked as rectify audit verify does',
    '(keyed rows need their key: give it as rectify serve is given it). Only then is the database kept aside,',
    'renamed to <db>.before-restore-<time> with its -wal, -shm and -journal (never deleted: remove it yourself',
    'once the restore is confirmed), and the copy renamed to the database\'s name. Prints what it did, the',
    'row counts and the audit head (seq and hash), and how to check the head after rectify\'s first start.',
    'The database put in place is marked as a restored copy: its first start ends the runs under way when',
    'the backup was taken INTERRUPTED with their outcome unknown (needs_human: the service the backup was',
    'taken from went on with them), not as having changed nothing.',
    'A backup with a -wal beside it is refused: make a copy that holds the -wal\'s commits first',
    '(rectify backup <new-file> --db sqlite:<backup>), and restore that.',
    'Ctrl-C (SIGINT), SIGTERM or SIGHUP before the copy is placed removes it: nothing is changed.',
  ].join('\n'),
  args: ['backup                the backup file to restore (it is read, never changed)'],
  flags: [
    '--db <sqlite:path>    the database to replace (RECTIFY_DB, db in rectify.yaml; default sqlite:./data/rectify.db); it may not exist yet',
    '--config <file>       the config file settings are read from (RECTIFY_CONFIG; default ./rectify.yaml if present)',
    '--audit-key <key>     the HMAC key of keyed rows, or ${file:/path} (RECTIFY_AUDIT_KEY, audit_key), to walk the backup\'s chain',
    '--audit-previous-keys <key,…>  keys the log was written with before a rotation (RECTIFY_AUDIT_PREVIOUS_KEYS, audit_previous_keys)',
  ],
  exits: [
    [0, 'restored: the backup is the database, the old one kept aside'],
    [1, 'the backup is damaged (not a SQLite database, integrity_check fails, or its audit chain is broken), cannot be read, or the copy could not be written or placed (a full disk, a folder not writable): nothing was changed'],
    [2, 'refused or usage: a rectify serve or run --local has the database (stop it first), a backup that is not a rectify database, has a newer schema or a -wal beside it, keyed rows without their key, a wrong flag or argument, no backup at that path, no folder for the database; nothing was changed'],
    [130, 'interrupted by Ctrl-C before the copy was placed (143: SIGTERM, 129: SIGHUP): the copy was removed, nothing was changed'],
  ],
});

const INTERRUPTS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type Interrupt = (typeof INTERRUPTS)[number];

/**
 * Signals are taken from the start (so none kills the process between two of its renames)
 * and noted; the command looks before it places the copy, and stops there.
 */
function noteInterrupts(): { signal: () => Interrupt | undefined; stop: () => void } {
  let got: Interrupt | undefined;
  const note = (s: Interrupt) => (): void => void (got ??= s);
  const handlers: Record<Interrupt, () => void> = { SIGINT: note('SIGINT'), SIGTERM: note('SIGTERM'), SIGHUP: note('SIGHUP') };
  for (const s of INTERRUPTS) process.on(s, handlers[s]);
  return {
    signal: () => got,
    stop: () => {
      for (const s of INTERRUPTS) process.off(s, handlers[s]);
    },
  };
}

/**
 * `rectify restore <backup> [--db sqlite:<path>]`: the backup checked, then put in place of
 * the database, the old one kept aside; refused while a rectify has the database. Exit 0
 * restored, 1 a damaged backup or a failed copy, 2 refused or usage; nothing changed but on 0.
 */
export async function restoreCommand(argv: string[], io: CliIO): Promise<number> {
  const usage = (line: string): number => {
    io.err(`rectify restore: ${line}`);
    return EXIT.USAGE;
  };
  const failed = (line: string): number => {
    io.err(`rectify restore: ${line}`);
    return EXIT.FAILED;
  };
  const strict = parseCommandArgs(argv, { db: 'string', config: 'string', 'audit-key': 'string', 'audit-previous-keys': 'string' });
  if (strict.problems.length) {
    for (const p of strict.problems) io.err(`rectify restore: ${formatProblem(p)}; see: rectify restore --help`);
    return EXIT.USAGE;
  }
  const loaded = loadConfig(argv, io.env, { cwd: io.cwd });
  if ('problems' in loaded) {
    for (const p of loaded.problems) io.err(formatProblem(p));
    return EXIT.USAGE;
  }
  const { config } = loaded;
  const positional = config.args;
  if (positional.length === 0) return usage('name the backup file to restore: rectify restore <backup> (the database is --db, RECTIFY_DB or db in rectify.yaml)');
  if (positional.length > 1) return usage(`one backup file (got ${positional.map((a) => shownArg(a)).join(', ')}); name the database with --db sqlite:<path>`);
  if (config.db.kind !== 'sqlite' || config.db.path === ':memory:') return usage('--db must name a sqlite:<path> database file');
  const backup = resolve(io.cwd, positional[0]!.replace(/^sqlite:/, ''));
  // The file itself, where the database's name is a symbolic link to it: that is the file
  // rectify serve opens and locks beside, so it is the one replaced.
  let db = config.db.path;
  try {
    db = realpathSync(db);
  } catch {
    /* not there yet: restored under this name */
  }

  const backupLook = look(backup);
  if ('error' in backupLook) return failed(`cannot read the backup ${backup}: ${accessReason(backupLook.error)}; nothing was changed`);
  if (!('stats' in backupLook)) return usage(`no backup at ${backup}; nothing was changed`);
  if (backupLook.stats.isDirectory()) return usage(`${backup} is a folder: name the backup file in it; nothing was changed`);
  // SQLite reads an empty file as an empty database: named as what it is, a backup with nothing in it.
  if (backupLook.stats.size === 0) return failed(`the backup ${backup} is damaged: it is empty (0 bytes); nothing was changed`);
  const readErr = readProblem(backup);
  if (readErr) return failed(`cannot read the backup ${backup}: ${accessReason(readErr)}; nothing was changed`);
  // The file is what is copied: commits still in a -wal beside it (a database kept aside by
  // an earlier restore, a copy taken with its -wal) would be left behind, and the restore
  // would check and place the file without them, saying nothing.
  const backupWal = look(`${backup}-wal`);
  if ('stats' in backupWal && backupWal.stats.isFile() && backupWal.stats.size > 0) {
    return usage(
      `the backup ${backup} has a ${backup}-wal beside it (${backupWal.stats.size} bytes) holding commits the file alone does not: restoring the file would leave them behind. ` +
        `Make a copy that holds them first (rectify backup <new-file> --db sqlite:${backup}), then restore that copy; nothing was changed`,
    );
  }
  let realBackup = backup;
  try {
    realBackup = realpathSync(backup);
  } catch {
    /* looked at above */
  }
  if (realBackup === db || [db, config.db.path].some((d) => SIDE_FILES.some((s) => realBackup === `${d}${s}` || backup === `${d}${s}`))) {
    return usage(`${backup} is the database ${db} itself, or one of its side files: name the backup file; nothing was changed`);
  }
  const folder = dirname(db);
  const folderLook = look(folder);
  if ('error' in folderLook) return failed(`cannot use the folder ${folder}: ${accessReason(folderLook.error)}; nothing was changed`);
  if (!('stats' in folderLook) || !folderLook.stats.isDirectory()) return usage(`no folder ${folder} for the database: make it first (mkdir -p ${folder}), or set --db; nothing was changed`);
  const dbLook = look(db);
  if ('error' in dbLook) return failed(`cannot look at the database ${db}: ${accessReason(dbLook.error)}; nothing was changed`);
  const current = 'stats' in dbLook ? dbLook.stats : undefined;
  if (current?.isDirectory()) return usage(`${db} is a folder, not a database file (set --db sqlite:<path>); nothing was changed`);

  const keys = auditKeysOf(config, io);
  if (!keys) return EXIT.USAGE;
  const { key, previousKeys } = keys;

  // The lock rectify serve holds for its life: while this command holds it, no serve or
  // run --local starts on the database, and one that has it refuses this command.
  let lock: ReturnType<typeof holdServeLock>;
  try {
    lock = holdServeLock(db);
  } catch (err) {
    return failed(`${err instanceof Error ? err.message : String(err)}; nothing was changed`);
  }
  if ('heldBy' in lock) {
    const holder = lock.holder ?? serveLockHolder(db) ?? `see who holds ${db}.serve-lock`;
    return usage(`the database ${db} is in use by a rectify (${holder}): stop it first (in Kubernetes, scale rectify to 0), then restore; nothing was changed`);
  }
  const interrupts = noteInterrupts();
  const copy = restoringPath(db);
  let placed = false;
  try {
    try {
      const { ownerNote } = copyForRestore(backup, copy, current ? { mode: current.mode, uid: current.uid, gid: current.gid } : undefined);
      if (ownerNote) io.err(`rectify restore: note: ${ownerNote}`);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      return failed(`cannot copy the backup to ${copy}: ${e.code === 'ENOSPC' ? 'the disk is full (ENOSPC)' : accessReason(e, 'run it as the user rectify runs as')}; nothing was changed`);
    }
    const checked = checkRestoreCopy(copy, readMigrations(MIGRATIONS_DIR));
    if (!checked.ok) {
      const line = `the backup ${backup} ${checked.kind === 'damaged' ? 'is damaged' : 'is refused'}: ${checked.message}; nothing was changed`;
      return checked.kind === 'damaged' ? failed(line) : usage(line);
    }
    let chain: AuditVerification;
    const reader = openSqliteAuditReader(copy);
    try {
      chain = await verifyAuditChain(reader, { yieldBetweenPages: false, ...(key ? { key, previousKeys } : {}) });
    } finally {
      reader.close();
    }
    if (!chain.ok && !chain.needs_key) return failed(`the backup's audit chain is BROKEN at seq ${chain.first_bad_seq}: ${chain.reason}; nothing was changed`);
    if (!chain.ok) return usage(`the backup's audit chain was NOT VERIFIED from seq ${chain.first_bad_seq}: ${chain.reason}; nothing was changed (give the keys as rectify serve is given them)`);
    // Marked for the first start: its runs under way went on in the service the backup was taken from.
    try {
      markRestored(copy, backup, Date.now());
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      return failed(`cannot write to the copy ${copy}: ${e.code === 'ENOSPC' || /SQLITE_FULL/.test(String(e.code)) ? 'the disk is full' : err instanceof Error ? err.message : String(err)}; nothing was changed`);
    }
    removeCopySideFiles(copy);

    // A signal while the copy was made and checked (this thread was busy: it is heard once
    // the event loop turns, and not at the first turn): stop before anything changes.
    await new Promise((ok) => setTimeout(ok, 50));
    const signal = interrupts.signal();
    if (signal) {
      interrupts.stop();
      removeCopy(copy);
      io.err(`rectify restore: interrupted (${signal}): the copy was removed; nothing was changed`);
      process.kill(process.pid, signal);
      return EXIT.FAILED;
    }

    const aside = asideName(db, Date.now(), existsSync);
    let kept: ReturnType<typeof placeRestored>;
    try {
      kept = placeRestored(copy, db, aside);
    } catch (err) {
      return failed(`cannot put the backup in place of ${db}: ${accessReason(err as NodeJS.ErrnoException)}; the database was left as it was`);
    }
    placed = true;

    const c = checked.contents;
    const head = c.auditHead;
    io.out(`restored ${backup} as ${db}`);
    io.out(`schema version ${c.schemaVersion}; integrity_check ok; audit chain OK: ${chain.rows} row(s)`);
    io.out(`incidents: ${c.incidents}; audit rows: ${c.auditRows}`);
    io.out(head ? `audit head: seq ${head.seq} hash ${head.hash ?? '(none: written before the chain began)'}` : 'audit head: none (the log is empty)');
    io.out(
      kept.aside
        ? `the database it replaced is kept as ${kept.aside}${kept.sideFiles.length ? ` (with its ${kept.sideFiles.map((s) => `${kept.aside}${s}`).join(', ')})` : ''}: remove it once the restore is confirmed`
        : `there was no database at ${db}${kept.sideFiles.length ? `; the files beside its name were kept as ${kept.sideFiles.map((s) => `${aside}${s}`).join(', ')}` : ''}`,
    );
    if (head?.hash) {
      io.out(
        `next: start rectify. Its first start adds rows after seq ${head.seq} (INTERRUPTED for runs under way when the backup was taken, its own start), so the head moves on: ` +
          `check that rectify audit verify answers OK and that row ${head.seq} still has the hash above: rectify audit export ${db} --after-seq ${head.seq - 1} | head -n 1`,
      );
    } else {
      io.out('next: start rectify, then check that rectify audit verify answers OK');
    }
    return EXIT.OK;
  } finally {
    if (!placed) removeCopy(copy);
    interrupts.stop();
    lock.release();
  }
}
