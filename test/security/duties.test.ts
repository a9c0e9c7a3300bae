import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { bearer, issueToken, writeTokensFile } from '../helpers/tokens.js';
import { approvalRunbooks } from './setup.js';

const runbooks = (base: string): string => approvalRunbooks(base, { dropId: 'drop-database-replica' });

describe('separation of duties and two approvers (with API tokens)', () => {
  let target: HttpTarget;
  let svc: TestService;
  let url: string;
  const dave = issueToken('dave', ['admin']);
  const alice = issueToken('alice', ['approver']);
  const bob = issueToken('bob', ['approver']);
  const viewer = issueToken('viewer', ['viewer']);
  const am = issueToken('alertmanager', ['ingest']);

  async function post(path: string, token: { token: string }, body: unknown = {}) {
    const res = await fetch(url + path, { method: 'POST', headers: { ...bearer(token.token), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  }
  async function get(path: string) {
    const res = await fetch(url + path, { headers: bearer(viewer) });
    return { status: res.status, body: (await res.json()) as any };
  }
  const events = async (incident: string) => (await get(`/api/v1/audit?incident_id=${incident}&limit=100`)).body.events.reverse().map((e: any) => `${e.event} ${e.actor}`);

  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/undo/checkout', { status: 200 });
    target.route('POST', '/drop/db', { status: 200 });
    const dir = mkdtempSync(join(tmpdir(), 'rectify-duties-'));
    const file = writeTokensFile(dir, [dave, alice, bob, viewer, am]);
    svc = await startTestService({ runbooks: runbooks(target.url), args: ['--tokens', file, '--listen', '127.0.0.1:0'] });
    url = await svc.service.listen();
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });

  it('whoever asked for a manual run cannot approve it (403, nothing runs); someone else can', async () => {
    target.reset();
    const run = await post('/api/v1/runbooks/rollback-deployment/run', dave, { params: { deployment: 'checkout' }, service: 'checkout' });
    assert.equal(run.status, 202);
    assert.equal(run.body.action, 'approval_required');
    const id = run.body.approval_id as string;
    assert.equal((await get(`/api/v1/approvals/${id}`)).body.requested_by, 'dave');

    const self = await post(`/api/v1/approvals/${id}/approve`, dave, { by: 'alice' });
    assert.equal(self.status, 403);
    assert.deepEqual(self.body.error, {
      code: 'FORBIDDEN',
      message: 'dave requested this run and cannot approve it (separation of duties): another approver must, or reject it to withdraw the request',
      details: [],
    });
    assert.equal((await get(`/api/v1/approvals/${id}`)).body.status, 'pending');
    assert.equal(target.calls('/undo/checkout'), 0);

    const ok = await post(`/api/v1/approvals/${id}/approve?wait=true`, alice, { comment: 'checked the dashboards' });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.decided_by, 'alice');
    assert.equal(ok.body.result.action, 'executed');
    assert.equal(target.calls('/undo/checkout', 'POST'), 1);
    assert.deepEqual(await events(run.body.incident_id), ['MANUAL_RUN dave', 'APPROVAL_REQUIRED dave', 'APPROVED alice', 'EXECUTING alice', 'STEP_STARTED rectify', 'STEP_FINISHED rectify', 'SUCCESS rectify']);
  });

  it('with a token an approval needs no body at all', async () => {
    target.reset();
    const run = await post('/api/v1/runbooks/rollback-deployment/run', dave, { params: { deployment: 'checkout' }, service: 'checkout' });
    const res = await fetch(`${url}/api/v1/approvals/${run.body.approval_id}/approve?wait=true`, { method: 'POST', headers: bearer(bob) });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200);
    assert.equal(body.decided_by, 'bob');
    assert.equal(body.comment, null);
    assert.equal(body.result.action, 'executed');
  });

  it('the requester may withdraw their own request by rejecting it', async () => {
    const run = await post('/api/v1/runbooks/rollback-deployment/run', dave, { params: { deployment: 'checkout' }, service: 'checkout' });
    const r = await post(`/api/v1/approvals/${run.body.approval_id}/reject`, dave, { comment: 'wrong service' });
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 'rejected');
    assert.equal(r.body.decided_by, 'dave');
  });

  it('approvals_required: 2 needs two distinct approvers; a second vote by the same person is a 409; the plan runs once', async () => {
    target.reset();
    const inc = await post('/api/v1/incidents', am, { id: 'LAG1', root_cause: 'replica_lag', service: 'db', context: { deployment: 'db' } });
    assert.equal(inc.status, 202);
    assert.equal(inc.body.action, 'approval_required');
    const id = inc.body.approval_id as string;
    const pending = (await get(`/api/v1/approvals/${id}`)).body;
    assert.equal(pending.approvals_required, 2);
    assert.deepEqual(pending.votes, []);

    const first = await post(`/api/v1/approvals/${id}/approve`, alice, { comment: 'lag is real' });
    assert.equal(first.status, 202, 'a vote, not yet an approval');
    assert.equal(first.body.status, 'pending');
    assert.equal(first.body.decided_by, null);
    assert.deepEqual(first.body.votes.map((v: any) => [v.by, v.comment]), [['alice', 'lag is real']]);
    assert.equal(target.calls('/drop/db'), 0);

    const again = await post(`/api/v1/approvals/${id}/approve`, alice, { by: 'bob' });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'CONFLICT');
    assert.match(again.body.error.message, new RegExp(`^alice already approved request ${id} at 2026-11-24T03:00:00.000Z; it needs 2 distinct approvers, so another person must approve$`));
    assert.equal(target.calls('/drop/db'), 0);

    const second = await post(`/api/v1/approvals/${id}/approve?wait=true`, bob, { comment: 'agreed' });
    assert.equal(second.status, 200);
    assert.equal(second.body.status, 'approved');
    assert.equal(second.body.decided_by, 'alice, bob');
    assert.deepEqual(second.body.votes.map((v: any) => v.by), ['alice', 'bob']);
    assert.equal(second.body.result.action, 'executed');
    assert.equal(second.body.result.success, true);
    assert.equal(target.calls('/drop/db', 'POST'), 1);

    const late = await post(`/api/v1/approvals/${id}/approve`, dave);
    assert.equal(late.status, 409);
    assert.equal(late.body.error.message, `approval request ${id} is already approved by alice, bob`);

    // The request is the ingest token's (it sent the incident); the votes are the approvers'.
    assert.deepEqual(await events('LAG1'), ['APPROVAL_REQUIRED alertmanager', 'APPROVAL_VOTE alice', 'APPROVED bob', 'EXECUTING bob', 'STEP_STARTED rectify', 'STEP_FINISHED rectify', 'SUCCESS rectify']);
    const approved = (await get('/api/v1/audit?incident_id=LAG1&event=APPROVED')).body.events[0];
    assert.deepEqual(approved.details, { approval_id: id, execution_id: second.body.result.execution_id, comment: 'agreed', approvers: ['alice', 'bob'] });
    const vote = (await get('/api/v1/audit?incident_id=LAG1&event=APPROVAL_VOTE')).body.events[0];
    assert.deepEqual(vote.details, { approval_id: id, comment: 'lag is real', votes: 1, approvals_required: 2 });
  });

  it('two approvers: the requester cannot be either of them, and one rejection ends the request', async () => {
    target.reset();
    const run = await post('/api/v1/runbooks/drop-database-replica/run', dave, { params: { deployment: 'db' }, service: 'db' });
    const id = run.body.approval_id as string;
    assert.equal((await post(`/api/v1/approvals/${id}/approve`, dave)).status, 403);
    assert.equal((await post(`/api/v1/approvals/${id}/approve`, alice)).status, 202);
    const rej = await post(`/api/v1/approvals/${id}/reject`, bob, { comment: 'not during peak' });
    assert.equal(rej.body.status, 'rejected');
    assert.equal((await post(`/api/v1/approvals/${id}/approve`, bob)).status, 409);
    assert.equal(target.calls('/drop/db'), 0);
  });

  it('votes survive a restart (they are stored, not remembered)', async () => {
    const inc = await post('/api/v1/incidents', am, { id: 'LAG2', root_cause: 'replica_lag', service: 'db', context: { deployment: 'db' } });
    const id = inc.body.approval_id as string;
    assert.equal((await post(`/api/v1/approvals/${id}/approve`, alice)).status, 202);
    svc = await svc.restart();
    url = await svc.service.listen();
    assert.equal((await post(`/api/v1/approvals/${id}/approve`, alice)).status, 409);
    const done = await post(`/api/v1/approvals/${id}/approve`, bob);
    assert.equal(done.status, 200);
    assert.equal(done.body.decided_by, 'alice, bob');
  });
});

describe('separation of duties without tokens (the stated `by`)', () => {
  it('the requester named in `by` cannot approve', async () => {
    const svc = await startTestService({ runbooks: runbooks('http://127.0.0.1:9') });
    const run = await svc.post('/api/v1/runbooks/rollback-deployment/run', { params: { deployment: 'checkout' }, by: 'dave' });
    const self = await svc.post(`/api/v1/approvals/${run.body.approval_id}/approve`, { by: 'dave' });
    assert.equal(self.status, 403);
    assert.equal(self.body.error.code, 'FORBIDDEN');
    await svc.stop({ remove: true });
  });
});
