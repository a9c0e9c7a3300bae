import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { runCli } from '../../src/cli/index.js';
import { configSummary } from '../../src/config/index.js';
import { MIGRATIONS_DIR } from '../../src/service.js';
import { verifyAuditChain } from '../../src/store/audit-verify.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { httpRunbook, runbooksFile } from '../helpers/runbooks.js';
import { startTestService, type TestService } from '../helpers/service.js';

const runbooks = (base: string) => runbooksFile(httpRunbook('fix', { trigger: 'broken', url: `${base}/act/{service}` }));

/** The documented encoding, written out here so the test checks the contract, not the code against itself. */
function expectedHash(prev: string, r: { seq: number; at_ms: number; event: string; incident_id: string | null; runbook: string | null; execution_id: string | null; actor: string; details: unknown }): string {
  const text = JSON.stringify([prev, r.seq, r.at_ms, r.event, r.incident_id, r.runbook, r.execution_id, r.actor, JSON.stringify(r.details)]);
  return createHash('sha256').update(text).digest('hex');
}

/** The documented keyed encoding: `hmac:` + HMAC-SHA256(key, the same JSON array). */
function keyedHash(key: string, prev: string, r: Parameters<typeof expectedHash>[1]): string {
  const text = JSON.stringify([prev, r.seq, r.at_ms, r.event, r.incident_id, r.runbook, r.execution_id, r.actor, JSON.stringify(r.details)]);
  return `hmac:${createHmac('sha256', key).update(text).digest('hex')}`;
}

async function cli(args: string[], cwd: string): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { out: (l) => out.push(l), err: (l) => err.push(l), env: {}, cwd });
  return { code, out, err };
}

/** Edits the database file behind rectify's back: the append-only triggers dropped, the change made, the triggers put back. */
function tamper(dbPath: string, edit: (db: Database.Database) => void): void {
  const db = new Database(dbPath);
  const triggers = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit'").all() as Array<{ sql: string }>;
  assert.equal(triggers.length, 2, 'the append-only triggers exist before the edit');
  db.exec('DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;');
  edit(db);
  for (const t of triggers) db.exec(t.sql);
  db.close();
}

describe('the audit log is a hash chain', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/act/shop', { status: 200 });
  });
  after(async () => target.close());

  async function serviceWithHistory(): Promise<{ svc: TestService; rows: number }> {
    const svc = await startTestService({ runbooks: runbooks(target.url) });
    for (let i = 0; i < 5; i++) {
      const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'broken', service: 'shop', confidence: 1, id: `I${i}` });
      assert.equal(r.body.action, 'executed');
    }
    await svc.post('/api/v1/incidents', { root_cause: 'nothing matches', service: 'shop', confidence: 1 });
    await svc.post('/api/v1/pause', { by: 'ops', reason: 'quote " and \\ and \u2028 and emoji 🚨' });
    const rows = (await svc.get('/api/v1/audit?limit=1000')).body.events.length;
    return { svc, rows };
  }

  it('calls made while a verification walks the log get its result: a burst costs one walk', async () => {
    const { svc, rows } = await serviceWithHistory();
    const store = svc.service.store as { auditHighWater(): number };
    const real = store.auditHighWater.bind(store);
    let walks = 0;
    store.auditHighWater = () => {
      walks++;
      return real();
    };
    const burst = await Promise.all(Array.from({ length: 5 }, () => svc.app.inject({ method: 'GET', url: '/api/v1/audit/verify' })));
    assert.deepEqual(burst.map((r) => [r.statusCode, JSON.parse(r.body).ok, JSON.parse(r.body).head.seq]), Array(5).fill([200, true, rows]));
    assert.equal(walks, 1);
    // The walk over, the next call walks again.
    assert.equal((await svc.get('/api/v1/audit/verify')).body.ok, true);
    assert.equal(walks, 2);
  });

  it('every row links to the one before; verify (API and CLI) says ok; export carries hashes a SIEM can recompute', async () => {
    const { svc, rows } = await serviceWithHistory();
    assert.ok(rows >= 20, `history has ${rows} rows`);
    const v = await svc.get('/api/v1/audit/verify');
    assert.equal(v.status, 200);
    assert.deepEqual({ ...v.body, head: undefined }, { ok: true, rows, unchained: 0, keyed: 0, keyed_from: null, needs_key: false, rotated_at: [], first_bad_seq: null, reason: null, head: undefined });
    assert.equal(v.body.head.seq, rows);

    const res = await svc.app.inject({ method: 'GET', url: '/api/v1/audit/export' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /application\/x-ndjson/);
    const lines = res.body.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, rows);
    let prev = '0'.repeat(64);
    lines.forEach((l, i) => {
      assert.equal(l.seq, i + 1);
      assert.equal(l.prev_hash, prev);
      assert.equal(l.hash, expectedHash(prev, l), `row ${l.seq} recomputes from its export line`);
      assert.equal(l.at, new Date(l.at_ms).toISOString());
      prev = l.hash;
    });
    assert.equal(v.body.head.hash, prev);

    const tail = await svc.app.inject({ method: 'GET', url: `/api/v1/audit/export?after_seq=${rows - 3}` });
    assert.deepEqual(tail.body.trimEnd().split('\n').map((l) => JSON.parse(l).seq), [rows - 2, rows - 1, rows]);
    const none = await svc.app.inject({ method: 'GET', url: '/api/v1/audit/export?since=2099-01-01T00:00:00Z' });
    assert.equal(none.statusCode, 200);
    assert.equal(none.body, '');
    const bad = await svc.get('/api/v1/audit/export?after_seq=-1');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.details[0].path, 'query.after_seq');
    const badSince = await svc.get('/api/v1/audit/export?since=yesterday');
    assert.equal(badSince.status, 400);
    assert.equal(badSince.body.error.details[0].path, 'query.since');
    // Date.parse reads these some other way than meant (a year, a local midnight): refused.
    for (const since of ['1', '2026-11-24', '2026-11-24T03:00:00']) {
      for (const route of ['/api/v1/audit/export', '/api/v1/audit']) {
        const r = await svc.get(`${route}?since=${since}`);
        assert.equal(r.status, 400, `${route} since=${since}`);
        assert.equal(r.body.error.details[0].path, 'query.since');
      }
    }
    // Dates that do not exist, which Date.parse would move to another day: refused, saying why.
    const impossible: Array<[string, string]> = [
      ['2026-02-31T12:00:00Z', '2026-02-31 does not exist: February 2026 has 28 days'],
      ['2026-04-31T12:00:00Z', '2026-04-31 does not exist: April 2026 has 30 days'],
      ['2026-02-29T12:00:00Z', '2026-02-29 does not exist: February 2026 has 28 days'],
      ['2026-11-24T24:00:00Z', '24:00:00 is not a time of day (00:00:00 to 23:59:59): write 00:00:00 of the next day'],
    ];
    for (const [since, message] of impossible) {
      for (const route of ['/api/v1/audit/export', '/api/v1/audit']) {
        const r = await svc.get(`${route}?since=${since}`);
        assert.equal(r.status, 400, `${route} since=${since}`);
        assert.deepEqual(r.body.error.details, [{ path: 'query.since', message }]);
      }
    }
    assert.equal((await svc.get('/api/v1/audit?since=2028-02-29T12:00:00Z')).status, 200, 'a leap day exists');
    assert.equal((await svc.app.inject({ method: 'GET', url: '/api/v1/audit/export?since=2026-11-24T03:00:00%2B01:00' })).statusCode, 200);

    await svc.stop();
    const ok = await cli(['audit', 'verify', '--db', `sqlite:${svc.dbPath}`], svc.dir);
    assert.equal(ok.code, 0, ok.err.join('\n'));
    assert.equal(ok.out[0], `audit chain OK: ${rows} row(s), head seq ${rows} hash ${prev}`);
    const exported = await cli(['audit', 'export', '--db', `sqlite:${svc.dbPath}`, '--after-seq', String(rows - 1)], svc.dir);
    assert.equal(exported.code, 0);
    assert.deepEqual(exported.out.map((l) => JSON.parse(l).hash), [prev]);
    const usage = await cli(['audit-export', '--db', `sqlite:${svc.dbPath}`, '--since', 'soon'], svc.dir);
    assert.equal(usage.code, 2);
    assert.equal((await cli(['audit', 'export', '--db', `sqlite:${svc.dbPath}`, '--since', '1'], svc.dir)).code, 2);
    assert.match(usage.err[0]!, /^--since: expected an RFC 3339 time/);
    const missing = await cli(['audit', 'verify', '--db', `sqlite:${join(svc.dir, 'nope.db')}`], svc.dir);
    assert.equal(missing.code, 2);
    assert.match(missing.err[0]!, /no database at/);
    // The file by position: that file is verified, never the configured database instead.
    const byName = await cli(['audit', 'verify', svc.dbPath], svc.dir);
    assert.equal(byName.code, 0, byName.err.join('\n'));
    assert.equal(byName.out[0], ok.out[0]);
    const wrongName = await cli(['audit', 'verify', join(svc.dir, 'other.db')], svc.dir);
    assert.equal(wrongName.code, 2);
    assert.equal(wrongName.err[0], `rectify audit: no database at ${join(svc.dir, 'other.db')} (set --db sqlite:<path>)`);
    const both = await cli(['audit', 'export', svc.dbPath, '--db', `sqlite:${svc.dbPath}`], svc.dir);
    assert.equal(both.code, 2);
    assert.match(both.err[0]!, /^rectify audit: name one database, either as an argument or with --db/);
    rmSync(svc.dir, { recursive: true, force: true });
  });

  it('a row edited in the file behind rectify\'s back is named (CLI, and the API after a restart)', async () => {
    const { svc, rows } = await serviceWithHistory();
    await svc.stop();
    const victim = 7;
    tamper(svc.dbPath, (db) => {
      const r = db.prepare('UPDATE audit SET details = ? WHERE seq = ?').run(JSON.stringify({ reason: 'nothing to see' }), victim);
      assert.equal(r.changes, 1);
    });
    const v = await cli(['audit', 'verify', '--db', `sqlite:${svc.dbPath}`], svc.dir);
    assert.equal(v.code, 1);
    assert.deepEqual(v.err, [`audit chain BROKEN at seq ${victim}: hash mismatch: row ${victim} was changed`]);

    const again = await svc.restart();
    const api = await again.get('/api/v1/audit/verify');
    assert.equal(api.body.ok, false);
    assert.equal(api.body.first_bad_seq, victim);
    assert.equal(api.body.reason, `hash mismatch: row ${victim} was changed`);
    // New rows keep chaining from the newest row; the old break stays visible.
    await again.post('/api/v1/resume', { by: 'ops' });
    assert.equal((await again.get('/api/v1/audit/verify')).body.first_bad_seq, victim);
    assert.ok(rows > victim);
    await again.stop({ remove: true });
  });

  it('an edit whose row hash was recomputed breaks the next link; a timestamp edit and a moved row are found too', async () => {
    const { svc } = await serviceWithHistory();
    await svc.stop();
    tamper(svc.dbPath, (db) => {
      const row = db.prepare('SELECT * FROM audit WHERE seq = 10').get() as Record<string, unknown>;
      const details = JSON.stringify({ forged: true });
      const hash = expectedHash(row.prev_hash as string, { seq: 10, at_ms: row.at as number, event: row.event as string, incident_id: row.incident_id as string | null, runbook: row.runbook as string | null, execution_id: row.execution_id as string | null, actor: row.actor as string, details: JSON.parse(details) });
      db.prepare('UPDATE audit SET details = ?, hash = ? WHERE seq = 10').run(details, hash);
    });
    let v = await cli(['audit-verify', '--db', `sqlite:${svc.dbPath}`], svc.dir);
    assert.deepEqual(v.err, ['audit chain BROKEN at seq 11: prev_hash of row 11 does not match row 10']);

    const dir2 = (await serviceWithHistory()).svc;
    await dir2.stop();
    tamper(dir2.dbPath, (db) => void db.prepare('UPDATE audit SET at = at - 60000 WHERE seq = 3').run());
    v = await cli(['audit-verify', '--db', `sqlite:${dir2.dbPath}`], dir2.dir);
    assert.deepEqual(v.err, ['audit chain BROKEN at seq 3: hash mismatch: row 3 was changed']);
    rmSync(svc.dir, { recursive: true, force: true });
    rmSync(dir2.dir, { recursive: true, force: true });
  });

  it('a deleted row is a gap; deleting the newest rows is found too, and stays found after new rows', async () => {
    const { svc, rows } = await serviceWithHistory();
    await svc.stop();
    tamper(svc.dbPath, (db) => void db.prepare('DELETE FROM audit WHERE seq = 17').run());
    let v = await cli(['audit', 'verify', '--db', `sqlite:${svc.dbPath}`], svc.dir);
    assert.deepEqual(v.err, ['audit chain BROKEN at seq 17: row 17 is missing']);

    const fresh = (await serviceWithHistory()).svc;
    await fresh.stop();
    tamper(fresh.dbPath, (db) => void db.prepare('DELETE FROM audit WHERE seq > ?').run(rows - 2));
    v = await cli(['audit', 'verify', '--db', `sqlite:${fresh.dbPath}`], fresh.dir);
    assert.deepEqual(v.err, [`audit chain BROKEN at seq ${rows - 1}: rows ${rows - 1} to ${rows} are missing (the newest rows were removed)`]);
    const again = await fresh.restart();
    await again.post('/api/v1/resume', { by: 'ops' });
    const api = (await again.get('/api/v1/audit/verify')).body;
    assert.equal(api.ok, false);
    assert.equal(api.first_bad_seq, rows - 1);
    assert.equal(api.reason, `rows ${rows - 1} to ${rows} are missing`);
    await again.stop({ remove: true });
    rmSync(svc.dir, { recursive: true, force: true });
  });

  it('the first row\'s hash removed is named at that row, not at the row after it whose link still points to it', async () => {
    const { svc } = await serviceWithHistory();
    await svc.stop();
    tamper(svc.dbPath, (db) => void db.prepare('UPDATE audit SET hash = NULL, prev_hash = NULL WHERE seq = 1').run());
    const v = await cli(['audit', 'verify', '--db', `sqlite:${svc.dbPath}`], svc.dir);
    assert.deepEqual({ code: v.code, err: v.err }, {
      code: 1,
      err: ['audit chain BROKEN at seq 1: row 1 has no hash, yet row 2 after it links to one (the first row of a chain links to the genesis value): row 1\'s hash was removed, or row 2 was changed'],
    });
    rmSync(svc.dir, { recursive: true, force: true });
  });
});

describe('an audit row whose details are not JSON (changed behind rectify\'s back)', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/act/shop', { status: 200 });
    target.route('POST', '/hook', { status: 200 });
  });
  after(async () => target.close());

  it('is listed and exported with its stored text and details_unreadable; the start does not fail on it (logged with its seq); verify still names it', async () => {
    const args = ['--notify-webhook', `${target.url}/hook`];
    const svc = await startTestService({ runbooks: runbooks(target.url), args });
    assert.equal((await svc.post('/api/v1/incidents?wait=true', { root_cause: 'broken', service: 'shop', confidence: 1, id: 'J1' })).body.action, 'executed');
    const success = svc.service.store.queryAudit({ event: 'SUCCESS', limit: 1 })[0]!.seq;
    const rows = svc.service.store.auditHighWater();
    await svc.stop();
    // The outcome row, which a start reads back to tell what was owed: its details made unreadable.
    tamper(svc.dbPath, (db) => db.prepare("UPDATE audit SET details = 'not json {' WHERE seq = ?").run(success));

    const again = await startTestService({ dir: svc.dir, clock: svc.clock, args, captureLogs: true });
    const warned = again.log.records().filter((l) => l.seq === success);
    assert.deepEqual(warned.map((l) => l.msg), ["an audit row's details are not JSON (the row was changed behind rectify's back): read back as none; rectify audit verify names the row"]);
    const page = await again.get('/api/v1/audit?limit=1000');
    assert.equal(page.status, 200);
    const listed = (page.body.events as Array<Record<string, unknown>>).find((e) => e.seq === success)!;
    assert.deepEqual([listed.details, listed.details_unreadable], ['not json {', true]);
    assert.equal((page.body.events as Array<Record<string, unknown>>).filter((e) => 'details_unreadable' in e).length, 1, 'only that row is flagged');
    const byIncident = await again.get('/api/v1/audit?incident_id=J1');
    assert.equal(byIncident.status, 200);
    const exported = await again.app.inject({ method: 'GET', url: '/api/v1/audit/export' });
    assert.equal(exported.statusCode, 200);
    const lines = exported.body.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const line = lines.find((l) => l.seq === success)!;
    assert.deepEqual([line.details, line.details_unreadable, lines.length >= rows], ['not json {', true, true]);
    const v = (await again.get('/api/v1/audit/verify')).body;
    assert.deepEqual([v.ok, v.first_bad_seq, v.reason], [false, success, `hash mismatch: row ${success} was changed`]);
    await again.stop();

    const cliExport = await cli(['audit', 'export', svc.dbPath], svc.dir);
    assert.equal(cliExport.code, 0, cliExport.err.join('\n'));
    const cliLine = cliExport.out.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.seq === success)!;
    assert.deepEqual([cliLine.details, cliLine.details_unreadable], ['not json {', true]);
    const cliVerify = await cli(['audit', 'verify', svc.dbPath], svc.dir);
    assert.deepEqual([cliVerify.code, cliVerify.err], [1, [`audit chain BROKEN at seq ${success}: hash mismatch: row ${success} was changed`]]);
    rmSync(svc.dir, { recursive: true, force: true });
  });
});

describe('with an audit key (--audit-key): hashes only the key holder can make', () => {
  const KEY = 'f3a9c1d07b5e42a8961c0d2e4f6a8b1c3d5e7f90a2b4c6d8e0f1a3b5c7d9e1f2';
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/act/shop', { status: 200 });
  });
  after(async () => target.close());

  async function keyedHistory(args: string[] = ['--audit-key', KEY]): Promise<{ svc: TestService; rows: number }> {
    const svc = await startTestService({ runbooks: runbooks(target.url), args });
    for (let i = 0; i < 3; i++) assert.equal((await svc.post('/api/v1/incidents?wait=true', { root_cause: 'broken', service: 'shop', confidence: 1, id: `K${i}` })).body.action, 'executed');
    await svc.post('/api/v1/pause', { by: 'ops', reason: 'keyed' });
    return { svc, rows: (await svc.get('/api/v1/audit?limit=1000')).body.events.length };
  }
  /** Rewrites rows from `fromSeq` on with `hashOf` (as someone with write access but without the key would), links kept consistent. */
  function rewrite(dbPath: string, fromSeq: number, hashOf: (prev: string, r: Parameters<typeof expectedHash>[1]) => string, edit?: (r: Record<string, unknown>) => void): void {
    tamper(dbPath, (db) => {
      const rows = db.prepare('SELECT * FROM audit WHERE seq >= ? ORDER BY seq').all(fromSeq) as Array<Record<string, unknown>>;
      let prev = fromSeq === 1 ? '0'.repeat(64) : ((db.prepare('SELECT hash FROM audit WHERE seq = ?').get(fromSeq - 1) as { hash: string }).hash);
      for (const r of rows) {
        if (r.seq === fromSeq) edit?.(r);
        const hash = hashOf(prev, { seq: r.seq as number, at_ms: r.at as number, event: r.event as string, incident_id: r.incident_id as string | null, runbook: r.runbook as string | null, execution_id: r.execution_id as string | null, actor: r.actor as string, details: JSON.parse(r.details as string) });
        db.prepare('UPDATE audit SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?').run(r.details, prev, hash, r.seq);
        prev = hash;
      }
    });
  }

  it('every row is an HMAC under the key (AUDIT_KEY_SET first); verify needs the key, and says so without it', async () => {
    const { svc, rows } = await keyedHistory();
    const lines = (await svc.app.inject({ method: 'GET', url: '/api/v1/audit/export' })).body.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines[0].event, 'AUDIT_KEY_SET');
    let prev = '0'.repeat(64);
    for (const l of lines) {
      assert.equal(l.hash, keyedHash(KEY, prev, l), `row ${l.seq}`);
      prev = l.hash;
    }
    const v = (await svc.get('/api/v1/audit/verify')).body;
    assert.deepEqual({ ...v, head: undefined }, { ok: true, rows, unchained: 0, keyed: rows, keyed_from: 1, needs_key: false, rotated_at: [], first_bad_seq: null, reason: null, head: undefined });
    assert.equal(configSummary(svc.config).auditKey, 'set', 'the key is never in the startup summary');
    await svc.stop();
    const ok = await cli(['audit', 'verify', '--db', `sqlite:${svc.dbPath}`, '--audit-key', KEY], svc.dir);
    assert.equal(ok.code, 0, ok.err.join('\n'));
    assert.equal(ok.out[0], `audit chain OK: ${rows} row(s) (${rows} keyed from seq 1), head seq ${rows} hash ${prev}`);
    const without = await cli(['audit', 'verify', '--db', `sqlite:${svc.dbPath}`], svc.dir);
    assert.equal(without.code, 2);
    assert.deepEqual(without.err, ['audit chain NOT VERIFIED from seq 1: row 1 is hashed with the audit key: give the key (--audit-key) to verify it']);
    const short = await cli(['audit', 'verify', '--db', `sqlite:${svc.dbPath}`, '--audit-key', 'short'], svc.dir);
    assert.equal(short.code, 2);
    assert.deepEqual(short.err, ['--audit-key: the audit key must be at least 32 characters (`openssl rand -hex 32` makes one)']);
    rmSync(svc.dir, { recursive: true, force: true });
  });

  it('a row changed and re-hashed without the key is found: plain sha256, another key, or the whole log rewritten plain', async () => {
    const cases: Array<[string, number, (prev: string, r: Parameters<typeof expectedHash>[1]) => string, (rows: number) => string]> = [
      ['plain from row 4', 4, expectedHash, () => 'audit chain BROKEN at seq 4: row 4 is not hashed with the audit key, yet keyed rows come before it: it was written or rewritten without the key'],
      ['another key from row 4', 4, (p, r) => keyedHash('0'.repeat(64), p, r), () => 'audit chain BROKEN at seq 4: hash mismatch: row 4 was changed, or hashed with another key'],
      ['all plain from row 1', 1, expectedHash, (rows) => `audit chain BROKEN at seq ${rows}: the newest row (${rows}) is not hashed with the audit key: rows were written without the key since it was set, or the log was rewritten`],
    ];
    for (const [what, from, hashOf, message] of cases) {
      const { svc, rows } = await keyedHistory();
      await svc.stop();
      rewrite(svc.dbPath, from, hashOf, (r) => void (r.details = JSON.stringify({ forged: what })));
      const v = await cli(['audit', 'verify', '--db', `sqlite:${svc.dbPath}`, '--audit-key', KEY], svc.dir);
      assert.equal(v.code, 1, what);
      assert.deepEqual(v.err, [message(rows)], what);
      rmSync(svc.dir, { recursive: true, force: true });
    }
  });

  it('a log written before the key keeps its plain rows; the key starts at AUDIT_KEY_SET and cannot be dropped or swapped', async () => {
    const { svc, rows } = await keyedHistory([]);
    await svc.stop();
    const keyed = await startTestService({ dir: svc.dir, args: ['--audit-key', KEY] });
    const first = keyed.service.store.queryAudit({ event: 'AUDIT_KEY_SET', limit: 5 });
    assert.equal(first.length, 1);
    assert.equal(first[0]!.seq, rows + 1);
    const v = (await keyed.get('/api/v1/audit/verify')).body;
    assert.equal(v.ok, true);
    assert.equal(v.keyed, 1);
    assert.equal(v.keyed_from, rows + 1);
    await keyed.stop();
    // A restart with the key again adds no second AUDIT_KEY_SET.
    const again = await startTestService({ dir: svc.dir, args: ['--audit-key', KEY] });
    assert.equal(again.service.store.queryAudit({ event: 'AUDIT_KEY_SET', limit: 5 }).length, 1);
    await again.stop();
    await assert.rejects(startTestService({ dir: svc.dir }), /the audit log's rows are hashed with an audit key \(newest row \d+\): start with --audit-key set to that key/);
    await assert.rejects(startTestService({ dir: svc.dir, args: ['--audit-key', 'a'.repeat(64)] }), /does not verify with this --audit-key: it is another key/);
    const ok = await cli(['audit', 'verify', '--db', `sqlite:${svc.dbPath}`, '--audit-key', KEY], svc.dir);
    assert.equal(ok.code, 0, ok.err.join('\n'));
    assert.match(ok.out[0]!, new RegExp(`^audit chain OK: ${rows + 1} row\\(s\\) \\(1 keyed from seq ${rows + 1}\\), `));
    rmSync(svc.dir, { recursive: true, force: true });
  });

  it('a row inserted at seq 0 or below (outside the chain) is a break named by the lowest such seq; the export includes it', async () => {
    const { svc, rows } = await keyedHistory();
    await svc.stop();
    // The triggers refuse UPDATE and DELETE only: a plain INSERT with a seq of its own goes in.
    const insert = (db: Database.Database, seq: number, event: string, incident: string, actor: string) =>
      db.prepare("INSERT INTO audit (seq, at, event, incident_id, runbook, execution_id, actor, details, prev_hash, hash) VALUES (?, ?, ?, ?, 'fix', NULL, ?, '{}', NULL, NULL)").run(seq, Date.UTC(2026, 10, 24, 3), event, incident, actor);
    tamper(svc.dbPath, (db) => {
      insert(db, 0, 'APPROVED', 'K0', 'alice');
      insert(db, -7, 'MANUAL_RUN', 'K1', 'mallory');
    });
    const broken = 'row -7 has a seq of 0 or below, which rectify never writes: it was inserted outside the chain';
    const v = await cli(['audit', 'verify', '--db', `sqlite:${svc.dbPath}`, '--audit-key', KEY], svc.dir);
    assert.equal(v.code, 1);
    assert.deepEqual(v.err, [`audit chain BROKEN at seq -7: ${broken}`]);
    const exported = await cli(['audit', 'export', svc.dbPath], svc.dir);
    assert.equal(exported.code, 0);
    assert.deepEqual(exported.out.map((l) => JSON.parse(l).seq), [-7, 0, ...Array.from({ length: rows }, (_, i) => i + 1)]);
    const from0 = await cli(['audit', 'export', svc.dbPath, '--after-seq', '0'], svc.dir);
    assert.equal(from0.out.length, rows, '--after-seq 0 resumes after seq 0, as documented');

    const again = await startTestService({ dir: svc.dir, args: ['--audit-key', KEY] });
    const api = (await again.get('/api/v1/audit/verify')).body;
    assert.deepEqual({ ok: api.ok, first_bad_seq: api.first_bad_seq, reason: api.reason, needs_key: api.needs_key }, { ok: false, first_bad_seq: -7, reason: broken, needs_key: false });
    const lines = (await again.app.inject({ method: 'GET', url: '/api/v1/audit/export' })).body.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.slice(0, 2).map((l) => [l.seq, l.actor, l.hash]), [[-7, 'mallory', null], [0, 'alice', null]]);
    // The pages list them too, whichever filter: a page read in steps (event) as one read at once (incident).
    assert.deepEqual((await again.get('/api/v1/audit?event=MANUAL_RUN')).body.events.map((e: { seq: number }) => e.seq), [-7]);
    assert.deepEqual((await again.get('/api/v1/audit?incident_id=K0')).body.events.map((e: { seq: number }) => e.seq).slice(-1), [0]);
    const paged = await again.get('/api/v1/audit?event=APPROVED&limit=1');
    assert.deepEqual([paged.body.events.map((e: { seq: number }) => e.seq), paged.body.next_cursor], [[0], null]);
    await again.stop();
    rmSync(svc.dir, { recursive: true, force: true });
  });
});

describe('rotating the audit key (--audit-previous-keys)', () => {
  const OLD = 'f3a9c1d07b5e42a8961c0d2e4f6a8b1c3d5e7f90a2b4c6d8e0f1a3b5c7d9e1f2';
  const NEW = '0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c';
  const NEWER = '9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d';
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/act/shop', { status: 200 });
  });
  after(async () => target.close());

  const decide = async (svc: TestService, id: string) =>
    assert.equal((await svc.post('/api/v1/incidents?wait=true', { root_cause: 'broken', service: 'shop', confidence: 1, id })).body.action, 'executed');
  const verifyCli = (svc: TestService, ...args: string[]) => cli(['audit', 'verify', '--db', `sqlite:${svc.dbPath}`, ...args], svc.dir);

  it('a log under the old key moves to the new one at an AUDIT_KEY_ROTATED row the new key signs; both verify it, each key alone does not', async () => {
    const first = await startTestService({ runbooks: runbooks(target.url), args: ['--audit-key', OLD] });
    await decide(first, 'R1');
    const oldRows = first.service.store.auditHighWater();
    await first.stop();

    // The new key alone does not start on a log under the old one, and says how to move it.
    await assert.rejects(startTestService({ dir: first.dir, args: ['--audit-key', NEW] }), /give the old one in --audit-previous-keys/);
    const rotated = await startTestService({ dir: first.dir, args: ['--audit-key', NEW, '--audit-previous-keys', OLD] });
    const rotation = rotated.service.store.queryAudit({ event: 'AUDIT_KEY_ROTATED', limit: 5 });
    assert.deepEqual(rotation.map((r) => r.seq), [oldRows + 1]);
    await decide(rotated, 'R2');
    const v = (await rotated.get('/api/v1/audit/verify')).body;
    assert.equal(v.ok, true, v.reason);
    assert.deepEqual(v.rotated_at, [oldRows + 1]);
    const lines = (await rotated.app.inject({ method: 'GET', url: '/api/v1/audit/export' })).body.trimEnd().split('\n').map((l) => JSON.parse(l));
    for (const l of lines) assert.equal(l.hash, keyedHash(l.seq <= oldRows ? OLD : NEW, l.prev_hash, l), `row ${l.seq} is under the ${l.seq <= oldRows ? 'old' : 'new'} key`);
    await rotated.stop();

    // A restart with the same settings writes no second rotation; the new key alone now starts.
    const again = await startTestService({ dir: first.dir, args: ['--audit-key', NEW, '--audit-previous-keys', OLD] });
    assert.equal(again.service.store.queryAudit({ event: 'AUDIT_KEY_ROTATED', limit: 5 }).length, 1);
    await again.stop();
    const alone = await startTestService({ dir: first.dir, args: ['--audit-key', NEW] });
    await alone.stop();
    // The retired key no longer starts the service.
    await assert.rejects(startTestService({ dir: first.dir, args: ['--audit-key', OLD] }), /does not verify with this --audit-key/);

    const both = await verifyCli(first, '--audit-key', NEW, '--audit-previous-keys', OLD);
    assert.equal(both.code, 0, both.err.join('\n'));
    assert.match(both.out[0]!, new RegExp(`^audit chain OK: \\d+ row\\(s\\) \\(\\d+ keyed from seq 1; key rotated at seq ${oldRows + 1}\\), head seq`));
    const newOnly = await verifyCli(first, '--audit-key', NEW);
    assert.equal(newOnly.code, 2, 'rows under the retired key are not verified, not broken');
    // The retired key alone: the rows it signs verify, and the log moved on to a newer key
    // at its rotation row, which links to them: not verified (exit 2), never broken.
    const oldOnly = await verifyCli(first, '--audit-key', OLD);
    const newest = (await verifyCli(first, '--audit-key', NEW, '--audit-previous-keys', OLD)).out[0]!.match(/head seq (\d+)/)![1];
    const reKeyed =
      `the log was re-keyed at row ${oldRows + 1} (AUDIT_KEY_ROTATED), which links to the rows before it, and those verify: ` +
      `rows ${oldRows + 1} to ${newest} are under a newer audit key than those given; give it as --audit-key (with this one in --audit-previous-keys) to verify them`;
    assert.deepEqual({ code: oldOnly.code, out: oldOnly.out, err: oldOnly.err }, { code: 2, out: [], err: [`audit chain NOT VERIFIED from seq ${oldRows + 1}: ${reKeyed}`] });
    // A backup taken with the retired key alone is a good copy whose newer rows are not checked.
    const copy = join(first.dir, 'copy.db');
    const backup = await cli(['backup', copy, first.dbPath, '--audit-key', OLD], first.dir);
    assert.equal(backup.code, 0, backup.err.join('\n'));
    assert.equal(backup.out.at(-1), `audit chain NOT CHECKED from seq ${oldRows + 1}: ${reKeyed}`);
    rmSync(first.dir, { recursive: true, force: true });
  });

  it('a start that would move the log back to a key it rotated away from is refused, naming the rotation row; nothing is written', async () => {
    const first = await startTestService({ runbooks: runbooks(target.url), args: ['--audit-key', OLD] });
    await decide(first, 'B1');
    await first.stop();
    const rotated = await startTestService({ dir: first.dir, args: ['--audit-key', NEW, '--audit-previous-keys', OLD] });
    const rotationSeq = rotated.service.store.queryAudit({ event: 'AUDIT_KEY_ROTATED', limit: 1 })[0]!.seq;
    await decide(rotated, 'B2');
    const newest = rotated.service.store.auditHighWater();
    await rotated.stop();

    await assert.rejects(
      startTestService({ dir: first.dir, args: ['--audit-key', OLD, '--audit-previous-keys', NEW] }),
      new RegExp(`^LoadError: --audit-key: the audit log moved away from this --audit-key at row ${rotationSeq} \\(AUDIT_KEY_ROTATED\\), and it never goes back to a key it has left: start with the key its newest row \\(${newest}\\) is under as --audit-key, or rotate to a new key, with the old ones in --audit-previous-keys$`),
    );
    const db = new Database(first.dbPath, { readonly: true });
    assert.equal((db.prepare('SELECT MAX(seq) FROM audit').pluck().get() as number), newest, 'the refused start wrote no row');
    db.close();
    const v = await verifyCli(first, '--audit-key', NEW, '--audit-previous-keys', OLD);
    assert.equal(v.code, 0, v.err.join('\n'));
    // Moving on to a third key, with both old ones given, still starts.
    const newer = await startTestService({ dir: first.dir, args: ['--audit-key', NEWER, '--audit-previous-keys', `${OLD},${NEW}`] });
    await newer.stop();
    const all = await verifyCli(first, '--audit-key', NEWER, '--audit-previous-keys', `${OLD},${NEW}`);
    assert.equal(all.code, 0, all.err.join('\n'));
    rmSync(first.dir, { recursive: true, force: true });
  });

  it('a start refused for its audit key changes nothing in the database, exits 2 and names where the key was set', async () => {
    const first = await startTestService({ runbooks: runbooks(target.url), args: ['--audit-key', OLD] });
    await decide(first, 'W1');
    const newest = first.service.store.auditHighWater();
    await first.stop();
    /** Every table's rows, the schema version, the file's bytes and the files beside it. */
    const state = () => {
      const db = new Database(first.dbPath, { readonly: true });
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];
      const rows = Object.fromEntries(tables.map((t) => [t, db.prepare(`SELECT * FROM "${t}"`).all()]));
      const version = db.pragma('user_version', { simple: true });
      db.close();
      return { rows, version, file: createHash('sha256').update(readFileSync(first.dbPath)).digest('hex'), beside: readdirSync(dirname(first.dbPath)).sort() };
    };
    const before = state();
    const serve = (env: Record<string, string>, cwd = first.dir) => {
      const out: string[] = [];
      const err: string[] = [];
      const args = ['serve', '--db', `sqlite:${first.dbPath}`, '--runbooks', first.runbooksDir, '--listen', '127.0.0.1:0', '--kubernetes', 'off'];
      return runCli(args, { out: (l) => out.push(l), err: (l) => err.push(l), env, cwd }).then((code) => ({ code, out, err }));
    };
    const refusal = (name: string) =>
      `the newest audit row (${newest}) does not verify with this ${name}: it is another key than the one the log was written with, or the row was changed (rectify audit verify says which); to move the log to a new key, give the old one in --audit-previous-keys`;

    const byEnv = await serve({ RECTIFY_AUDIT_KEY: NEW });
    assert.deepEqual(byEnv, { code: 2, out: [], err: [`RECTIFY_AUDIT_KEY: ${refusal('RECTIFY_AUDIT_KEY')}`] });
    assert.deepEqual(state(), before, 'the refused start wrote nothing: no holder row, no owner row, no lock file');

    const conf = join(first.dir, 'conf');
    mkdirSync(conf);
    writeFileSync(join(conf, 'rectify.yaml'), `log_level: warn\naudit_key: ${NEW}\n`);
    const byFile = await serve({}, conf);
    assert.deepEqual(byFile, { code: 2, out: [], err: [`rectify.yaml:2: audit_key: ${refusal('audit_key')}`] });
    assert.deepEqual(state(), before);

    // No key at all for a keyed log: refused the same way, before any write.
    const none = await serve({});
    assert.deepEqual(none, { code: 2, out: [], err: [`--audit-key: the audit log's rows are hashed with an audit key (newest row ${newest}): start with --audit-key set to that key`] });
    assert.deepEqual(state(), before);
    rmSync(first.dir, { recursive: true, force: true });
  });

  it('whoever holds the retired key cannot add a row after the rotation, nor change a row before it; a key change without the rotation row is refused', async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--audit-key', OLD] });
    await decide(svc, 'T1');
    await svc.stop();
    const rotated = await startTestService({ dir: svc.dir, args: ['--audit-key', NEW, '--audit-previous-keys', OLD] });
    await decide(rotated, 'T2');
    const rotationSeq = rotated.service.store.queryAudit({ event: 'AUDIT_KEY_ROTATED', limit: 1 })[0]!.seq;
    const newest = rotated.service.store.auditHighWater();
    await rotated.stop();
    const copy = (name: string) => {
      const path = join(svc.dir, name);
      const db = new Database(svc.dbPath);
      db.exec(`VACUUM INTO '${path}'`);
      db.close();
      return path;
    };
    const rowOf = (r: Record<string, unknown>) => ({ seq: r.seq as number, at_ms: r.at as number, event: r.event as string, incident_id: r.incident_id as string | null, runbook: r.runbook as string | null, execution_id: r.execution_id as string | null, actor: r.actor as string, details: JSON.parse(r.details as string) });
    const verifyAt = (path: string) => cli(['audit', 'verify', '--db', `sqlite:${path}`, '--audit-key', NEW, '--audit-previous-keys', OLD], svc.dir);

    // A row appended after the rotation, signed with the old key.
    const appended = copy('appended.db');
    tamper(appended, (db) => {
      const last = db.prepare('SELECT * FROM audit ORDER BY seq DESC LIMIT 1').get() as Record<string, unknown>;
      const row = { ...rowOf(last), seq: newest + 1, event: 'SERVICE_RESUMED', details: { forged: true } };
      db.prepare('INSERT INTO audit (seq, at, event, incident_id, runbook, execution_id, actor, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
        row.seq, row.at_ms, row.event, row.incident_id, row.runbook, row.execution_id, row.actor, JSON.stringify(row.details), last.hash, keyedHash(OLD, last.hash as string, row));
    });
    const a = await verifyAt(appended);
    assert.equal(a.code, 1);
    assert.deepEqual(a.err, [`audit chain BROKEN at seq ${newest + 1}: row ${newest + 1} is hashed with an audit key the log had already moved away from (at row ${rotationSeq}): written by someone holding a retired key`]);

    // A row before the rotation changed and re-signed with the old key: the rotation row's link breaks.
    const changed = copy('changed.db');
    tamper(changed, (db) => {
      const rows = db.prepare('SELECT * FROM audit WHERE seq >= 2 AND seq < ? ORDER BY seq').all(rotationSeq) as Array<Record<string, unknown>>;
      let prev = (db.prepare('SELECT hash FROM audit WHERE seq = 1').get() as { hash: string }).hash;
      for (const r of rows) {
        const row = rowOf(r);
        if (row.seq === 2) row.details = { forged: true };
        const hash = keyedHash(OLD, prev, row);
        db.prepare('UPDATE audit SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?').run(JSON.stringify(row.details), prev, hash, row.seq);
        prev = hash;
      }
    });
    const c = await verifyAt(changed);
    assert.equal(c.code, 1);
    assert.deepEqual(c.err, [`audit chain BROKEN at seq ${rotationSeq}: prev_hash of row ${rotationSeq} does not match row ${rotationSeq - 1}`]);

    // The key changed at an ordinary row (someone holding the new key rewrote the rotation row as something else).
    const relabelled = copy('relabelled.db');
    tamper(relabelled, (db) => {
      const r = db.prepare('SELECT * FROM audit WHERE seq = ?').get(rotationSeq) as Record<string, unknown>;
      const row = { ...rowOf(r), event: 'SERVICE_RESUMED' };
      const rest = db.prepare('SELECT * FROM audit WHERE seq > ? ORDER BY seq').all(rotationSeq) as Array<Record<string, unknown>>;
      let prev = keyedHash(NEW, r.prev_hash as string, row);
      db.prepare('UPDATE audit SET event = ?, hash = ? WHERE seq = ?').run(row.event, prev, rotationSeq);
      for (const x of rest) {
        const h = keyedHash(NEW, prev, rowOf(x));
        db.prepare('UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?').run(prev, h, x.seq);
        prev = h;
      }
    });
    const l = await verifyAt(relabelled);
    assert.equal(l.code, 1);
    // The rotation row and every row after it removed, the sequence set back to match: the log ends under the old key.
    const cut = copy('cut.db');
    tamper(cut, (db) => {
      db.prepare('DELETE FROM audit WHERE seq >= ?').run(rotationSeq);
      db.prepare("UPDATE sqlite_sequence SET seq = ? WHERE name = 'audit'").run(rotationSeq - 1);
    });
    const t = await verifyAt(cut);
    assert.equal(t.code, 1);
    assert.deepEqual(t.err, [
      `audit chain BROKEN at seq ${rotationSeq - 1}: the newest row (${rotationSeq - 1}) is under a previous audit key, not --audit-key: the log was not moved to this key yet (start rectify with it, or verify with the old key alone), or the rows from its rotation on were removed`,
    ]);
    const oldAlone = await cli(['audit', 'verify', '--db', `sqlite:${cut}`, '--audit-key', OLD], svc.dir);
    assert.equal(oldAlone.code, 0, 'only the head hash kept elsewhere tells this log from one never rotated');
    assert.deepEqual(l.err, [`audit chain BROKEN at seq ${rotationSeq}: row ${rotationSeq} is hashed with another audit key than the row before it, and is not an AUDIT_KEY_ROTATED row: the key changed outside rectify`]);
    rmSync(svc.dir, { recursive: true, force: true });
  });

  it('verified with the new key alone after a rotation, the rows before it are not verified (exit 2), never broken nor intact; a changed row still breaks the chain', async () => {
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--audit-key', OLD] });
    await decide(svc, 'V1');
    const oldRows = svc.service.store.auditHighWater();
    await svc.stop();
    const rotated = await startTestService({ dir: svc.dir, args: ['--audit-key', NEW, '--audit-previous-keys', OLD] });
    await decide(rotated, 'V2');
    const rotationSeq = rotated.service.store.queryAudit({ event: 'AUDIT_KEY_ROTATED', limit: 1 })[0]!.seq;
    assert.equal(rotationSeq, oldRows + 1);
    const newest = rotated.service.store.auditHighWater();
    await rotated.stop();
    const notVerified =
      `audit chain NOT VERIFIED from seq 1: rows 1 to ${oldRows} are under an earlier audit key than those given: ` +
      `the log moved to a given key at row ${rotationSeq} (AUDIT_KEY_ROTATED), and every other row verifies; ` +
      `give the earlier key in --audit-previous-keys to verify rows 1 to ${oldRows}`;

    const newOnly = await verifyCli(svc, '--audit-key', NEW);
    assert.deepEqual({ code: newOnly.code, out: newOnly.out, err: newOnly.err }, { code: 2, out: [], err: [notVerified] });
    const both = await verifyCli(svc, '--audit-key', NEW, '--audit-previous-keys', OLD);
    assert.equal(both.code, 0, both.err.join('\n'));
    assert.match(both.out[0]!, new RegExp(`^audit chain OK: ${newest} row\\(s\\) \\(${newest} keyed from seq 1; key rotated at seq ${rotationSeq}\\)`));

    // The service, restarted with the new key alone (as the README allows), answers the same through the API.
    const alone = await startTestService({ dir: svc.dir, args: ['--audit-key', NEW] });
    const v = (await alone.get('/api/v1/audit/verify')).body;
    const rows = alone.service.store.auditHighWater();
    assert.deepEqual(
      { ...v, head: undefined },
      { ok: false, rows, unchained: 0, keyed: rows - oldRows, keyed_from: 1, needs_key: true, rotated_at: [rotationSeq], first_bad_seq: 1, reason: notVerified.replace('audit chain NOT VERIFIED from seq 1: ', ''), head: undefined },
    );
    await alone.stop();

    const copy = (name: string, edit: (db: Database.Database) => void) => {
      const path = join(svc.dir, name);
      const db = new Database(svc.dbPath);
      db.exec(`VACUUM INTO '${path}'`);
      db.close();
      tamper(path, edit);
      return (...args: string[]) => cli(['audit', 'verify', '--db', `sqlite:${path}`, ...args], svc.dir);
    };
    const changeDetails = (seq: number) => (db: Database.Database) => db.prepare('UPDATE audit SET details = ? WHERE seq = ?').run(JSON.stringify({ forged: true }), seq);

    // A row after the rotation changed: broken, with the new key alone and with both.
    const after = copy('after.db', changeDetails(rotationSeq + 1));
    const brokenAfter = [`audit chain BROKEN at seq ${rotationSeq + 1}: hash mismatch: row ${rotationSeq + 1} was changed, or hashed with another key`];
    for (const keys of [['--audit-key', NEW], ['--audit-key', NEW, '--audit-previous-keys', OLD]]) {
      const r = await after(...keys);
      assert.deepEqual({ code: r.code, err: r.err }, { code: 1, err: brokenAfter }, keys.join(' '));
    }
    // A row after the rotation renamed AUDIT_KEY_ROTATED does not pass for a rotation: the row after it is under the same key.
    const renamed = copy('renamed.db', (db) => db.prepare("UPDATE audit SET event = 'AUDIT_KEY_ROTATED' WHERE seq = ?").run(rotationSeq + 1));
    const r = await renamed('--audit-key', NEW);
    assert.deepEqual({ code: r.code, err: r.err }, { code: 1, err: brokenAfter });

    // A row before the rotation changed: broken with both keys; with the new key alone it cannot be checked, and is not called intact.
    const before = copy('before.db', changeDetails(2));
    const b = await before('--audit-key', NEW, '--audit-previous-keys', OLD);
    assert.deepEqual({ code: b.code, err: b.err }, { code: 1, err: ['audit chain BROKEN at seq 2: hash mismatch: row 2 was changed, or hashed with another key'] });
    const bNew = await before('--audit-key', NEW);
    assert.deepEqual({ code: bNew.code, out: bNew.out, err: bNew.err }, { code: 2, out: [], err: [notVerified] });
    // The first keyed row (AUDIT_KEY_SET) changed: the row after it verifies with the old key, so it was changed.
    const first = copy('first.db', changeDetails(1));
    const f = await first('--audit-key', NEW, '--audit-previous-keys', OLD);
    assert.deepEqual({ code: f.code, err: f.err }, { code: 1, err: ['audit chain BROKEN at seq 1: hash mismatch: row 1 was changed, or hashed with another key'] });
    rmSync(svc.dir, { recursive: true, force: true });
  });

  it('previous keys are checked like the key, need it, and may list several rotations', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-rotate-'));
    const runs = [['--audit-key', OLD], ['--audit-key', NEW, '--audit-previous-keys', OLD], ['--audit-key', NEWER, '--audit-previous-keys', `${OLD},${NEW}`]];
    let svc: TestService | undefined;
    for (const [i, args] of runs.entries()) {
      svc = await startTestService({ ...(i === 0 ? { runbooks: runbooks(target.url) } : { dir: svc!.dir }), args });
      await decide(svc, `M${i}`);
      await svc.stop();
    }
    const ok = await verifyCli(svc!, '--audit-key', NEWER, '--audit-previous-keys', `${NEW},${OLD}`);
    assert.equal(ok.code, 0, ok.err.join('\n'));
    assert.match(ok.out[0]!, /key rotated at seq \d+, \d+\)/);
    const [r1, r2] = /key rotated at seq (\d+), (\d+)\)/.exec(ok.out[0]!)!.slice(1).map(Number) as [number, number];
    // Some keys left out: the rows under them are named, and the rest is checked.
    const earlier = (rows: string, at: number) =>
      `audit chain NOT VERIFIED from seq ${rows.split(' ')[0]}: rows ${rows} are under an earlier audit key than those given: the log moved to a given key at row ${at} (AUDIT_KEY_ROTATED), and every other row verifies; give the earlier key in --audit-previous-keys to verify rows ${rows}`;
    for (const [given, rows, at] of [[[], `1 to ${r2 - 1}`, r2], [['--audit-previous-keys', NEW], `1 to ${r1 - 1}`, r1], [['--audit-previous-keys', OLD], `${r1} to ${r2 - 1}`, r2]] as const) {
      const partial = await verifyCli(svc!, '--audit-key', NEWER, ...given);
      assert.deepEqual({ code: partial.code, err: partial.err }, { code: 2, err: [earlier(rows, at)] }, given.join(' '));
    }
    const missing = await verifyCli(svc!, '--audit-previous-keys', OLD);
    assert.equal(missing.code, 2);
    assert.deepEqual(missing.err, ['--audit-previous-keys: previous audit keys need --audit-key: the key the log moves to']);
    const short = await verifyCli(svc!, '--audit-key', NEWER, '--audit-previous-keys', 'short');
    assert.deepEqual(short.err, ['--audit-previous-keys: each previous audit key must be at least 32 characters']);
    const same = await verifyCli(svc!, '--audit-key', NEWER, '--audit-previous-keys', NEWER);
    assert.deepEqual(same.err, ['--audit-previous-keys: a previous audit key is the same as --audit-key']);
    assert.deepEqual(configSummary(svc!.config).auditPreviousKeys, ['set', 'set']);
    rmSync(svc!.dir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('the chain tip never runs ahead of what committed', () => {
  it('units that fail after appending, mixed with units that commit, leave a chain that verifies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-chain-'));
    const store = openSqliteStore({ path: join(dir, 'db.sqlite'), migrationsDir: MIGRATIONS_DIR });
    const append = (tag: string) => (tx: Parameters<Parameters<typeof store.transact>[0]>[0]) => tx.appendAudit({ at: 1, event: 'SERVICE_PAUSED', actor: tag, details: { tag } });
    const settled = await Promise.allSettled([
      store.transact(append('a')),
      store.transact((tx) => {
        append('rolled-back')(tx);
        append('rolled-back-2')(tx);
        throw new Error('this unit fails after appending two rows');
      }),
      store.transact(append('b')),
      store.transact((tx) => {
        append('rolled-back-3')(tx);
        throw new Error('fails too');
      }),
      store.transact(append('c')),
    ]);
    assert.deepEqual(settled.map((s) => s.status), ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
    assert.deepEqual(settled.filter((s) => s.status === 'fulfilled').map((s) => (s as PromiseFulfilledResult<number>).value), [1, 2, 3]);
    const v = await verifyAuditChain(store);
    assert.deepEqual({ ok: v.ok, rows: v.rows }, { ok: true, rows: 3 });
    assert.deepEqual(store.auditRecords({ afterSeq: 0, limit: 10 }).map((r) => r.actor), ['a', 'b', 'c']);
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a batch whose commit fails (the database locked elsewhere) leaves no hash behind: later rows chain to the last committed one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-chain-'));
    const path = join(dir, 'db.sqlite');
    const store = openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR, busyTimeoutMs: 50 });
    await store.transact((tx) => tx.appendAudit({ at: 1, event: 'SERVICE_PAUSED', actor: 'first', details: {} }));
    const other = new Database(path);
    other.pragma('busy_timeout = 0');
    other.exec('BEGIN EXCLUSIVE');
    await assert.rejects(store.transact((tx) => tx.appendAudit({ at: 2, event: 'SERVICE_PAUSED', actor: 'lost', details: {} })), { code: 'STORE_UNAVAILABLE' });
    assert.equal(store.health().ok, false);
    other.exec('ROLLBACK');
    other.close();
    assert.deepEqual(store.health(), { ok: true, detail: null });
    assert.equal(await store.transact((tx) => tx.appendAudit({ at: 3, event: 'SERVICE_RESUMED', actor: 'second', details: {} })), 2);
    const v = await verifyAuditChain(store);
    assert.equal(v.ok, true, v.reason ?? '');
    assert.deepEqual(store.auditRecords({ afterSeq: 0, limit: 10 }).map((r) => r.actor), ['first', 'second']);
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('two rectify on one database (run --local beside another, or beside a serve) with different audit keys', () => {
  const K1 = 'c'.repeat(32) + '1'.repeat(32);
  const K2 = 'd'.repeat(32) + '2'.repeat(32);
  const open = (path: string, key?: string, previous: string[] = []) =>
    openSqliteStore({ path, migrationsDir: MIGRATIONS_DIR, ...(key ? { auditKey: Buffer.from(key), auditPreviousKeys: previous.map((k) => Buffer.from(k)) } : {}) });
  type Store = ReturnType<typeof open>;
  const append = (store: Store, event: 'SERVICE_PAUSED' | 'SERVICE_RESUMED' | 'AUDIT_KEY_SET' | 'AUDIT_KEY_ROTATED', actor: string) => store.transact((tx) => tx.appendAudit({ at: 1, event, actor, details: {} }));
  /** What the start of a rectify with a key writes first (service.ts): AUDIT_KEY_SET or AUDIT_KEY_ROTATED, when needed. */
  const keyRow = async (store: Store) => {
    const row = store.auditKeyRowNeeded();
    if (row) await append(store, row, 'rectify');
  };
  const causeOf = async (write: Promise<unknown>): Promise<string> => {
    const err = await write.then(
      () => assert.fail('the write was refused'),
      (e: { code?: string; cause?: Error }) => e,
    );
    assert.equal(err.code, 'STORE_UNAVAILABLE');
    return err.cause!.message;
  };

  it('one without the key, opened on a plain log, cannot append after keyed rows another wrote since: refused, nothing written; the log verifies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-keymix-'));
    const path = join(dir, 'db.sqlite');
    const plain = open(path);
    await append(plain, 'SERVICE_PAUSED', 'plain');
    const keyed = open(path, K1);
    await keyRow(keyed);
    await append(keyed, 'SERVICE_RESUMED', 'keyed');
    const refused = 'another rectify wrote to the audit log with an audit key while this one ran: the audit log\'s rows are hashed with an audit key (newest row 3): start with --audit-key set to that key. Nothing of this write was recorded: its rows would break the audit chain';
    assert.equal(await causeOf(append(plain, 'SERVICE_PAUSED', 'plain-late')), refused);
    assert.deepEqual(plain.health(), { ok: false, detail: refused });
    // Refused at every later write too; the keyed one goes on.
    assert.equal(await causeOf(append(plain, 'SERVICE_PAUSED', 'plain-later')), refused);
    assert.equal(await append(keyed, 'SERVICE_PAUSED', 'keyed'), 4);
    plain.close();
    keyed.close();
    assert.deepEqual(new Database(path, { readonly: true }).prepare('SELECT event, actor FROM audit ORDER BY seq').all(), [
      { event: 'SERVICE_PAUSED', actor: 'plain' },
      { event: 'AUDIT_KEY_SET', actor: 'rectify' },
      { event: 'SERVICE_RESUMED', actor: 'keyed' },
      { event: 'SERVICE_PAUSED', actor: 'keyed' },
    ]);
    const v = await cli(['audit', 'verify', '--db', `sqlite:${path}`, '--audit-key', K1], dir);
    assert.equal(v.code, 0, v.err.join('\n'));
    assert.match(v.out[0]!, /^audit chain OK: 4 row\(s\) \(3 keyed from seq 2\), /);
    rmSync(dir, { recursive: true, force: true });
  });

  it('two with different keys: the second to key a plain log, or one the log was rotated away from, is refused; the log verifies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-keymix-'));
    const path = join(dir, 'db.sqlite');
    // Both open on the plain log: each would set its key.
    const one = open(path, K1);
    const two = open(path, K2);
    await keyRow(one);
    await append(one, 'SERVICE_PAUSED', 'one');
    assert.equal(
      await causeOf(keyRow(two)),
      'another rectify wrote to the audit log with another audit key while this one ran: the newest audit row (2) does not verify with this --audit-key: it is another key than the one the log was written with, or the row was changed (rectify audit verify says which); to move the log to a new key, give the old one in --audit-previous-keys. Nothing of this write was recorded: its rows would break the audit chain',
    );
    two.close();
    // A third moves the log from K1 to K2 (rotation): the one still on K1 may no longer write.
    const rotated = open(path, K2, [K1]);
    await keyRow(rotated);
    await append(rotated, 'SERVICE_RESUMED', 'rotated');
    assert.equal(
      await causeOf(append(one, 'SERVICE_PAUSED', 'one-late')),
      'another rectify wrote to the audit log with another audit key while this one ran: the newest audit row (4) does not verify with this --audit-key: the log was moved to another key, or the row was changed (rectify audit verify says which). Nothing of this write was recorded: its rows would break the audit chain',
    );
    one.close();
    rotated.close();
    assert.deepEqual(new Database(path, { readonly: true }).prepare('SELECT event, actor FROM audit ORDER BY seq').all(), [
      { event: 'AUDIT_KEY_SET', actor: 'rectify' },
      { event: 'SERVICE_PAUSED', actor: 'one' },
      { event: 'AUDIT_KEY_ROTATED', actor: 'rectify' },
      { event: 'SERVICE_RESUMED', actor: 'rotated' },
    ]);
    const v = await cli(['audit', 'verify', '--db', `sqlite:${path}`, '--audit-key', K2, '--audit-previous-keys', K1], dir);
    assert.equal(v.code, 0, v.err.join('\n'));
    assert.match(v.out[0]!, /^audit chain OK: 4 row\(s\) /);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('text the store cannot keep as sent', () => {
  const KEY = 'a'.repeat(32) + 'b'.repeat(32);
  it('a lone surrogate in `by` is kept as U+FFFD and the row verifies, so a keyed log still starts again', async () => {
    const svc = await startTestService({ args: ['--audit-key', KEY] });
    // JSON.stringify writes a lone surrogate as the escape "\ud800": the body carries it as a caller would send it.
    const res = await svc.app.inject({ method: 'POST', url: '/api/v1/pause', headers: { 'content-type': 'application/json' }, payload: '{"by":"ops\\ud800","reason":"storm"}' });
    assert.equal(res.statusCode, 200);
    const events = (await svc.get('/api/v1/audit?event=SERVICE_PAUSED')).body.events;
    assert.deepEqual(events.map((e: { actor: string }) => e.actor), ['ops\ufffd']);
    const v = await svc.get('/api/v1/audit/verify');
    assert.equal(v.body.ok, true, v.body.reason);
    // Its newest row signed with the key: a restart with the key checks it, and starts.
    const again = await svc.restart();
    assert.equal((await again.get('/api/v1/audit/verify')).body.ok, true);
    await again.stop({ remove: true });
  });
});
