import { closeSync, openSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig, parseCommandArgs, resolveAuditKey, resolveAuditPreviousKeys, shownArg, type Config } from '../config/index.js';
import { formatProblem, LoadError } from '../domain/index.js';
import { AuditLogDamaged, auditExportLine, damagedReason, verifyAuditChain, type AuditRecord } from '../store/audit-verify.js';
import { openSqliteAuditReader } from '../store/sqlite/index.js';
import { accessReason, look, readProblem } from './files.js';
import { commandHelp } from './help.js';
import { EXIT, type CliIO } from './io.js';
import { parseSince, sinceProblem } from '../lib/index.js';

type Reader = ReturnType<typeof openSqliteAuditReader>;

const DB_ARG = 'file                  the database file (a path, or sqlite:<path>), instead of --db';
const DB_FLAGS = [
  '--db <sqlite:path>    the database (RECTIFY_DB, db in rectify.yaml; default sqlite:./data/rectify.db)',
  '--config <file>       the config file settings are read from (RECTIFY_CONFIG; default ./rectify.yaml if present)',
];

export const auditVerifyHelp = commandHelp({
  usage: 'rectify audit verify [file | --db sqlite:<path>] [--audit-key key] [--audit-previous-keys keys] [--config file]',
  about: [
    'Walks the audit hash chain in the database file, read-only (the service may be running or stopped),',
    'and names the first row that does not fit (a changed, missing or inserted row, also among the newest).',
    'On success it prints the rows and the head (seq and hash): keep the head hash somewhere else, since a',
    'chain rewritten from its start would no longer end there. Keyed rows need the key they were written',
    'with. The same walk as GET /api/v1/audit/verify.',
  ].join('\n'),
  args: [DB_ARG],
  flags: [
    ...DB_FLAGS,
    '--audit-key <key>     the HMAC key of keyed rows, or ${file:/path} (RECTIFY_AUDIT_KEY, audit_key)',
    '--audit-previous-keys <key,…>  keys the log was written with before a rotation, each a key or ${file:/path}',
    '                      (RECTIFY_AUDIT_PREVIOUS_KEYS, audit_previous_keys)',
  ],
  exits: [
    [0, 'the chain holds'],
    [1, 'the chain is broken (the first row that does not fit is named), or the database file is damaged (restore a backup)'],
    [2, 'not verified: keyed rows and no key for them (give --audit-key), or rows before a key rotation under a key not given (give it in --audit-previous-keys); or a database this user cannot read (permission denied: run it as the user rectify runs as); or usage: a wrong flag or argument, no database at that path, a file that is not a rectify database, a setting with a problem'],
  ],
});

export const auditExportHelp = commandHelp({
  usage: 'rectify audit export [file | --db sqlite:<path>] [--after-seq n] [--since 1h|time] [--config file]',
  about: [
    'The audit log as JSON lines, oldest first, each with its prev_hash and hash (the lines',
    'GET /api/v1/audit/export streams), for a SIEM. Read-only; the service may be running or stopped.',
    'To go on later, give the last seq received as --after-seq.',
  ].join('\n'),
  args: [DB_ARG],
  flags: [
    ...DB_FLAGS,
    '--after-seq <n>       rows after this seq (default: from the first row, also a row at seq 0 or below, which verify reports)',
    '--since <t>           rows at or after an RFC 3339 time, or within a duration back from now (1h, 30m)',
  ],
  exits: [
    [0, 'exported (also when no row matches)'],
    [1, 'the database file is damaged: the lines printed are the rows before the damage, and the error names the last of them, or none could be read (restore a backup)'],
    [2, 'usage: a wrong flag or argument, a bad --since or --after-seq, no database at that path, a database this user cannot read (permission denied), a file that is not a rectify database, a setting with a problem; nothing was exported'],
  ],
});

/** Opens the configured database read-only (no migration, no write), or says why not. */
function openReader(argv: string[], io: CliIO, command: string, settings: readonly string[], extraFlags: Record<string, 'string'>): { reader: Reader; flags: Record<string, readonly string[] | boolean>; config: Config } | number {
  // Only the settings this command reads: any other (`--listen`, `--runbooks`) would be taken and ignored.
  const strict = parseCommandArgs(argv, { ...Object.fromEntries(settings.map((f) => [f, 'string' as const])), ...extraFlags });
  if (strict.problems.length) {
    for (const p of strict.problems) io.err(`rectify ${command}: ${formatProblem(p)}; see: rectify ${command} --help`);
    return EXIT.USAGE;
  }
  const loaded = loadConfig(argv, io.env, { cwd: io.cwd, extraFlags });
  if ('problems' in loaded) {
    for (const p of loaded.problems) io.err(formatProblem(p));
    return EXIT.USAGE;
  }
  // The database file may be named by position too (`rectify audit verify copy.db`); a
  // name never read would verify the configured database and say OK about the wrong file.
  const positional = loaded.config.args;
  if (positional.length > 1 || (positional.length === 1 && loaded.config.sources.db.kind === 'flag')) {
    io.err(`rectify audit: name one database, either as an argument or with --db (got ${[...(positional.length === 1 ? ['--db'] : []), ...positional.map((a) => shownArg(a))].join(', ')})`);
    return EXIT.USAGE;
  }
  const db = positional.length === 1 ? { kind: 'sqlite' as const, path: resolve(io.cwd, positional[0]!.replace(/^sqlite:/, '')) } : loaded.config.db;
  if (db.kind !== 'sqlite' || db.path === ':memory:') {
    io.err('rectify audit: --db must name a sqlite:<path> database file');
    return EXIT.USAGE;
  }
  // A database this user cannot read is said so, never "no database" (it is there); exit 2,
  // not verified: verify keeps 1 for a broken chain, export for a damaged file.
  const found = look(db.path);
  const denied = 'error' in found ? found.error : 'stats' in found && !found.stats.isDirectory() ? readProblem(db.path) : undefined;
  if (denied) {
    io.err(`rectify audit: cannot read ${db.path}: ${accessReason(denied)}`);
    return EXIT.USAGE;
  }
  if (!('stats' in found)) {
    io.err(`rectify audit: no database at ${db.path} (set --db sqlite:<path>)`);
    return EXIT.USAGE;
  }
  // SQLite says "disk I/O error" for a folder: name it instead.
  if (found.stats.isDirectory()) {
    io.err(`rectify audit: ${db.path} is a folder, not a database file (set --db sqlite:<path>)`);
    return EXIT.USAGE;
  }
  try {
    return { reader: openSqliteAuditReader(db.path), flags: loaded.config.extraFlags, config: loaded.config };
  } catch (err) {
    // A SQLite file whose pages are damaged (a truncated copy, a failing disk) is a damaged
    // database, as one found damaged in the walk is: exit 1, restore a backup.
    if (isDamagedSqlite(err, db.path)) {
      io.err(`rectify audit: cannot open ${db.path}: the database file is damaged (SQLite: ${err instanceof Error ? err.message : String(err)}): restore a backup`);
      return EXIT.FAILED;
    }
    // A file that is not a database, or not rectify's, is a wrong input (2), never
    // exit 1, which verify keeps for a broken chain: a typo must not read as tampering.
    io.err(`rectify audit: cannot open ${db.path}: ${whyNotReadable(err)}; name rectify's database file (set --db sqlite:<path>)`);
    return EXIT.USAGE;
  }
}

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * SQLite found the file damaged: SQLITE_CORRUPT, or SQLITE_NOTADB for a file that begins
 * as a SQLite database does (its header cut short or overwritten). A file that does not
 * begin so (a text file, a typo) is not a database at all.
 */
function isDamagedSqlite(err: unknown, path: string): boolean {
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  if (code.startsWith('SQLITE_CORRUPT')) return true;
  if (!code.startsWith('SQLITE_NOTADB')) return false;
  const head = Buffer.alloc(SQLITE_HEADER.length);
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    return readSync(fd, head, 0, head.length, 0) === head.length && head.equals(SQLITE_HEADER);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** SQLite's reason, in the words of someone who named the wrong file. */
function whyNotReadable(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/^no such table: audit$/.test(message)) return 'a SQLite database without an audit table (not a rectify database)';
  if ((err as { code?: unknown } | null)?.code === 'SQLITE_NOTADB') return 'not a SQLite database (file is not a database)';
  return message;
}

/**
 * `rectify audit verify [<file> | --db sqlite:<path>] [--audit-key …] [--audit-previous-keys …]`: walks the audit hash
 * chain in the database file (the service may be running or stopped) and names the
 * first row that does not fit. Keyed rows need the key they were written with.
 * Exit 0 when the chain holds, 1 when it does not, 2 when keyed rows were met
 * without their key (not verified): no --audit-key, or, after a rotation, the rows
 * before it under a key missing from --audit-previous-keys.
 */
export async function auditVerifyCommand(argv: string[], io: CliIO): Promise<number> {
  const opened = openReader(argv, io, 'audit verify', ['db', 'config', 'audit-key', 'audit-previous-keys'], {});
  if (typeof opened === 'number') return opened;
  try {
    let key: Buffer | undefined;
    let previousKeys: Buffer[];
    try {
      key = resolveAuditKey(opened.config);
      previousKeys = resolveAuditPreviousKeys(opened.config, key);
    } catch (err) {
      if (!(err instanceof LoadError)) throw err;
      for (const p of err.problems) io.err(formatProblem(p));
      return EXIT.USAGE;
    }
    const v = await verifyAuditChain(opened.reader, { yieldBetweenPages: false, ...(key ? { key, previousKeys } : {}) });
    if (v.ok) {
      const notes = [
        ...(v.unchained ? [`${v.unchained} written before the chain began`] : []),
        ...(v.keyed ? [`${v.keyed} keyed from seq ${v.keyed_from}`] : key && v.rows ? ['none keyed: written without an audit key'] : []),
        ...(v.rotated_at.length ? [`key rotated at seq ${v.rotated_at.join(', ')}`] : []),
      ];
      io.out(`audit chain OK: ${v.rows} row(s)${notes.length ? ` (${notes.join('; ')})` : ''}${v.head ? `, head seq ${v.head.seq} hash ${v.head.hash}` : ''}`);
      return EXIT.OK;
    }
    io.err(v.needs_key ? `audit chain NOT VERIFIED from seq ${v.first_bad_seq}: ${v.reason}` : `audit chain BROKEN at seq ${v.first_bad_seq}: ${v.reason}`);
    return v.needs_key ? EXIT.USAGE : EXIT.FAILED;
  } finally {
    opened.reader.close();
  }
}

const PAGE = 1_000;

/**
 * `rectify audit export [<file> | --db …] [--since <RFC 3339 time | duration>] [--after-seq <n>]`: the log as
 * JSON lines, oldest first, with hashes (the same records as GET /api/v1/audit/export; printed, as every CLI line, with DEL, C1 and invisible characters as their JSON escapes, the same document).
 */
export async function auditExportCommand(argv: string[], io: CliIO): Promise<number> {
  const opened = openReader(argv, io, 'audit export', ['db', 'config'], { since: 'string', 'after-seq': 'string' });
  if (typeof opened === 'number') return opened;
  const last = (name: string): string | undefined => {
    const v = opened.flags[name];
    return Array.isArray(v) ? v[v.length - 1] : undefined;
  };
  try {
    const sinceText = last('since');
    const afterText = last('after-seq');
    const since = sinceText === undefined ? undefined : parseSince(sinceText, Date.now());
    if (sinceText !== undefined && since === undefined) {
      io.err(`--since: ${sinceProblem(sinceText, Date.now())}`);
      return EXIT.USAGE;
    }
    if (afterText !== undefined && !/^[0-9]{1,15}$/.test(afterText)) {
      io.err(`--after-seq: expected a non-negative integer (got ${JSON.stringify(afterText)})`);
      return EXIT.USAGE;
    }
    // Without --after-seq, from the lowest seq: a row inserted at 0 or below (which verify reports) is exported too.
    let after = afterText === undefined ? -Infinity : Number(afterText);
    for (;;) {
      let page: AuditRecord[];
      try {
        page = opened.reader.auditRecords({ afterSeq: after, limit: PAGE, ...(since !== undefined ? { since } : {}) });
      } catch (err) {
        if (!(err instanceof AuditLogDamaged)) throw err;
        const last = Number.isFinite(after) ? after : 0;
        io.err(`rectify audit export: ${damagedReason(last, err)}; the lines printed are the rows up to row ${last}`);
        return EXIT.FAILED;
      }
      for (const r of page) io.out(JSON.stringify(auditExportLine(r)));
      if (page.length < PAGE) break;
      after = page[page.length - 1]!.seq;
      // A slow reader: the next page is read once the pipe drained, so what waits in memory
      // is a page, not the log.
      await io.drained?.();
      // A reader gone (`| head`) is only heard between pages: without this turn of the event
      // loop the whole log would be read for nobody.
      await new Promise((ok) => setImmediate(ok));
      if (io.signal?.aborted) break;
    }
    return EXIT.OK;
  } finally {
    opened.reader.close();
  }
}
