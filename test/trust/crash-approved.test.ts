import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { useRectifyProcesses, type RectifyProcess } from '../helpers/process.js';
import { httpRunbook, postRunbook, runbooksFile } from '../helpers/runbooks.js';

/**
 * A run a person approved, killed (kill -9) while its action was under way: found
 * unfinished at the next start, it is INTERRUPTED, and its notification and INTERRUPTED
 * row name the approval request that started it (`approval_id`), as the end of an
 * approved run names it, so a person reading the page can follow it to the request.
 * An automatic run cut off beside it names none.
 */

const HOLD = { status: 200, delayMs: 120_000 };

const runbooks = (base: string) =>
  runbooksFile(postRunbook('ask', { trigger: 'scary', url: `${base}/act/{service}` }), httpRunbook('auto', { trigger: 'broken', url: `${base}/act/{service}` }));

describe('kill -9 during a run a person approved', () => {
  const rig = useRectifyProcesses('rectify-crash-approved-', runbooks);
  before(() => {
    rig.target.route('POST', '/hook', { status: 204 });
    rig.target.route('POST', '/act/approved', HOLD);
    rig.target.route('POST', '/act/automatic', HOLD);
  });

  const start = () => rig.start(['--notify-webhook', `${rig.target.url}/hook`]);
  const interruptedRow = async (p: RectifyProcess, executionId: string) =>
    ((await p.get(`/api/v1/audit?execution_id=${executionId}&event=INTERRUPTED`)).body.events as Array<{ details: Record<string, any> }>).map((e) => e.details);

  it('the INTERRUPTED notification and row of the recovered run name its approval request; an automatic run’s name none', async () => {
    let proc = await start();
    const asked = await proc.post('/api/v1/incidents', { id: 'A1', root_cause: 'scary', service: 'approved', confidence: 1 });
    assert.equal(asked.body.action, 'approval_required');
    const approvalId = asked.body.approval_id as string;
    const approved = await proc.post(`/api/v1/approvals/${approvalId}/approve`, { by: 'carol' });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    assert.equal(approved.body.result.action, 'executed');
    const approvedRun = approved.body.result.execution_id as string;
    const auto = await proc.post('/api/v1/incidents', { id: 'B1', root_cause: 'broken', service: 'automatic', confidence: 1 });
    assert.equal(auto.body.action, 'executed');
    const autoRun = auto.body.execution_id as string;
    await rig.target.waitForRequest('/act/approved', { since: 0, timeoutMs: 20_000 });
    await rig.target.waitForRequest('/act/automatic', { since: 0, timeoutMs: 20_000 });
    await proc.kill9();

    const since = Date.now();
    proc = await start();
    for (const id of [approvedRun, autoRun]) assert.equal((await proc.get(`/api/v1/executions/${id}`)).body.state, 'interrupted');
    const told = async (executionId: string) =>
      (await rig.target.waitForRequest('/hook', { since, timeoutMs: 20_000, where: (r) => (r.json() as any).execution_id === executionId && (r.json() as any).event === 'INTERRUPTED' })).json() as Record<string, unknown>;
    const ofApproved = await told(approvedRun);
    assert.deepEqual([ofApproved.event, ofApproved.approval_id, ofApproved.incident_id], ['INTERRUPTED', approvalId, asked.body.incident_id]);
    const ofAuto = await told(autoRun);
    assert.deepEqual([ofAuto.event, ofAuto.approval_id], ['INTERRUPTED', null]);

    // The rows record the notifications as told (told again from them after another crash).
    const [approvedRow] = await interruptedRow(proc, approvedRun);
    assert.equal(approvedRow!.told.approval_id, approvalId);
    assert.equal(approvedRow!.notification_id, ofApproved.notification_id);
    const [autoRow] = await interruptedRow(proc, autoRun);
    assert.equal(autoRow!.told.approval_id, null);

    assert.equal(rig.target.calls('/act/approved'), 1, 'never re-run');
    const v = await proc.get('/api/v1/audit/verify');
    assert.equal(v.body.ok, true, v.body.reason);
    await proc.stop();
  });
});
