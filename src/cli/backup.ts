import { realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { loadConfig, parseCommandArgs, shownArg } from '../config/index.js';
import { formatProblem } from '../domain/index.js';
import { verifyAuditChain, type AuditVerification } from '../store/audit-verify.js';
import { openSqliteAuditReader, startSqliteBackup, type BackupResult } from '../store/sqlite/index.js';
import { accessReason, look, readProblem } from './files.js';
import { commandHelp } from './help.js';
import { auditKeysOf } from './audit-keys.js';
import { EXIT, type CliIO } from './io.js';

export const backupHelp = commandHelp({
  usage: 'rectify backup <target> [file | --db sqlite:<path>] [--audit-key key] [--audit-previous-keys keys] [--json] [--config file]',
  about: [
    'Copies the database to <target>, a new file, while the service runs and writes (it takes no lock the',
    'service needs: SQLite\'s VACUUM INTO on a read-only connection, one read transaction, so the copy is',
    'the database as of one commit, and compact). The copy is written beside the target under a temporary',
    'name (<target>.partial-<pid>), checked (PRAGMA integrity_check, and the migrations of the database),',
    'fsync\'d and only then given the target\'s name: a crash or a full disk never leaves a half file there.',
    'Ctrl-C (SIGINT), SIGTERM or SIGHUP while it is written removes the unfinished copy and its journal, says so',
    'on stderr, and the command ends by that signal.',
    'Then the audit chain of the copy is walked as rectify audit verify does; keyed rows without their key',
    'are reported as not checked (the copy is still a good copy). Prints the file, its size, the row counts',
    'and the audit head (seq and hash): record them. A target that exists is never overwritten, and its',
    'folder must exist. Write it off the database\'s volume: a lost disk would take both.',
  ].join('\n'),
  args: [
    'target                the backup file to write (must not exist; its folder must)',
    'file                  the database to copy (a path, or sqlite:<path>), instead of --db',
  ],
  flags: [
    '--db <sqlite:path>    the database (RECTIFY_DB, db in rectify.yaml; default sqlite:./data/rectify.db)',
    '--config <file>       the config file settings are read from (RECTIFY_CONFIG; default ./rectify.yaml if present)',
    '--audit-key <key>     the HMAC key of keyed rows, or ${file:/path} (RECTIFY_AUDIT_KEY, audit_key), to walk their chain',
    '--audit-previous-keys <key,…>  keys the log was written with before a rotation (RECTIFY_AUDIT_PREVIOUS_KEYS, audit_previous_keys)',
    '--json                print one JSON object (path, bytes, schema_version, incidents, audit_rows, audit_head, audit_chain)',
  ],
  exits: [
    [0, 'written and checked (also when keyed audit rows could not be walked for want of their key: said so)'],
    [1, 'the database cannot be read (permission denied: run it as the user rectify runs as); the copy could not be written (a full disk, a folder not writable or searchable) or failed its check: it was removed, nothing is at the target; or the audit chain in the copy is broken: the copy is kept at the target, and the same break is in the database (rectify audit verify)'],
    [2, 'usage: a wrong flag or argument, no database at that path, a file that is not a rectify database, a target that exists, a target named as the database\'s -wal, -shm or -journal, a target folder that does not, a setting with a problem; nothing was written'],
    [130, 'interrupted by Ctrl-C (143: SIGTERM, 129: SIGHUP; as a shell reports a command ended by the signal): the unfinished copy was removed, nothing is at the target'],
  ],
});

const INTERRUPTS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Until the returned function is called, SIGINT, SIGTERM and SIGHUP run `cleanUp`, then
 * end the process by the same signal, as it would have ended without a handler: the shell
 * sees 130, 143 or 129, and a script or a loop that runs it stops as on any interrupted
 * command. Not process.exit(): that waits for the copy's thread, whose VACUUM INTO cannot
 * be stopped, to finish the whole copy.
 */
function onInterrupt(cleanUp: (signal: (typeof INTERRUPTS)[number]) => void): () => void {
  const stop = (): void => {
    for (const s of INTERRUPTS) process.off(s, handlers[s]);
  };
  const handle = (signal: (typeof INTERRUPTS)[number]) => (): void => {
    // Node's default disposition comes back with the last handler gone: the signal sent again ends the process.
    stop();
    cleanUp(signal);
    process.kill(process.pid, signal);
  };
  const handlers = { SIGINT: handle('SIGINT'), SIGTERM: handle('SIGTERM'), SIGHUP: handle('SIGHUP') };
  for (const s of INTERRUPTS) process.on(s, handlers[s]);
  return stop;
}

/** The name as the file system knows it (links resolved), for a path that may not exist yet (its folder resolved); else as given. */
function realName(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    try {
      return join(realpathSync(dirname(path)), basename(path));
    } catch {
      return path;
    }
  }
}

/** `-wal`, `-shm` or `-journal` when `target` names that side file of the database at `source` (as given, or with links resolved). */
function sideFileOf(source: string, target: string): string | undefined {
  const sources = [source, realName(source)];
  const targets = [target, realName(target)];
  return ['-wal', '-shm', '-journal'].find((suffix) => sources.some((s) => targets.includes(`${s}${suffix}`)));
}

/**
 * `rectify backup <target> [<file> | --db sqlite:<path>]`: a consistent, checked copy of
 * the database while the service runs (see store/sqlite/backup.ts for how). Exit 0
 * written and checked, 1 the copy failed (removed) or its audit chain is broken (kept),
 * 2 usage, nothing written.
 */
export async function backupCommand(argv: string[], io: CliIO): Promise<number> {
  const usage = (line: string): number => {
    io.err(`rectify backup: ${line}`);
    return EXIT.USAGE;
  };
  const extraFlags = { json: 'boolean' } as const;
  // Only the settings this command reads: any other (`--listen`) would be taken and ignored.
  const strict = parseCommandArgs(argv, { db: 'string', config: 'string', 'audit-key': 'string', 'audit-previous-keys': 'string', ...extraFlags });
  if (strict.problems.length) {
    for (const p of strict.problems) io.err(`rectify backup: ${formatProblem(p)}; see: rectify backup --help`);
    return EXIT.USAGE;
  }
  const loaded = loadConfig(argv, io.env, { cwd: io.cwd, extraFlags });
  if ('problems' in loaded) {
    for (const p of loaded.problems) io.err(formatProblem(p));
    return EXIT.USAGE;
  }
  const { config } = loaded;
  const json = config.extraFlags['json'] === true;
  const positional = config.args;
  if (positional.length === 0) return usage('name the backup file to write: rectify backup <target> (a new file, off the database\'s volume)');
  if (positional.length > 2) return usage(`one target and at most one database (got ${positional.map((a) => shownArg(a)).join(', ')}); see: rectify backup --help`);
  if (positional.length === 2 && config.sources.db.kind === 'flag') {
    return usage(`name the database once, either as the second argument or with --db (got --db, ${shownArg(positional[1]!)})`);
  }
  const path = (arg: string): string => resolve(io.cwd, arg.replace(/^sqlite:/, ''));
  const source = positional.length === 2 ? { kind: 'sqlite' as const, path: path(positional[1]!) } : config.db;
  if (source.kind !== 'sqlite' || source.path === ':memory:') return usage('--db must name a sqlite:<path> database file');
  const target = path(positional[0]!);

  // Before anything is opened: a copy named as the database's -wal would be read by the next
  // open as its write-ahead log (and a reader makes that file beside a stopped database).
  const side = sideFileOf(source.path, target);
  if (side) return usage(`${target} is the database's ${side} file (SQLite keeps it beside ${source.path}): name the backup elsewhere, off the database's volume`);

  const failed = (line: string): number => {
    io.err(`rectify backup: ${line}`);
    return EXIT.FAILED;
  };
  // A folder on the way this user cannot search: the copy could not be written there (exit 1, as for a folder not writable), not "no folder".
  const noWay = (err: NodeJS.ErrnoException): number => failed(`cannot write the backup in ${dirname(target)}: ${accessReason(err, 'run it as the user rectify runs as, or name a folder this user can write')}; nothing was written`);
  // The target first: two names in cp's order (database, then backup) are told the order, not that the backup is missing.
  const existing = look(target, { link: true });
  if ('error' in existing) return noWay(existing.error);
  if ('stats' in existing) {
    if (existing.stats.isDirectory()) return usage(`${target} is a folder: name the backup file to write in it (${target.replace(/\/+$/, '')}/rectify-<date>.db)`);
    const order = positional.length === 2 ? ' (the backup\'s name comes first: rectify backup <target> <database>)' : '';
    return usage(`${target} exists: a backup never overwrites a file; name a new one${order}`);
  }
  // Refused, not made: a mistyped folder (/backup for the /backups volume) would put
  // the copy where no one looks, on a disk that may go with the pod.
  const folder = dirname(target);
  const folderLook = look(folder);
  if ('error' in folderLook) return noWay(folderLook.error);
  const folderStat = 'stats' in folderLook ? folderLook.stats : undefined;
  if (!folderStat?.isDirectory()) return usage(`${folderStat ? `${folder} is not a folder` : `no folder ${folder}`} for the backup: make it first (mkdir -p ${folder}), or name another`);

  // A database that is there but cannot be read is a failure to read it (exit 1), not a usage mistake, and never "no database".
  const unreadable = (err: NodeJS.ErrnoException): number => failed(`cannot read ${source.path}: ${accessReason(err)}; nothing was written`);
  const sourceLook = look(source.path);
  if ('error' in sourceLook) return unreadable(sourceLook.error);
  if (!('stats' in sourceLook)) return usage(`no database at ${source.path} (set --db sqlite:<path>, or name it after the target); nothing was written`);
  const sourceStat = sourceLook.stats;
  // SQLite says "disk I/O error" for a folder: name it instead.
  if (sourceStat.isDirectory()) return usage(`${source.path} is a folder, not a database file (set --db sqlite:<path>)`);
  // SQLite says only "unable to open database file" for a file this user may not read.
  const readErr = readProblem(source.path);
  if (readErr) return unreadable(readErr);

  const keys = auditKeysOf(config, io);
  if (!keys) return EXIT.USAGE;
  const { key, previousKeys } = keys;

  const backup = startSqliteBackup(source.path, target);
  // Ctrl-C, SIGTERM or a closed terminal while the copy is written: the unfinished copy and
  // its journal are removed (they may be the database's size, on the volume it writes to).
  const stopListening = onInterrupt((signal) => {
    const left = backup.discard();
    io.err(
      left.length === 0
        ? `rectify backup: interrupted (${signal}): the unfinished copy was removed; nothing was left at ${target} or beside it`
        : `rectify backup: interrupted (${signal}): could not remove ${left.map((l) => `${l.path} (${l.reason})`).join(', ')}: remove it by hand`,
    );
  });
  let result: BackupResult;
  try {
    result = await backup.done;
  } finally {
    stopListening();
  }
  if (!result.ok) {
    io.err(`rectify backup: ${result.message}${result.kind === 'failed' ? `; nothing was written at ${target}` : ''}`);
    return result.kind === 'failed' ? EXIT.FAILED : EXIT.USAGE;
  }

  const reader = openSqliteAuditReader(target);
  let chain: AuditVerification;
  try {
    chain = await verifyAuditChain(reader, { yieldBetweenPages: false, ...(key ? { key, previousKeys } : {}) });
  } finally {
    reader.close();
  }
  const status = chain.ok ? 'ok' : chain.needs_key ? 'not_checked' : 'broken';
  const head = result.auditHead;
  if (json) {
    io.out(
      JSON.stringify({
        path: result.path,
        bytes: result.bytes,
        schema_version: result.schemaVersion,
        integrity: 'ok',
        incidents: result.incidents,
        audit_rows: result.auditRows,
        audit_head: head,
        audit_chain: { status, rows: chain.rows, first_bad_seq: chain.first_bad_seq, reason: chain.reason },
      }),
    );
  } else {
    io.out(`backup written: ${result.path} (${result.bytes} bytes)`);
    io.out(`schema version ${result.schemaVersion}; integrity_check ok`);
    io.out(`incidents: ${result.incidents}; audit rows: ${result.auditRows}`);
    io.out(head ? `audit head: seq ${head.seq} hash ${head.hash ?? '(none: written before the chain began)'}` : 'audit head: none (the log is empty)');
    if (status === 'ok') io.out(`audit chain OK: ${chain.rows} row(s)`);
    else if (status === 'not_checked') io.out(`audit chain NOT CHECKED from seq ${chain.first_bad_seq}: ${chain.reason}`);
  }
  if (status === 'broken') {
    io.err(`rectify backup: the audit chain in the copy is BROKEN at seq ${chain.first_bad_seq}: ${chain.reason}; the copy is kept at ${target}, and the database it was copied from holds the same rows: run rectify audit verify on it`);
    return EXIT.FAILED;
  }
  // Same device as the database: a lost volume loses the backup with it.
  if (folderStat.dev === sourceStat.dev) io.err(`rectify backup: note: ${target} is on the same file system as the database: copy it off that volume`);
  return EXIT.OK;
}
