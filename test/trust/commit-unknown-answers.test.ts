import assert from 'node:assert/strict';
import { renameSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { OUTCOME_UNKNOWN, RectifyError } from '../../src/domain/index.js';
import { partlyRecordedError } from '../../src/engine/engine.js';
import { cli } from '../cli/capture.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { approvalRunbooks, SLACK_RESPOND, SLACK_SECRET, slackClick } from '../security/setup.js';

/**
 * A commit the database could not confirm (COMMIT raising SQLITE_IOERR_FSYNC) may have
 * been recorded: it is answered as not known, never as "nothing changed, try again".
 * The 503 says so in its details (outcome: unknown) with no Retry-After; the CLI exits
 * 6 (UNCONFIRMED), Slack tells the person to look after the restart, and the sender of
 * alerts is told its retry settles it. The COMMIT statement raises as SQLite does while
 * a switch is on (see commit-unknown.test.ts).
 */
describe('the answers to a commit whose outcome is not known', () => {
  const Statement = Object.getPrototypeOf(new Database(':memory:').prepare('SELECT 1')) as { run: (...args: unknown[]) => unknown };
  const run = Statement.run;
  let failWith: string | null = null;
  let target: HttpTarget;
  let svc: TestService | undefined;
  before(async () => {
    Statement.run = function (this: { source: string }, ...args: unknown[]) {
      if (failWith && this.source === 'COMMIT') throw Object.assign(new Error('disk I/O error'), { code: failWith });
      return run.apply(this, args);
    };
    target = await startHttpTarget();
    target.route('POST', '/undo/checkout', { status: 200 });
    target.route('POST', SLACK_RESPOND, { status: 200 });
  });
  afterEach(async () => {
    failWith = null;
    await svc?.stop({ remove: true });
    svc = undefined;
  });
  after(async () => {
    Statement.run = run;
    await target.close();
  });
  const start = async (): Promise<TestService> => {
    svc = await startTestService({
      captureLogs: true,
      runbooks: approvalRunbooks(target.url, { ticket: true }),
      args: ['--slack-signing-secret', SLACK_SECRET],
      overrides: { slackResponseOrigins: [new URL(target.url).origin] },
    });
    return svc;
  };
  const incident = (id: string) => ({ id, root_cause: 'error_rate_spike_after_deploy', service: 'checkout', context: { deployment: 'checkout', ticket: id } });
  const UNKNOWN = [{ path: 'outcome', message: 'unknown' }];

  it('intake: 503 STORE_UNAVAILABLE, details outcome unknown, no Retry-After, worded for the sender whose retry settles it', async () => {
    const s = await start();
    failWith = 'SQLITE_IOERR_FSYNC';
    const r = await s.post('/api/v1/incidents', incident('IN-1'));
    failWith = null;
    assert.equal(r.status, 503);
    assert.equal(r.headers['retry-after'], undefined);
    assert.deepEqual(r.body.error, {
      code: 'STORE_UNAVAILABLE',
      message:
        'the database could not confirm its commit (SQLITE_IOERR_FSYNC): whether these alerts were recorded is not known until rectify restarts, and nothing more is accepted until then. Alertmanager retries by itself: its retry after the restart is answered duplicate for each alert that was recorded, and decides the others',
      details: UNKNOWN,
    });
    // A passing fault (nothing recorded) still says when to retry.
    const after = await s.post('/api/v1/incidents', incident('IN-2'));
    assert.deepEqual([after.status, after.body.error.details], [503, []]);
    assert.equal(after.headers['retry-after'], '5');
  });

  it('told: rectify_store_fault{kind="lasting"} 1, one error logged, /healthz 503 so the pod is restarted (the restart settles it), /readyz 503', async () => {
    const s = await start();
    const gauge = async () => String((await s.get('/metrics')).body).split('\n').filter((l) => l.startsWith('rectify_store_fault'));
    assert.deepEqual(await gauge(), ['rectify_store_fault{kind="lasting"} 0', 'rectify_store_fault{kind="transient"} 0']);
    assert.deepEqual([(await s.get('/healthz')).status, (await s.get('/healthz')).body], [200, { status: 'ok' }]);
    failWith = 'SQLITE_IOERR_FSYNC';
    assert.equal((await s.post('/api/v1/incidents', incident('H-1'))).status, 503);
    failWith = null;
    assert.equal((await s.post('/api/v1/incidents', incident('H-2'))).status, 503);
    const lasting =
      'the database could not confirm a commit (SQLITE_IOERR_FSYNC: disk I/O error): whether it was recorded is not known until rectify restarts and SQLite recovers the file. Nothing is accepted until then; check the disk (the kernel log), then restart rectify';
    assert.deepEqual(await gauge(), ['rectify_store_fault{kind="lasting"} 1', 'rectify_store_fault{kind="transient"} 0']);
    const health = await s.get('/healthz');
    assert.deepEqual([health.status, health.body], [503, { status: 'restart_needed', reason: lasting }]);
    const ready = await s.get('/readyz');
    assert.deepEqual([ready.status, ready.body.store_error], [503, lasting]);
    const errors = s.log.records().filter((r) => r.msg === lasting);
    assert.deepEqual(errors.map((r) => r.level), ['error'], 'logged once, as an error');
  });

  it('the database file lost: rectify_store_fault{kind="lasting"} 1, but /healthz stays 200 (a restart alone would start on an empty database)', async () => {
    const s = await start();
    renameSync(s.dbPath, `${s.dbPath}.moved`);
    assert.equal((await s.post('/api/v1/incidents', incident('L-1'))).status, 503);
    assert.equal((await s.get('/readyz')).status, 503);
    const gauge = String((await s.get('/metrics')).body).split('\n').filter((l) => l.startsWith('rectify_store_fault'));
    assert.deepEqual(gauge, ['rectify_store_fault{kind="lasting"} 1', 'rectify_store_fault{kind="transient"} 0']);
    assert.deepEqual([(await s.get('/healthz')).status, (await s.get('/healthz')).body], [200, { status: 'ok' }]);
    renameSync(`${s.dbPath}.moved`, s.dbPath);
  });

  it("a click in Slack: told it may have been recorded and to look after rectify restarts, not 'nothing changed'", async () => {
    const s = await start();
    const id = (await s.post('/api/v1/incidents', incident('SL-1'))).body.approval_id as string;
    failWith = 'SQLITE_IOERR_FSYNC';
    const c = await slackClick(s, { value: `${id}:approve`, responseUrl: target.url + SLACK_RESPOND });
    failWith = null;
    assert.equal(c.status, 503);
    assert.deepEqual(c.body.error.details, UNKNOWN);
    assert.equal(
      c.body.error.message,
      'the database could not confirm its commit (SQLITE_IOERR_FSYNC): whether this was recorded is not known until rectify restarts, and nothing more is accepted until then; after the restart, look whether it was before doing it again',
    );
    await s.service.drainNotifications();
    const told = target.requests(SLACK_RESPOND, 'POST').map((q) => (q.json() as { text: string }).text);
    assert.deepEqual(told, [
      `slack:U0ALICE (alice)'s approve may have been recorded: the database could not confirm it, and rectify accepts nothing more until it restarts. Look after rectify restarts (rectify approvals show ${id}) before clicking Approve again.`,
    ]);
  });

  it('rectify approve: exit 6 (UNCONFIRMED), not 3 (try again later)', async () => {
    const s = await start();
    const id = (await s.post('/api/v1/incidents', incident('CLI-1'))).body.approval_id as string;
    await s.app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}`;
    failWith = 'SQLITE_IOERR_FSYNC';
    const r = await cli(['approve', id, '--by', 'alice'], { env: { RECTIFY_SERVER: url } });
    failWith = null;
    assert.equal(r.code, 6);
    assert.deepEqual(r.err, [
      `rectify: rectify at ${url} could not confirm POST /api/v1/approvals/${id}/approve (503 STORE_UNAVAILABLE): the database could not confirm its commit (SQLITE_IOERR_FSYNC): whether this was recorded is not known until rectify restarts, and nothing more is accepted until then; after the restart, look whether it was before doing it again`,
      '  outcome: unknown',
    ]);
  });

  it('a later commit of a webhook not confirmed: those recorded are counted, the rest not known (not "were not")', () => {
    const err = new RectifyError('STORE_UNAVAILABLE', 'the database could not confirm its commit', {
      cause: Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_FSYNC' }),
      details: [OUTCOME_UNKNOWN],
    });
    const told = partlyRecordedError(err, 3, 5) as RectifyError;
    assert.deepEqual([told.code, told.details], ['STORE_UNAVAILABLE', UNKNOWN]);
    assert.equal(
      told.message,
      'the database could not confirm the commit of the rest of this request (SQLITE_IOERR_FSYNC): 3 of its 5 alerts were decided and recorded (what they run has started, the people they ask were told), whether the other 2 were is not known until rectify restarts, and nothing more is accepted until then. Alertmanager retries by itself: its retry after the restart is answered duplicate for each alert that was recorded, and decides the others',
    );
  });
});
