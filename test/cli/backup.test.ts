import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { after, describe, it } from 'node:test';
import { holdServeLock, serveLockHolder } from '../../src/store/sqlite/serve-lock.js';
import { holdDatabaseLock } from '../helpers/db-lock.js';
import { amWebhook, startTestService } from '../helpers/service.js';
import { cli } from './capture.js';

/**
 * `rectify backup <target>`: a consistent, checked copy of the database while the
 * service runs and writes, never over an existing file, never half written under the
 * target's name; exit 0 written and checked, 1 failed, 2 usage.
 */

const root = mkdtempSync(join(tmpdir(), 'rectify-backup-'));
after(() => rmSync(root, { recursive: true, force: true }));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Every row of every table, by table, sorted (the tables' contents, not their layout on disk; some tables have no rowid). */
function contents(path: string): Record<string, unknown[]> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];
    const sorted = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).sort().map((r) => JSON.parse(r) as unknown);
    return Object.fromEntries(tables.map((t) => [t, sorted(db.prepare(`SELECT * FROM "${t}"`).all())]));
  } finally {
    db.close();
  }
}

const NOTE = (target: string) => `rectify backup: note: ${target} is on the same file system as the database: copy it off that volume`;

/** A stopped service's database with incidents and audit rows, in a folder of its own. */
async function storeWithRows(name: string, args: string[] = []): Promise<{ dir: string; db: string }> {
  const dir = join(root, name);
  mkdirSync(dir);
  const svc = await startTestService({ args });
  try {
    const r = await svc.post('/api/v1/webhooks/alertmanager?wait=true', amWebhook([{ labels: { alertname: 'disk_full', service: 'orders' } }, { labels: { alertname: 'db_down', service: 'payments' } }]));
    assert.equal(r.status, 202, JSON.stringify(r.body));
  } finally {
    await svc.stop();
  }
  // Closed cleanly, the database is all in its file (the WAL checkpointed and removed).
  assert.equal(existsSync(`${svc.dbPath}-wal`), false);
  const db = join(dir, 'rectify.db');
  writeFileSync(db, readFileSync(svc.dbPath));
  rmSync(svc.dir, { recursive: true, force: true });
  return { dir, db };
}

describe('rectify backup', () => {
  it('copies a store with incidents and audit rows while the service runs (holding its serve lock): the same rows, a chain that verifies, the counts and head printed', async () => {
    const svc = await startTestService({});
    try {
      const r = await svc.post('/api/v1/webhooks/alertmanager?wait=true', amWebhook([{ labels: { alertname: 'disk_full', service: 'orders' } }, { labels: { alertname: 'db_down', service: 'payments' } }]));
      assert.equal(r.status, 202);
      const backups = join(svc.dir, 'backups');
      mkdirSync(backups);
      const target = join(backups, 'rectify-2026-12-07.db');
      const run = await cli(['backup', target, '--db', `sqlite:${svc.dbPath}`], { cwd: svc.dir });
      assert.equal(run.code, 0, run.err.join('\n'));
      const src = contents(svc.dbPath);
      assert.deepEqual(contents(target), src);
      const audit = (src['audit'] as Array<{ seq: number; hash: string }>).sort((a, b) => a.seq - b.seq);
      const head = audit[audit.length - 1]!;
      assert.ok((src['incidents'] as unknown[]).length === 2 && audit.length >= 2);
      const version = (src['schema_migrations'] as Array<{ version: number }>).length;
      assert.deepEqual(run.out, [
        `backup written: ${target} (${statSync(target).size} bytes)`,
        `schema version ${version}; integrity_check ok`,
        `incidents: 2; audit rows: ${audit.length}`,
        `audit head: seq ${head.seq} hash ${head.hash}`,
        `audit chain OK: ${audit.length} row(s)`,
      ]);
      assert.deepEqual(run.err, [NOTE(target)]);
      // Nothing but the backup in its folder: no partial file, no lock, no -wal.
      assert.deepEqual(readdirSync(backups), ['rectify-2026-12-07.db']);
      // The service's lock was neither taken nor released: it still holds it, named by its record.
      const owner = serveLockHolder(svc.dbPath);
      assert.match(owner ?? '', new RegExp(`^rectify serve, pid ${process.pid} on `));
      assert.deepEqual(holdServeLock(svc.dbPath), { heldBy: 'another', holder: owner });
      const verify = await cli(['audit', 'verify', target], { cwd: svc.dir });
      assert.deepEqual({ code: verify.code, out: verify.out }, { code: 0, out: [`audit chain OK: ${audit.length} row(s), head seq ${head.seq} hash ${head.hash}`] });
      // The copy as the database of a service started on it in a folder of its own: it starts, and its chain verifies.
      const restoreDir = join(svc.dir, 'restore');
      mkdirSync(join(restoreDir, 'data'), { recursive: true });
      mkdirSync(join(restoreDir, 'runbooks'));
      writeFileSync(join(restoreDir, 'data', 'rectify.db'), readFileSync(target));
      const restored = await startTestService({ dir: restoreDir });
      try {
        const v = await restored.get('/api/v1/audit/verify');
        assert.deepEqual([v.status, v.body.ok, v.body.rows, v.body.head], [200, true, audit.length, { seq: head.seq, hash: head.hash }]);
      } finally {
        await restored.stop();
      }
    } finally {
      await svc.stop({ remove: true }).catch(() => {});
    }
  });

  it('--json prints one object; the database may be named as the second argument', async () => {
    const { dir, db } = await storeWithRows('json');
    const target = join(dir, 'copy.db');
    const run = await cli(['backup', target, db, '--json'], { cwd: dir });
    assert.equal(run.code, 0, run.err.join('\n'));
    const src = contents(db);
    const audit = (src['audit'] as Array<{ seq: number; hash: string }>).sort((a, b) => a.seq - b.seq);
    assert.deepEqual(run.json(), {
      path: target,
      bytes: statSync(target).size,
      schema_version: (src['schema_migrations'] as unknown[]).length,
      integrity: 'ok',
      incidents: 2,
      audit_rows: audit.length,
      audit_head: { seq: audit.at(-1)!.seq, hash: audit.at(-1)!.hash },
      audit_chain: { status: 'ok', rows: audit.length, first_bad_seq: null, reason: null },
    });
    // The copy has the database's permissions (it holds the same log), writable by its owner.
    chmodSync(db, 0o640);
    assert.equal((await cli(['backup', join(dir, 'same-mode.db'), db], { cwd: dir })).code, 0);
    assert.equal(statSync(join(dir, 'same-mode.db')).mode & 0o777, 0o640);
    chmodSync(db, 0o440);
    assert.equal((await cli(['backup', join(dir, 'read-only.db'), db], { cwd: dir })).code, 0);
    assert.equal(statSync(join(dir, 'read-only.db')).mode & 0o777, 0o640);
    chmodSync(db, 0o644);
    // A relative target, and sqlite: before either name.
    const rel = await cli(['backup', 'sqlite:copy2.db', `sqlite:${db}`], { cwd: dir });
    assert.equal(rel.code, 0, rel.err.join('\n'));
    assert.deepEqual(contents(join(dir, 'copy2.db')), src);
  });

  it('keyed rows without their key: written (exit 0), the chain said not checked; with the key (RECTIFY_AUDIT_KEY) walked', async () => {
    const key = 'k'.repeat(32);
    const { dir, db } = await storeWithRows('keyed', ['--audit-key', key]);
    const noKey = await cli(['backup', join(dir, 'a.db'), db], { cwd: dir });
    assert.equal(noKey.code, 0, noKey.err.join('\n'));
    assert.match(noKey.out.at(-1)!, /^audit chain NOT CHECKED from seq 1: .*--audit-key/);
    const withKey = await cli(['backup', join(dir, 'b.db'), db, '--json'], { cwd: dir, env: { RECTIFY_AUDIT_KEY: key } });
    assert.equal(withKey.code, 0, withKey.err.join('\n'));
    assert.equal(withKey.json().audit_chain.status, 'ok');
    const wrongKey = await cli(['backup', join(dir, 'c.db'), db, '--audit-key', 'w'.repeat(32)], { cwd: dir });
    assert.equal(wrongKey.code, 1);
    assert.match(wrongKey.err[0]!, /^rectify backup: the audit chain in the copy is BROKEN at seq 1: /);
  });

  it('completes while another process holds the write lock, without waiting for it', async () => {
    const { dir, db } = await storeWithRows('held');
    const lock = await holdDatabaseLock(db);
    try {
      const started = Date.now();
      const run = await cli(['backup', join(dir, 'copy.db'), db], { cwd: dir });
      assert.equal(run.code, 0, run.err.join('\n'));
      // The store's busy timeout is 5 s: far under it, the copy never queued for the lock.
      assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
      assert.ok(lock.held(), 'the holder still holds its transaction');
    } finally {
      await lock.release();
    }
    assert.deepEqual(contents(join(dir, 'copy.db')), contents(db));
  });

  it('completes while a process writing through the store (holding the serve lock) commits without pause, and the copy holds whole transactions only', { timeout: 120_000 }, async () => {
    const dir = join(root, 'steady');
    mkdirSync(dir);
    const db = join(dir, 'rectify.db');
    const writer = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/audit-writer.ts', db, '40000'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    let said = '';
    writer.stdout!.setEncoding('utf8').on('data', (d: string) => (said += d));
    const line = (word: string) =>
      new Promise<number>((resolve, reject) => {
        const look = () => {
          const m = new RegExp(`^${word} (\\d+)$`, 'm').exec(said);
          if (m) return resolve(Number(m[1]));
          if (writer.exitCode !== null) return reject(new Error(`the writer exited (${writer.exitCode}): ${said}`));
          setTimeout(look, 20);
        };
        look();
      });
    try {
      const prefilled = await line('ready');
      const rowsAt = (at: number): number => {
        const src = new Database(db, { readonly: true });
        try {
          return src.prepare('SELECT COUNT(*) FROM audit WHERE at >= ?').pluck().get(at) as number;
        } finally {
          src.close();
        }
      };
      // Steady writes before the copy starts.
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      const run = await cli(['backup', join(dir, 'copy.db'), db, '--json'], { cwd: dir });
      const ended = Date.now();
      assert.equal(run.code, 0, run.err.join('\n'));
      const copied = run.json();
      assert.equal(copied.audit_chain.status, 'ok');
      // The writer committed while the command ran, also after the copy's snapshot was taken (the rows past its head): the copy did not hold its commits back.
      assert.ok(rowsAt(started) > 0, 'rows committed while the backup ran');
      const src = new Database(db, { readonly: true });
      const pastSnapshot = src.prepare('SELECT COUNT(*) FROM audit WHERE seq > ? AND at <= ?').pluck().get(copied.audit_head.seq, ended) as number;
      src.close();
      assert.ok(pastSnapshot > 0, `rows committed after the snapshot, before the command ended: ${pastSnapshot} (the command took ${ended - started} ms)`);
      await new Promise((r) => setTimeout(r, 100));
      writer.stdin!.end('stop\n');
      const total = await line('done');
      assert.ok(copied.audit_rows > prefilled && copied.audit_rows < total, `${prefilled} < ${copied.audit_rows} < ${total}`);
      // Whole transactions: every pair complete, the seqs without a gap.
      const copy = new Database(join(dir, 'copy.db'), { readonly: true });
      const rows = copy.prepare('SELECT seq, details FROM audit ORDER BY seq').all() as Array<{ seq: number; details: string }>;
      copy.close();
      assert.equal(rows.length, copied.audit_rows);
      assert.equal(rows.length % 2, 0);
      rows.forEach((r, i) => {
        assert.equal(r.seq, i + 1);
        const d = JSON.parse(r.details) as { n: number; part: number };
        assert.deepEqual([d.n, d.part], [Math.floor(i / 2) + 1, (i % 2) + 1]);
      });
      assert.ok(ended - started < 60_000);
    } finally {
      if (writer.exitCode === null) writer.kill('SIGKILL');
    }
  });

  it('refuses a target that exists (exit 2, named), leaving it byte for byte as it was', async () => {
    const { dir, db } = await storeWithRows('exists');
    const target = join(dir, 'rectify-2026-12-06.db');
    const before = Buffer.from('yesterday’s backup, or anything at all');
    writeFileSync(target, before);
    const run = await cli(['backup', target, '--db', `sqlite:${db}`], { cwd: dir });
    assert.deepEqual({ code: run.code, out: run.out, err: run.err }, { code: 2, out: [], err: [`rectify backup: ${target} exists: a backup never overwrites a file; name a new one`] });
    assert.deepEqual(readFileSync(target), before);
    // The database itself, named first as cp would: refused, with the order.
    const swapped = await cli(['backup', db, join(dir, 'new.db')], { cwd: dir });
    assert.deepEqual({ code: swapped.code, err: swapped.err }, {
      code: 2,
      err: [`rectify backup: ${db} exists: a backup never overwrites a file; name a new one (the backup's name comes first: rectify backup <target> <database>)`],
    });
    const folder = await cli(['backup', dir, db], { cwd: dir });
    assert.deepEqual({ code: folder.code, err: folder.err }, { code: 2, err: [`rectify backup: ${dir} is a folder: name the backup file to write in it (${dir}/rectify-<date>.db)`] });
    assert.deepEqual(readdirSync(dir).sort(), ['rectify-2026-12-06.db', 'rectify.db']);
  });

  it('refuses a target named as the database\'s -wal, -shm or -journal (also through a link to its folder) before it opens anything (exit 2)', async () => {
    const { dir, db } = await storeWithRows('side-files');
    const w = new Database(db);
    w.pragma('journal_mode = wal');
    w.close();
    // A stopped WAL database: its -wal and -shm are gone until something opens it.
    assert.deepEqual(readdirSync(dir), ['rectify.db']);
    const link = join(root, 'side-files-link');
    symlinkSync(dir, link);
    const cases: Array<[string, string, string]> = [
      [`${db}-wal`, db, '-wal'],
      [`${db}-shm`, `sqlite:${db}`, '-shm'],
      [`${db}-journal`, db, '-journal'],
      // The database named through a link to its folder, the target by its real path, and the other way round.
      [`${db}-wal`, join(link, 'rectify.db'), '-wal'],
      [join(link, 'rectify.db-shm'), db, '-shm'],
    ];
    for (const [target, source, side] of cases) {
      const run = await cli(['backup', target, source], { cwd: dir });
      const shown = source.replace(/^sqlite:/, '');
      assert.deepEqual({ code: run.code, out: run.out, err: run.err }, {
        code: 2,
        out: [],
        err: [`rectify backup: ${target} is the database's ${side} file (SQLite keeps it beside ${shown}): name the backup elsewhere, off the database's volume`],
      }, target);
    }
    // Nothing was opened: no -wal or -shm was made, no copy written.
    assert.deepEqual(readdirSync(dir), ['rectify.db']);
  });

  it('refuses a missing database (exit 2) and creates no file, neither there nor at the target', async () => {
    const dir = join(root, 'missing');
    mkdirSync(dir);
    const run = await cli(['backup', join(dir, 'copy.db'), '--db', `sqlite:${join(dir, 'rectfy.db')}`], { cwd: dir });
    assert.deepEqual({ code: run.code, out: run.out, err: run.err }, {
      code: 2,
      out: [],
      err: [`rectify backup: no database at ${join(dir, 'rectfy.db')} (set --db sqlite:<path>, or name it after the target); nothing was written`],
    });
    // The default database, ./data/rectify.db, is not there either.
    const byDefault = await cli(['backup', 'copy.db'], { cwd: dir });
    assert.deepEqual({ code: byDefault.code, err: byDefault.err }, { code: 2, err: [`rectify backup: no database at ${join(dir, 'data', 'rectify.db')} (set --db sqlite:<path>, or name it after the target); nothing was written`] });
    assert.deepEqual(readdirSync(dir), []);
  });

  it('a database this user cannot read, or in a folder it cannot search, is said so (exit 1; audit verify exit 2), never "no database"; a target folder it cannot search is not "make it first"', async (t) => {
    // The modes below keep out a user who is not the files' owner, and their owner too unless it is root (root reads
    // anything): as root, the CLI runs as nobody; as another user, as that user.
    const asRoot = process.getuid?.() === 0;
    if (asRoot && spawnSync('runuser', ['-u', 'nobody', '--', 'true']).status !== 0) {
      t.skip('running as root, and runuser -u nobody does not work here: no user whom file modes keep out');
      return;
    }
    // nobody must reach the checkout to run the CLI from it: a clone under a folder only
    // its owner may enter (mktemp -d makes one) keeps nobody out of rectify itself.
    if (asRoot && spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '--import', 'tsx', '-e', ''], { cwd: ROOT }).status !== 0) {
      t.skip(`running as root, and nobody cannot run rectify from ${ROOT} (a folder above it is closed to other users): no user whom file modes keep out`);
      return;
    }
    const run = (args: string[]): { code: number | null; out: string; err: string } => {
      const argv = [process.execPath, '--import', 'tsx', 'bin/rectify.js', ...args];
      const r = asRoot ? spawnSync('runuser', ['-u', 'nobody', '--', ...argv], { cwd: ROOT, encoding: 'utf8' }) : spawnSync(argv[0]!, argv.slice(1), { cwd: ROOT, encoding: 'utf8' });
      return { code: r.status, out: r.stdout, err: r.stderr };
    };
    const { dir, db } = await storeWithRows('permissions');
    chmodSync(root, 0o755);
    chmodSync(dir, 0o755);
    const open = join(dir, 'open');
    const unreadable = join(dir, 'unreadable');
    const hidden = join(dir, 'hidden');
    for (const d of [open, unreadable, join(hidden, 'sub')]) mkdirSync(d, { recursive: true });
    for (const d of [dir, unreadable, hidden]) writeFileSync(join(d, 'rectify.db'), readFileSync(db));
    chmodSync(open, 0o777);
    chmodSync(join(unreadable, 'rectify.db'), 0o000);
    chmodSync(hidden, 0o000);
    chmodSync(db, 0o644);
    try {
      const unreadableDb = join(unreadable, 'rectify.db');
      const hiddenDb = join(hidden, 'rectify.db');
      const hint = 'permission denied (EACCES; run it as the user rectify runs as)';
      assert.deepEqual(run(['backup', join(open, 'a.db'), '--db', `sqlite:${unreadableDb}`]), { code: 1, out: '', err: `rectify backup: cannot read ${unreadableDb}: ${hint}; nothing was written\n` });
      assert.deepEqual(run(['backup', join(open, 'b.db'), '--db', `sqlite:${hiddenDb}`]), { code: 1, out: '', err: `rectify backup: cannot read ${hiddenDb}: ${hint}; nothing was written\n` });
      const sub = join(hidden, 'sub');
      assert.deepEqual(run(['backup', join(sub, 'c.db'), db]), {
        code: 1,
        out: '',
        err: `rectify backup: cannot write the backup in ${sub}: permission denied (EACCES; run it as the user rectify runs as, or name a folder this user can write); nothing was written\n`,
      });
      assert.deepEqual(readdirSync(open), []);
      // audit verify: the same words; exit 2 (not verified), since its exit 1 is a broken chain.
      assert.deepEqual(run(['audit', 'verify', unreadableDb]), { code: 2, out: '', err: `rectify audit: cannot read ${unreadableDb}: ${hint}\n` });
      assert.deepEqual(run(['audit', 'verify', '--db', `sqlite:${hiddenDb}`]), { code: 2, out: '', err: `rectify audit: cannot read ${hiddenDb}: ${hint}\n` });
    } finally {
      chmodSync(hidden, 0o755);
      chmodSync(join(unreadable, 'rectify.db'), 0o644);
      chmodSync(root, 0o700);
    }
  });

  it('refuses a SQLite file that is not a rectify database, and a file that is not SQLite (exit 2), writing nothing', async () => {
    const dir = join(root, 'other');
    mkdirSync(dir);
    const other = join(dir, 'other.db');
    const o = new Database(other);
    o.exec('CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES (\'hello\')');
    o.close();
    const run = await cli(['backup', join(dir, 'copy.db'), other], { cwd: dir });
    assert.deepEqual({ code: run.code, out: run.out, err: run.err }, {
      code: 2,
      out: [],
      err: [`rectify backup: cannot back up ${other}: a SQLite database without a schema_migrations table (not a rectify database)`],
    });
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'not a database, only some text that is long enough to be read as a header by SQLite\n'.repeat(4));
    const notSqlite = await cli(['backup', join(dir, 'copy.db'), text], { cwd: dir });
    assert.deepEqual({ code: notSqlite.code, err: notSqlite.err }, { code: 2, err: [`rectify backup: cannot back up ${text}: not a SQLite database (file is not a database)`] });
    const folder = await cli(['backup', join(dir, 'copy.db'), dir], { cwd: dir });
    assert.deepEqual({ code: folder.code, err: folder.err }, { code: 2, err: [`rectify backup: ${dir} is a folder, not a database file (set --db sqlite:<path>)`] });
    assert.deepEqual(readdirSync(dir).sort(), ['notes.txt', 'other.db']);
  });

  it('refuses a target in a folder that does not exist (exit 2), making no folder', async () => {
    const { dir, db } = await storeWithRows('nofolder');
    const target = join(dir, 'backup', 'copy.db');
    const run = await cli(['backup', target, db], { cwd: dir });
    assert.deepEqual({ code: run.code, out: run.out, err: run.err }, {
      code: 2,
      out: [],
      err: [`rectify backup: no folder ${join(dir, 'backup')} for the backup: make it first (mkdir -p ${join(dir, 'backup')}), or name another`],
    });
    assert.equal(existsSync(join(dir, 'backup')), false);
    writeFileSync(join(dir, 'plain'), '');
    const underFile = await cli(['backup', join(dir, 'plain', 'copy.db'), db], { cwd: dir });
    assert.deepEqual({ code: underFile.code, err: underFile.err }, { code: 2, err: [`rectify backup: ${join(dir, 'plain')} is not a folder for the backup: make it first (mkdir -p ${join(dir, 'plain')}), or name another`] });
  });

  it('a copy that cannot be written is exit 1 and leaves nothing at the target; another file at the temporary name is left alone', async () => {
    const { dir, db } = await storeWithRows('partial');
    const target = join(dir, 'copy.db');
    const partial = `${target}.partial-${process.pid}`;
    writeFileSync(partial, 'another backup writing here');
    const run = await cli(['backup', target, db], { cwd: dir });
    assert.equal(run.code, 1);
    assert.deepEqual(run.out, []);
    assert.match(run.err[0]!, new RegExp(`^rectify backup: cannot write the copy ${partial.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: EEXIST: .*; nothing was written at ${target.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`));
    assert.equal(existsSync(target), false);
    assert.equal(readFileSync(partial, 'utf8'), 'another backup writing here');
  });

  it('a disk that fills during the copy (a file size limit) is exit 1, and leaves nothing behind: no file at the target, no partial file, no journal', { timeout: 60_000 }, async () => {
    const { dir, db } = await storeWithRows('full');
    // About 12 MB, with an index: SQLite then leaves a journal beside the copy when a write fails.
    const raw = new Database(db);
    raw.exec('CREATE TABLE pad (x BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000) INSERT INTO pad SELECT randomblob(1000) FROM n; CREATE INDEX pad_x ON pad (x)');
    raw.close();
    const target = join(dir, 'copy.db');
    // A real process: the limit (2 MiB, under the 6 MB the copy needs) is the process's own; writes past it fail as on a full disk.
    const child = spawn('bash', ['-c', 'ulimit -f 2048; exec "$0" --import tsx bin/rectify.js backup "$1" "$2"', process.execPath, target, db], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    assert.equal(code, 1, err);
    assert.equal(out, '');
    assert.match(err, new RegExp(`^rectify backup: cannot write the copy ${target}\\.partial-\\d+: .+; nothing was written at ${target}\n$`));
    // Beside the database only what SQLite makes for a reader (audit verify makes the same): an empty WAL and its index.
    assert.deepEqual(readdirSync(dir).sort(), ['rectify.db', 'rectify.db-shm', 'rectify.db-wal']);
    assert.equal(statSync(`${db}-wal`).size, 0);
  });

  it('Ctrl-C or SIGTERM while the copy is written removes the unfinished copy and its journal, says so, and ends by the signal (the shell sees 130, 143)', { timeout: 120_000 }, async () => {
    const { dir, db } = await storeWithRows('interrupted');
    // About 90 MB: the copy and its check take a few hundred milliseconds here, long enough to be interrupted midway.
    const raw = new Database(db);
    raw.exec('CREATE TABLE pad (x BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 90000) INSERT INTO pad SELECT randomblob(1000) FROM n');
    raw.close();
    const backups = join(dir, 'backups');
    mkdirSync(backups);
    for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
      const target = join(backups, `copy-${signal}.db`);
      // Through a shell, which reports the command's end as a script would see it; the command's stderr on fd 3, apart from the shell's own ("Terminated").
      const child = spawn('bash', ['-c', '"$@" 2>&3; echo "exit $?"', 'bash', process.execPath, '--import', 'tsx', 'bin/rectify.js', 'backup', target, db], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      (child.stdio[3] as NodeJS.ReadableStream).setEncoding('utf8').on('data', (d: string) => (err += d));
      const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
      // Once the copy is being written (its temporary file holds pages), the signal, to the rectify process (its pid is in the file's name).
      let partial: string | undefined;
      for (let i = 0; i < 6000 && !partial && child.exitCode === null; i++) {
        const name = readdirSync(backups).find((f) => f.startsWith(`copy-${signal}.db.partial-`) && !f.endsWith('-journal'));
        if (name && statSync(join(backups, name)).size > 0) partial = name;
        else await new Promise((r) => setTimeout(r, 5));
      }
      assert.ok(partial, `the copy was never seen being written: ${out} ${err}`);
      process.kill(Number(/partial-(\d+)$/.exec(partial)![1]), signal);
      await exited;
      assert.deepEqual({ out, err }, {
        out: `exit ${status}\n`,
        err: `rectify backup: interrupted (${signal}): the unfinished copy was removed; nothing was left at ${target} or beside it\n`,
      });
      // No copy, no partial file, no journal.
      assert.deepEqual(readdirSync(backups), []);
    }
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('partial')), []);
  });

  it('a database from before the audit chain (schema 1: no prev_hash, no hash) is backed up, verified and exported, its rows said written before the chain began', async () => {
    const dir = join(root, 'schema-1');
    mkdirSync(dir);
    const db = join(dir, 'rectify.db');
    const raw = new Database(db);
    // As the release of migration 001 alone wrote it.
    raw.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    raw.exec(readFileSync(join(ROOT, 'migrations', 'sqlite', '001_init.sql'), 'utf8'));
    raw.prepare("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (1, 'init', 'c', 0)").run();
    for (const at of [1_000, 2_000]) raw.prepare("INSERT INTO audit (at, event, actor, details) VALUES (?, 'SERVICE_PAUSED', 'ops', '{}')").run(at);
    raw.close();
    const target = join(dir, 'copy.db');
    const run = await cli(['backup', target, '--db', `sqlite:${db}`], { cwd: dir });
    assert.deepEqual({ code: run.code, err: run.err }, { code: 0, err: [NOTE(target)] });
    assert.deepEqual(run.out, [
      `backup written: ${target} (${statSync(target).size} bytes)`,
      'schema version 1; integrity_check ok',
      'incidents: 0; audit rows: 2',
      'audit head: seq 2 hash (none: written before the chain began)',
      'audit chain OK: 2 row(s)',
    ]);
    assert.deepEqual(contents(target), contents(db));
    for (const file of [db, target]) {
      const verify = await cli(['audit', 'verify', file], { cwd: dir });
      assert.deepEqual({ code: verify.code, out: verify.out, err: verify.err }, { code: 0, out: ['audit chain OK: 2 row(s) (2 written before the chain began)'], err: [] });
      const exported = await cli(['audit', 'export', file], { cwd: dir });
      assert.equal(exported.code, 0, exported.err.join('\n'));
      const rows = exported.out.map((l) => JSON.parse(l) as { seq: number; prev_hash: unknown; hash: unknown });
      assert.deepEqual(rows.map((r) => [r.seq, r.prev_hash, r.hash]), [[1, null, null], [2, null, null]]);
    }
  });

  it('a copy whose audit chain is broken is kept (the database holds the same break) and is exit 1', async () => {
    const { dir, db } = await storeWithRows('broken');
    const raw = new Database(db);
    raw.exec('DROP TRIGGER audit_no_update');
    raw.prepare("UPDATE audit SET actor = 'mallory' WHERE seq = 1").run();
    raw.close();
    const target = join(dir, 'copy.db');
    const run = await cli(['backup', target, db], { cwd: dir });
    assert.equal(run.code, 1);
    assert.match(run.err[0]!, /^rectify backup: the audit chain in the copy is BROKEN at seq 1: .*; the copy is kept at .*copy\.db, and the database it was copied from holds the same rows: run rectify audit verify on it$/);
    assert.deepEqual(contents(target), contents(db));
  });

  it('usage: no target, three names, a database named twice, an unknown flag: exit 2, nothing written', async () => {
    const { dir, db } = await storeWithRows('usage');
    const cases: Array<[string[], string]> = [
      [['backup', '--db', `sqlite:${db}`], "rectify backup: name the backup file to write: rectify backup <target> (a new file, off the database's volume)"],
      [['backup', 'a.db', db, 'b.db'], `rectify backup: one target and at most one database (got "a.db", "${db}", "b.db"); see: rectify backup --help`],
      [['backup', 'a.db', db, '--db', `sqlite:${db}`], `rectify backup: name the database once, either as the second argument or with --db (got --db, "${db}")`],
      [['backup', 'a.db', '--db', 'sqlite::memory:'], 'rectify backup: --db must name a sqlite:<path> database file'],
    ];
    for (const [argv, err] of cases) {
      const r = await cli(argv, { cwd: dir });
      assert.deepEqual({ code: r.code, out: r.out, err: r.err }, { code: 2, out: [], err: [err] }, argv.join(' '));
    }
    const flag = await cli(['backup', 'a.db', db, '--listen', '127.0.0.1:1'], { cwd: dir });
    assert.equal(flag.code, 2);
    assert.match(flag.err[0]!, /^rectify backup: .*--listen.*; see: rectify backup --help$/);
    assert.deepEqual(readdirSync(dir), ['rectify.db']);
    const help = await cli(['backup', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.out[0]!, /^usage: rectify backup <target> /);
    const top = await cli(['--help']);
    assert.ok(top.out.some((l) => /^ {2}backup +a consistent, checked copy of the database/.test(l)));
  });
});
