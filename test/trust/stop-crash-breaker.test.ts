import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { useRectifyProcesses, type RectifyProcess } from '../helpers/process.js';
import { startPrometheus, waitForQuery, type RunningDaemon } from '../helpers/prometheus.js';

/**
 * A stop (SIGTERM) and a crash (SIGKILL) at the same point of a run count the same against
 * the circuit breaker. The point: the action ran, post-check 1 could not measure (a real
 * Prometheus with no such series) and, being `on_no_data: needs_human`, held the run's
 * failure while post-check 2 still polls (its HTTP target holds the request). The run had
 * failed, so either way its INTERRUPTED row carries that failure and the breaker counts it;
 * a half-open circuit's trial so cut off failed, and its circuit opens again as a failed
 * trial's does. A stop during the only post-check, which had measured nothing yet, is no
 * failure, as a crash there is none.
 */
const HOLD = { status: 200, delayMs: 120_000 };
const FAILURE = /^verification 1 failed: no data: the query returned an empty vector/;

let promUrl = '';
const runbooks = (base: string) => `runbooks:
  twopc:
    risk: LOW
    triggers: [twopc]
    min_confidence: 0.5
    max_per_hour: 100
    cooldown_minutes: 0
    action: {http: {method: POST, url: "${base}/act/{service}", timeout_seconds: 5}}
    post_checks:
      - promql: {query: 'absent_metric{svc="{service}"}', expect: "< 1", timeout_seconds: 1, interval_seconds: 0.5, on_no_data: needs_human}
      - http: {url: "${base}/post2/{service}", timeout_seconds: 60, interval_seconds: 1}
    rollback: {http: {method: POST, url: "${base}/undo/{service}", timeout_seconds: 5}}
  onepc:
    risk: LOW
    triggers: [onepc]
    min_confidence: 0.5
    max_per_hour: 100
    cooldown_minutes: 0
    action: {http: {method: POST, url: "${base}/act/{service}", timeout_seconds: 5}}
    post_checks:
      - http: {url: "${base}/post2/{service}", timeout_seconds: 60, interval_seconds: 1}
    rollback: {http: {method: POST, url: "${base}/undo/{service}", timeout_seconds: 5}}
`;

describe('a stop and a crash at one point of a run count the same against the breaker (real processes)', { timeout: 240_000 }, () => {
  const rig = useRectifyProcesses('rectify-stop-crash-', runbooks);
  let prom: RunningDaemon;
  before(async () => {
    // Nothing scraped: every series is an empty vector.
    prom = await startPrometheus();
    await waitForQuery(prom.url, 'vector(1)', (v) => v[0] === 1);
    promUrl = prom.url;
    rig.target.route('POST', '/act/trip', { status: 500 });
    for (const s of ['trip', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6']) {
      rig.target.route('POST', `/undo/${s}`, { status: 200 });
      if (s !== 'trip') rig.target.route('POST', `/act/${s}`, { status: 200 });
      rig.target.route('GET', `/post2/${s}`, HOLD);
    }
  });
  after(() => prom?.stop());

  const start = (db: string, more: string[] = []) => rig.start(['--prometheus-url', promUrl, '--shutdown-grace', '1s', ...more], join(rig.dir, db));

  const circuit = (db: string, runbook: string) => {
    const d = new Database(join(rig.dir, db), { readonly: true });
    try {
      return d.prepare('SELECT state, failures FROM circuits WHERE runbook = ?').get(runbook) as { state: string; failures: number } | undefined;
    } finally {
      d.close();
    }
  };

  /** Starts the run and parks it in post-check 2 (post-check 1 finished), then cuts it off by `how`; answers the process serving the database after. */
  async function cutOff(p: RectifyProcess, db: string, trigger: string, service: string, how: 'stop' | 'crash', more: string[] = []) {
    const r = await p.post('/api/v1/incidents', { id: `${how}-${service}`, root_cause: trigger, service, confidence: 1 });
    assert.equal(r.body.action, 'executed', JSON.stringify(r.body));
    await rig.target.waitForRequest(`/post2/${service}`, { timeoutMs: 30_000 });
    const circuitBefore = circuit(db, trigger);
    if (how === 'stop') assert.equal(await p.stop(), 0, p.output());
    else await p.kill9();
    const q = await start(db, more);
    const id = r.body.execution_id as string;
    const e = (await q.get(`/api/v1/executions/${id}`)).body;
    const rows = (await q.get(`/api/v1/audit?execution_id=${id}&limit=100`)).body.events.reverse() as Array<{ event: string; details: Record<string, unknown> }>;
    return { q, e, rows, circuitBefore, interrupted: rows.find((x) => x.event === 'INTERRUPTED')!.details };
  }

  for (const how of ['stop', 'crash'] as const) {
    it(`${how} while post-check 2 polls, post-check 1 held: INTERRUPTED with the failure, counted by the breaker`, async () => {
      const db = `held-${how}.db`;
      const p = await start(db);
      const { q, e, interrupted } = await cutOff(p, db, 'twopc', how === 'stop' ? 'c1' : 'c2', how);
      await q.stop();
      assert.equal(e.state, 'interrupted');
      assert.equal(e.needs_human, true);
      assert.match(String(interrupted.failure), FAILURE);
      assert.equal(interrupted.circuit, undefined);
      assert.deepEqual(circuit(db, 'twopc'), { state: 'closed', failures: 1 });
      assert.equal(rig.target.calls(`/undo/${how === 'stop' ? 'c1' : 'c2'}`), 0, 'no rollback runs after a cut-off');
    });

    it(`${how} in the circuit's trial at that point: the trial failed, its circuit opens again with the failure counted`, async () => {
      const db = `trial-${how}.db`;
      const more = ['--circuit-failure-threshold', '1', '--circuit-recovery', '1s'];
      const p = await start(db, more);
      const trip = await p.post('/api/v1/incidents?wait=true', { id: `trip-${how}`, root_cause: 'twopc', service: 'trip', confidence: 1 });
      assert.equal(trip.body.success, false, JSON.stringify(trip.body));
      assert.deepEqual(circuit(db, 'twopc'), { state: 'open', failures: 1 });
      // The recovery wait (1s) served: the next incident is the trial.
      await new Promise((r) => setTimeout(r, 1_500));
      const { q, interrupted, rows, circuitBefore } = await cutOff(p, db, 'twopc', how === 'stop' ? 'c3' : 'c4', how, more);
      await q.stop();
      assert.deepEqual(circuitBefore, { state: 'half_open', failures: 1 });
      assert.match(String(interrupted.failure), FAILURE);
      assert.deepEqual(circuit(db, 'twopc'), { state: 'open', failures: 2 });
      const tripped = rows.filter((x) => x.event === 'CIRCUIT_TRIPPED').map((x) => x.details.reason);
      assert.deepEqual(tripped, ['the trial run failed: the circuit opens again']);
    });

    it(`${how} during the only post-check, which measured nothing yet: no failure, nothing counted`, async () => {
      const db = `one-${how}.db`;
      const p = await start(db);
      const { q, e, interrupted } = await cutOff(p, db, 'onepc', how === 'stop' ? 'c5' : 'c6', how);
      await q.stop();
      assert.equal(e.state, 'interrupted');
      assert.equal(interrupted.failure, undefined);
      assert.equal(circuit(db, 'onepc'), undefined);
    });
  }
});
