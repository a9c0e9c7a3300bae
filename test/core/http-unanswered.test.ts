import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService, type TestService } from '../helpers/service.js';

/**
 * An `http:` action whose write was sent and got no answer (its deadline passed while
 * the target was still working on it) may or may not have been applied. With no rollback
 * after it nothing rectify does afterwards can tell which, so the run is left to a person
 * (`needs_human`), as a Kubernetes write left unanswered is. A request that never left
 * (the connection refused) changed nothing and needs nobody; with a rollback, the
 * rollback runs as for any failed write. Real HTTP: a target that answers after 5 s, an
 * action that waits 1 s; a port nothing listens on.
 */
const runbook = (id: string, method: 'GET' | 'POST', url: string, rollback: string) => `  ${id}:
    risk: LOW
    triggers: [${id}]
    min_confidence: 0.5
    max_per_hour: 100
    cooldown_minutes: 0
    action: {http: {method: ${method}, url: "${url}", timeout_seconds: 1}}
${rollback}`;
const NONE = '    rollback: none\n    rollback_reason: the target cannot undo it\n';

describe('an http action left unanswered', { timeout: 60_000 }, () => {
  let target: HttpTarget;
  let svc: TestService;
  let closedUrl: string;

  before(async () => {
    target = await startHttpTarget();
    for (const method of ['POST', 'GET']) target.route(method, '/slow/checkout', { status: 200, delayMs: 5_000 });
    target.route('POST', '/undo/checkout', { status: 200 });
    const closed = await startHttpTarget();
    closedUrl = closed.url;
    await closed.close();
    svc = await startTestService({
      runbooks:
        'runbooks:\n' +
        runbook('slow_none', 'POST', `${target.url}/slow/{service}`, NONE) +
        runbook('slow_get', 'GET', `${target.url}/slow/{service}`, NONE) +
        runbook('refused_none', 'POST', `${closedUrl}/slow/{service}`, NONE) +
        runbook('slow_rollback', 'POST', `${target.url}/slow/{service}`, `    rollback: {http: {method: POST, url: "${target.url}/undo/{service}", timeout_seconds: 2}}\n`),
      realClock: true,
    });
  });
  after(async () => {
    await svc?.stop({ remove: true });
    await target?.close();
  });

  const run = async (trigger: string) => {
    const undos = target.calls('/undo/checkout', 'POST');
    const r = await svc.post('/api/v1/incidents?wait=true', { root_cause: trigger, service: 'checkout', confidence: 1 });
    assert.equal(r.body.action, 'executed', JSON.stringify(r.body));
    const id = r.body.execution_id as string;
    const e = (await svc.get(`/api/v1/executions/${id}`)).body;
    const incident = (await svc.get(`/api/v1/incidents/${r.body.incident_id}`)).body;
    const failed = (await svc.get(`/api/v1/audit?execution_id=${id}&event=FAILED`)).body.events;
    const finished = (await svc.get(`/api/v1/audit?execution_id=${id}&event=STEP_FINISHED`)).body.events;
    assert.equal(failed.length, 1);
    return { e, incident, failed: failed[0].details, finished: finished.map((f: { details: Record<string, unknown> }) => f.details), undos: target.calls('/undo/checkout', 'POST') - undos };
  };

  it('a POST that timed out after it was sent, no rollback: unconfirmed, needs_human true in the FAILED row and the views', async () => {
    const { e, incident, failed, finished, undos } = await run('slow_none');
    const detail = `POST ${target.url}/slow/checkout: timed out after 1s (the request may have reached the target)`;
    assert.equal(e.outcome, `action 1 failed: ${detail}`);
    assert.deepEqual(
      e.steps.map((s: { phase: string; ok: boolean; unconfirmed?: boolean; unchanged?: boolean }) => [s.phase, s.ok, s.unconfirmed ?? false, s.unchanged ?? false]),
      [['action', false, true, false]],
    );
    assert.deepEqual(finished.map((f: Record<string, unknown>) => [f.phase, f.ok, f.unconfirmed]), [['action', false, true]]);
    assert.deepEqual(failed, { reason: `action 1 failed: ${detail}`, rolled_back: false, needs_human: true });
    assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['failed', false, true]);
    assert.equal(incident.execution.needs_human, true);
    assert.equal(undos, 0);
  });

  it('a GET that timed out is a read: it changed nothing, needs_human false', async () => {
    const { e, failed, finished } = await run('slow_get');
    assert.deepEqual(finished.map((f: Record<string, unknown>) => [f.phase, f.ok, f.unconfirmed]), [['action', false, undefined]]);
    assert.equal(failed.needs_human, undefined);
    assert.deepEqual([e.state, e.needs_human], ['failed', false]);
  });

  it('a POST whose connection was refused was never sent: not unconfirmed, needs_human false', async () => {
    const { e, incident, failed, finished } = await run('refused_none');
    const detail = `POST ${closedUrl}/slow/checkout not sent: connection refused`;
    assert.deepEqual(finished.map((f: Record<string, unknown>) => [f.phase, f.ok, f.unconfirmed, f.detail]), [['action', false, undefined, detail]]);
    assert.deepEqual(failed, { reason: `action 1 failed: ${detail}`, rolled_back: false });
    assert.deepEqual([e.state, e.needs_human], ['failed', false]);
    assert.equal(incident.execution.needs_human, false);
  });

  it('a POST that timed out, with a rollback: the rollback runs once and the run is rolled back, needs_human false', async () => {
    const { e, failed, finished, undos } = await run('slow_rollback');
    assert.equal(undos, 1);
    // The audit log answers newest first.
    assert.deepEqual(
      finished.map((f: Record<string, unknown>) => [f.phase, f.ok, f.unconfirmed]),
      [
        ['rollback', true, undefined],
        ['action', false, true],
      ],
    );
    assert.deepEqual([failed.rolled_back, failed.needs_human], [true, undefined]);
    assert.deepEqual([e.state, e.rolled_back, e.needs_human], ['failed', true, false]);
  });
});
