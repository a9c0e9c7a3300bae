import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { amWebhook, startTestService, type TestService } from '../helpers/service.js';

const MIN = 60_000;

function runbooks(base: string): string {
  return `runbooks:
  rollback-deployment:
    risk: HIGH
    triggers: [error_rate_spike_after_deploy]
    min_confidence: 0.9
    max_per_hour: 1
    cooldown_minutes: 30
    action:
      http: {method: POST, url: "${base}/deployments/{deployment}/undo"}
    rollback:
      http: {method: POST, url: "${base}/deployments/{deployment}/undo"}
`;
}

const inc3 = (id = 'INC003') => ({ id, root_cause: 'error_rate_spike_after_deploy', confidence: 0.92, service: 'checkout', context: { deployment: 'checkout', namespace: 'production' } });

describe('approvals', () => {
  let target: HttpTarget;
  let svc: TestService;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/deployments/checkout/undo', { status: 200 });
  });
  after(async () => target.close());

  it('HIGH risk waits; approving runs exactly the approved plan once; a second decision is a 409', async () => {
    target.reset();
    svc = await startTestService({ runbooks: runbooks(target.url) });
    const d = await svc.post('/api/v1/incidents', inc3());
    assert.equal(d.body.action, 'approval_required');
    assert.equal(d.body.reason, 'risk HIGH requires approval');
    const id = d.body.approval_id as string;
    assert.match(id, /^apr_/);
    assert.equal(target.calls('/deployments/checkout/undo'), 0);

    const ok = await svc.post(`/api/v1/approvals/${id}/approve?wait=true`, { by: 'alice', comment: 'error rate is real' });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.status, 'approved');
    assert.equal(ok.body.decided_by, 'alice');
    assert.equal(ok.body.result.action, 'executed');
    assert.equal(ok.body.result.success, true);
    assert.equal(target.calls('/deployments/checkout/undo', 'POST'), 1);

    const again = await svc.post(`/api/v1/approvals/${id}/approve`, { by: 'bob' });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'CONFLICT');
    assert.equal(again.body.error.message, `approval request ${id} is already approved by alice`);
    const rej = await svc.post(`/api/v1/approvals/${id}/reject`, { by: 'bob' });
    assert.equal(rej.status, 409);
    assert.equal(target.calls('/deployments/checkout/undo', 'POST'), 1);

    const view = await svc.get('/api/v1/incidents/INC003');
    assert.equal(view.body.decision.action, 'approval_required');
    assert.equal(view.body.approval.status, 'approved');
    assert.equal(view.body.execution.state, 'succeeded');
    const events = (await svc.get('/api/v1/audit?incident_id=INC003')).body.events.map((e: any) => e.event).reverse();
    assert.deepEqual(events, ['APPROVAL_REQUIRED', 'APPROVED', 'EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'SUCCESS']);
    await svc.stop({ remove: true });
  });

  it('unknown approval is a 404; missing "by" is a 400 naming the field', async () => {
    svc = await startTestService({ runbooks: runbooks(target.url) });
    const nf = await svc.post('/api/v1/approvals/apr_nope/approve', { by: 'alice' });
    assert.equal(nf.status, 404);
    assert.equal(nf.body.error.code, 'NOT_FOUND');
    const d = await svc.post('/api/v1/incidents', inc3());
    const bad = await svc.post(`/api/v1/approvals/${d.body.approval_id}/approve`, { comment: 'x' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.details[0].path, 'body.by');
    assert.equal((await svc.get(`/api/v1/approvals/${d.body.approval_id}`)).body.status, 'pending', 'a refused request changes nothing');
    await svc.stop({ remove: true });
  });

  it('reject records who and why, and nothing runs', async () => {
    target.reset();
    svc = await startTestService({ runbooks: runbooks(target.url) });
    const d = await svc.post('/api/v1/incidents', inc3());
    const r = await svc.post(`/api/v1/approvals/${d.body.approval_id}/reject`, { by: 'carol', comment: 'known false positive' });
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 'rejected');
    assert.equal(r.body.comment, 'known false positive');
    assert.equal(target.calls('/deployments/checkout/undo'), 0);
    const ev = (await svc.get('/api/v1/audit?event=REJECTED')).body.events[0];
    assert.equal(ev.actor, 'carol');
    await svc.stop({ remove: true });
  });

  it('pending approvals expire after the TTL (EXPIRED) and can no longer be approved', async () => {
    svc = await startTestService({ runbooks: runbooks(target.url), args: ['--approval-ttl', '10m'] });
    const d = await svc.post('/api/v1/incidents', inc3());
    svc.clock.advance(10 * MIN);
    assert.equal(await svc.service.engine.expireApprovals(), 1);
    const a = await svc.get(`/api/v1/approvals/${d.body.approval_id}`);
    assert.equal(a.body.status, 'expired');
    const late = await svc.post(`/api/v1/approvals/${d.body.approval_id}/approve`, { by: 'alice' });
    assert.equal(late.status, 409);
    assert.equal((await svc.get('/api/v1/audit?event=EXPIRED')).body.events.length, 1);
    await svc.stop({ remove: true });
  });

  it('a request past its deadline reads as expired at once, before housekeeping reaches it: the lists, the request, its incident and the pending gauge agree with approving it (409)', async () => {
    svc = await startTestService({ runbooks: runbooks(target.url), args: ['--approval-ttl', '10m'] });
    const d = await svc.post('/api/v1/incidents', inc3());
    const id = d.body.approval_id;
    const gauge = async () => /^rectify_approvals_pending (\d+)$/m.exec((await svc.get('/metrics')).body)?.[1];
    // A millisecond before the deadline: pending everywhere, nothing written by reading.
    svc.clock.advance(10 * MIN - 1);
    assert.equal((await svc.get(`/api/v1/approvals/${id}`)).body.status, 'pending');
    assert.equal((await svc.get('/api/v1/approvals?status=pending')).body.total, 1);
    assert.equal(await gauge(), '1');
    // At the deadline (approving answers 409 expired from here on), before any housekeeping pass.
    svc.clock.advance(1);
    const pending = (await svc.get('/api/v1/approvals?status=pending')).body;
    assert.deepEqual([pending.approvals, pending.total], [[], 0]);
    const a = (await svc.get(`/api/v1/approvals/${id}`)).body;
    assert.deepEqual([a.status, a.decided_by, a.decided_at], ['expired', 'rectify', a.expires_at]);
    assert.equal((await svc.get(`/api/v1/incidents/${d.body.incident_id}`)).body.approval.status, 'expired');
    assert.equal(await gauge(), '0');
    const late = await svc.post(`/api/v1/approvals/${id}/approve`, { by: 'alice' });
    assert.equal(late.status, 409);
    assert.equal(late.body.error.message, `approval request ${id} is already expired by rectify`);
    // Recorded and told once, by the first read; housekeeping finds nothing left.
    assert.equal((await svc.get('/api/v1/audit?event=EXPIRED')).body.events.length, 1);
    assert.equal(await svc.service.engine.expireApprovals(), 0);
    await svc.stop({ remove: true });
  });

  it('approval re-runs the guardrails: the rate limit used meanwhile refuses the approval (409), the request stays pending and runs once approved later', async () => {
    target.reset();
    target.route('POST', '/deployments/checkout-canary/undo', { status: 200 });
    svc = await startTestService({ runbooks: runbooks(target.url), args: ['--approval-ttl', '3h'] });
    const a1 = (await svc.post('/api/v1/incidents', inc3('A1'))).body.approval_id;
    // Another deployment of the same service: another plan, so a request of its own.
    const a2 = (await svc.post('/api/v1/incidents', { ...inc3('A2'), context: { deployment: 'checkout-canary', namespace: 'production' } })).body.approval_id;
    assert.notEqual(a2, a1);
    assert.equal((await svc.post(`/api/v1/approvals/${a1}/approve?wait=true`, { by: 'alice' })).body.result.action, 'executed');
    const second = await svc.post(`/api/v1/approvals/${a2}/approve?wait=true`, { by: 'alice' });
    assert.equal(second.status, 409);
    assert.equal(second.body.error.code, 'CONFLICT');
    assert.match(second.body.error.message, new RegExp(`^approving request ${a2} now would not run it: .+ \\(RATE_LIMITED\\); the request stays pending \\(it expires at .+\\): approve it again once that no longer holds, or reject it$`));
    assert.equal((await svc.get(`/api/v1/approvals/${a2}`)).body.status, 'pending');
    assert.equal((await svc.get('/api/v1/audit?event=APPROVED')).body.events.length, 1, 'only the first was approved');
    assert.equal(target.calls('/deployments/checkout/undo', 'POST'), 1);
    assert.equal(target.calls('/deployments/checkout-canary/undo', 'POST'), 0);
    // An hour later the rate limit allows it: the same request, approved, runs.
    svc.clock.advance(61 * MIN);
    const later = await svc.post(`/api/v1/approvals/${a2}/approve?wait=true`, { by: 'alice' });
    assert.equal(later.status, 200);
    assert.equal(later.body.result.action, 'executed');
    assert.equal(target.calls('/deployments/checkout-canary/undo', 'POST'), 1);
    await svc.stop({ remove: true });
  });

  it('a resolved alert cancels its pending approval', async () => {
    svc = await startTestService({ runbooks: runbooks(target.url) });
    const labels = { alertname: 'ErrorRateSpike', root_cause: 'error_rate_spike_after_deploy', service: 'checkout', deployment: 'checkout', namespace: 'production', confidence: '0.95' };
    const fired = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([{ labels, fingerprint: 'abcdef0123456789' }]));
    assert.equal(fired.status, 202);
    const approvalId = fired.body.results[0].approval_id;
    assert.ok(approvalId);
    const resolved = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([{ labels, fingerprint: 'abcdef0123456789', status: 'resolved' }]));
    assert.equal(resolved.body.results[0].action, 'resolved');
    assert.equal(resolved.body.results[0].incident_id, fired.body.results[0].incident_id);
    assert.equal(resolved.body.results[0].reason, 'alert resolved; 1 pending approval(s) cancelled');
    assert.equal((await svc.get(`/api/v1/approvals/${approvalId}`)).body.status, 'cancelled');
    const events = (await svc.get(`/api/v1/audit?incident_id=${fired.body.results[0].incident_id}`)).body.events.map((e: any) => e.event).reverse();
    assert.deepEqual(events, ['APPROVAL_REQUIRED', 'CANCELLED', 'RESOLVED']);
    await svc.stop({ remove: true });
  });

  it('a resolve after the request\'s deadline, before housekeeping reaches it, records the request expired (EXPIRED, told as such), not cancelled; its answer says so', async () => {
    target.reset();
    target.route('POST', '/hook', { status: 200 });
    svc = await startTestService({ runbooks: runbooks(target.url), args: ['--approval-ttl', '10m', '--notify-webhook', `${target.url}/hook`] });
    const labels = { alertname: 'ErrorRateSpike', root_cause: 'error_rate_spike_after_deploy', service: 'checkout', deployment: 'checkout', namespace: 'production', confidence: '0.95' };
    const fired = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([{ labels, fingerprint: 'abcdef0123456789' }]));
    const incidentId = fired.body.results[0].incident_id;
    const approvalId = fired.body.results[0].approval_id;
    assert.ok(approvalId);
    svc.clock.advance(10 * MIN + 1000);
    const resolved = await svc.post('/api/v1/webhooks/alertmanager', amWebhook([{ labels, fingerprint: 'abcdef0123456789', status: 'resolved' }]));
    assert.deepEqual([resolved.body.results[0].action, resolved.body.results[0].incident_id, resolved.body.results[0].reason], ['resolved', incidentId, 'alert resolved; 1 pending approval(s) expired before it']);
    const a = (await svc.get(`/api/v1/approvals/${approvalId}`)).body;
    assert.deepEqual([a.status, a.decided_by, a.comment], ['expired', 'rectify', null]);
    const events = (await svc.get(`/api/v1/audit?incident_id=${incidentId}`)).body.events.reverse();
    assert.deepEqual(events.map((e: any) => e.event), ['APPROVAL_REQUIRED', 'EXPIRED', 'RESOLVED']);
    assert.deepEqual([events[1].actor, events[1].details.approval_id, events[1].details.reason], ['rectify', approvalId, 'nobody approved before the deadline']);
    // Housekeeping finds nothing left; approving answers as for any expired request.
    assert.equal(await svc.service.engine.expireApprovals(), 0);
    const late = await svc.post(`/api/v1/approvals/${approvalId}/approve`, { by: 'alice' });
    assert.deepEqual([late.status, late.body.error.message], [409, `approval request ${approvalId} is already expired by rectify`]);
    await svc.service.drainNotifications();
    const told = target.requests('/hook', 'POST').map((r) => r.json() as { event: string; approval_id?: string });
    assert.deepEqual(told.filter((n) => n.approval_id === approvalId).map((n) => n.event), ['APPROVAL_REQUIRED', 'EXPIRED']);
    await svc.stop({ remove: true });
  });

  it('a request whose runbook changed (or went) before the approval is cancelled with a 409; nothing runs', async () => {
    target.reset();
    target.route('POST', '/deployments/checkout/v2-undo', { status: 200 });
    svc = await startTestService({ runbooks: runbooks(target.url) });
    const unchanged = (await svc.post('/api/v1/incidents', inc3('INC-same'))).body.approval_id as string;
    const edited = (await svc.post('/api/v1/incidents', { ...inc3('INC-edit'), service: 'checkout-b' })).body.approval_id as string;
    // A restart with the same file: the request stands.
    svc = await svc.restart();
    const same = await svc.post(`/api/v1/approvals/${unchanged}/approve?wait=true`, { by: 'erin' });
    assert.equal(same.status, 200);
    assert.equal(same.body.result.action, 'executed');
    // The runbook edited, then a restart: approving would run steps nobody wrote any more.
    writeFileSync(join(svc.runbooksDir, 'runbooks.yaml'), runbooks(target.url).replaceAll('/undo"', '/v2-undo"'));
    svc = await svc.restart();
    const stale = await svc.post(`/api/v1/approvals/${edited}/approve`, { by: 'erin' });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.error.code, 'CONFLICT');
    assert.equal(
      stale.body.error.message,
      `runbook rollback-deployment changed since this request was made: approval request ${edited} is cancelled, nothing ran; the next alert asks again with the runbook as it is now`,
    );
    const a = (await svc.get(`/api/v1/approvals/${edited}`)).body;
    assert.equal(a.status, 'cancelled');
    assert.equal(target.calls('/deployments/checkout/undo', 'POST'), 1, 'only the unchanged request ran');
    assert.equal(target.calls('/deployments/checkout/v2-undo', 'POST'), 0);
    const events = (await svc.get('/api/v1/audit?event=CANCELLED')).body.events;
    assert.equal(events[0].details.reason, 'runbook rollback-deployment changed since this request was made');
    await svc.stop({ remove: true });
  });

  it('a request cancelled because its runbook changed is recorded as rectify\'s cancellation, in the audit log and the request alike, naming who tried to approve it', async () => {
    svc = await startTestService({ runbooks: runbooks(target.url) });
    const id = (await svc.post('/api/v1/incidents', inc3('INC-OWNER'))).body.approval_id as string;
    // Only the owner changes, then a reload (what SIGHUP does): the request no longer fits the runbook.
    writeFileSync(join(svc.runbooksDir, 'runbooks.yaml'), runbooks(target.url).replace('    risk: HIGH\n', '    risk: HIGH\n    owner: team-payments\n'));
    assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 1, added: [], removed: [], changed: ['rollback-deployment'], reordered: false });
    const tried = await svc.post(`/api/v1/approvals/${id}/approve`, { by: 'carol' });
    assert.equal(tried.status, 409);
    const a = (await svc.get(`/api/v1/approvals/${id}`)).body;
    assert.deepEqual([a.status, a.decided_by, a.comment], ['cancelled', 'rectify', 'runbook rollback-deployment changed since this request was made']);
    const [row, ...more] = (await svc.get('/api/v1/audit?event=CANCELLED')).body.events;
    assert.equal(more.length, 0);
    assert.equal(row.actor, 'rectify', 'the same actor as the request records: carol approved, rectify cancelled');
    assert.deepEqual(row.details, { approval_id: id, reason: 'runbook rollback-deployment changed since this request was made', attempted_by: 'carol' });
    assert.equal((await svc.get('/api/v1/audit?event=APPROVED')).body.events.length, 0);
    await svc.stop({ remove: true });
  });

  // Regression: any edit of the runbook file, a description's typo fixed, cancelled its pending requests.
  it('an edit of a runbook\'s descriptive keys only (description, name, verification, last_updated, success_rate) leaves its requests approvable', async () => {
    target.route('POST', '/deployments/described/undo', { status: 200 });
    svc = await startTestService({ runbooks: runbooks(target.url).replace('    risk: HIGH\n', '    risk: HIGH\n    description: roll back\n') });
    const incident = { ...inc3('INC-DESC'), service: 'described', context: { deployment: 'described', namespace: 'production' } };
    const id = (await svc.post('/api/v1/incidents', incident)).body.approval_id as string;
    const described = runbooks(target.url).replace(
      '    risk: HIGH\n',
      '    risk: HIGH\n    name: Roll back a deployment\n    description: roll back the last deploy (typo fixed)\n    verification: error rate drops\n    last_updated: 2026-12-01\n    success_rate: 0.9\n',
    );
    writeFileSync(join(svc.runbooksDir, 'runbooks.yaml'), described);
    assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 1, added: [], removed: [], changed: ['rollback-deployment'], reordered: false });
    const ok = await svc.post(`/api/v1/approvals/${id}/approve?wait=true`, { by: 'carol' });
    assert.equal(ok.status, 200);
    assert.deepEqual([ok.body.status, ok.body.result.action, ok.body.result.event], ['approved', 'executed', 'SUCCESS']);
    assert.equal(target.calls('/deployments/described/undo', 'POST'), 1);
    assert.equal((await svc.get('/api/v1/audit?event=CANCELLED')).body.events.length, 0);
    await svc.stop({ remove: true });
  });

  it('a request recorded without the digest of what it runs (by a rectify from before) is still cancelled by any edit of its runbook', async () => {
    const first = await startTestService({ runbooks: runbooks(target.url) });
    const id = (await first.post('/api/v1/incidents', inc3('INC-OLD-PLAN'))).body.approval_id as string;
    await first.stop();
    const db = new Database(first.dbPath);
    assert.equal(db.prepare("UPDATE approvals SET plan = json_remove(plan, '$.runbookPlanVersion') WHERE id = ? AND json_extract(plan, '$.runbookPlanVersion') IS NOT NULL").run(id).changes, 1);
    db.close();
    writeFileSync(join(first.runbooksDir, 'runbooks.yaml'), runbooks(target.url).replace('    risk: HIGH\n', '    risk: HIGH\n    description: typo fixed\n'));
    svc = await startTestService({ dir: first.dir, clock: first.clock });
    const tried = await svc.post(`/api/v1/approvals/${id}/approve`, { by: 'carol' });
    assert.equal(tried.status, 409);
    const a = (await svc.get(`/api/v1/approvals/${id}`)).body;
    assert.deepEqual([a.status, a.decided_by, a.comment], ['cancelled', 'rectify', 'runbook rollback-deployment changed since this request was made']);
    await svc.stop({ remove: true });
  });

  it('manual run of a MEDIUM runbook: its guardrails are evaluated as for an automatic run', async () => {
    target.route('POST', '/medium/shop', { status: 200 });
    target.route('GET', '/gate', { status: 200 });
    svc = await startTestService({
      runbooks: `runbooks:
  medium-fix:
    risk: MEDIUM
    triggers: [medium]
    max_per_hour: 10
    cooldown_minutes: 0
    guardrails:
      - http: {url: "${target.url}/gate", timeout_seconds: 1, interval_seconds: 1}
    action:
      http: {method: POST, url: "${target.url}/medium/{service}"}
`,
    });
    const ran = await svc.post('/api/v1/runbooks/medium-fix/run?wait=true', { params: { service: 'shop' }, by: 'dave' });
    assert.deepEqual([ran.body.action, ran.body.event, ran.body.reason], ['executed', 'SUCCESS', 'manual run']);
    assert.equal(target.calls('/medium/shop', 'POST'), 1);
    target.route('GET', '/gate', { status: 503 });
    const held = await svc.post('/api/v1/runbooks/medium-fix/run', { params: { service: 'shop' }, by: 'dave' });
    assert.equal(held.body.action, 'approval_required');
    assert.match(held.body.reason, /^risk MEDIUM: guardrail failed: http: GET http:\/\/127.0.0.1:\d+\/gate: expected status 200, got 503 after 2 attempts$/);
    await svc.stop({ remove: true });
  });

  it('the approval view shows what Approve would run and its rollback, as the notification does; null with no rollback', async () => {
    target.reset();
    target.route('POST', '/hook', { status: 200 });
    const undoOnly = `runbooks:
  abort-canary:
    risk: HIGH
    triggers: [bad_canary]
    action:
      http: {method: POST, url: "${target.url}/canary/{deployment}/abort"}
`;
    svc = await startTestService({ runbooks: { 'a.yaml': runbooks(target.url), 'b.yaml': undoOnly }, args: ['--notify-webhook', `${target.url}/hook`] });
    const withRollback = (await svc.post('/api/v1/incidents', inc3('INC-RB'))).body.approval_id as string;
    const without = (await svc.post('/api/v1/incidents', { id: 'INC-NORB', root_cause: 'bad_canary', confidence: 1, service: 'checkout', context: { deployment: 'checkout' } })).body.approval_id as string;
    const undo = `POST ${target.url}/deployments/checkout/undo`;
    const one = (await svc.get(`/api/v1/approvals/${withRollback}`)).body;
    assert.deepEqual([one.actions, one.rollback], [[undo], [undo]]);
    const other = (await svc.get(`/api/v1/approvals/${without}`)).body;
    assert.deepEqual([other.actions, other.rollback], [[`POST ${target.url}/canary/checkout/abort`], null]);
    // The list and the incident's view say the same; so does the notification's plan.
    const listed = (await svc.get('/api/v1/approvals?status=pending')).body.approvals;
    assert.deepEqual(listed.map((a: any) => [a.id, a.rollback]).sort(), [[withRollback, [undo]], [without, null]].sort());
    assert.deepEqual((await svc.get('/api/v1/incidents/INC-RB')).body.approval.rollback, [undo]);
    await svc.service.drainNotifications();
    const plans = target.requests('/hook', 'POST').map((q) => q.json() as any).filter((n) => n.event === 'APPROVAL_REQUIRED');
    assert.deepEqual(
      plans.map((n) => [n.approval_id, n.plan]).sort(),
      [[withRollback, { actions: one.actions, rollback: one.rollback }], [without, { actions: other.actions, rollback: other.rollback }]].sort(),
    );
    await svc.stop({ remove: true });
  });

  it('manual run of a HIGH runbook asks for approval on behalf of the requester', async () => {
    svc = await startTestService({ runbooks: runbooks(target.url) });
    const r = await svc.post('/api/v1/runbooks/rollback-deployment/run', { params: { deployment: 'checkout' }, by: 'dave', dry_run: false });
    assert.equal(r.status, 202);
    assert.equal(r.body.action, 'approval_required');
    const a = await svc.get(`/api/v1/approvals/${r.body.approval_id}`);
    assert.equal(a.body.requested_by, 'dave');
    const dry = await svc.post('/api/v1/runbooks/rollback-deployment/run?wait=true', { params: { deployment: 'checkout' }, by: 'dave', dry_run: true });
    assert.equal(dry.body.action, 'dry_run');
    const nf = await svc.post('/api/v1/runbooks/nope/run', { by: 'dave' });
    assert.equal(nf.status, 404);
    await svc.stop({ remove: true });
  });

  it('an approve or reject body is what it says: an unknown key (dry_run, a misspelt comment) is a 400 naming it, and nothing is decided or runs', async () => {
    target.reset();
    svc = await startTestService({ runbooks: runbooks(target.url) });
    const id = (await svc.post('/api/v1/incidents', inc3())).body.approval_id as string;
    const keys = 'an approve or reject body has by, comment';
    const refused: Array<[string, Record<string, unknown>, string, string]> = [
      ['approve', { by: 'alice', dry_run: true, comment: 'try it' }, 'body.dry_run', `unknown key: ${keys}; approving runs the plan as requested, for real: GET /api/v1/approvals/{id} shows what it would run`],
      ['approve', { by: 'alice', commnet: 'error rate is real' }, 'body.commnet', `unknown key (did you mean "comment"?): ${keys}`],
      ['reject', { by: 'alice', reason: 'false positive' }, 'body.reason', `unknown key: ${keys}`],
    ];
    const before = svc.service.store.auditHighWater();
    for (const [verdict, body, path, message] of refused) {
      const r = await svc.post(`/api/v1/approvals/${id}/${verdict}?wait=true`, body);
      assert.deepEqual({ status: r.status, body: r.body }, { status: 400, body: { error: { code: 'VALIDATION_FAILED', message: `invalid body: ${path}: ${message}`, details: [{ path, message }] } } }, JSON.stringify(body));
    }
    assert.equal(svc.service.store.auditHighWater(), before, 'nothing recorded');
    assert.equal((await svc.get(`/api/v1/approvals/${id}`)).body.status, 'pending');
    assert.equal(target.calls('/deployments/checkout/undo', 'POST'), 0);
    // The keys it has are taken as before.
    const ok = await svc.post(`/api/v1/approvals/${id}/approve?wait=true`, { by: 'alice', comment: 'error rate is real' });
    assert.deepEqual([ok.status, ok.body.status, ok.body.comment, ok.body.result.action], [200, 'approved', 'error rate is real', 'executed']);
    assert.equal(target.calls('/deployments/checkout/undo', 'POST'), 1);
    await svc.stop({ remove: true });
  });

  it('who acts is someone: a blank `by` (Unicode spaces, invisible characters) or a name rectify keeps for itself is a 400 naming body.by on every route that acts', async () => {
    target.reset();
    svc = await startTestService({ runbooks: runbooks(target.url) });
    const id = (await svc.post('/api/v1/incidents', inc3())).body.approval_id as string;
    const blank = 'a name may not be blank (only spaces or invisible characters)';
    const reserved = (n: string) => `${JSON.stringify(n)} is reserved for rectify's own audit entries; choose another name`;
    const names: Array<[string, string]> = [
      [' ', blank],
      ['\u00a0', blank],
      ['\u3000 ', blank],
      ['\u3164', blank],
      // A format character (U+200B) is refused in any name, blank or not.
      ['\u200b', 'a name may not hold control characters (a newline, a tab, NUL, an escape) or invisible format characters (a bidi override such as U+202E, a zero-width space)'],
      ['rectify', reserved('rectify')],
      ['api', reserved('api')],
      ['Rectify ', reserved('Rectify ')],
      ['\uff52ectify', reserved('\uff52ectify')],
    ];
    const routes: Array<[string, Record<string, unknown>]> = [
      [`/api/v1/approvals/${id}/approve?wait=true`, {}],
      [`/api/v1/approvals/${id}/reject`, {}],
      ['/api/v1/runbooks/rollback-deployment/run?wait=true', { params: { deployment: 'checkout' } }],
      ['/api/v1/runbooks/rollback-deployment/pause', {}],
      ['/api/v1/runbooks/rollback-deployment/resume', {}],
      ['/api/v1/pause', {}],
      ['/api/v1/resume', {}],
      ['/api/v1/runbooks/rollback-deployment/circuit/close', { reason: 'fixed by hand' }],
      ['/api/v1/runbooks/rollback-deployment/cooldown/clear', { reason: 'fixed by hand' }],
    ];
    const before = svc.service.store.auditHighWater();
    for (const [url, body] of routes) {
      for (const [by, message] of names) {
        const r = await svc.post(url, { ...body, by });
        const path = 'body.by';
        assert.deepEqual({ status: r.status, body: r.body }, { status: 400, body: { error: { code: 'VALIDATION_FAILED', message: `invalid body: ${path}: ${message}`, details: [{ path, message }] } } }, `${url} ${JSON.stringify(by)}`);
      }
    }
    assert.equal(svc.service.store.auditHighWater(), before, 'nothing recorded');
    assert.equal((await svc.get(`/api/v1/approvals/${id}`)).body.status, 'pending');
    assert.equal((await svc.get('/api/v1/runbooks/rollback-deployment')).body.paused, null);
    assert.equal(target.calls('/deployments/checkout/undo', 'POST'), 0);
    // A name that holds one of them is a name like any other.
    const ok = await svc.post(`/api/v1/approvals/${id}/approve?wait=true`, { by: 'rectify-oncall' });
    assert.deepEqual([ok.status, ok.body.decided_by, ok.body.result.action], [200, 'rectify-oncall', 'executed']);
    await svc.stop({ remove: true });
  });

  it('invisible characters inside a name are no disguise: rect\\u200Bify is refused (a format character), r\\u3164ectify reads as rectify, and a name of Hangul fillers or the blank Braille pattern is blank (400 naming body.by, nothing recorded)', async () => {
    target.reset();
    svc = await startTestService({ runbooks: runbooks(target.url) });
    const id = (await svc.post('/api/v1/incidents', inc3())).body.approval_id as string;
    const blank = 'a name may not be blank (only spaces or invisible characters)';
    const reserved = (shown: string) => `${shown} is reserved for rectify's own audit entries; choose another name`;
    // A format character (Cf: zero-width, soft hyphen, tags, bidi) is refused in any name; the other invisible ones read as rectify's name.
    const format = 'a name may not hold control characters (a newline, a tab, NUL, an escape) or invisible format characters (a bidi override such as U+202E, a zero-width space)';
    const names: Array<[string, string]> = [
      ['rect\u200bify', format],
      ['rec\u00adtify', format],
      ['a\u200cpi', format],
      ['a\u034fpi', reserved('"a\\u034fpi"')],
      ['r\u3164ectify', reserved('"r\\u3164ectify"')],
      ['rectify\u{e0020}', format],
      ['\u3164', blank],
      ['\uffa0', blank],
      ['\u115f', blank],
      ['\u1160', blank],
      ['\u034f', blank],
      ['\u2800', blank],
      [' \u2800\u3164 ', blank],
    ];
    const before = svc.service.store.auditHighWater();
    for (const url of [`/api/v1/approvals/${id}/approve?wait=true`, '/api/v1/pause']) {
      for (const [by, message] of names) {
        const r = await svc.post(url, { by });
        assert.deepEqual({ status: r.status, body: r.body }, { status: 400, body: { error: { code: 'VALIDATION_FAILED', message: `invalid body: body.by: ${message}`, details: [{ path: 'body.by', message }] } } }, `${url} ${JSON.stringify(by)}`);
      }
    }
    assert.equal(svc.service.store.auditHighWater(), before, 'nothing recorded');
    assert.equal((await svc.get(`/api/v1/approvals/${id}`)).body.status, 'pending');
    assert.equal(target.calls('/deployments/checkout/undo', 'POST'), 0);
    // A visible name with such a character in it is still a name.
    const ok = await svc.post('/api/v1/pause', { by: 'ali\u2800ce' });
    assert.deepEqual([ok.status, ok.body.changed], [200, true]);
    const paused = (await svc.get('/api/v1/audit?event=SERVICE_PAUSED')).body.events.map((e: { actor: string }) => e.actor);
    assert.deepEqual(paused, ['ali\u2800ce']);
    await svc.stop({ remove: true });
  });

  it('under --dry-run approving would run nothing: a 409 saying so, and the request stays pending to be approved once rectify runs live', async () => {
    target.reset();
    const live = await startTestService({ runbooks: runbooks(target.url), args: ['--approval-ttl', '3h'] });
    const id = (await live.post('/api/v1/incidents', inc3())).body.approval_id as string;
    await live.stop();
    svc = await startTestService({ dir: live.dir, clock: live.clock, args: ['--approval-ttl', '3h', '--dry-run'] });
    const before = svc.service.store.auditHighWater();
    const dry = await svc.post(`/api/v1/approvals/${id}/approve?wait=true`, { by: 'alice' });
    const expires = (await svc.get(`/api/v1/approvals/${id}`)).body.expires_at;
    assert.deepEqual({ status: dry.status, body: dry.body }, {
      status: 409,
      body: { error: { code: 'CONFLICT', message: `approving request ${id} now would run nothing: rectify runs with --dry-run; the request stays pending (it expires at ${expires}): approve it once rectify runs it for real, or reject it`, details: [] } },
    });
    const view = (await svc.get(`/api/v1/approvals/${id}`)).body;
    assert.deepEqual([view.status, view.decided_by, view.votes], ['pending', null, []]);
    assert.equal(svc.service.store.auditHighWater(), before, 'nothing recorded');
    assert.equal(target.calls('/deployments/checkout/undo', 'POST'), 0);
    await svc.stop();
    // Live again: the same request, approved, runs.
    svc = await startTestService({ dir: live.dir, clock: live.clock, args: ['--approval-ttl', '3h'] });
    const ok = await svc.post(`/api/v1/approvals/${id}/approve?wait=true`, { by: 'alice' });
    assert.deepEqual([ok.status, ok.body.status, ok.body.result.action], [200, 'approved', 'executed']);
    assert.equal(target.calls('/deployments/checkout/undo', 'POST'), 1);
    await svc.stop({ remove: true });
  });

  it('under --dry-run a request that needs two approvers is refused at the first vote too: a 409, no vote, no audit row, nobody told', async () => {
    target.reset();
    target.route('POST', '/hook', { status: 200 });
    const two = runbooks(target.url).replace('risk: HIGH\n', 'risk: HIGH\n    approvals_required: 2\n');
    const args = ['--approval-ttl', '3h', '--notify-webhook', `${target.url}/hook`];
    const live = await startTestService({ runbooks: two, args });
    const id = (await live.post('/api/v1/incidents', inc3())).body.approval_id as string;
    await live.stop();
    svc = await startTestService({ dir: live.dir, clock: live.clock, args: [...args, '--dry-run'] });
    const before = svc.service.store.auditHighWater();
    const dry = await svc.post(`/api/v1/approvals/${id}/approve?wait=true`, { by: 'alice' });
    const expires = (await svc.get(`/api/v1/approvals/${id}`)).body.expires_at;
    assert.deepEqual({ status: dry.status, body: dry.body }, {
      status: 409,
      body: { error: { code: 'CONFLICT', message: `approving request ${id} now would run nothing: rectify runs with --dry-run; the request stays pending (it expires at ${expires}): approve it once rectify runs it for real, or reject it`, details: [] } },
    });
    const view = (await svc.get(`/api/v1/approvals/${id}`)).body;
    assert.deepEqual([view.status, view.decided_by, view.votes], ['pending', null, []]);
    await svc.service.drainNotifications();
    assert.equal(svc.service.store.auditHighWater(), before, 'nothing recorded');
    const told = () => target.requests('/hook', 'POST').map((r) => (r.json() as { event: string }).event);
    assert.deepEqual(told().filter((e) => e === 'APPROVAL_VOTE'), []);
    await svc.stop();
    // Live again: two votes, and the run.
    svc = await startTestService({ dir: live.dir, clock: live.clock, args });
    const first = await svc.post(`/api/v1/approvals/${id}/approve?wait=true`, { by: 'alice' });
    assert.deepEqual([first.status, first.body.status, first.body.votes.map((v: { by: string }) => v.by)], [202, 'pending', ['alice']]);
    const second = await svc.post(`/api/v1/approvals/${id}/approve?wait=true`, { by: 'bob' });
    assert.deepEqual([second.status, second.body.status, second.body.decided_by, second.body.result.action], [200, 'approved', 'alice, bob', 'executed']);
    assert.equal(target.calls('/deployments/checkout/undo', 'POST'), 1);
    await svc.stop({ remove: true });
  });

  it('outside_windows: approval: outside its windows an alert asks a person, and approving it runs it, still outside them', async () => {
    target.reset();
    target.route('POST', '/restart/checkout', { status: 200 });
    svc = await startTestService({
      runbooks: `runbooks:
  restart:
    risk: LOW
    triggers: [crashloop]
    max_per_hour: 10
    cooldown_minutes: 0
    windows:
      - {days: [mon, tue, wed, thu, fri, sat, sun], start: "22:00", end: "06:00", timezone: UTC}
    outside_windows: approval
    action:
      http: {method: POST, url: "${target.url}/restart/{service}"}
`,
    });
    svc.clock.advance(9 * 60 * MIN); // 12:00 UTC, outside the window
    const asked = await svc.post('/api/v1/incidents?wait=true', { id: 'INC-W', root_cause: 'crashloop', confidence: 0.99, service: 'checkout' });
    assert.deepEqual(
      [asked.body.action, asked.body.event, asked.body.reason],
      ['approval_required', 'APPROVAL_REQUIRED', "risk LOW: outside the runbook's allowed windows (mon, tue, wed, thu, fri, sat, sun 22:00–06:00 UTC)"],
    );
    assert.equal(target.calls('/restart/checkout', 'POST'), 0);
    svc.clock.advance(30 * MIN); // 12:30 UTC, still outside it
    const ok = await svc.post(`/api/v1/approvals/${asked.body.approval_id as string}/approve?wait=true`, { by: 'alice' });
    assert.deepEqual([ok.status, ok.body.status, ok.body.result.action, ok.body.result.event], [200, 'approved', 'executed', 'SUCCESS']);
    assert.equal(target.calls('/restart/checkout', 'POST'), 1);
    await svc.stop({ remove: true });
  });

  it('a person chooses the time: an approval and a manual run go ahead outside the runbook\'s windows, which hold back only automatic runs', async () => {
    target.reset();
    target.route('POST', '/restart/checkout', { status: 200 });
    const night = '    windows:\n      - {days: [mon, tue, wed, thu, fri, sat, sun], start: "22:00", end: "06:00", timezone: UTC}\n';
    svc = await startTestService({
      runbooks: `${runbooks(target.url)}${night}  restart:
    risk: LOW
    triggers: [crashloop]
    max_per_hour: 10
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/restart/{service}"}
${night}`,
      args: ['--approval-ttl', '12h'],
    });
    // The test clock starts at 03:00 UTC, inside the window: the HIGH runbook asks.
    const id = (await svc.post('/api/v1/incidents', inc3())).body.approval_id as string;
    svc.clock.advance(9 * 60 * MIN); // 12:00 UTC, outside it
    const auto = await svc.post('/api/v1/incidents?wait=true', { id: 'INC-R', root_cause: 'crashloop', confidence: 0.99, service: 'checkout' });
    assert.deepEqual([auto.body.action, auto.body.event], ['blocked', 'OUTSIDE_WINDOW']);
    const ok = await svc.post(`/api/v1/approvals/${id}/approve?wait=true`, { by: 'alice' });
    assert.deepEqual([ok.status, ok.body.status, ok.body.result.action], [200, 'approved', 'executed']);
    const manual = await svc.post('/api/v1/runbooks/restart/run?wait=true', { params: { service: 'checkout' }, by: 'alice' });
    assert.deepEqual([manual.status, manual.body.action], [202, 'executed']);
    assert.equal(target.calls('/deployments/checkout/undo', 'POST'), 1);
    assert.equal(target.calls('/restart/checkout', 'POST'), 1, 'the manual run only');
    await svc.stop({ remove: true });
  });
});
