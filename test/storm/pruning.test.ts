import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { httpRunbook, runbooksFile } from '../helpers/runbooks.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { countRows, stormAlert, webhook } from './helpers.js';

/**
 * Storm after storm, the database holds what the guardrails read plus a bounded
 * history: dedup keys past the dedup retention, rate-limit rows past their hour,
 * finished executions and decided approvals past the history retention are pruned.
 * The audit log alone keeps everything. The clock is a manual one.
 */
const HOUR = 3_600_000;

describe('storm: pruning keeps state bounded', () => {
  let target: HttpTarget;
  let svc: TestService;
  const count = (table: string, where = '1') => countRows(svc.dbPath, `SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`);
  before(async () => {
    target = await startHttpTarget();
    svc = await startTestService({
      runbooks: runbooksFile(
        httpRunbook('restart-api', { trigger: 'ApiDown', url: `${target.url}/restart/{service}`, maxPerHour: 5, expectStatus: [200, 299] }),
        `  failover-db:
    risk: HIGH
    triggers: [DbDown]
    min_confidence: 0.5
    action:
      http: {method: POST, url: "${target.url}/failover/{service}/{pod}"}
`,
      ),
      args: ['--dedup-retention', '1h', '--history-retention', '2h', '--approval-ttl', '30m', '--max-concurrent-executions', '100'],
    });
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });

  it('row counts stay bounded over storm after storm; the audit log keeps growing', async () => {
    const auditAfter: number[] = [];
    for (let cycle = 0; cycle < 4; cycle++) {
      target.route('POST', `/restart/api${cycle}`, { status: 200 });
      const alerts = [
        ...Array.from({ length: 300 }, (_, i) => stormAlert('ApiDown', `api${cycle}`, i)),
        ...Array.from({ length: 10 }, (_, i) => stormAlert('DbDown', `db${cycle}`, i)),
      ];
      // ?wait=true: the answer comes when the five executions have ended.
      const r = await svc.post('/api/v1/webhooks/alertmanager?wait=true', webhook(alerts));
      assert.equal(r.status, 202);
      assert.equal(r.body.results.filter((x: any) => x.action === 'executed').length, 5);
      assert.equal(r.body.results.filter((x: any) => x.action === 'approval_required').length, 10);
      // Before pruning: this storm and at most the previous one.
      assert.ok(count('incidents') <= 620, `incidents ${count('incidents')}`);
      assert.equal(count('rate_events'), 5);

      svc.clock.advance(3 * HOUR);
      const pruned = await svc.service.housekeep();
      // This storm's dedup keys and rate-limit rows are gone; its approvals expired just now,
      // so they (and its executions, finished 3 h ago) fall to the next pass or this one.
      assert.equal(count('incidents'), 0);
      assert.equal(count('rate_events'), 0);
      assert.equal(count('executions'), 0, 'finished 3 h ago, past the 2 h history retention');
      assert.equal(count('approvals', "status = 'pending'"), 0, 'expired after 30 m');
      assert.ok(count('approvals') <= 10, `approvals ${count('approvals')}`);
      assert.equal(pruned.incidents, 310);
      assert.equal(pruned.rateEvents, 5);
      assert.equal(pruned.executions, 5);
      assert.equal(pruned.approvals, cycle === 0 ? 0 : 10, 'the previous storm’s expired approvals');
      auditAfter.push(count('audit'));
    }
    // The audit log is append-only and never pruned.
    for (let i = 1; i < auditAfter.length; i++) assert.ok(auditAfter[i]! > auditAfter[i - 1]!);
  });

  it('an alert re-delivered after the dedup retention is decided again', async () => {
    target.route('POST', '/restart/api-late', { status: 200 });
    const alert = stormAlert('ApiDown', 'api-late', 1);
    const first = await svc.post('/api/v1/webhooks/alertmanager?wait=true', webhook([alert]));
    assert.equal(first.body.results[0].action, 'executed');
    const again = await svc.post('/api/v1/webhooks/alertmanager', webhook([alert]));
    assert.equal(again.body.results[0].action, 'duplicate');
    svc.clock.advance(2 * HOUR);
    await svc.service.housekeep();
    const late = await svc.post('/api/v1/webhooks/alertmanager?wait=true', webhook([alert]));
    assert.equal(late.body.results[0].action, 'executed');
    assert.notEqual(late.body.results[0].incident_id, first.body.results[0].incident_id);
  });

  // Regression: Alertmanager sends a firing alert again every repeat_interval (4 h by
  // default) with the same fingerprint and startsAt. The dedup key was pruned the
  // dedup retention after the first delivery, however often the alert came again in
  // between, so an alert firing for a day had its fix run again at the re-delivery
  // after the 24th hour, answered `executed` where every one before was `duplicate`.
  it('an alert re-delivered within the dedup retention of its last delivery stays a duplicate, however long it fires', async () => {
    target.route('POST', '/restart/api-repeat', { status: 200 });
    const alert = stormAlert('ApiDown', 'api-repeat', 1);
    const deliver = async () => (await svc.post('/api/v1/webhooks/alertmanager?wait=true', webhook([alert]))).body.results[0];
    const first = await deliver();
    assert.equal(first.action, 'executed');
    // Every 40 minutes for 4 hours: each within the hour (the retention) of the last.
    for (let i = 1; i <= 6; i++) {
      svc.clock.advance(40 * 60_000);
      await svc.service.housekeep();
      const again = await deliver();
      assert.deepEqual([again.action, again.incident_id], ['duplicate', first.incident_id], `delivery ${i}, ${i * 40} minutes after the first`);
    }
    assert.equal(target.calls('/restart/api-repeat', 'POST'), 1);
    // Exactly the retention after the last delivery the key is still kept; past it, it is pruned.
    svc.clock.advance(HOUR);
    await svc.service.housekeep();
    assert.equal(count('incidents', `id = '${first.incident_id}'`), 1);
    svc.clock.advance(1);
    await svc.service.housekeep();
    assert.equal(count('incidents', `id = '${first.incident_id}'`), 0);
    const late = await deliver();
    assert.equal(late.action, 'executed');
    assert.notEqual(late.incident_id, first.incident_id);
  });

  it('a large backlog is pruned in bounded chunks', async () => {
    const alerts = Array.from({ length: 2_500 }, (_, i) => stormAlert('Unmatched', `web${i % 7}`, i));
    assert.equal((await svc.post('/api/v1/webhooks/alertmanager', webhook(alerts))).status, 202);
    svc.clock.advance(2 * HOUR);
    const backlog = count('incidents');
    assert.ok(backlog >= 2_500);
    const first = svc.service.store.prune(svc.clock.now(), { dedupMs: HOUR, historyMs: 2 * HOUR }, 1_000);
    assert.equal(first.incidents, 1_000);
    assert.equal(first.more, true);
    assert.equal(count('incidents'), backlog - 1_000);
    const rest = await svc.service.housekeep();
    assert.equal(rest.incidents, backlog - 1_000);
    assert.equal(count('incidents'), 0);
  });
});

describe('pruning keeps what a long cooldown reads', () => {
  let target: HttpTarget;
  let svc: TestService;
  before(async () => {
    target = await startHttpTarget();
    svc = await startTestService({
      runbooks: `runbooks:
  restart-slow:
    risk: LOW
    triggers: [SlowDown]
    min_confidence: 0.5
    max_per_hour: 5
    cooldown_minutes: 180
    action:
      http: {method: POST, url: "${target.url}/restart/{service}", expect_status: [200, 299]}
`,
    });
    target.route('POST', '/restart/slow', { status: 200 });
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });

  it('a 3-hour cooldown holds past the hour the rate limit looks back, through housekeeping', async () => {
    const post = async (n: number) => (await svc.post('/api/v1/webhooks/alertmanager?wait=true', webhook([stormAlert('SlowDown', 'slow', n)]))).body.results[0];
    assert.equal((await post(1)).event, 'SUCCESS');
    svc.clock.advance(2 * HOUR);
    assert.equal((await svc.service.housekeep()).rateEvents, 0, 'the cooldown still reads it');
    const during = await post(2);
    assert.deepEqual([during.action, during.event], ['blocked', 'RATE_LIMITED']);
    assert.equal(during.reason, "Cooldown active (3600s remaining); decided again at the alert's first delivery after the cooldown is over");
    svc.clock.advance(HOUR + 61_000);
    assert.equal((await svc.service.housekeep()).rateEvents, 1);
    assert.equal((await post(3)).event, 'SUCCESS');
  });
});
