import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { after, describe, it } from 'node:test';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';
import { cli } from './capture.js';

/**
 * `rectify restore <backup>`: a checked backup put in place of a stopped service's
 * database, the old one kept aside; refused while a rectify holds the database, and
 * for a damaged backup, with nothing changed.
 */

const root = mkdtempSync(join(tmpdir(), 'rectify-restore-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Every row of every table, by table, sorted. */
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

const alerts = (service: string) => amWebhook([{ labels: { alertname: 'disk_full', service } }]);

/** A service's folder with its database, and a backup of it taken by `rectify backup` in another folder. */
async function serviceWithBackup(name: string): Promise<{ svc: TestService; backup: string; head: { seq: number; hash: string } }> {
  const svc = await startTestService({});
  assert.equal((await svc.post('/api/v1/webhooks/alertmanager?wait=true', alerts('orders'))).status, 202);
  const backups = join(root, name);
  mkdirSync(backups);
  const backup = join(backups, 'rectify-2026-12-07.db');
  const made = await cli(['backup', backup, '--db', `sqlite:${svc.dbPath}`, '--json'], { cwd: svc.dir });
  assert.equal(made.code, 0, made.err.join('\n'));
  // Written after the backup: what a restore takes back.
  assert.equal((await svc.post('/api/v1/webhooks/alertmanager?wait=true', alerts('payments'))).status, 202);
  return { svc, backup, head: made.json().audit_head };
}

/** The files in the database's folder but the lock, sorted. */
const folder = (svc: TestService) => readdirSync(join(svc.dir, 'data')).filter((f) => !f.endsWith('.serve-lock')).sort();

describe('rectify restore', () => {
  it('is refused while rectify serve holds the database, naming its pid; the database and its folder are unchanged', async () => {
    const { svc, backup } = await serviceWithBackup('refused');
    try {
      // Rows and files, not bytes: the running service's checkpoints write its -wal back into the file.
      const before = { files: folder(svc), rows: contents(svc.dbPath) };
      const r = await cli(['restore', backup, '--db', `sqlite:${svc.dbPath}`], { cwd: svc.dir });
      assert.equal(r.code, 2);
      assert.deepEqual(r.out, []);
      assert.equal(r.err.length, 1);
      assert.match(r.err[0]!, new RegExp(`^rectify restore: the database ${svc.dbPath} is in use by a rectify \\(rectify serve, pid ${process.pid} on .+ since .+\\): stop it first \\(in Kubernetes, scale rectify to 0\\), then restore; nothing was changed$`));
      assert.deepEqual({ files: folder(svc), rows: contents(svc.dbPath) }, before);
      // The service goes on: its writes still land in its database.
      assert.equal((await svc.post('/api/v1/webhooks/alertmanager?wait=true', alerts('search'))).status, 202);
      assert.equal((await svc.get('/api/v1/audit/verify')).body.ok, true);
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('puts the checked backup in place, keeps the old database aside with its -wal, and the service starts on it with a chain that verifies and the backup\'s head row', async () => {
    const { svc, backup, head } = await serviceWithBackup('good');
    await svc.stop();
    // A write left in the -wal by a process that ended without closing: the old database is that file with that -wal.
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const crashed = spawnSync(process.execPath, ['-e', `
      const db = new (require(${JSON.stringify(driver)}))(${JSON.stringify(svc.dbPath)});
      db.pragma('journal_mode = WAL');
      db.pragma('wal_autocheckpoint = 0');
      db.prepare("INSERT INTO settings (key, value, updated_at, updated_by) VALUES ('left.in.wal', 'x', 1, 'test')").run();
      process.kill(process.pid, 'SIGKILL');`]);
    assert.equal(crashed.signal, 'SIGKILL');
    assert.ok(existsSync(`${svc.dbPath}-wal`), 'the -wal is left beside the database');
    const old = contents(svc.dbPath);
    assert.ok((old['settings'] as Array<{ key: string }>).some((s) => s.key === 'left.in.wal'));
    const wanted = contents(backup);
    const backupBytes = readFileSync(backup);

    const r = await cli(['restore', backup], { cwd: svc.dir, env: { RECTIFY_DB: `sqlite:${svc.dbPath}` } });
    assert.equal(r.code, 0, r.err.join('\n'));
    const aside = folder(svc).find((f) => /^rectify\.db\.before-restore-\d{8}T\d{6}Z$/.test(f));
    assert.ok(aside, folder(svc).join(', '));
    const asidePath = join(svc.dir, 'data', aside);
    assert.deepEqual(folder(svc), ['rectify.db', aside, `${aside}-shm`, `${aside}-wal`].sort());
    const rows = (wanted['audit'] as unknown[]).length;
    assert.deepEqual(r.out, [
      `restored ${backup} as ${svc.dbPath}`,
      `schema version ${(wanted['schema_migrations'] as unknown[]).length}; integrity_check ok; audit chain OK: ${rows} row(s)`,
      `incidents: ${(wanted['incidents'] as unknown[]).length}; audit rows: ${rows}`,
      `audit head: seq ${head.seq} hash ${head.hash}`,
      `the database it replaced is kept as ${asidePath} (with its ${asidePath}-wal, ${asidePath}-shm): remove it once the restore is confirmed`,
      `next: start rectify. Its first start adds rows after seq ${head.seq} (INTERRUPTED for runs under way when the backup was taken, its own start), so the head moves on: ` +
        `check that rectify audit verify answers OK and that row ${head.seq} still has the hash above: rectify audit export ${svc.dbPath} --after-seq ${head.seq - 1} | head -n 1`,
    ]);
    assert.deepEqual(r.err, []);
    // The backup itself, row for row, and the mark that it is a restored copy (for the first
    // start's recovery); the backup file unchanged; the old database, with what its -wal held, under the aside name.
    const placed = contents(svc.dbPath);
    const mark = (placed['settings'] as Array<{ key: string; value: string; updated_by: string }>).find((s) => s.key === 'recovery:database-copy');
    assert.match(mark?.value ?? '', new RegExp(`^restored by rectify restore from ${backup.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} at \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z$`));
    assert.equal(mark?.updated_by, 'rectify restore');
    assert.deepEqual(placed, { ...wanted, settings: contents(backup)['settings']!.concat(mark).map((r) => JSON.stringify(r)).sort().map((r) => JSON.parse(r) as unknown) });
    assert.deepEqual(readFileSync(backup), backupBytes);
    assert.deepEqual(contents(asidePath), old);

    const restored = await startTestService({ dir: svc.dir });
    try {
      const v = await restored.get('/api/v1/audit/verify');
      assert.equal(v.body.ok, true, v.body.reason);
      assert.ok(v.body.head.seq >= head.seq);
    } finally {
      await restored.stop();
    }
    const verify = await cli(['audit', 'verify', svc.dbPath], { cwd: svc.dir });
    assert.equal(verify.code, 0, verify.err.join('\n'));
    // The command it printed finds the backup's head row, unchanged.
    const row = await cli(['audit', 'export', svc.dbPath, '--after-seq', String(head.seq - 1)], { cwd: svc.dir });
    assert.deepEqual({ seq: JSON.parse(row.out[0]!).seq, hash: JSON.parse(row.out[0]!).hash }, head);
    rmSync(svc.dir, { recursive: true, force: true });
  });

  it('a damaged backup is refused (exit 1): the database, its -wal and its folder are unchanged, no copy is left', async () => {
    const { svc, backup } = await serviceWithBackup('damaged');
    await svc.stop();
    const damaged = join(root, 'damaged', 'damaged.db');
    copyFileSync(backup, damaged);
    // A page in the middle of the file overwritten, as a failing disk or a bad transfer leaves it:
    // the root page of an index (approvals_status), which the integrity check reports.
    const reader = new Database(damaged, { readonly: true });
    const page = reader.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'approvals_status'").pluck().get() as number;
    reader.close();
    const fd = openSync(damaged, 'r+');
    writeSync(fd, Buffer.alloc(4096, 0xab), 0, 4096, (page - 1) * 4096);
    closeSync(fd);
    const before = { files: folder(svc), bytes: readFileSync(svc.dbPath) };

    const r = await cli(['restore', damaged, '--db', `sqlite:${svc.dbPath}`], { cwd: svc.dir });
    assert.equal(r.code, 1, r.err.join('\n'));
    assert.deepEqual(r.out, []);
    assert.equal(r.err.length, 1, r.err.join('\n'));
    assert.match(r.err[0]!, new RegExp(`^rectify restore: the backup ${damaged} is damaged: PRAGMA integrity_check: .+; nothing was changed$`));
    assert.deepEqual({ files: folder(svc), bytes: readFileSync(svc.dbPath) }, before);
    rmSync(svc.dir, { recursive: true, force: true });
  });

  it('a backup with a -wal beside it is refused (exit 2): restoring the file alone would leave the WAL\'s commits behind; nothing is changed', async () => {
    const { svc, backup } = await serviceWithBackup('with-wal');
    await svc.stop();
    // A copy of a database taken with its -wal while open: the row written last is only in the -wal.
    const live = join(root, 'with-wal', 'live.db');
    copyFileSync(backup, live);
    const conn = new Database(live);
    conn.pragma('journal_mode = WAL');
    conn.pragma('wal_autocheckpoint = 0');
    conn.prepare("INSERT INTO settings (key, value, updated_at, updated_by) VALUES ('only-in-wal', 'x', 1, 'test')").run();
    const copied = join(root, 'with-wal', 'copied.db');
    copyFileSync(live, copied);
    copyFileSync(`${live}-wal`, `${copied}-wal`);
    conn.close();
    const before = { files: folder(svc), bytes: readFileSync(svc.dbPath) };

    const r = await cli(['restore', copied, '--db', `sqlite:${svc.dbPath}`], { cwd: svc.dir });
    assert.equal(r.code, 2, r.err.join('\n'));
    assert.deepEqual(r.out, []);
    assert.match(r.err.join('\n'), new RegExp(`^rectify restore: the backup ${copied} has a ${copied}-wal beside it \\(\\d+ bytes\\) holding commits the file alone does not: .+ \\(rectify backup <new-file> --db sqlite:${copied}\\), then restore that copy; nothing was changed$`));
    assert.deepEqual({ files: folder(svc), bytes: readFileSync(svc.dbPath) }, before);

    // The copy the message names holds the -wal's row, and is restored.
    const whole = join(root, 'with-wal', 'whole.db');
    assert.equal((await cli(['backup', whole, '--db', `sqlite:${copied}`], { cwd: svc.dir })).code, 0);
    const ok = await cli(['restore', whole, '--db', `sqlite:${svc.dbPath}`], { cwd: svc.dir });
    assert.equal(ok.code, 0, ok.err.join('\n'));
    assert.ok(contents(svc.dbPath).settings!.some((row) => (row as { key: string }).key === 'only-in-wal'));
    rmSync(svc.dir, { recursive: true, force: true });
  });

  it('a backup of a database this rectify starts on is restored, a migration written with an earlier text it accepts among them; one it would not start on is refused in the start\'s words', async () => {
    const { svc, backup } = await serviceWithBackup('earlier-text');
    await svc.stop();
    const withChecksum = (name: string, checksum: string): string => {
      const path = join(root, 'earlier-text', name);
      copyFileSync(backup, path);
      const conn = new Database(path);
      conn.prepare('UPDATE schema_migrations SET checksum = ? WHERE version = 3').run(checksum);
      conn.pragma('journal_mode = DELETE');
      conn.close();
      return path;
    };
    // The checksum of 003_storm_indexes's earlier text (test/fixtures/edited-migrations), which the start accepts (017 mends its schema).
    const earlier = withChecksum('earlier.db', 'dbaaf6a6781c39a1c5574e02b594828d1e758aec91f1d46c23eccd96b952a680');
    const ok = await cli(['restore', earlier, '--db', `sqlite:${svc.dbPath}`], { cwd: svc.dir });
    assert.equal(ok.code, 0, ok.err.join('\n'));

    const unknown = withChecksum('unknown.db', '0'.repeat(64));
    const before = readFileSync(svc.dbPath);
    const r = await cli(['restore', unknown, '--db', `sqlite:${svc.dbPath}`], { cwd: svc.dir });
    assert.equal(r.code, 2, r.err.join('\n'));
    assert.match(r.err.join('\n'), /^rectify restore: the backup .+ is refused: the database .+ was written by a rectify whose migration 003_storm_indexes differs from this one's \(checksum differs\)/);
    assert.deepEqual(readFileSync(svc.dbPath), before);
    rmSync(svc.dir, { recursive: true, force: true });
  });
});
