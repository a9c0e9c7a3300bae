import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RectifyError } from '../../src/domain/index.js';
import { partlyRecordedError } from '../../src/engine/engine.js';
import { holdDatabaseLock, type HeldLock } from '../helpers/db-lock.js';
import { startHttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService } from '../helpers/service.js';
import { countRows } from './helpers.js';

/**
 * A body whose alerts need guardrail checks is decided in more than one commit: the
 * alerts that may run this hour first, those the screen left out after them. When a
 * later commit fails, the first one's decisions stand (their approval requests were
 * told): the answer says so, and the sender's retry records the rest, and nothing twice.
 */
describe('storm: a body whose later commit fails', { timeout: 60_000 }, () => {
  it('answers 503 naming how many alerts were recorded; the retry decides the others and records the truncation once', async () => {
    const target = await startHttpTarget();
    // Conditions that do not hold, slowly: the left-out alerts are checked after the first commit.
    target.route('GET', '/unhealthy', { status: 503, delayMs: 300 });
    const svc = await startTestService({
      runbooks: `runbooks:
  rw:
    risk: MEDIUM
    triggers: [WebDown]
    max_per_hour: 2
    cooldown_minutes: 0
    guardrails:
      - http: {url: "${target.url}/unhealthy", timeout_seconds: 1, interval_seconds: 1}
    action:
      http: {method: POST, url: "${target.url}/restart/{service}/{pod}"}
`,
      args: ['--db-busy-timeout', '200ms'],
    });
    let lock: HeldLock | undefined;
    try {
      const alerts = Array.from({ length: 4 }, (_, i) => ({ labels: { alertname: 'WebDown', service: 'web', pod: `web-${i}` }, fingerprint: `w${i}` }));
      const body = { ...amWebhook(alerts), groupKey: '{}:{alertname="WebDown"}', receiver: 'rectify', truncatedAlerts: 7 };
      const pending = svc.post('/api/v1/webhooks/alertmanager', body);
      // The first commit (2 alerts, the executions left this hour) is in: the next one cannot commit.
      for (let i = 0; i < 400 && !lock; i++) {
        await new Promise((r) => setTimeout(r, 10));
        if (countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM approvals') > 0) lock = await holdDatabaseLock(svc.dbPath, 5000);
      }
      assert.ok(lock, 'the first commit was seen');
      const r = await pending;
      await lock.release();
      lock = undefined;
      assert.equal(r.status, 503);
      assert.equal(r.body.error.code, 'STORE_UNAVAILABLE');
      assert.equal(
        r.body.error.message,
        'the database could not commit the rest of this request: 2 of its 4 alerts were decided and recorded (what they run has started, the people they ask were told), the other 2 were not; send it again (Alertmanager retries by itself): those 2 are answered duplicate and the others are decided',
      );
      assert.equal(countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents'), 2);
      assert.equal(countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM approvals'), 2);
      assert.equal(countRows(svc.dbPath, "SELECT COUNT(*) AS n FROM audit WHERE event = 'ALERTS_TRUNCATED'"), 1);

      const retry = await svc.post('/api/v1/webhooks/alertmanager', body);
      assert.equal(retry.status, 202);
      assert.deepEqual(
        retry.body.results.map((x: any) => x.action),
        ['duplicate', 'duplicate', 'approval_required', 'approval_required'],
      );
      assert.equal(countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents'), 4);
      // Its truncation was recorded, counted and told with the first attempt's first commit.
      assert.equal(countRows(svc.dbPath, "SELECT COUNT(*) AS n FROM audit WHERE event = 'ALERTS_TRUNCATED'"), 1);
      const metrics = (await svc.get('/metrics')).body as string;
      assert.equal(/^rectify_alerts_truncated_total (\S+)$/m.exec(metrics)?.[1], '7');
    } finally {
      await lock?.release();
      await svc.stop({ remove: true });
      await target.close();
    }
  });
});

describe('storm: the metrics of a body whose later commit fails', { timeout: 60_000 }, () => {
  it('count only the alerts recorded: the incidents and decisions of the first commit, then the retry\'s', async () => {
    const target = await startHttpTarget();
    // Conditions that do not hold, slowly: the left-out alerts are checked after the first commit.
    target.route('GET', '/unhealthy', { status: 503, delayMs: 300 });
    const svc = await startTestService({
      runbooks: `runbooks:
  rw:
    risk: MEDIUM
    triggers: [WebDown]
    max_per_hour: 2
    cooldown_minutes: 0
    guardrails:
      - http: {url: "${target.url}/unhealthy", timeout_seconds: 1, interval_seconds: 1}
    action:
      http: {method: POST, url: "${target.url}/restart/{service}/{pod}"}
`,
      args: ['--db-busy-timeout', '200ms'],
    });
    let lock: HeldLock | undefined;
    const counters = async () => {
      const text = (await svc.get('/metrics')).body as string;
      const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
      return {
        incidents: value(/^rectify_incidents_total\{source="alertmanager"\} (\S+)$/m),
        asked: value(/^rectify_decisions_total\{action="approval_required",reason="APPROVAL_REQUIRED"\} (\S+)$/m),
        duplicates: value(/^rectify_decisions_total\{action="duplicate",reason="DUPLICATE"\} (\S+)$/m),
      };
    };
    try {
      const alerts = Array.from({ length: 4 }, (_, i) => ({ labels: { alertname: 'WebDown', service: 'web', pod: `web-${i}` }, fingerprint: `w${i}` }));
      const body = amWebhook(alerts);
      const pending = svc.post('/api/v1/webhooks/alertmanager', body);
      // The first commit (2 alerts, the executions left this hour) is in: the next one cannot commit.
      for (let i = 0; i < 400 && !lock; i++) {
        await new Promise((r) => setTimeout(r, 10));
        if (countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM approvals') > 0) lock = await holdDatabaseLock(svc.dbPath, 5000);
      }
      assert.ok(lock, 'the first commit was seen');
      const r = await pending;
      await lock.release();
      lock = undefined;
      assert.equal(r.status, 503);
      assert.equal(r.body.error.code, 'STORE_UNAVAILABLE');
      // Two alerts recorded, two not: counted as the audit log holds them.
      assert.equal(countRows(svc.dbPath, "SELECT COUNT(*) AS n FROM audit WHERE event = 'APPROVAL_REQUIRED'"), 2);
      assert.deepEqual(await counters(), { incidents: 2, asked: 2, duplicates: 0 });

      const retry = await svc.post('/api/v1/webhooks/alertmanager', body);
      assert.equal(retry.status, 202);
      assert.deepEqual(
        retry.body.results.map((x: any) => x.action),
        ['duplicate', 'duplicate', 'approval_required', 'approval_required'],
      );
      assert.equal(countRows(svc.dbPath, "SELECT COUNT(*) AS n FROM audit WHERE event = 'APPROVAL_REQUIRED'"), 4);
      assert.equal(countRows(svc.dbPath, "SELECT COUNT(*) AS n FROM audit WHERE event = 'DUPLICATE'"), 2);
      // The retry's four alerts are taken in (its re-deliveries too), each alert decided once.
      assert.deepEqual(await counters(), { incidents: 6, asked: 4, duplicates: 2 });
    } finally {
      await lock?.release();
      await svc.stop({ remove: true });
      await target.close();
    }
  });
});

describe('the answer to a body a later commit of which failed', () => {
  const counted = '2 of its 4 alerts were decided and recorded (what they run has started, the people they ask were told), the other 2 were not';
  const answer = (err: unknown) => {
    const e = partlyRecordedError(err, 2, 4) as RectifyError;
    return [e.code, e.status, e.message, e.details];
  };

  it('a 5xx keeps its code and says to send it again (Alertmanager retries a 5xx)', () => {
    const retry = 'send it again (Alertmanager retries by itself): those 2 are answered duplicate and the others are decided';
    assert.deepEqual(answer(new RectifyError('STORE_UNAVAILABLE', 'the database could not commit; nothing was recorded, retry later')), [
      'STORE_UNAVAILABLE',
      503,
      `the database could not commit the rest of this request: ${counted}; ${retry}`,
      [],
    ]);
    assert.deepEqual(answer(new RectifyError('OVERLOADED', 'too many decisions waiting')), ['OVERLOADED', 503, `the rest of this request could not be decided (too many decisions waiting): ${counted}; ${retry}`, []]);
  });

  it('a 4xx (an incident id taken between the commits) keeps its code, its details and the count, and gives no retry advice', () => {
    const details = [{ path: 'body.id', message: 'an incident with this id exists already' }];
    const taken = new RectifyError('CONFLICT', 'incident INC-7 exists already, for another alert: post this one with another id, or none', { details });
    assert.deepEqual(answer(taken), [
      'CONFLICT',
      409,
      `the rest of this request was refused (incident INC-7 exists already, for another alert: post this one with another id, or none): ${counted}`,
      details,
    ]);
  });

  it('anything but a RectifyError is passed on as it is', () => {
    const err = new Error('boom');
    assert.equal(partlyRecordedError(err, 2, 4), err);
  });
});
