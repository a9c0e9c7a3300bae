import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { countRows, postJson, shuffle, stormAlert, webhook } from './helpers.js';

/**
 * A storm must not loosen a guardrail: a thousand alerts for one service arriving
 * at once are decided in shared transactions (group commit), and the rate limit is
 * checked and consumed inside them, so exactly max_per_hour run, however the
 * requests interleave. Counted twice: real calls to the action target, and rows.
 */
const runbooks = (targetUrl: string) => `runbooks:
  restart-checkout:
    risk: LOW
    triggers: [CheckoutDown]
    min_confidence: 0.5
    max_per_hour: 5
    cooldown_minutes: 0
    blast_radius_limit: 1000
    action:
      http: {method: POST, url: "${targetUrl}/restart/{service}", expect_status: [200, 299], timeout_seconds: 10}
`;

async function settled(svc: TestService, executionIds: string[]): Promise<void> {
  for (const id of executionIds) {
    for (;;) {
      const e = await svc.get(`/api/v1/executions/${id}`);
      if (e.body.state !== 'running') break;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

describe('storm: guardrails stay exact', () => {
  let target: HttpTarget;
  let svc: TestService;
  let base: string;
  before(async () => {
    target = await startHttpTarget();
    svc = await startTestService({ runbooks: runbooks(target.url), args: ['--max-concurrent-executions', '1000', '--listen', '127.0.0.1:0'] });
    base = `http://${await svc.service.listen()}`.replace('http://http://', 'http://');
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });

  for (const round of [1, 2, 3]) {
    it(`1,000 concurrent alerts for one service with max_per_hour 5 give exactly 5 executions (run ${round})`, async () => {
      const service = `checkout${round}`;
      // Slow enough that the five executions overlap the rest of the storm.
      target.route('POST', `/restart/${service}`, { status: 200, delayMs: 50 });
      const url = `${base}/api/v1/webhooks/alertmanager`;
      const answers = await Promise.all(Array.from({ length: 1000 }, (_, i) => postJson(url, webhook([stormAlert('CheckoutDown', service, i)]))));
      assert.deepEqual([...new Set(answers.map((a) => a.status))], [202]);
      const results = answers.map((a) => a.body.results[0]);
      const executed = results.filter((r) => r.action === 'executed');
      assert.equal(executed.length, 5);
      assert.equal(results.filter((r) => r.action === 'blocked' && r.event === 'RATE_LIMITED').length, 995);
      await settled(svc, executed.map((r) => r.execution_id));

      assert.equal(target.calls(`/restart/${service}`), 5, 'five real calls to the action target');
      const rows = (event: string) =>
        countRows(svc.dbPath, "SELECT COUNT(*) AS n FROM audit a JOIN incidents i ON i.id = a.incident_id WHERE a.event = ? AND i.service = ?", event, service);
      assert.equal(rows('EXECUTING'), 5);
      assert.equal(rows('SUCCESS'), 5);
      assert.equal(rows('RATE_LIMITED'), 995);
      assert.equal(countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM executions WHERE service = ?', service), 5);
      assert.equal(countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents WHERE service = ?', service), 1000);
    });
  }

  it('half of the storm re-delivered changes nothing but the duplicate count', async () => {
    const service = 'checkout-redelivered';
    target.route('POST', `/restart/${service}`, { status: 200, delayMs: 50 });
    const url = `${base}/api/v1/webhooks/alertmanager`;
    const alerts = Array.from({ length: 1000 }, (_, i) => stormAlert('CheckoutDown', service, i));
    // Every alert twice (Alertmanager HA pairs and retries do this), in a shuffled order, all at once.
    const sends = shuffle([...alerts.map((a) => ({ a, copy: 1 })), ...alerts.map((a) => ({ a, copy: 2 }))]);
    const answers = await Promise.all(sends.map(async (s) => ({ fp: s.a.fingerprint, r: await postJson(url, webhook([s.a])) })));
    assert.deepEqual([...new Set(answers.map((x) => x.r.status))], [202]);
    const results = answers.map((x) => ({ fp: x.fp, ...x.r.body.results[0] }));
    assert.equal(results.filter((r) => r.action === 'duplicate').length, 1000, 'exactly one duplicate per re-delivery');
    const executed = results.filter((r) => r.action === 'executed');
    assert.equal(executed.length, 5, 'the same five executions as without re-deliveries');
    assert.equal(results.filter((r) => r.event === 'RATE_LIMITED').length, 995);
    // Both deliveries of one alert answer about the same incident.
    const byFp = new Map<string, Set<string>>();
    for (const r of results) byFp.set(r.fp, (byFp.get(r.fp) ?? new Set()).add(r.incident_id));
    assert.equal([...byFp.values()].filter((ids) => ids.size !== 1).length, 0);
    // A duplicate of an executed alert names the same execution.
    const dupExec = results.filter((r) => r.action === 'duplicate' && r.execution_id !== null);
    assert.equal(dupExec.length, 5);
    assert.deepEqual(new Set(dupExec.map((r) => r.execution_id)), new Set(executed.map((r) => r.execution_id)));
    await settled(svc, executed.map((r) => r.execution_id));

    assert.equal(target.calls(`/restart/${service}`), 5);
    assert.equal(countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM incidents WHERE service = ?', service), 1000);
    assert.equal(countRows(svc.dbPath, 'SELECT COUNT(*) AS n FROM executions WHERE service = ?', service), 5);
    const ids = [...byFp.values()].map((s) => [...s][0]!);
    const dupRows = countRows(
      svc.dbPath,
      `SELECT COUNT(*) AS n FROM audit WHERE event = 'DUPLICATE' AND incident_id IN (SELECT value FROM json_each(?))`,
      JSON.stringify(ids),
    );
    assert.equal(dupRows, 1000, 'one DUPLICATE audit row per re-delivery');
  });
});
