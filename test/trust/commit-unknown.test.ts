import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS_DIR } from '../../src/service.js';
import type { Tx } from '../../src/store/ports.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startRectifyProcess, type RectifyProcess } from '../helpers/process.js';
import { httpRunbook, runbooksFile } from '../helpers/runbooks.js';

/**
 * A commit whose fsync fails (SQLITE_IOERR_FSYNC). In WAL mode the frames and their
 * commit marker were written before the sync: the transaction may be in the file or
 * not, and only the WAL recovery of the next open tells. rectify must not answer
 * "nothing was recorded" (the write comes back after a crash), and must write nothing
 * more until a restart settles it.
 *
 * The failure is real: fsync and fdatasync on the database's files fail with EIO, from
 * a library preloaded into a real rectify process (LD_PRELOAD), while a flag file
 * exists. It is built here with the system's C compiler; without one the test is skipped.
 */

const INJECTOR = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static int failing(int fd) {
  const char *flag = getenv("FSYNC_FAULT_FLAG"), *path = getenv("FSYNC_FAULT_PATH");
  if (!flag || !path || access(flag, F_OK) != 0) return 0;
  char link[64], target[1024];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n < 0) return 0;
  target[n] = 0;
  return strstr(target, path) != NULL;
}
int fsync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  if (failing(fd)) { errno = EIO; return -1; }
  return real(fd);
}
int fdatasync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  if (failing(fd)) { errno = EIO; return -1; }
  return real(fd);
}
`;

function buildInjector(dir: string): string | null {
  const src = join(dir, 'fsync-fault.c');
  const lib = join(dir, 'fsync-fault.so');
  writeFileSync(src, INJECTOR);
  try {
    execFileSync('cc', ['-shared', '-fPIC', '-o', lib, src, '-ldl'], { stdio: 'ignore' });
    return lib;
  } catch {
    return null;
  }
}

describe('a commit whose fsync fails: its outcome is not known until a restart', () => {
  let target: HttpTarget;
  let dir: string;
  const procs: RectifyProcess[] = [];
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/act/before', { status: 200 });
    target.route('POST', '/act/unsynced', { status: 200 });
    target.route('POST', '/act/after', { status: 200 });
    dir = mkdtempSync(join(tmpdir(), 'rectify-fsync-'));
    mkdirSync(join(dir, 'runbooks'));
    writeFileSync(join(dir, 'runbooks', 'r.yaml'), runbooksFile(httpRunbook('call', { trigger: 'broken', url: `${target.url}/act/{service}` })));
  });
  after(async () => {
    for (const p of procs) await p.kill9();
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the write is refused as not known (not as not recorded), nothing more is written, /readyz and the log say why; after kill -9 it is there', async (t) => {
    const lib = buildInjector(dir);
    if (!lib) {
      t.skip('no C compiler (cc) to build the fsync fault injector');
      return;
    }
    const db = join(dir, 'rectify.db');
    const flag = join(dir, 'fail-fsync');
    const start = async (env: Record<string, string> = {}): Promise<RectifyProcess> => {
      const p = await startRectifyProcess({ db, runbooks: join(dir, 'runbooks'), env });
      procs.push(p);
      return p;
    };
    const alert = (service: string, id: string) => ({ id, root_cause: 'broken', service, confidence: 1 });

    let p = await start({ LD_PRELOAD: lib, FSYNC_FAULT_FLAG: flag, FSYNC_FAULT_PATH: db });
    assert.equal((await p.post('/api/v1/incidents?wait=true', alert('before', 'BEFORE-1'))).body.success, true);

    writeFileSync(flag, '');
    const refused = await p.post('/api/v1/incidents?wait=true', alert('unsynced', 'UNSYNCED-1'));
    unlinkSync(flag);
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error.code, 'STORE_UNAVAILABLE');
    assert.equal(
      refused.body.error.message,
      'the database could not confirm its commit (SQLITE_IOERR_FSYNC): whether these alerts were recorded is not known until rectify restarts, and nothing more is accepted until then. Alertmanager retries by itself: its retry after the restart is answered duplicate for each alert that was recorded, and decides the others',
    );
    assert.deepEqual(refused.body.error.details, [{ path: 'outcome', message: 'unknown' }]);
    assert.equal(target.calls('/act/unsynced'), 0, 'nothing runs on a commit not known to be recorded');

    // The disk syncs again, but nothing is written until a restart: a commit now would overwrite the WAL frames the recovery reads.
    const lasting =
      'the database could not confirm a commit (SQLITE_IOERR_FSYNC: disk I/O error): whether it was recorded is not known until rectify restarts and SQLite recovers the file. Nothing is accepted until then; check the disk (the kernel log), then restart rectify';
    const next = await p.post('/api/v1/incidents?wait=true', alert('after', 'AFTER-1'));
    assert.deepEqual([next.status, next.body.error.code], [503, 'STORE_UNAVAILABLE']);
    assert.equal(target.calls('/act/after'), 0);
    const ready = await p.get('/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.store_error, lasting);
    const told = p
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: string; msg: string })
      .filter((r) => r.msg === lasting);
    assert.deepEqual(
      told.map((r) => r.level),
      ['error'],
      'logged once, as an error',
    );

    // A crash: the WAL recovery of the next open settles it. Usually the refused write
    // comes back (its frames and commit marker were written, only their sync failed); the
    // first commit after a complete checkpoint restarts the WAL and syncs its new header
    // before writing any frame, and a failure there leaves nothing. Either way "not known"
    // was the truth, and the retry is answered as the file holds it.
    await p.kill9();
    p = await start();
    const cameBack = (await p.get('/api/v1/incidents/UNSYNCED-1')).status;
    assert.ok(cameBack === 200 || cameBack === 404, String(cameBack));
    assert.equal((await p.get('/api/v1/incidents/AFTER-1')).status, 404, 'nothing was written after the fault');
    const retried = await p.post('/api/v1/incidents?wait=true', alert('unsynced', 'UNSYNCED-1'));
    if (cameBack === 200) assert.equal(retried.body.action, 'duplicate');
    else assert.equal(retried.body.success, true, 'not recorded: the retry decides it');
    assert.equal((await p.post('/api/v1/incidents?wait=true', alert('after', 'AFTER-1'))).body.success, true);
    const v = await p.get('/api/v1/audit/verify');
    assert.equal(v.body.ok, true, v.body.reason);
  });
});

/**
 * The same through the store alone, where no C compiler builds the injector: the
 * connection's COMMIT statement raises the error SQLite gives (by code) while a switch
 * is on. A failed sync is not known; a failed write left no commit marker and passes.
 */
describe('the store, given a COMMIT that raises an I/O error', () => {
  const Statement = Object.getPrototypeOf(new Database(':memory:').prepare('SELECT 1')) as { run: (...args: unknown[]) => unknown };
  const run = Statement.run;
  let failWith: string | null = null;
  before(() => {
    Statement.run = function (this: { source: string }, ...args: unknown[]) {
      if (failWith && this.source === 'COMMIT') throw Object.assign(new Error('disk I/O error'), { code: failWith });
      return run.apply(this, args);
    };
  });
  after(() => {
    Statement.run = run;
  });
  const paused = (actor: string) => (tx: Tx) => tx.appendAudit({ at: Date.now(), event: 'SERVICE_PAUSED', actor, details: {} });
  /** The refusal of a write that must be refused. */
  const refusal = (write: Promise<unknown>): Promise<{ code: string; message: string }> =>
    write.then(
      () => assert.fail('the write was accepted'),
      (e: { code: string; message: string }) => e,
    );

  it('SQLITE_IOERR_FSYNC: not known, told once, every later write refused, pruning stops, health says why until a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-commit-'));
    const told: string[] = [];
    const open = () => openSqliteStore({ path: join(dir, 'r.db'), migrationsDir: MIGRATIONS_DIR, lock: 'serve', onLastingFault: (m) => told.push(m) });
    let store = open();
    try {
      assert.equal(await store.transact(paused('ok')), 1);
      failWith = 'SQLITE_IOERR_FSYNC';
      const refused = await refusal(store.transact(paused('unsynced')));
      failWith = null;
      assert.deepEqual([refused.code, refused.message], [
        'STORE_UNAVAILABLE',
        'the database could not confirm its commit (SQLITE_IOERR_FSYNC): whether this was recorded is not known until rectify restarts, and nothing more is accepted until then; after the restart, look whether it was before doing it again',
      ]);
      assert.deepEqual((refused as unknown as { details: unknown }).details, [{ path: 'outcome', message: 'unknown' }]);
      const lasting =
        'the database could not confirm a commit (SQLITE_IOERR_FSYNC: disk I/O error): whether it was recorded is not known until rectify restarts and SQLite recovers the file. Nothing is accepted until then; check the disk (the kernel log), then restart rectify';
      assert.deepEqual(told, [lasting]);
      for (let i = 0; i < 2; i++) {
        assert.equal((await refusal(store.transact(paused('after')))).code, 'STORE_UNAVAILABLE');
        assert.deepEqual(store.health(), { ok: false, detail: lasting });
      }
      assert.deepEqual(store.prune(Date.now() + 1e12, { dedupMs: 0, historyMs: 0 }), { rateEvents: 0, incidents: 0, executions: 0, approvals: 0, more: false });
      assert.deepEqual(told, [lasting], 'told once');
      store.close();
      store = open();
      assert.deepEqual(store.health(), { ok: true, detail: null });
      assert.equal(await store.transact(paused('restarted')), 2);
    } finally {
      failWith = null;
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const lastingFsync =
    'the database could not confirm a commit (SQLITE_IOERR_FSYNC: disk I/O error): whether it was recorded is not known until rectify restarts and SQLite recovers the file. Nothing is accepted until then; check the disk (the kernel log), then restart rectify';

  it("SQLITE_IOERR_FSYNC from pruning's own commit: the same lasting fault, told once, the next write refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-commit-'));
    const path = join(dir, 'r.db');
    const told: string[] = [];
    const store = openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR, lock: 'serve', onLastingFault: (m) => told.push(m) });
    try {
      assert.equal(await store.transact(paused('ok')), 1);
      const other = new Database(path);
      const old = other.prepare("INSERT INTO rate_events (runbook, service, at, execution_id) VALUES ('r', 's', ?, 'e')");
      for (let i = 0; i < 10; i++) old.run(1000 + i);
      other.close();
      failWith = 'SQLITE_IOERR_FSYNC';
      assert.throws(() => store.prune(Date.now(), { dedupMs: 1e12, historyMs: 1e12 }), { code: 'SQLITE_IOERR_FSYNC' });
      failWith = null;
      assert.deepEqual(told, [lastingFsync]);
      assert.deepEqual(store.health(), { ok: false, detail: lastingFsync });
      const next = await refusal(store.transact(paused('after')));
      assert.equal(next.code, 'STORE_UNAVAILABLE');
      assert.deepEqual(store.prune(Date.now(), { dedupMs: 1e12, historyMs: 1e12 }), { rateEvents: 0, incidents: 0, executions: 0, approvals: 0, more: false });
      assert.deepEqual(told, [lastingFsync], 'told once');
    } finally {
      failWith = null;
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("SQLITE_IOERR_FSYNC from the readiness probe's commit: the passing fault becomes lasting, the next write refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-commit-'));
    const told: string[] = [];
    const store = openSqliteStore({ path: join(dir, 'r.db'), migrationsDir: MIGRATIONS_DIR, lock: 'serve', onLastingFault: (m) => told.push(m) });
    try {
      // A failed write: a passing fault, which health() probes with a write of its own.
      failWith = 'SQLITE_IOERR_WRITE';
      assert.equal((await refusal(store.transact(paused('unwritten')))).code, 'STORE_UNAVAILABLE');
      failWith = 'SQLITE_IOERR_FSYNC';
      assert.deepEqual(store.health(), { ok: false, detail: lastingFsync });
      failWith = null;
      assert.deepEqual(told, [lastingFsync]);
      assert.deepEqual(store.health(), { ok: false, detail: lastingFsync }, 'not probed again: a restart settles it');
      assert.equal((await refusal(store.transact(paused('after')))).code, 'STORE_UNAVAILABLE');
      assert.deepEqual(told, [lastingFsync], 'told once');
    } finally {
      failWith = null;
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('SQLITE_IOERR_WRITE: nothing was recorded, and the next write goes through', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-commit-'));
    const told: string[] = [];
    const store = openSqliteStore({ path: join(dir, 'r.db'), migrationsDir: MIGRATIONS_DIR, lock: 'serve', onLastingFault: (m) => told.push(m) });
    try {
      failWith = 'SQLITE_IOERR_WRITE';
      const refused = await refusal(store.transact(paused('unwritten')));
      failWith = null;
      assert.deepEqual([refused.code, refused.message], ['STORE_UNAVAILABLE', 'the database could not commit; nothing was recorded, retry later']);
      assert.equal(await store.transact(paused('next')), 1);
      assert.deepEqual(store.health(), { ok: true, detail: null });
      assert.deepEqual(told, []);
    } finally {
      failWith = null;
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
