import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPrometheusMetrics, noopMetrics } from '../../src/observability/index.js';
import { holdDatabaseLock } from '../helpers/db-lock.js';
import { amWebhook, startTestService } from '../helpers/service.js';
import { until } from '../helpers/until.js';

function sampleLines(text: string, prefix: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(prefix));
}

describe('Prometheus metrics', () => {
  it('renders exact samples after calls to the port', async () => {
    const m = createPrometheusMetrics({ defaultMetrics: false });
    m.incidentReceived('alertmanager');
    m.incidentReceived('alertmanager');
    m.incidentReceived('pagerduty');
    m.decision('executed', 'EXECUTING');
    m.decision('blocked', 'RATE_LIMITED');
    m.decision('blocked', 'RATE_LIMITED');
    m.executionFinished('restart-pod', 'success', 3);
    m.executionFinished('restart-pod', 'failed', 0.2);
    m.circuitState('restart-pod', 'open');
    m.circuitState('rollback-deployment', 'half_open');
    m.circuitState('scale-up', 'closed');
    m.paused(true);
    m.commitBatch(7, 0.004);
    m.approvalsPending(2);

    const text = await m.render();
    assert.deepEqual(sampleLines(text, 'rectify_incidents_total'), [
      'rectify_incidents_total{source="alertmanager"} 2',
      'rectify_incidents_total{source="pagerduty"} 1',
    ]);
    assert.deepEqual(sampleLines(text, 'rectify_decisions_total'), [
      'rectify_decisions_total{action="executed",reason="EXECUTING"} 1',
      'rectify_decisions_total{action="blocked",reason="RATE_LIMITED"} 2',
    ]);
    assert.deepEqual(sampleLines(text, 'rectify_executions_total'), [
      'rectify_executions_total{runbook="restart-pod",outcome="success"} 1',
      'rectify_executions_total{runbook="restart-pod",outcome="failed"} 1',
    ]);
    const duration = sampleLines(text, 'rectify_execution_duration_seconds');
    assert.ok(duration.includes('rectify_execution_duration_seconds_bucket{le="0.5",runbook="restart-pod"} 1'));
    assert.ok(duration.includes('rectify_execution_duration_seconds_bucket{le="5",runbook="restart-pod"} 2'));
    assert.ok(duration.includes('rectify_execution_duration_seconds_sum{runbook="restart-pod"} 3.2'));
    assert.ok(duration.includes('rectify_execution_duration_seconds_count{runbook="restart-pod"} 2'));
    assert.deepEqual(sampleLines(text, 'rectify_circuit_state'), [
      'rectify_circuit_state{runbook="restart-pod"} 1',
      'rectify_circuit_state{runbook="rollback-deployment"} 2',
      'rectify_circuit_state{runbook="scale-up"} 0',
    ]);
    assert.ok(text.includes('# HELP rectify_circuit_state Circuit breaker state per runbook: 0 = closed, 1 = open, 2 = half-open.'));
    assert.deepEqual(sampleLines(text, 'rectify_paused'), ['rectify_paused 1']);
    assert.deepEqual(sampleLines(text, 'rectify_approvals_pending'), ['rectify_approvals_pending 2']);
    assert.ok(sampleLines(text, 'rectify_commit_batch_size').includes('rectify_commit_batch_size_bucket{le="10"} 1'));
    assert.ok(sampleLines(text, 'rectify_commit_batch_size').includes('rectify_commit_batch_size_sum 7'));
    assert.ok(sampleLines(text, 'rectify_commit_duration_seconds').includes('rectify_commit_duration_seconds_bucket{le="0.005"} 1'));

    m.paused(false);
    assert.deepEqual(sampleLines(await m.render(), 'rectify_paused'), ['rectify_paused 0']);
  });

  it('exposes gauges from the first scrape and the exposition content type', async () => {
    const m = createPrometheusMetrics({ defaultMetrics: false });
    const text = await m.render();
    assert.deepEqual(sampleLines(text, 'rectify_paused'), ['rectify_paused 0']);
    assert.deepEqual(sampleLines(text, 'rectify_approvals_pending'), ['rectify_approvals_pending 0']);
    assert.equal(m.contentType, 'text/plain; version=0.0.4; charset=utf-8');
  });

  it('reads the live queue depths at scrape time, zero before anything is watched; the dropped counter only grows', async () => {
    const m = createPrometheusMetrics({ defaultMetrics: false });
    const before = await m.render();
    assert.deepEqual(sampleLines(before, 'rectify_store_pending'), ['rectify_store_pending 0']);
    assert.deepEqual(sampleLines(before, 'rectify_executions_running'), ['rectify_executions_running 0']);
    assert.deepEqual(sampleLines(before, 'rectify_notifications_dropped_total'), ['rectify_notifications_dropped_total 0']);
    let pending = 7;
    let dropped = 3;
    m.watch({ storePending: () => pending, executionsRunning: () => 2, notificationsDropped: () => dropped });
    const text = await m.render();
    assert.deepEqual(sampleLines(text, 'rectify_store_pending'), ['rectify_store_pending 7']);
    assert.deepEqual(sampleLines(text, 'rectify_executions_running'), ['rectify_executions_running 2']);
    // Every run in flight, one waiting for its turn at a Kubernetes workload too: its HELP says so.
    assert.ok(
      text.includes(
        '# HELP rectify_executions_running Executions under way in this process, from the committed claim until the run ends: pre-checks, steps, verification and rollback, and a step waiting for its turn at a Kubernetes workload another run holds (README: Kubernetes, runs under way together).\n',
      ),
    );
    assert.deepEqual(sampleLines(text, 'rectify_notifications_dropped_total'), ['rectify_notifications_dropped_total 3']);
    pending = 0;
    dropped = 5;
    const later = await m.render();
    assert.deepEqual(sampleLines(later, 'rectify_store_pending'), ['rectify_store_pending 0']);
    assert.deepEqual(sampleLines(later, 'rectify_notifications_dropped_total'), ['rectify_notifications_dropped_total 5']);
    assert.ok(later.includes('# TYPE rectify_notifications_dropped_total counter'));
  });

  it('keeps instances independent (no global registry) and includes process metrics by default', async () => {
    const a = createPrometheusMetrics();
    const b = createPrometheusMetrics();
    a.incidentReceived('api');
    const textA = await a.render();
    const textB = await b.render();
    assert.deepEqual(sampleLines(textA, 'rectify_incidents_total'), ['rectify_incidents_total{source="api"} 1']);
    assert.deepEqual(sampleLines(textB, 'rectify_incidents_total'), []);
    assert.match(textA, /^process_cpu_user_seconds_total \d/m);
    assert.match(textA, /^nodejs_heap_size_used_bytes \d/m);
  });

  it('noopMetrics accepts every call', () => {
    noopMetrics.incidentReceived('api');
    noopMetrics.decision('executed', 'EXECUTING');
    noopMetrics.executionFinished('r', 'interrupted', 1);
    noopMetrics.circuitState('r', 'open');
    noopMetrics.paused(true);
    noopMetrics.commitBatch(1, 0.1);
    noopMetrics.approvalsPending(0);
    assert.equal(Object.isFrozen(noopMetrics), true);
  });
});

describe('the store queue metrics count writes, not decisions', () => {
  it('one request of 200 alerts waiting behind a held lock is one pending write, and one write in its commit; the help says so', async () => {
    const svc = await startTestService({ runbooks: {}, args: ['--db-busy-timeout', '20s'] });
    try {
      const metric = (text: string, name: string) => Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
      const before = (await svc.get('/metrics')).body as string;
      const lock = await holdDatabaseLock(svc.dbPath);
      let posted: Promise<{ status: number }>;
      try {
        const alerts = Array.from({ length: 200 }, (_, i) => ({ labels: { alertname: 'X', service: `s${i}` }, fingerprint: `f${i}` }));
        posted = svc.post('/api/v1/webhooks/alertmanager', amWebhook(alerts));
        await until('the request waits for the lock', async () => (svc.service.store.pending() > 0 ? true : undefined));
        const waiting = (await svc.get('/metrics')).body as string;
        assert.equal(metric(waiting, 'rectify_store_pending'), 1);
        assert.match(waiting, /^# HELP rectify_store_pending Writes waiting for the next store commit: an intake request with all its decisions counts one/m);
      } finally {
        await lock.release();
      }
      assert.equal((await posted).status, 202);
      const after = (await svc.get('/metrics')).body as string;
      assert.equal(metric(after, 'rectify_decisions_total{action="manual",reason="NO_RUNBOOK"}') - metric(before, 'rectify_decisions_total{action="manual",reason="NO_RUNBOOK"}'), 200);
      assert.match(after, /^# HELP rectify_commit_batch_size Writes committed together per store commit: an intake request with all its decisions counts one/m);
    } finally {
      await svc.stop({ remove: true });
    }
  });
});

describe('counters an alert reads with increase() start at 0', () => {
  it('reload outcomes and intake refusals from the first scrape; per runbook once known, a count made kept, and a runbook known again not reset', async () => {
    const m = createPrometheusMetrics({ defaultMetrics: false });
    const first = await m.render();
    assert.deepEqual(sampleLines(first, 'rectify_runbook_reloads_total'), ['rectify_runbook_reloads_total{outcome="ok"} 0', 'rectify_runbook_reloads_total{outcome="refused"} 0']);
    const refused = sampleLines(first, 'rectify_intake_refused_total');
    assert.equal(refused.length, 17, 'three intake routes by five reasons, and the two paths a POST to no route falls under by unknown_path');
    assert.ok(refused.includes('rectify_intake_refused_total{route="/api/v1/webhooks/*",reason="unknown_path"} 0'));
    assert.ok(!refused.some((l) => l.includes('route="/api/v1/incidents",reason="unknown_path"')));
    assert.ok(refused.includes('rectify_intake_refused_total{route="/api/v1/webhooks/alertmanager",reason="body_too_large"} 0'));
    assert.ok(refused.includes('rectify_intake_refused_total{route="/api/v1/incidents",reason="aborted"} 0'));
    assert.ok(refused.every((l) => l.endsWith(' 0')));
    assert.deepEqual(sampleLines(first, 'rectify_operator_resets_total'), [], 'no runbook known yet');

    m.knowRunbooks(['x']);
    m.operatorReset('x', 'cooldown_clear');
    m.runbooksReloaded('refused');
    m.intakeRefused('/api/v1/incidents', 'aborted');
    m.executionFinished('x', 'failed', 1);
    m.knowRunbooks(['x', 'y']);
    const text = await m.render();
    assert.deepEqual(sampleLines(text, 'rectify_operator_resets_total'), [
      'rectify_operator_resets_total{runbook="x",kind="circuit_close"} 0',
      'rectify_operator_resets_total{runbook="x",kind="cooldown_clear"} 1',
      'rectify_operator_resets_total{runbook="y",kind="circuit_close"} 0',
      'rectify_operator_resets_total{runbook="y",kind="cooldown_clear"} 0',
    ]);
    assert.deepEqual(sampleLines(text, 'rectify_executions_total'), [
      'rectify_executions_total{runbook="x",outcome="success"} 0',
      'rectify_executions_total{runbook="x",outcome="failed"} 1',
      'rectify_executions_total{runbook="x",outcome="aborted"} 0',
      'rectify_executions_total{runbook="x",outcome="interrupted"} 0',
      'rectify_executions_total{runbook="y",outcome="success"} 0',
      'rectify_executions_total{runbook="y",outcome="failed"} 0',
      'rectify_executions_total{runbook="y",outcome="aborted"} 0',
      'rectify_executions_total{runbook="y",outcome="interrupted"} 0',
    ]);
    assert.deepEqual(sampleLines(text, 'rectify_runbook_reloads_total'), ['rectify_runbook_reloads_total{outcome="ok"} 0', 'rectify_runbook_reloads_total{outcome="refused"} 1']);
    assert.ok(sampleLines(text, 'rectify_intake_refused_total').includes('rectify_intake_refused_total{route="/api/v1/incidents",reason="aborted"} 1'));
  });
});
