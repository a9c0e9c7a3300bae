import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../src/cli/index.js';
import pino from 'pino';
import { loadConfig } from '../../src/config/index.js';
import type { Clock } from '../../src/lib/index.js';
import { createService, MIGRATIONS_DIR } from '../../src/service.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { holdServeLock } from '../../src/store/sqlite/serve-lock.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService } from '../helpers/service.js';

const runbooks = (base: string) => `runbooks:
  fix:
    risk: LOW
    triggers: [broken]
    min_confidence: 0.5
    max_per_hour: 2
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/act/{service}"}
`;
const broken = (service = 'shop') => ({ root_cause: 'broken', service, confidence: 1 });

describe('state survives restarts', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/act/shop', { status: 200 });
  });
  after(async () => target.close());

  it('rate limits, pause, duplicates and the audit log persist across a restart', async () => {
    let svc = await startTestService({ runbooks: runbooks(target.url) });
    assert.equal((await svc.post('/api/v1/incidents?wait=true', { ...broken(), id: 'R1' })).body.action, 'executed');
    assert.equal((await svc.post('/api/v1/incidents?wait=true', broken())).body.action, 'executed');
    await svc.post('/api/v1/pause', { by: 'ops' });
    const auditBefore = (await svc.get('/api/v1/audit?limit=1000')).body.events.length;
    svc = await svc.restart();
    assert.equal((await svc.post('/api/v1/incidents', broken())).body.event, 'PAUSED');
    await svc.post('/api/v1/resume', { by: 'ops' });
    const limited = await svc.post('/api/v1/incidents', broken());
    assert.equal(limited.body.event, 'RATE_LIMITED', 'the two executions before the restart still count');
    assert.equal((await svc.post('/api/v1/incidents', { ...broken(), id: 'R1' })).body.action, 'duplicate');
    const audit = (await svc.get('/api/v1/audit?limit=1000')).body.events;
    assert.equal(audit.length, auditBefore + 4, 'PAUSED, SERVICE_RESUMED, RATE_LIMITED, DUPLICATE appended; nothing lost');
    await svc.stop({ remove: true });
  });

  it('an execution left running by a crash becomes INTERRUPTED, releases its slot, and is not re-run', async () => {
    let svc = await startTestService({ runbooks: runbooks(target.url), args: ['--max-concurrent-executions', '1'] });
    const dbPath = svc.dbPath;
    await svc.stop();
    // What a crash mid-run leaves behind: a running execution, its claim and a started step.
    const db = new Database(dbPath);
    const now = Date.UTC(2026, 10, 24, 3, 0, 0);
    db.prepare(
      `INSERT INTO executions (id, incident_id, runbook, service, state, trigger, actor, plan, steps, started_at, circuit_trial)
       VALUES ('exe_crashed', 'inc_x', 'fix', 'shop', 'running', 'auto', 'rectify', '{}', ?, ?, 0)`,
    ).run(JSON.stringify([{ phase: 'action', index: 0, summary: 'POST /act/shop', started_at: now, finished_at: null, ok: null, detail: null }]), now);
    db.prepare("INSERT INTO blast_claims (execution_id, runbook, service, claimed_at) VALUES ('exe_crashed', 'fix', 'shop', ?)").run(now);
    db.close();
    target.reset();
    target.route('POST', '/hook', { status: 204 });
    svc = await startTestService({ runbooks: runbooks(target.url), dir: svc.dir, args: ['--max-concurrent-executions', '1', '--notify-webhook', `${target.url}/hook`] });
    // A person is told: it may have acted, and nobody knows how it ended.
    const told = (await target.waitForRequest('/hook', { since: 0 })).json() as Record<string, unknown>;
    assert.deepEqual(
      [told.event, told.outcome, told.execution_id, told.incident_id, told.runbook, told.service, told.needs_human],
      ['INTERRUPTED', 'interrupted', 'exe_crashed', 'inc_x', 'fix', 'shop', true],
    );
    assert.equal(told.reason, 'rectify stopped while this execution ran (last step: action 1, POST /act/shop, not finished); its outcome is unknown and it will not be re-run: a person must check');
    const e = await svc.get('/api/v1/executions/exe_crashed');
    assert.equal(e.body.state, 'interrupted');
    assert.equal(e.body.needs_human, true);
    const ev = (await svc.get('/api/v1/audit?event=INTERRUPTED')).body.events;
    assert.equal(ev.length, 1);
    assert.deepEqual(ev[0].details.last_step, { phase: 'action', index: 0, summary: 'POST /act/shop', finished: false });
    assert.equal(target.calls('/act/shop'), 0, 'never re-run by itself');
    // The slot was released: a new incident may run with a limit of 1.
    assert.equal((await svc.post('/api/v1/incidents?wait=true', broken('shop'))).body.action, 'executed');
    await svc.stop({ remove: true });
  });

  it('a rollback cut off by shutdown is INTERRUPTED (a human must check), not FAILED with a failed rollback', async () => {
    target.reset();
    target.route('POST', '/act/rb', { status: 500 });
    target.route('POST', '/undo/rb', { status: 200, delayMs: 5_000 });
    const svc = await startTestService({
      runbooks: `${runbooks(target.url)}    rollback:\n      http: {method: POST, url: "${target.url}/undo/{service}"}\n`,
      args: ['--shutdown-grace', '200ms'],
    });
    const r = await svc.post('/api/v1/incidents', broken('rb'));
    assert.equal(r.body.action, 'executed');
    await target.waitForRequest('/undo/rb');
    await svc.service.close();
    const db = new Database(svc.dbPath, { readonly: true });
    const row = db.prepare('SELECT state, outcome FROM executions WHERE id = ?').get(r.body.execution_id) as { state: string; outcome: string };
    const events = (db.prepare('SELECT event FROM audit WHERE execution_id = ? ORDER BY seq').all(r.body.execution_id) as Array<{ event: string }>).map((e) => e.event);
    const circuit = db.prepare("SELECT failures FROM circuits WHERE runbook = 'fix'").get() as { failures: number };
    db.close();
    assert.equal(row.state, 'interrupted');
    assert.match(row.outcome, /^interrupted during the rollback, after: action 1 failed: POST .*\/act\/rb → 500/);
    assert.equal(events.at(-1), 'INTERRUPTED');
    assert.equal(events.includes('ROLLBACK_FAILED'), false);
    assert.equal(events.includes('FAILED'), false);
    assert.equal(circuit.failures, 1, 'the action did fail');
  });

  it('SIGTERM path: intake stops (readyz 503, POST 503 with Retry-After) and a run cut off is INTERRUPTED, told as left to a person', async () => {
    target.reset();
    target.route('POST', '/act/slow', { status: 200, delayMs: 5_000 });
    target.route('POST', '/hook', { status: 204 });
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--shutdown-grace', '200ms', '--notify-webhook', `${target.url}/hook`] });
    const r = await svc.post('/api/v1/incidents', broken('slow'));
    assert.equal(r.body.action, 'executed');
    await target.waitForRequest('/act/slow');
    const closing = svc.service.close();
    assert.equal((await svc.get('/readyz')).status, 503);
    const refused = await svc.post('/api/v1/incidents', broken('other'));
    assert.equal(refused.status, 503);
    assert.equal(refused.headers['retry-after'], '10');
    await closing;
    const db = new Database(svc.dbPath, { readonly: true });
    const row = db.prepare('SELECT state FROM executions WHERE id = ?').get(r.body.execution_id) as { state: string };
    assert.equal(row.state, 'interrupted');
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM blast_claims').get() as { n: number }).n, 0);
    db.close();
    // Cut off in its action: nobody knows what the action did, and the receiver is told so.
    const told = target.requests('/hook', 'POST').map((q) => q.json() as Record<string, unknown>);
    assert.deepEqual(
      told.map((t) => [t.event, t.outcome, t.execution_id, t.needs_human, t.reason]),
      [['INTERRUPTED', 'interrupted', r.body.execution_id, true, 'interrupted during an action; its outcome is unknown: a person must check']],
    );
  });

  it('the database refuses to rewrite the audit log', async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url) });
    await svc.post('/api/v1/incidents', broken());
    await svc.stop();
    const db = new Database(svc.dbPath);
    assert.throws(() => db.prepare("UPDATE audit SET actor = 'mallory'").run(), /audit log is append-only: UPDATE refused/);
    assert.throws(() => db.prepare('DELETE FROM audit').run(), /audit log is append-only: DELETE refused/);
    db.close();
  });

  it('a database newer than this build is refused at startup', async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url) });
    await svc.stop();
    const db = new Database(svc.dbPath);
    db.prepare("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (999, 'future', 'x', 0)").run();
    db.close();
    await assert.rejects(startTestService({ runbooks: runbooks(target.url), dir: svc.dir }), /schema version 999 \(future\), newer than this rectify knows/);
  });
});

describe('a database file that is not there, or empty', () => {
  it('a missing file, and one of 0 bytes (a copy or restore that wrote nothing), each start a new database, said at the start', async () => {
    const told = (svc: { log: { records(): Record<string, unknown>[] } }) =>
      svc.log
        .records()
        .filter((l) => l.level === 'warn' && typeof l.msg === 'string' && /created a new, empty/.test(l.msg))
        .map((l) => [l.db, l.msg]);
    const first = await startTestService({ runbooks: runbooks('http://127.0.0.1:9'), captureLogs: true });
    assert.deepEqual(told(first), [[first.dbPath, 'no database at this path: created a new, empty one (expected on a first start only)']]);
    await first.post('/api/v1/incidents', { ...broken(), id: 'KEPT-1' });
    await first.stop();
    const again = await startTestService({ dir: first.dir, captureLogs: true });
    assert.deepEqual(told(again), [], 'a database with its rows: nothing said');
    await again.stop();
    // A restore that wrote nothing: the file is there, with 0 bytes.
    truncateSync(first.dbPath, 0);
    const emptied = await startTestService({ dir: first.dir, captureLogs: true });
    try {
      assert.deepEqual(told(emptied), [
        [
          first.dbPath,
          'the database file at this path was empty (0 bytes): created a new, empty database in it (expected on a first start only; after a copy or a restore, the copy wrote nothing: stop rectify and restore the database)',
        ],
      ]);
    } finally {
      await emptied.stop({ remove: true });
    }
  });
});

describe('a database that cannot be opened', () => {
  /** `rectify serve` on the given --db (or RECTIFY_DB), from a folder of its own. */
  async function serve(dir: string, db: { flag?: string; env?: string }): Promise<{ code: number; err: string[] }> {
    mkdirSync(join(dir, 'runbooks'), { recursive: true });
    const err: string[] = [];
    const code = await runCli(['serve', '--listen', '127.0.0.1:0', '--runbooks', join(dir, 'runbooks'), ...(db.flag ? ['--db', db.flag] : [])], {
      out: () => {},
      err: (l) => err.push(l),
      env: db.env ? { RECTIFY_DB: db.env } : {},
      cwd: dir,
    });
    return { code, err };
  }

  it('is refused in one line naming the file and the setting that chose it, and nothing is left beside it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-db-'));
    try {
      writeFileSync(join(dir, 'notes.txt'), 'not a database, but long enough to have a header of sorts: '.repeat(10));
      const junk = await serve(dir, { flag: `sqlite:${join(dir, 'notes.txt')}` });
      assert.equal(junk.code, 1);
      assert.deepEqual(junk.err, [`rectify: cannot start: cannot open the database ${join(dir, 'notes.txt')} (set by --db): file is not a database (point --db at rectify's database file)`]);
      const folder = await serve(dir, { env: `sqlite:${join(dir, 'runbooks')}` });
      assert.equal(folder.code, 1);
      assert.deepEqual(folder.err, [
        `rectify: cannot start: cannot open the database ${join(dir, 'runbooks')} (set by RECTIFY_DB): unable to open database file (is it a file, not a folder, in a folder this user can write?)`,
      ]);
      assert.deepEqual(readdirSync(dir).sort(), ['notes.txt', 'runbooks']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a folder that cannot be made (under /proc) is refused in one line, not waited on without a word', { skip: !existsSync('/proc/self') }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-db-'));
    try {
      mkdirSync(join(dir, 'runbooks'));
      const db = `/proc/rectify-${process.pid}/rectify.db`;
      // A process of its own: where the start hangs, the test must not hang with it.
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--listen', '127.0.0.1:0', '--runbooks', join(dir, 'runbooks'), '--db', `sqlite:${db}`], {
        env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp' },
        encoding: 'utf8',
        timeout: 60_000,
        // A process stuck in a synchronous call never runs its SIGTERM handler.
        killSignal: 'SIGKILL',
      });
      assert.equal(r.signal, null, 'the start did not end');
      assert.equal(r.status, 1, r.stderr);
      assert.deepEqual(r.stderr.trim().split('\n'), [`rectify: cannot start: cannot open the database ${db} (set by --db): ENOENT: no such file or directory, mkdir '/proc/rectify-${process.pid}'`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a listen address that is taken', () => {
  it('is refused in one line before the database is opened: nothing is created, nothing recovered or told', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-port-'));
    const other = createServer();
    await new Promise<void>((resolve) => other.listen({ host: '127.0.0.1', port: 0 }, () => resolve()));
    try {
      const { port } = other.address() as AddressInfo;
      mkdirSync(join(dir, 'runbooks'));
      const err: string[] = [];
      const code = await runCli(['serve', '--listen', `127.0.0.1:${port}`, '--db', `sqlite:${join(dir, 'data', 'rectify.db')}`, '--runbooks', join(dir, 'runbooks')], {
        out: () => {},
        err: (l) => err.push(l),
        env: {},
        cwd: dir,
      });
      assert.equal(code, 1);
      assert.deepEqual(err, [`rectify: cannot listen on 127.0.0.1:${port}: EADDRINUSE (another process listens there: stop it, or set --listen)`]);
      assert.deepEqual(readdirSync(dir), ['runbooks']);
    } finally {
      await new Promise((resolve) => other.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a runbooks folder that is not there', () => {
  it('is refused in one line naming the folder and the setting that chose it: the flag, the variable, the config file or the default', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-rb-'));
    try {
      const missing = join(dir, 'missing');
      writeFileSync(join(dir, 'rectify.yaml'), `runbooks: missing\n`);
      const serve = async (args: string[], env: Record<string, string>, cwd = dir): Promise<{ code: number; err: string[] }> => {
        const err: string[] = [];
        const code = await runCli(['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${join(dir, 'data', 'rectify.db')}`, ...args], { out: () => {}, err: (l) => err.push(l), env, cwd });
        return { code, err };
      };
      // From a folder without a rectify.yaml, so the one beside `missing` is read only when named.
      const elsewhere = join(dir, 'elsewhere');
      mkdirSync(elsewhere);
      const flag = await serve(['--runbooks', missing], {}, elsewhere);
      assert.deepEqual(flag.err, [`${missing}: runbooks folder not found (set by --runbooks)`]);
      assert.equal(flag.code, 2);
      const env = await serve([], { RECTIFY_RUNBOOKS: missing }, elsewhere);
      assert.deepEqual(env.err, [`${missing}: runbooks folder not found (set by RECTIFY_RUNBOOKS)`]);
      const file = await serve(['--config', join(dir, 'rectify.yaml')], {}, elsewhere);
      assert.deepEqual(file.err, [`${missing}: runbooks folder not found (set by runbooks in ${join(dir, 'rectify.yaml')})`]);
      const byDefault = await serve([], {}, elsewhere);
      assert.deepEqual(byDefault.err, [`${join(elsewhere, 'runbooks')}: runbooks folder not found (the default; set --runbooks)`]);
      // A runbook file named where its folder was meant: said so (exit 2), not as the errno of reading it as a folder.
      const rbFile = join(dir, 'r.yaml');
      writeFileSync(rbFile, 'runbooks: {}\n');
      const named = await serve(['--runbooks', rbFile], {}, elsewhere);
      assert.deepEqual(named, { code: 2, err: [`${rbFile}: is a file, not a folder (set by --runbooks): give the folder that holds it, ${dir}`] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('one serving rectify per database', () => {
  it('a second `rectify serve` on the database is refused, naming the first, and leaves its running execution alone', async () => {
    const target = await startHttpTarget();
    target.route('POST', '/act/shop', { status: 200, delayMs: 1_500 });
    const svc = await startTestService({ runbooks: runbooks(target.url), realClock: true });
    try {
      const r = await svc.post('/api/v1/incidents', broken());
      assert.equal(r.body.action, 'executed');
      for (let i = 0; i < 200 && target.calls('/act/shop', 'POST') === 0; i++) await new Promise((res) => setTimeout(res, 5));
      const err: string[] = [];
      const code = await runCli(['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${svc.dbPath}`, '--runbooks', svc.runbooksDir], {
        out: () => {},
        err: (l) => err.push(l),
        env: {},
        cwd: svc.dir,
      });
      assert.equal(code, 1);
      assert.equal(err.length, 1, err.join('\n'));
      assert.match(
        err[0]!,
        new RegExp(`^rectify: cannot start: the database .*rectify\\.db is in use by another rectify \\(rectify serve, pid ${process.pid} on ${hostname()} since \\d{4}-.*\\): stop that one first \\(or let it finish\\), or give this one its own --db$`),
      );
      // The first one's execution was not taken for a crash's leftover: it finishes.
      for (let i = 0; i < 400; i++) {
        if ((await svc.get(`/api/v1/incidents/${r.body.incident_id}`)).body.execution?.state !== 'running') break;
        await new Promise((res) => setTimeout(res, 10));
      }
      const audit = (await svc.get(`/api/v1/audit?incident_id=${r.body.incident_id}`)).body.events.map((e: { event: string }) => e.event).reverse();
      assert.deepEqual(audit, ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'SUCCESS']);
      // Once it stops, the database is free (a crash frees it too: the operating system drops the lock).
      const again = await svc.restart();
      await again.stop({ remove: true });
    } finally {
      await svc.stop().catch(() => undefined);
      await target.close();
    }
  });

  it('local runs share the lock, even started together on a new database; a serve is refused until the last ends', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-lock-'));
    const path = join(dir, 'rectify.db');
    try {
      const locals = [1, 2, 3].map(() => openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR, lock: 'local' }));
      assert.throws(() => openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR, lock: 'serve' }), /is in use by another rectify \(rectify run --local, pid \d+/);
      for (const l of locals.slice(0, 2)) l.close();
      assert.throws(() => openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR, lock: 'serve' }), /is in use by another rectify/);
      locals[2]!.close();
      const serve = openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR, lock: 'serve' });
      assert.throws(() => openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR, lock: 'local' }), /is in use by a rectify serve \(rectify serve, pid \d+/);
      serve.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a start refused by the lock opens nothing: no database file, -wal or -shm is made where a restore (or another rectify) holds the lock', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-lock-'));
    const path = join(dir, 'rectify.db');
    try {
      // rectify restore holds the lock while the database's name is free (the old file kept aside, the backup not yet in place).
      const held = holdServeLock(path);
      assert.ok(!('heldBy' in held));
      for (const lock of ['serve', 'local'] as const) {
        assert.throws(() => openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR, lock }), /is in use by/);
        assert.deepEqual(readdirSync(dir).filter((f) => !f.startsWith('rectify.db.serve-lock')), [], lock);
      }
      held.release();
      openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR, lock: 'serve' }).close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a second rectify given a symbolic link to the database finds the same lock: refused, the first one\'s executions untouched', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-lock-'));
    const path = join(dir, 'rectify.db');
    const link = join(dir, 'current.db');
    try {
      const serve = openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR, lock: 'serve' });
      symlinkSync(path, link);
      // Without one lock for both paths, this serve would take the first one's running executions for a crash's leftovers.
      assert.throws(() => openSqliteStore({ path: link, migrationsDir: MIGRATIONS_DIR, lock: 'serve' }), /^Error: the database .*current\.db is in use by another rectify \(rectify serve, pid \d+/);
      assert.throws(() => openSqliteStore({ path: link, migrationsDir: MIGRATIONS_DIR, lock: 'local' }), /is in use by a rectify serve \(rectify serve, pid \d+/);
      serve.close();
      // The other way round: a local run through the link keeps a serve on the file's own path out.
      const local = openSqliteStore({ path: link, migrationsDir: MIGRATIONS_DIR, lock: 'local' });
      assert.throws(() => openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR, lock: 'serve' }), /is in use by another rectify \(rectify run --local, pid \d+/);
      local.close();
      assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.serve-lock')), ['rectify.db.serve-lock'], 'one lock, beside the file itself');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a database file with a second hard link is refused, by serve and by a local run: the other name would find a lock of its own', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-lock-'));
    const path = join(dir, 'rectify.db');
    const other = join(dir, 'other.db');
    try {
      openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR }).close();
      linkSync(path, other);
      const told = (p: string) =>
        `the database ${p} has 2 hard links (names for the same file): a rectify started on another of them would get past the lock that keeps two rectify off one database. Give the file one name (remove the other links; a symbolic link is fine), or give rectify a copy`;
      for (const p of [path, other]) {
        assert.throws(() => openSqliteStore({ path: p, migrationsDir: MIGRATIONS_DIR, lock: 'serve' }), { message: told(p) });
        assert.throws(() => openSqliteStore({ path: p, migrationsDir: MIGRATIONS_DIR, lock: 'local' }), { message: told(p) });
      }
      rmSync(other);
      const serve = openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR, lock: 'serve' });
      serve.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("another application's SQLite file (tables, no schema_migrations) is refused and left as it was, not migrated into", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-foreign-'));
    const path = join(dir, 'app.db');
    mkdirSync(join(dir, 'runbooks'));
    writeFileSync(join(dir, 'runbooks', 'r.yaml'), runbooks('http://127.0.0.1:9'));
    try {
      const app = new Database(path);
      app.exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('ada')");
      app.close();
      const told = `the database ${path} is not a rectify database (it has tables and no schema_migrations): give rectify its own file`;
      assert.throws(() => openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR }), { message: told });
      const err: string[] = [];
      const code = await runCli(['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${path}`, '--runbooks', join(dir, 'runbooks')], {
        out: () => {},
        err: (l) => err.push(l),
        env: {},
        cwd: dir,
      });
      assert.equal(code, 1);
      assert.deepEqual(err, [`rectify: cannot start: ${told}`]);
      const after = new Database(path, { readonly: true });
      assert.deepEqual(after.prepare("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all(), ['customers']);
      after.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a refused start writes nothing: the file byte for byte as it was (its journal mode too), no lock file beside it, a WAL beside it not checkpointed into it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-refused-'));
    mkdirSync(join(dir, 'runbooks'));
    writeFileSync(join(dir, 'runbooks', 'r.yaml'), runbooks('http://127.0.0.1:9'));
    const files = () => Object.fromEntries(readdirSync(dir).filter((f) => f !== 'runbooks').map((f) => [f, createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')]));
    try {
      // Another application's file, in SQLite's default journal mode (header bytes 18 and 19 are 1).
      const foreign = join(dir, 'app.db');
      const app = new Database(foreign);
      app.exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('ada')");
      app.close();
      // A newer rectify's database, copied as a backup is (one file, no WAL).
      const made = join(dir, 'made.db');
      openSqliteStore({ path: made, migrationsDir: MIGRATIONS_DIR }).close();
      const raw = new Database(made);
      raw.prepare("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (999, 'future', 'x', 0)").run();
      raw.exec(`VACUUM INTO '${join(dir, 'newer.db')}'`);
      raw.close();
      rmSync(made);
      // The same, as a newer rectify killed by kill -9 left it: its last commit only in the WAL beside it.
      const live = join(dir, 'live.db');
      openSqliteStore({ path: live, migrationsDir: MIGRATIONS_DIR }).close();
      const writer = new Database(live);
      writer.pragma('journal_mode = WAL');
      writer.pragma('wal_autocheckpoint = 0');
      writer.prepare("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (999, 'future', 'x', 0)").run();
      for (const f of ['live.db', 'live.db-wal']) writeFileSync(join(dir, f.replace('live', 'killed')), readFileSync(join(dir, f)));
      writer.close();
      rmSync(live);
      rmSync(`${live}.serve-lock`, { force: true });
      assert.ok(readFileSync(join(dir, 'killed.db-wal')).length > 0, 'the newer schema is in the WAL');
      const before = files();
      assert.deepEqual(Object.keys(before).sort(), ['app.db', 'killed.db', 'killed.db-wal', 'newer.db']);
      const told: Record<string, RegExp> = {
        'app.db': /is not a rectify database/,
        'newer.db': /schema version 999 \(future\), newer than this rectify knows/,
        'killed.db': /schema version 999 \(future\), newer than this rectify knows/,
      };
      for (const [name, message] of Object.entries(told)) {
        const path = join(dir, name);
        for (const lock of ['serve', 'local'] as const) assert.throws(() => openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR, lock }), { message }, `${name}, ${lock}`);
        const err: string[] = [];
        const code = await runCli(['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${path}`, '--runbooks', join(dir, 'runbooks')], { out: () => {}, err: (l) => err.push(l), env: {}, cwd: dir });
        assert.equal(code, 1, name);
        assert.match(err.join('\n'), message, name);
      }
      // Only a read-only reader's -shm may have been made beside the WAL; nothing else changed or was added.
      const after = files();
      delete after['killed.db-shm'];
      assert.deepEqual(after, before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a lock file that cannot be used is named as the lock file, not taken for the database; removed, it is made again', async () => {
    const first = await startTestService({ runbooks: runbooks('http://127.0.0.1:9') });
    await first.stop();
    const lockFile = `${first.dbPath}.serve-lock`;
    // Overwritten with something else (a restore, a copy gone wrong): SQLite says "file is not a database".
    writeFileSync(lockFile, 'not a lock: '.repeat(100));
    const told = `cannot use the lock file ${lockFile}, beside the database: file is not a database. It holds nothing but the lock that keeps two rectify off one database: once no rectify uses the database, remove it (it is made again) or give it to this user`;
    assert.throws(() => openSqliteStore({ path: first.dbPath, migrationsDir: MIGRATIONS_DIR, lock: 'serve' }), { message: told });
    const err: string[] = [];
    const code = await runCli(['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${first.dbPath}`, '--runbooks', first.runbooksDir], {
      out: () => {},
      err: (l) => err.push(l),
      env: {},
      cwd: first.dir,
    });
    assert.equal(code, 1);
    assert.deepEqual(err, [`rectify: cannot start: ${told}`]);
    rmSync(lockFile);
    const again = await startTestService({ dir: first.dir });
    assert.equal((await again.get('/readyz')).status, 200);
    await again.stop({ remove: true });
  });

  it('a start that fails once the database is open releases it: a corrected start in the same process is not refused', async () => {
    const first = await startTestService({ runbooks: runbooks('http://127.0.0.1:9') });
    await first.stop();
    // Fails after the store is open: its clock stops once the database is this start's own
    // (nothing before the database reads the clock; the first read is the store's own).
    const loaded = loadConfig(['--listen', '127.0.0.1:0', '--db', `sqlite:${first.dbPath}`, '--runbooks', first.runbooksDir, '--kubernetes', 'off'], {}, { cwd: first.dir });
    assert.ok('config' in loaded);
    const stopped: Clock = {
      now: () => {
        throw new Error('the clock stopped');
      },
    };
    await assert.rejects(() => createService(loaded.config, pino({ level: 'silent' }), { clock: stopped }), /the clock stopped/);
    const again = await startTestService({ dir: first.dir });
    await again.stop({ remove: true });
  });
});
