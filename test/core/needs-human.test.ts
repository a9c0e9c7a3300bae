import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startPrometheus, waitForQuery, type RunningDaemon } from '../helpers/prometheus.js';
import { startTestService, type TestService } from '../helpers/service.js';

/**
 * `needs_human` as the execution and incident views show it is the runner's verdict, as
 * the run's FAILED row records it. A post-check that reads a real Prometheus which has no
 * `up` series for the service cannot measure (no data): after an action that changed
 * nothing (a GET) there is nothing to roll back and nothing held, whatever `on_no_data`
 * says; after a write, `on_no_data: needs_human` holds the rollback for a person and the
 * default runs it. With no rollback in the runbook (`rollback: none`, `rollback: null`)
 * there is nothing to hold, and what the write did is still unmeasured: a person must check.
 */
const HELD = 'the rollback was not run: the verification could not measure (on_no_data: needs_human); a person must check';
const NO_ROLLBACK = 'the runbook has no rollback and the verification could not measure (on_no_data: needs_human); a person must check';
const NO_DATA = /^verification failed: promql up\{job="checkout"\} == 1: no data: the query returned an empty vector after \d+ attempts/;
/** The run's outcome: the post-check's no data (its attempts counted as time allowed), then `rest`. */
const noData = (reason: string, rest: string) => {
  assert.match(reason, NO_DATA);
  assert.equal(reason.replace(NO_DATA, ''), rest);
};

const runbook = (id: string, method: 'GET' | 'POST', onNoData: string, url: string, rollback = `    rollback:\n      - http: {method: POST, url: "${url}/undo/{service}", timeout_seconds: 2}\n`) => `  ${id}:
    risk: LOW
    triggers: [${id}]
    min_confidence: 0.5
    max_per_hour: 100
    cooldown_minutes: 0
    actions:
      - http: {method: ${method}, url: "${url}/state/{service}", timeout_seconds: 2}
    post_checks:
      - promql: {query: 'up{job="{service}"}', expect: "== 1", timeout_seconds: 1, interval_seconds: 0.5${onNoData}}
${rollback}`;

describe('needs_human is what the run recorded', { timeout: 90_000 }, () => {
  let target: HttpTarget;
  let prom: RunningDaemon;
  let svc: TestService;

  before(async () => {
    target = await startHttpTarget();
    target.route('GET', '/state/checkout', { status: 200 });
    target.route('POST', '/state/checkout', { status: 200 });
    target.route('POST', '/undo/checkout', { status: 200 });
    target.route('POST', '/hook', { status: 204 });
    // Nothing scraped: up{job="checkout"} is an empty vector.
    prom = await startPrometheus();
    await waitForQuery(prom.url, 'vector(1)', (v) => v[0] === 1);
    svc = await startTestService({
      runbooks:
        'runbooks:\n' +
        runbook('read', 'GET', '', target.url) +
        runbook('read_held', 'GET', ', on_no_data: needs_human', target.url) +
        runbook('write', 'POST', '', target.url) +
        runbook('write_held', 'POST', ', on_no_data: needs_human', target.url) +
        runbook('none_held', 'POST', ', on_no_data: needs_human', target.url, '    rollback: none\n    rollback_reason: "cannot be undone"\n') +
        runbook('null_held', 'POST', ', on_no_data: needs_human', target.url, '    rollback: null\n'),
      realClock: true,
      args: ['--prometheus-url', prom.url, '--notify-webhook', `${target.url}/hook`],
    });
  });
  after(async () => {
    await svc?.stop({ remove: true });
    await prom?.stop();
    await target?.close();
  });

  const run = async (trigger: string) => {
    const undos = target.calls('/undo/checkout', 'POST');
    const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: trigger, service: 'checkout', confidence: 1 });
    assert.equal(r.body.action, 'executed', JSON.stringify(r.body));
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    const incident = (await svc.get(`/api/v1/incidents/${r.body.incident_id}`)).body;
    const failed = (await svc.get(`/api/v1/audit?execution_id=${r.body.execution_id}&event=FAILED`)).body.events;
    assert.equal(failed.length, 1);
    return { r, e, incident, failed: failed[0], undos: target.calls('/undo/checkout', 'POST') - undos };
  };

  for (const [trigger, onNoData] of [
    ['read', 'the default (fail)'],
    ['read_held', 'needs_human'],
  ] as const) {
    it(`an action that changed nothing (GET), then no data, on_no_data ${onNoData}: no rollback, nothing held, needs_human false`, async () => {
      const { r, e, incident, failed, undos } = await run(trigger);
      noData(r.body.reason, '; nothing was changed: no rollback');
      assert.equal(undos, 0);
      assert.deepEqual(
        e.steps.map((s: { phase: string; ok: boolean; unchanged?: boolean; inconclusive?: boolean }) => [s.phase, s.ok, s.unchanged ?? false, s.inconclusive ?? false]),
        [
          ['action', true, true, false],
          ['post_check', false, false, true],
        ],
      );
      assert.deepEqual([failed.details.rolled_back, failed.details.rollback, failed.details.needs_human], [false, 'nothing was changed: no rollback', undefined]);
      assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['failed', false, false]);
      assert.equal(incident.execution.needs_human, false);
    });
  }

  it('a write, then no data, on_no_data needs_human: the rollback is held, needs_human true', async () => {
    const { r, e, incident, failed, undos } = await run('write_held');
    noData(r.body.reason, `; ${HELD}`);
    assert.equal(undos, 0);
    assert.deepEqual([failed.details.rolled_back, failed.details.needs_human], [false, true]);
    assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['failed', false, true]);
    assert.equal(incident.execution.needs_human, true);
  });

  for (const trigger of ['none_held', 'null_held'] as const) {
    it(`a write, then no data, on_no_data needs_human, no rollback (${trigger}): needs_human true in the row, the views and the notification`, async () => {
      const { r, e, incident, failed, undos } = await run(trigger);
      noData(r.body.reason, `; ${NO_ROLLBACK}`);
      assert.equal(undos, 0);
      assert.deepEqual(
        e.steps.map((s: { phase: string; ok: boolean; unchanged?: boolean; inconclusive?: boolean }) => [s.phase, s.ok, s.unchanged ?? false, s.inconclusive ?? false]),
        [
          ['action', true, false, false],
          ['post_check', false, false, true],
        ],
      );
      assert.equal(failed.details.reason, r.body.reason.slice(0, -`; ${NO_ROLLBACK}`.length));
      assert.deepEqual([failed.details.rolled_back, failed.details.rollback, failed.details.needs_human], [false, undefined, true]);
      assert.deepEqual([e.state, e.outcome, e.rolled_back, e.needs_human], ['failed', r.body.reason, false, true]);
      assert.equal(incident.execution.needs_human, true);
      // Counted against the breaker, as a held rollback is.
      assert.equal((await svc.get(`/api/v1/runbooks/${trigger}`)).body.circuit.failures, 1);
      const hook = await target.waitForRequest('/hook', { where: (q) => (q.json() as { execution_id?: string }).execution_id === r.body.execution_id });
      const told = hook.json() as Record<string, unknown>;
      assert.deepEqual([told.event, told.outcome, told.needs_human, told.reason], ['FAILED', 'failed', true, r.body.reason]);
    });
  }

  it('a write, then no data, on_no_data fail: rolled back, needs_human false', async () => {
    const { r, e, incident, failed, undos } = await run('write');
    noData(r.body.reason, '');
    assert.equal(undos, 1);
    assert.deepEqual([failed.details.rolled_back, failed.details.needs_human], [true, undefined]);
    assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['failed', true, false]);
    assert.equal(incident.execution.needs_human, false);
  });
});
