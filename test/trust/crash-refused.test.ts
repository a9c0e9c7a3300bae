import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { after, before, describe, it } from 'node:test';
import { startKubeFake, writeKubeconfig, type KubeFake } from '../helpers/kube-fake/index.js';
import { useRectifyProcesses, type RectifyProcess } from '../helpers/process.js';
import { httpRunbook, runbooksFile } from '../helpers/runbooks.js';
import { until } from '../helpers/until.js';

/**
 * A run killed (kill -9) after its action was refused, before it recorded its end.
 * rectify refused the step by its own rule (a pod with no controller: nothing would
 * replace it), so nothing was changed and, had rectify lived, the run would have ended
 * FAILED without a breaker failure. Found unfinished at the next start, it is
 * INTERRUPTED, audited and told to a human, and not counted by the breaker either;
 * a run whose action failed at the target, killed at the same point, still is.
 *
 * The point between the step's record and the run's end has no I/O to park the process
 * on, so the test holds it there with a trigger in the real database file that refuses
 * to record any run's end: the runner keeps retrying while the process lives, as it does
 * for a store that fails under it. The trigger is dropped before the restart.
 */

const NS = 'production';

const runbooks = (base: string) =>
  runbooksFile(
    `  force-restart:
    risk: LOW
    triggers: [stuck_pod]
    min_confidence: 0.5
    max_per_hour: 100
    cooldown_minutes: 0
    force_delete: true
    action: kubectl delete pod {pod_name} -n {namespace}
    rollback:
      http: {method: POST, url: "${base}/undo"}
`,
    httpRunbook('call', { trigger: 'broken', url: `${base}/act/{service}` }),
    httpRunbook('gated', {
      trigger: 'gated',
      url: `${base}/act/{service}`,
      more: `    pre_checks:
      - http: {url: "${base}/ready/{service}", timeout_seconds: 30, interval_seconds: 1}
`,
    }),
  );

const HOLD_END = `CREATE TRIGGER test_hold_end BEFORE UPDATE ON executions WHEN NEW.state <> 'running'
  BEGIN SELECT RAISE(ABORT, 'the test holds the end of every run'); END`;

describe('kill -9 after a refused action, before the run recorded its end', () => {
  const rig = useRectifyProcesses('rectify-crash-refused-', runbooks);
  let fake: KubeFake;
  let kubeconfig: string;
  before(async () => {
    fake = await startKubeFake();
    kubeconfig = await writeKubeconfig(fake.url, rig.dir);
    rig.target.route('POST', '/hook', { status: 204 });
    rig.target.route('POST', '/undo', { status: 200 });
    rig.target.route('POST', '/act/shop', { status: 500 });
  });
  after(async () => fake.close());

  const start = () =>
    rig.start(['--kubernetes', 'kubeconfig', '--kubeconfig', kubeconfig, '--notify-webhook', `${rig.target.url}/hook`, '--circuit-failure-threshold', '2']);
  const sql = (statement: string): void => {
    const db = new Database(rig.db);
    try {
      db.exec(statement);
    } finally {
      db.close();
    }
  };
  const circuit = async (p: RectifyProcess, runbook: string) => {
    const c = (await p.get(`/api/v1/runbooks/${runbook}`)).body.circuit;
    return { state: c.state, failures: c.failures };
  };
  /** The run's audit rows, oldest first, without the records of notifications' deliveries. */
  const rows = async (p: RectifyProcess, executionId: string) =>
    ((await p.get(`/api/v1/audit?execution_id=${executionId}&limit=100`)).body.events as Array<{ event: string; details: Record<string, any> }>)
      .reverse()
      .filter((e) => e.event !== 'NOTIFIED' && e.event !== 'NOTIFY_FAILED');

  /** Starts the alert's run with every run's end held, waits until its step's end (an action's, a pre-check's) is recorded and its own end refused, and kills the process. */
  async function killedAfterItsStep(p: RectifyProcess, incident: object): Promise<string> {
    sql(HOLD_END);
    const r = await p.post('/api/v1/incidents', incident);
    assert.equal(r.body.action, 'executed');
    const executionId = r.body.execution_id as string;
    await until('the step recorded as finished', async () => ((await rows(p, executionId)).some((e) => e.event === 'STEP_FINISHED') ? true : undefined), 20_000);
    await until('the end refused, and tried again', async () => (p.output().includes('the interruption could not be recorded yet') ? true : undefined), 20_000);
    await p.kill9();
    sql('DROP TRIGGER test_hold_end');
    return executionId;
  }

  /** An open circuit for the runbook whose recovery wait (5 minutes by default) ended long ago, written into the database a process serves: the next alert is its trial. */
  const openLongAgo = (runbook: string): { state: string; failures: number; opened_at: string } => {
    const openedAt = Date.now() - 3_600_000;
    sql(`INSERT OR REPLACE INTO circuits (runbook, state, failures, opened_at, trial_execution_id, updated_at) VALUES ('${runbook}', 'open', 3, ${openedAt}, NULL, ${openedAt})`);
    return { state: 'open', failures: 3, opened_at: new Date(openedAt).toISOString() };
  };
  const circuitOf = async (p: RectifyProcess, runbook: string) => {
    const c = (await p.get(`/api/v1/runbooks/${runbook}`)).body.circuit;
    return { state: c.state, failures: c.failures, opened_at: c.opened_at };
  };
  const breakerRowsOf = async (p: RectifyProcess, runbook: string) =>
    ((await p.get(`/api/v1/audit?runbook=${runbook}&limit=1000`)).body.events as Array<{ event: string; execution_id: string | null; details: Record<string, any> }>)
      .filter((e) => e.event.startsWith('CIRCUIT'))
      .map((e) => [e.event, e.execution_id])
      .reverse();
  const TRIAL_ENDED =
    'it was the circuit\'s trial run, and it changed nothing, which says nothing about the runbook: the circuit is open again without a new recovery wait, and the next incident may be its trial';
  /** The INTERRUPTED row's reason for a run killed after rectify refused its action by its own rule. */
  const REFUSED_REASON =
    'rectify stopped before this execution recorded its end; an action was refused before anything changed, so nothing was changed, and it will not be re-run: a human must check';
  /** What the breaker says of such a run (or of one that ended so): not counted. */
  const NOT_COUNTED = 'not counted: rectify refused the step by its own rule, before anything changed';
  /** Run `executionId`'s notifications since `since` (event, outcome, reason), once the hook has been told of run `last`. */
  const toldSince = async (since: number, last: string, executionId: string) => {
    await rig.target.waitForRequest('/hook', { since, timeoutMs: 20_000, where: (r) => (r.json() as any).execution_id === last });
    return rig.target
      .requests('/hook')
      .filter((r) => r.at >= since)
      .map((r) => r.json() as any)
      .filter((t) => t.execution_id === executionId)
      .map((t) => [t.event, t.outcome, t.reason]);
  };

  it('refused by rectify’s own rule: INTERRUPTED, audited and told as such, nothing changed, not counted by the breaker; a failure at the target still is', async () => {
    fake.addPod(NS, 'lonely'); // no controller: nothing would replace it
    let proc = await start();
    const refused = await killedAfterItsStep(proc, { id: 'R1', root_cause: 'stuck_pod', service: 'lonely', confidence: 1, context: { pod_name: 'lonely', namespace: NS } });

    const since = Date.now();
    proc = await start();
    const e = (await proc.get(`/api/v1/executions/${refused}`)).body;
    assert.deepEqual([e.state, e.outcome, e.needs_human], ['interrupted', 'interrupted: rectify stopped while it ran', true]);
    const refusal = `refused: pod ${NS}/lonely has no controller: nothing would replace it`;
    assert.deepEqual(
      e.steps.map((s: any) => [s.phase, s.ok, s.detail, s.unchanged, s.refused]),
      [['action', false, refusal, true, 'rule']],
    );
    const audit = await rows(proc, refused);
    assert.deepEqual(audit.map((a) => a.event), ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'INTERRUPTED']);
    assert.equal(audit[2]!.details.refused, 'rule');
    const interrupted = audit[3]!.details;
    assert.deepEqual(
      { reason: interrupted.reason, refused: interrupted.refused, nothing_changed: interrupted.nothing_changed, circuit: interrupted.circuit, failure: interrupted.failure },
      {
        reason: REFUSED_REASON,
        refused: `action 1 was refused before anything changed: ${refusal}`,
        nothing_changed: true,
        circuit: NOT_COUNTED,
        failure: undefined,
      },
    );
    assert.deepEqual(await circuit(proc, 'force-restart'), { state: 'closed', failures: 0 });
    const told = await rig.target.waitForRequest('/hook', { since, timeoutMs: 20_000, where: (r) => (r.json() as any).execution_id === refused });
    assert.deepEqual(
      [(told.json() as any).event, (told.json() as any).outcome, (told.json() as any).reason],
      [
        'INTERRUPTED',
        'interrupted',
        `rectify stopped before this execution recorded its end; action 1 was refused before anything changed: ${refusal}, so nothing was changed, and it will not be re-run: a person must check`,
      ],
    );
    assert.equal(fake.count('DELETE', /.*/), 0, 'the pod was never deleted');
    assert.equal(rig.target.calls('/undo'), 0, 'nothing to roll back');

    // The target's own failure, killed at the same point: the run had failed, and counts.
    const failed = await killedAfterItsStep(proc, { id: 'F1', root_cause: 'broken', service: 'shop', confidence: 1 });
    proc = await start();
    const f = await rows(proc, failed);
    assert.deepEqual(f.map((a) => a.event), ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'INTERRUPTED']);
    assert.equal(f[3]!.details.failure, `action 1 failed: POST ${rig.target.url}/act/shop → 500, expected 200-299`);
    assert.equal(f[3]!.details.nothing_changed, undefined);
    assert.deepEqual(await circuit(proc, 'call'), { state: 'closed', failures: 1 });
    assert.deepEqual(await circuit(proc, 'force-restart'), { state: 'closed', failures: 0 });
    await proc.stop();
  });

  it('the half-open circuit’s trial, refused by rectify’s own rule: the circuit open again with the wait it had served, as the runner’s own end leaves it; no CIRCUIT_TRIPPED, and the row and the notification say so', async () => {
    const served = openLongAgo('force-restart');
    fake.addPod(NS, 'alone'); // no controller: nothing would replace it
    const alert = (id: string) => ({ id, root_cause: 'stuck_pod', service: 'alone', confidence: 1, context: { pod_name: 'alone', namespace: NS } });
    let proc = await start();
    const trial = await killedAfterItsStep(proc, alert('T1'));

    const since = Date.now();
    proc = await start();
    // Open again with the wait it had served: not a new recovery wait, and not counted.
    assert.deepEqual(await circuitOf(proc, 'force-restart'), served);
    const audit = await rows(proc, trial);
    assert.deepEqual(audit.map((a) => a.event), ['CIRCUIT_HALF_OPEN', 'EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'INTERRUPTED']);
    const refusal = `refused: pod ${NS}/alone has no controller: nothing would replace it`;
    const { notification_id: _id, told: _told, ...interrupted } = audit[4]!.details;
    assert.deepEqual(interrupted, {
      last_step: { phase: 'action', index: 0, summary: audit[3]!.details.summary, finished: true },
      reason: REFUSED_REASON,
      refused: `action 1 was refused before anything changed: ${refusal}`,
      nothing_changed: true,
      circuit: NOT_COUNTED,
      circuit_trial: TRIAL_ENDED,
    });
    assert.deepEqual(await breakerRowsOf(proc, 'force-restart'), [['CIRCUIT_HALF_OPEN', trial]], 'no CIRCUIT_TRIPPED: the circuit was not re-opened with a new wait');

    // The next alert is the circuit's trial at once; refused again, the runner's own end leaves the circuit as recovery did.
    const next = await proc.post('/api/v1/incidents?wait=true', alert('T2'));
    assert.deepEqual([next.body.action, next.body.success], ['executed', false]);
    const nextRows = await rows(proc, next.body.execution_id as string);
    assert.deepEqual(nextRows.map((a) => a.event), ['CIRCUIT_HALF_OPEN', 'EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'FAILED']);
    const { notification_id: _nextId, told: _nextTold, ...failed } = nextRows[4]!.details;
    assert.deepEqual(failed, {
      reason: `action 1 failed: ${refusal}`,
      rolled_back: false,
      rollback: 'nothing was changed: no rollback',
      circuit: NOT_COUNTED,
      circuit_trial: TRIAL_ENDED,
    });
    assert.deepEqual(await circuitOf(proc, 'force-restart'), served);

    assert.deepEqual(
      await toldSince(since, next.body.execution_id as string, trial),
      [['INTERRUPTED', 'interrupted', `rectify stopped before this execution recorded its end; action 1 was refused before anything changed: ${refusal}, so nothing was changed, and it will not be re-run; ${TRIAL_ENDED}: a person must check`]],
    );
    assert.equal(fake.count('DELETE', /.*/), 0, 'the pod was never deleted');
    await proc.stop();
  });
  it('the half-open circuit’s trial whose pre-check failed: no action ran, the circuit open again with the wait it had served, as the runner’s own end leaves it; no CIRCUIT_TRIPPED, and the row and the notification say so', async () => {
    rig.target.route('GET', '/ready/p1', { status: 503 });
    const alert = (id: string) => ({ id, root_cause: 'gated', service: 'p1', confidence: 1 });
    let proc = await start();
    const served = openLongAgo('gated');
    const trial = await killedAfterItsStep(proc, alert('P1'));

    const since = Date.now();
    proc = await start();
    // Open again with the wait it had served: not a new recovery wait, and not counted.
    assert.deepEqual(await circuitOf(proc, 'gated'), served);
    const e = (await proc.get(`/api/v1/executions/${trial}`)).body;
    assert.deepEqual([e.state, e.outcome, e.needs_human], ['interrupted', 'interrupted: rectify stopped while it ran', true]);
    assert.deepEqual(e.steps.map((s: any) => [s.phase, s.index, s.ok]), [['pre_check', 0, false]]);
    const audit = await rows(proc, trial);
    assert.deepEqual(audit.map((a) => a.event), ['CIRCUIT_HALF_OPEN', 'EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'INTERRUPTED']);
    const detail = audit[3]!.details.detail as string;
    assert.equal(detail, e.steps[0].detail);
    const { notification_id: _id, told: _told, ...interrupted } = audit[4]!.details;
    assert.deepEqual(interrupted, {
      last_step: { phase: 'pre_check', index: 0, summary: `http GET ${rig.target.url}/ready/p1`, finished: true },
      reason: 'rectify stopped before this execution recorded its end; a pre-check failed, so no action ran and nothing was changed, and it will not be re-run: a human must check',
      pre_check_failed: `pre-check 1 failed: ${detail}`,
      nothing_changed: true,
      circuit_trial: TRIAL_ENDED,
    });
    assert.deepEqual(await breakerRowsOf(proc, 'gated'), [['CIRCUIT_HALF_OPEN', trial]], 'no CIRCUIT_TRIPPED: the circuit was not re-opened with a new wait');

    // The next alert is the circuit's trial at once; its pre-check failing again, the runner's own end leaves the circuit as recovery did.
    const next = await proc.post('/api/v1/incidents?wait=true', alert('P2'));
    assert.deepEqual([next.body.action, next.body.event], ['aborted', 'PRE_CHECK_FAILED']);
    const nextRows = await rows(proc, next.body.execution_id as string);
    assert.deepEqual(nextRows.map((a) => a.event), ['CIRCUIT_HALF_OPEN', 'EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'PRE_CHECK_FAILED']);
    assert.equal(nextRows[4]!.details.circuit_trial, TRIAL_ENDED);
    assert.deepEqual(await circuitOf(proc, 'gated'), served);

    assert.deepEqual(
      await toldSince(since, next.body.execution_id as string, trial),
      [
        [
          'INTERRUPTED',
          'interrupted',
          `rectify stopped before this execution recorded its end; pre-check 1 failed: ${detail}, so no action ran and nothing was changed, and it will not be re-run; ${TRIAL_ENDED}: a person must check`,
        ],
      ],
    );
    assert.equal(rig.target.calls('/act/p1'), 0, 'no action ran');
    await proc.stop();
  });

  it('the half-open circuit’s trial killed in its pre-check (started, never finished): no action ran, yet the check gave no verdict: the circuit opens again with a new wait, as after a stop there', async () => {
    rig.target.route('GET', '/ready/p3', { status: 200, delayMs: 120_000 });
    let proc = await start();
    openLongAgo('gated');
    const r = await proc.post('/api/v1/incidents', { id: 'P3', root_cause: 'gated', service: 'p3', confidence: 1 });
    assert.equal(r.body.action, 'executed');
    const trial = r.body.execution_id as string;
    await rig.target.waitForRequest('/ready/p3', { since: 0, timeoutMs: 20_000 });
    await proc.kill9();

    const since = Date.now();
    proc = await start();
    const c = await circuitOf(proc, 'gated');
    assert.deepEqual([c.state, c.failures], ['open', 3]);
    assert.ok(Date.parse(c.opened_at) >= since, 'a new recovery wait, from the recovery');
    const audit = await rows(proc, trial);
    assert.deepEqual(audit.map((a) => a.event), ['CIRCUIT_HALF_OPEN', 'EXECUTING', 'STEP_STARTED', 'INTERRUPTED', 'CIRCUIT_TRIPPED']);
    const { notification_id: _id, told: _told, ...interrupted } = audit[3]!.details;
    assert.deepEqual(interrupted, {
      last_step: { phase: 'pre_check', index: 0, summary: `http GET ${rig.target.url}/ready/p3`, finished: false },
      reason: 'rectify stopped while this execution ran; its outcome is unknown and it will not be re-run: a human must check',
    });
    assert.equal(audit[4]!.details.reason, 'the trial run was cut off before it ended, which proves nothing: the circuit opens again and the next trial waits the recovery time again');
    const blocked = await proc.post('/api/v1/incidents', { id: 'P4', root_cause: 'gated', service: 'p3', confidence: 1 });
    assert.equal(blocked.body.event, 'CIRCUIT_OPEN');
    assert.equal(rig.target.calls('/act/p3'), 0, 'no action ran');
    await proc.stop();
  });
});
