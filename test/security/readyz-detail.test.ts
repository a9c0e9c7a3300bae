import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { startTestService, type TestService } from '../helpers/service.js';
import { bearer, issueToken, writeTokensFile } from '../helpers/tokens.js';

/**
 * /readyz is public (load balancers, kubelet probes carry no token), but what went wrong
 * names files and errors: with tokens configured, only a caller with a valid token (any
 * role) is told it; everyone gets the status.
 */

const RUNBOOK = 'runbooks:\n  fix:\n    risk: LOW\n    triggers: [Broken]\n    action:\n      http: {method: POST, url: "http://127.0.0.1:9/act"}\n';
const ingest = issueToken('alertmanager', ['ingest']);
const viewer = issueToken('grafana', ['viewer']);

async function ready(svc: TestService, headers: Record<string, string> = {}) {
  const res = await svc.app.inject({ method: 'GET', url: '/readyz', headers });
  return { status: res.statusCode, body: JSON.parse(res.body) };
}

describe('/readyz with API tokens', () => {
  it('tells a refused reload and a store fault only to a caller with a valid token; the status to everyone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-readyz-'));
    const tokens = writeTokensFile(dir, [ingest, viewer]);
    const s = await startTestService({ runbooks: { 'r.yaml': RUNBOOK }, args: ['--tokens', tokens] });
    try {
      const healthy = { ready: true, store: 'ok', runbooks: 1, draining: false };
      assert.deepEqual(await ready(s), { status: 200, body: { ...healthy, detail_withheld: true } });
      assert.deepEqual(await ready(s, bearer(viewer)), { status: 200, body: healthy });

      writeFileSync(join(s.runbooksDir, 'r.yaml'), RUNBOOK.replace('risk: LOW', 'risk: EXTREME'));
      const problems = ((await s.service.reload()).runbooks as { problems: string[] }).problems;
      const refused = { at: new Date(s.clock.now()).toISOString(), problems };
      assert.equal(refused.problems.length, 1);
      assert.ok(refused.problems[0]!.startsWith(join(s.runbooksDir, 'r.yaml')));
      // No token, a token rectify does not know, a header it does not read: the status only.
      for (const headers of [{}, bearer('rct_not-a-token'), { authorization: 'Basic abc' }]) {
        assert.deepEqual(await ready(s, headers), { status: 200, body: { ...healthy, detail_withheld: true } });
      }
      // A valid token of any role, ingest included: the detail.
      for (const t of [ingest, viewer]) {
        assert.deepEqual(await ready(s, bearer(t)), { status: 200, body: { ...healthy, runbooks_reload_refused: refused } });
      }

      // A store fault: its detail names the database file.
      renameSync(s.dbPath, `${s.dbPath}.moved`);
      const down = { ready: false, store: 'unavailable', runbooks: 1, draining: false };
      assert.deepEqual(await ready(s), { status: 503, body: { ...down, store_error: 'the store does not take writes (send an API token for why)', detail_withheld: true } });
      const told = await ready(s, bearer(ingest));
      assert.equal(told.status, 503);
      assert.match(told.body.store_error, new RegExp(`^the database file ${s.dbPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} was removed while rectify ran`));
      assert.equal(told.body.detail_withheld, undefined);
      renameSync(`${s.dbPath}.moved`, s.dbPath);
    } finally {
      await s.stop({ remove: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without tokens (loopback only) tells the detail to every caller', async () => {
    const s = await startTestService({ runbooks: { 'r.yaml': RUNBOOK } });
    try {
      writeFileSync(join(s.runbooksDir, 'r.yaml'), RUNBOOK.replace('risk: LOW', 'risk: EXTREME'));
      const problems = ((await s.service.reload()).runbooks as { problems: string[] }).problems;
      const res = await ready(s);
      assert.deepEqual(res, { status: 200, body: { ready: true, store: 'ok', runbooks: 1, draining: false, runbooks_reload_refused: { at: new Date(s.clock.now()).toISOString(), problems } } });
    } finally {
      await s.stop({ remove: true });
    }
  });
});

describe('/healthz with API tokens', () => {
  // COMMIT raises SQLITE_IOERR_FSYNC while the switch is on, as SQLite does (see commit-unknown.test.ts).
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

  it('tells why a restart is needed only to a caller with a valid token; the 503 to everyone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-healthz-'));
    const tokens = writeTokensFile(dir, [ingest, viewer]);
    const s = await startTestService({ runbooks: { 'r.yaml': RUNBOOK }, args: ['--tokens', tokens] });
    const health = async (headers: Record<string, string> = {}) => {
      const res = await s.app.inject({ method: 'GET', url: '/healthz', headers });
      return { status: res.statusCode, body: JSON.parse(res.body) };
    };
    try {
      assert.deepEqual(await health(), { status: 200, body: { status: 'ok' } });
      failWith = 'SQLITE_IOERR_FSYNC';
      const post = await s.app.inject({ method: 'POST', url: '/api/v1/incidents', headers: bearer(ingest), payload: { id: 'H-1', root_cause: 'x', service: 'checkout' } });
      failWith = null;
      assert.equal(post.statusCode, 503);
      const generic = { status: 503, body: { status: 'restart_needed', reason: 'a commit the disk could not confirm leaves only a restart to settle it (send an API token for why)' } };
      for (const headers of [{}, bearer('rct_not-a-token'), { authorization: 'Basic abc' }]) assert.deepEqual(await health(headers), generic);
      for (const t of [ingest, viewer]) {
        const told = await health(bearer(t));
        assert.equal(told.status, 503);
        assert.match(told.body.reason, /^the database could not confirm a commit \(SQLITE_IOERR_FSYNC: disk I\/O error\)/);
      }
    } finally {
      failWith = null;
      await s.stop({ remove: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
