import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { httpRunbook, runbooksFile } from '../helpers/runbooks.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { countRows, postJson, stormAlert, webhook } from './helpers.js';

/**
 * One group notification carrying 10,000 alerts: every alert is decided and stored,
 * and the 202 comes only after the last commit that holds them (five slices of 2,000,
 * each committed before the next is decided: see slices.test.ts). The proof of
 * "after": the moment the answer arrives, a separate connection to the database
 * file already sees every row (SQLite shows other connections committed rows only).
 */
describe('storm: one 10,000-alert group', () => {
  let target: HttpTarget;
  let svc: TestService;
  let base: string;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/restart/cart', { status: 200 });
    svc = await startTestService({
      runbooks: runbooksFile(httpRunbook('restart-cart', { trigger: 'CartDown', url: `${target.url}/restart/{service}`, maxPerHour: 5, expectStatus: [200, 299] })),
      args: ['--max-concurrent-executions', '100', '--listen', '127.0.0.1:0'],
    });
    base = `http://${await svc.service.listen()}`.replace('http://http://', 'http://');
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });

  it('decides all 10,000, durably, before answering 202', async () => {
    // Half for the runbook's service, half for services no runbook knows.
    const alerts = Array.from({ length: 10_000 }, (_, i) => (i % 2 === 0 ? stormAlert('CartDown', 'cart', i) : stormAlert('DiskFull', `svc${i % 50}`, i)));
    const r = await postJson(`${base}/api/v1/webhooks/alertmanager`, webhook(alerts));
    // Counted before anything else can run: the answer implies the commit.
    const stored = countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents');
    const decisions = countRows(svc.dbPath, "SELECT COUNT(*) AS n FROM audit WHERE event IN ('EXECUTING', 'RATE_LIMITED', 'NO_RUNBOOK')");
    assert.equal(r.status, 202);
    assert.equal(r.body.results.length, 10_000);
    assert.equal(stored, 10_000, 'every incident row committed when the answer arrived');
    assert.equal(decisions, 10_000, 'every decision audited when the answer arrived');

    const tally: Record<string, number> = {};
    for (const x of r.body.results) tally[x.event] = (tally[x.event] ?? 0) + 1;
    assert.deepEqual(tally, { EXECUTING: 5, RATE_LIMITED: 4_995, NO_RUNBOOK: 5_000 });
    // Results come back in the order of the alerts.
    assert.equal(r.body.results[0].event, 'EXECUTING');
    assert.equal(r.body.results[1].event, 'NO_RUNBOOK');
  });

  it('the same group delivered again is 10,000 duplicates and runs nothing', async () => {
    const alerts = Array.from({ length: 10_000 }, (_, i) => (i % 2 === 0 ? stormAlert('CartDown', 'cart', i) : stormAlert('DiskFull', `svc${i % 50}`, i)));
    const r = await postJson(`${base}/api/v1/webhooks/alertmanager`, webhook(alerts));
    assert.equal(r.status, 202);
    assert.equal(r.body.results.filter((x: any) => x.action === 'duplicate').length, 10_000);
    assert.equal(countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents'), 10_000);
    assert.equal(countRows(svc.dbPath, "SELECT COUNT(*) AS n FROM audit WHERE event = 'DUPLICATE'"), 10_000);
    assert.equal(countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM executions'), 5);
    while (countRows(svc.dbPath, "SELECT COUNT(*) AS n FROM executions WHERE state = 'running'") > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(target.calls('/restart/cart'), 5, 'one real call per execution, none for the re-delivery');
  });
});
