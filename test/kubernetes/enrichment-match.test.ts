import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import type { HttpTarget } from '../helpers/http-target.js';
import type { KubeFake } from '../helpers/kube-fake/index.js';
import type { TestService } from '../helpers/service.js';
import { useServiceOnFake } from './setup.js';

/**
 * A runbook's `match:` matchers see the values its placeholders are filled with,
 * those Kubernetes enrichment reads included: an alert naming only a pod is matched
 * on its own values, and its owning deployment, read from the cluster, is tested
 * again before anything is rendered or run (through the whole service, on the API fake).
 */
const NS = 'prod';
const EXCLUDES = 'match: [\'deployment!~"payments-.*"\']';

const depRunbook = (target: HttpTarget, id: string, trigger: string, match: string, path: string, risk = 'LOW'): string => `  ${id}:
    risk: ${risk}
    triggers: [${trigger}]
    ${match}
    blast_radius_limit: 10
    cooldown_minutes: 0
    rollback: none
    rollback_reason: a restart is not undone
    params: {deployment: the deployment}
    actions:
      - http: {method: POST, url: "${target.url}/${path}/{deployment}", timeout_seconds: 5}
`;

const alert = (alertname: string, labels: Record<string, string>, fingerprint: string) => ({
  version: '4',
  alerts: [{ status: 'firing', labels: { alertname, namespace: NS, ...labels }, annotations: {}, startsAt: '2026-12-06T11:00:00Z', fingerprint }],
});

const prepare = (fake: KubeFake, target: HttpTarget): void => {
  fake.addDeployment(NS, 'payments-api', 3, { podNames: ['payments-api-7d9f-a1'] });
  fake.addDeployment(NS, 'web', 2, { podNames: ['web-5c4b-b1'] });
  for (const path of ['/restart/payments-api', '/restart/web', '/high/payments-api', '/high/web', '/payments/payments-api']) target.route('POST', path, { status: 200 });
};

/** The decision's action, event, runbook and reason. */
const decided = (r: { body: any }): unknown[] => {
  const d = r.body.results?.[0] ?? r.body;
  return [d.action, d.event, d.runbook, d.reason];
};

describe("enriched values and a runbook's match: matchers, through the service", { timeout: 60_000 }, () => {
  const on = useServiceOnFake({
    prepare,
    runbooks: (target) =>
      `runbooks:\n${depRunbook(target, 'restart-dep', 'DepDown', EXCLUDES, 'restart')}${depRunbook(target, 'approve-dep', 'DepHigh', EXCLUDES, 'high', 'HIGH')}`,
  });
  let svc: TestService;
  let target: HttpTarget;
  beforeEach(() => ({ svc, target } = on));

  const NO_RUNBOOK = (id: string) =>
    `No matching runbook: ${id} matched the alert's own values, but its match: deployment!~"payments-.*" does not hold on deployment "payments-api", read from the cluster, and no other runbook matches with it; nothing was run`;

  // Regression: the matchers were tested on the alert's values only, and an alert naming a
  // pod of payments-api restarted payments-api, which the runbook excludes.
  it('an alert naming only a pod of an excluded deployment finds no runbook once its owner is read, as one naming the deployment does', async () => {
    const named = await svc.post('/api/v1/webhooks/alertmanager?wait=true', alert('DepDown', { deployment: 'payments-api' }, 'a1'));
    assert.deepEqual(decided(named), ['manual', 'NO_RUNBOOK', null, 'No matching runbook']);
    const byPod = await svc.post('/api/v1/webhooks/alertmanager?wait=true', alert('DepDown', { pod: 'payments-api-7d9f-a1' }, 'a2'));
    assert.deepEqual(decided(byPod), ['manual', 'NO_RUNBOOK', null, NO_RUNBOOK('restart-dep')]);
    assert.equal(target.calls('/restart/payments-api', 'POST'), 0);
    const audit = await svc.get(`/api/v1/audit?incident_id=${byPod.body.results[0].incident_id}`);
    assert.deepEqual(
      audit.body.events.map((e: any) => [e.event, e.runbook]),
      [['NO_RUNBOOK', null]],
    );
    const runbook = (await svc.get('/api/v1/runbooks/restart-dep')).body;
    assert.equal(runbook.executions_last_hour, 0);
  });

  it('an alert naming only a pod of a deployment the matchers allow still runs, once', async () => {
    const r = await svc.post('/api/v1/webhooks/alertmanager?wait=true', alert('DepDown', { pod: 'web-5c4b-b1' }, 'b1'));
    assert.deepEqual(decided(r), ['executed', 'SUCCESS', 'restart-dep', 'risk LOW: guardrails passed']);
    assert.equal(target.calls('/restart/web', 'POST'), 1);
    assert.equal(target.calls('/restart/payments-api', 'POST'), 0);
  });

  it('a manual run naming a pod of an excluded deployment is refused as one naming the deployment is', async () => {
    const reason =
      'runbook restart-dep excludes deployment "payments-api" (match: deployment!~"payments-.*"): a manual run keeps the runbook\'s exclusions, and nothing overrides them; ' +
      'to act there, use a runbook whose match: allows it (a reviewed change to the runbooks), or act by hand outside rectify';
    for (const params of [{ deployment: 'payments-api', namespace: NS }, { pod: 'payments-api-7d9f-a1', namespace: NS }]) {
      for (const dry_run of [false, true]) {
        const r = await svc.post('/api/v1/runbooks/restart-dep/run?wait=true', { by: 'alice', params, dry_run });
        assert.deepEqual([...decided(r), r.body.execution_id], ['blocked', 'PARAM_REFUSED', 'restart-dep', reason, null], JSON.stringify(params));
      }
    }
    assert.equal(target.calls('/restart/payments-api', 'POST'), 0);
    const allowed = await svc.post('/api/v1/runbooks/restart-dep/run?wait=true', { by: 'alice', params: { pod: 'web-5c4b-b1', namespace: NS } });
    assert.deepEqual(decided(allowed), ['executed', 'SUCCESS', 'restart-dep', 'manual run']);
    assert.equal(target.calls('/restart/web', 'POST'), 1);
  });

  it('a HIGH runbook asks nobody to approve a run on an excluded deployment read from the cluster, and an approval never runs one', async () => {
    const byPod = await svc.post('/api/v1/webhooks/alertmanager', alert('DepHigh', { pod: 'payments-api-7d9f-a1' }, 'c1'));
    assert.deepEqual(decided(byPod), ['manual', 'NO_RUNBOOK', null, NO_RUNBOOK('approve-dep')]);
    const asked = await svc.post('/api/v1/webhooks/alertmanager', alert('DepHigh', { pod: 'web-5c4b-b1' }, 'c2'));
    assert.equal(asked.body.results[0].action, 'approval_required', asked.body.results[0].reason);
    const approvalId = asked.body.results[0].approval_id as string;
    const pending = (await svc.get('/api/v1/approvals?status=pending')).body;
    assert.deepEqual(
      pending.approvals.map((a: any) => a.id),
      [approvalId],
    );

    // A request an earlier release opened for a pod of payments-api, its matchers tested on
    // the alert's values only: the plan it asked about acts on the excluded deployment.
    const raw = new Database(svc.dbPath);
    try {
      const row = raw.prepare('SELECT plan FROM approvals WHERE id = ?').get(approvalId) as { plan: string };
      raw.prepare('UPDATE approvals SET plan = ? WHERE id = ?').run(row.plan.replaceAll('web', 'payments-api'), approvalId);
    } finally {
      raw.close();
    }
    const r = await svc.post(`/api/v1/approvals/${approvalId}/approve?wait=true`, { by: 'bob' });
    assert.equal(r.status, 409, JSON.stringify(r.body));
    assert.equal(
      r.body.error.message,
      `approving request ${approvalId} now would not run it: runbook approve-dep excludes deployment "payments-api" (match: deployment!~"payments-.*"), the value its plan was rendered with, ` +
        `and nothing overrides that (PARAM_REFUSED); the request stays pending until it expires at ${new Date(pending.approvals[0].expires_at).toISOString()}: reject it`,
    );
    assert.equal(target.calls('/high/payments-api', 'POST'), 0);
    assert.equal(target.calls('/high/web', 'POST'), 0);
  });
});

describe('enriched values matching a later runbook, through the service', { timeout: 60_000 }, () => {
  const on = useServiceOnFake({
    prepare,
    runbooks: (target) =>
      `runbooks:\n${depRunbook(target, 'restart-dep', 'DepDown', EXCLUDES, 'restart')}${depRunbook(target, 'restart-payments', 'DepDown', 'match: [\'deployment=~"payments-.*"\']', 'payments')}`,
  });
  let svc: TestService;
  let target: HttpTarget;
  beforeEach(() => ({ svc, target } = on));

  it('an alert naming only a pod is decided by the first runbook its enriched values match, as one naming the deployment is', async () => {
    const named = await svc.post('/api/v1/webhooks/alertmanager?wait=true', alert('DepDown', { deployment: 'payments-api' }, 'd1'));
    assert.deepEqual(decided(named), ['executed', 'SUCCESS', 'restart-payments', 'risk LOW: guardrails passed']);
    const byPod = await svc.post('/api/v1/webhooks/alertmanager?wait=true', alert('DepDown', { pod: 'payments-api-7d9f-a1' }, 'd2'));
    assert.deepEqual(decided(byPod), ['executed', 'SUCCESS', 'restart-payments', 'risk LOW: guardrails passed']);
    assert.equal(target.calls('/payments/payments-api', 'POST'), 2);
    assert.equal(target.calls('/restart/payments-api', 'POST'), 0);
  });
});
