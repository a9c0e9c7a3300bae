import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../src/cli/index.js';
import { MIGRATIONS_DIR } from '../../src/service.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { copiedWhileHeld, holderRecord, holdServeLock } from '../../src/store/sqlite/serve-lock.js';
import { useRectifyProcesses } from '../helpers/process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const runbooks = (base: string) => `runbooks:
  fix:
    risk: LOW
    triggers: [broken]
    min_confidence: 0.5
    max_per_hour: 2
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/act/{service}"}
  hold:
    risk: LOW
    triggers: [held]
    max_per_hour: 2
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/hold/{service}", timeout_seconds: 300}
`;

/**
 * `rectify serve` in a child process on `db`, to its exit: its code and what it wrote to
 * stderr. One that starts serving instead is killed, and its code is 'served'.
 */
function serveToExit(db: string, runbooksDir: string): Promise<{ code: number | null | 'served'; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--db', `sqlite:${db}`, '--runbooks', runbooksDir, '--listen', '127.0.0.1:0'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let stderr = '';
  let served = false;
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (!served && out.includes('"rectify serving"')) {
      served = true;
      child.kill('SIGKILL');
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code: served ? 'served' : code, stderr })));
}

/** The serve lock's settings rows and the audit log's length, read without writing (a live serve keeps the -wal beside the file). */
function settings(db: string): Record<string, string | number> {
  const conn = new Database(db, { readonly: true });
  try {
    const rows = conn.prepare("SELECT key, value FROM settings WHERE key LIKE 'serve.%' ORDER BY key").all() as Array<{ key: string; value: string }>;
    return { ...Object.fromEntries(rows.map((r) => [r.key, r.value])), audit: conn.prepare('SELECT COUNT(*) FROM audit').pluck().get() as number };
  } finally {
    conn.close();
  }
}

/** The holder records (settings rows serve.holder and serve.holder:…), by key, parsed. */
function holders(db: string): Record<string, { command: string; pid: number; since: number }> {
  return Object.fromEntries(
    Object.entries(settings(db))
      .filter(([k]) => k === 'serve.holder' || k.startsWith('serve.holder:'))
      .map(([k, v]) => [k, JSON.parse(v as string) as { command: string; pid: number; since: number }]),
  );
}

/** `rectify run --local RUNBOOK --service SERVICE` in a child process on `db`: the child, and its exit code and output once it ends. */
function runLocal(db: string, runbooksDir: string, runbook: string, service: string) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/main.ts', 'run', '--local', '--db', `sqlite:${db}`, '--runbooks', runbooksDir, '--kubernetes', 'off', runbook, '--service', service, '--by', 'dave'],
    { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<{ code: number | null; out: string }>((resolve) => child.once('close', (code) => resolve({ code, out })));
  return { child, exited };
}

/** The executions of the database: runbook, service and state, oldest first. */
function executions(db: string): Array<{ runbook: string; service: string; state: string }> {
  const conn = new Database(db, { readonly: true });
  try {
    return conn.prepare('SELECT runbook, service, state FROM executions ORDER BY started_at').all() as Array<{ runbook: string; service: string; state: string }>;
  } finally {
    conn.close();
  }
}

/** Clock ticks after boot at which process `pid` started (/proc/<pid>/stat, field 22). */
function startTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[22 - 3]);
}

const refusal = (db: string, holder: string) =>
  `rectify: cannot start: the database ${db} is in use by another rectify (${holder}): stop that one first (or let it finish), or give this one its own --db\n`;

describe('one serve per database, its lock file removed or not', () => {
  const rig = useRectifyProcesses('rectify-serve-lock-', runbooks);

  it('a second serve is refused while the first runs, even once the lock file was removed: exit 1 naming the database and the first pid, nothing written', async () => {
    const db = join(rig.dir, 'removed.db');
    const first = await rig.start([], db);
    const before = settings(db);
    const [record, ...others] = Object.values(holders(db));
    assert.deepEqual([record?.pid, others], [first.pid, []]);
    const holder = `rectify serve, pid ${first.pid} on ${hostname()} since ${new Date(record!.since).toISOString()}`;
    assert.equal(before['serve.owner'], holder);

    // An operator's clean-up: the lock file is gone while the first serve runs.
    rmSync(`${db}.serve-lock`);
    const second = await serveToExit(db, rig.runbooks);
    assert.deepEqual(second, { code: 1, stderr: refusal(db, holder) });
    // The refused serve wrote nothing (it would have named itself as the holder), and the first one serves on.
    assert.deepEqual(settings(db), before);
    assert.equal((await first.get('/readyz')).status, 200);

    // The first one gone (killed: no clean stop), its record is stale: the next serve starts.
    await first.kill9();
    const next = await rig.start([], db);
    assert.equal(String(settings(db)['serve.owner']).startsWith(`rectify serve, pid ${next.pid} on `), true);
    // The killed one's record is gone with it: the serve that took the lock alone removed it.
    assert.deepEqual(Object.values(holders(db)).map((h) => h.pid), [next.pid]);
    assert.equal(await next.stop(), 0);
    assert.deepEqual(holders(db), {});
  });

  it('local runs each keep their own record: one ending leaves the other\'s, and a serve is refused naming the one still running even once the lock file was removed, nothing written', async () => {
    const db = join(rig.dir, 'locals.db');
    // A database made by a serve, as a local run needs, and stopped.
    assert.equal(await (await rig.start([], db)).stop(), 0);
    rig.target.route('POST', '/hold/one', { status: 200, delayMs: 600_000 });
    rig.target.route('POST', '/act/two', { status: 200 });
    const one = runLocal(db, rig.runbooks, 'hold', 'one');
    try {
      await rig.target.waitForRequest('/hold/one', { timeoutMs: 60_000 });
      // A second local run beside it, on another service, to its end.
      const two = await runLocal(db, rig.runbooks, 'fix', 'two').exited;
      assert.equal(two.code, 0, two.out);
      const left = Object.values(holders(db));
      assert.deepEqual(left.map((h) => [h.command, h.pid]), [['rectify run --local', one.child.pid]]);
      const named = refusal(db, `rectify run --local, pid ${one.child.pid} on ${hostname()} since ${new Date(left[0]!.since).toISOString()}`);
      const before = settings(db);
      // Refused by the lock file, the serve names the local run still running, not the last one started (serve.owner).
      assert.equal(String(before['serve.owner']).startsWith(`rectify run --local, pid ${one.child.pid} `), false);
      assert.deepEqual(await serveToExit(db, rig.runbooks), { code: 1, stderr: named });

      rmSync(`${db}.serve-lock`);
      assert.deepEqual(await serveToExit(db, rig.runbooks), { code: 1, stderr: named });
      assert.deepEqual(settings(db), before);
      // The first local run's execution still runs: the refused serve took it for nothing.
      assert.deepEqual(executions(db), [
        { runbook: 'hold', service: 'one', state: 'running' },
        { runbook: 'fix', service: 'two', state: 'succeeded' },
      ]);
    } finally {
      one.child.kill('SIGKILL');
      await one.exited;
    }
  });

  it('a process holding the database twice (two local runs in it) keeps its record until the last of them closes', () => {
    const db = join(rig.dir, 'twice.db');
    const first = openSqliteStore({ path: db, migrationsDir: MIGRATIONS_DIR, lock: 'local' });
    const second = openSqliteStore({ path: db, migrationsDir: MIGRATIONS_DIR, lock: 'local' });
    const record = Object.entries(holders(db));
    assert.deepEqual(record.map(([, h]) => [h.command, h.pid]), [['rectify run --local', process.pid]]);
    first.close();
    assert.deepEqual(Object.keys(holders(db)), [record[0]![0]]);
    second.close();
    assert.deepEqual(holders(db), {});
  });

  it('a recorded holder whose pid another process took since (another start time) is stale; with its own start time it is refused', async () => {
    const db = join(rig.dir, 'reused.db');
    const first = await rig.start([], db);
    await first.kill9();
    // A live process that is no rectify, under the killed serve's record: its pid taken again.
    const other = spawn('/bin/sleep', ['600'], { stdio: 'ignore' });
    // Held open, the connection keeps the -wal beside the file, as a running holder does.
    const conn = new Database(db);
    try {
      const record = JSON.parse(conn.prepare("SELECT value FROM settings WHERE key LIKE 'serve.holder:%'").pluck().get() as string) as { pid: number; start: number; since: number };
      const recordAs = (start: number): void =>
        // Written whole, as the single serve.holder row an earlier version kept: a serve stopped cleanly removes its own record.
        void conn
          .prepare("INSERT INTO settings (key, value, updated_at, updated_by) VALUES ('serve.holder', ?, 0, 'rectify') ON CONFLICT(key) DO UPDATE SET value = excluded.value")
          .run(JSON.stringify({ ...record, pid: other.pid!, start }));

      recordAs(startTicks(other.pid!) + 1);
      const reused = await rig.start([], db);
      assert.equal(await reused.stop(), 0);
      // The stale row went at the start, and a clean stop takes the serve's own record away: a
      // process embedding rectify that lives on keeps no later start out.
      assert.equal(conn.prepare("SELECT COUNT(*) FROM settings WHERE key LIKE 'serve.holder%'").pluck().get(), 0);

      recordAs(startTicks(other.pid!));
      assert.ok(existsSync(`${db}-wal`));
      const refused = await serveToExit(db, rig.runbooks);
      assert.deepEqual(refused, { code: 1, stderr: refusal(db, `rectify serve, pid ${other.pid} on ${hostname()} since ${new Date(record.since).toISOString()}`) });
    } finally {
      conn.close();
      other.kill('SIGKILL');
    }
  });

  it('a serve killed and not yet collected by its parent (a zombie: same pid, same start time) does not keep the next one out', async () => {
    const db = join(rig.dir, 'zombie.db');
    const first = await rig.start([], db, { reapedLate: true });
    await first.kill9();
    assert.ok(existsSync(`${db}-wal`), 'killed, it left its -wal: its record is read');
    const next = await rig.start([], db);
    assert.equal(await next.stop(), 0);
    await first.release();
  });

  it('a start refused after it took the lock (a table missing from the database) releases it: the next serve starts', async () => {
    const db = join(rig.dir, 'late.db');
    const first = await rig.start([], db);
    assert.equal(await first.stop(), 0);
    // A table dropped behind rectify's back: found only once the database is open, the lock taken.
    const conn = new Database(db);
    const schema = conn.prepare("SELECT sql FROM sqlite_master WHERE tbl_name = 'rate_events' AND sql IS NOT NULL ORDER BY type DESC").pluck().all() as string[];
    conn.exec('DROP TABLE rate_events');
    conn.close();

    const err: string[] = [];
    const code = await runCli(['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${db}`, '--runbooks', rig.runbooks, '--log-level', 'error'], { out: () => {}, err: (l) => err.push(l), env: {}, cwd: rig.dir });
    assert.equal(code, 1);
    assert.deepEqual(err, [`rectify: cannot start: cannot open the database ${db} (set by --db): no such table: rate_events`]);
    // The lock is free again in this process (the one that was refused) and in others.
    const lock = holdServeLock(db);
    assert.ok(!('heldBy' in lock));
    lock.release();

    const repair = new Database(db);
    for (const sql of schema) repair.exec(sql);
    repair.close();
    const next = await rig.start([], db);
    assert.equal(await next.stop(), 0);
  });
});

describe('a file copied while a rectify held it: the holder record against this file', () => {
  /** A serve's record as it writes it (holderRecord), naming the file `file` (`<device>:<inode>`, or a bare inode as a record without its device). */
  const record = (file: string, host = 'node-a', boot = 'boot-1'): string =>
    JSON.stringify({ command: 'rectify serve', pid: 123, start: 456, boot, pidns: 'pid:[4026531836]', host, since: Date.UTC(2026, 11, 5, 11), file });
  const held = 'copied while rectify serve, pid 123 on node-a since 2026-12-05T11:00:00.000Z had it open, or after it stopped without closing it';
  const here = (file: string, host = 'node-a', boot = 'boot-1') => ({ file, host, boot });

  it('on the same host and boot, the same inode on another device is another file: a copy (a fresh volume hands out the same inode numbers)', () => {
    assert.equal(copiedWhileHeld('/data/rectify.db', record('2049:14'), here('2050:14')), `${held} (its record names device 2049 inode 14, this file is device 2050 inode 14)`);
  });

  it('on the same host and boot, the same device and inode: this very file, no copy', () => {
    assert.equal(copiedWhileHeld('/data/rectify.db', record('2049:14'), here('2049:14')), undefined);
  });

  it('from another host or another boot, the same inode on another device is the same file (a pod started again on its volume elsewhere, a remount): no copy; another inode is one', () => {
    assert.equal(copiedWhileHeld('/data/rectify.db', record('2049:14', 'node-b'), here('2050:14')), undefined);
    assert.equal(copiedWhileHeld('/data/rectify.db', record('2049:14', 'node-a', 'boot-0'), here('2050:14')), undefined);
    assert.equal(copiedWhileHeld('/data/rectify.db', record('2049:14', 'node-b'), here('2050:15')), `${held.replace('node-a', 'node-b')} (its record names inode 14, this file is inode 15)`);
  });

  it('a record without the device is compared by inode alone, on this host and boot too', () => {
    assert.equal(copiedWhileHeld('/data/rectify.db', record('14'), here('2050:14')), undefined);
    assert.equal(copiedWhileHeld('/data/rectify.db', record(':14'), here('2050:14')), undefined);
    assert.equal(copiedWhileHeld('/data/rectify.db', record('14'), here('2050:15')), `${held} (its record names inode 14, this file is inode 15)`);
  });

  it('a holder records the file it opened by device and inode', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-holder-file-'));
    try {
      const db = join(dir, 'rectify.db');
      writeFileSync(db, '');
      const st = statSync(db, { bigint: true });
      const written = holderRecord(db, 'rectify serve', Date.UTC(2026, 11, 5, 11));
      assert.ok(written, 'a record is written where /proc and a boot id are there');
      assert.equal((JSON.parse(written.value) as { file: string }).file, `${st.dev}:${st.ino}`);
      // Read back on this host and boot, it names this very file.
      assert.equal(copiedWhileHeld(db, written.value), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
