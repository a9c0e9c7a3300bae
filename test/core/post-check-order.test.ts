import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startPrometheus, waitForQuery, type RunningDaemon } from '../helpers/prometheus.js';
import { startTestService, type TestService } from '../helpers/service.js';

/**
 * A post-check that cannot measure with `on_no_data: needs_human` holds the rollback for
 * a person, but only when no other post-check measured a failure: the ones after it
 * still run, so the order the checks are written in does not decide whether a failure
 * rectify did see is rolled back. Against a real Prometheus with nothing scraped:
 * `up{job="checkout"}` has no data, `vector(5) < 1` measures a failure, `vector(0) < 1`
 * passes.
 */
const HELD = 'the rollback was not run: the verification could not measure (on_no_data: needs_human); a person must check';
const NO_DATA = `      - promql: {query: 'up{job="{service}"}', expect: "== 1", timeout_seconds: 1, interval_seconds: 0.5, on_no_data: needs_human}`;
const BAD = `      - promql: {query: 'vector(5)', expect: "< 1", timeout_seconds: 1, interval_seconds: 0.5}`;
const GOOD = `      - promql: {query: 'vector(0)', expect: "< 1", timeout_seconds: 1, interval_seconds: 0.5}`;

const runbook = (id: string, url: string, checks: string[]) => `  ${id}:
    risk: LOW
    triggers: [${id}]
    min_confidence: 0.5
    max_per_hour: 100
    cooldown_minutes: 0
    actions:
      - http: {method: POST, url: "${url}/state/{service}", timeout_seconds: 2}
    post_checks:
${checks.join('\n')}
    rollback:
      - http: {method: POST, url: "${url}/undo/{service}", timeout_seconds: 2}
`;

type Step = { phase: string; ok: boolean; detail: string; inconclusive?: boolean };

describe('post-checks: a measured failure rolls back whatever its place', { timeout: 90_000 }, () => {
  let target: HttpTarget;
  let prom: RunningDaemon;
  let svc: TestService;

  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/state/checkout', { status: 200 });
    target.route('POST', '/undo/checkout', { status: 200 });
    prom = await startPrometheus();
    await waitForQuery(prom.url, 'vector(1)', (v) => v[0] === 1);
    svc = await startTestService({
      runbooks:
        'runbooks:\n' +
        runbook('nodata_then_bad', target.url, [NO_DATA, BAD]) +
        runbook('bad_then_nodata', target.url, [BAD, NO_DATA]) +
        runbook('nodata_then_good', target.url, [NO_DATA, GOOD]),
      realClock: true,
      args: ['--prometheus-url', prom.url],
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
    const failed = (await svc.get(`/api/v1/audit?execution_id=${r.body.execution_id}&event=FAILED`)).body.events;
    assert.equal(failed.length, 1);
    const steps = e.steps as Step[];
    return { r, e, failed: failed[0], steps, undos: target.calls('/undo/checkout', 'POST') - undos };
  };
  const shape = (steps: Step[]) => steps.map((s) => [s.phase, s.ok, s.inconclusive ?? false]);

  it('no data (needs_human) first, then a measured failure: the later check still runs, and the run rolls back', async () => {
    const { r, e, failed, steps, undos } = await run('nodata_then_bad');
    assert.deepEqual(shape(steps), [
      ['action', true, false],
      ['post_check', false, true],
      ['post_check', false, false],
      ['rollback', true, false],
    ]);
    const reason = `verification failed: promql vector(5) < 1: ${steps[2]!.detail}`;
    assert.match(steps[2]!.detail, /got 5/);
    assert.equal(r.body.reason, reason);
    assert.equal(undos, 1);
    assert.deepEqual([failed.details.reason, failed.details.rolled_back, failed.details.needs_human], [reason, true, undefined]);
    assert.deepEqual([e.state, e.outcome, e.rolled_back, e.needs_human], ['failed', reason, true, false]);
  });

  it('a measured failure first: rolled back at once, the check after it not run', async () => {
    const { r, e, steps, undos } = await run('bad_then_nodata');
    assert.deepEqual(shape(steps), [
      ['action', true, false],
      ['post_check', false, false],
      ['rollback', true, false],
    ]);
    assert.equal(r.body.reason, `verification failed: promql vector(5) < 1: ${steps[1]!.detail}`);
    assert.equal(undos, 1);
    assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['failed', true, false]);
  });

  it('no data (needs_human), and every other check passes: the rollback is held for a person, as before', async () => {
    const { r, e, failed, steps, undos } = await run('nodata_then_good');
    assert.deepEqual(shape(steps), [
      ['action', true, false],
      ['post_check', false, true],
      ['post_check', true, false],
    ]);
    const failure = `verification failed: promql up{job="checkout"} == 1: ${steps[1]!.detail}`;
    assert.equal(r.body.reason, `${failure}; ${HELD}`);
    assert.equal(undos, 0);
    assert.deepEqual([failed.details.reason, failed.details.rolled_back, failed.details.needs_human], [failure, false, true]);
    assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['failed', false, true]);
  });
});
