import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useRectifyProcesses, type RectifyProcess } from '../helpers/process.js';

/**
 * GET /metrics after a kill -9: the gauges come back from the database (pending
 * approvals, the kill switch, open circuits; nothing running), and the runs the crash
 * cut off, which startup recovery records as INTERRUPTED, are counted as such.
 */

const runbooks = (base: string) => `runbooks:
  fix:
    risk: LOW
    triggers: [broken]
    min_confidence: 0.5
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/act/{service}", timeout_seconds: 120}
    rollback: none
    rollback_reason: a test target
  bad:
    risk: LOW
    triggers: [failing]
    min_confidence: 0.5
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/fail/{service}"}
    rollback: none
    rollback_reason: a test target
  ask:
    risk: HIGH
    owner: db-team
    triggers: [scary]
    min_confidence: 0.5
    action:
      http: {method: POST, url: "${base}/act/{service}"}
    rollback: none
    rollback_reason: a test target
`;

const samples = async (p: RectifyProcess): Promise<string[]> => {
  const r = await p.get('/metrics');
  assert.equal(r.status, 200);
  return String(r.body)
    .split('\n')
    .filter((l) => /^rectify_(executions_total|executions_running|approvals_pending|paused|circuit_state|runbook_paused)\b/.test(l));
};

describe('/metrics after a kill -9', () => {
  const rig = useRectifyProcesses('rectify-metrics-restart-', runbooks);
  const start = () => rig.start(['--circuit-failure-threshold', '1']);

  it('gauges are read back from the store, and the run the crash cut off counts as interrupted', async () => {
    rig.target.route('POST', '/fail/web', { status: 500 });
    rig.target.route('POST', '/act/shop', { status: 200, delayMs: 120_000 });
    let proc = await start();
    const failed = await proc.post('/api/v1/incidents?wait=true', { root_cause: 'failing', service: 'web', confidence: 1 });
    assert.equal(failed.body.action, 'executed');
    assert.equal((await proc.post('/api/v1/incidents', { root_cause: 'scary', service: 'db', confidence: 1 })).body.action, 'approval_required');
    assert.equal((await proc.post('/api/v1/incidents', { root_cause: 'broken', service: 'shop', confidence: 1 })).body.action, 'executed');
    await rig.target.waitForRequest('/act/shop', { timeoutMs: 20_000 });
    assert.equal((await proc.post('/api/v1/pause', { by: 'alice', reason: 'looking' })).status, 200);
    // Every runbook's outcomes from the start, at 0 until counted (increase() sees the first).
    const executions = (counted: string): string[] =>
      ['fix', 'bad', 'ask'].flatMap((rb) => ['success', 'failed', 'aborted', 'interrupted'].map((o) => `rectify_executions_total{runbook="${rb}",outcome="${o}"} ${`${rb}/${o}` === counted ? 1 : 0}`));
    const before = [
      ...executions('bad/failed'),
      'rectify_circuit_state{runbook="fix"} 0',
      'rectify_circuit_state{runbook="bad"} 1',
      'rectify_circuit_state{runbook="ask"} 0',
      'rectify_paused 1',
      'rectify_approvals_pending 1',
      'rectify_runbook_paused{runbook="fix"} 0',
      'rectify_runbook_paused{runbook="bad"} 0',
      'rectify_runbook_paused{runbook="ask"} 0',
      'rectify_executions_running 1',
    ];
    assert.deepEqual(await samples(proc), before);

    await proc.kill9();
    proc = await start();
    // The counters start again from zero, but for the run recovery made INTERRUPTED:
    // the one outcome a human must look at, which the killed process never counted.
    assert.deepEqual(await samples(proc), [
      ...executions('fix/interrupted'),
      'rectify_circuit_state{runbook="fix"} 0',
      'rectify_circuit_state{runbook="bad"} 1',
      'rectify_circuit_state{runbook="ask"} 0',
      'rectify_paused 1',
      'rectify_approvals_pending 1',
      'rectify_runbook_paused{runbook="fix"} 0',
      'rectify_runbook_paused{runbook="bad"} 0',
      'rectify_runbook_paused{runbook="ask"} 0',
      'rectify_executions_running 0',
    ]);
    const interrupted = String((await proc.get('/metrics')).body)
      .split('\n')
      .filter((l) => l.startsWith('rectify_execution_duration_seconds_count'));
    assert.deepEqual(interrupted, ['rectify_execution_duration_seconds_count{runbook="fix"} 1']);
    await proc.stop();
  });
});
