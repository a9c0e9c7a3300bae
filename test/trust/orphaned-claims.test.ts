import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService } from '../helpers/service.js';

/**
 * A blast-radius claim is taken with its run and released with its end. One left
 * behind by a run that is over (no path is known to leave one; a hand-edited or
 * restored database may) would hold its runbook's slots, and its service's cooldown
 * ("still running"), for ever: startup recovery releases it and says so.
 */

const runbooks = (base: string) => `runbooks:
  held:
    risk: LOW
    triggers: [held]
    min_confidence: 0.5
    max_per_hour: 10
    cooldown_minutes: 5
    blast_radius_limit: 1
    action:
      http: {method: POST, url: "${base}/held/{service}"}
`;

describe('blast-radius claims whose run is over are released at startup', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/held/a', { status: 200 });
  });
  after(async () => target.close());

  it('a claim of a finished run and one of an unknown run: both released and logged; the next alert for the service runs', async () => {
    const first = await startTestService({ runbooks: runbooks(target.url), captureLogs: true });
    const done = await first.post('/api/v1/incidents?wait=true', { root_cause: 'held', service: 'a', confidence: 1 });
    assert.equal(done.body.action, 'executed');
    const executionId = done.body.execution_id as string;
    await first.stop();

    // Left behind: the finished run's own claim again, and one naming no run at all.
    const db = new Database(first.dbPath);
    const at = first.clock.now();
    db.prepare('INSERT INTO blast_claims (execution_id, runbook, service, claimed_at) VALUES (?, ?, ?, ?)').run(executionId, 'held', 'a', at);
    db.prepare('INSERT INTO blast_claims (execution_id, runbook, service, claimed_at) VALUES (?, ?, ?, ?)').run('exe_gone', 'held', 'b', at);
    // And the Kubernetes objects of runs under way: one of the claim naming no run, one of no claim at all.
    const object = db.prepare('INSERT INTO run_objects (execution_id, runbook, object, service) VALUES (?, ?, ?, ?)');
    object.run('exe_gone', 'held', 'deployment production/b', 'b');
    object.run('exe_lost', 'held', 'deployment production/c', 'c');
    db.close();

    first.clock.advance(6 * 60_000); // past the cooldown of the finished run
    const svc = await first.restart();
    try {
      const warned = svc.log
        .records()
        .filter((r) => r.msg === 'a blast-radius claim outlived its run (the run is not running): released')
        .map((r) => [r.execution_id, r.runbook, r.service])
        .sort((x, y) => String(x[2]).localeCompare(String(y[2])));
      assert.deepEqual(warned, [
        [executionId, 'held', 'a'],
        ['exe_gone', 'held', 'b'],
      ]);
      const check = new Database(svc.dbPath, { readonly: true });
      assert.equal((check.prepare('SELECT COUNT(*) AS n FROM blast_claims').get() as { n: number }).n, 0);
      assert.equal((check.prepare('SELECT COUNT(*) AS n FROM run_objects').get() as { n: number }).n, 0);
      check.close();

      // Neither "still running" nor the blast radius holds the service off.
      const again = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'held', service: 'a', confidence: 1 });
      assert.equal(again.body.action, 'executed', JSON.stringify(again.body));
      assert.equal(target.calls('/held/a', 'POST'), 2);
    } finally {
      await svc.stop({ remove: true });
    }
  });
});
